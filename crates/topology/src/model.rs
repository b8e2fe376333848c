//! The machine description every other crate consumes.

use alloc::vec::Vec;

use phys::{NodeId, PhysAddr, PhysSize};

/// What early boot needs to know about a machine: its CPUs and their nodes, its memory
/// and the node each range belongs to, node distances, and the real-mode limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// Present CPUs (hardware threads), indexed by logical id: `cpus[i].logical_id == i`.
    pub cpus: Vec<Cpu>,
    /// Memory ranges, sorted by base, non-overlapping.
    pub memory: Vec<MemoryRange>,
    /// Every node that has CPUs or memory, or appears in the associativity tables,
    /// sorted by id.
    pub nodes: Vec<Node>,
    /// Node distance matrix, `distances[a][b]` for node indices into `nodes`; Linux's
    /// `node_distance()` values (10 local, 20 per associativity level away in FORM1).
    pub distances: Vec<Vec<u32>>,
    /// Size of the real-mode area (RMA) that starts at address 0; Linux's
    /// `ppc64_rma_size`. Structures accessed in real mode must lie below it.
    pub rma_size: PhysSize,
    /// Whether the partition runs in hypervisor mode (a bare-metal/PowerNV host, not an
    /// LPAR): then no lppaca or SLB shadow is registered with anyone.
    pub hypervisor_mode: bool,
}

/// One hardware thread as Linux numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// Linux's logical CPU number (order of discovery, boot CPU first as pSeries does).
    pub logical_id: u32,
    /// Hardware thread id (`ibm,ppc-interrupt-server#s` entry), the `proc_no` of hcalls.
    pub hw_id: u32,
    /// The node Linux assigns, or `None` (NUMA_NO_NODE) when associativity is missing or
    /// invalid.
    pub node: Option<NodeId>,
}

/// A range of memory and its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRange {
    /// First byte.
    pub base: PhysAddr,
    /// Length in bytes (never zero).
    pub size: PhysSize,
    /// The node Linux assigns, or `None` when associativity is missing or invalid.
    pub node: Option<NodeId>,
}

/// One NUMA node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// Linux's node id.
    pub id: NodeId,
}

impl Topology {
    /// The real-mode limit: the first address above the RMA.
    pub fn rma_limit(&self) -> PhysAddr {
        PhysAddr::ZERO.saturating_add(self.rma_size)
    }
}
