//! `numaboot verify LOG [TOPOLOGY]`: read a Linux 6.1 boot log taken with
//! `memblock=debug` and either print the per-CPU placement that boot made (with the
//! plan renderers), or plan the same machine and compare the two structure by
//! structure.
//!
//! The log is parsed by `bootlog` (every memblock debug line must parse; a bad one
//! stops with `numaboot: LOG: line N: ...`). Without TOPOLOGY, nodes come from the
//! log itself when it shows them (its `MEMBLOCK configuration` dump after NUMA setup
//! and its `numa: Node N CPUs:` lines); otherwise only from the allocation call sites.
//! With TOPOLOGY the plan options are those of `numaboot plan`; the MMU, the paca size,
//! `NR_CPUS` and hypervisor mode default to what the log shows unless given.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use bootlog::{BootLog, Comparison, Entry, Mmu, ObserveConfig, Observed, Side};
use clap::{Args, ValueEnum};
use memblock::Memblock;
use percpu::{CallLog, PlanConfig, Strategy};
use phys::PhysSize;
use topology::{Cpu, Topology};

use super::plan::{
    build, emit, emit_with, load, prepare_on, write_json, write_table, Machine, PageSizeArg,
    TableOptions, TargetArgs,
};

/// Output format of `numaboot verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// Text: the plan table of the boot, or one line per differing structure.
    Table,
    /// JSON: the plan report of the boot (schema of `numaboot plan`), or the comparison.
    Json,
}

const EXAMPLES: &str = "\
Examples:
  numaboot verify console.log                      # what the boot did, as a plan table
  numaboot verify console.log /sys/firmware/fdt    # plan this machine, compare with the boot
  numaboot verify dmesg.txt guest.dtb --possible 0-7 --format json

Exit status with TOPOLOGY: 0 every structure identical, 1 any difference (one line
each), 2 unusable input.";

/// Arguments of `numaboot verify`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct VerifyArgs {
    /// A console log, `dmesg` output or journal of a Linux 6.1 ppc64 boot with
    /// `memblock=debug` on the command line; `-` reads standard input.
    #[arg(value_name = "LOG")]
    pub log: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The boot CPU of the logged boot (default: the device tree's, else 0).
    #[arg(long, value_name = "CPU")]
    pub boot_cpu: Option<u32>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = VerifyFormat::Table)]
    pub format: VerifyFormat,
    /// Write the output to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `numaboot verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let shown = super::files::shown(&args.log);
    let bytes = super::files::read_input(&args.log, super::files::Cap::Log)?;
    // Console captures may hold stray bytes; they cannot be part of a memblock line.
    let text = String::from_utf8_lossy(&bytes);
    let log = bootlog::parse(&text)
        .map_err(|e| anyhow::anyhow!("{shown}: line {}: {}: `{}`", e.line, e.kind, e.text))?;
    if log.facts.possible_cpus == 0 {
        bail!(
            "{shown}: no alloc_paca_data allocation: not a Linux 6.1 ppc64 log with memblock=debug"
        );
    }
    match args.target.machine.topology.is_some() {
        false => show_boot(&args, &shown, &log),
        true => verify(&args, &shown, &log),
    }
}

fn possible_list(args: &VerifyArgs) -> Option<Vec<u32>> {
    args.target.machine.possible.as_ref().map(|l| l.0.clone())
}

fn observe(shown: &str, log: &BootLog<'_>, cfg: &ObserveConfig<'_>) -> anyhow::Result<Observed> {
    bootlog::observe(log, cfg).map_err(|e| anyhow::anyhow!("{shown}: {e}"))
}

/// Without TOPOLOGY: the boot's placement with the plan renderers.
fn show_boot(args: &VerifyArgs, shown: &str, log: &BootLog<'_>) -> anyhow::Result<ExitCode> {
    let f = &log.facts;
    let from_log = f.topology();
    let boot_cpu = args.boot_cpu.unwrap_or(0);
    let o = observe(
        shown,
        log,
        &ObserveConfig {
            boot_cpu,
            possible: possible_list(args),
            topology: from_log.as_ref(),
            ..ObserveConfig::default()
        },
    )?;
    let p = &o.placement;
    // The machine as far as the log shows it: its possible CPUs, nodes and memory
    // when it prints them.
    let topo = from_log.unwrap_or_else(|| Topology {
        cpus: o
            .possible
            .iter()
            .map(|&c| Cpu {
                logical_id: c,
                hw_id: c,
                node: None,
            })
            .collect(),
        rma_size: PhysSize::MAX,
        hypervisor_mode: f.hypervisor_mode.unwrap_or(false),
        ..Topology::default()
    });
    let mut cfg = PlanConfig::for_topology(&topo, Strategy::Linux61);
    cfg.radix = f.mmu == Some(Mmu::Radix);
    cfg.hypervisor_mode = f.hypervisor_mode.unwrap_or(false);
    cfg.nr_cpu_ids = p.nr_cpu_ids_initial.max(1);
    cfg.boot_cpu = boot_cpu;
    let len = o
        .possible
        .iter()
        .map(|&c| c as usize + 1)
        .max()
        .unwrap_or(1);
    cfg.possible = vec![false; len];
    for &c in &o.possible {
        cfg.possible[c as usize] = true;
    }
    if let Some(ps) = f.paca_size {
        cfg.paca_size = ps;
    }
    if let Some(s) = p
        .allocations
        .iter()
        .find(|a| a.kind == percpu::StructureKind::SoftirqStack)
    {
        let size = s.reserved.as_u64();
        if size.is_power_of_two() {
            cfg.thread_shift = size.trailing_zeros();
        }
    }
    let mut mb = Memblock::new();
    for r in &topo.memory {
        let _ = mb.add_node(r.base, r.size, r.node, memblock::RegionFlags::NONE);
    }
    for r in &o.reserved {
        // memblock's own region arrays are not modelled here; a reservation it cannot
        // record only shortens the reserved list of the report.
        let _ = mb.reserve(r.base, r.size);
    }
    let m = Machine {
        source: format!(
            "{shown} (boot log up to line {}{})",
            o.window_end,
            if topo.memory.is_empty() {
                "; no node information in the log"
            } else {
                "; nodes from the log"
            }
        ),
        topo,
        format: "log",
        boot_cpu,
        tree: None,
    };
    let report = build(&m, &cfg, p, &mb);
    emit_with(args.output.as_ref(), |w| match args.format {
        VerifyFormat::Table => write_table(
            w,
            &report,
            TableOptions {
                command: "numaboot verify",
                summary: false,
            },
        ),
        VerifyFormat::Json => write_json(w, &report),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// With TOPOLOGY: plan the machine and compare.
fn verify(args: &VerifyArgs, shown: &str, log: &BootLog<'_>) -> anyhow::Result<ExitCode> {
    let f = &log.facts;
    let mut margs = args.target.machine.clone();
    let mut from_log: Vec<String> = Vec::new();
    if !margs.radix && !margs.hash {
        if let Some(mmu) = f.mmu {
            margs.radix = mmu == Mmu::Radix;
            from_log.push(format!(
                "{} MMU",
                if margs.radix { "radix" } else { "hash" }
            ));
        }
    }
    // With --kernel the build's facts come from the image and its configuration (the
    // paca size from the version and page size), not from the log being judged.
    if margs.paca_size.is_none() && margs.kernel.is_none() {
        if let Some(ps) = f.paca_size {
            margs.paca_size = Some(ps.as_u64());
            from_log.push(format!("paca size {}", ps.as_u64()));
        }
    }
    if margs.nr_cpus.is_none() && margs.kernel.is_none() {
        if let Some(n) = f.nr_cpu_ids {
            margs.nr_cpus = Some(n);
            from_log.push(format!("NR_CPUS {n}"));
        }
    }
    if margs.page_size.is_none() && margs.kernel.is_none() {
        let ps = match f.page_size {
            Some(0x1000) => Some(PageSizeArg::K4),
            Some(0x1_0000) => Some(PageSizeArg::K64),
            _ => None,
        };
        if let Some(ps) = ps {
            margs.page_size = Some(ps);
            from_log.push(format!("{} KiB pages", ps.bytes() >> 10));
        }
    }
    if !margs.hv_mode && f.hypervisor_mode == Some(true) {
        margs.hv_mode = true;
        from_log.push("hypervisor mode".into());
    }
    let from_banner = f
        .kernel_version
        .map(|(major, minor)| Strategy::for_linux_version(major, minor))
        .filter(|s| *s != Strategy::Linux61);
    let strategy = match (args.target.strategy, from_banner) {
        (None, Some(s)) => {
            from_log.push(format!("Linux {}", s.name().trim_start_matches("linux-")));
            s
        }
        _ => args.target.strategy(),
    };
    let mut m = load(&margs)?;
    if let Some(b) = args.boot_cpu {
        m.boot_cpu = b;
    }
    let (cfg, planned) = prepare_on(&m, &margs, strategy, CallLog::Discard)?;
    let (plan, plan_mb) = match planned {
        Ok(x) => x,
        Err(e) => return Ok(super::plan::no_fit(&m, strategy, &e)),
    };
    let o = observe(
        shown,
        log,
        &ObserveConfig {
            boot_cpu: m.boot_cpu,
            possible: Some(cfg.possible_cpus().collect()),
            topology: Some(&m.topo),
            page_size: cfg.page_size,
        },
    )?;
    let c = bootlog::compare(&plan, &o.placement, Some(&m.topo));
    let reserved = ReservedDiff::new(&plan_mb, &o);
    let text = match args.format {
        VerifyFormat::Table => table(shown, &m, &cfg, &from_log, &o, &c, &reserved),
        VerifyFormat::Json => {
            let mut s =
                serde_json::to_string_pretty(&json(shown, &m, &from_log, &o, &c, &reserved))?;
            s.push('\n');
            s
        }
    };
    emit(&text, args.output.as_ref())?;
    Ok(if c.all_identical() && reserved.identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn node(n: Option<phys::NodeId>) -> String {
    n.map_or_else(|| "-".into(), |n| n.get().to_string())
}

fn side_text(s: Option<Side>) -> String {
    match s {
        Some(s) => format!("{} n{}", s.addr, node(s.node)),
        None => "-".into(),
    }
}

fn who(e: &Entry) -> String {
    match e.cpu {
        Some(c) => c.to_string(),
        None if e.index > 0 || e.kind == percpu::StructureKind::PageTable => {
            format!("#{}", e.index)
        }
        None => "-".into(),
    }
}

fn table(
    shown: &str,
    m: &Machine,
    cfg: &PlanConfig,
    from_log: &[String],
    o: &Observed,
    c: &Comparison,
    reserved: &ReservedDiff,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "numaboot verify: {shown} (up to line {}) against {}",
        o.window_end, m.source
    );
    let _ = writeln!(
        s,
        "plan: strategy {}, {} MMU, possible CPUs {}, boot CPU {}, paca {} B{}",
        cfg.strategy,
        if cfg.radix { "radix" } else { "hash" },
        topology::format_id_list(cfg.possible_cpus()),
        cfg.boot_cpu,
        cfg.paca_size.as_u64(),
        if from_log.is_empty() {
            String::new()
        } else {
            format!(" (from the log: {})", from_log.join(", "))
        }
    );
    let diffs: Vec<&Entry> = c.differences().collect();
    if !diffs.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<30} {:>4}  {:<22} {:<22} verdict",
            "structure", "cpu", "plan", "log"
        );
        for e in diffs {
            let _ = writeln!(
                s,
                "{:<30} {:>4}  {:<22} {:<22} {}",
                e.kind.name(),
                who(e),
                side_text(e.plan),
                side_text(e.log),
                e.verdict
            );
        }
        let sm = &c.summary;
        let _ = writeln!(
            s,
            "({} size differs, {} moved on the same node, {} on another node, {} missing in the log, {} missing in the plan)",
            sm.size_differs, sm.moved_same_node, sm.other_node, sm.missing_in_log, sm.missing_in_plan
        );
        let _ = writeln!(s);
    }
    for (side, list) in [("plan", &reserved.plan_only), ("log", &reserved.log_only)] {
        for (base, size) in list {
            let _ = writeln!(
                s,
                "reserved only in the {side}: [{base:#x}-{:#x}]",
                base + size - 1
            );
        }
    }
    let _ = writeln!(
        s,
        "reserved: {} of {} of the log's memblock.reserved regions as planned{}",
        reserved.logged - reserved.log_only.len(),
        reserved.logged,
        if reserved.plan_only.is_empty() {
            String::new()
        } else {
            format!(", {} more in the plan", reserved.plan_only.len())
        }
    );
    let _ = writeln!(s, "{}", c.summary);
    s
}

fn json(
    shown: &str,
    m: &Machine,
    from_log: &[String],
    o: &Observed,
    c: &Comparison,
    reserved: &ReservedDiff,
) -> serde_json::Value {
    use serde_json::json;
    let side = |s: Option<Side>| {
        s.map(|s| {
            json!({
                "addr": format!("{:#x}", s.addr.as_u64()),
                "reserved": s.reserved.as_u64(),
                "node": s.node.map(|n| n.get()),
            })
        })
    };
    let entries: Vec<serde_json::Value> = c
        .entries
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind.name(),
                "cpu": e.cpu,
                "index": e.index,
                "plan": side(e.plan),
                "log": side(e.log),
                "verdict": e.verdict.name(),
            })
        })
        .collect();
    let sm = &c.summary;
    json!({
        "log": shown,
        "log_window_end_line": o.window_end,
        "machine": m.source,
        "from_log": from_log,
        "all_identical": c.all_identical() && reserved.identical(),
        "reserved": {
            "logged_regions": reserved.logged,
            "only_in_plan": reserved.plan_only.iter().map(|(b, z)| json!({"base": format!("{b:#x}"), "size": format!("{z:#x}")})).collect::<Vec<_>>(),
            "only_in_log": reserved.log_only.iter().map(|(b, z)| json!({"base": format!("{b:#x}"), "size": format!("{z:#x}")})).collect::<Vec<_>>(),
        },
        "summary": {
            "per_cpu": { "total": sm.per_cpu.total, "identical": sm.per_cpu.identical },
            "shared": { "total": sm.shared.total, "identical": sm.shared.identical },
            "size_differs": sm.size_differs,
            "moved_same_node": sm.moved_same_node,
            "other_node": sm.other_node,
            "missing_in_log": sm.missing_in_log,
            "missing_in_plan": sm.missing_in_plan,
        },
        "entries": entries,
    })
}

/// memblock's reserved regions when the log's window ends (after the last emergency
/// stack) against the plan's at the same point: a reservation the model misses or
/// invents shows here even when it moves no structure.
struct ReservedDiff {
    /// Regions the log has.
    logged: usize,
    /// `(base, size)` of regions only the plan has.
    plan_only: Vec<(u64, u64)>,
    /// `(base, size)` of regions only the log has.
    log_only: Vec<(u64, u64)>,
}

impl ReservedDiff {
    fn new(plan: &Memblock, o: &Observed) -> Self {
        let planned: Vec<(u64, u64)> = plan
            .reserved()
            .iter()
            .map(|r| (r.base.as_u64(), r.size.as_u64()))
            .collect();
        let logged: Vec<(u64, u64)> = o
            .reserved
            .iter()
            .map(|r| (r.base.as_u64(), r.size.as_u64()))
            .collect();
        Self {
            logged: logged.len(),
            plan_only: planned
                .iter()
                .filter(|x| !logged.contains(x))
                .copied()
                .collect(),
            log_only: logged
                .iter()
                .filter(|x| !planned.contains(x))
                .copied()
                .collect(),
        }
    }

    fn identical(&self) -> bool {
        self.plan_only.is_empty() && self.log_only.is_empty()
    }
}
