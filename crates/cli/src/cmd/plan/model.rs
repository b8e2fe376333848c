//! The plan report every output format is drawn from, and the JSON schema (version
//! [`SCHEMA_VERSION`]) it serializes to. The schema is documented in the `plan` module
//! and in the README's "Planning" section; a change that removes or renames a field, or
//! changes its meaning, bumps the version.

use std::collections::BTreeMap;

use memblock::Memblock;
use percpu::{Allocation, Finding, Outcome, Placement, PlanConfig, Strategy, StructureKind};
use phys::NodeId;
use serde::{Deserialize, Serialize};

use super::machine::{id_list, Machine};

/// The version of the JSON document `numaboot plan --format json` writes.
///
/// 2: `home_node` of a per-CPU structure became `early_cpu_to_node(cpu)` (was the
/// topology's node, `null` for a CPU without one), so `local` agrees with `outcome`;
/// added `totals.remote`, `cpus[].lppaca_in_kernel_image`, `memblock_reserved` and the
/// `process_table` kind.
pub const SCHEMA_VERSION: u32 = 2;

/// The per-CPU structures in the order the table shows them.
pub const CPU_KINDS: [StructureKind; 8] = [
    StructureKind::Paca,
    StructureKind::Lppaca,
    StructureKind::SlbShadow,
    StructureKind::SoftirqStack,
    StructureKind::HardirqStack,
    StructureKind::EmergencyStack,
    StructureKind::NmiEmergencyStack,
    StructureKind::McEmergencyStack,
];

/// The JSON name of a structure kind ([`StructureKind::key`]).
pub fn kind_key(k: StructureKind) -> &'static str {
    k.key()
}

/// Whether the report's "real-mode structures end" counts a structure of `kind`: the
/// real-mode structures ([`percpu::Strategy::keeps_in_real_mode`]) that the limit the
/// report prints (the paca limit, `PlanConfig::paca_limit`) bounds. The emergency stacks
/// are real-mode structures too, but bounded by `ppc64_rma_size`, which is larger under
/// Linux 4.15 (256 MiB against the RMA), so they are checked by `check` instead.
pub fn under_paca_limit(strategy: percpu::Strategy, kind: StructureKind) -> bool {
    strategy.keeps_in_real_mode(kind)
        && !matches!(
            kind,
            StructureKind::EmergencyStack
                | StructureKind::NmiEmergencyStack
                | StructureKind::McEmergencyStack
        )
}

/// The whole report (JSON root).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The numaboot version that wrote it.
    pub numaboot_version: String,
    /// The machine.
    pub machine: MachineInfo,
    /// The kernel configuration planned.
    pub config: ConfigInfo,
    /// One entry per possible CPU, ascending.
    pub cpus: Vec<CpuRow>,
    /// Structures that belong to no single CPU (pointer arrays, Linux 4.15's arrays,
    /// radix page tables, a leaked table tail).
    pub shared: Vec<Structure>,
    /// Per node, ascending; memory without a node last (`node: null`).
    pub nodes: Vec<NodeSummary>,
    /// Sums over the whole machine.
    pub totals: Totals,
    /// Notable Linux behaviour met on the way, one sentence each.
    pub findings: Vec<String>,
    /// memblock's `reserved` array at the end of the plan (kernel image, plan memory
    /// and memblock's own region arrays), ascending: what `numaboot memblock replay`
    /// prints under `reserved:` for the `--format replay` script.
    pub memblock_reserved: Vec<Region>,
}

/// A memblock region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Base (hex).
    pub base: String,
    /// Size (hex).
    pub size: String,
}

/// The machine a plan ran on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// A path, or the default machine's description.
    pub source: String,
    /// `dtb`, `toml` or `embedded`.
    pub format: String,
    /// Present CPUs.
    pub cpus: u32,
    /// Node ids.
    pub nodes: Vec<u32>,
    /// Memory, in bytes.
    pub memory_bytes: u64,
    /// `ppc64_rma_size` as the machine describes it (hex), `null` when unlimited.
    pub rma_size: Option<String>,
    /// Whether the machine runs in hypervisor mode.
    pub hypervisor_mode: bool,
}

/// The kernel configuration planned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfo {
    /// `linux-6.1` or `linux-4.15`.
    pub strategy: String,
    /// `hash` or `radix`.
    pub mmu: String,
    /// Hypervisor mode (no lppaca).
    pub hypervisor_mode: bool,
    /// `nr_cpu_ids` at boot (`NR_CPUS`).
    pub nr_cpu_ids_initial: u32,
    /// `nr_cpu_ids` after `setup_nr_cpu_ids`.
    pub nr_cpu_ids_final: u32,
    /// The possible CPUs, as a cpulist.
    pub possible: String,
    /// The boot CPU.
    pub boot_cpu: u32,
    /// `sizeof(struct paca_struct)`.
    pub paca_size: u64,
    /// `THREAD_SIZE`: the size of each stack.
    pub thread_size: u64,
    /// The real-mode limit pacas, lppacas and SLB shadows were allocated below (hex),
    /// `null` when there is none (Linux 6.x with radix or in hypervisor mode).
    pub real_mode_limit: Option<String>,
}

/// One possible CPU and its structures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CpuRow {
    /// Logical CPU id.
    pub cpu: u32,
    /// Hardware thread id, `null` for a possible CPU that is not present.
    pub hw_id: Option<u32>,
    /// Its node (`null`: no node).
    pub node: Option<u32>,
    /// Its live structures, in [`CPU_KINDS`] order.
    pub structures: Vec<Structure>,
    /// Whether every structure is on the CPU's node.
    pub all_local: bool,
    /// Linux 4.15, CPU 0: its lppaca is the static `lppaca[0]` in the kernel image
    /// (`new_lppaca` returns `&lppaca[cpu]` for `cpu < NR_LPPACAS`), not a memblock
    /// allocation, so `structures` lists none.
    pub lppaca_in_kernel_image: bool,
}

/// One structure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Structure {
    /// `paca`, `lppaca`, `slb_shadow`, `softirq_stack`, `hardirq_stack`,
    /// `emergency_stack`, `nmi_emergency_stack`, `mc_emergency_stack`, `paca_ptrs`,
    /// `cpu_to_phys_id`, `page_table`, `process_table`, `paca_array`, `lppaca_array`,
    /// `slb_shadow_array`.
    pub kind: String,
    /// Its CPU, for per-CPU structures.
    pub cpu: Option<u32>,
    /// Physical address (hex string: JSON numbers lose bits above 2^53).
    pub addr: String,
    /// Bytes of the structure itself.
    pub size: u64,
    /// Bytes reserved in memblock for it.
    pub reserved: u64,
    /// The node of its memory.
    pub node: Option<u32>,
    /// The node it should be on: for a per-CPU structure `early_cpu_to_node(cpu)`, the
    /// node Linux maps the CPU to (a present CPU without a valid node: the first online
    /// node; a possible CPU that is not present: node 0); for a page table the node of
    /// the memory it maps; `null` for shared arrays.
    pub home_node: Option<u32>,
    /// The node Linux asked for (`null`: `NUMA_NO_NODE`).
    pub requested_node: Option<u32>,
    /// `node == home_node` (false without a home node). Where Linux asked for a node it
    /// asked for `home_node`, so `local` is true exactly when `outcome` is `local`.
    pub local: bool,
    /// How the node came about: `local` (Linux asked for a node and memblock gave it),
    /// `fallback` (asked, memblock used another node) or `no_node_requested` (then
    /// `local` tells whether it landed on its home node anyway).
    pub outcome: String,
    /// Why it fell back or why no node was asked for.
    pub reason: Option<String>,
    /// A slot inside a shared array (Linux 4.15), not its own allocation.
    pub in_array: bool,
}

/// Totals of one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    /// The node (`null`: memory without a node).
    pub node: Option<u32>,
    /// Its CPUs, as a cpulist.
    pub cpus: String,
    /// Its memory, in bytes.
    pub memory_bytes: u64,
    /// Per-CPU structures of this node's CPUs.
    pub structures: u64,
    /// How many of them are on this node.
    pub local: u64,
    /// `local / structures` in percent (100 when there are none).
    pub locality_percent: f64,
    /// Structures of this node's CPUs that memblock placed elsewhere after asking for
    /// this node.
    pub fallbacks: u64,
    /// Bytes of live structures in this node's memory.
    pub used: u64,
    /// Bytes reserved but not used (padding, unused array slots, leaks) plus free
    /// bytes stranded by alignment, in this node's memory.
    pub wasted: u64,
    /// Live memblock allocations in this node's memory.
    pub allocations: u64,
    /// memblock reserved regions holding plan memory in this node's memory.
    pub reserved_regions: u64,
    /// Structures in this node's memory that belong to another node's CPUs.
    pub hosted_remote: u64,
}

/// Sums over the machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Possible CPUs planned.
    pub cpus: u32,
    /// Per-CPU structures.
    pub structures: u64,
    /// Per-CPU structures on their CPU's node.
    pub local: u64,
    /// `local` in percent of the structures whose CPU has a node (a possible CPU that is
    /// not present has none).
    pub locality_percent: f64,
    /// Per-CPU structures for which Linux asked for a node and memblock used another
    /// (`outcome` `fallback`). Structures for which no node was asked (all of Linux
    /// 4.15's, the boot CPU's paca data) are never fallbacks: see `remote`.
    pub fallbacks: u64,
    /// Per-CPU structures off their CPU's home node, whatever the reason (fallback, or
    /// no node requested): `structures - local`, counting only CPUs with a home node.
    pub remote: u64,
    /// Bytes of live structures (per-CPU and shared).
    pub used: u64,
    /// Bytes wasted (padding plus alignment gaps).
    pub wasted: u64,
    /// Live memblock allocations.
    pub allocations: u64,
    /// memblock reserved regions holding plan memory.
    pub reserved_regions: u64,
    /// Bytes used per possible CPU (`used / cpus`).
    pub bytes_per_cpu: u64,
    /// The highest end address of a real-mode structure (hex), if any.
    pub real_mode_highest_end: Option<String>,
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn nid(n: Option<NodeId>) -> Option<u32> {
    n.map(NodeId::get)
}

/// The report of one allocation.
pub fn structure(a: &Allocation) -> Structure {
    let (outcome, reason) = match a.outcome {
        Outcome::Local => ("local", None),
        Outcome::Fallback(r) => ("fallback", Some(r.to_string())),
        Outcome::NoNodeRequested(r) => ("no_node_requested", Some(r.to_string())),
    };
    Structure {
        kind: kind_key(a.kind).into(),
        cpu: a.cpu,
        addr: hex(a.addr.as_u64()),
        size: a.size.as_u64(),
        reserved: a.reserved.as_u64(),
        node: nid(a.memory_node),
        home_node: nid(a.home_node),
        requested_node: nid(a.requested_node),
        local: a.is_local(),
        outcome: outcome.into(),
        reason,
        in_array: a.in_array,
    }
}

/// One sentence for a finding.
pub fn finding_text(f: &Finding) -> String {
    match *f {
        Finding::Leak { kind, addr, size } => format!(
            "{kind}: {} bytes at {addr} stay reserved and unused (Linux frees the table with the \
             shrunk nr_cpu_ids)",
            size.as_u64()
        ),
        Finding::FreedWhileInUse { kind, cpu, addr } => format!(
            "{kind} of CPU {cpu} at {addr} is freed while the CPU is possible (Linux 4.15 \
             free_lppacas sizes by num_possible_cpus)"
        ),
        Finding::CpusCapped { count } => {
            format!("{count} possible CPUs at or above nr_cpu_ids are ignored")
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        100.0
    } else {
        // Round to 0.1 so the JSON is stable and readable.
        ((part as f64 * 1000.0 / whole as f64).round()) / 10.0
    }
}

/// Builds the report of `p`, planned for `m` with `cfg`, which left memblock as `mb`.
pub fn build(m: &Machine, cfg: &PlanConfig, p: &Placement, mb: &Memblock) -> PlanReport {
    let topo = &m.topo;
    // Index the live per-CPU structures once: `Placement::find` scans every allocation,
    // which is quadratic over thousands of CPUs.
    let mut by_cpu: BTreeMap<(u32, StructureKind), &Allocation> = BTreeMap::new();
    for a in p.live().filter(|a| a.kind.is_per_cpu()) {
        if let Some(cpu) = a.cpu {
            by_cpu.entry((cpu, a.kind)).or_insert(a);
        }
    }
    let mut cpus = Vec::new();
    for cpu in cfg.possible_cpus() {
        let present = topo.cpus.get(cpu as usize);
        let mut structures = Vec::new();
        for kind in CPU_KINDS {
            if let Some(a) = by_cpu.get(&(cpu, kind)) {
                structures.push(structure(a));
            }
        }
        let all_local = structures.iter().all(|s| s.local);
        cpus.push(CpuRow {
            cpu,
            hw_id: present.map(|c| c.hw_id),
            node: present.and_then(|c| nid(c.node)),
            structures,
            all_local,
            lppaca_in_kernel_image: p.strategy == Strategy::Linux415 && cpu == 0,
        });
    }
    let shared: Vec<Structure> = p
        .live()
        .filter(|a| !a.kind.is_per_cpu())
        .map(structure)
        .collect();

    let per_cpu: Vec<&Allocation> = p.live().filter(|a| a.kind.is_per_cpu()).collect();
    let is_fallback = |a: &Allocation| matches!(a.outcome, Outcome::Fallback(_));
    let mut nodes = Vec::new();
    for t in &p.nodes {
        let mine: Vec<&&Allocation> = per_cpu
            .iter()
            .filter(|a| a.home_node == t.node && t.node.is_some())
            .collect();
        let structures = mine.len() as u64;
        let local = mine.iter().filter(|a| a.is_local()).count() as u64;
        let hosted_remote = per_cpu
            .iter()
            .filter(|a| a.memory_node == t.node && a.home_node.is_some() && !a.is_local())
            .count() as u64;
        let (cpus_on, memory_bytes) = match t.node {
            Some(n) => (
                id_list(topo.cpus_on(n).map(|c| c.logical_id)),
                topo.memory_size_on(n).as_u64(),
            ),
            None => (
                id_list(
                    topo.cpus
                        .iter()
                        .filter(|c| c.node.is_none())
                        .map(|c| c.logical_id),
                ),
                topo.memory
                    .iter()
                    .filter(|r| r.node.is_none())
                    .map(|r| r.size.as_u64())
                    .sum(),
            ),
        };
        nodes.push(NodeSummary {
            node: nid(t.node),
            cpus: cpus_on,
            memory_bytes,
            structures,
            local,
            locality_percent: percent(local, structures),
            fallbacks: mine.iter().filter(|a| is_fallback(a)).count() as u64,
            used: t.used,
            wasted: t.wasted(),
            allocations: t.allocations,
            reserved_regions: t.reserved_regions,
            hosted_remote,
        });
    }
    // Nodes of the topology with neither plan memory nor anything else still get a row,
    // so that CPUs on memoryless nodes are accounted for.
    for n in &topo.nodes {
        if !nodes.iter().any(|s| s.node == Some(n.id.get())) {
            let mine: Vec<&&Allocation> = per_cpu
                .iter()
                .filter(|a| a.home_node == Some(n.id))
                .collect();
            let structures = mine.len() as u64;
            let local = mine.iter().filter(|a| a.is_local()).count() as u64;
            nodes.push(NodeSummary {
                node: Some(n.id.get()),
                cpus: id_list(topo.cpus_on(n.id).map(|c| c.logical_id)),
                memory_bytes: topo.memory_size_on(n.id).as_u64(),
                structures,
                local,
                locality_percent: percent(local, structures),
                fallbacks: mine.iter().filter(|a| is_fallback(a)).count() as u64,
                used: 0,
                wasted: 0,
                allocations: 0,
                reserved_regions: 0,
                hosted_remote: 0,
            });
        }
    }
    nodes.sort_by_key(|n| (n.node.is_none(), n.node));

    let total = p.total();
    let structures = per_cpu.len() as u64;
    let local = per_cpu.iter().filter(|a| a.is_local()).count() as u64;
    // Structures of possible CPUs that are not present have no home node: they count in
    // `structures` but not in the locality percentage.
    let homed = per_cpu.iter().filter(|a| a.home_node.is_some()).count() as u64;
    let ncpus = cpus.len() as u32;
    let real_mode_highest_end = p
        .live()
        .filter(|a| under_paca_limit(cfg.strategy, a.kind))
        .map(|a| a.addr.as_u64().saturating_add(a.reserved.as_u64()))
        .max()
        .map(hex);
    let totals = Totals {
        cpus: ncpus,
        structures,
        local,
        locality_percent: percent(local, homed),
        fallbacks: per_cpu.iter().filter(|a| is_fallback(a)).count() as u64,
        remote: homed - local,
        used: total.used,
        wasted: total.wasted(),
        allocations: total.allocations,
        reserved_regions: total.reserved_regions,
        bytes_per_cpu: total.used / u64::from(ncpus.max(1)),
        real_mode_highest_end,
    };
    let unlimited = |v: u64| (v != u64::MAX).then(|| hex(v));
    PlanReport {
        schema_version: SCHEMA_VERSION,
        numaboot_version: env!("CARGO_PKG_VERSION").into(),
        machine: MachineInfo {
            source: m.source.clone(),
            format: m.format.into(),
            cpus: topo.cpus.len() as u32,
            nodes: topo.nodes.iter().map(|n| n.id.get()).collect(),
            memory_bytes: topo.memory.iter().map(|r| r.size.as_u64()).sum(),
            rma_size: unlimited(topo.rma_size.as_u64()),
            hypervisor_mode: topo.hypervisor_mode,
        },
        config: ConfigInfo {
            strategy: p.strategy.name().into(),
            mmu: if cfg.radix { "radix" } else { "hash" }.into(),
            hypervisor_mode: cfg.hypervisor_mode,
            nr_cpu_ids_initial: p.nr_cpu_ids_initial,
            nr_cpu_ids_final: p.nr_cpu_ids_final,
            possible: id_list(cfg.possible_cpus()),
            boot_cpu: p.boot_cpu,
            paca_size: cfg.paca_size.as_u64(),
            thread_size: cfg.thread_size(),
            real_mode_limit: real_mode_limit(cfg, p).map(hex),
        },
        cpus,
        shared,
        nodes,
        totals,
        findings: p.findings.iter().map(finding_text).collect(),
        memblock_reserved: mb
            .reserved()
            .iter()
            .map(|r| Region {
                base: hex(r.base.as_u64()),
                size: hex(r.size.as_u64()),
            })
            .collect(),
    }
}

/// The real-mode limit the pacas, lppacas and SLB shadows were kept below, `None` where
/// there is none. Linux 6.x has one only in a hash guest (the RMA, within the first
/// segment); in hypervisor mode its pacas still stay in the bolted 1 TiB segment, but
/// that bounds virtual-mode SLB faults, not real mode, and nothing else there is
/// bounded, so it is not reported as a real-mode limit. Linux 4.15 keeps its arrays
/// below `min(256 MiB, ppc64_rma_size)` in every mode.
fn real_mode_limit(cfg: &PlanConfig, p: &Placement) -> Option<u64> {
    let limit = p.paca_limit.addr()?.as_u64();
    let six = !matches!(p.strategy, Strategy::Linux415);
    (!(six && cfg.hypervisor_mode)).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::super::machine::{config, load, plan, MachineArgs};
    use super::*;

    #[test]
    fn report_round_trips_through_json() {
        let args = MachineArgs::default();
        let m = load(&args).unwrap();
        for s in percpu::Strategy::ALL {
            let cfg = config(&m, &args, s).unwrap();
            let (p, mb) = plan(&m, &cfg).unwrap();
            let r = build(&m, &cfg, &p, &mb);
            let text = serde_json::to_string(&r).unwrap();
            let back: PlanReport = serde_json::from_str(&text).unwrap();
            assert_eq!(back, r);
            assert_eq!(back.schema_version, SCHEMA_VERSION);
        }
    }
}
