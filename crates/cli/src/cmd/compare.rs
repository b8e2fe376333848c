//! `numaboot compare [TOPOLOGY]`: both strategies on the same machine, side by side.
//!
//! # JSON (`--json`), schema `numaboot-compare` version 1
//!
//! A document of its own, versioned apart from `plan --format json`:
//! `{"schema": "numaboot-compare", "schema_version": 1, "numaboot_version", "machine",
//! "strategies": [...]}`. `machine` is the plan report's `machine` object; each entry of
//! `strategies` is `{"strategy", "error": null, "config", "totals", "nodes",
//! "findings"}` with those four as in `plan --format json` (schema 2), or `{"strategy",
//! "error": "..."}` when the plan does not fit. A change that removes or renames a
//! field, or changes its meaning, bumps [`SCHEMA_VERSION`].
//!
//! In the table, `fallbacks` counts structures for which Linux asked for a node and got
//! another; Linux 4.15 never asks, so it has none even though more of its structures
//! are off their CPU's node: that is the `remote` row.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Args;
use percpu::Strategy;
use serde_json::json;

use super::plan::{build, emit, human, load, prepare_on, MachineArgs, PlanReport};

/// The name of the document `numaboot compare --json` writes.
pub const SCHEMA: &str = "numaboot-compare";

/// The version of that document (independent of `plan`'s schema version).
pub const SCHEMA_VERSION: u32 = 1;

const EXAMPLES: &str = "\
Examples:
  numaboot compare                      # the embedded default machine
  numaboot compare /sys/firmware/fdt
  numaboot compare guest.dtb --radix
  numaboot compare machine.toml --json";

/// Arguments of `numaboot compare`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct CompareArgs {
    #[command(flatten)]
    pub machine: MachineArgs,
    /// Print JSON: `{"schema": "numaboot-compare", "schema_version": 1, "machine": ...,
    /// "strategies": [{"strategy", "error", "config", "totals", "nodes", "findings"}]}`
    /// with those as in `plan --format json`.
    #[arg(long)]
    pub json: bool,
}

/// Runs `numaboot compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let m = load(&args.machine)?;
    let mut results: Vec<(Strategy, Result<PlanReport, String>)> = Vec::new();
    for s in Strategy::ALL {
        let (cfg, planned) = prepare_on(&m, &args.machine, s)?;
        let r = match planned {
            Ok((p, mb)) => Ok(build(&m, &cfg, &p, &mb)),
            Err(e) => Err(e.to_string()),
        };
        results.push((s, r));
    }
    let text = if args.json {
        let strategies: Vec<_> = results
            .iter()
            .map(|(s, r)| match r {
                Ok(r) => json!({"strategy": s.name(), "error": null,
                    "config": r.config, "totals": r.totals, "nodes": r.nodes,
                    "findings": r.findings}),
                Err(e) => json!({"strategy": s.name(), "error": e}),
            })
            .collect();
        let machine = results
            .iter()
            .find_map(|(_, r)| r.as_ref().ok().map(|r| json!(r.machine)))
            .unwrap_or_else(|| json!({"source": m.source}));
        let mut s = serde_json::to_string_pretty(&json!({
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "numaboot_version": env!("CARGO_PKG_VERSION"),
            "machine": machine,
            "strategies": strategies,
        }))?;
        s.push('\n');
        s
    } else {
        table(&m.source, &results)
    };
    emit(&text, None)?;
    Ok(ExitCode::SUCCESS)
}

fn table(source: &str, results: &[(Strategy, Result<PlanReport, String>)]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "numaboot compare: {source}");
    if let Some(r) = results.iter().find_map(|(_, r)| r.as_ref().ok()) {
        let _ = writeln!(
            o,
            "{} CPUs, {} nodes, {} memory, RMA {}, {} MMU{}",
            r.machine.cpus,
            r.machine.nodes.len(),
            human(r.machine.memory_bytes),
            r.machine.rma_size.as_deref().unwrap_or("unlimited"),
            r.config.mmu,
            if r.config.hypervisor_mode {
                ", hypervisor mode"
            } else {
                ", LPAR"
            }
        );
    }
    let _ = writeln!(o);
    let col = 22;
    let _ = write!(o, "{:<28}", "");
    for (s, _) in results {
        let _ = write!(o, "{:>col$}", s.name());
    }
    let _ = writeln!(o);
    type Cell = fn(&PlanReport) -> String;
    let rows: Vec<(&str, Cell)> = vec![
        ("possible CPUs", |r| r.totals.cpus.to_string()),
        ("per-CPU structures", |r| r.totals.structures.to_string()),
        ("node-local", |r| {
            format!("{} ({:.1}%)", r.totals.local, r.totals.locality_percent)
        }),
        ("remote (off CPU's node)", |r| r.totals.remote.to_string()),
        ("fallbacks (node not got)", |r| {
            r.totals.fallbacks.to_string()
        }),
        ("bytes used", |r| human(r.totals.used)),
        ("bytes used per CPU", |r| human(r.totals.bytes_per_cpu)),
        ("bytes wasted", |r| human(r.totals.wasted)),
        ("memblock allocations", |r| r.totals.allocations.to_string()),
        ("reserved regions", |r| {
            r.totals.reserved_regions.to_string()
        }),
        ("real-mode limit", |r| {
            r.config
                .real_mode_limit
                .clone()
                .unwrap_or_else(|| "none".into())
        }),
        ("real-mode structures end", |r| {
            r.totals
                .real_mode_highest_end
                .clone()
                .unwrap_or_else(|| "-".into())
        }),
        ("findings", |r| r.findings.len().to_string()),
    ];
    for (name, f) in rows {
        let _ = write!(o, "{name:<28}");
        for (_, r) in results {
            let cell = match r {
                Ok(r) => f(r),
                Err(_) => "does not fit".into(),
            };
            let _ = write!(o, "{cell:>col$}");
        }
        let _ = writeln!(o);
    }
    // Per-node locality.
    if let Some(first) = results.iter().find_map(|(_, r)| r.as_ref().ok()) {
        for n in first.nodes.iter().filter(|n| n.node.is_some()) {
            let _ = write!(o, "{:<28}", format!("node {} local", n.node.unwrap_or(0)));
            for (_, r) in results {
                let cell = match r {
                    Ok(r) => r.nodes.iter().find(|x| x.node == n.node).map_or_else(
                        || "-".into(),
                        |x| format!("{}/{} ({:.1}%)", x.local, x.structures, x.locality_percent),
                    ),
                    Err(_) => "-".into(),
                };
                let _ = write!(o, "{cell:>col$}");
            }
            let _ = writeln!(o);
        }
    }
    let _ = writeln!(
        o,
        "remote: per-CPU structures off their CPU's node, whatever the reason; fallbacks: \
         those for which Linux asked for the node and memblock gave another (Linux 4.15 \
         asks for none)"
    );
    for (s, r) in results {
        match r {
            Err(e) => {
                let _ = writeln!(o, "{s}: does not fit: {e}");
            }
            Ok(r) => {
                for f in &r.findings {
                    let _ = writeln!(o, "{s}: {f}");
                }
            }
        }
    }
    o
}
