//! A synthetic boot-like trace for benchmarks: per-CPU structures of a large NUMA
//! machine allocated the way ppc64 `setup_arch` allocates them, then the structures of
//! CPUs that turn out not to be possible freed again.
//!
//! Shape (defaults in [`BootTrace::default`]): 256 nodes of 1 GiB each, contiguous from
//! address 0; the kernel image reserved at the bottom; a real-mode area (RMA) of 16 GiB,
//! so that the first 16 nodes are inside it. For each of 8192 CPUs (32 per node, in node
//! order) four `memblock_alloc_try_nid` calls on the CPU's node: the paca (0x1000 bytes,
//! cache-line aligned), the lppaca (0x400, 0x400-aligned) and the SLB shadow (0x100,
//! 0x100-aligned), all three below the RMA limit so that CPUs of nodes outside the RMA
//! fall back to other nodes, and a 16 KiB THREAD_SIZE-aligned stack anywhere accessible
//! on the node. Then every fourth CPU (25 %) is "not possible" and its four blocks are
//! freed, punching holes that fragment the reserved array.

use alloc::vec::Vec;
use core::fmt;

use crate::{AllocLimit, Memblock, NodeId, PhysAddr, PhysSize, RegionFlags};

/// Parameters of the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootTrace {
    /// Number of CPUs.
    pub cpus: u32,
    /// Number of nodes (at most 256); CPUs are spread evenly in node order.
    pub nodes: u32,
    /// Memory per node in bytes.
    pub node_mem: u64,
    /// Real-mode area size: the limit of the paca, lppaca and SLB shadow allocations.
    pub rma_size: u64,
    /// Every `free_every`-th CPU (CPU numbers `k * free_every - 1`) is freed again.
    pub free_every: u32,
}

impl Default for BootTrace {
    fn default() -> Self {
        Self {
            cpus: 8192,
            nodes: 256,
            node_mem: 1 << 30,
            rma_size: 16 << 30,
            free_every: 4,
        }
    }
}

/// What a run of the trace did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Allocation calls made.
    pub allocs: u64,
    /// Allocation calls that failed.
    pub failed_allocs: u64,
    /// Free calls made.
    pub frees: u64,
    /// Memory regions at the end.
    pub memory_regions: usize,
    /// Reserved regions at the end.
    pub reserved_regions: usize,
    /// Capacity of the reserved array at the end (128 until it grew).
    pub reserved_capacity: usize,
}

impl TraceStats {
    /// Allocations plus frees: the operations the trace times.
    pub fn ops(&self) -> u64 {
        self.allocs.saturating_add(self.frees)
    }
}

/// The four per-CPU structures: size, alignment, whether limited to the RMA.
const PER_CPU: [(u64, u64, bool); 4] = [
    (0x1000, 0x80, true),
    (0x400, 0x400, true),
    (0x100, 0x100, true),
    (0x4000, 0x4000, false),
];

impl BootTrace {
    /// The memblock state when the per-CPU allocations start: every node's memory
    /// added, the kernel image (first 64 MiB) reserved.
    pub fn setup(&self) -> Memblock {
        let mut mb = Memblock::new();
        for n in 0..self.nodes.min(NodeId::MAX_NUMNODES) {
            let base = u64::from(n).saturating_mul(self.node_mem);
            // A failure cannot happen with at most 256 regions and growth allowed; if it
            // did, the trace would simply run on less memory.
            let _ = mb.add_node(
                PhysAddr::new(base),
                PhysSize::new(self.node_mem),
                NodeId::new(n),
                RegionFlags::NONE,
            );
        }
        let _ = mb.reserve(PhysAddr::ZERO, PhysSize::new(64 << 20));
        mb
    }

    fn node_of(&self, cpu: u32) -> Option<NodeId> {
        let per_node = self.cpus.div_ceil(self.nodes.max(1)).max(1);
        NodeId::new(cpu / per_node)
    }

    /// The largest [`BootTrace::cpus`] [`BootTrace::run`] accepts: 65536, eight times
    /// the largest `NR_CPUS` Linux 6.1 allows on ppc64 (and x86 with `MAXSMP`), 8192.
    pub const MAX_CPUS: u32 = 1 << 16;

    /// Runs the allocations and frees on `mb` (normally a fresh [`BootTrace::setup`]).
    ///
    /// Fails, before changing `mb`, if [`BootTrace::cpus`] is above
    /// [`BootTrace::MAX_CPUS`] or the heap cannot hold the addresses to free later.
    pub fn run(&self, mb: &mut Memblock) -> Result<TraceStats, TraceError> {
        if self.cpus > Self::MAX_CPUS {
            return Err(TraceError::TooManyCpus {
                cpus: self.cpus,
                max: Self::MAX_CPUS,
            });
        }
        let mut stats = TraceStats::default();
        let every = self.free_every.max(1);
        // Only the CPUs freed at the end need their blocks remembered.
        let mut blocks: Vec<[Option<PhysAddr>; 4]> = Vec::new();
        blocks
            .try_reserve_exact((self.cpus / every) as usize)
            .map_err(|_| TraceError::NoMemory)?;
        let rma = AllocLimit::Addr(PhysAddr::new(self.rma_size));
        for cpu in 0..self.cpus {
            let nid = self.node_of(cpu);
            let mut got = [None; 4];
            for (slot, &(size, align, in_rma)) in got.iter_mut().zip(PER_CPU.iter()) {
                let max = if in_rma { rma } else { AllocLimit::Accessible };
                stats.allocs += 1;
                match mb.alloc_try_nid(PhysSize::new(size), align, PhysAddr::ZERO, max, nid) {
                    Ok(a) => *slot = Some(a),
                    Err(_) => stats.failed_allocs += 1,
                }
            }
            if cpu % every == every - 1 {
                // Within the capacity reserved above: no reallocation.
                blocks.push(got);
            }
        }
        for got in &blocks {
            for (a, &(size, _, _)) in got.iter().zip(PER_CPU.iter()) {
                if let Some(a) = a {
                    stats.frees += 1;
                    let _ = mb.free(*a, PhysSize::new(size));
                }
            }
        }
        stats.memory_regions = mb.memory().len();
        stats.reserved_regions = mb.reserved().len();
        stats.reserved_capacity = mb.capacity(crate::ArrayKind::Reserved);
        Ok(stats)
    }
}

/// Why [`BootTrace::run`] refused to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceError {
    /// More CPUs than [`BootTrace::MAX_CPUS`].
    TooManyCpus {
        /// The number asked for.
        cpus: u32,
        /// The maximum.
        max: u32,
    },
    /// The heap refused the list of blocks to free.
    NoMemory,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyCpus { cpus, max } => {
                write!(f, "{cpus} CPUs is too many for the trace (at most {max})")
            }
            Self::NoMemory => f.write_str("not enough heap for the trace's list of blocks"),
        }
    }
}

impl core::error::Error for TraceError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_cpu_counts_are_refused_without_touching_memblock() {
        for cpus in [BootTrace::MAX_CPUS + 1, u32::MAX] {
            let trace = BootTrace {
                cpus,
                ..BootTrace::default()
            };
            let mut mb = trace.setup();
            let before = (mb.memory().to_vec(), mb.reserved().to_vec());
            assert_eq!(
                trace.run(&mut mb),
                Err(TraceError::TooManyCpus {
                    cpus,
                    max: BootTrace::MAX_CPUS
                })
            );
            assert_eq!((mb.memory().to_vec(), mb.reserved().to_vec()), before);
        }
    }

    #[test]
    fn small_trace_frees_every_fourth_cpu() {
        let trace = BootTrace {
            cpus: 64,
            nodes: 4,
            ..BootTrace::default()
        };
        let mut mb = trace.setup();
        let stats = trace.run(&mut mb).unwrap();
        assert_eq!(stats.allocs, 256);
        assert_eq!(stats.failed_allocs, 0);
        assert_eq!(stats.frees, 64);
        assert_eq!(stats.memory_regions, 4);
    }
}
