//! Backing storage of one region array.
//!
//! Linux keeps each array in a fixed C array whose capacity (`type->max`) doubles on
//! demand. Here the *logical* capacity is tracked separately (it decides when Linux
//! would double, and how big the array it reserves is), so the storage only has to hold
//! the regions, in Linux's order: with the `alloc` feature in leaves on the heap (so
//! that a split in the middle of a long reserved array moves one leaf, not the array's
//! tail), without it an inline array of `N` regions.

use crate::Region;

#[cfg(feature = "alloc")]
mod imp {
    use super::Region;
    use crate::index::GapIndex;
    use crate::nodes::NodeLinks;
    use crate::view::Regions;
    use alloc::vec::Vec;

    /// Most regions one leaf of a split store holds. A middle insert moves at most this
    /// many regions (6 KiB) plus one `usize` per leaf, instead of the array's tail.
    pub(crate) const LEAF_MAX: usize = 256;

    /// Growable storage, and the search structures that follow it when enabled: the
    /// gap index (reserved array), updated by every change, and the per-node chains
    /// (memory array), marked stale by every change and rebuilt by
    /// [`Store::refresh_nodes`]. Every change goes through the methods below.
    ///
    /// The regions are kept in leaves: consecutive runs of the array, in order. The
    /// reserved array (`split`) cuts a leaf in two when it would pass [`LEAF_MAX`] and
    /// drops leaves that empty, so no insert or removal moves more than a leaf; its
    /// leaves are never empty. The memory array (a few hundred regions at most, read as
    /// a slice by callers and by the node chains) stays in one leaf.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Store<const N: usize> {
        leaves: Vec<Vec<Region>>,
        /// `starts[c]`: index of leaf `c`'s first region.
        starts: Vec<usize>,
        len: usize,
        split: bool,
        /// Empty leaf buffers of capacity [`LEAF_MAX`], taken by splits; kept topped up
        /// by [`Store::reserve`] so that reserved inserts cannot fail.
        spare: Vec<Vec<Region>>,
        index: GapIndex,
        nodes: NodeLinks,
    }

    impl<const N: usize> Store<N> {
        const fn with(split: bool) -> Self {
            Self {
                leaves: Vec::new(),
                starts: Vec::new(),
                len: 0,
                split,
                spare: Vec::new(),
                index: GapIndex::new(split),
                nodes: NodeLinks::new(!split),
            }
        }
        /// Storage in leaves, whose gaps are indexed (the reserved array).
        pub(crate) const fn indexed() -> Self {
            Self::with(true)
        }
        /// Storage in one piece, with per-node chains (the memory array).
        pub(crate) const fn node_linked() -> Self {
            Self::with(false)
        }
        /// The per-node chains, if enabled and up to date.
        pub(crate) fn nodes(&self) -> Option<&NodeLinks> {
            Some(&self.nodes).filter(|n| n.usable())
        }
        /// Forgets the search structures, as a heap failure while updating them does.
        #[cfg(test)]
        pub(crate) fn drop_search_structures(&mut self) {
            self.index.invalidate();
            self.nodes.stale();
        }
        /// Rebuilds the per-node chains if the array changed.
        pub(crate) fn refresh_nodes(&mut self) {
            let flat = self.leaves.first().map_or(&[][..], Vec::as_slice);
            if !self.split {
                self.nodes.refresh(flat);
            }
        }
        /// All regions.
        pub(crate) fn view(&self) -> Regions<'_> {
            Regions::leaves(&self.leaves, &self.starts, self.len)
        }
        /// The regions of an unsplit store (the memory array) as one slice.
        pub(crate) fn flat(&self) -> &[Region] {
            match self.leaves.as_slice() {
                [one] => one,
                _ => &[],
            }
        }
        /// The gap index, if it is enabled and describes the array.
        pub(crate) fn index(&self) -> Option<&GapIndex> {
            Some(&self.index).filter(|i| i.usable())
        }
        /// Whether the index and the leaves (if any) match the regions.
        pub(crate) fn check_index(&self) -> Result<(), &'static str> {
            let mut at = 0;
            for (c, l) in self.leaves.iter().enumerate() {
                if self.starts.get(c) != Some(&at) {
                    return Err("a leaf's start is stale");
                }
                if self.split && (l.is_empty() || l.len() > LEAF_MAX) {
                    return Err("a leaf is empty or too long");
                }
                at += l.len();
            }
            if at != self.len || self.starts.len() != self.leaves.len() {
                return Err("the leaves do not add up to the length");
            }
            if !self.split && self.leaves.len() > 1 {
                return Err("the memory array is split");
            }
            self.index.check(self.view())?;
            self.nodes.check(self.flat())
        }
        /// Leaf and offset of region `i < len`.
        fn locate(&self, i: usize) -> (usize, usize) {
            let c = self.starts.partition_point(|&s| s <= i).saturating_sub(1);
            (c, i - self.starts.get(c).copied().unwrap_or(0))
        }
        /// Recomputes the starts of leaves `from..`.
        fn fix_starts(&mut self, from: usize) {
            let mut at = match from.checked_sub(1) {
                Some(p) => {
                    self.starts.get(p).copied().unwrap_or(0)
                        + self.leaves.get(p).map_or(0, Vec::len)
                }
                None => 0,
            };
            for (s, l) in self.starts.iter_mut().zip(&self.leaves).skip(from) {
                *s = at;
                at += l.len();
            }
        }
        /// Replaces region `idx` (no-op out of bounds).
        pub(crate) fn set(&mut self, idx: usize, r: Region) {
            if idx < self.len {
                let old = self.index.longest_replaced(self.view(), idx, idx + 1);
                let (c, off) = self.locate(idx);
                if let Some(slot) = self.leaves.get_mut(c).and_then(|l| l.get_mut(off)) {
                    *slot = r;
                }
                self.index.update(
                    Regions::leaves(&self.leaves, &self.starts, self.len),
                    idx,
                    idx + 1,
                    1,
                    old,
                );
                self.nodes.stale();
            }
        }
        /// Whether a real heap growth of `have` spare slots by `want` may go ahead:
        /// false if the heap refuses (or, in the crate's unit tests, is told to,
        /// `fault::fail_heap_after`).
        fn may_grow(have: usize, want: usize) -> bool {
            #[cfg(test)]
            if have < want && fault::should_fail() {
                return false;
            }
            let _ = (have, want);
            true
        }
        fn grow<T>(v: &mut Vec<T>, additional: usize) -> bool {
            Self::may_grow(v.capacity() - v.len(), additional) && v.try_reserve(additional).is_ok()
        }
        /// A leaf buffer of capacity [`LEAF_MAX`], from the spares or the heap.
        fn new_leaf(&mut self) -> Option<Vec<Region>> {
            if let Some(l) = self.spare.pop() {
                return Some(l);
            }
            let mut l = Vec::new();
            (Self::may_grow(0, 1) && l.try_reserve_exact(LEAF_MAX).is_ok()).then_some(l)
        }
        fn recycle(&mut self, mut l: Vec<Region>) {
            if self.spare.len() < 4 && l.capacity() >= LEAF_MAX {
                l.clear();
                self.spare.push(l);
            }
        }
        /// Inserts at `idx <= len` without updating the search structures; `false` (and
        /// no change) if the heap refused.
        fn raw_insert(&mut self, idx: usize, r: Region) -> bool {
            if idx > self.len {
                return false;
            }
            if self.leaves.is_empty() {
                if !Self::grow(&mut self.leaves, 1) || !Self::grow(&mut self.starts, 1) {
                    return false;
                }
                let leaf = if self.split {
                    match self.new_leaf() {
                        Some(l) => l,
                        None => return false,
                    }
                } else {
                    Vec::new()
                };
                self.leaves.push(leaf);
                self.starts.push(0);
            }
            let (c, off) = if idx == self.len {
                let c = self.leaves.len() - 1;
                (c, self.leaves.get(c).map_or(0, Vec::len))
            } else {
                self.locate(idx)
            };
            let full = self.leaves.get(c).is_some_and(|l| l.len() >= LEAF_MAX);
            if !self.split || !full {
                let Some(leaf) = self.leaves.get_mut(c) else {
                    return false;
                };
                if !Self::grow(leaf, 1) {
                    return false;
                }
                leaf.insert(off, r);
                for s in self.starts.iter_mut().skip(c + 1) {
                    *s += 1;
                }
                self.len += 1;
                return true;
            }
            // Split the full leaf in halves, then insert into the half `idx` falls in.
            if !Self::grow(&mut self.leaves, 1) || !Self::grow(&mut self.starts, 1) {
                return false;
            }
            let Some(mut upper) = self.new_leaf() else {
                return false;
            };
            let half = LEAF_MAX / 2;
            if let Some(leaf) = self.leaves.get_mut(c) {
                upper.extend(leaf.drain(half..));
            }
            self.leaves.insert(c + 1, upper);
            self.starts.insert(c + 1, 0);
            let (c, off) = if off <= half {
                (c, off)
            } else {
                (c + 1, off - half)
            };
            if let Some(leaf) = self.leaves.get_mut(c) {
                leaf.insert(off, r);
            }
            self.len += 1;
            self.fix_starts(c);
            true
        }
        /// Removes `start..end` (`end <= len`) without updating the search structures.
        fn raw_remove(&mut self, start: usize, end: usize) {
            if start >= end || end > self.len {
                return;
            }
            let (first, mut off) = self.locate(start);
            let mut c = first;
            let mut left = end - start;
            while left > 0 {
                let Some(leaf) = self.leaves.get_mut(c) else {
                    break;
                };
                let take = left.min(leaf.len() - off);
                leaf.drain(off..off + take);
                left -= take;
                self.len -= take;
                if leaf.is_empty() && (self.split || self.leaves.len() > 1) {
                    let l = self.leaves.remove(c);
                    self.starts.remove(c);
                    self.recycle(l);
                } else {
                    c += 1;
                }
                off = 0;
            }
            // Keep leaves from shrinking to a handful of regions: join a small leaf
            // with its left neighbour when both fit in half a leaf.
            let c = first.min(self.leaves.len().saturating_sub(1));
            if self.split && c > 0 {
                let small = |l: Option<&Vec<Region>>| l.map_or(0, Vec::len);
                if small(self.leaves.get(c - 1)) + small(self.leaves.get(c)) <= LEAF_MAX / 2 {
                    let l = self.leaves.remove(c);
                    self.starts.remove(c);
                    if let Some(prev) = self.leaves.get_mut(c - 1) {
                        prev.extend_from_slice(&l);
                    }
                    self.recycle(l);
                }
            }
            self.fix_starts(first.saturating_sub(1));
        }
        /// Inserts at `idx` (`idx <= len`); `false` if the heap refused to grow.
        pub(crate) fn insert(&mut self, idx: usize, r: Region) -> bool {
            if idx > self.len {
                return false;
            }
            let old = self.index.longest_replaced(self.view(), idx, idx);
            if !self.raw_insert(idx, r) {
                return false;
            }
            self.index.update(
                Regions::leaves(&self.leaves, &self.starts, self.len),
                idx,
                idx,
                1,
                old,
            );
            self.nodes.stale();
            true
        }
        /// Removes `start..end` (clamped to the length).
        pub(crate) fn remove_range(&mut self, start: usize, end: usize) {
            let end = end.min(self.len);
            if start < end {
                let old = self.index.longest_replaced(self.view(), start, end);
                self.raw_remove(start, end);
                self.index.update(
                    Regions::leaves(&self.leaves, &self.starts, self.len),
                    start,
                    end,
                    0,
                    old,
                );
                self.nodes.stale();
            }
        }
        /// Replaces `start..end` with `with`; `false` (and no change) if the range is out
        /// of bounds or the heap refused to grow.
        pub(crate) fn splice(&mut self, start: usize, end: usize, with: &[Region]) -> bool {
            if start > end || end > self.len {
                return false;
            }
            let (c, off) = self.locate(start);
            let in_one_leaf = self
                .leaves
                .get(c)
                .is_some_and(|l| off + (end - start) <= l.len());
            let fits = |l: &Vec<Region>| l.len() - (end - start) + with.len() <= LEAF_MAX;
            let old = self.index.longest_replaced(self.view(), start, end);
            if in_one_leaf
                && (!self.split || self.leaves.get(c).is_some_and(fits))
                && start < self.len
            {
                // The usual free: one region replaced by the one or two pieces left.
                let Some(leaf) = self.leaves.get_mut(c) else {
                    return false;
                };
                if with.len() > end - start && !Self::grow(leaf, with.len() - (end - start)) {
                    return false;
                }
                leaf.splice(off..off + (end - start), with.iter().copied());
                if leaf.is_empty() && self.split {
                    self.raw_fixup_empty(c);
                } else {
                    self.fix_len_from(c);
                }
            } else {
                if !self.reserve(with.len()) {
                    return false;
                }
                self.raw_remove(start, end);
                for (i, r) in with.iter().enumerate() {
                    // Cannot fail: room was reserved above.
                    self.raw_insert(start + i, *r);
                }
            }
            self.index.update(
                Regions::leaves(&self.leaves, &self.starts, self.len),
                start,
                end,
                with.len(),
                old,
            );
            self.nodes.stale();
            true
        }
        /// Drops the (now empty) leaf `c` and recounts.
        fn raw_fixup_empty(&mut self, c: usize) {
            if c < self.leaves.len() {
                let l = self.leaves.remove(c);
                self.starts.remove(c);
                self.recycle(l);
            }
            self.fix_len_from(c);
        }
        /// Recomputes the length and the starts from leaf `c` on.
        fn fix_len_from(&mut self, c: usize) {
            self.fix_starts(c);
            self.len = match (self.starts.last(), self.leaves.last()) {
                (Some(s), Some(l)) => s + l.len(),
                _ => 0,
            };
        }
        /// Makes room for `n` regions so later inserts do not reallocate piecemeal
        /// (the memory array; the leaves of the reserved array grow a leaf at a time).
        pub(crate) fn reserve_to(&mut self, n: usize) -> bool {
            let extra = n.saturating_sub(self.len);
            self.reserve(if self.split { extra.min(2) } else { extra })
        }
        /// Makes room for `additional` more regions, so that that many inserts cannot
        /// fail; `false` (and no change that matters) if the heap refused.
        pub(crate) fn reserve(&mut self, additional: usize) -> bool {
            if additional == 0 {
                return true;
            }
            if !Self::grow(&mut self.leaves, additional)
                || !Self::grow(&mut self.starts, additional)
            {
                return false;
            }
            if !self.split {
                return match self.leaves.first_mut() {
                    Some(l) => Self::grow(l, additional),
                    None => {
                        let mut l = Vec::new();
                        if !Self::grow(&mut l, additional) {
                            return false;
                        }
                        self.leaves.push(l);
                        self.starts.push(0);
                        true
                    }
                };
            }
            // Each insert splits at most one leaf (or creates the first).
            if !Self::grow(&mut self.spare, additional) {
                return false;
            }
            while self.spare.len() < additional {
                let mut l = Vec::new();
                if !(Self::may_grow(0, 1) && l.try_reserve_exact(LEAF_MAX).is_ok()) {
                    return false;
                }
                self.spare.push(l);
            }
            true
        }
    }

    /// Heap-failure injection for the unit tests: per thread, so that parallel tests
    /// do not see each other's failures.
    #[cfg(test)]
    pub(crate) mod fault {
        use core::cell::Cell;

        std::thread_local! {
            static COUNTDOWN: Cell<Option<usize>> = const { Cell::new(None) };
        }

        /// After `n` more successful heap growths of a region array, every further
        /// one fails (`None`: never).
        pub(crate) fn fail_heap_after(n: Option<usize>) {
            COUNTDOWN.with(|c| c.set(n));
        }

        pub(super) fn should_fail() -> bool {
            COUNTDOWN.with(|c| match c.get() {
                None => false,
                Some(0) => true,
                Some(n) => {
                    c.set(Some(n - 1));
                    false
                }
            })
        }
    }
}

#[cfg(not(feature = "alloc"))]
mod imp {
    use super::Region;

    /// Fixed inline storage of `N` regions.
    #[derive(Clone, Debug)]
    pub(crate) struct Store<const N: usize> {
        buf: [Region; N],
        len: usize,
    }

    impl<const N: usize> Store<N> {
        pub(crate) fn flat(&self) -> &[Region] {
            self.buf.get(..self.len).unwrap_or(&[])
        }
        pub(crate) fn view(&self) -> crate::view::Regions<'_> {
            crate::view::Regions::from(self.flat())
        }
        /// Without a heap there is no gap index: searches walk linearly (at most
        /// `N` regions).
        pub(crate) const fn indexed() -> Self {
            Self {
                buf: [Region::EMPTY; N],
                len: 0,
            }
        }
        pub(crate) const fn node_linked() -> Self {
            Self::indexed()
        }
        pub(crate) fn refresh_nodes(&mut self) {}
        pub(crate) fn set(&mut self, idx: usize, r: Region) {
            if let Some(slot) = self.buf.get_mut(..self.len).and_then(|b| b.get_mut(idx)) {
                *slot = r;
            }
        }
        pub(crate) fn insert(&mut self, idx: usize, r: Region) -> bool {
            if idx > self.len || self.len >= N {
                return false;
            }
            let Some(tail) = self.buf.get_mut(idx..=self.len) else {
                return false;
            };
            tail.rotate_right(1);
            if let Some(slot) = self.buf.get_mut(idx) {
                *slot = r;
            }
            self.len += 1;
            true
        }
        pub(crate) fn remove_range(&mut self, start: usize, end: usize) {
            let end = end.min(self.len);
            if start >= end {
                return;
            }
            if let Some(tail) = self.buf.get_mut(start..self.len) {
                tail.rotate_left(end - start);
            }
            self.len -= end - start;
        }
        pub(crate) fn splice(&mut self, start: usize, end: usize, with: &[Region]) -> bool {
            if start > end || end > self.len || self.len - (end - start) + with.len() > N {
                return false;
            }
            self.remove_range(start, end);
            for (i, r) in with.iter().enumerate() {
                if !self.insert(start + i, *r) {
                    return false;
                }
            }
            true
        }
        #[allow(dead_code)] // Only growth calls it, and growth needs `alloc`.
        pub(crate) fn reserve_to(&mut self, n: usize) -> bool {
            n <= N
        }
        /// Whether `additional` more regions fit, so that that many inserts cannot fail.
        pub(crate) fn reserve(&mut self, additional: usize) -> bool {
            self.len.checked_add(additional).is_some_and(|n| n <= N)
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
pub(crate) use imp::fault;
pub(crate) use imp::Store;

/// The leaf store against a plain `Vec` doing the same inserts, removals, splices and
/// replacements, across leaf splits and joins, with and without heap failures: same
/// regions in the same order, consistent leaves and gap index after every step, and an
/// operation the heap refused changes nothing.
#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::imp::{fault, LEAF_MAX};
    use super::*;
    use crate::trace::Rng;
    use crate::{PhysAddr, PhysSize, RegionFlags, RegionNid};
    use alloc::vec::Vec;

    fn region(n: u64) -> Region {
        Region {
            base: PhysAddr::new(n << 20),
            size: PhysSize::new(1 + (n % 7) * 0x1000),
            flags: RegionFlags::NONE,
            nid: RegionNid::MaxNumNodes,
        }
    }

    /// Regions stay sorted: the value of a new region is between its neighbours'.
    fn between(model: &[Region], idx: usize, rng: &mut Rng) -> Region {
        let lo = idx
            .checked_sub(1)
            .and_then(|i| model.get(i))
            .map_or(0, |r| r.base.as_u64() >> 20);
        let hi = model
            .get(idx)
            .map_or(lo + (1 << 30), |r| r.base.as_u64() >> 20);
        // Equal bases (once a gap is used up) do not matter to the storage.
        region(if hi > lo + 1 {
            lo + 1 + rng.below(hi - lo - 1)
        } else {
            lo
        })
    }

    fn run(seed: u64, steps: usize, split: bool, fail_every: u64) {
        let mut rng = Rng::new(seed);
        let mut store: Store<128> = if split {
            Store::indexed()
        } else {
            Store::node_linked()
        };
        let mut model: Vec<Region> = Vec::new();
        let mut longest = 0;
        for step in 0..steps {
            longest = longest.max(model.len());
            let heap_fails = fail_every > 0 && rng.below(fail_every) == 0;
            fault::fail_heap_after(heap_fails.then_some(0));
            let before = store.view().to_vec();
            let len = model.len();
            // Grow to a few leaves, then hover: inserts outnumber removals early.
            let grow = len < 4 * LEAF_MAX || rng.chance(50);
            let ok = match rng.below(10) {
                0..=5 if grow => {
                    let idx = rng.below(len as u64 + 1) as usize;
                    let r = between(&model, idx, &mut rng);
                    let ok = store.insert(idx, r);
                    if ok {
                        model.insert(idx, r);
                    }
                    ok
                }
                0..=6 if len > 0 => {
                    let s = rng.below(len as u64) as usize;
                    let span = if len > 3 * LEAF_MAX && rng.chance(5) {
                        600
                    } else {
                        3
                    };
                    let e = (s + 1 + rng.below(span) as usize).min(len);
                    store.remove_range(s, e);
                    model.drain(s..e);
                    true
                }
                7 | 8 if len > 0 => {
                    let s = rng.below(len as u64) as usize;
                    let e = (s + rng.below(3) as usize).min(len);
                    let k = rng.below(3) as usize;
                    // New regions between the neighbours of the replaced range.
                    let mut with = Vec::new();
                    let mut tmp: Vec<Region> = model.get(..s).unwrap_or(&[]).to_vec();
                    tmp.extend_from_slice(model.get(e..).unwrap_or(&[]));
                    for j in 0..k {
                        let r = between(&tmp, s + j, &mut rng);
                        tmp.insert(s + j, r);
                        with.push(r);
                    }
                    let ok = store.splice(s, e, &with);
                    if ok {
                        model.splice(s..e, with);
                    }
                    ok
                }
                _ if len > 0 => {
                    let i = rng.below(len as u64) as usize;
                    let r = Region {
                        size: PhysSize::new(0x10),
                        ..model[i]
                    };
                    store.set(i, r);
                    model[i] = r;
                    true
                }
                _ => true,
            };
            fault::fail_heap_after(None);
            if !ok {
                assert!(heap_fails, "step {step}: refused without a heap failure");
                assert_eq!(
                    store.view().to_vec(),
                    before,
                    "step {step}: a refused change changed"
                );
            }
            assert_eq!(store.view(), model, "seed {seed} step {step}");
            assert_eq!(store.view().len(), model.len());
            store
                .check_index()
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
            if step % 97 == 0 {
                // Random positions through the view, both directions, and searches.
                let v = store.view();
                let i = rng.below(len as u64 + 1) as usize;
                assert_eq!(v.get(i), model.get(i));
                let j = i + rng.below(700) as usize;
                assert!(v
                    .range(i, j)
                    .eq(model.get(i..j.min(model.len())).unwrap_or(&[]).iter()));
                assert!(v.range(i, j).rev().eq(model
                    .get(i..j.min(model.len()))
                    .unwrap_or(&[])
                    .iter()
                    .rev()));
                let key = rng.below(1 << 31) << 20;
                assert_eq!(
                    v.partition_point(|r| r.base.as_u64() < key),
                    model.partition_point(|r| r.base.as_u64() < key)
                );
                assert_eq!(v.first(), model.first());
                assert_eq!(v.last(), model.last());
            }
        }
        // The run went through splits (and joins, on the way down).
        assert!(
            longest > 3 * LEAF_MAX,
            "seed {seed}: only {longest} regions"
        );
        if split {
            assert!(store.view().as_slice().is_none() || model.len() <= LEAF_MAX);
        } else {
            assert_eq!(store.flat(), model.as_slice());
        }
    }

    #[test]
    fn leaves_follow_a_plain_vec() {
        for seed in 0..6 {
            run(seed, 4000, true, 0);
        }
    }

    #[test]
    fn leaves_follow_a_plain_vec_with_heap_failures() {
        for seed in 10..14 {
            run(seed, 3000, true, 5);
        }
    }

    #[test]
    fn one_piece_memory_array_follows_a_plain_vec() {
        run(20, 3000, false, 0);
        run(21, 3000, false, 5);
    }
}
