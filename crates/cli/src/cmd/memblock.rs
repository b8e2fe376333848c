//! `numaboot memblock ...`: replay a trace of memblock operations, or benchmark the
//! allocator on a boot-like trace.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
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
    /// END/MAX may be `accessible` or `anywhere`; NID -1 means no node. `#` starts a
    /// comment.
    ///
    /// Allocations print `alloc -> ADDR` or `alloc -> fail`; `dump` prints `memory:`,
    /// `BASE SIZE FLAGS NID` per region, `total SIZE`, then the same for `reserved:`
    /// (hex; NID 0x100 = MAX_NUMNODES). A dump is implied at the end. A malformed line
    /// (including one that is not UTF-8) stops the replay with `line N: ...` on stderr
    /// and exit status 2.
    Replay {
        /// The script; `-` reads standard input.
        file: PathBuf,
    },
    /// Time the boot-like trace (per-CPU allocations on a large NUMA machine, then frees
    /// for CPUs that are not possible) and print operations per second.
    Bench {
        /// Number of CPUs (at most 65536).
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
        #[arg(long, value_name = "N", requires = "script")]
        random: Option<usize>,
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
        } => bench(cpus, nodes, runs, script.as_deref(), random),
    }
}

fn replay(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    // Bytes, capped: a line that is not UTF-8 is reported with its number like any
    // other malformed line, and `-` is standard input.
    let script = files::read_input(file, Cap::Script)?;
    match memblock::replay::run_bytes(&script) {
        Ok(out) => {
            files::write_stdout(out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Err((out, err)) => {
            files::write_stdout(out.as_bytes())?;
            eprintln!("{err}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Upper bound of `--runs`: enough for a stable best time, small enough to finish.
const MAX_RUNS: u32 = 1000;

/// Largest `--random`: ten times the 1 M-operation traces of the benchmarks.
const MAX_RANDOM_OPS: usize = 10_000_000;

fn bench(
    cpus: u32,
    nodes: u32,
    runs: u32,
    script_file: Option<&std::path::Path>,
    random: Option<usize>,
) -> anyhow::Result<ExitCode> {
    if nodes == 0 || nodes > phys::NodeId::MAX_NUMNODES {
        anyhow::bail!("--nodes must be 1..=256");
    }
    if cpus == 0 || cpus > BootTrace::MAX_CPUS {
        anyhow::bail!("--cpus must be 1..={}", BootTrace::MAX_CPUS);
    }
    if runs == 0 || runs > MAX_RUNS {
        anyhow::bail!("--runs must be 1..={MAX_RUNS}");
    }
    if random.is_some_and(|n| n == 0 || n > MAX_RANDOM_OPS) {
        anyhow::bail!("--random must be 1..={MAX_RANDOM_OPS}");
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
    // Written at the end in one piece: a closed pipe is then quiet, not a panic.
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
    // The same trace as text through the replay language: parsing, the allocator and
    // printing, in memory (what `memblock replay` does between reading and writing).
    let script = trace.script()?;
    let lines = script.lines().count();
    let mut best_replay = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        let out = memblock::replay::run(&script);
        best_replay = best_replay.min(t.elapsed().as_secs_f64());
        if let Err((_, e)) = out {
            anyhow::bail!("the trace's own script does not replay: {e}");
        }
    }
    let _ = writeln!(
        text,
        "replay: {lines} lines, best of {runs}: {:.3} ms, ops/s: {:.0}",
        best_replay * 1e3,
        lines as f64 / best_replay
    );
    if let Some(file) = script_file {
        let body = match random {
            Some(n) => memblock::trace::random_script(1, n),
            None => script,
        };
        std::fs::write(file, body).with_context(|| format!("writing {}", file.display()))?;
        let _ = writeln!(text, "script written to {}", file.display());
    }
    files::write_stdout(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
