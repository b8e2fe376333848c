//! Deterministic synthetic topologies for tests and benchmarks.
//!
//! Large machines (thousands of CPUs, hundreds of nodes, nodes with no memory or no
//! CPUs) are what NUMA-aware placement must survive, and no fixture can hold them all.
//! The generator is seeded (SplitMix64), so a seed names one machine forever, and runs
//! in time linear in CPUs plus nodes squared (the distance matrix).

use alloc::vec;
use alloc::vec::Vec;

use phys::{NodeId, PhysAddr, PhysSize};

use crate::dtb::MAX_CPUS;
use crate::error::SynthError;
use crate::model::{Cpu, MemoryRange, Node, Topology};
use crate::rma::{linux_rma_size, Mmu};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Number of nodes, 1 to 256; ids are `0..nodes`.
    pub nodes: u32,
    /// Number of CPU threads, at most 8192 and a multiple of `threads_per_core`.
    pub cpus: u32,
    /// SMT threads per core (1, 2, 4 or 8); a core's threads share a node.
    pub threads_per_core: u32,
    /// Memory on each node that has memory.
    pub memory_per_node: PhysSize,
    /// How many nodes (never node 0) get no memory.
    pub memoryless_nodes: u32,
    /// How many nodes (never node 0, never a memoryless one) get no CPUs.
    pub cpuless_nodes: u32,
    /// Seed for which nodes lack memory or CPUs and how cores spread over nodes.
    pub seed: u64,
    /// Whether the machine is a hypervisor-mode host (unlimited RMA).
    pub hypervisor_mode: bool,
}

impl Default for SyntheticSpec {
    /// Two SMT4 nodes with 8 threads and 4 GiB each.
    fn default() -> Self {
        Self {
            nodes: 2,
            cpus: 16,
            threads_per_core: 4,
            memory_per_node: PhysSize::new(4 << 30),
            memoryless_nodes: 0,
            cpuless_nodes: 0,
            seed: 0,
            hypervisor_mode: false,
        }
    }
}

/// SplitMix64: tiny, seedable, and good enough to spread cores.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough value in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Generates a topology. Node 0 always has CPUs and memory (the boot CPU and the RMA
/// live there). Logical CPUs are numbered node by node, a core's threads together, and
/// hardware ids are `core * threads_per_core + thread` as on POWER. Memory nodes are
/// laid out from address 0 in id order. Distances are 10 local, 20 within a group of
/// four consecutive node ids (a "chip"), 40 otherwise.
///
/// ```
/// use topology::{synthetic, SyntheticSpec};
///
/// let spec = SyntheticSpec { nodes: 256, cpus: 8192, threads_per_core: 8,
///     memoryless_nodes: 10, cpuless_nodes: 20, seed: 7, ..Default::default() };
/// let t = synthetic(&spec).unwrap();
/// assert_eq!(t.cpus.len(), 8192);
/// assert_eq!(t.nodes.len(), 256);
/// assert_eq!(t, synthetic(&spec).unwrap()); // deterministic
/// ```
pub fn synthetic(spec: &SyntheticSpec) -> Result<Topology, SynthError> {
    let p = SynthError::Parameter;
    if !(1..=NodeId::MAX_NUMNODES).contains(&spec.nodes) {
        return Err(p("nodes must be 1 to 256"));
    }
    if !matches!(spec.threads_per_core, 1 | 2 | 4 | 8) {
        return Err(p("threads_per_core must be 1, 2, 4 or 8"));
    }
    if spec.cpus as usize > MAX_CPUS || spec.cpus % spec.threads_per_core != 0 || spec.cpus == 0 {
        return Err(p(
            "cpus must be 1 to 8192 and a multiple of threads_per_core",
        ));
    }
    if spec.memory_per_node.is_zero() {
        return Err(p("memory_per_node must not be zero"));
    }
    let others = spec.nodes - 1;
    if spec.memoryless_nodes.saturating_add(spec.cpuless_nodes) > others {
        return Err(p("memoryless + cpuless nodes must leave node 0 out"));
    }
    let n = spec.nodes as usize;
    let mut rng = Rng(spec.seed);

    // Shuffle nodes 1.. and take the first ones as memoryless, the next as CPU-less.
    let mut order: Vec<usize> = (1..n).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut has_mem = vec![true; n];
    let mut has_cpu = vec![true; n];
    let ml = spec.memoryless_nodes as usize;
    let cl = spec.cpuless_nodes as usize;
    for &i in order.iter().take(ml) {
        if let Some(m) = has_mem.get_mut(i) {
            *m = false;
        }
    }
    for &i in order.iter().skip(ml).take(cl) {
        if let Some(c) = has_cpu.get_mut(i) {
            *c = false;
        }
    }

    let cpu_nodes: Vec<usize> = (0..n).filter(|&i| has_cpu.get(i) == Some(&true)).collect();
    let cores = (spec.cpus / spec.threads_per_core) as usize;
    if cores < cpu_nodes.len() {
        return Err(p("fewer cores than nodes with CPUs"));
    }
    // One core each, the rest spread at random.
    let mut per_node = vec![0usize; n];
    for &i in &cpu_nodes {
        if let Some(c) = per_node.get_mut(i) {
            *c += 1;
        }
    }
    for _ in cpu_nodes.len()..cores {
        let pick = cpu_nodes
            .get(rng.below(cpu_nodes.len()))
            .copied()
            .unwrap_or(0);
        if let Some(c) = per_node.get_mut(pick) {
            *c += 1;
        }
    }

    let mut cpus = Vec::with_capacity(spec.cpus as usize);
    let mut core = 0u32;
    for (i, &count) in per_node.iter().enumerate() {
        let node = NodeId::new(i as u32);
        for _ in 0..count {
            for t in 0..spec.threads_per_core {
                cpus.push(Cpu {
                    logical_id: cpus.len() as u32,
                    hw_id: core * spec.threads_per_core + t,
                    node,
                });
            }
            core += 1;
        }
    }

    let mut memory = Vec::new();
    let mut base = PhysAddr::ZERO;
    for (i, _) in has_mem.iter().enumerate().filter(|(_, &m)| m) {
        let end = base
            .checked_add(spec.memory_per_node)
            .ok_or(p("total memory passes the top of the address space"))?;
        memory.push(MemoryRange {
            base,
            size: spec.memory_per_node,
            node: NodeId::new(i as u32),
        });
        base = end;
    }

    let nodes: Vec<Node> = (0..spec.nodes)
        .filter_map(NodeId::new)
        .map(|id| Node { id })
        .collect();
    let distances = (0..n)
        .map(|a| {
            (0..n)
                .map(|b| match (a == b, a / 4 == b / 4) {
                    (true, _) => 10,
                    (false, true) => 20,
                    (false, false) => 40,
                })
                .collect()
        })
        .collect();
    let rma_size = linux_rma_size(
        Some((PhysAddr::ZERO, spec.memory_per_node)),
        spec.hypervisor_mode,
        true,
        Mmu::Hash,
    )
    .map_err(|_| p("no RMA"))?;
    Ok(Topology {
        cpus,
        memory,
        nodes,
        distances,
        rma_size,
        hypervisor_mode: spec.hypervisor_mode,
    })
}
