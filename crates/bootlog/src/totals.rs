//! memblock's reserved array as the log builds it.

use alloc::vec::Vec;

use phys::{PhysAddr, PhysSize};

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
