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

/// One memblock call made by a plan, with its outcome: a line of the `numaboot memblock
/// replay` language (see [`MemOp`]'s `Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MemOp {
    /// `add BASE SIZE [NID]`.
    Add {
        /// Base.
        base: PhysAddr,
        /// Size.
        size: PhysSize,
        /// Node, if `memblock_add_node` was used with one.
        nid: Option<NodeId>,
    },
    /// `reserve BASE SIZE`.
    Reserve {
        /// Base.
        base: PhysAddr,
        /// Size.
        size: PhysSize,
    },
    /// `free BASE SIZE` (`memblock_phys_free`).
    Free {
        /// Base.
        base: PhysAddr,
        /// Size.
        size: PhysSize,
    },
    /// `set_node BASE SIZE NID`.
    SetNode {
        /// Base.
        base: PhysAddr,
        /// Size.
        size: PhysSize,
        /// Node.
        nid: NodeId,
    },
    /// `limit ADDR`.
    Limit(PhysAddr),
    /// `bottom_up 0|1`.
    BottomUp(bool),
    /// `alloc_try_nid SIZE ALIGN MIN MAX NID` and the address it returned.
    AllocTryNid {
        /// Size.
        size: PhysSize,
        /// Alignment.
        align: u64,
        /// Lower bound.
        min: PhysAddr,
        /// Upper bound.
        #[cfg_attr(feature = "serde", serde(with = "AllocLimitDef"))]
        max: AllocLimit,
        /// Node asked for.
        nid: Option<NodeId>,
        /// What memblock returned.
        result: Option<PhysAddr>,
    },
    /// `alloc SIZE ALIGN START END NID EXACT` and the address it returned.
    Alloc {
        /// Size.
        size: PhysSize,
        /// Alignment.
        align: u64,
        /// Lower bound.
        start: PhysAddr,
        /// Upper bound.
        #[cfg_attr(feature = "serde", serde(with = "AllocLimitDef"))]
        end: AllocLimit,
        /// Node asked for.
        nid: Option<NodeId>,
        /// No fallback to other nodes.
        exact: bool,
        /// What memblock returned.
        result: Option<PhysAddr>,
    },
}

impl MemOp {
    /// The call as a line of memblock's replay language ([`memblock::replay::Op`]),
    /// without its result (replay computes it again).
    pub fn to_replay(&self) -> Op {
        match *self {
            Self::Add { base, size, nid } => Op::Add {
                base,
                size,
                nid: nid.into(),
            },
            Self::Reserve { base, size } => Op::Range {
                kind: RangeOp::Reserve,
                base,
                size,
            },
            Self::Free { base, size } => Op::Range {
                kind: RangeOp::Free,
                base,
                size,
            },
            Self::SetNode { base, size, nid } => Op::SetNode { base, size, nid },
            Self::Limit(a) => Op::Limit(a),
            Self::BottomUp(b) => Op::BottomUp(b),
            Self::AllocTryNid {
                size,
                align,
                min,
                max,
                nid,
                ..
            } => Op::AllocTryNid {
                size,
                align,
                min,
                max,
                nid,
            },
            Self::Alloc {
                size,
                align,
                start,
                end,
                nid,
                exact,
                ..
            } => Op::Alloc {
                size,
                align,
                start,
                end,
                nid,
                exact,
            },
        }
    }
}

impl fmt::Display for MemOp {
    /// The replay line ([`MemOp::to_replay`]), printed by memblock's own printer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_replay(), f)
    }
}

/// `serde` for [`AllocLimit`] (memblock has no `serde` feature): the same shape as a
/// derived enum, `"Accessible"`, `"Anywhere"` or `{"Addr": N}`.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(remote = "AllocLimit")]
enum AllocLimitDef {
    Accessible,
    Anywhere,
    Addr(PhysAddr),
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn every_op_prints_a_line_the_replay_parser_reads_back() {
        let n = NodeId::new(3);
        let ops = [
            MemOp::Add {
                base: PhysAddr::new(0x1000_0000),
                size: PhysSize::new(0x4000_0000),
                nid: n,
            },
            MemOp::Add {
                base: PhysAddr::ZERO,
                size: PhysSize::new(0x1000),
                nid: None,
            },
            MemOp::Reserve {
                base: PhysAddr::ZERO,
                size: PhysSize::new(0x200_0000),
            },
            MemOp::Free {
                base: PhysAddr::new(0x8000),
                size: PhysSize::new(0x80),
            },
            MemOp::SetNode {
                base: PhysAddr::ZERO,
                size: PhysSize::new(0x1000),
                nid: NodeId::ZERO,
            },
            MemOp::Limit(PhysAddr::new(0x4000_0000)),
            MemOp::Limit(PhysAddr::MAX),
            MemOp::BottomUp(true),
            MemOp::AllocTryNid {
                size: PhysSize::new(0x400),
                align: 0x400,
                min: PhysAddr::ZERO,
                max: AllocLimit::Addr(PhysAddr::new(0x4000_0000)),
                nid: n,
                result: None,
            },
            MemOp::AllocTryNid {
                size: PhysSize::new(0x80),
                align: 0x80,
                min: PhysAddr::ZERO,
                max: AllocLimit::Accessible,
                nid: None,
                result: None,
            },
            MemOp::Alloc {
                size: PhysSize::new(0x1_0000),
                align: 0x1_0000,
                start: PhysAddr::ZERO,
                end: AllocLimit::Anywhere,
                nid: None,
                exact: false,
                result: None,
            },
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
            let parsed = memblock::replay::parse_line(line).unwrap();
            assert!(parsed.is_some(), "{line}");
        }
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
