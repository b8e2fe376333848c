//! Per-node chains through the memory array, so that a node-local search visits only
//! that node's memory regions.
//!
//! Linux's walk looks at every memory region and skips those of other nodes. With one
//! region per node on a 256-node machine, that skipping costs more than the indexed
//! gap search itself. The chains link each memory region to the previous and next
//! region of the same node (as Linux stores the node id), in address order.
//!
//! They are rebuilt (`O(n)` for `n` memory regions) once at the end of a public
//! operation that changed the memory array, never per region changed: the memory
//! array is short and changes rarely compared with allocations. While they are stale
//! (inside an operation that changed memory, or after a heap failure) searches filter
//! every region as Linux does, with the same result.

use alloc::vec::Vec;

use crate::Region;

/// No region (end of a chain).
const NONE: u32 = u32::MAX;

/// Number of node-id slots: node ids `0..=MAX_NUMNODES` (the last one is "no node").
const SLOTS: usize = crate::NodeId::MAX_NUMNODES as usize + 1;

/// Chains of memory regions per node id.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeLinks {
    /// Per region: the previous region of the same node, or [`NONE`].
    prev: Vec<u32>,
    /// Per region: the next region of the same node, or [`NONE`].
    next: Vec<u32>,
    /// Per node id slot: its first and last regions.
    ends: Vec<(u32, u32)>,
    enabled: bool,
    /// Whether the chains describe the array.
    fresh: bool,
}

impl NodeLinks {
    /// Chains that follow their array if `enabled` (built at the first refresh).
    pub(crate) const fn new(enabled: bool) -> Self {
        Self {
            prev: Vec::new(),
            next: Vec::new(),
            ends: Vec::new(),
            enabled,
            fresh: false,
        }
    }

    /// The array changed: the chains are stale until [`NodeLinks::refresh`].
    pub(crate) fn stale(&mut self) {
        self.fresh = false;
    }

    /// Whether searches may use the chains.
    pub(crate) fn usable(&self) -> bool {
        self.enabled && self.fresh
    }

    /// Rebuilds the chains if the array changed since the last build.
    pub(crate) fn refresh(&mut self, rs: &[Region]) {
        if !self.enabled || self.fresh {
            return;
        }
        let n = rs.len();
        if u32::try_from(n).is_err() {
            return;
        }
        self.prev.clear();
        self.next.clear();
        self.ends.clear();
        let room = |v: &mut Vec<u32>| crate::store::grow(v, n);
        if !room(&mut self.prev) || !room(&mut self.next) || self.ends.try_reserve(SLOTS).is_err() {
            return;
        }
        self.ends.resize(SLOTS, (NONE, NONE));
        self.next.resize(n, NONE);
        for (i, r) in rs.iter().enumerate() {
            let i = i as u32;
            let Some(end) = self.ends.get_mut(slot(r)) else {
                self.prev.push(NONE);
                continue;
            };
            self.prev.push(end.1);
            match self.next.get_mut(end.1 as usize) {
                Some(link) => *link = i,
                None => end.0 = i,
            }
            end.1 = i;
        }
        self.fresh = true;
    }

    /// Indices of the regions with node id `nid` (as Linux stores it), highest
    /// address first.
    pub(crate) fn descending(&self, nid: u32) -> impl Iterator<Item = usize> + '_ {
        let first = self.ends.get(nid as usize).map_or(NONE, |e| e.1);
        chain(first, &self.prev)
    }

    /// Indices of the regions with node id `nid`, lowest address first.
    pub(crate) fn ascending(&self, nid: u32) -> impl Iterator<Item = usize> + '_ {
        let first = self.ends.get(nid as usize).map_or(NONE, |e| e.0);
        chain(first, &self.next)
    }
}

impl NodeLinks {
    /// Whether the chains (if fresh) match `rs` (for tests).
    pub(crate) fn check(&self, rs: &[Region]) -> Result<(), &'static str> {
        if !self.usable() {
            return Ok(());
        }
        let mut built = Self::new(true);
        built.refresh(rs);
        if built.prev != self.prev || built.next != self.next || built.ends != self.ends {
            return Err("a node chain does not match the memory array");
        }
        Ok(())
    }
}

fn slot(r: &Region) -> usize {
    r.linux_nid() as usize
}

fn chain(first: u32, links: &[u32]) -> impl Iterator<Item = usize> + '_ {
    core::iter::successors((first != NONE).then_some(first), move |&i| {
        links.get(i as usize).copied().filter(|&j| j != NONE)
    })
    .map(|i| i as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NodeId, PhysAddr, PhysSize, RegionFlags, RegionNid};

    /// Regions alternating between nodes 0 and 1, and one with no node.
    fn regions() -> Vec<Region> {
        (0..7u64)
            .map(|i| Region {
                base: PhysAddr::new(i << 20),
                size: PhysSize::new(1 << 19),
                flags: RegionFlags::NONE,
                nid: match i {
                    6 => RegionNid::NumaNoNode,
                    _ => RegionNid::Node(NodeId::new((i % 2) as u32).unwrap()),
                },
            })
            .collect()
    }

    /// The chains follow each node in address order, and `check` (what `check_index`
    /// relies on) notices a wrong link in any of the three tables.
    #[test]
    fn chains_and_their_check() {
        let rs = regions();
        let mut links = NodeLinks::new(true);
        links.refresh(&rs);
        assert!(links.usable());
        assert_eq!(links.ascending(0).collect::<Vec<_>>(), [0, 2, 4]);
        assert_eq!(links.descending(1).collect::<Vec<_>>(), [5, 3, 1]);
        assert_eq!(links.check(&rs), Ok(()));
        for table in 0..3 {
            let mut bad = links.clone();
            match table {
                0 => bad.prev[2] = NONE,
                1 => bad.next[2] = NONE,
                _ => bad.ends[0].1 = 2,
            }
            assert!(bad.check(&rs).is_err(), "table {table}");
        }
    }

    /// A refused heap leaves the chains stale (searches then walk every region, as
    /// Linux does), whichever of the two link tables could not grow; the next refresh
    /// with a willing heap builds them.
    #[test]
    fn refused_heap_leaves_the_chains_stale() {
        use crate::store::fault::fail_heap_after;
        let rs = regions();
        for refused in 0..2 {
            let mut links = NodeLinks::new(true);
            fail_heap_after(Some(refused));
            links.refresh(&rs);
            fail_heap_after(None);
            assert!(!links.usable(), "table {refused} refused");
            links.refresh(&rs);
            assert!(links.usable());
            assert_eq!(links.check(&rs), Ok(()));
        }
    }
}
