//! NUMA node ids.

use core::fmt;

/// A NUMA node id that names a real node: `0 <= id < MAX_NUMNODES`.
///
/// Linux passes node ids as `int`, with `NUMA_NO_NODE` (-1) for "no preference" and
/// `MAX_NUMNODES` as a marker on memblock regions that belong to no node. numaboot keeps
/// those two out of this type: "no node" is `Option<NodeId>::None` where an API accepts it,
/// and crates that must reproduce Linux's printed values (memblock's region `nid`) map
/// `None` back to Linux's numbers at their edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u32", into = "u32"))]
pub struct NodeId(u16);

impl NodeId {
    /// Linux ppc64's `MAX_NUMNODES` (`1 << CONFIG_NODES_SHIFT`, NODES_SHIFT = 8).
    pub const MAX_NUMNODES: u32 = 256;
    /// Node 0, the node of every non-NUMA machine.
    pub const ZERO: Self = Self(0);

    /// A node id, or `None` if `id >= MAX_NUMNODES`: an out-of-range id is refused
    /// here, at construction, rather than turning into "no node" later.
    ///
    /// ```
    /// use phys::NodeId;
    ///
    /// assert_eq!(NodeId::new(3).map(NodeId::get), Some(3));
    /// assert_eq!(NodeId::new(300), None);
    /// assert!(NodeId::try_from(300u32).is_err()); // the same check, as an error value
    /// ```
    pub const fn new(id: u32) -> Option<Self> {
        if id < Self::MAX_NUMNODES {
            Some(Self(id as u16))
        } else {
            None
        }
    }

    /// The id as Linux's `int nid` holds it.
    pub const fn get(self) -> u32 {
        self.0 as u32
    }

    /// The id as an index into per-node tables.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a number is not a [`NodeId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeIdOutOfRange(pub u32);

impl fmt::Display for NodeIdOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node id {} is not below MAX_NUMNODES ({})",
            self.0,
            NodeId::MAX_NUMNODES
        )
    }
}

impl core::error::Error for NodeIdOutOfRange {}

impl TryFrom<u32> for NodeId {
    type Error = NodeIdOutOfRange;

    fn try_from(id: u32) -> Result<Self, Self::Error> {
        Self::new(id).ok_or(NodeIdOutOfRange(id))
    }
}

impl From<NodeId> for u32 {
    fn from(n: NodeId) -> u32 {
        n.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range() {
        assert_eq!(NodeId::new(255).map(NodeId::get), Some(255));
        assert_eq!(NodeId::new(256), None);
        assert_eq!(NodeId::try_from(u32::MAX), Err(NodeIdOutOfRange(u32::MAX)));
    }
}
