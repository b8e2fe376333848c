//! The indexed allocation search over the memory regions: what Linux's
//! `memblock_find_in_range_node` returns, found with the gap index of the reserved
//! array (`index.rs`) inside each memory region's window.
//!
//! It borrows what it reads from the memblock field by field ([`Search`]), so that the
//! allocator can hand it the reserved array's search memo in place while it reads the
//! leaves beside it.

use crate::index::WalkMemo;
use crate::nodes::NodeLinks;
use crate::{NodeId, Region, RegionFlags};

/// What the indexed search reads besides the reserved array's leaves, borrowed from
/// the memory array and copied from the memblock's flags: the allocator can then lend
/// the search the reserved array's memo in place (it copied the memo, some 130 bytes,
/// out and back at every allocation).
#[derive(Clone, Copy)]
pub(crate) struct Search<'a> {
    /// The memory regions.
    pub(crate) memory: &'a [Region],
    /// Their per-node chains, if up to date.
    pub(crate) links: Option<&'a NodeLinks>,
    /// `movable_node`: hotpluggable memory is skipped.
    pub(crate) movable_node: bool,
    /// Which way the walk goes.
    pub(crate) bottom_up: bool,
    /// The request's range, as `memblock_find_in_range_node` bounds it.
    pub(crate) bounds: (u64, u64),
}

impl Search<'_> {
    /// `memblock_find_in_range_node` with the gap index (see `index.rs`): memory
    /// regions are filtered in the outer loop as Linux filters them, and within each
    /// region's window the index finds the gap Linux's walk would stop at. Only for a
    /// nonzero `size` (a zero-sized request can stop at an empty clamped range, which
    /// the linear walk handles).
    pub(crate) fn find_indexed(
        self,
        leaves: &[crate::store::Leaf],
        size: u64,
        align: u64,
        nid: Option<NodeId>,
        flags: RegionFlags,
        memo: &mut WalkMemo,
    ) -> u64 {
        let (start, end) = self.bounds;
        let memory = self.memory;
        let window = |m: &Region| {
            if crate::iter::should_skip(m, nid, flags, self.movable_node) {
                return None;
            }
            let ws = m.base.as_u64().max(start);
            let we = m.end().as_u64().min(end);
            (ws < we).then_some((ws, we))
        };
        // A node-local request follows its node's chain when it is up to date; the
        // regions it skips are those `should_skip` rejects for their node.
        let chain = nid.zip(self.links);
        if self.bottom_up {
            let mut regions: &mut dyn Iterator<Item = &Region> = match chain {
                Some((n, links)) => &mut links
                    .ascending(n.get())
                    .filter_map(|i| memory.get(i))
                    .skip_while(|m| m.end().as_u64() <= start),
                None => {
                    let first = memory.partition_point(|r| r.end().as_u64() <= start);
                    &mut memory.get(first..).unwrap_or(&[]).iter()
                }
            };
            for m in &mut regions {
                if m.base.as_u64() >= end {
                    break;
                }
                if let Some((ws, we)) = window(m) {
                    if let Some(a) = crate::index::find_bottom_up(leaves, ws, we, size, align) {
                        return a;
                    }
                }
            }
        } else {
            let mut regions: &mut dyn Iterator<Item = &Region> = match chain {
                Some((n, links)) => &mut links
                    .descending(n.get())
                    .filter_map(|i| memory.get(i))
                    .skip_while(|m| m.base.as_u64() >= end),
                None => {
                    let past = starting_below(memory, end, &mut memo.memory_below);
                    &mut memory.get(..past).unwrap_or(&[]).iter().rev()
                }
            };
            for m in &mut regions {
                if m.end().as_u64() <= start {
                    break;
                }
                if let Some((ws, we)) = window(m) {
                    if let Some(a) = crate::index::find_top_down(leaves, ws, we, size, align, memo)
                    {
                        return a;
                    }
                }
            }
        }
        0
    }
}

/// How many of the (sorted) memory regions start below `end`, trying `hint` (an
/// earlier answer) first and keeping the answer there. The hint is checked against
/// the regions on either side of it, so a stale one costs two comparisons, never a
/// wrong answer.
pub(crate) fn starting_below(memory: &[Region], end: u64, hint: &mut Option<usize>) -> usize {
    let below = |r: &Region| r.base.as_u64() < end;
    if let Some(k) = *hint {
        let lower = k
            .checked_sub(1)
            .map_or(Some(true), |i| memory.get(i).map(below));
        let upper = memory.get(k).is_none_or(|r| !below(r));
        if lower == Some(true) && upper {
            return k;
        }
    }
    let k = memory.partition_point(below);
    *hint = Some(k);
    k
}

#[cfg(test)]
mod tests {
    use super::starting_below;
    use crate::test_util::span;
    use alloc::vec::Vec;

    /// Whatever the hint (right, stale, out of range or none), the count is the
    /// binary search's, and the hint is left at it.
    #[test]
    fn a_hinted_count_is_the_binary_searchs() {
        for n in 0..6u64 {
            let memory: Vec<_> = (0..n).map(|i| span(0x1000 + i * 0x1000, 0x800)).collect();
            for end in (0..=n + 2).flat_map(|i| [i * 0x1000, i * 0x1000 + 1, i * 0x1000 + 0x800]) {
                let expected = memory.partition_point(|r| r.base.as_u64() < end);
                let hints = (0..=memory.len() + 1).map(Some).chain([None]);
                for start in hints {
                    let mut hint = start;
                    assert_eq!(
                        starting_below(&memory, end, &mut hint),
                        expected,
                        "{start:?}"
                    );
                    assert_eq!(hint, Some(expected));
                }
            }
        }
    }
}
