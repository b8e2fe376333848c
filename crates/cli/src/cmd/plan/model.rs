//! The plan report every output format is drawn from: the placement regrouped per CPU
//! and per node, with kinds, addresses, sizes, outcomes and node ids kept typed. Text
//! appears only where a format writes it (`json`, `table`, `svg`).

use std::collections::BTreeMap;

use memblock::Memblock;
use percpu::{
    Allocation, Finding, NodeLocality, NodeTotals, Placement, PlanConfig, RealModeBound, Strategy,
    StructureKind,
};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::rma::Mmu;

use super::machine::Machine;

/// Whether the report's "real-mode structures end" counts a structure of `kind`: the
/// real-mode structures this strategy keeps ([`Strategy::keeps_in_real_mode`]) that the
/// limit the report prints (the paca limit) bounds ([`RealModeBound::PacaLimit`]). The
/// emergency stacks are real-mode structures too, but bounded by their own limit, which
/// is larger under Linux 4.15 (the RMA against 256 MiB), so `check` judges them.
pub fn under_paca_limit(strategy: Strategy, kind: StructureKind) -> bool {
    strategy.keeps_in_real_mode(kind) && kind.real_mode_bound() == Some(RealModeBound::PacaLimit)
}

/// The whole report. Everything is kept typed (kinds, addresses, sizes, outcomes, node
/// ids); the `json`, `table` and `svg` modules turn it into text as they write. The
/// CPU rows borrow their structures from the placement (`'p`): copying them would
/// write megabytes of fresh memory at 8192 CPUs for nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanReport<'p> {
    /// The machine.
    pub machine: MachineInfo,
    /// The kernel configuration planned.
    pub config: ConfigInfo,
    /// One entry per possible CPU, ascending.
    pub cpus: Vec<CpuRow<'p>>,
    /// Live structures that belong to no single CPU (pointer arrays, Linux 4.15's
    /// arrays, radix page tables, a leaked table tail), in allocation order.
    pub shared: Vec<Allocation>,
    /// Per node, ascending; memory without a node last.
    pub nodes: Vec<NodeSummary>,
    /// Sums over the whole machine.
    pub totals: Totals,
    /// Notable Linux behaviour met on the way.
    pub findings: Vec<Finding>,
    /// memblock's `reserved` array at the end of the plan (kernel image, plan memory
    /// and memblock's own region arrays), ascending: what `numaboot memblock replay`
    /// prints under `reserved:` for the `--format replay` script.
    pub memblock_reserved: Vec<Region>,
}

/// A memblock region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Base.
    pub base: PhysAddr,
    /// Size.
    pub size: PhysSize,
}

/// The machine a plan ran on.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineInfo {
    /// A path, or the default machine's description.
    pub source: String,
    /// `dtb`, `toml`, `embedded` or `log`.
    pub format: &'static str,
    /// Present CPUs.
    pub cpus: u32,
    /// Node ids.
    pub nodes: Vec<NodeId>,
    /// Memory.
    pub memory: PhysSize,
    /// `ppc64_rma_size` as the machine describes it, `None` when unlimited.
    pub rma_size: Option<PhysSize>,
    /// Whether the machine runs in hypervisor mode.
    pub hypervisor_mode: bool,
}

/// The kernel configuration planned.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigInfo {
    /// The strategy.
    pub strategy: Strategy,
    /// The MMU.
    pub mmu: Mmu,
    /// Hypervisor mode (no lppaca).
    pub hypervisor_mode: bool,
    /// `nr_cpu_ids` at boot (`NR_CPUS`).
    pub nr_cpu_ids_initial: u32,
    /// `nr_cpu_ids` after `setup_nr_cpu_ids`.
    pub nr_cpu_ids_final: u32,
    /// The possible CPUs, ascending.
    pub possible: Vec<u32>,
    /// The boot CPU.
    pub boot_cpu: u32,
    /// `sizeof(struct paca_struct)`.
    pub paca_size: PhysSize,
    /// `THREAD_SIZE`: the size of each stack.
    pub thread_size: u64,
    /// The real-mode limit pacas, lppacas and SLB shadows were allocated below, `None`
    /// when there is none (Linux 6.x with radix or in hypervisor mode).
    pub real_mode_limit: Option<PhysAddr>,
}

impl ConfigInfo {
    /// `hash` or `radix`.
    pub fn mmu_name(&self) -> &'static str {
        match self.mmu {
            Mmu::Hash => "hash",
            Mmu::Radix => "radix",
        }
    }
}

/// One possible CPU and its structures.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuRow<'p> {
    /// Logical CPU id.
    pub cpu: u32,
    /// Hardware thread id, `None` for a possible CPU that is not present.
    pub hw_id: Option<u32>,
    /// Its node (`None`: no node).
    pub node: Option<NodeId>,
    /// Its live per-CPU structures, in [`StructureKind`] order (one of each kind).
    pub structures: Vec<&'p Allocation>,
    /// Linux 4.15, CPU 0: its lppaca is the static `lppaca[0]` in the kernel image
    /// (`new_lppaca` returns `&lppaca[cpu]` for `cpu < NR_LPPACAS`), not a memblock
    /// allocation, so `structures` lists none.
    pub lppaca_in_kernel_image: bool,
}

impl<'p> CpuRow<'p> {
    /// Whether every structure is on the CPU's node.
    pub fn all_local(&self) -> bool {
        self.structures.iter().all(|a| a.is_local())
    }

    /// Its structure of `kind`, if it has one (the writers walk the row instead).
    #[cfg(test)]
    pub fn structure(&self, kind: StructureKind) -> Option<&'p Allocation> {
        self.structures.iter().find(|a| a.kind == kind).copied()
    }
}

/// One node: its CPUs' locality and what its memory holds.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSummary {
    /// The node (`None`: memory without a node).
    pub node: Option<NodeId>,
    /// Its CPUs, ascending.
    pub cpus: Vec<u32>,
    /// Its memory.
    pub memory: PhysSize,
    /// Its CPUs' per-CPU structures: how many, how many local, how many fell back; and
    /// how many other nodes' structures its memory hosts.
    pub locality: NodeLocality,
    /// What its memory holds (used, padding and gaps, allocations, regions).
    pub held: NodeTotals,
}

impl NodeSummary {
    /// `local / structures` in percent, rounded to 0.1 (100 when there are none).
    pub fn locality_percent(&self) -> f64 {
        percent(self.locality.local, self.locality.structures)
    }
}

/// Sums over the machine.
#[derive(Clone, Debug, PartialEq)]
pub struct Totals {
    /// Possible CPUs planned.
    pub cpus: u32,
    /// Per-CPU structures.
    pub structures: u64,
    /// Per-CPU structures on their CPU's node.
    pub local: u64,
    /// Per-CPU structures whose CPU has a home node (a possible CPU that is not present
    /// has none): what the locality percentage is taken of.
    pub homed: u64,
    /// Per-CPU structures for which Linux asked for a node and memblock used another.
    /// Structures for which no node was asked (all of Linux 4.15's, the boot CPU's paca
    /// data) are never fallbacks: see [`Totals::remote`].
    pub fallbacks: u64,
    /// The per-node totals summed over the machine.
    pub held: NodeTotals,
    /// The highest end of a structure below the paca limit, if any.
    pub real_mode_highest_end: Option<PhysAddr>,
}

impl Totals {
    /// `local` in percent of the structures with a home node, rounded to 0.1.
    pub fn locality_percent(&self) -> f64 {
        percent(self.local, self.homed)
    }

    /// Per-CPU structures off their CPU's home node, whatever the reason (fallback, or
    /// no node requested), counting only CPUs with a home node.
    pub fn remote(&self) -> u64 {
        self.homed - self.local
    }

    /// Bytes used per possible CPU.
    pub fn bytes_per_cpu(&self) -> u64 {
        self.held.used / u64::from(self.cpus.max(1))
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

/// The live per-CPU structures of each possible CPU, in [`StructureKind`] order, one
/// per kind (the first allocated, as [`Placement::find`] would return).
fn cpu_rows<'p>(m: &Machine, cfg: &PlanConfig, p: &'p Placement) -> Vec<CpuRow<'p>> {
    // One slot per CPU id and per-CPU kind, filled in allocation order so that the
    // first allocated of duplicates stays: `Placement::find` scans every allocation,
    // which is quadratic over thousands of CPUs, and a sort of the allocations by CPU
    // costs more than this table. Possible CPUs are below the mask's length.
    type Slots<'p> = [Option<&'p Allocation>; StructureKind::PER_CPU.len()];
    let ids = cfg.possible_cpus().last().map_or(0, |c| c as usize + 1);
    let mut slots: Vec<Slots<'p>> = vec![[None; StructureKind::PER_CPU.len()]; ids];
    for a in p.live() {
        let slot = a
            .cpu
            .zip(a.kind.per_cpu_index())
            .and_then(|(c, k)| slots.get_mut(c as usize)?.get_mut(k));
        if let Some(slot @ None) = slot {
            *slot = Some(a);
        }
    }
    let mut rows = Vec::with_capacity(cfg.possible_cpus().count());
    rows.extend(cfg.possible_cpus().map(|cpu| {
        let present = m.topo.cpus.get(cpu as usize);
        let slots = slots.get(cpu as usize).map_or(&[][..], |s| &s[..]);
        // Sized first: a collect through `flatten` would grow the list twice.
        let mut structures = Vec::with_capacity(slots.iter().flatten().count());
        structures.extend(slots.iter().flatten().copied());
        CpuRow {
            cpu,
            hw_id: present.map(|c| c.hw_id),
            node: present.and_then(|c| c.node),
            structures,
            lppaca_in_kernel_image: p.strategy == Strategy::Linux415 && cpu == 0,
        }
    }));
    rows
}

/// One row per node of the plan's totals, plus the topology's nodes without plan
/// memory (so that CPUs on memoryless nodes are accounted for), ascending with memory
/// without a node last.
fn node_rows(m: &Machine, p: &Placement) -> Vec<NodeSummary> {
    let topo = &m.topo;
    let mut cpus_of: BTreeMap<Option<NodeId>, Vec<u32>> = BTreeMap::new();
    for c in &topo.cpus {
        cpus_of.entry(c.node).or_default().push(c.logical_id);
    }
    let locality = p.locality_by_node();
    let locality_of = |node: Option<NodeId>| {
        locality
            .iter()
            .find(|l| l.node == node)
            .copied()
            .unwrap_or(NodeLocality {
                node,
                ..NodeLocality::default()
            })
    };
    let memory_of = |node: Option<NodeId>| match node {
        Some(n) => topo.memory_size_on(n),
        None => topo
            .memory
            .iter()
            .filter(|r| r.node.is_none())
            .fold(PhysSize::ZERO, |acc, r| acc.saturating_add(r.size)),
    };
    let row = |held: NodeTotals| {
        let node = held.node;
        let mut cpus = cpus_of.get(&node).cloned().unwrap_or_default();
        cpus.sort_unstable();
        NodeSummary {
            node,
            cpus,
            memory: memory_of(node),
            locality: locality_of(node),
            held,
        }
    };
    let mut nodes: Vec<NodeSummary> = p.nodes.iter().copied().map(row).collect();
    for n in &topo.nodes {
        if !p.nodes.iter().any(|t| t.node == Some(n.id)) {
            nodes.push(row(NodeTotals {
                node: Some(n.id),
                ..NodeTotals::default()
            }));
        }
    }
    nodes.sort_by_key(|n| (n.node.is_none(), n.node));
    nodes
}

/// Builds the report of `p`, planned for `m` with `cfg`, which left memblock as `mb`.
pub fn build<'p>(m: &Machine, cfg: &PlanConfig, p: &'p Placement, mb: &Memblock) -> PlanReport<'p> {
    let topo = &m.topo;
    let cpus = cpu_rows(m, cfg, p);
    // One pass over the structures for every count: at 8192 CPUs they are megabytes.
    let mut totals = Totals {
        cpus: cpus.len() as u32,
        structures: 0,
        local: 0,
        homed: 0,
        fallbacks: 0,
        held: p.total(),
        real_mode_highest_end: None,
    };
    for a in p.live() {
        if a.kind.is_per_cpu() {
            totals.structures += 1;
            totals.local += u64::from(a.is_local());
            totals.homed += u64::from(a.home_node.is_some());
            totals.fallbacks += u64::from(a.outcome.is_fallback());
        }
        if under_paca_limit(cfg.strategy, a.kind) {
            let end = a.addr.saturating_add(a.reserved);
            totals.real_mode_highest_end = totals.real_mode_highest_end.max(Some(end));
        }
    }
    let rma = topo.rma_size;
    PlanReport {
        machine: MachineInfo {
            source: m.source.clone(),
            format: m.format,
            cpus: topo.cpus.len() as u32,
            nodes: topo.nodes.iter().map(|n| n.id).collect(),
            memory: topo
                .memory
                .iter()
                .fold(PhysSize::ZERO, |acc, r| acc.saturating_add(r.size)),
            rma_size: (rma.as_u64() != u64::MAX).then_some(rma),
            hypervisor_mode: topo.hypervisor_mode,
        },
        config: ConfigInfo {
            strategy: p.strategy,
            mmu: if cfg.radix { Mmu::Radix } else { Mmu::Hash },
            hypervisor_mode: cfg.hypervisor_mode,
            nr_cpu_ids_initial: p.nr_cpu_ids_initial,
            nr_cpu_ids_final: p.nr_cpu_ids_final,
            possible: cfg.possible_cpus().collect(),
            boot_cpu: p.boot_cpu,
            paca_size: cfg.paca_size,
            thread_size: cfg.thread_size(),
            real_mode_limit: real_mode_limit(cfg, p),
        },
        cpus,
        shared: p.live().filter(|a| !a.kind.is_per_cpu()).copied().collect(),
        nodes: node_rows(m, p),
        totals,
        findings: p.findings.clone(),
        memblock_reserved: mb
            .reserved()
            .iter()
            .map(|r| Region {
                base: r.base,
                size: r.size,
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
fn real_mode_limit(cfg: &PlanConfig, p: &Placement) -> Option<PhysAddr> {
    let limit = p.paca_limit.addr()?;
    let six = !matches!(p.strategy, Strategy::Linux415);
    (!(six && cfg.hypervisor_mode)).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::super::json;
    use super::super::machine::{config, load, plan, MachineArgs};
    use super::*;
    use percpu::Outcome;

    fn hex(v: &serde_json::Value) -> u64 {
        let s = v.as_str().unwrap();
        u64::from_str_radix(s.strip_prefix("0x").unwrap(), 16).unwrap()
    }

    #[test]
    fn json_text_carries_the_typed_report() {
        // The strings of the document are written from the typed report: reading them
        // back gives the same kinds, addresses, sizes, nodes and outcomes.
        let args = MachineArgs::default();
        let m = load(&args).unwrap();
        for s in Strategy::ALL {
            let cfg = config(&m, &args, s).unwrap();
            let (p, mb) = plan(&m, &cfg, percpu::CallLog::Keep).unwrap();
            let r = build(&m, &cfg, &p, &mb);
            let mut text = Vec::new();
            json::write(&mut text, &r).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
            assert_eq!(v["schema_version"], json::SCHEMA_VERSION);
            assert_eq!(v["config"]["strategy"], s.name());
            let rows = v["cpus"].as_array().unwrap();
            assert_eq!(rows.len(), r.cpus.len());
            for (row, typed) in rows.iter().zip(&r.cpus) {
                let structures = row["structures"].as_array().unwrap();
                assert_eq!(structures.len(), typed.structures.len());
                for (j, a) in structures.iter().zip(&typed.structures) {
                    assert_eq!(j["kind"], a.kind.key());
                    assert_eq!(hex(&j["addr"]), a.addr.as_u64());
                    assert_eq!(j["size"], a.size.as_u64());
                    assert_eq!(
                        j["node"].as_u64(),
                        a.memory_node.map(|n| u64::from(n.get()))
                    );
                    assert_eq!(j["local"], a.is_local());
                    let outcome = j["outcome"].as_str().unwrap();
                    match a.outcome {
                        Outcome::Local => assert_eq!(outcome, "local"),
                        Outcome::Fallback(why) => {
                            assert_eq!(outcome, "fallback");
                            assert_eq!(j["reason"], why.to_string());
                        }
                        Outcome::NoNodeRequested(why) => {
                            assert_eq!(outcome, "no_node_requested");
                            assert_eq!(j["reason"], why.to_string());
                        }
                    }
                }
                assert_eq!(row["all_local"], typed.all_local());
            }
            let reserved = v["memblock_reserved"].as_array().unwrap();
            assert_eq!(reserved.len(), mb.reserved().len());
            for (j, region) in reserved.iter().zip(mb.reserved()) {
                assert_eq!(hex(&j["base"]), region.base.as_u64());
                assert_eq!(hex(&j["size"]), region.size.as_u64());
            }
            assert_eq!(
                v["totals"]["real_mode_highest_end"]
                    .as_str()
                    .map(|_| hex(&v["totals"]["real_mode_highest_end"])),
                r.totals.real_mode_highest_end.map(PhysAddr::as_u64)
            );
        }
    }

    #[test]
    fn rows_list_each_cpus_structures_in_kind_order() {
        let args = MachineArgs::default();
        let m = load(&args).unwrap();
        let cfg = config(&m, &args, Strategy::Linux61).unwrap();
        let (p, mb) = plan(&m, &cfg, percpu::CallLog::Keep).unwrap();
        let r = build(&m, &cfg, &p, &mb);
        for row in &r.cpus {
            assert!(row.structures.windows(2).all(|w| w[0].kind < w[1].kind));
            for a in &row.structures {
                assert_eq!(p.find(row.cpu, a.kind), Some(*a));
            }
            let live = p
                .cpu_structures(row.cpu)
                .filter(|a| a.kind.is_per_cpu())
                .count();
            assert_eq!(row.structures.len(), live);
        }
    }
}
