//! The node id a region stores.

use core::fmt;

use crate::NodeId;

/// The node id stored in a region (Linux's `int memblock_region.nid`).
///
/// Linux has two values for "no node" and keeps them apart: `memblock_add` and
/// `memblock_reserve` store `MAX_NUMNODES`, `memblock_add_node(.., NUMA_NO_NODE, ..)`
/// stores -1. Allocation searches treat both as "not this node", but
/// `memblock_merge_regions` compares the stored values, so a `MAX_NUMNODES` region and
/// a `NUMA_NO_NODE` region that touch stay two regions, and a dump shows which is which.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionNid {
    /// A real node, `0..MAX_NUMNODES`.
    Node(NodeId),
    /// `MAX_NUMNODES` (256 on ppc64): stored by `memblock_add`, `memblock_reserve` and
    /// Linux's empty-array placeholder.
    MaxNumNodes,
    /// `NUMA_NO_NODE` (-1): stored by `memblock_add_node` or `memblock_set_node` when
    /// the caller passes it.
    NumaNoNode,
}

impl RegionNid {
    /// The node, if this is one.
    pub const fn node(self) -> Option<NodeId> {
        match self {
            Self::Node(n) => Some(n),
            Self::MaxNumNodes | Self::NumaNoNode => None,
        }
    }

    /// The `int` Linux stores, as the 32 bits read unsigned: the node number, 256, or
    /// `0xffff_ffff` for -1. This is what the replay's `dump` prints.
    pub const fn linux(self) -> u32 {
        match self {
            Self::Node(n) => n.get(),
            Self::MaxNumNodes => NodeId::MAX_NUMNODES,
            Self::NumaNoNode => u32::MAX,
        }
    }

    /// The `int` Linux stores: the node number, 256, or -1.
    pub const fn linux_signed(self) -> i32 {
        match self {
            Self::Node(n) => n.get() as i32,
            Self::MaxNumNodes => NodeId::MAX_NUMNODES as i32,
            Self::NumaNoNode => -1,
        }
    }

    /// Whether a search for `want` (`None`: any node, Linux's `NUMA_NO_NODE`, to which
    /// Linux also turns the deprecated `MAX_NUMNODES`) accepts a region storing `self`:
    /// the `nid != NUMA_NO_NODE && nid != m_nid` test of `should_skip_region`, negated.
    pub fn matches(self, want: Option<NodeId>) -> bool {
        match want {
            None => true,
            Some(n) => self == Self::Node(n),
        }
    }
}

/// `None` is `MAX_NUMNODES`, what `memblock_add` stores: the meaning `Option<NodeId>`
/// has always had in this crate's region operations.
impl From<Option<NodeId>> for RegionNid {
    fn from(nid: Option<NodeId>) -> Self {
        nid.map_or(Self::MaxNumNodes, Self::Node)
    }
}

impl From<NodeId> for RegionNid {
    fn from(nid: NodeId) -> Self {
        Self::Node(nid)
    }
}

impl fmt::Display for RegionNid {
    /// Lowercase `0x` hex of [`RegionNid::linux`], as a replay dump prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.linux())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_values_and_matching() {
        let n3 = NodeId::new(3);
        assert_eq!(RegionNid::from(n3).linux(), 3);
        assert_eq!(RegionNid::from(None).linux(), 0x100);
        assert_eq!(RegionNid::NumaNoNode.linux(), 0xffff_ffff);
        assert_eq!(RegionNid::NumaNoNode.linux_signed(), -1);
        assert_eq!(alloc_free_display(RegionNid::NumaNoNode), "0xffffffff");
        for r in [RegionNid::MaxNumNodes, RegionNid::NumaNoNode] {
            assert!(r.matches(None));
            assert!(!r.matches(n3));
            assert_eq!(r.node(), None);
        }
        assert!(RegionNid::from(n3).matches(n3));
        assert!(!RegionNid::from(n3).matches(NodeId::new(4)));
    }

    fn alloc_free_display(r: RegionNid) -> std::string::String {
        use std::string::ToString;
        r.to_string()
    }
}
