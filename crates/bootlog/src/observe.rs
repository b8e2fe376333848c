//! Rebuilds Linux 6.1's per-CPU structures from the events of a boot, as a
//! [`percpu::Placement`].
//!
//! The calls are recognised by their caller and their position, as Linux 6.1 makes them
//! (`arch/powerpc/kernel/paca.c`, `setup_64.c`, `setup-common.c`, `radix_pgtable.c`):
//!
//! * `allocate_paca_ptrs` (in `early_setup`): `paca_ptrs`, `8 * nr_cpu_ids` bytes.
//!   `free_unused_pacas` later frees its tail; the allocation keeps what stays.
//! * `alloc_paca_data`: per CPU a paca (`sizeof(struct paca_struct)`, 128-aligned: the
//!   size of the first call), an lppaca (0x400 bytes, 0x400-aligned; none in hypervisor
//!   mode) and an SLB shadow (128 bytes; with radix only the boot CPU's, which
//!   `free_unused_pacas` frees again). The first group is the boot CPU's (asked with
//!   `NUMA_NO_NODE`, bottom-up, in `early_setup`); then `smp_setup_pacas` does every
//!   other possible CPU in ascending order.
//! * `early_alloc_pgtable` before `smp_setup_cpu_maps`: `radix_init_pgtable`'s linear
//!   mapping tables (bounded by the region they map) and the process table (the one
//!   with no upper bound). Later calls (vmemmap) are not per-CPU data.
//! * `smp_setup_cpu_maps`: `cpu_to_phys_id`, `4 * nr_cpu_ids` bytes, freed by
//!   `smp_setup_pacas` with the shrunk `nr_cpu_ids`: the tail that stays reserved is a
//!   [`Finding::Leak`] and a live allocation of its own, as the planner reports it.
//! * `alloc_stack`: first the soft- and hard-IRQ stack of every possible CPU
//!   (`irqstack_early_init`), then its emergency, NMI and machine-check stacks
//!   (`emergency_stack_init`).
//!
//! The placement covers the log up to the last of those stacks (the end of
//! `emergency_stack_init`), so its memblock calls and per-node totals describe the
//! same moment as a plan's.

use alloc::vec::Vec;
use core::fmt;

use memblock::replay::Op;
use memblock::AllocLimit;
use percpu::consts::{L1_CACHE_BYTES, LPPACA_SIZE, LPPACA_STRUCT_SIZE, SLB_SHADOW_SIZE};
use percpu::{
    Allocation, FallbackReason, Finding, Limit, MemOp, NoNodeReason, Outcome, Placement, Strategy,
    StructureKind,
};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::Topology;

use crate::event::{Alloc, AllocCall, Event, Range};
use crate::parse::BootLog;
use crate::totals::RangeSet;

/// What the log cannot say by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObserveConfig<'t> {
    /// `boot_cpuid`: the CPU whose paca data comes first (default 0).
    pub boot_cpu: u32,
    /// The possible CPUs, ascending (default: as many as the log has pacas, from 0).
    pub possible: Option<Vec<u32>>,
    /// The machine: gives each allocation's node ([`percpu::node_of_addr`]) and the
    /// reason of a fallback. Without it a node is known only where the log shows that
    /// memblock found the requested node ([`BootLog::landed_on_requested_node`]).
    pub topology: Option<&'t Topology>,
    /// `PAGE_SIZE`, for the alignment-gap totals (default 64 KiB).
    pub page_size: u64,
}

impl Default for ObserveConfig<'_> {
    fn default() -> Self {
        Self {
            boot_cpu: 0,
            possible: None,
            topology: None,
            page_size: percpu::consts::PAGE_SIZE_64K,
        }
    }
}

/// Why the events cannot be read as Linux 6.1's per-CPU sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObserveError {
    /// An `alloc_paca_data` call that is neither a paca, an lppaca nor an SLB shadow
    /// where one could come.
    UnexpectedPacaData {
        /// Its line.
        line: usize,
        /// Its size.
        size: PhysSize,
        /// Its alignment.
        align: u64,
    },
    /// The log has pacas for a different number of CPUs than the possible list.
    CpuCountMismatch {
        /// Pacas in the log.
        pacas: u32,
        /// Possible CPUs given.
        possible: u32,
    },
    /// The boot CPU is not among the possible CPUs.
    BootCpuNotPossible {
        /// The boot CPU.
        boot_cpu: u32,
    },
    /// More `alloc_stack` calls than five per possible CPU.
    ExtraStack {
        /// Its line.
        line: usize,
    },
}

impl fmt::Display for ObserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnexpectedPacaData { line, size, align } => write!(
                f,
                "line {line}: alloc_paca_data of {} bytes aligned {align:#x} is not a paca, lppaca or SLB shadow here",
                size.as_u64()
            ),
            Self::CpuCountMismatch { pacas, possible } => write!(
                f,
                "the log has pacas for {pacas} CPUs but {possible} CPUs are possible"
            ),
            Self::BootCpuNotPossible { boot_cpu } => {
                write!(f, "boot CPU {boot_cpu} is not a possible CPU")
            }
            Self::ExtraStack { line } => write!(
                f,
                "line {line}: more alloc_stack calls than 5 per possible CPU"
            ),
        }
    }
}

impl core::error::Error for ObserveError {}

/// The per-CPU placement a log shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The structures, in the planner's conventions.
    pub placement: Placement,
    /// memblock's reserved regions at the end of the window (every reservation and free
    /// the log shows up to then).
    pub reserved: Vec<Range>,
    /// The last line of the window.
    pub window_end: usize,
    /// The possible CPUs, ascending.
    pub possible: Vec<u32>,
}

fn is_paca(a: &Alloc<'_>, paca_size: PhysSize) -> bool {
    a.size == paca_size && a.align == L1_CACHE_BYTES
}

/// Which piece of a CPU's paca data a call is, from its size and alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Piece {
    Paca,
    Lppaca,
    Slb,
}

fn piece(a: &Alloc<'_>, paca_size: PhysSize, have: &[Piece]) -> Option<Piece> {
    let last = have.last().copied();
    if is_paca(a, paca_size) && (last.is_none() || have.contains(&Piece::Paca)) {
        return Some(Piece::Paca);
    }
    let s = a.size.as_u64();
    if s == LPPACA_SIZE && a.align == LPPACA_SIZE && last == Some(Piece::Paca) {
        return Some(Piece::Lppaca);
    }
    if s == SLB_SHADOW_SIZE
        && a.align == L1_CACHE_BYTES
        && matches!(last, Some(Piece::Paca | Piece::Lppaca))
    {
        return Some(Piece::Slb);
    }
    None
}

const STACKS_IRQ: [StructureKind; 2] = [StructureKind::SoftirqStack, StructureKind::HardirqStack];
const STACKS_EMERGENCY: [StructureKind; 3] = [
    StructureKind::EmergencyStack,
    StructureKind::NmiEmergencyStack,
    StructureKind::McEmergencyStack,
];

/// One recognised allocation before nodes are resolved.
struct Found<'l> {
    kind: StructureKind,
    cpu: Option<u32>,
    alloc: Alloc<'l>,
    addr: PhysAddr,
    no_node: NoNodeReason,
}

/// Rebuilds the per-CPU placement of a Linux 6.1 boot from its log.
pub fn observe(log: &BootLog<'_>, cfg: &ObserveConfig<'_>) -> Result<Observed, ObserveError> {
    let paca_size = log.facts.paca_size.unwrap_or(PhysSize::ZERO);
    let pacas = log
        .allocs()
        .filter(|(_, a)| a.caller.is("alloc_paca_data") && is_paca(a, paca_size))
        .count() as u32;
    let possible: Vec<u32> = match &cfg.possible {
        Some(p) => {
            let mut p = p.clone();
            p.sort_unstable();
            p.dedup();
            if pacas > 0 && pacas as usize != p.len() {
                return Err(ObserveError::CpuCountMismatch {
                    pacas,
                    possible: p.len() as u32,
                });
            }
            p
        }
        None => (0..pacas.max(1)).collect(),
    };
    if !possible.contains(&cfg.boot_cpu) {
        return Err(ObserveError::BootCpuNotPossible {
            boot_cpu: cfg.boot_cpu,
        });
    }
    // alloc_paca_data order: the boot CPU, then the others ascending.
    let order: Vec<u32> = core::iter::once(cfg.boot_cpu)
        .chain(possible.iter().copied().filter(|&c| c != cfg.boot_cpu))
        .collect();
    let n = possible.len();

    // The window ends with the last emergency stack; page tables are those before
    // smp_setup_cpu_maps.
    let mut stacks_seen = 0usize;
    let mut end = log.records.len();
    let mut c2p_at = usize::MAX;
    for (i, r) in log.records.iter().enumerate() {
        if let Event::Alloc(a) = &r.event {
            if a.caller.is("alloc_stack") {
                stacks_seen += 1;
                if stacks_seen == 5 * n {
                    end = i + 1;
                    break;
                }
            } else if a.caller.is("smp_setup_cpu_maps") && c2p_at == usize::MAX {
                c2p_at = i;
            }
        }
    }

    let mut found: Vec<Found<'_>> = Vec::new();
    let mut ops: Vec<MemOp> = Vec::new();
    let mut reserved = RangeSet::new();
    // (index into `found`, freed range) in order, applied after nodes are known.
    let mut frees: Vec<(usize, Range)> = Vec::new();
    let mut group: Vec<Piece> = Vec::new();
    let mut groups = 0usize;
    let mut stacks = 0usize;
    let mut have_ptrs = false;
    let mut have_c2p = false;
    let mut paca_limit: Option<AllocLimit> = None;
    let mut window_end = 0;
    for (i, r) in log.records[..end].iter().enumerate() {
        window_end = r.line;
        match &r.event {
            Event::Reserve { range, .. } => {
                reserved.add(*range);
                ops.push(MemOp::reserve(range.base, range.size));
            }
            Event::Free { range, .. } => {
                reserved.remove(*range);
                ops.push(MemOp::free(range.base, range.size));
                frees.push((found.len(), *range));
            }
            Event::Add { range, .. } => ops.push(MemOp::add(range.base, range.size, None)),
            Event::AddNode { range, nid, .. } => {
                ops.push(MemOp::add(range.base, range.size, *nid));
            }
            Event::Alloc(a) => {
                if let Some(b) = a.block() {
                    reserved.add(b);
                }
                ops.push(mem_op(a));
                let addr = a.result.map(|r| r.addr);
                let mut push = |kind, cpu, no_node| {
                    if let Some(addr) = addr {
                        found.push(Found {
                            kind,
                            cpu,
                            alloc: *a,
                            addr,
                            no_node,
                        });
                    }
                };
                if a.caller.is("allocate_paca_ptrs") && !have_ptrs {
                    have_ptrs = true;
                    push(StructureKind::PacaPtrs, None, NoNodeReason::SharedArray);
                } else if a.caller.is("smp_setup_cpu_maps") && !have_c2p {
                    have_c2p = true;
                    push(StructureKind::CpuToPhysId, None, NoNodeReason::SharedArray);
                } else if a.caller.is("alloc_paca_data") {
                    let Some(p) = piece(a, paca_size, &group) else {
                        return Err(ObserveError::UnexpectedPacaData {
                            line: r.line,
                            size: a.size,
                            align: a.align,
                        });
                    };
                    if p == Piece::Paca {
                        group.clear();
                        groups += 1;
                    }
                    group.push(p);
                    let cpu = order.get(groups - 1).copied();
                    if cpu.is_none() {
                        // More pacas than possible CPUs was ruled out above unless
                        // the possible list was derived; keep the count honest.
                        return Err(ObserveError::CpuCountMismatch {
                            pacas,
                            possible: n as u32,
                        });
                    }
                    if groups == 1 && p == Piece::Paca {
                        paca_limit = Some(a.max);
                    }
                    let kind = match p {
                        Piece::Paca => StructureKind::Paca,
                        Piece::Lppaca => StructureKind::Lppaca,
                        Piece::Slb => StructureKind::SlbShadow,
                    };
                    push(kind, cpu, NoNodeReason::BootCpuBeforeNuma);
                } else if a.caller.is("alloc_stack") {
                    let k = stacks;
                    stacks += 1;
                    let (kind, cpu) = if k < 2 * n {
                        (STACKS_IRQ[k % 2], possible[k / 2])
                    } else if k < 5 * n {
                        let j = k - 2 * n;
                        (STACKS_EMERGENCY[j % 3], possible[j / 3])
                    } else {
                        return Err(ObserveError::ExtraStack { line: r.line });
                    };
                    push(kind, Some(cpu), NoNodeReason::PreSeries);
                } else if (a.caller.is("early_init_dt_alloc_memory_arch")
                    || a.caller.is("rtas_initialize")
                    || a.caller.is("rtas_work_area_reserve_arena")
                    || a.caller.is("hash__early_init_mmu")
                    || a.caller.is("mmu_partition_table_init"))
                    && i < c2p_at
                {
                    // setup_arch's allocations before smp_setup_cpu_maps (the unflattened
                    // tree, of_alias_scan's records, RTAS's buffer) and the hypervisor's
                    // radix partition table.
                    let kind = if a.caller.is("rtas_initialize") {
                        StructureKind::RtasBuffer
                    } else if a.caller.is("rtas_work_area_reserve_arena") {
                        StructureKind::RtasWorkArea
                    } else if a.caller.is("hash__early_init_mmu") {
                        StructureKind::LinearMapHashSlots
                    } else if a.caller.is("mmu_partition_table_init") {
                        StructureKind::PartitionTable
                    } else {
                        StructureKind::DeviceTree
                    };
                    push(kind, None, NoNodeReason::SharedArray);
                } else if a.caller.is("early_alloc_pgtable") && i < c2p_at {
                    if a.max == AllocLimit::Anywhere {
                        push(StructureKind::ProcessTable, None, NoNodeReason::SharedArray);
                    } else {
                        push(StructureKind::PageTable, None, NoNodeReason::RegionBounded);
                    }
                }
            }
            _ => {}
        }
    }

    // Each CPU's node as Linux saw it (early_cpu_to_node): the node its stacks and
    // non-boot paca data asked for.
    let mut cpu_home: Vec<(u32, NodeId)> = Vec::new();
    for f in &found {
        if let (Some(cpu), Some(nid)) = (f.cpu, f.alloc.nid) {
            if !cpu_home.iter().any(|c| c.0 == cpu) {
                cpu_home.push((cpu, nid));
            }
        }
    }
    let infer = Inference::new(log);
    let topo = cfg.topology;
    let mut allocations: Vec<Allocation> = found
        .iter()
        .map(|f| {
            let a = &f.alloc;
            let memory_node = match topo {
                Some(t) => percpu::node_of_addr(t, f.addr),
                None if log.landed_on_requested_node(a) == Some(true) => a.nid,
                None => None,
            };
            let home_node = match f.cpu {
                Some(cpu) => cpu_home
                    .iter()
                    .find(|c| c.0 == cpu)
                    .map(|c| c.1)
                    .or_else(|| topo.map(|t| percpu::early_cpu_to_node(t, cpu))),
                None => None,
            };
            let outcome = match a.nid {
                None => Outcome::NoNodeRequested(f.no_node),
                Some(n) => {
                    let hit = match topo {
                        Some(_) => memory_node == Some(n),
                        None => log.landed_on_requested_node(a).unwrap_or(true),
                    };
                    if hit {
                        Outcome::Local
                    } else {
                        Outcome::Fallback(match topo {
                            Some(t) => classify(t, n, a.max),
                            None => infer.reason(n, a.max),
                        })
                    }
                }
            };
            let used = if f.kind == StructureKind::Lppaca {
                LPPACA_STRUCT_SIZE.min(a.size.as_u64())
            } else {
                a.size.as_u64()
            };
            Allocation {
                kind: f.kind,
                cpu: f.cpu,
                addr: f.addr,
                size: PhysSize::new(used),
                reserved: a.size,
                align: a.align,
                requested_node: a.nid,
                home_node,
                memory_node,
                outcome,
                in_array: false,
                freed: false,
            }
        })
        .collect();

    // Apply the frees to what was allocated before each, in order; a free that leaves
    // the tail of a structure reserved is a leak, reported as the planner does.
    let mut findings: Vec<Finding> = Vec::new();
    let mut leaks: Vec<(usize, Allocation)> = Vec::new();
    for &(upto, fr) in &frees {
        let (lo, hi) = (fr.base, fr.end());
        for a in allocations[..upto].iter_mut().filter(|a| !a.freed) {
            let (alo, ahi) = (a.addr, a.addr.saturating_add(a.reserved));
            if fr.size.is_zero() || hi <= alo || lo >= ahi {
                continue;
            }
            let head = lo.checked_offset_from(alo).unwrap_or(PhysSize::ZERO);
            let tail = ahi.checked_offset_from(hi).unwrap_or(PhysSize::ZERO);
            if head.is_zero() {
                a.freed = true;
            } else {
                a.reserved = head;
                a.size = PhysSize::new(a.size.as_u64().min(head.as_u64()));
            }
            if !tail.is_zero() {
                findings.push(Finding::Leak {
                    kind: a.kind,
                    addr: hi,
                    size: tail,
                });
                let mut leak = *a;
                leak.addr = hi;
                leak.size = PhysSize::ZERO;
                leak.reserved = tail;
                leak.freed = false;
                leak.memory_node = topo.and_then(|t| percpu::node_of_addr(t, hi));
                if !matches!(leak.outcome, Outcome::NoNodeRequested(_)) {
                    leak.outcome = Outcome::NoNodeRequested(NoNodeReason::SharedArray);
                }
                leaks.push((upto, leak));
            }
        }
    }
    // Leaked tails go where the planner lists them: right after what was allocated
    // before their free.
    for (k, (upto, leak)) in leaks.into_iter().enumerate() {
        allocations.insert((upto + k).min(allocations.len()), leak);
    }

    // nr_cpu_ids: paca_ptrs holds one pointer per CPU id, first for the early value,
    // then (after free_unused_pacas shrank it) for the final one.
    let nr_initial = found
        .iter()
        .find(|f| f.kind == StructureKind::PacaPtrs)
        .map_or(n as u64, |f| f.alloc.size.as_u64() / 8);
    let nr_final = allocations
        .iter()
        .find(|a| a.kind == StructureKind::PacaPtrs)
        .map_or(nr_initial, |a| a.reserved.as_u64() / 8);
    let reserved = reserved.ranges();
    let spans: Vec<(PhysAddr, PhysSize)> = reserved.iter().map(|r| (r.base, r.size)).collect();
    let nodes = percpu::node_totals(
        &allocations,
        &spans,
        |addr| topo.and_then(|t| percpu::node_of_addr(t, addr)),
        cfg.page_size,
    );
    let placement = Placement {
        strategy: log
            .facts
            .kernel_version
            .map_or(Strategy::Linux61, |(major, minor)| {
                Strategy::for_linux_version(major, minor)
            }),
        nr_cpu_ids_initial: u32::try_from(nr_initial).unwrap_or(u32::MAX),
        nr_cpu_ids_final: u32::try_from(nr_final).unwrap_or(u32::MAX),
        boot_cpu: cfg.boot_cpu,
        paca_limit: match paca_limit {
            Some(AllocLimit::Addr(a)) => Limit::Below(a),
            _ => Limit::Anywhere,
        },
        allocations,
        ops,
        nodes,
        findings,
    };
    Ok(Observed {
        placement,
        reserved,
        window_end,
        possible,
    })
}

/// The replay-language form of a logged allocation.
fn mem_op(a: &Alloc<'_>) -> MemOp {
    let result = a.result.map(|r| r.addr);
    let call = match a.call {
        AllocCall::TryNid | AllocCall::TryNidRaw => Op::AllocTryNid {
            size: a.size,
            align: a.align,
            min: a.from,
            max: a.max,
            nid: a.nid,
        },
        AllocCall::ExactNidRaw | AllocCall::PhysAllocRange => Op::Alloc {
            size: a.size,
            align: a.align,
            start: a.from,
            end: a.max,
            nid: a.nid,
            exact: a.call == AllocCall::ExactNidRaw,
        },
    };
    MemOp::alloc(call, result)
}

fn raw_max(max: AllocLimit) -> u64 {
    match max {
        // The current limit is not in the log; once early_init_mmu has run it is
        // MEMBLOCK_ALLOC_ANYWHERE on every ppc64 boot.
        AllocLimit::Accessible => u64::MAX,
        m => m.raw(),
    }
}

/// Why memblock could not serve node `nid` below `max`, from the topology (the
/// planner's rule).
fn classify(t: &Topology, nid: NodeId, max: AllocLimit) -> FallbackReason {
    let max = raw_max(max);
    let mut any = false;
    for r in t.memory.iter().filter(|r| r.node == Some(nid)) {
        any = true;
        if r.base.as_u64() < max {
            return FallbackReason::NodeFullBelowLimit;
        }
    }
    if any {
        FallbackReason::NodeMemoryAboveLimit
    } else {
        FallbackReason::NodeHasNoMemory
    }
}

/// Fallback reasons inferred from the log alone: a node on which no allocation of the
/// whole log ever landed has no memory (as far as the log shows); one that served only
/// allocations with a higher bound has its memory above this bound; otherwise it was
/// full below the bound.
struct Inference {
    /// Per node that served an allocation, the lowest bound it served below.
    served: Vec<(NodeId, u64)>,
}

impl Inference {
    fn new(log: &BootLog<'_>) -> Self {
        let mut served: Vec<(NodeId, u64)> = Vec::new();
        for (_, a) in log.allocs() {
            if log.landed_on_requested_node(a) != Some(true) {
                continue;
            }
            let (Some(n), max) = (a.nid, raw_max(a.max)) else {
                continue;
            };
            match served.iter_mut().find(|s| s.0 == n) {
                Some(s) => s.1 = s.1.min(max),
                None => served.push((n, max)),
            }
        }
        Self { served }
    }

    fn reason(&self, nid: NodeId, max: AllocLimit) -> FallbackReason {
        match self.served.iter().find(|s| s.0 == nid) {
            None => FallbackReason::NodeHasNoMemory,
            Some(&(_, lowest)) if lowest > raw_max(max) => FallbackReason::NodeMemoryAboveLimit,
            Some(_) => FallbackReason::NodeFullBelowLimit,
        }
    }
}
