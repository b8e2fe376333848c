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

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

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

    /// The largest [`BootTrace::cpus`] [`BootTrace::run`] and [`BootTrace::script`]
    /// accept: 262144, 32 times the largest `NR_CPUS` Linux 6.1 allows on ppc64 (and x86
    /// with `MAXSMP`), 8192. Five operations per CPU, so this reaches the 1 M-operation
    /// scripts of the whole-process benchmarks (200 000 CPUs).
    pub const MAX_CPUS: u32 = 1 << 18;

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

impl BootTrace {
    /// The trace as a replay script (the `numaboot memblock replay` language): the
    /// setup of [`BootTrace::setup`], then every call [`BootTrace::run`] makes, the
    /// frees with the addresses the allocations returned. Replaying it prints one
    /// `alloc -> ...` line per allocation and the final state.
    pub fn script(&self) -> Result<String, TraceError> {
        if self.cpus > Self::MAX_CPUS {
            return Err(TraceError::TooManyCpus {
                cpus: self.cpus,
                max: Self::MAX_CPUS,
            });
        }
        let mut s = String::new();
        let mut mb = Memblock::new();
        for n in 0..self.nodes.min(NodeId::MAX_NUMNODES) {
            let base = u64::from(n).saturating_mul(self.node_mem);
            let _ = writeln!(s, "add {base:#x} {:#x} {n}", self.node_mem);
            let _ = mb.add_node(
                PhysAddr::new(base),
                PhysSize::new(self.node_mem),
                NodeId::new(n),
                RegionFlags::NONE,
            );
        }
        let _ = writeln!(s, "reserve 0x0 {:#x}", 64u64 << 20);
        let _ = mb.reserve(PhysAddr::ZERO, PhysSize::new(64 << 20));
        let every = self.free_every.max(1);
        let mut frees = Vec::new();
        let rma = AllocLimit::Addr(PhysAddr::new(self.rma_size));
        for cpu in 0..self.cpus {
            let nid = self.node_of(cpu);
            let nid_text = nid.map_or(-1, |n| i64::from(n.get()));
            for &(size, align, in_rma) in &PER_CPU {
                let max = if in_rma { rma } else { AllocLimit::Accessible };
                let max_text: &dyn fmt::Display = match &max {
                    AllocLimit::Addr(a) => a,
                    _ => &"accessible",
                };
                let _ = writeln!(
                    s,
                    "alloc_try_nid {size:#x} {align:#x} 0x0 {max_text} {nid_text}"
                );
                let got = mb.alloc_try_nid(PhysSize::new(size), align, PhysAddr::ZERO, max, nid);
                if let (Ok(a), true) = (got, cpu % every == every - 1) {
                    frees.try_reserve(1).map_err(|_| TraceError::NoMemory)?;
                    frees.push((a, size));
                }
            }
        }
        for (a, size) in frees {
            let _ = writeln!(s, "free {a} {size:#x}");
        }
        Ok(s)
    }
}

/// A reproducible random replay script of `ops` operations: memory on 4 nodes over
/// 256 MiB added up front, then memory additions, removals, hotplug and node changes in
/// 4 MiB blocks, small reservations (256 B to 16 KiB), frees (mostly of earlier
/// allocations, one operation in 32 of a random range of 4 KiB to 256 KiB, so that
/// memory does not fill up), limits (none, or at least the middle of the 256 MiB),
/// direction switches and allocations of every kind (128 B to 8 KiB in 128-byte steps)
/// on a 4 KiB grid, so that ranges overlap, merge and split. For benchmarks.
pub fn random_script(seed: u64, ops: usize) -> String {
    const UNIT: u64 = 0x1000;
    const SPAN: u64 = 0x1_0000; // units: 256 MiB
    let mut rng = Rng::new(seed);
    let mut script = Script::default();
    for n in 0..4u64 {
        let (base, size) = (n * (SPAN / 4) * UNIT, (SPAN / 4) * UNIT);
        script.line(format_args!("add {base:#x} {size:#x} {n}"), None);
    }
    for _ in 0..ops {
        let r = rng.next_u64();
        let a = rng.below(SPAN) * UNIT;
        let z = (1 + rng.below(64)) * UNIT;
        // Memory changes on a 4 MiB grid: firmware describes memory in big blocks, and
        // the memory array stays short (at most 64 regions).
        let (ma, mz) = (rng.below(64) << 22, (1 + rng.below(4)) << 22);
        let nid = rng.below(5);
        let size = 0x80 * (1 + rng.below(64));
        // Node 4 stands for NUMA_NO_NODE.
        let nid_text: &dyn fmt::Display = if nid == 4 { &"-1" } else { &nid };
        match r % 32 {
            0..=1 => script.line(format_args!("add {ma:#x} {mz:#x} {}", nid % 4), None),
            2..=4 => script.line(format_args!("reserve {a:#x} {:#x}", z / 16), None),
            5 => script.line(format_args!("free {a:#x} {z:#x}"), None),
            6 => script.line(format_args!("remove {ma:#x} {:#x}", mz / 4), None),
            7..=13 => match script.allocated.len() {
                0 => script.line(format_args!("free {a:#x} {z:#x}"), None),
                len => {
                    let i = rng.below(len as u64) as usize;
                    let (b, bsize) = script.allocated.swap_remove(i);
                    script.line(format_args!("free {b:#x} {bsize:#x}"), None)
                }
            },
            14 => script.line(format_args!("hotplug {ma:#x} {mz:#x}"), None),
            15 => script.line(format_args!("clear_hotplug {ma:#x} {mz:#x}"), None),
            16 => script.line(format_args!("set_node {ma:#x} {mz:#x} {}", nid % 4), None),
            17 => script.line(format_args!("bottom_up {}", rng.below(2)), None),
            18 => {
                let limit = if rng.below(2) == 0 {
                    u64::MAX
                } else {
                    a.max(SPAN * UNIT / 2)
                };
                script.line(format_args!("limit {limit:#x}"), None)
            }
            19..=25 => {
                let align = rng.pick(&[0x80u64, 0x100, 0x1000, 0x10000]);
                let exact = rng.below(2);
                script.line(
                    format_args!("alloc {size:#x} {align:#x} 0x0 anywhere {nid_text} {exact}"),
                    Some(size),
                )
            }
            _ => {
                let align = rng.pick(&[0x80u64, 0x400, 0x4000]);
                script.line(
                    format_args!("alloc_try_nid {size:#x} {align:#x} 0x0 accessible {nid_text}"),
                    Some(size),
                )
            }
        }
    }
    script.text
}

/// SplitMix64 (Vigna's `splitmix64.c`), the generator of every random script here and
/// in the tests: a seed names one script forever.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The generator seeded with `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One of `xs` (an empty array does not compile).
    pub fn pick<T: Copy, const N: usize>(&mut self, xs: &[T; N]) -> T {
        const { assert!(N > 0, "pick from an empty array") };
        xs[self.below(N as u64) as usize]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A script being written, replayed as it grows so that frees can name what earlier
/// allocations returned.
#[derive(Default)]
struct Script {
    text: String,
    mb: Memblock,
    line: String,
    out: String,
    allocated: Vec<(u64, u64)>,
}

impl Script {
    /// Appends one line; `alloc_size` is the size when it is an allocation.
    fn line(&mut self, args: fmt::Arguments<'_>, alloc_size: Option<u64>) {
        self.line.clear();
        let _ = self.line.write_fmt(args);
        self.out.clear();
        if let Ok(Some(op)) = crate::replay::parse_line(&self.line) {
            let _ = crate::replay::apply(&mut self.mb, &op, &mut self.out);
        }
        if let (Some(size), Some(hex)) =
            (alloc_size, self.out.trim_end().strip_prefix("alloc -> 0x"))
        {
            if let (Ok(base), Ok(())) = (
                u64::from_str_radix(hex, 16),
                self.allocated.try_reserve(1).map_err(|_| ()),
            ) {
                self.allocated.push((base, size));
            }
        }
        self.text.push_str(&self.line);
        self.text.push('\n');
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

    /// "A seed names one script forever" holds only if the generator is SplitMix64 as
    /// published: its first outputs for seed 0 (Vigna's reference `splitmix64.c`).
    #[test]
    fn rng_is_splitmix64() {
        let mut rng = Rng::new(0);
        let first: [u64; 3] = core::array::from_fn(|_| rng.next_u64());
        assert_eq!(
            first,
            [
                0xe220_a839_7b1d_cdaf,
                0x6e78_9e6a_a1b9_65f4,
                0x06c4_5d18_8009_454f
            ]
        );
    }

    /// The random script starts with 256 MiB of memory on four nodes, one contiguous
    /// quarter each, so that its 4 KiB-grid operations land on every node.
    #[test]
    fn random_script_starts_with_four_adjacent_nodes() {
        let script = random_script(1, 10);
        let adds: Vec<&str> = script.lines().take(4).collect();
        assert_eq!(
            adds,
            [
                "add 0x0 0x4000000 0",
                "add 0x4000000 0x4000000 1",
                "add 0x8000000 0x4000000 2",
                "add 0xc000000 0x4000000 3"
            ]
        );
    }

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
    fn script_replays_to_the_state_run_leaves() {
        let trace = BootTrace {
            cpus: 256,
            nodes: 8,
            ..BootTrace::default()
        };
        let mut mb = trace.setup();
        trace.run(&mut mb).unwrap();
        let out = crate::replay::run(&trace.script().unwrap()).unwrap();
        let dump = out.find("memory:").unwrap();
        assert_eq!(&out[dump..], alloc::format!("{mb}"));
        assert_eq!(out.matches("alloc -> 0x").count(), 256 * 4);
    }

    #[test]
    fn random_script_is_reproducible_and_well_formed() {
        let a = random_script(7, 3000);
        assert_eq!(a, random_script(7, 3000));
        assert_ne!(a, random_script(8, 3000));
        assert_eq!(a.lines().count(), 3004);
        let out = crate::replay::run(&a).unwrap();
        // Frees name earlier allocations, and allocations succeed.
        assert!(out.matches("alloc -> 0x").count() > 1000, "{out}");
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
