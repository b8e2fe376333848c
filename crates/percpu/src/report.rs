//! The [`Placement`] report: where every structure went and what it cost per node.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use phys::{NodeId, PhysAddr, PhysSize};

use crate::config::{Limit, Strategy};
use crate::mem::MemOp;

/// The kinds of structure a plan places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum StructureKind {
    /// `paca_ptrs`, the array of paca pointers (Linux61).
    PacaPtrs,
    /// `cpu_to_phys_id`, the temporary logical-to-hardware id table (Linux61).
    CpuToPhysId,
    /// A CPU's `struct paca_struct`.
    Paca,
    /// A CPU's `struct lppaca` (the VPA registered with the hypervisor).
    Lppaca,
    /// A CPU's `struct slb_shadow`.
    SlbShadow,
    /// A CPU's soft-IRQ stack (`softirq_ctx`).
    SoftirqStack,
    /// A CPU's hard-IRQ stack (`hardirq_ctx`).
    HardirqStack,
    /// A CPU's emergency stack (`paca->emergency_sp`).
    EmergencyStack,
    /// A CPU's system-reset (NMI) emergency stack (`paca->nmi_emergency_sp`).
    NmiEmergencyStack,
    /// A CPU's machine-check emergency stack (`paca->mc_emergency_sp`).
    McEmergencyStack,
    /// A page of the radix linear mapping's page tables (PUD, PMD or PTE level).
    PageTable,
    /// The radix process table (`process_tb`, `1 << PRTB_SIZE_SHIFT` bytes aligned to its
    /// size), allocated by `radix_init_pgtable` after the linear mapping.
    ProcessTable,
    /// The hypervisor's radix partition table (`mmu_partition_table_init`, hypervisor
    /// mode only).
    PartitionTable,
    /// The unflattened device tree (`unflatten_device_tree`) or one of
    /// `of_alias_scan`'s alias records, allocated in `setup_arch`, or the copy
    /// `move_device_tree` makes of the flattened tree.
    DeviceTree,
    /// RTAS's user buffer (`rtas_initialize`: 64 KiB below `min(RMA, 1 GiB)`).
    RtasBuffer,
    /// Linux 6.12's RTAS work-area arena (`rtas_work_area_reserve_arena`: 256 KiB below
    /// the same limit).
    RtasWorkArea,
    /// A hash kernel's `linear_map_hash_slots` (KFENCE or `debug_pagealloc`: a byte per
    /// page of memory, below the RMA).
    LinearMapHashSlots,
    /// Linux 4.15's array of every CPU's paca.
    PacaArray,
    /// Linux 4.15's array of the lppacas of CPUs 1 and up.
    LppacaArray,
    /// Linux 4.15's array of every CPU's SLB shadow.
    SlbShadowArray,
    /// A 4 KiB page holding up to six 640-byte lppacas of one node's CPUs
    /// ([`crate::Strategy::PackedVpa`], [`crate::Strategy::RmaSplit`]).
    LppacaPage,
    /// One block holding the lppaca, paca and SLB shadow of one CPU
    /// ([`crate::Strategy::PerCpuBlock`], and every strategy's boot CPU that uses
    /// blocks) or of every CPU of a node ([`crate::Strategy::PerNodeBlock`]).
    PacaBlock,
}

impl StructureKind {
    /// Linux's name for the structure.
    pub const fn name(self) -> &'static str {
        match self {
            Self::PacaPtrs => "paca_ptrs",
            Self::CpuToPhysId => "cpu_to_phys_id",
            Self::Paca => "paca",
            Self::Lppaca => "lppaca",
            Self::SlbShadow => "slb_shadow",
            Self::SoftirqStack => "softirq stack",
            Self::HardirqStack => "hardirq stack",
            Self::EmergencyStack => "emergency stack",
            Self::NmiEmergencyStack => "NMI emergency stack",
            Self::McEmergencyStack => "machine-check emergency stack",
            Self::PageTable => "radix page table",
            Self::ProcessTable => "radix process table",
            Self::PartitionTable => "radix partition table",
            Self::DeviceTree => "device tree",
            Self::RtasBuffer => "RTAS buffer",
            Self::RtasWorkArea => "RTAS work-area arena",
            Self::LinearMapHashSlots => "linear map hash slots",
            Self::PacaArray => "paca array",
            Self::LppacaArray => "lppaca array",
            Self::SlbShadowArray => "slb_shadow array",
            Self::LppacaPage => "lppaca page",
            Self::PacaBlock => "paca data block",
        }
    }

    /// The machine-readable name (JSON `kind`, `snake_case`).
    pub const fn key(self) -> &'static str {
        match self {
            Self::PacaPtrs => "paca_ptrs",
            Self::CpuToPhysId => "cpu_to_phys_id",
            Self::Paca => "paca",
            Self::Lppaca => "lppaca",
            Self::SlbShadow => "slb_shadow",
            Self::SoftirqStack => "softirq_stack",
            Self::HardirqStack => "hardirq_stack",
            Self::EmergencyStack => "emergency_stack",
            Self::NmiEmergencyStack => "nmi_emergency_stack",
            Self::McEmergencyStack => "mc_emergency_stack",
            Self::PageTable => "page_table",
            Self::ProcessTable => "process_table",
            Self::PartitionTable => "partition_table",
            Self::DeviceTree => "device_tree",
            Self::RtasBuffer => "rtas_buffer",
            Self::RtasWorkArea => "rtas_work_area",
            Self::LinearMapHashSlots => "linear_map_hash_slots",
            Self::PacaArray => "paca_array",
            Self::LppacaArray => "lppaca_array",
            Self::SlbShadowArray => "slb_shadow_array",
            Self::LppacaPage => "lppaca_page",
            Self::PacaBlock => "paca_block",
        }
    }

    /// The column header of a per-CPU kind in a one-row-per-CPU table, short enough to
    /// keep eight columns readable (`softirq`, `nmi`, `mce`); a shared kind's header is its
    /// [`StructureKind::key`].
    pub const fn column(self) -> &'static str {
        match self {
            Self::Paca => "paca",
            Self::Lppaca => "lppaca",
            Self::SlbShadow => "slb_shadow",
            Self::SoftirqStack => "softirq",
            Self::HardirqStack => "hardirq",
            Self::EmergencyStack => "emergency",
            Self::NmiEmergencyStack => "nmi",
            Self::McEmergencyStack => "mce",
            Self::PacaPtrs
            | Self::CpuToPhysId
            | Self::PageTable
            | Self::ProcessTable
            | Self::PartitionTable
            | Self::DeviceTree
            | Self::RtasBuffer
            | Self::RtasWorkArea
            | Self::LinearMapHashSlots
            | Self::PacaArray
            | Self::LppacaArray
            | Self::SlbShadowArray
            | Self::LppacaPage
            | Self::PacaBlock => self.key(),
        }
    }

    /// The limit Linux keeps the structure below because it accesses it with
    /// translation off, `None` for a structure only touched with the MMU on.
    ///
    /// The paca, lppaca and SLB shadow (and the arrays holding them) and `paca_ptrs` (a
    /// secondary CPU finds its paca through it with the MMU off:
    /// `generic_secondary_common_init`) are bounded by the plan's paca limit; the
    /// emergency, NMI and machine-check stacks by `emergency_stack_init`'s own limit
    /// (see [`RealModeBound`]). Strategies beyond Linux may move the lppaca out of real
    /// mode ([`crate::Strategy::keeps_in_real_mode`]); lppaca pages and paca blocks are
    /// judged by the slots they hold, so they have no bound of their own.
    pub const fn real_mode_bound(self) -> Option<RealModeBound> {
        match self {
            Self::PacaPtrs
            | Self::Paca
            | Self::Lppaca
            | Self::SlbShadow
            | Self::PacaArray
            | Self::LppacaArray
            | Self::SlbShadowArray => Some(RealModeBound::PacaLimit),
            Self::EmergencyStack | Self::NmiEmergencyStack | Self::McEmergencyStack => {
                Some(RealModeBound::EmergencyStackLimit)
            }
            Self::CpuToPhysId
            | Self::SoftirqStack
            | Self::HardirqStack
            | Self::PageTable
            | Self::ProcessTable
            | Self::PartitionTable
            | Self::DeviceTree
            | Self::RtasBuffer
            | Self::RtasWorkArea
            | Self::LinearMapHashSlots
            | Self::LppacaPage
            | Self::PacaBlock => None,
        }
    }

    /// Whether Linux accesses the structure with translation off, so a hash guest keeps
    /// it below the RMA: [`StructureKind::real_mode_bound`] is some limit.
    pub const fn is_real_mode(self) -> bool {
        self.real_mode_bound().is_some()
    }

    /// Whether this is a block that holds other structures as slots (a Linux 4.15 array,
    /// an lppaca page, a paca data block): its bytes are counted through its slots.
    pub const fn is_container(self) -> bool {
        match self {
            Self::PacaArray
            | Self::LppacaArray
            | Self::SlbShadowArray
            | Self::LppacaPage
            | Self::PacaBlock => true,
            Self::PacaPtrs
            | Self::CpuToPhysId
            | Self::Paca
            | Self::Lppaca
            | Self::SlbShadow
            | Self::SoftirqStack
            | Self::HardirqStack
            | Self::EmergencyStack
            | Self::NmiEmergencyStack
            | Self::McEmergencyStack
            | Self::PageTable
            | Self::ProcessTable
            | Self::PartitionTable
            | Self::DeviceTree
            | Self::RtasBuffer
            | Self::RtasWorkArea
            | Self::LinearMapHashSlots => false,
        }
    }

    /// The kinds that belong to a single CPU, in kind order: a CPU has at most one
    /// live structure of each.
    pub const PER_CPU: [Self; 8] = [
        Self::Paca,
        Self::Lppaca,
        Self::SlbShadow,
        Self::SoftirqStack,
        Self::HardirqStack,
        Self::EmergencyStack,
        Self::NmiEmergencyStack,
        Self::McEmergencyStack,
    ];

    /// Whether one of these belongs to a single CPU (the others are shared: tables,
    /// arrays, blocks and pages holding several CPUs' structures).
    pub const fn is_per_cpu(self) -> bool {
        self.per_cpu_index().is_some()
    }

    /// The kind's position in [`StructureKind::PER_CPU`], for a per-CPU kind: a slot
    /// per kind in tables indexed by CPU.
    pub const fn per_cpu_index(self) -> Option<usize> {
        match self {
            Self::Paca => Some(0),
            Self::Lppaca => Some(1),
            Self::SlbShadow => Some(2),
            Self::SoftirqStack => Some(3),
            Self::HardirqStack => Some(4),
            Self::EmergencyStack => Some(5),
            Self::NmiEmergencyStack => Some(6),
            Self::McEmergencyStack => Some(7),
            Self::PacaPtrs
            | Self::CpuToPhysId
            | Self::PageTable
            | Self::ProcessTable
            | Self::PartitionTable
            | Self::DeviceTree
            | Self::RtasBuffer
            | Self::RtasWorkArea
            | Self::LinearMapHashSlots
            | Self::PacaArray
            | Self::LppacaArray
            | Self::SlbShadowArray
            | Self::LppacaPage
            | Self::PacaBlock => None,
        }
    }

    /// The family the kind belongs to, which pictures colour alike: a paca and the
    /// arrays and blocks holding pacas are all paca data.
    pub const fn family(self) -> Family {
        match self {
            Self::Paca | Self::PacaArray | Self::PacaBlock => Family::Paca,
            Self::Lppaca | Self::LppacaArray | Self::LppacaPage => Family::Lppaca,
            Self::SlbShadow | Self::SlbShadowArray => Family::SlbShadow,
            Self::SoftirqStack
            | Self::HardirqStack
            | Self::EmergencyStack
            | Self::NmiEmergencyStack
            | Self::McEmergencyStack => Family::Stack,
            Self::PacaPtrs
            | Self::CpuToPhysId
            | Self::PageTable
            | Self::ProcessTable
            | Self::PartitionTable
            | Self::DeviceTree
            | Self::RtasBuffer
            | Self::RtasWorkArea
            | Self::LinearMapHashSlots => Family::Shared,
        }
    }
}

/// Which limit keeps a real-mode structure reachable with translation off
/// ([`StructureKind::real_mode_bound`]). The two differ under Linux 4.15, whose pacas
/// stay below `min(256 MiB, ppc64_rma_size)` while its emergency stacks only need to
/// be below the RMA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RealModeBound {
    /// The limit the plan allocated the paca data below, [`Placement::paca_limit`].
    PacaLimit,
    /// The limit `emergency_stack_init` computes for the emergency stacks (Linux 6.1:
    /// `min(ppc64_bolted_size(), ppc64_rma_size)`; the machine-check stack also below
    /// 4 GiB on pseries).
    EmergencyStackLimit,
}

/// Groups of structure kinds that belong together ([`StructureKind::family`]), in the
/// order a legend lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Family {
    /// Pacas, and the arrays and blocks holding them.
    Paca,
    /// Lppacas, and the arrays and pages holding them.
    Lppaca,
    /// SLB shadows, and the arrays holding them.
    SlbShadow,
    /// Every per-CPU stack.
    Stack,
    /// Tables and areas of no single CPU (pointer arrays, page tables, the device tree,
    /// RTAS areas).
    Shared,
}

impl Family {
    /// Every family, in legend order.
    pub const ALL: [Family; 5] = [
        Family::Paca,
        Family::Lppaca,
        Family::SlbShadow,
        Family::Stack,
        Family::Shared,
    ];

    /// The family's position in [`Family::ALL`], for per-family counters.
    pub const fn index(self) -> usize {
        match self {
            Self::Paca => 0,
            Self::Lppaca => 1,
            Self::SlbShadow => 2,
            Self::Stack => 3,
            Self::Shared => 4,
        }
    }

    /// Whether the family is paca data, what Linux allocates with `alloc_paca_data`
    /// for each CPU (its paca, lppaca and SLB shadow), together with the arrays, pages
    /// and blocks other sequences hold them in.
    pub const fn is_paca_data(self) -> bool {
        match self {
            Self::Paca | Self::Lppaca | Self::SlbShadow => true,
            Self::Stack | Self::Shared => false,
        }
    }

    /// What a legend calls the family.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Paca => "paca",
            Self::Lppaca => "lppaca",
            Self::SlbShadow => "slb_shadow",
            Self::Stack => "stacks",
            Self::Shared => "shared / page tables",
        }
    }
}

impl fmt::Display for StructureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why memblock placed a node-requested structure on another node. memblock itself
/// only knows "the node had no fitting free range"; the reason is read from the
/// topology, so it is what a maintainer would check first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FallbackReason {
    /// The node has no memory at all (memoryless node).
    NodeHasNoMemory,
    /// All of the node's memory lies at or above the allocation limit (typically the
    /// RMA of a hash guest, which sits on the first node).
    NodeMemoryAboveLimit,
    /// The node has memory below the limit, but no free range there was big enough.
    NodeFullBelowLimit,
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NodeHasNoMemory => "the node has no memory",
            Self::NodeMemoryAboveLimit => "all of the node's memory is above the limit",
            Self::NodeFullBelowLimit => "the node's memory below the limit is full",
        })
    }
}

/// Why Linux did not ask memblock for a node at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum NoNodeReason {
    /// The boot CPU's paca data is allocated in `early_setup`, before `cpu_to_node`
    /// exists: `alloc_paca_data` passes `NUMA_NO_NODE` and allocates bottom-up, assuming
    /// the boot CPU sits on the node of the lowest memory.
    BootCpuBeforeNuma,
    /// A shared array (`paca_ptrs`, `cpu_to_phys_id`, or a Linux 4.15 array).
    SharedArray,
    /// Linux 4.15 allocated with `memblock_alloc_base`, which has no node argument.
    PreSeries,
    /// Radix page tables are allocated inside the memory range they map
    /// (`early_alloc_pgtable` with region bounds and `NUMA_NO_NODE`), since nodes are not
    /// known yet in `early_init_mmu`.
    RegionBounded,
}

impl fmt::Display for NoNodeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BootCpuBeforeNuma => "boot CPU: allocated bottom-up before NUMA is known",
            Self::SharedArray => "shared array",
            Self::PreSeries => "Linux 4.15 memblock_alloc_base has no node",
            Self::RegionBounded => "bounded to the mapped memory range",
        })
    }
}

/// How the node of a structure's memory came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Outcome {
    /// Linux asked for a node and got memory on it.
    Local,
    /// Linux asked for a node and memblock fell back to another node.
    Fallback(FallbackReason),
    /// Linux asked for no node; [`Allocation::is_local`] tells whether it landed on the
    /// home node anyway.
    NoNodeRequested(NoNodeReason),
}

impl Outcome {
    /// Whether Linux asked for a node and memblock gave another.
    pub const fn is_fallback(self) -> bool {
        match self {
            Self::Fallback(_) => true,
            Self::Local | Self::NoNodeRequested(_) => false,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Fallback(r) => write!(f, "fallback: {r}"),
            Self::NoNodeRequested(r) => write!(f, "no node requested: {r}"),
        }
    }
}

/// One structure and where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Allocation {
    /// What it is.
    pub kind: StructureKind,
    /// Its CPU, for per-CPU structures.
    pub cpu: Option<u32>,
    /// Its physical address.
    pub addr: PhysAddr,
    /// The bytes the structure itself occupies (`sizeof`, or 640 for an lppaca).
    pub size: PhysSize,
    /// The bytes reserved in memblock for it (1 KiB for an lppaca; for a structure that
    /// lives inside a Linux 4.15 array, its slot; the array is its own [`Allocation`]).
    pub reserved: PhysSize,
    /// The alignment Linux asked for.
    pub align: u64,
    /// The node Linux asked memblock for (`None`: `NUMA_NO_NODE`).
    pub requested_node: Option<NodeId>,
    /// The node the structure should be on: for a per-CPU structure its CPU's node as
    /// Linux maps it, [`crate::early_cpu_to_node`] (a present CPU without a valid node
    /// gets `first_online_node`, a possible CPU that is not present node 0); for a page
    /// table the node of the memory it maps; `None` for shared arrays.
    pub home_node: Option<NodeId>,
    /// The node of the memory it got, from the topology.
    pub memory_node: Option<NodeId>,
    /// Local, fallback (and why), or no node requested (and why).
    pub outcome: Outcome,
    /// Whether the structure is a slot inside a shared array rather than its own
    /// memblock allocation.
    pub in_array: bool,
    /// Whether Linux gave it back to memblock later in the sequence.
    pub freed: bool,
}

impl Allocation {
    /// Whether the memory is on the home node. Where Linux asked for a node it asked
    /// for the home node, so this agrees with [`Outcome::Local`] /
    /// [`Outcome::Fallback`]; for [`Outcome::NoNodeRequested`] it tells whether the
    /// structure landed on its home node anyway.
    pub fn is_local(&self) -> bool {
        self.home_node.is_some() && self.home_node == self.memory_node
    }

    /// One past the last byte of the structure.
    pub fn end(&self) -> PhysAddr {
        self.addr.saturating_add(self.size)
    }
}

/// Something in Linux's sequence that a maintainer should know about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Finding {
    /// Bytes Linux reserved and never frees nor uses (6.1: `smp_setup_pacas` frees
    /// `cpu_to_phys_id` with the shrunk `nr_cpu_ids`, leaking the tail).
    Leak {
        /// The structure.
        kind: StructureKind,
        /// First leaked byte.
        addr: PhysAddr,
        /// Leaked bytes.
        size: PhysSize,
    },
    /// Linux 4.15's `free_lppacas` sizes the kept part by `num_possible_cpus()`, so with a
    /// sparse possible mask it frees lppacas of CPUs that are still possible.
    FreedWhileInUse {
        /// The structure.
        kind: StructureKind,
        /// Its CPU.
        cpu: u32,
        /// Its address.
        addr: PhysAddr,
    },
    /// Possible CPUs at or above `nr_cpu_ids` that `smp_setup_cpu_maps` ignored.
    CpusCapped {
        /// How many.
        count: u32,
    },
}

/// Totals of one node (or of memory without a node).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeTotals {
    /// The node (`None`: memory the topology assigns to no node).
    pub node: Option<NodeId>,
    /// Bytes of structures that are live at the end of the plan.
    pub used: u64,
    /// Bytes reserved for live structures but not part of them: lppaca padding to 1 KiB,
    /// unused array slots and page-alignment tails of arrays, leaks.
    pub padding: u64,
    /// Free bytes stranded between the plan's own allocations by alignment: free holes
    /// smaller than a page whose both neighbours are plan allocations.
    pub alignment_gaps: u64,
    /// Live memblock allocations the plan made on this node.
    pub allocations: u64,
    /// Regions of memblock's `reserved` array on this node that contain plan memory
    /// (adjacent allocations merge, so this is at most `allocations`).
    pub reserved_regions: u64,
    /// Live per-CPU structures on this node whose home is another node.
    pub remote_structures: u64,
}

impl NodeTotals {
    /// `padding + alignment_gaps`: bytes lost to alignment and padding.
    pub fn wasted(&self) -> u64 {
        self.padding + self.alignment_gaps
    }
}

/// What a plan did: every structure, every memblock call, and per-node totals.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Placement {
    /// The strategy planned.
    pub strategy: Strategy,
    /// `nr_cpu_ids` when the plan starts (`NR_CPUS` or `nr_cpus=`: the length of the
    /// first paca pointer array, or of Linux 4.15's arrays).
    pub nr_cpu_ids_initial: u32,
    /// `nr_cpu_ids` after `setup_nr_cpu_ids`: one past the highest possible CPU.
    pub nr_cpu_ids_final: u32,
    /// The boot CPU.
    pub boot_cpu: u32,
    /// The limit pacas, lppacas and SLB shadows were allocated below
    /// (Linux 6.1: `min(ppc64_bolted_size(), ppc64_rma_size)`; Linux 4.15:
    /// `min(256 MiB, ppc64_rma_size)`).
    pub paca_limit: Limit,
    /// Every structure, in allocation order. Freed ones stay, marked `freed`.
    pub allocations: Vec<Allocation>,
    /// The memblock calls, in order; [`Placement::replay_script`] prints them. Empty
    /// when the plan was asked not to keep them ([`crate::CallLog::Discard`]).
    pub ops: Vec<MemOp>,
    /// Totals per node, sorted by node (memory without a node last).
    pub nodes: Vec<NodeTotals>,
    /// Notable Linux behaviour met on the way.
    pub findings: Vec<Finding>,
}

impl Placement {
    /// The live structures of `cpu`.
    pub fn cpu_structures(&self, cpu: u32) -> impl Iterator<Item = &Allocation> {
        self.allocations
            .iter()
            .filter(move |a| a.cpu == Some(cpu) && !a.freed)
    }

    /// The live structure of `kind` belonging to `cpu`.
    pub fn find(&self, cpu: u32, kind: StructureKind) -> Option<&Allocation> {
        self.cpu_structures(cpu).find(|a| a.kind == kind)
    }

    /// Live structures, per-CPU or shared.
    pub fn live(&self) -> impl Iterator<Item = &Allocation> {
        self.allocations.iter().filter(|a| !a.freed)
    }

    /// The live memblock allocations (not slots inside arrays).
    pub fn live_blocks(&self) -> impl Iterator<Item = &Allocation> {
        self.live().filter(|a| !a.in_array)
    }

    /// The memblock calls as a `numaboot memblock replay` script, one per line. The
    /// replayer prints a final `dump` by itself ([`memblock::replay::run`]).
    pub fn replay_script(&self) -> String {
        use core::fmt::Write;
        let mut s = String::new();
        for op in &self.ops {
            // Writing to a String cannot fail.
            let _ = writeln!(s, "{op}");
        }
        s
    }

    /// The memblock calls the plan made, in order (what [`Placement::replay_script`]
    /// prints).
    pub fn memblock_trace(&self) -> &[MemOp] {
        &self.ops
    }

    /// The totals of `node` (all zero if the plan put nothing there), for comparing two
    /// placements node by node.
    pub fn node(&self, node: Option<NodeId>) -> NodeTotals {
        self.nodes
            .iter()
            .find(|t| t.node == node)
            .copied()
            .unwrap_or(NodeTotals {
                node,
                ..NodeTotals::default()
            })
    }

    /// Sum over all nodes (`node` is `None` in the result).
    pub fn total(&self) -> NodeTotals {
        let mut t = NodeTotals::default();
        for n in &self.nodes {
            t.used += n.used;
            t.padding += n.padding;
            t.alignment_gaps += n.alignment_gaps;
            t.allocations += n.allocations;
            t.reserved_regions += n.reserved_regions;
            t.remote_structures += n.remote_structures;
        }
        t
    }
}

impl fmt::Display for Placement {
    /// A human summary: per-node totals, then per structure kind how many are local,
    /// fell back, or asked for no node and landed off their home node.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "strategy {}: nr_cpu_ids {} -> {}, boot CPU {}, {} live structures, {} memblock calls",
            self.strategy,
            self.nr_cpu_ids_initial,
            self.nr_cpu_ids_final,
            self.boot_cpu,
            self.live().count(),
            self.ops.len()
        )?;
        writeln!(
            f,
            "node          used    padding     gaps  allocs  regions  remote"
        )?;
        for t in &self.nodes {
            match t.node {
                Some(n) => write!(f, "{n:>4}")?,
                None => write!(f, "none")?,
            }
            writeln!(
                f,
                " {:>13} {:>10} {:>8} {:>7} {:>8} {:>7}",
                t.used,
                t.padding,
                t.alignment_gaps,
                t.allocations,
                t.reserved_regions,
                t.remote_structures
            )?;
        }
        writeln!(
            f,
            "structure                       local  fallback  off-home(no node)"
        )?;
        for s in self.locality_summary() {
            writeln!(
                f,
                "{:<30} {:>6} {:>9} {:>18}",
                s.kind.name(),
                s.local,
                s.fallback,
                s.off_home_no_node
            )?;
        }
        for finding in &self.findings {
            match finding {
                Finding::Leak { kind, addr, size } => {
                    writeln!(f, "leak: {size} bytes of {kind} at {addr} stay reserved")?
                }
                Finding::FreedWhileInUse { kind, cpu, addr } => {
                    writeln!(f, "freed while in use: {kind} of CPU {cpu} at {addr}")?
                }
                Finding::CpusCapped { count } => {
                    writeln!(f, "{count} possible CPUs at or above nr_cpu_ids ignored")?
                }
            }
        }
        Ok(())
    }
}

/// Locality counts of one structure kind, from [`Placement::locality_summary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LocalitySummary {
    /// The kind.
    pub kind: StructureKind,
    /// Live structures with [`Outcome::Local`], or with no node requested but on their
    /// home node anyway.
    pub local: u64,
    /// Live structures with [`Outcome::Fallback`].
    pub fallback: u64,
    /// Live structures for which no node was requested and that are not on their home
    /// node (or have none).
    pub off_home_no_node: u64,
}

impl Placement {
    /// Per kind (in [`StructureKind`] order), how many live structures are local.
    pub fn locality_summary(&self) -> Vec<LocalitySummary> {
        let mut out: Vec<LocalitySummary> = Vec::new();
        for a in self.live() {
            let idx = match out.iter().position(|s| s.kind == a.kind) {
                Some(i) => i,
                None => {
                    out.push(LocalitySummary {
                        kind: a.kind,
                        local: 0,
                        fallback: 0,
                        off_home_no_node: 0,
                    });
                    out.len() - 1
                }
            };
            let s = &mut out[idx];
            match a.outcome {
                Outcome::Local => s.local += 1,
                Outcome::Fallback(_) => s.fallback += 1,
                Outcome::NoNodeRequested(_) if a.is_local() => s.local += 1,
                Outcome::NoNodeRequested(_) => s.off_home_no_node += 1,
            }
        }
        out.sort_by_key(|s| s.kind);
        out
    }
}

/// How local one node's CPUs' structures are, and how many other nodes' structures its
/// memory hosts, from [`Placement::node_locality`] or [`Placement::locality_by_node`].
///
/// [`Placement::locality_summary`] answers per structure kind over the whole machine;
/// this answers per node: "of node N's CPUs' structures, how many are in node N's
/// memory, and how many went elsewhere because memblock fell back".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeLocality {
    /// The node (`None`: memory the topology assigns to no node, which is no CPU's
    /// home, so only [`NodeLocality::hosted_remote`] can be non-zero).
    pub node: Option<NodeId>,
    /// Live per-CPU structures whose home is this node.
    pub structures: u64,
    /// Of those, the ones in this node's memory ([`Allocation::is_local`]).
    pub local: u64,
    /// Of those, the ones for which Linux asked for this node and memblock gave
    /// another ([`Outcome::Fallback`]).
    pub fallbacks: u64,
    /// Live per-CPU structures in this node's memory whose home is another node (the
    /// same count as [`NodeTotals::remote_structures`]).
    pub hosted_remote: u64,
}

impl NodeLocality {
    /// Structures of this node's CPUs that are not in its memory, whatever the reason
    /// (a fallback, or no node requested and placed elsewhere).
    pub fn remote(&self) -> u64 {
        self.structures - self.local
    }

    /// `local / structures` in percent (100 for a node whose CPUs own no structure).
    pub fn percent(&self) -> f64 {
        if self.structures == 0 {
            100.0
        } else {
            self.local as f64 * 100.0 / self.structures as f64
        }
    }

    /// Counts `a` towards this node: as one of its CPUs' structures, as a structure its
    /// memory hosts for another node, or neither.
    fn count(&mut self, a: &Allocation) {
        if !a.kind.is_per_cpu() || a.home_node.is_none() {
            return;
        }
        if a.home_node == self.node {
            self.count_home(a);
        }
        if a.memory_node == self.node && !a.is_local() {
            self.hosted_remote += 1;
        }
    }

    /// Counts `a`, a live per-CPU structure whose home is this node.
    fn count_home(&mut self, a: &Allocation) {
        self.structures += 1;
        if a.is_local() {
            self.local += 1;
        }
        if a.outcome.is_fallback() {
            self.fallbacks += 1;
        }
    }
}

impl Placement {
    /// How local the structures of `node`'s CPUs are (all zero for a node the plan
    /// neither homed nor placed anything on).
    ///
    /// ```
    /// use memblock::Memblock;
    /// use percpu::{boot, PlanConfig, Strategy};
    /// use phys::{NodeId, PhysAddr, PhysSize};
    /// use topology::{Cpu, MemoryRange, Node, Topology};
    ///
    /// const GIB: u64 = 1 << 30;
    /// // Node 1 has CPUs but no memory: its CPUs' structures all fall back to node 0.
    /// let (n0, n1) = (NodeId::ZERO, NodeId::new(1).unwrap());
    /// let topo = Topology {
    ///     cpus: (0..4)
    ///         .map(|i| Cpu { logical_id: i, hw_id: i, node: Some(if i < 2 { n0 } else { n1 }) })
    ///         .collect(),
    ///     memory: vec![MemoryRange {
    ///         base: PhysAddr::new(0),
    ///         size: PhysSize::new(4 * GIB),
    ///         node: Some(n0),
    ///     }],
    ///     nodes: vec![Node { id: n0 }, Node { id: n1 }],
    ///     distances: vec![vec![10, 20], vec![20, 10]],
    ///     rma_size: PhysSize::new(GIB),
    ///     hypervisor_mode: false,
    /// };
    /// let cfg = PlanConfig::for_topology(&topo, Strategy::Linux61);
    /// let placement = boot(&mut Memblock::new(), &topo, &cfg)?;
    ///
    /// let one = placement.node_locality(Some(n1));
    /// assert!(one.structures > 0);
    /// assert_eq!(one.local, 0);
    /// assert_eq!(one.fallbacks, one.structures);
    /// // Node 0's memory hosts every one of them.
    /// assert_eq!(placement.node_locality(Some(n0)).hosted_remote, one.structures);
    /// # Ok::<(), percpu::PlanError>(())
    /// ```
    pub fn node_locality(&self, node: Option<NodeId>) -> NodeLocality {
        let mut n = NodeLocality {
            node,
            ..NodeLocality::default()
        };
        for a in self.live() {
            n.count(a);
        }
        n
    }

    /// [`Placement::node_locality`] of every node that is the home or the memory of a
    /// live per-CPU structure, ascending (memory without a node last), in one pass
    /// over the allocations however many nodes there are.
    pub fn locality_by_node(&self) -> Vec<NodeLocality> {
        // One slot per node id and a last one for no node: the order of `nodes`
        // (nodes ascending, no node last) is the slots' order, so no search or sort.
        const SLOTS: usize = NodeId::MAX_NUMNODES as usize + 1;
        let slot = |n: Option<NodeId>| n.map_or(SLOTS - 1, NodeId::index);
        let mut table: Vec<Option<NodeLocality>> = alloc::vec![None; SLOTS];
        for a in self.live().filter(|a| a.kind.is_per_cpu()) {
            let Some(home) = a.home_node else { continue };
            for node in [Some(home), a.memory_node] {
                if let Some(t) = table.get_mut(slot(node)) {
                    t.get_or_insert(NodeLocality {
                        node,
                        ..NodeLocality::default()
                    });
                }
            }
            if let Some(Some(t)) = table.get_mut(slot(Some(home))) {
                t.count_home(a);
            }
            if !a.is_local() {
                if let Some(Some(t)) = table.get_mut(slot(a.memory_node)) {
                    t.hosted_remote += 1;
                }
            }
        }
        let out: Vec<NodeLocality> = table.into_iter().flatten().collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{boot, PlanConfig};
    use memblock::Memblock;
    use topology::{synthetic, SyntheticSpec};

    use StructureKind as K;

    /// Every kind, in declaration order.
    const KINDS: [StructureKind; 22] = [
        K::PacaPtrs,
        K::CpuToPhysId,
        K::Paca,
        K::Lppaca,
        K::SlbShadow,
        K::SoftirqStack,
        K::HardirqStack,
        K::EmergencyStack,
        K::NmiEmergencyStack,
        K::McEmergencyStack,
        K::PageTable,
        K::ProcessTable,
        K::PartitionTable,
        K::DeviceTree,
        K::RtasBuffer,
        K::RtasWorkArea,
        K::LinearMapHashSlots,
        K::PacaArray,
        K::LppacaArray,
        K::SlbShadowArray,
        K::LppacaPage,
        K::PacaBlock,
    ];

    /// A new kind does not compile here until [`KINDS`] lists it, so the facts below
    /// are checked for it too.
    fn position(k: StructureKind) -> usize {
        match k {
            K::PacaPtrs => 0,
            K::CpuToPhysId => 1,
            K::Paca => 2,
            K::Lppaca => 3,
            K::SlbShadow => 4,
            K::SoftirqStack => 5,
            K::HardirqStack => 6,
            K::EmergencyStack => 7,
            K::NmiEmergencyStack => 8,
            K::McEmergencyStack => 9,
            K::PageTable => 10,
            K::ProcessTable => 11,
            K::PartitionTable => 12,
            K::DeviceTree => 13,
            K::RtasBuffer => 14,
            K::RtasWorkArea => 15,
            K::LinearMapHashSlots => 16,
            K::PacaArray => 17,
            K::LppacaArray => 18,
            K::SlbShadowArray => 19,
            K::LppacaPage => 20,
            K::PacaBlock => 21,
        }
    }

    #[test]
    fn kinds_state_consistent_facts() {
        // The per-CPU kinds, in kind order, each at its index.
        assert!(StructureKind::PER_CPU.windows(2).all(|w| w[0] < w[1]));
        for (i, k) in StructureKind::PER_CPU.into_iter().enumerate() {
            assert_eq!(k.per_cpu_index(), Some(i), "{k:?}");
        }
        let per_cpu = KINDS.into_iter().filter(|k| k.is_per_cpu());
        assert!(per_cpu.eq(StructureKind::PER_CPU));
        for (i, k) in KINDS.into_iter().enumerate() {
            assert_eq!(position(k), i, "{k:?}");
            // Names identify a kind: in JSON, in tables and in sentences.
            for other in KINDS.into_iter().filter(|&o| o != k) {
                assert_ne!(k.key(), other.key());
                assert_ne!(k.name(), other.name());
                if k.is_per_cpu() && other.is_per_cpu() {
                    assert_ne!(k.column(), other.column(), "{k:?} {other:?}");
                }
            }
            assert!(k.key().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            if !k.is_per_cpu() {
                assert_eq!(k.column(), k.key());
            }
            // A container holds other structures; a CPU's structure holds none, and is
            // never coloured as shared.
            assert!(!(k.is_container() && k.is_per_cpu()), "{k:?}");
            // Every container holds paca data (Linux 4.15's arrays, lppaca pages, paca
            // blocks).
            assert!(!k.is_container() || k.family().is_paca_data(), "{k:?}");
            assert_eq!(
                k.is_per_cpu() || k.is_container(),
                k.family() != Family::Shared,
                "{k:?}"
            );
            assert_eq!(k.is_real_mode(), k.real_mode_bound().is_some());
            // Every stack a CPU takes an exception on in real mode has the emergency
            // stacks' limit, and only those.
            assert_eq!(
                k.real_mode_bound() == Some(RealModeBound::EmergencyStackLimit),
                k.family() == Family::Stack && k.is_real_mode(),
                "{k:?}"
            );
        }
        for (i, f) in Family::ALL.into_iter().enumerate() {
            assert_eq!(f.index(), i);
            assert!(KINDS.iter().any(|k| k.family() == f), "{f:?} is empty");
        }
    }

    fn placements() -> Vec<(topology::Topology, Placement)> {
        let mut out = Vec::new();
        for memoryless in [0, 3] {
            let topo = synthetic(&SyntheticSpec {
                nodes: 8,
                cpus: 128,
                threads_per_core: 4,
                memoryless_nodes: memoryless,
                cpuless_nodes: 1,
                seed: 7,
                ..Default::default()
            })
            .unwrap();
            for strategy in Strategy::EVERY {
                for radix in [false, true] {
                    let mut cfg = PlanConfig::for_topology(&topo, strategy);
                    cfg.radix = radix;
                    let p = boot(&mut Memblock::new(), &topo, &cfg).unwrap();
                    out.push((topo.clone(), p));
                }
            }
        }
        out
    }

    /// The two ends of the node table: node 255 and memory without a node, which the
    /// generated machines never have, in one placement.
    #[test]
    fn locality_by_node_keeps_the_last_node_apart_from_no_node() {
        let (_, mut p) = placements().swap_remove(0);
        let last = NodeId::new(NodeId::MAX_NUMNODES - 1);
        let mut per_cpu = p
            .allocations
            .iter_mut()
            .filter(|a| !a.freed && a.kind.is_per_cpu() && a.home_node.is_some());
        let (Some(a), Some(b)) = (per_cpu.next(), per_cpu.next()) else {
            panic!("the first placement has per-CPU structures");
        };
        // One structure of node 255's CPU at home, one in memory without a node.
        (a.home_node, a.memory_node) = (last, last);
        b.memory_node = None;
        let all = p.locality_by_node();
        for n in &all {
            assert_eq!(*n, p.node_locality(n.node));
        }
        let ends: Vec<Option<NodeId>> = all.iter().rev().take(2).map(|n| n.node).collect();
        assert_eq!(ends, [None, last]);
        assert_eq!(all.last().map(|n| n.hosted_remote), Some(1));
    }

    #[test]
    fn per_node_locality_in_one_pass_matches_node_by_node() {
        let mut fell_back = 0;
        for (topo, p) in placements() {
            let all = p.locality_by_node();
            assert!(all
                .windows(2)
                .all(|w| (w[0].node.is_none(), w[0].node) < (w[1].node.is_none(), w[1].node)));
            for n in &all {
                assert_eq!(*n, p.node_locality(n.node), "{:?}", p.strategy);
            }
            for node in topo.nodes.iter().map(|n| Some(n.id)).chain([None]) {
                if !all.iter().any(|n| n.node == node) {
                    let n = p.node_locality(node);
                    assert_eq!(
                        (n.structures, n.hosted_remote),
                        (0, 0),
                        "{:?} {node:?}",
                        p.strategy
                    );
                }
            }
            // Every homed per-CPU structure is counted once, at its home; the remote
            // ones once more, where they are.
            let per_cpu: Vec<&Allocation> = p
                .live()
                .filter(|a| a.kind.is_per_cpu() && a.home_node.is_some())
                .collect();
            let sum = |f: fn(&NodeLocality) -> u64| all.iter().map(f).sum::<u64>();
            assert_eq!(sum(|n| n.structures), per_cpu.len() as u64);
            let remote = per_cpu.iter().filter(|a| !a.is_local()).count() as u64;
            assert_eq!(sum(|n| n.hosted_remote), remote);
            assert_eq!(sum(NodeLocality::remote), remote);
            let fallbacks = per_cpu.iter().filter(|a| a.outcome.is_fallback()).count() as u64;
            assert_eq!(sum(|n| n.fallbacks), fallbacks);
            fell_back += fallbacks;
            // The memory side agrees with the per-node totals.
            for t in &p.nodes {
                assert_eq!(
                    p.node_locality(t.node).hosted_remote,
                    t.remote_structures,
                    "{:?} {:?}",
                    p.strategy,
                    t.node
                );
            }
        }
        // The memoryless nodes make memblock fall back, so the counts above were put
        // to the test.
        assert!(fell_back > 0);
    }
}
