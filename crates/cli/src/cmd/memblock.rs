//! `numaboot memblock ...`: replay a trace of memblock operations, or benchmark the
//! allocator on a boot-like trace.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use memblock::trace::BootTrace;

use super::files::{self, Cap};

/// The `memblock` subcommands.
#[derive(Subcommand)]
pub enum MemblockCommand {
    /// Replay memblock operations, one per line, and print the resulting state.
    ///
    /// Operations: add BASE SIZE, add BASE SIZE NID; reserve, remove, free, hotplug, clear_hotplug,
    /// nomap, clear_nomap BASE SIZE; set_node BASE SIZE NID; limit ADDR; bottom_up 0|1;
    /// movable 0|1; alloc SIZE ALIGN START END NID EXACT; alloc_try_nid SIZE ALIGN MIN
    /// MAX NID; dump; and, before any of these, config KEY VALUE (page_size,
    /// initial_regions, smp_cache_bytes, allow_resize). Numbers are decimal or 0x hex
    /// (`_` between digits is also accepted, as an extension);
    /// END/MAX may be `accessible` or `anywhere`; NID -1 (NUMA_NO_NODE) or 256
    /// (MAX_NUMNODES) means no node, and `add` stores the one given, as Linux does. `#`
    /// starts a comment. The script is read and replayed line by line, the output
    /// written as it comes (buffered).
    ///
    /// Allocations print `alloc -> ADDR` or `alloc -> fail`; `dump` prints `memory:`,
    /// `BASE SIZE FLAGS NID` per region, `total SIZE`, then the same for `reserved:`
    /// (hex; NID 0x100 = MAX_NUMNODES, 0xffffffff = NUMA_NO_NODE from `add BASE SIZE -1`).
    /// A dump is implied at the end. A malformed line
    /// (including one that is not UTF-8) stops the replay with `line N: ...` on stderr
    /// and exit status 2.
    Replay {
        /// The script; `-` reads standard input.
        file: PathBuf,
    },
    /// Time the boot-like trace (per-CPU allocations on a large NUMA machine, then frees
    /// for CPUs that are not possible) and print operations per second: the allocator
    /// alone, and the replay (parse, run, print into a buffered writer) in memory. With
    /// --linux, also Linux's own memblock.c on the same trace (allocator alone), and
    /// whole processes: `numaboot memblock replay` against the Linux oracle.
    Bench {
        /// Number of CPUs (at most 262144; 200000 is the 1 M-operation trace of
        /// `--boot 1000000`).
        #[arg(long, default_value_t = 8192)]
        cpus: u32,
        /// Number of NUMA nodes (at most 256).
        #[arg(long, default_value_t = 256)]
        nodes: u32,
        /// How many times to run the trace (1 to 1000); the best run is reported.
        #[arg(long, default_value_t = 5)]
        runs: u32,
        /// Also write the trace as a replay script to FILE, to time whole processes on
        /// it (`numaboot memblock replay FILE`, the Linux oracle of tools/memblock-oracle).
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
        /// With --script: write a random script of N operations (memblock::trace::
        /// random_script, seed 1) instead of the boot-like trace.
        #[arg(long, value_name = "N", requires = "script", conflicts_with = "boot")]
        random: Option<usize>,
        /// With --script: write the boot-like trace scaled to about N operations (N/5
        /// CPUs on --nodes nodes; 1000000 gives 200000 CPUs) instead of the --cpus one.
        #[arg(long, value_name = "N", requires = "script")]
        boot: Option<u64>,
        /// The Linux memblock oracle (tools/memblock-oracle/build.sh): time its
        /// memblock.c calls on the boot-like trace (`--bench`), and time both whole
        /// processes on the --script file (or on the boot-like trace), checking that
        /// their outputs are identical.
        #[arg(long, value_name = "ORACLE")]
        linux: Option<PathBuf>,
    },
}

/// Runs a `memblock` subcommand.
pub fn run(cmd: MemblockCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MemblockCommand::Replay { file } => replay(&file),
        MemblockCommand::Bench {
            cpus,
            nodes,
            runs,
            script,
            random,
            boot,
            linux,
        } => bench(&BenchArgs {
            cpus,
            nodes,
            runs,
            script: script.as_deref(),
            random,
            boot,
            linux: linux.as_deref(),
        }),
    }
}

fn replay(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let input = open_script(file)?;
    let stdout = io::stdout();
    let mut out = IoSink::new(BufWriter::with_capacity(OUT_BUFFER, stdout.lock()));
    let status = match stream(input, file, &mut out) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(err)) => {
            // What was printed before the malformed line goes out first.
            out.flush()?;
            eprintln!("{err}");
            return Ok(ExitCode::from(2));
        }
        Err(StreamError::Output(e)) => return output_failed(e),
        Err(StreamError::Input(e)) => {
            // As for a malformed line: the output so far, then the reason.
            let _ = out.flush();
            return Err(e.into());
        }
    };
    match out.flush() {
        Ok(()) => Ok(status),
        Err(e) => output_failed(e),
    }
}

/// Bytes of output buffered before a write: big enough that a million-line replay
/// makes a few hundred system calls.
const OUT_BUFFER: usize = 1 << 16;

/// A closed pipe (`| head`) ends the replay quietly; any other write error is reported.
fn output_failed(e: io::Error) -> anyhow::Result<ExitCode> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(files::OutputError(e).into())
    }
}

/// The script as a buffered reader, with the input cap of every script: a regular file
/// over the cap is refused before anything is replayed; a pipe is counted as it is read.
fn open_script(file: &std::path::Path) -> Result<Box<dyn BufRead>, files::InputError> {
    if files::is_stdin(file) {
        return Ok(Box::new(io::stdin().lock()));
    }
    let f = std::fs::File::open(file).map_err(|source| files::InputError::Io {
        file: files::shown(file),
        source,
    })?;
    if let Ok(meta) = f.metadata() {
        if meta.is_file() && meta.len() > Cap::Script.bytes() {
            return Err(files::InputError::TooLarge {
                file: files::shown(file),
                cap: Cap::Script,
            });
        }
    }
    Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
}

/// Why a streamed replay stopped early.
enum StreamError {
    /// Reading the script failed, or it passed the input cap.
    Input(files::InputError),
    /// Writing standard output failed.
    Output(io::Error),
}

/// Replays `input` line by line into `out`, one line buffer reused for every line:
/// memory stays proportional to the memblock state and the longest line, not to the
/// script. `Ok(Some(..))` is the first malformed line (nothing after it runs).
fn stream<W: io::Write>(
    input: impl BufRead,
    file: &std::path::Path,
    out: &mut IoSink<W>,
) -> Result<Option<memblock::replay::LineError>, StreamError> {
    use memblock::replay::ReplayError;

    let cap = Cap::Script.bytes();
    // One byte past the cap proves the script too large without reading the rest.
    let mut input = input.take(cap.saturating_add(1));
    let mut replayer = memblock::replay::Replayer::new();
    let mut line = Vec::new();
    let mut read: u64 = 0;
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line).map_err(|source| {
            StreamError::Input(files::InputError::Io {
                file: files::shown(file),
                source,
            })
        })?;
        if n == 0 {
            break;
        }
        read = read.saturating_add(n as u64);
        if read > cap {
            return Err(StreamError::Input(files::InputError::TooLarge {
                file: files::shown(file),
                cap: Cap::Script,
            }));
        }
        match replayer.line_bytes(&line, out) {
            Ok(_) => {}
            Err(ReplayError::Malformed(e)) => return Ok(Some(e)),
            Err(ReplayError::Write) => return Err(StreamError::Output(out.take_error())),
        }
    }
    if replayer.finish(out).is_err() {
        return Err(StreamError::Output(out.take_error()));
    }
    Ok(None)
}

/// `core::fmt::Write` over an `io::Write`: the replay library is `no_std` and prints
/// into `fmt::Write`; this keeps the `io::Error` that `fmt::Error` cannot carry.
struct IoSink<W: io::Write> {
    inner: W,
    error: Option<io::Error>,
}

impl<W: io::Write> IoSink<W> {
    fn new(inner: W) -> Self {
        Self { inner, error: None }
    }

    /// The error behind the last `fmt::Error`.
    fn take_error(&mut self) -> io::Error {
        self.error
            .take()
            .unwrap_or_else(|| io::Error::other("formatting the replay output failed"))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: io::Write> std::fmt::Write for IoSink<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.inner.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            std::fmt::Error
        })
    }
}

/// Upper bound of `--runs`: enough for a stable best time, small enough to finish.
const MAX_RUNS: u32 = 1000;

/// Largest `--random`: ten times the 1 M-operation traces of the benchmarks.
const MAX_RANDOM_OPS: usize = 10_000_000;

/// What `memblock bench` was asked for.
struct BenchArgs<'a> {
    cpus: u32,
    nodes: u32,
    runs: u32,
    script: Option<&'a Path>,
    random: Option<usize>,
    boot: Option<u64>,
    linux: Option<&'a Path>,
}

/// The most CPUs `--cpus` takes: as many as the trace allows, so that the allocator
/// alone can be compared with Linux's on the 1 M-operation boot-like trace (`--cpus
/// 200000` is the trace `--script F --boot 1000000` writes). Each run holds one copy of
/// the trace's state at a time (about 10 MB at 200 000 CPUs) beside its script (about
/// 40 MB).
const MAX_BENCH_CPUS: u32 = BootTrace::MAX_CPUS;

fn bench(args: &BenchArgs<'_>) -> anyhow::Result<ExitCode> {
    let BenchArgs {
        cpus, nodes, runs, ..
    } = *args;
    if nodes == 0 || nodes > phys::NodeId::MAX_NUMNODES {
        anyhow::bail!("--nodes must be 1..=256");
    }
    if cpus == 0 || cpus > MAX_BENCH_CPUS {
        anyhow::bail!("--cpus must be 1..={MAX_BENCH_CPUS}");
    }
    if runs == 0 || runs > MAX_RUNS {
        anyhow::bail!("--runs must be 1..={MAX_RUNS}");
    }
    if args.random.is_some_and(|n| n == 0 || n > MAX_RANDOM_OPS) {
        anyhow::bail!("--random must be 1..={MAX_RANDOM_OPS}");
    }
    let max_boot = u64::from(BootTrace::MAX_CPUS) * 5;
    if args.boot.is_some_and(|n| n < 5 || n > max_boot) {
        anyhow::bail!("--boot must be 5..={max_boot}");
    }
    let trace = BootTrace {
        cpus,
        nodes,
        ..BootTrace::default()
    };
    let base = trace.setup();
    let mut best = f64::INFINITY;
    let mut stats = None;
    for _ in 0..runs {
        let mut mb = base.clone();
        let t = Instant::now();
        let s = trace.run(&mut mb)?;
        best = best.min(t.elapsed().as_secs_f64());
        stats = Some(s);
    }
    let Some(s) = stats else {
        anyhow::bail!("no run");
    };
    let ops = s.ops();
    // Written as it goes (a long --linux run reports each figure when it has it); a
    // closed pipe ends the command quietly.
    let mut text = String::new();
    let _ = writeln!(
        text,
        "trace: {cpus} CPUs on {nodes} nodes, 4 allocations per CPU, frees for every 4th CPU"
    );
    let _ = writeln!(
        text,
        "ops: {ops} ({} allocs, {} failed; {} frees)",
        s.allocs, s.failed_allocs, s.frees
    );
    let _ = writeln!(text, "best of {runs}: {:.3} ms", best * 1e3);
    let _ = writeln!(text, "ops/s: {:.0}", ops as f64 / best);
    let _ = writeln!(
        text,
        "final regions: memory {}, reserved {} (reserved array capacity {})",
        s.memory_regions, s.reserved_regions, s.reserved_capacity
    );
    // The same trace as text through the replay language, as `memblock replay` runs it
    // between reading and writing: line by line, printing into a buffered writer.
    let script = trace.script()?;
    let lines = script.lines().count();
    let mut best_replay = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        let mut sink = IoSink::new(BufWriter::with_capacity(OUT_BUFFER, io::sink()));
        let out = stream(script.as_bytes(), Path::new("-"), &mut sink);
        best_replay = best_replay.min(t.elapsed().as_secs_f64());
        match out {
            Ok(None) => {}
            Ok(Some(e)) => anyhow::bail!("the trace's own script does not replay: {e}"),
            Err(_) => anyhow::bail!("the trace's own script does not replay"),
        }
    }
    let _ = writeln!(
        text,
        "replay: {lines} lines, best of {runs}: {:.3} ms, ops/s: {:.0}",
        best_replay * 1e3,
        lines as f64 / best_replay
    );
    if let Some(file) = args.script {
        let body = match (args.random, args.boot) {
            (Some(n), _) => memblock::trace::random_script(1, n),
            (None, Some(n)) => BootTrace {
                cpus: u32::try_from(n / 5).unwrap_or(BootTrace::MAX_CPUS),
                nodes,
                ..BootTrace::default()
            }
            .script()?,
            (None, None) => script.clone(),
        };
        std::fs::write(file, body).with_context(|| format!("writing {}", file.display()))?;
        let _ = writeln!(text, "script written to {}", file.display());
    }
    files::write_stdout(text.as_bytes())?;
    if let Some(oracle) = args.linux {
        let tmp = TempDir::new()?;
        let boot_file = tmp.path.join("boot.replay");
        std::fs::write(&boot_file, &script)
            .with_context(|| format!("writing {}", boot_file.display()))?;
        let mut linux = linux_allocator(oracle, &boot_file)?;
        for _ in 1..runs {
            let again = linux_allocator(oracle, &boot_file)?;
            linux.seconds = linux.seconds.min(again.seconds);
        }
        let mut text = format!(
            "linux allocator alone: {} ops, best of {runs}: {:.3} ms, ops/s: {:.0} \
             (numaboot: {:.1}x)\n",
            linux.ops,
            linux.seconds * 1e3,
            linux.ops as f64 / linux.seconds,
            (ops as f64 / best) / (linux.ops as f64 / linux.seconds),
        );
        if linux.ops != ops {
            let _ = writeln!(
                text,
                "  (Linux timed {} allocs and frees, the allocator-alone run {ops})",
                linux.ops
            );
        }
        files::write_stdout(text.as_bytes())?;
        let whole = args.script.unwrap_or(&boot_file);
        let w = whole_process(oracle, whole, runs, &tmp.path)?;
        let text = format!(
            "whole process on {} ({} lines), best of {runs}: numaboot {:.3} s, linux {:.3} s \
             ({:.1}x); outputs identical\n",
            whole.display(),
            w.lines,
            w.numaboot,
            w.linux,
            w.linux / w.numaboot
        );
        files::write_stdout(text.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A directory for the bench's scripts and outputs, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("numaboot-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What the oracle's `--bench` reported for allocations and frees.
struct LinuxAllocator {
    ops: u64,
    seconds: f64,
}

/// Runs the oracle with `--bench` on `script` and sums its `bench alloc` and `bench
/// free` lines: the time memblock.c spent in those calls alone.
fn linux_allocator(oracle: &Path, script: &Path) -> anyhow::Result<LinuxAllocator> {
    let input = std::fs::File::open(script)?;
    let out = Command::new(oracle)
        .arg("--bench")
        .stdin(input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", oracle.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        anyhow::bail!(
            "{} --bench failed ({}): {}",
            oracle.display(),
            out.status,
            files::one_line(&stderr)
        );
    }
    let (mut ops, mut ns, mut seen) = (0u64, 0u64, 0);
    for line in stderr.lines() {
        let mut w = line.split_whitespace();
        if let (Some("bench"), Some("alloc" | "free"), Some(n), Some(t)) =
            (w.next(), w.next(), w.next(), w.next())
        {
            ops = ops.saturating_add(n.parse()?);
            ns = ns.saturating_add(t.parse()?);
            seen += 1;
        }
    }
    if seen != 2 || ns == 0 {
        anyhow::bail!(
            "{} --bench printed no timings (an oracle built before --bench?)",
            oracle.display()
        );
    }
    Ok(LinuxAllocator {
        ops,
        seconds: ns as f64 * 1e-9,
    })
}

/// Best whole-process times of `numaboot memblock replay FILE` and of the oracle.
struct WholeProcess {
    lines: usize,
    numaboot: f64,
    linux: f64,
}

/// Times both programs `runs` times each on `script`, output to files in `tmp`, and
/// fails unless every output is byte-identical to the oracle's.
fn whole_process(
    oracle: &Path,
    script: &Path,
    runs: u32,
    tmp: &Path,
) -> anyhow::Result<WholeProcess> {
    let lines = {
        let f =
            std::fs::File::open(script).with_context(|| format!("reading {}", script.display()))?;
        BufReader::new(f).split(b'\n').count()
    };
    let exe = std::env::current_exe().context("finding the numaboot executable")?;
    let (ours_out, linux_out) = (tmp.join("numaboot.out"), tmp.join("linux.out"));
    let time = |cmd: &mut Command, out: &Path, stdin: bool| -> anyhow::Result<f64> {
        let sink = std::fs::File::create(out)?;
        if stdin {
            cmd.stdin(std::fs::File::open(script)?);
        }
        let t = Instant::now();
        let status = cmd.stdout(sink).stderr(Stdio::null()).status()?;
        let elapsed = t.elapsed().as_secs_f64();
        if !status.success() {
            anyhow::bail!("{cmd:?} failed: {status}");
        }
        Ok(elapsed)
    };
    let (mut ours, mut linux) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..runs {
        let mut cmd = Command::new(&exe);
        cmd.args(["memblock", "replay"]).arg(script);
        ours = ours.min(time(&mut cmd, &ours_out, false)?);
        linux = linux.min(time(&mut Command::new(oracle), &linux_out, true)?);
        if std::fs::read(&ours_out)? != std::fs::read(&linux_out)? {
            anyhow::bail!(
                "numaboot and Linux printed different output for {}",
                script.display()
            );
        }
    }
    Ok(WholeProcess {
        lines,
        numaboot: ours,
        linux,
    })
}
