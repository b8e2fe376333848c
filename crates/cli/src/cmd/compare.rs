//! `numaboot compare [TOPOLOGY] [--strategy A,B,...]`: strategies on the same machine,
//! side by side (default: the three Linux kernels; `--strategy` takes any of them and
//! the strategies beyond Linux, `percpu::strategies`).
//!
//! # JSON (`--format json`), schema `numaboot-compare` version 1
//!
//! A document of its own, versioned apart from `plan --format json`:
//! `{"schema": "numaboot-compare", "schema_version": 1, "numaboot_version", "machine",
//! "strategies": [...]}`. `machine` is the plan report's `machine` object; each entry of
//! `strategies` is `{"strategy", "error": null, "config", "totals", "nodes",
//! "findings", "costs"}` with the first four as in `plan --format json` (schema 2), or
//! `{"strategy", "error": "..."}` when the plan does not fit. `costs` (added without a
//! version bump: nothing was removed or changed) holds what a choice between
//! strategies turns on: `paca_data_reserved`, `paca_data_used`, `paca_data_wasted`
//! (bytes memblock reserves for pacas, lppacas and SLB shadows with their arrays,
//! pages and blocks; the structures' own bytes; the difference), `paca_data_per_cpu`,
//! `paca_data_local` and `paca_data_structures` (of those, how many are on their CPU's
//! node), `memblock_calls` (allocations and frees of the plan), `rma_headroom` (free
//! bytes below the real-mode limit when the plan is done, `null` without one),
//! `real_mode_end` (hex: the highest end of a structure the strategy touches with
//! translation off) and `plan_time_us`. A change that removes or renames a field, or
//! changes its meaning, bumps [`SCHEMA_VERSION`].
//!
//! In the table, `fallbacks` counts structures for which Linux asked for a node and got
//! another; Linux 4.15 never asks, so it has none even though more of its structures
//! are off their CPU's node: that is the `remote` row.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use memblock::Memblock;
use percpu::{MemblockOps, Placement, PlanConfig, Strategy};
use serde::Serialize;
use serde_json::json;

use super::opts::TableOrJson;

use super::plan::{
    build, emit, finding_text, human, load, prepare_on, Findings, Machine, MachineArgs, PlanReport,
};

/// The name of the document `numaboot compare --json` writes.
pub const SCHEMA: &str = "numaboot-compare";

/// The version of that document (independent of `plan`'s schema version).
pub const SCHEMA_VERSION: u32 = 1;

const EXAMPLES: &str = "\
Examples:
  numaboot compare                      # the embedded default machine
  numaboot compare /sys/firmware/fdt
  numaboot compare guest.dtb --radix
  numaboot compare machine.toml --format json
  numaboot compare --strategy linux,packed-vpa,per-cpu-block,per-node-block,rma-split";

/// Arguments of `numaboot compare`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct CompareArgs {
    #[command(flatten)]
    pub machine: MachineArgs,
    /// Output format. `json`: `{"schema": "numaboot-compare", "schema_version": 1,
    /// "machine": ..., "strategies": [{"strategy", "error", "config", "totals", "nodes",
    /// "findings"}]}` with those as in `plan --format json`.
    #[arg(long, short = 'f', value_enum, default_value_t)]
    pub format: TableOrJson,
    /// The older spelling of `--format json`.
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
    /// The strategies to compare, comma-separated, in column order: linux (= linux-6.1),
    /// linux-6.12, linux-4.15, packed-vpa, per-cpu-block, per-node-block, rma-split
    /// (default: linux-6.12,linux,linux-4.15).
    #[arg(long, value_delimiter = ',', value_name = "A,B,...", value_parser = crate::cmd::opts::strategy_parser())]
    pub strategy: Vec<Strategy>,
}

/// `human` with a sign, for differences.
fn signed_human(v: i128) -> String {
    let h = human(u64::try_from(v.unsigned_abs()).unwrap_or(u64::MAX));
    if v < 0 {
        format!("-{h}")
    } else {
        h
    }
}

/// What a choice between strategies turns on, beyond the plan report's totals.
#[derive(Clone, Debug, Serialize)]
pub struct Costs {
    /// Bytes memblock reserves for pacas, lppacas and SLB shadows (with the arrays,
    /// lppaca pages and paca blocks holding them).
    pub paca_data_reserved: u64,
    /// Bytes of the pacas, lppacas and SLB shadows themselves.
    pub paca_data_used: u64,
    /// `paca_data_reserved - paca_data_used`: padding and unused slots.
    pub paca_data_wasted: u64,
    /// `paca_data_reserved` per possible CPU.
    pub paca_data_per_cpu: u64,
    /// Pacas, lppacas and SLB shadows.
    pub paca_data_structures: u64,
    /// Of those, on their CPU's node.
    pub paca_data_local: u64,
    /// memblock allocations and frees the plan made (without the initial reservations).
    pub memblock_calls: u64,
    /// Free bytes below the real-mode limit when the plan is done (`None`: no limit).
    pub rma_headroom: Option<u64>,
    /// The highest end of a structure the strategy needs below the real-mode limit
    /// (JSON: a hex string, as since schema 1).
    #[serde(serialize_with = "hex_addr")]
    pub real_mode_end: Option<phys::PhysAddr>,
    /// Wall time of the plan, microseconds.
    pub plan_time_us: u64,
}

/// The costs of `p`, planned for `m` with `cfg`, which left memblock as `mb` and
/// whose report is `r`.
pub fn costs(
    m: &Machine,
    cfg: &PlanConfig,
    p: &Placement,
    mb: &Memblock,
    r: &PlanReport,
    us: u64,
) -> Costs {
    // Paca data counted where memblock reserved it: its own blocks, or the arrays,
    // pages and blocks holding it.
    let blocks = p.live_blocks().filter(|a| a.kind.family().is_paca_data());
    let reserved: u64 = blocks.map(|a| a.reserved.as_u64()).sum();
    let data: Vec<_> = p
        .live()
        .filter(|a| a.kind.is_per_cpu() && a.kind.family().is_paca_data())
        .collect();
    let used: u64 = data.iter().map(|a| a.size.as_u64()).sum();
    let cpus = cfg.possible_cpus().count().max(1) as u64;
    let calls = p
        .memblock_trace()
        .iter()
        .filter(|op| op.is_alloc() || op.freed().is_some())
        .count() as u64;
    let hash_guest = !cfg.radix && !cfg.hypervisor_mode;
    let limit = cfg.rma_limit(&m.topo).addr().filter(|_| hash_guest);
    let rma_headroom = limit.map(|l| {
        let l = l.as_u64();
        let below = |ranges: Vec<(phys::PhysAddr, phys::PhysSize)>| -> u64 {
            ranges
                .iter()
                .map(|(b, s)| {
                    let (b, e) = (b.as_u64(), b.as_u64().saturating_add(s.as_u64()));
                    e.min(l).saturating_sub(b.min(l))
                })
                .sum()
        };
        let memory = mb
            .memory_ranges()
            .into_iter()
            .map(|(b, s, _)| (b, s))
            .collect();
        below(memory).saturating_sub(below(mb.reserved_ranges()))
    });
    let real_mode_end = r.totals.real_mode_highest_end;
    Costs {
        paca_data_reserved: reserved,
        paca_data_used: used,
        paca_data_wasted: reserved.saturating_sub(used),
        paca_data_per_cpu: reserved / cpus,
        paca_data_structures: data.len() as u64,
        paca_data_local: data.iter().filter(|a| a.is_local()).count() as u64,
        memblock_calls: calls,
        rma_headroom,
        real_mode_end,
        plan_time_us: us,
    }
}

/// `Some(addr)` as `"0x..."`, `None` as `null`: the form `costs.real_mode_end` has
/// always had in the JSON output.
fn hex_addr<S: serde::Serializer>(v: &Option<phys::PhysAddr>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(a) => s.serialize_str(&format!("{:#x}", a.as_u64())),
        None => s.serialize_none(),
    }
}

/// One column: a strategy's report (borrowing from its placement) and costs, or why
/// it does not fit.
type Column<'p> = Result<(PlanReport<'p>, Costs), String>;

/// Runs `numaboot compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let m = load(&args.machine)?;
    let chosen: Vec<Strategy> = if args.strategy.is_empty() {
        Strategy::ALL.to_vec()
    } else {
        args.strategy.clone()
    };
    // Every strategy is planned first: the reports borrow from the placements.
    let mut planned = Vec::new();
    for s in chosen {
        let t = Instant::now();
        let (cfg, plan) = prepare_on(&m, &args.machine, s, percpu::CallLog::Keep)?;
        let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
        planned.push((s, cfg, plan, us));
    }
    let results: Vec<(Strategy, Column)> = planned
        .iter()
        .map(|(s, cfg, plan, us)| {
            let column = match plan {
                Ok((p, mb)) => {
                    let r = build(&m, cfg, p, mb);
                    let c = costs(&m, cfg, p, mb, &r, *us);
                    Ok((r, c))
                }
                Err(e) => Err(e.to_string()),
            };
            (*s, column)
        })
        .collect();
    let text = if args.format.with_json_alias(args.json) == TableOrJson::Json {
        let strategies: Vec<_> = results
            .iter()
            .map(|(s, r)| match r {
                Ok((r, c)) => json!({"strategy": s.name(), "error": null,
                    "config": r.config, "totals": r.totals, "nodes": r.nodes,
                    "findings": Findings(&r.findings), "costs": c}),
                Err(e) => json!({"strategy": s.name(), "error": e}),
            })
            .collect();
        let machine = results
            .iter()
            .find_map(|(_, r)| r.as_ref().ok().map(|(r, _)| json!(r.machine)))
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

/// Width of a strategy's column in the table.
const COL: usize = 22;

fn table(source: &str, results: &[(Strategy, Column)]) -> String {
    let mut o = String::new();
    table_header(&mut o, source, results);
    table_rows(&mut o, results);
    table_deltas(&mut o, results);
    table_node_rows(&mut o, results);
    table_notes(&mut o, results);
    o
}

/// The machine line and the strategies' names.
fn table_header(o: &mut String, source: &str, results: &[(Strategy, Column)]) {
    let _ = writeln!(o, "numaboot compare: {source}");
    if let Some((r, _)) = results.iter().find_map(|(_, r)| r.as_ref().ok()) {
        let _ = writeln!(
            o,
            "{} CPUs, {} nodes, {} memory, RMA {}, {} MMU{}",
            r.machine.cpus,
            r.machine.nodes.len(),
            human(r.machine.memory.as_u64()),
            r.machine
                .rma_size
                .map_or_else(|| "unlimited".into(), |s| format!("{:#x}", s.as_u64())),
            r.config.mmu_name(),
            if r.config.hypervisor_mode {
                ", hypervisor mode"
            } else {
                ", LPAR"
            }
        );
    }
    let _ = writeln!(o);
    let _ = write!(o, "{:<28}", "");
    for (s, _) in results {
        let _ = write!(o, "{:>COL$}", s.name());
    }
    let _ = writeln!(o);
}

/// One row: its name, then a cell per strategy (`missing` where it does not fit).
fn table_row(
    o: &mut String,
    name: &str,
    results: &[(Strategy, Column)],
    missing: &str,
    cell: impl Fn(&PlanReport, &Costs) -> String,
) {
    let _ = write!(o, "{name:<28}");
    for (_, r) in results {
        let text = match r {
            Ok((r, c)) => cell(r, c),
            Err(_) => missing.into(),
        };
        let _ = write!(o, "{text:>COL$}");
    }
    let _ = writeln!(o);
}

/// The figures of every strategy.
fn table_rows(o: &mut String, results: &[(Strategy, Column)]) {
    type Cell = fn(&PlanReport, &Costs) -> String;
    let rows: [(&str, Cell); 20] = [
        ("possible CPUs", |r, _| r.totals.cpus.to_string()),
        ("per-CPU structures", |r, _| r.totals.structures.to_string()),
        ("node-local", |r, _| {
            format!("{} ({:.1}%)", r.totals.local, r.totals.locality_percent())
        }),
        ("remote (off CPU's node)", |r, _| {
            r.totals.remote().to_string()
        }),
        ("fallbacks (node not got)", |r, _| {
            r.totals.fallbacks.to_string()
        }),
        ("bytes used", |r, _| human(r.totals.held.used)),
        ("bytes used per CPU", |r, _| human(r.totals.bytes_per_cpu())),
        ("bytes wasted", |r, _| human(r.totals.held.wasted())),
        ("memblock allocations", |r, _| {
            r.totals.held.allocations.to_string()
        }),
        ("reserved regions", |r, _| {
            r.totals.held.reserved_regions.to_string()
        }),
        ("real-mode limit", |r, _| {
            r.config
                .real_mode_limit
                .map_or_else(|| "none".into(), |l| format!("{:#x}", l.as_u64()))
        }),
        ("real-mode structures end", |_, c| {
            c.real_mode_end
                .map_or_else(|| "-".into(), |e| format!("{:#x}", e.as_u64()))
        }),
        ("findings", |r, _| r.findings.len().to_string()),
        ("paca data reserved", |_, c| human(c.paca_data_reserved)),
        ("paca data per CPU", |_, c| human(c.paca_data_per_cpu)),
        ("paca data wasted", |_, c| human(c.paca_data_wasted)),
        ("paca data node-local", |_, c| {
            format!(
                "{}/{} ({:.1}%)",
                c.paca_data_local,
                c.paca_data_structures,
                c.paca_data_local as f64 * 100.0 / c.paca_data_structures.max(1) as f64
            )
        }),
        ("memblock calls", |_, c| c.memblock_calls.to_string()),
        ("RMA headroom", |_, c| {
            c.rma_headroom.map_or_else(|| "-".into(), human)
        }),
        ("plan time", |_, c| {
            format!("{:.1} ms", c.plan_time_us as f64 / 1000.0)
        }),
    ];
    for (name, f) in rows {
        table_row(o, name, results, "does not fit", f);
    }
}

/// Differences from Linux 6.1, when it is one of the columns.
fn table_deltas(o: &mut String, results: &[(Strategy, Column)]) {
    let Some((br, bc)) = results.iter().find_map(|(s, r)| match r {
        Ok((r, c)) if *s == Strategy::Linux61 => Some((r, c)),
        _ => None,
    }) else {
        return;
    };
    table_row(o, "paca data saved vs 6.1", results, "-", |_, c| {
        signed_human(i128::from(bc.paca_data_reserved) - i128::from(c.paca_data_reserved))
    });
    table_row(o, "regions saved vs 6.1", results, "-", |r, _| {
        (i128::from(br.totals.held.reserved_regions) - i128::from(r.totals.held.reserved_regions))
            .to_string()
    });
    table_row(
        o,
        "RMA headroom gained vs 6.1",
        results,
        "-",
        |_, c| match (c.rma_headroom, bc.rma_headroom) {
            (Some(x), Some(y)) => signed_human(i128::from(x) - i128::from(y)),
            _ => "-".into(),
        },
    );
}

/// Per-node locality, for the nodes of the first strategy that fits.
fn table_node_rows(o: &mut String, results: &[(Strategy, Column)]) {
    let Some((first, _)) = results.iter().find_map(|(_, r)| r.as_ref().ok()) else {
        return;
    };
    for n in first.nodes.iter().filter(|n| n.node.is_some()) {
        let name = format!("node {} local", n.node.map_or(0, phys::NodeId::get));
        table_row(o, &name, results, "-", |r, _| {
            r.nodes.iter().find(|x| x.node == n.node).map_or_else(
                || "-".into(),
                |x| {
                    let l = &x.locality;
                    if l.structures == 0 {
                        "-".to_string()
                    } else {
                        format!(
                            "{}/{} ({:.1}%)",
                            l.local,
                            l.structures,
                            x.locality_percent()
                        )
                    }
                },
            )
        });
    }
}

/// What the terms mean, then each strategy's findings and failures.
fn table_notes(o: &mut String, results: &[(Strategy, Column)]) {
    let _ = writeln!(
        o,
        "remote: per-CPU structures off their CPU's node, whatever the reason; fallbacks: \
         those for which Linux asked for the node and memblock gave another (Linux 4.15 \
         asks for none)"
    );
    if results.iter().any(|(s, _)| !s.is_linux()) {
        let _ = writeln!(
            o,
            "paca data: pacas, lppacas and SLB shadows with their arrays, pages and blocks \
             (reserved, and per possible CPU); RMA headroom: memory below the real-mode \
             limit still free after the plan"
        );
    }
    for (s, r) in results {
        match r {
            Err(e) => {
                let _ = writeln!(o, "{s}: does not fit: {e}");
            }
            Ok((r, _)) => {
                for f in &r.findings {
                    let _ = writeln!(o, "{s}: {}", finding_text(f));
                }
            }
        }
    }
}
