//! `cargo xtask hv-live` and `cargo xtask hv-diff`: `numaboot hv replay` scripts run
//! against real QEMU, and compared with the `vpa-hv` `qemu` profile.
//!
//! The guest of `cargo xtask e2e` doubles as the live runner: booted with a script
//! bundle as its initrd (instead of a device tree) it runs every script on proc-no 0
//! with the same `vpa_hv::script` runner `numaboot hv replay` uses, over real memory
//! and real `sc 1` hcalls, and resets the partition between scripts (see
//! `guest/src/live.rs`). It is linked at `--mem` minus 64 MiB and QEMU loads it there
//! (`kernel-addr`), so the scripts have all of low memory and the last MiBs of RAM;
//! the guest's own window (image, stacks, heap, bundle) is refused to them.
//!
//! Live semantics, which the model run of `hv-diff` mirrors:
//! - proc-no 0 executes the script, so it is running from the first line: the model
//!   run starts with `dispatch 0`; `dispatch 0` is "already running" on both sides and
//!   `preempt 0` is refused live (`line N: live: ...`).
//! - `dispatch C` (C > 0) starts vCPU C with RTAS start-cpu (it spins in the guest);
//!   `preempt C` makes it call RTAS stop-self. Both are real entries into and exits
//!   from QEMU's execution loop, where `spapr_cpu_exec_enter`/`_exit` bump the VPA's
//!   dispatch counter. A stop is one exit. A start is not always one entry:
//!   `rtas_start_cpu` ends with `qemu_cpu_kick`, whose MTTCG kick
//!   (`mttcg_kick_vcpu_thread` -> `cpu_exit`) sets `exit_request`; usually the woken
//!   vCPU enters `cpu_exec`, leaves it at the first interrupt check and enters again
//!   (measured: a counter the guest set to 5 read 8 after the start), but when the
//!   vCPU thread clears `exit_request` on its way back to sleep after the kick, it
//!   enters once (measured once in 1,000 scripts: 2 where 4 was expected). So a live
//!   `dispatch` of a vCPU that has a VPA is refused (`line N: live: ...`); without a
//!   VPA the start touches no memory and matches the model's one `dispatch`.
//! - `state C`: `running` is RTAS query-cpu-stopped-state's answer (proc-no 0: always
//!   running); the VPA/DTL/SLB fields are the registrations QEMU accepted as the guest
//!   saw them (address passed, length word QEMU read: QEMU has no interface to read its
//!   records back); `yield_count` is read from the VPA in guest memory.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use phys::{PhysAddr, PhysSize};
use vpa_hv::{GuestRam, OutOfGuestMemory, Partition, Profile};

use crate::machine::{Layout, Machine};
use crate::{require_tool, workspace_root, Firmware};

pub mod gen;

/// Options shared by `hv-live` and `hv-diff`.
#[derive(clap::Args, Clone, Debug)]
pub struct LiveOpts {
    /// vCPUs; their proc-nos are 0..N-1 (at most 16, the guest's stacks).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub cpus: u32,
    /// Guest RAM (a multiple of 256M, as QEMU pseries requires).
    #[arg(long, default_value = "256M", value_name = "SIZE")]
    pub mem: String,
    /// Scripts per QEMU boot.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub batch: usize,
}

/// Options of `cargo xtask hv-live`.
#[derive(clap::Args, Clone, Debug)]
pub struct HvLiveArgs {
    #[command(flatten)]
    pub opts: LiveOpts,
    /// Save each script's live output, error line included, as `SCRIPT.qemu` beside it
    /// (the recorded QEMU answers `vpa-hv`'s `live_scripts` test checks the model by).
    #[arg(long)]
    pub record: bool,
    /// Script files (as for `numaboot hv replay`), or directories of `*.hvs` files.
    #[arg(required = true)]
    pub scripts: Vec<PathBuf>,
}

/// Options of `cargo xtask hv-diff`.
#[derive(clap::Args, Clone, Debug)]
pub struct HvDiffArgs {
    #[command(flatten)]
    pub opts: LiveOpts,
    /// Also run this many generated scripts.
    #[arg(long, default_value_t = 0, value_name = "COUNT")]
    pub random: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1, value_name = "SEED")]
    pub seed: u64,
    /// Directory for the scripts that differ (default target/hv-diff).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Script files, or directories of `*.hvs` files.
    pub scripts: Vec<PathBuf>,
}

/// Where a script came from, and its text.
pub struct Script {
    /// File name, or `random-SEED-I`.
    pub name: String,
    /// The text.
    pub text: String,
}

/// What a script printed, in `numaboot hv replay`'s format, with its error (if any)
/// as a last line `error: line N: ...`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Output lines, then the error line.
    pub lines: Vec<String>,
    /// H_REGISTER_VPA calls made (live only).
    pub hcalls: u64,
}

impl Outcome {
    /// The error message, if the script stopped on one.
    pub fn error(&self) -> Option<&str> {
        self.lines.last().and_then(|l| l.strip_prefix("error: "))
    }
}

fn parse_size(s: &str) -> Result<u64> {
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 10),
        Some((i, 'M' | 'm')) => (&s[..i], 20),
        Some((i, 'G' | 'g')) => (&s[..i], 30),
        _ => (s, 0),
    };
    let n = phys::parse_u64(digits).with_context(|| format!("size {s:?}"))?;
    n.checked_mul(1u64 << shift)
        .with_context(|| format!("size {s:?} does not fit in 64 bits"))
}

/// The live machine: vCPUs, RAM, where the guest sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// vCPUs.
    pub cpus: u32,
    /// RAM bytes.
    pub mem: u64,
}

/// Room for the guest: image (code, 8 MiB heap, stacks) and the bundle.
const WINDOW: u64 = 64 << 20;
/// Largest bundle per boot.
const MAX_BUNDLE: usize = 24 << 20;

impl Shape {
    fn from_opts(o: &LiveOpts) -> Result<Self> {
        let mem = parse_size(&o.mem)?;
        ensure!(
            mem >= 256 << 20 && mem % (256 << 20) == 0,
            "--mem must be a multiple of 256M (QEMU pseries)"
        );
        ensure!(
            mem <= 16 << 30,
            "--mem must be at most 16G (the guest runs in real mode)"
        );
        ensure!((1..=16).contains(&o.cpus), "--cpus must be 1..=16");
        ensure!(o.batch >= 1, "--batch must be at least 1");
        Ok(Shape { cpus: o.cpus, mem })
    }

    /// Where the guest is linked and loaded.
    pub fn base(&self) -> u64 {
        self.mem - WINDOW
    }
}

/// Reads scripts: files as given, directories' `*.hvs` files in name order.
pub fn load_scripts(paths: &[PathBuf]) -> Result<Vec<Script>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "hvs"))
                .collect();
            files.sort();
            for f in files {
                out.push(read_script(&f)?);
            }
        } else {
            out.push(read_script(p)?);
        }
    }
    Ok(out)
}

fn read_script(p: &Path) -> Result<Script> {
    Ok(Script {
        name: p.display().to_string(),
        text: std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
    })
}

/// The initrd the live guest reads (format in `guest/src/live.rs`).
pub fn bundle(shape: Shape, scripts: &[&Script]) -> Vec<u8> {
    let mut b = format!(
        "NBHVLIVE 1\ncpus {}\nmem {:#x}\nscripts {}\n",
        shape.cpus,
        shape.mem,
        scripts.len()
    );
    for s in scripts {
        let _ = write!(b, "script {}\n{}\n", s.text.len(), s.text);
    }
    b.into_bytes()
}

/// Parses the live guest's console into one outcome per script.
pub fn parse_console(console: &str, count: usize) -> Result<Vec<Outcome>> {
    let mut out: Vec<Outcome> = Vec::with_capacity(count);
    let mut cur: Option<Outcome> = None;
    let mut ended = false;
    for (n, raw) in console.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let Some(rest) = line.strip_prefix("NB ") else {
            continue;
        };
        let (kind, body) = rest.split_once(' ').unwrap_or((rest, ""));
        match kind {
            "s" => {
                ensure!(
                    cur.is_none(),
                    "console line {}: script started twice",
                    n + 1
                );
                cur = Some(Outcome::default());
            }
            "o" | "e" => {
                let o = cur
                    .as_mut()
                    .with_context(|| format!("console line {}: output outside a script", n + 1))?;
                if kind == "o" {
                    o.lines.push(body.to_string());
                } else {
                    o.lines.push(format!("error: {body}"));
                }
            }
            "d" => {
                let mut o = cur
                    .take()
                    .with_context(|| format!("console line {}: end outside a script", n + 1))?;
                o.hcalls = body
                    .split_once("hcalls=")
                    .and_then(|(_, h)| h.split_whitespace().next()?.parse().ok())
                    .with_context(|| format!("console line {}: {line:?}", n + 1))?;
                out.push(o);
            }
            "live" if body.starts_with("end") => ended = true,
            "error" | "panic" => bail!("the live guest stopped: {line}"),
            _ => {}
        }
    }
    ensure!(
        ended && out.len() == count,
        "the live guest ran {} of {count} scripts and did not finish",
        out.len()
    );
    Ok(out)
}

/// Builds the guest for `shape` once.
fn build(shape: Shape) -> Result<(PathBuf, PathBuf)> {
    require_tool("qemu-system-ppc64", "qemu-system-ppc")?;
    require_tool("powerpc64le-linux-gnu-as", "binutils-powerpc64le-linux-gnu")?;
    require_tool("powerpc64le-linux-gnu-ld", "binutils-powerpc64le-linux-gnu")?;
    let root = workspace_root()?;
    let out = root.join("target").join("hv-live");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let elf = crate::e2e::build_guest_at(&root, &out, Some(shape.base()))?;
    Ok((elf, out))
}

/// Runs `scripts` live, in boots of at most `batch` scripts (and [`MAX_BUNDLE`]
/// bytes). Returns the outcomes and the number of boots.
pub fn run_live(
    shape: Shape,
    batch: usize,
    scripts: &[Script],
    elf: &Path,
    dir: &Path,
) -> Result<(Vec<Outcome>, usize)> {
    let layout = Layout::checked(shape.cpus, 1, shape.mem >> 20, false)?;
    let kernel_addr = format!("kernel-addr={:#x}", shape.base());
    let machine = Machine::new(
        &layout,
        Firmware::Vof,
        None,
        &["-no-reboot", "-M", &kernel_addr],
    );
    let mut outcomes = Vec::with_capacity(scripts.len());
    let mut boots = 0;
    let mut i = 0;
    while i < scripts.len() {
        let mut group: Vec<&Script> = Vec::new();
        let mut bytes = 0;
        while i < scripts.len() && group.len() < batch {
            let s = &scripts[i];
            if !group.is_empty() && bytes + s.text.len() + 64 > MAX_BUNDLE {
                break;
            }
            ensure!(
                s.text.len() + 64 <= MAX_BUNDLE,
                "{}: larger than a bundle may be",
                s.name
            );
            bytes += s.text.len() + 64;
            group.push(s);
            i += 1;
        }
        let path = dir.join("bundle.bin");
        std::fs::write(&path, bundle(shape, &group))
            .with_context(|| format!("writing {}", path.display()))?;
        let timeout = Duration::from_secs(60) + Duration::from_millis(60) * group.len() as u32;
        let console = machine.boot(elf, &path, timeout)?;
        std::fs::write(dir.join("console.txt"), &console).context("saving the console")?;
        outcomes.extend(parse_console(&console, group.len())?);
        boots += 1;
    }
    Ok((outcomes, boots))
}

/// Guest memory for the model run: pages materialise when written, so a 256 MiB
/// partition costs what the script touches.
pub struct SparseRam {
    size: u64,
    pages: HashMap<u64, Box<[u8; 4096]>>,
}

impl SparseRam {
    /// Zeroed memory at `0..size`.
    pub fn new(size: u64) -> Self {
        SparseRam {
            size,
            pages: HashMap::new(),
        }
    }

    fn check(&self, addr: PhysAddr, len: usize) -> Result<(), OutOfGuestMemory> {
        let n = len as u64;
        match addr.as_u64().checked_add(n) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(OutOfGuestMemory {
                addr,
                len: PhysSize::new(n),
            }),
        }
    }
}

impl GuestRam for SparseRam {
    fn contains(&self, addr: PhysAddr, len: PhysSize) -> bool {
        addr.as_u64()
            .checked_add(len.as_u64())
            .is_some_and(|e| e <= self.size)
    }

    fn read(&self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), OutOfGuestMemory> {
        self.check(addr, buf.len())?;
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.as_u64() + i as u64;
            *b = self
                .pages
                .get(&(a >> 12))
                .map_or(0, |p| p[(a & 0xfff) as usize]);
        }
        Ok(())
    }

    fn write(&mut self, addr: PhysAddr, data: &[u8]) -> Result<(), OutOfGuestMemory> {
        self.check(addr, data.len())?;
        for (i, b) in data.iter().enumerate() {
            let a = addr.as_u64() + i as u64;
            let page = self
                .pages
                .entry(a >> 12)
                .or_insert_with(|| Box::new([0; 4096]));
            page[(a & 0xfff) as usize] = *b;
        }
        Ok(())
    }
}

/// The script on the `qemu` profile, set up as the live run is (proc-no 0 running).
pub fn run_model(shape: Shape, text: &str) -> Outcome {
    let ids: Vec<u32> = (0..shape.cpus).collect();
    let mut lines = Vec::new();
    let mut hv = match Partition::new(Profile::Qemu, SparseRam::new(shape.mem), &ids) {
        Ok(hv) => hv,
        Err(e) => {
            lines.push(format!("error: {e}"));
            return Outcome { lines, hcalls: 0 };
        }
    };
    let _ = hv.dispatch(0);
    let mut out = String::new();
    let result = vpa_hv::script::run(&mut hv, text, &mut out, false);
    lines.extend(out.lines().map(String::from));
    if let Err(e) = result {
        lines.push(format!("error: {e}"));
    }
    Outcome { lines, hcalls: 0 }
}

/// `cargo xtask hv-live`: prints each script's live output.
pub fn live(args: &HvLiveArgs) -> Result<()> {
    let shape = Shape::from_opts(&args.opts)?;
    let scripts = load_scripts(&args.scripts)?;
    let (elf, dir) = build(shape)?;
    let (outcomes, _) = run_live(shape, args.opts.batch, &scripts, &elf, &dir)?;
    let mut failed = false;
    for (s, o) in scripts.iter().zip(&outcomes) {
        if args.record {
            let path = Path::new(&s.name).with_extension("qemu");
            let mut text = o.lines.join("\n");
            text.push('\n');
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        if scripts.len() > 1 {
            println!("==> {} <==", s.name);
        }
        for l in &o.lines {
            match l.strip_prefix("error: ") {
                Some(e) => {
                    eprintln!("{}: {e}", s.name);
                    failed = true;
                }
                None => println!("{l}"),
            }
        }
    }
    ensure!(!failed, "a script stopped on an error");
    Ok(())
}

/// Where two outcomes first differ: (index, live line, model line).
pub fn first_difference(live: &Outcome, model: &Outcome) -> Option<(usize, String, String)> {
    let n = live.lines.len().max(model.lines.len());
    (0..n).find_map(|i| {
        let a = live.lines.get(i);
        let b = model.lines.get(i);
        (a != b).then(|| {
            let show = |l: Option<&String>| l.cloned().unwrap_or_else(|| "(nothing)".into());
            (i, show(a), show(b))
        })
    })
}

/// `cargo xtask hv-diff`: every script live and on the model; 1 on any difference.
pub fn diff(args: &HvDiffArgs) -> Result<bool> {
    let t = Instant::now();
    let shape = Shape::from_opts(&args.opts)?;
    let mut scripts = load_scripts(&args.scripts)?;
    let fixed = scripts.len();
    scripts.extend(gen::scripts(args.seed, args.random, shape));
    ensure!(
        !scripts.is_empty(),
        "no scripts: name files or use --random"
    );
    let (elf, dir) = build(shape)?;
    let built = t.elapsed();
    let (outcomes, boots) = run_live(shape, args.opts.batch, &scripts, &elf, &dir)?;
    let live_time = t.elapsed() - built;
    let keep = match &args.keep {
        Some(k) => k.clone(),
        None => workspace_root()?.join("target").join("hv-diff"),
    };
    let mut differ = 0;
    let mut refused = 0;
    let mut hcalls = 0;
    let mut lines = 0;
    for (s, live) in scripts.iter().zip(&outcomes) {
        hcalls += live.hcalls;
        lines += live.lines.len();
        if let Some(e) = live.error().filter(|e| e.contains(": live: ")) {
            println!("hv-diff: {}: cannot run live: {e}", s.name);
            refused += 1;
            continue;
        }
        let model = run_model(shape, &s.text);
        if let Some((i, a, b)) = first_difference(live, &model) {
            differ += 1;
            std::fs::create_dir_all(&keep).ok();
            let file = keep.join(format!(
                "{}.hvs",
                s.name.replace(['/', '.'], "_").trim_start_matches('_')
            ));
            std::fs::write(&file, &s.text).ok();
            println!(
                "DIFF {} (saved as {}): output line {}:\n  qemu 7.2 live: {a}\n  vpa-hv qemu:   {b}",
                s.name,
                file.display(),
                i + 1
            );
        }
    }
    println!(
        "hv-diff: {} scripts ({fixed} given, {} random, seed {}), {hcalls} H_REGISTER_VPA calls and {lines} output lines compared live on {} vCPUs, {} MiB, in {boots} QEMU boot(s); {differ} differ{}; live {:.1} s, total {:.1} s",
        scripts.len(),
        args.random,
        args.seed,
        shape.cpus,
        shape.mem >> 20,
        if refused > 0 {
            format!(", {refused} not runnable live")
        } else {
            String::new()
        },
        live_time.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    ensure!(refused == 0, "{refused} script(s) cannot run live");
    Ok(differ == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_is_split_per_script() {
        let console = "VOF banner\nNB live begin cpus=2\nNB s 0\nNB o H_SUCCESS\r\nNB o 02\nNB d 0 hcalls=1\nNB s 1\nNB e line 3: no vCPU has proc-no 7\nNB d 1 hcalls=0\nNB live end scripts=2 hcalls=1\n";
        let o = parse_console(console, 2).unwrap();
        assert_eq!(o[0].lines, ["H_SUCCESS", "02"]);
        assert_eq!(o[0].hcalls, 1);
        assert_eq!(o[1].error(), Some("line 3: no vCPU has proc-no 7"));
        assert!(parse_console(console, 3).is_err());
        assert!(parse_console("NB s 0\nNB panic at x\n", 1).is_err());
    }

    #[test]
    fn model_run_starts_with_cpu0_running() {
        let shape = Shape {
            cpus: 2,
            mem: 256 << 20,
        };
        let o = run_model(shape, "state 0\ndispatch 0\n");
        assert_eq!(
            o.lines,
            [
                "cpu 0: running; vpa none; dtl none; slb none",
                "error: line 2: vCPU 0 is already running"
            ]
        );
        let live = Outcome {
            lines: vec!["cpu 0: running; vpa none; dtl none; slb none".into()],
            hcalls: 0,
        };
        let d = first_difference(&live, &o).unwrap();
        assert_eq!(d.0, 1);
        assert_eq!(d.1, "(nothing)");
    }

    #[test]
    fn sparse_ram_bounds() {
        let mut r = SparseRam::new(8192);
        r.write(PhysAddr::new(4094), &[1, 2, 3, 4]).unwrap();
        let mut b = [0; 6];
        r.read(PhysAddr::new(4093), &mut b).unwrap();
        assert_eq!(b, [0, 1, 2, 3, 4, 0]);
        assert!(r.write(PhysAddr::new(8190), &[0; 3]).is_err());
        assert!(r.read(PhysAddr::new(u64::MAX), &mut b).is_err());
        assert!(!r.contains(PhysAddr::new(u64::MAX), PhysSize::new(2)));
    }

    #[test]
    fn bundle_format() {
        let s = Script {
            name: "a".into(),
            text: "state 0\n".into(),
        };
        let b = bundle(
            Shape {
                cpus: 3,
                mem: 0x1000_0000,
            },
            &[&s],
        );
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "NBHVLIVE 1\ncpus 3\nmem 0x10000000\nscripts 1\nscript 8\nstate 0\n\n"
        );
    }
}
