//! memblock's reserved array as the log builds it, and per-node totals of a placement.

use alloc::vec::Vec;

use percpu::{Allocation, NodeTotals, StructureKind};
use phys::{NodeId, PhysAddr, PhysSize};

use crate::event::Range;

/// A set of byte ranges kept sorted and merged the way memblock keeps `reserved`:
/// overlapping and adjacent reservations become one region (reserved regions all carry
/// `MAX_NUMNODES` and no flags, so memblock merges every adjacent pair).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// `[start, end)` pairs, ascending, disjoint and never touching.
    spans: Vec<(u64, u64)>,
}

impl RangeSet {
    /// An empty set.
    pub const fn new() -> Self {
        Self { spans: Vec::new() }
    }

    /// `memblock_reserve`: adds the range.
    pub fn add(&mut self, r: Range) {
        let (lo, hi) = (r.base.as_u64(), r.end().as_u64());
        if lo >= hi {
            return;
        }
        // Spans that overlap or touch [lo, hi) are merged into it.
        let first = self.spans.partition_point(|s| s.1 < lo);
        let last = self.spans.partition_point(|s| s.0 <= hi);
        let (mut nlo, mut nhi) = (lo, hi);
        if first < last {
            nlo = nlo.min(self.spans[first].0);
            nhi = nhi.max(self.spans[last - 1].1);
        }
        self.spans.splice(first..last, [(nlo, nhi)]);
    }

    /// `memblock_phys_free`: removes the range, splitting a region if needed.
    pub fn remove(&mut self, r: Range) {
        let (lo, hi) = (r.base.as_u64(), r.end().as_u64());
        if lo >= hi {
            return;
        }
        let first = self.spans.partition_point(|s| s.1 <= lo);
        let last = self.spans.partition_point(|s| s.0 < hi);
        if first >= last {
            return;
        }
        let mut keep: Vec<(u64, u64)> = Vec::with_capacity(2);
        let (a, b) = (self.spans[first], self.spans[last - 1]);
        if a.0 < lo {
            keep.push((a.0, lo));
        }
        if b.1 > hi {
            keep.push((hi, b.1));
        }
        self.spans.splice(first..last, keep);
    }

    /// The regions, ascending.
    pub fn ranges(&self) -> Vec<Range> {
        self.spans
            .iter()
            .map(|&(lo, hi)| Range {
                base: PhysAddr::new(lo),
                size: PhysSize::new(hi - lo),
            })
            .collect()
    }
}

fn is_array(kind: StructureKind) -> bool {
    matches!(
        kind,
        StructureKind::PacaArray | StructureKind::LppacaArray | StructureKind::SlbShadowArray
    )
}

/// Per-node totals with the meanings [`NodeTotals`] documents, from the live
/// allocations, memblock's reserved regions, and a node lookup for the regions.
pub fn node_totals(
    allocs: &[Allocation],
    reserved: &[Range],
    node_of: impl Fn(PhysAddr) -> Option<NodeId>,
    page_size: u64,
) -> Vec<NodeTotals> {
    let mut nodes: Vec<NodeTotals> = Vec::new();
    fn slot(nodes: &mut Vec<NodeTotals>, node: Option<NodeId>) -> &mut NodeTotals {
        let i = match nodes.iter().position(|n| n.node == node) {
            Some(i) => i,
            None => {
                nodes.push(NodeTotals {
                    node,
                    ..NodeTotals::default()
                });
                nodes.len() - 1
            }
        };
        &mut nodes[i]
    }
    let live: Vec<&Allocation> = allocs.iter().filter(|a| !a.freed).collect();
    let mut blocks: Vec<(u64, u64)> = Vec::new();
    for a in &live {
        let t = slot(&mut nodes, a.memory_node);
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
    blocks.sort_unstable();
    let touches = |lo: u64, hi: u64| {
        let i = blocks.partition_point(|b| b.1 <= lo);
        blocks.get(i).is_some_and(|b| b.0 < hi)
    };
    let mut spans: Vec<(u64, u64)> = reserved
        .iter()
        .map(|r| (r.base.as_u64(), r.end().as_u64()))
        .collect();
    spans.sort_unstable();
    for &(lo, hi) in &spans {
        if touches(lo, hi) {
            slot(&mut nodes, node_of(PhysAddr::new(lo))).reserved_regions += 1;
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
            slot(&mut nodes, node_of(PhysAddr::new(a.1))).alignment_gaps += gap;
        }
    }
    nodes.sort_by_key(|n| (n.node.is_none(), n.node));
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(lo: u64, hi: u64) -> Range {
        Range {
            base: PhysAddr::new(lo),
            size: PhysSize::new(hi - lo),
        }
    }

    fn spans(s: &RangeSet) -> Vec<(u64, u64)> {
        s.ranges()
            .iter()
            .map(|r| (r.base.as_u64(), r.end().as_u64()))
            .collect()
    }

    #[test]
    fn reserve_merges_and_free_splits() {
        let mut s = RangeSet::new();
        s.add(r(0x100, 0x200));
        s.add(r(0x300, 0x400));
        s.add(r(0x200, 0x300));
        assert_eq!(spans(&s), [(0x100, 0x400)]);
        s.add(r(0x50, 0x60));
        s.add(r(0x380, 0x500));
        assert_eq!(spans(&s), [(0x50, 0x60), (0x100, 0x500)]);
        s.remove(r(0x200, 0x280));
        assert_eq!(spans(&s), [(0x50, 0x60), (0x100, 0x200), (0x280, 0x500)]);
        s.remove(r(0x0, 0x150));
        assert_eq!(spans(&s), [(0x150, 0x200), (0x280, 0x500)]);
        s.remove(r(0x180, 0x180));
        s.add(r(0x600, 0x600));
        assert_eq!(spans(&s), [(0x150, 0x200), (0x280, 0x500)]);
        s.remove(r(0x0, 0x1000));
        assert!(s.ranges().is_empty());
    }
}
