//! The text table of `numaboot plan` (the default format).

use std::fmt::Write as _;

use super::machine::human;
use percpu::StructureKind;

use super::model::{kind_key, PlanReport, Structure, CPU_KINDS};

/// Column headers of the per-CPU structures, in [`CPU_KINDS`] order.
const HEADERS: [&str; 8] = [
    "paca",
    "lppaca",
    "slb_shadow",
    "softirq",
    "hardirq",
    "emergency",
    "nmi",
    "mce",
];

fn node(n: Option<u32>) -> String {
    n.map_or_else(|| "-".into(), |n| n.to_string())
}

fn cell(s: &Structure) -> String {
    // A possible CPU that is not present has no node, so nothing is remote for it.
    let mark = if s.local || s.home_node.is_none() {
        ""
    } else {
        "!"
    };
    format!("{} n{}{mark}", s.addr, node(s.node))
}

/// The real-mode limit for people: the address and its size, or `none` with the reason
/// (a hash guest is the only 6.x machine with a real-mode area to stay below).
fn limit_text(r: &PlanReport) -> String {
    let c = &r.config;
    match c.real_mode_limit.as_deref() {
        Some(l) => {
            let bytes = u64::from_str_radix(l.trim_start_matches("0x"), 16).unwrap_or(0);
            format!("{l} ({})", human(bytes))
        }
        None if c.hypervisor_mode => "none (hypervisor mode: no RMA)".into(),
        None if c.mmu == "radix" => "none (radix)".into(),
        None => "none".into(),
    }
}

/// How many CPUs are possible, and how that relates to the present ones: `64 of 64
/// CPUs possible (0-63)` when every possible CPU is present; else how many of them are
/// (`--possible` or `ibm,lrdr-capacity` may name CPUs the machine does not have).
fn possible_text(r: &PlanReport) -> String {
    let possible = r.totals.cpus;
    let present = r.machine.cpus;
    let both = r.cpus.iter().filter(|row| row.hw_id.is_some()).count() as u32;
    let list = &r.config.possible;
    if both == possible {
        format!("{possible} of {present} CPUs possible ({list})")
    } else {
        format!(
            "{possible} CPUs possible ({list}): {both} of the {present} present and {} not present",
            possible - both
        )
    }
}

/// Renders the report as text.
pub fn render(r: &PlanReport) -> String {
    render_with(r, false)
}

/// Renders the report as text; `summary` leaves the per-CPU rows out.
pub fn render_with(r: &PlanReport, summary: bool) -> String {
    let mut o = String::new();
    let c = &r.config;
    let _ = writeln!(o, "numaboot plan: {}", r.machine.source);
    let mode = if c.hypervisor_mode {
        "hypervisor mode"
    } else {
        "LPAR"
    };
    let _ = writeln!(
        o,
        "strategy {}, {} MMU, {mode}; {}, boot CPU {}, nr_cpu_ids {} -> {}",
        c.strategy,
        c.mmu,
        possible_text(r),
        c.boot_cpu,
        c.nr_cpu_ids_initial,
        c.nr_cpu_ids_final
    );
    let _ = writeln!(
        o,
        "real-mode limit {}; paca {} B, stacks {} B each",
        limit_text(r),
        c.paca_size,
        c.thread_size
    );
    if !summary {
        let _ = writeln!(o);
        per_cpu_rows(&mut o, r);
    }
    shared_and_totals(&mut o, r);
    // Empty trailing cells leave spaces; drop them.
    let mut out = String::with_capacity(o.len());
    for line in o.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One row per possible CPU and the legend under them.
fn per_cpu_rows(o: &mut String, r: &PlanReport) {
    // Per-CPU rows. Column widths from the data so the table stays aligned.
    let shown: Vec<usize> = (0..CPU_KINDS.len())
        .filter(|&i| {
            r.cpus.iter().any(|row| {
                row.structures
                    .iter()
                    .any(|s| s.kind == kind_key(CPU_KINDS[i]))
            })
        })
        .collect();
    let cells: Vec<Vec<String>> = r
        .cpus
        .iter()
        .map(|row| {
            shown
                .iter()
                .map(|&i| {
                    let kind = CPU_KINDS[i];
                    match row.structures.iter().find(|s| s.kind == kind_key(kind)) {
                        Some(s) => cell(s),
                        // Linux 4.15's CPU 0 uses the static lppaca[0] of the kernel image.
                        None if kind == StructureKind::Lppaca && row.lppaca_in_kernel_image => {
                            "static lppaca[0] (kernel image)".into()
                        }
                        None => "-".into(),
                    }
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = shown
        .iter()
        .enumerate()
        .map(|(j, &i)| {
            cells
                .iter()
                .map(|r| r[j].len())
                .chain([HEADERS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = write!(o, "{:>5} {:>6} {:>4}", "cpu", "hw", "node");
    for (j, &i) in shown.iter().enumerate() {
        let _ = write!(o, "  {:<w$}", HEADERS[i], w = widths[j]);
    }
    let _ = writeln!(o, "  placement");
    for (row, cells) in r.cpus.iter().zip(&cells) {
        let hw = row.hw_id.map_or_else(|| "-".into(), |h| format!("{h:#x}"));
        let _ = write!(o, "{:>5} {:>6} {:>4}", row.cpu, hw, node(row.node));
        for (j, c) in cells.iter().enumerate() {
            let _ = write!(o, "  {:<w$}", c, w = widths[j]);
        }
        let n = row.structures.len();
        let local = row.structures.iter().filter(|s| s.local).count();
        let fb = row
            .structures
            .iter()
            .filter(|s| s.outcome == "fallback")
            .count();
        let status = if row.hw_id.is_none() {
            "not present: no node".to_string()
        } else if local == n {
            "local".to_string()
        } else if fb > 0 {
            format!("{local}/{n} local, {fb} fallback")
        } else {
            format!("{local}/{n} local")
        };
        let _ = writeln!(o, "  {status}");
    }
    let _ = writeln!(
        o,
        "(address nN: the structure is in node N's memory; ! marks one not on its CPU's node)"
    );
}

/// The shared structures, the per-node table, the totals and the findings.
fn shared_and_totals(o: &mut String, r: &PlanReport) {
    let c = &r.config;

    if !r.shared.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "shared structures");
        // Radix page tables can be many; summarise them.
        let tables: Vec<&Structure> = r.shared.iter().filter(|s| s.kind == "page_table").collect();
        for s in r.shared.iter().filter(|s| s.kind != "page_table") {
            let _ = writeln!(
                o,
                "  {:<16} {:>14}  {:>10} reserved  node {}",
                s.kind,
                s.addr,
                human(s.reserved),
                node(s.node)
            );
        }
        if !tables.is_empty() {
            let bytes: u64 = tables.iter().map(|s| s.reserved).sum();
            let local = tables.iter().filter(|s| s.local).count();
            let _ = writeln!(
                o,
                "  {:<16} {:>14}  {:>10} reserved  {local} of {} on the node they map",
                "page_table",
                format!("{} pages", tables.len()),
                human(bytes),
                tables.len()
            );
        }
    }

    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:>4}  {:<8} {:>9}  {:>10} {:>6} {:>8} {:>9}  {:>10} {:>10} {:>6} {:>7} {:>6}",
        "node",
        "cpus",
        "memory",
        "structures",
        "local",
        "locality",
        "fallbacks",
        "used",
        "wasted",
        "allocs",
        "regions",
        "hosted"
    );
    for n in &r.nodes {
        // A node whose CPUs own no structure has no locality to speak of.
        let locality = if n.structures == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", n.locality_percent)
        };
        let _ = writeln!(
            o,
            "{:>4}  {:<8} {:>9}  {:>10} {:>6} {:>8} {:>9}  {:>10} {:>10} {:>6} {:>7} {:>6}",
            n.node.map_or_else(|| "none".into(), |n| n.to_string()),
            n.cpus,
            human(n.memory_bytes),
            n.structures,
            n.local,
            locality,
            n.fallbacks,
            human(n.used),
            human(n.wasted),
            n.allocations,
            n.reserved_regions,
            n.hosted_remote
        );
    }
    let t = &r.totals;
    let _ = writeln!(
        o,
        "{:>4}  {:<8} {:>9}  {:>10} {:>6} {:>7.1}% {:>9}  {:>10} {:>10} {:>6} {:>7} {:>6}",
        "all",
        format!("{} CPUs", t.cpus),
        human(r.machine.memory_bytes),
        t.structures,
        t.local,
        t.locality_percent,
        t.fallbacks,
        human(t.used),
        human(t.wasted),
        t.allocations,
        t.reserved_regions,
        "",
    );
    let _ = writeln!(
        o,
        "(structures/local/fallbacks: of the node's CPUs; used/wasted/allocs/regions/hosted: in \
         the node's memory, hosted = other nodes' structures)"
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "totals: {} used ({} per CPU), {} wasted, {} reserved regions, {} fallbacks, {:.1}% node-local",
        human(t.used),
        human(t.bytes_per_cpu),
        human(t.wasted),
        t.reserved_regions,
        t.fallbacks,
        t.locality_percent
    );
    // Only a limit that exists is compared with.
    match (&t.real_mode_highest_end, &c.real_mode_limit) {
        (Some(end), Some(_)) => {
            let _ = writeln!(
                o,
                "real-mode structures end at {end}, limit {}",
                limit_text(r)
            );
        }
        (Some(end), None) => {
            let _ = writeln!(
                o,
                "real-mode structures end at {end}; real-mode limit {}",
                limit_text(r)
            );
        }
        (None, _) => {}
    }
    for f in &r.findings {
        let _ = writeln!(o, "finding: {f}");
    }
}
