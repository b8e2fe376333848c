//! Per-node totals of a placement: what each node's memory holds (used, padding,
//! alignment gaps, allocations, reserved regions) and how many of its CPUs'
//! structures live elsewhere. Shared by the planner and by readers of real boot logs,
//! so that a plan and a boot are totalled the same way.

use alloc::vec::Vec;

use phys::{NodeId, PhysAddr, PhysSize};

use crate::report::{Allocation, NodeTotals, StructureKind};

fn is_array(kind: StructureKind) -> bool {
    kind.is_container()
}

/// Per-node totals with the meanings [`NodeTotals`] documents, from the live
/// allocations, memblock's reserved regions, and a node lookup for the regions.
pub fn node_totals(
    allocs: &[Allocation],
    reserved: &[(PhysAddr, PhysSize)],
    node_of: impl Fn(PhysAddr) -> Option<NodeId>,
    page_size: u64,
) -> Vec<NodeTotals> {
    let mut nodes: Vec<NodeTotals> = Vec::new();
    // Where each node's totals are in `nodes` (by node id, the last entry for no node):
    // one lookup per allocation instead of a walk over the nodes.
    let mut at = [usize::MAX; NodeId::MAX_NUMNODES as usize + 1];
    let mut slot = |nodes: &mut Vec<NodeTotals>, node: Option<NodeId>| -> usize {
        let key = node.map_or(NodeId::MAX_NUMNODES as usize, NodeId::index);
        match at.get(key).copied() {
            Some(i) if i != usize::MAX => i,
            _ => {
                nodes.push(NodeTotals {
                    node,
                    ..NodeTotals::default()
                });
                if let Some(i) = at.get_mut(key) {
                    *i = nodes.len() - 1;
                }
                nodes.len() - 1
            }
        }
    };
    let live = || allocs.iter().filter(|a| !a.freed);
    // Sized once: growing by doubling copies it several times into fresh pages.
    let mut blocks: Vec<(u64, u64)> = Vec::with_capacity(allocs.len());
    for a in live() {
        let i = slot(&mut nodes, a.memory_node);
        let t = &mut nodes[i];
        // An array's own bytes are counted through its slots.
        if !is_array(a.kind) {
            t.used += a.size.as_u64();
        }
        if a.kind.is_per_cpu() && a.home_node.is_some() && !a.is_local() {
            t.remote_structures += 1;
        }
        if a.in_array {
            continue;
        }
        t.allocations += 1;
        let inside = if is_array(a.kind) {
            let (lo, hi) = (a.addr, a.addr.saturating_add(a.reserved));
            live()
                .filter(|s| s.in_array && s.addr >= lo && s.end() <= hi)
                .map(|s| s.size.as_u64())
                .sum()
        } else {
            a.size.as_u64()
        };
        t.padding += a.reserved.as_u64().saturating_sub(inside);
        blocks.push((
            a.addr.as_u64(),
            a.addr.as_u64().saturating_add(a.reserved.as_u64()),
        ));
    }
    sort_blocks(&mut blocks);
    let touches = |lo: u64, hi: u64| {
        let i = blocks.partition_point(|b| b.1 <= lo);
        blocks.get(i).is_some_and(|b| b.0 < hi)
    };
    let mut spans: Vec<(u64, u64)> = reserved
        .iter()
        .map(|(b, s)| (b.as_u64(), b.as_u64().saturating_add(s.as_u64())))
        .collect();
    spans.sort_unstable();
    for &(lo, hi) in &spans {
        if touches(lo, hi) {
            let i = slot(&mut nodes, node_of(PhysAddr::new(lo)));
            nodes[i].reserved_regions += 1;
        }
    }
    for w in spans.windows(2) {
        let (a, b) = (w[0], w[1]);
        let gap = b.0.saturating_sub(a.1);
        if gap > 0
            && gap < page_size
            && touches(a.1.saturating_sub(1), a.1)
            && touches(b.0, b.0.saturating_add(1))
        {
            let i = slot(&mut nodes, node_of(PhysAddr::new(a.1)));
            nodes[i].alignment_gaps += gap;
        }
    }
    nodes.sort_by_key(|n| (n.node.is_none(), n.node));
    nodes
}

/// Sorts `blocks` as the pairs compare, with what any sort gives (equal pairs are
/// alike): by start alone, then each run of equal starts by end (the two ends of an
/// empty block and its neighbour, if any). Comparing one word instead of two made
/// the sort of the 65 000 blocks of an 8192-CPU plan a third cheaper; a radix sort
/// by start did fewer instructions but scattered its writes over the cache and was
/// slower.
fn sort_blocks(blocks: &mut [(u64, u64)]) {
    blocks.sort_unstable_by_key(|b| b.0);
    for run in blocks.chunk_by_mut(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            run.sort_unstable();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sort_blocks;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    proptest! {
        /// The blocks sort as the pairs compare, whatever the bytes in which the
        /// starts differ, with equal starts and equal pairs.
        #[test]
        fn blocks_sort_as_pairs_compare(
            raw in proptest::collection::vec((0u8..4, any::<u64>(), any::<u64>()), 0..300),
            shift in 0u32..64,
        ) {
            // Few distinct starts in a few bytes (shifted anywhere), or any.
            let blocks: Vec<(u64, u64)> = raw
                .iter()
                .map(|&(k, lo, hi)| match k {
                    0 => (lo, hi),
                    1 => ((lo % 5) << shift, hi),
                    2 => ((lo & 0xffff) << (shift % 48), lo.wrapping_add(hi % 3)),
                    _ => (u64::MAX - lo % 3, hi % 2),
                })
                .collect();
            let mut ours = blocks.clone();
            sort_blocks(&mut ours);
            let mut theirs = blocks;
            theirs.sort_unstable();
            prop_assert_eq!(ours, theirs);
        }
    }
}
