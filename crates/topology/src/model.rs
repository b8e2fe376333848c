//! The machine description every other crate consumes.

use alloc::vec::Vec;

use phys::{NodeId, PhysAddr, PhysSize};

/// What early boot needs to know about a machine: its CPUs and their nodes, its memory
/// and the node each range belongs to, node distances, and the real-mode limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Topology {
    /// Present CPUs (hardware threads), indexed by logical id: `cpus[i].logical_id == i`.
    pub cpus: Vec<Cpu>,
    /// Memory ranges, sorted by base, non-overlapping.
    pub memory: Vec<MemoryRange>,
    /// The nodes of the machine, sorted by id. From a device tree: Linux's online
    /// nodes (those of present CPUs, `memory` nodes and assigned LMBs), not nodes
    /// only named in associativity tables; from TOML: the nodes listed.
    pub nodes: Vec<Node>,
    /// Node distance matrix, `distances[a][b]` for node indices into `nodes`; Linux's
    /// `node_distance()` values (10 local; FORM0 20 remote; FORM1 doubling for each
    /// reference point at which the nodes differ: 20, 40, 80, 160; FORM2 from firmware).
    pub distances: Vec<Vec<u32>>,
    /// Size of the real-mode area (RMA) that starts at address 0; Linux's
    /// `ppc64_rma_size`. Structures accessed in real mode must lie below it.
    /// [`PhysSize::MAX`] means unlimited (hypervisor mode or radix: `ULONG_MAX`).
    pub rma_size: PhysSize,
    /// Whether the partition runs in hypervisor mode (a bare-metal/PowerNV host, not an
    /// LPAR): then no lppaca or SLB shadow is registered with anyone.
    pub hypervisor_mode: bool,
}

/// One hardware thread as Linux numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cpu {
    /// Linux's logical CPU number: threads numbered in device-tree order of the CPU
    /// nodes, as Linux 6.1's `smp_setup_cpu_maps` does (the boot CPU keeps its
    /// position; on QEMU and PowerVM it is the first).
    pub logical_id: u32,
    /// Hardware thread id (`ibm,ppc-interrupt-server#s` entry), the `proc_no` of hcalls.
    pub hw_id: u32,
    /// The node `ibm,associativity` gives, or `None` (NUMA_NO_NODE) when it is missing
    /// or invalid. Linux then places the CPU on the first online node
    /// (`numa_setup_cpu`); [`Topology::cpu_node`] applies that fallback.
    pub node: Option<NodeId>,
}

/// A range of memory and its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MemoryRange {
    /// First byte.
    pub base: PhysAddr,
    /// Length in bytes (never zero).
    pub size: PhysSize,
    /// The node Linux assigns, or `None` when associativity is missing or invalid.
    pub node: Option<NodeId>,
}

/// One NUMA node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// Linux's node id.
    pub id: NodeId,
}

impl Topology {
    /// The real-mode limit: the first address above the RMA.
    pub fn rma_limit(&self) -> PhysAddr {
        PhysAddr::ZERO.saturating_add(self.rma_size)
    }

    /// The real-mode limit as a [`phys::Limit`]: [`phys::Limit::Anywhere`] when the RMA
    /// is unlimited (hypervisor mode, [`PhysSize::MAX`]).
    pub fn real_mode_limit(&self) -> phys::Limit {
        phys::Limit::above_zero(self.rma_size)
    }

    /// Linux's `first_online_node` once NUMA properties are parsed: the lowest node
    /// with CPUs or memory. (Linux also counts a node that only a `memory` node without
    /// memory of its own brought online, such as a disabled one; such a node is in
    /// [`Topology::nodes`] but not counted here.)
    pub fn first_online_node(&self) -> Option<NodeId> {
        let cpus = self.cpus.iter().filter_map(|c| c.node);
        let mem = self.memory.iter().filter_map(|m| m.node);
        cpus.chain(mem).min()
    }

    /// The node Linux's `numa_setup_cpu` gives logical CPU `logical_id`: its own node,
    /// or the first online node when it has none. `None` if there is no such CPU (or no
    /// node at all).
    pub fn cpu_node(&self, logical_id: u32) -> Option<NodeId> {
        let cpu = self.cpus.get(logical_id as usize)?;
        cpu.node.or_else(|| self.first_online_node())
    }

    /// The index of node `id` in [`Topology::nodes`] (and in the distance matrix).
    pub fn node_index(&self, id: NodeId) -> Option<usize> {
        self.nodes.binary_search_by_key(&id, |n| n.id).ok()
    }

    /// `node_distance(a, b)`, or `None` if either node is unknown.
    pub fn distance(&self, a: NodeId, b: NodeId) -> Option<u32> {
        let (i, j) = (self.node_index(a)?, self.node_index(b)?);
        self.distances.get(i)?.get(j).copied()
    }

    /// Logical CPUs on node `id` (by their own node, without the fallback).
    pub fn cpus_on(&self, id: NodeId) -> impl Iterator<Item = &Cpu> + '_ {
        self.cpus.iter().filter(move |c| c.node == Some(id))
    }

    /// Memory ranges on node `id`.
    pub fn memory_on(&self, id: NodeId) -> impl Iterator<Item = &MemoryRange> + '_ {
        self.memory.iter().filter(move |m| m.node == Some(id))
    }

    /// Bytes of memory on node `id`.
    pub fn memory_size_on(&self, id: NodeId) -> PhysSize {
        self.memory_on(id)
            .fold(PhysSize::ZERO, |acc, m| acc.saturating_add(m.size))
    }
}
