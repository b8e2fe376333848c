//! The memblock operations a plan performs, and the log that replays them.

use alloc::vec::Vec;
use core::fmt;

use memblock::replay::{Op, RangeOp};
use memblock::{AllocLimit, Memblock};
use phys::{NodeId, PhysAddr, PhysSize};

/// The memblock calls a plan makes. [`Memblock`] implements it; a wrapper can inject
/// failures or count calls in tests.
///
/// `Clone` lets [`crate::plan`] take a snapshot and restore it when the plan fails.
pub trait MemblockOps: Clone {
    /// `memblock_add_node(base, size, nid, MEMBLOCK_NONE)` (`memblock_add` for `None`).
    fn add(
        &mut self,
        base: PhysAddr,
        size: PhysSize,
        nid: Option<NodeId>,
    ) -> Result<(), memblock::Error>;
    /// `memblock_reserve`.
    fn reserve(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), memblock::Error>;
    /// `memblock_phys_free`.
    fn free(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), memblock::Error>;
    /// `memblock_set_node(base, size, &memblock.memory, nid)`.
    fn set_node(
        &mut self,
        base: PhysAddr,
        size: PhysSize,
        nid: NodeId,
    ) -> Result<(), memblock::Error>;
    /// `memblock_set_current_limit`.
    fn set_current_limit(&mut self, limit: PhysAddr);
    /// `memblock.current_limit`.
    fn current_limit(&self) -> PhysAddr;
    /// `memblock_set_bottom_up`.
    fn set_bottom_up(&mut self, enable: bool);
    /// `memblock_alloc_try_nid` (physical address; `None` where Linux returns NULL).
    fn alloc_try_nid(
        &mut self,
        size: PhysSize,
        align: u64,
        min: PhysAddr,
        max: AllocLimit,
        nid: Option<NodeId>,
    ) -> Option<PhysAddr>;
    /// `memblock_alloc_range_nid` (what Linux 4.15's `memblock_alloc_base` ends in).
    fn alloc_range_nid(
        &mut self,
        size: PhysSize,
        align: u64,
        start: PhysAddr,
        end: AllocLimit,
        nid: Option<NodeId>,
        exact_nid: bool,
    ) -> Option<PhysAddr>;
    /// The `memory` array as `(base, size, nid)`.
    fn memory_ranges(&self) -> Vec<(PhysAddr, PhysSize, Option<NodeId>)>;
    /// The `reserved` array as `(base, size)`.
    fn reserved_ranges(&self) -> Vec<(PhysAddr, PhysSize)>;
}

impl MemblockOps for Memblock {
    fn add(
        &mut self,
        base: PhysAddr,
        size: PhysSize,
        nid: Option<NodeId>,
    ) -> Result<(), memblock::Error> {
        match nid {
            Some(_) => Memblock::add_node(self, base, size, nid, memblock::RegionFlags::NONE),
            None => Memblock::add(self, base, size),
        }
    }
    fn reserve(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), memblock::Error> {
        Memblock::reserve(self, base, size)
    }
    fn free(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), memblock::Error> {
        Memblock::free(self, base, size)
    }
    fn set_node(
        &mut self,
        base: PhysAddr,
        size: PhysSize,
        nid: NodeId,
    ) -> Result<(), memblock::Error> {
        Memblock::set_node(self, base, size, nid)
    }
    fn set_current_limit(&mut self, limit: PhysAddr) {
        Memblock::set_current_limit(self, limit);
    }
    fn current_limit(&self) -> PhysAddr {
        Memblock::current_limit(self)
    }
    fn set_bottom_up(&mut self, enable: bool) {
        Memblock::set_bottom_up(self, enable);
    }
    fn alloc_try_nid(
        &mut self,
        size: PhysSize,
        align: u64,
        min: PhysAddr,
        max: AllocLimit,
        nid: Option<NodeId>,
    ) -> Option<PhysAddr> {
        Memblock::alloc_try_nid(self, size, align, min, max, nid).ok()
    }
    fn alloc_range_nid(
        &mut self,
        size: PhysSize,
        align: u64,
        start: PhysAddr,
        end: AllocLimit,
        nid: Option<NodeId>,
        exact_nid: bool,
    ) -> Option<PhysAddr> {
        Memblock::alloc_range_nid(self, size, align, start, end, nid, exact_nid).ok()
    }
    fn memory_ranges(&self) -> Vec<(PhysAddr, PhysSize, Option<NodeId>)> {
        self.memory()
            .iter()
            .map(|r| (r.base, r.size, r.node()))
            .collect()
    }
    fn reserved_ranges(&self) -> Vec<(PhysAddr, PhysSize)> {
        self.reserved().iter().map(|r| (r.base, r.size)).collect()
    }
}

/// One memblock call made by a plan, with its outcome: the call is a line of memblock's
/// replay language ([`Op`], so the language has one model and one printer), the outcome
/// the address an allocation returned.
///
/// ```
/// use memblock::replay::Op;
/// use percpu::MemOp;
/// use phys::PhysAddr;
///
/// let op = MemOp::new(Op::Limit(PhysAddr::new(0x4000_0000)));
/// assert_eq!(op.to_string(), "limit 0x40000000");
/// assert_eq!(op.result, None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MemOp {
    /// The call.
    pub op: Op,
    /// What an allocation returned (`None`: Linux's NULL, or not an allocation).
    pub result: Option<PhysAddr>,
}

impl MemOp {
    /// A call without a result.
    pub const fn new(op: Op) -> Self {
        Self { op, result: None }
    }

    /// An allocation call and what it returned.
    pub const fn alloc(op: Op, result: Option<PhysAddr>) -> Self {
        Self { op, result }
    }

    /// `add BASE SIZE [NID]` (`memblock_add` for `None`).
    pub fn add(base: PhysAddr, size: PhysSize, nid: Option<NodeId>) -> Self {
        Self::new(Op::Add {
            base,
            size,
            nid: nid.into(),
        })
    }

    /// `reserve BASE SIZE`.
    pub const fn reserve(base: PhysAddr, size: PhysSize) -> Self {
        Self::new(Op::Range {
            kind: RangeOp::Reserve,
            base,
            size,
        })
    }

    /// `free BASE SIZE` (`memblock_phys_free`).
    pub const fn free(base: PhysAddr, size: PhysSize) -> Self {
        Self::new(Op::Range {
            kind: RangeOp::Free,
            base,
            size,
        })
    }

    /// Whether the call is an allocation (`alloc` or `alloc_try_nid`).
    pub const fn is_alloc(&self) -> bool {
        matches!(self.op, Op::Alloc { .. } | Op::AllocTryNid { .. })
    }

    /// The `(base, size)` of a `free`.
    pub const fn freed(&self) -> Option<(PhysAddr, PhysSize)> {
        match self.op {
            Op::Range {
                kind: RangeOp::Free,
                base,
                size,
            } => Some((base, size)),
            _ => None,
        }
    }
}

impl fmt::Display for MemOp {
    /// The replay line, printed by memblock's own printer, without the result (replay
    /// computes it again).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.op, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// The plan's calls print as the lines `plan --format replay` has always written,
    /// and memblock's parser reads each back as the same call.
    #[test]
    fn every_call_prints_a_line_the_replay_parser_reads_back() {
        let n = NodeId::new(3);
        let ops = [
            MemOp::add(PhysAddr::new(0x1000_0000), PhysSize::new(0x4000_0000), n),
            MemOp::add(PhysAddr::ZERO, PhysSize::new(0x1000), None),
            MemOp::reserve(PhysAddr::ZERO, PhysSize::new(0x200_0000)),
            MemOp::free(PhysAddr::new(0x8000), PhysSize::new(0x80)),
            MemOp::new(Op::SetNode {
                base: PhysAddr::ZERO,
                size: PhysSize::new(0x1000),
                nid: NodeId::ZERO,
            }),
            MemOp::new(Op::Limit(PhysAddr::new(0x4000_0000))),
            MemOp::new(Op::Limit(PhysAddr::MAX)),
            MemOp::new(Op::BottomUp(true)),
            MemOp::alloc(
                Op::AllocTryNid {
                    size: PhysSize::new(0x400),
                    align: 0x400,
                    min: PhysAddr::ZERO,
                    max: AllocLimit::from_raw(0x4000_0000),
                    nid: n,
                },
                Some(PhysAddr::new(0x3fff_fc00)),
            ),
            MemOp::alloc(
                Op::AllocTryNid {
                    size: PhysSize::new(0x80),
                    align: 0x80,
                    min: PhysAddr::ZERO,
                    max: AllocLimit::from_raw(0),
                    nid: None,
                },
                None,
            ),
            MemOp::alloc(
                Op::Alloc {
                    size: PhysSize::new(0x1_0000),
                    align: 0x1_0000,
                    start: PhysAddr::ZERO,
                    end: AllocLimit::from_raw(u64::MAX),
                    nid: None,
                    exact: false,
                },
                None,
            ),
        ];
        let expect = [
            "add 0x10000000 0x40000000 3",
            "add 0x0 0x1000",
            "reserve 0x0 0x2000000",
            "free 0x8000 0x80",
            "set_node 0x0 0x1000 0",
            "limit 0x40000000",
            "limit 0xffffffffffffffff",
            "bottom_up 1",
            "alloc_try_nid 0x400 0x400 0x0 0x40000000 3",
            "alloc_try_nid 0x80 0x80 0x0 accessible -1",
            "alloc 0x10000 0x10000 0x0 anywhere -1 0",
        ];
        for (op, line) in ops.iter().zip(expect) {
            assert_eq!(op.to_string(), line);
            assert_eq!(
                memblock::replay::parse_line(line).unwrap(),
                Some(op.op),
                "{line}"
            );
        }
        assert_eq!(ops.iter().filter(|o| o.is_alloc()).count(), 3);
        assert_eq!(
            ops[3].freed(),
            Some((PhysAddr::new(0x8000), PhysSize::new(0x80)))
        );
        assert_eq!(ops[2].freed(), None);
    }

    #[test]
    fn raw_limits_map_to_memblocks_names() {
        assert_eq!(AllocLimit::from_raw(0), AllocLimit::Accessible);
        assert_eq!(AllocLimit::from_raw(u64::MAX), AllocLimit::Anywhere);
        assert_eq!(
            AllocLimit::from_raw(0x1000),
            AllocLimit::Addr(PhysAddr::new(0x1000))
        );
    }
}
