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
    let live: Vec<&Allocation> = allocs.iter().filter(|a| !a.freed).collect();
    let mut blocks: Vec<(u64, u64)> = Vec::new();
    for a in &live {
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
            live.iter()
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
    // Ordered as the pairs compare, through one 128-bit key: cheaper comparisons
    // over the 65 000 blocks of an 8192-CPU plan.
    blocks.sort_unstable_by_key(|&(lo, hi)| (u128::from(lo) << 64) | u128::from(hi));
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
