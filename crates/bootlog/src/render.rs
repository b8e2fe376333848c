//! Renders a Linux 6.1 [`Placement`] as the `memblock=debug` lines such a boot would
//! print: what [`crate::parse`] and [`crate::observe`] read back.

use alloc::string::String;
use alloc::vec;
use core::fmt::{self, Write};

use memblock::replay::{Op, RangeOp};
use memblock::RegionNid;
use percpu::{MemOp, Outcome, Placement, StructureKind};
use phys::{NodeId, PhysAddr, PhysSize};

use crate::event::Range;

/// Why a placement cannot be rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderError {
    /// Linux 4.15 logged other messages (`memblock_alloc_base`); only Linux 6.1's
    /// sequence is rendered.
    NotLinux61,
    /// An allocation call of the placement matches none of its structures.
    Unmatched {
        /// Index of the call in [`Placement::ops`].
        op: usize,
    },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotLinux61 => f.write_str("only a Linux 6.1 placement can be rendered"),
            Self::Unmatched { op } => {
                write!(
                    f,
                    "memblock call {op} allocates none of the placement's structures"
                )
            }
        }
    }
}

impl core::error::Error for RenderError {}

/// How each line starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix {
    /// `[    0.000000] `, as on the console.
    Timestamp,
    /// Nothing (`dmesg -t`).
    None,
}

/// The caller Linux 6.1 (Debian's 6.1.0-50 build) prints for a structure's allocation,
/// and the allocation entry point it goes through.
fn alloc_caller(kind: StructureKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        StructureKind::PacaPtrs => ("memblock_alloc_try_nid_raw", "allocate_paca_ptrs+0x58/0xa4"),
        StructureKind::Paca | StructureKind::Lppaca | StructureKind::SlbShadow => {
            ("memblock_alloc_try_nid", "alloc_paca_data+0x80/0xd0")
        }
        StructureKind::CpuToPhysId => ("memblock_alloc_try_nid", "smp_setup_cpu_maps+0x78/0x4b0"),
        StructureKind::SoftirqStack
        | StructureKind::HardirqStack
        | StructureKind::EmergencyStack
        | StructureKind::NmiEmergencyStack
        | StructureKind::McEmergencyStack => ("memblock_alloc_try_nid", "alloc_stack+0x50/0x7c"),
        StructureKind::PageTable | StructureKind::ProcessTable => {
            ("memblock_alloc_try_nid", "early_alloc_pgtable+0x70/0xec")
        }
        StructureKind::DeviceTree => (
            "memblock_alloc_try_nid",
            "early_init_dt_alloc_memory_arch+0x3c/0x80",
        ),
        StructureKind::RtasBuffer => ("memblock_phys_alloc_range", "rtas_initialize+0x1c0/0x288"),
        StructureKind::RtasWorkArea => (
            "memblock_alloc_try_nid",
            "rtas_work_area_reserve_arena+0x50/0x88",
        ),
        StructureKind::LinearMapHashSlots => {
            ("memblock_alloc_try_nid", "hash__early_init_mmu+0x5f4/0x874")
        }
        // Not in Debian's build log (an LPAR); the symbol is what Linux would print.
        StructureKind::PartitionTable => {
            ("memblock_alloc_try_nid", "mmu_partition_table_init+0x0/0x0")
        }
        // Arrays and blocks of no Linux 6.1 build: no log line to render.
        StructureKind::PacaArray
        | StructureKind::LppacaArray
        | StructureKind::SlbShadowArray
        | StructureKind::LppacaPage
        | StructureKind::PacaBlock => return None,
    })
}

/// The two `memblock_reserve` calls of `memblock_alloc_range_nid` in that build: after
/// the search on the requested node, and after the fallback search on any node.
const SITE_NODE: &str = "memblock_alloc_range_nid+0x10c/0x1dc";
const SITE_FALLBACK: &str = "memblock_alloc_range_nid+0x158/0x1dc";

struct Nid(Option<NodeId>);

impl fmt::Display for Nid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{}", n.get()),
            None => f.write_str("-1"),
        }
    }
}

fn range(base: PhysAddr, size: PhysSize) -> Range {
    Range { base, size }
}

/// The `memblock=debug` lines of `p`'s memblock calls: additions, reservations, frees
/// and allocations with the reservation that carries each result, with the callers and
/// call sites of Linux 6.1. Calls that print nothing in Linux (current limit,
/// bottom-up, `memblock_set_node`) print nothing here either.
pub fn render_log(p: &Placement, prefix: Prefix) -> Result<String, RenderError> {
    if !p.strategy.per_cpu_allocation() {
        return Err(RenderError::NotLinux61);
    }
    let pre = match prefix {
        Prefix::Timestamp => "[    0.000000] ",
        Prefix::None => "",
    };
    let mut used = vec![false; p.allocations.len()];
    let mut out = String::new();
    // Writing to a String cannot fail.
    let mut line = |s: fmt::Arguments<'_>| {
        let _ = writeln!(out, "{pre}{s}");
    };
    for (i, &MemOp { op, result }) in p.ops.iter().enumerate() {
        match op {
            Op::Add { base, size, nid } => match nid {
                RegionNid::MaxNumNodes => line(format_args!(
                    "memblock_add: {} early_init_dt_add_memory_arch+0x11c/0x1c0",
                    range(base, size)
                )),
                RegionNid::Node(_) | RegionNid::NumaNoNode => line(format_args!(
                    "memblock_add_node: {} nid={} flags=0 early_init_dt_add_memory_arch+0x11c/0x1c0",
                    range(base, size),
                    nid.linux_signed()
                )),
            },
            Op::Range {
                kind: RangeOp::Reserve,
                base,
                size,
            } => line(format_args!(
                "memblock_reserve: {} early_init_devtree+0x164/0x490",
                range(base, size)
            )),
            Op::Range {
                kind: RangeOp::Free,
                base,
                size,
            } => {
                let kind = p
                    .allocations
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.kind,
                            StructureKind::PacaPtrs
                                | StructureKind::SlbShadow
                                | StructureKind::CpuToPhysId
                        )
                    })
                    // A shrunk paca_ptrs ends where its freed tail starts.
                    .find(|a| base >= a.addr && base <= a.addr.saturating_add(a.reserved))
                    .map(|a| a.kind);
                let caller = match kind {
                    Some(StructureKind::PacaPtrs) => "free_unused_pacas+0x68/0x128",
                    Some(StructureKind::SlbShadow) => "free_unused_pacas+0xc4/0x128",
                    Some(StructureKind::CpuToPhysId) => "setup_arch+0x248/0x4e0",
                    _ => "memblock_free+0x3c/0x70",
                };
                line(format_args!(
                    "memblock_phys_free: {} {caller}",
                    range(base, size)
                ));
            }
            Op::AllocTryNid {
                size,
                align,
                min,
                max,
                nid,
            } => {
                let found = result.and_then(|addr| {
                    (0..p.allocations.len())
                        .find(|&k| !used[k] && p.allocations[k].addr == addr && p.allocations[k].align == align)
                });
                let Some(k) = found else {
                    return Err(RenderError::Unmatched { op: i });
                };
                used[k] = true;
                let a = &p.allocations[k];
                let (call, caller) = alloc_caller(a.kind).ok_or(RenderError::NotLinux61)?;
                line(format_args!(
                    "{call}: {} bytes align={align:#x} nid={} from={:#018x} max_addr={:#018x} {caller}",
                    size.as_u64(),
                    Nid(nid),
                    min.as_u64(),
                    max.raw()
                ));
                let site = if matches!(a.outcome, Outcome::Fallback(_)) {
                    SITE_FALLBACK
                } else {
                    SITE_NODE
                };
                if let Some(addr) = result {
                    line(format_args!("memblock_reserve: {} {site}", range(addr, size)));
                }
            }
            Op::Alloc {
                size,
                align,
                start,
                end,
                nid: None,
                exact: false,
            } => {
                // memblock_phys_alloc_range (RTAS's buffer) prints no node.
                let found = result.and_then(|addr| {
                    (0..p.allocations.len()).find(|&k| {
                        !used[k] && p.allocations[k].addr == addr && p.allocations[k].align == align
                    })
                });
                let Some(k) = found else {
                    return Err(RenderError::Unmatched { op: i });
                };
                used[k] = true;
                let (call, caller) =
                    alloc_caller(p.allocations[k].kind).ok_or(RenderError::NotLinux61)?;
                line(format_args!(
                    "{call}: {} bytes align={align:#x} from={:#018x} max_addr={:#018x} {caller}",
                    size.as_u64(),
                    start.as_u64(),
                    end.raw()
                ));
                if let Some(addr) = result {
                    line(format_args!(
                        "memblock_reserve: {} {SITE_NODE}",
                        range(addr, size)
                    ));
                }
            }
            Op::SetNode { .. } | Op::Limit(_) | Op::BottomUp(_) => {}
            // Calls the Linux 6.1 sequence never makes.
            Op::Alloc { .. }
            | Op::Range { .. }
            | Op::Movable(_)
            | Op::Dump
            | Op::Config(..) => return Err(RenderError::NotLinux61),
        }
    }
    Ok(out)
}
