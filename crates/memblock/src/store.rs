//! Backing storage of one region array.
//!
//! Linux keeps each array in a fixed C array whose capacity (`type->max`) doubles on
//! demand. Here the *logical* capacity is tracked separately (it decides when Linux
//! would double, and how big the array it reserves is), so the storage only has to hold
//! the regions, in Linux's order: with the `alloc` feature in leaves on the heap (so
//! that a split in the middle of a long reserved array moves one leaf, not the array's
//! tail), without it an inline array of `N` regions.

use crate::Region;

/// [`first_ending_after`](imp::Store::first_ending_after)'s index `idx` in a flat
/// array, with the regions on either side of it.
fn around(flat: &[Region], idx: usize) -> (usize, Option<Region>, Option<Region>) {
    let left = idx.checked_sub(1).and_then(|i| flat.get(i)).copied();
    (idx, left, flat.get(idx).copied())
}

#[cfg(feature = "alloc")]
mod imp {
    use super::Region;
    use crate::index;
    use crate::nodes::NodeLinks;
    use crate::view::Regions;
    use alloc::vec::Vec;

    /// Most regions one leaf of a split store holds. A middle insert moves at most this
    /// many regions (6 KiB) plus the start of each later leaf, instead of the array's
    /// tail.
    pub(crate) const LEAF_MAX: usize = 256;

    /// One run of consecutive regions of an array, and what the allocation search needs
    /// to know about it without reading its regions.
    #[derive(Debug, Default)]
    pub(crate) struct Leaf {
        pub(crate) regions: Vec<Region>,
        /// Index of its first region in the array.
        pub(crate) start: usize,
        /// Base of its first region: places an address in a leaf by a binary search over
        /// the leaves alone.
        pub(crate) first: u64,
        /// The longest gap the leaf owns (see `index.rs`): a search skips the leaf when
        /// the request is longer. Kept exact in indexed stores, unused in the others.
        pub(crate) longest: u64,
        /// At least the longest of the leaf's other gaps (all but one longest one): when
        /// the longest gap shrinks but stays at least this long, it is still the
        /// longest, and the leaf need not be read again. An allocation from the top of
        /// a node's free memory does exactly that.
        pub(crate) second: u64,
        /// Where a gap of length `longest` starts (the end of the region below it): a
        /// search that only that gap can satisfy goes to it directly.
        pub(crate) longest_at: u64,
        /// Which state of its regions this is: every change to them gives the leaf a
        /// number the store has not given before, so a fact about the leaf's regions
        /// remembered with this number (`index::WalkMemo`) holds while it is the same.
        pub(crate) gen: u64,
    }

    /// A copy keeps the leaf's capacity: the inserts `Store::reserve` promises cannot
    /// fail rely on every leaf of a split store having room for [`LEAF_MAX`] regions
    /// (a derived clone would have none spare, and the snapshot taken before an array
    /// grows is a clone).
    impl Clone for Leaf {
        fn clone(&self) -> Self {
            let mut regions = Vec::with_capacity(self.regions.capacity());
            regions.extend_from_slice(&self.regions);
            Self {
                regions,
                start: self.start,
                first: self.first,
                longest: self.longest,
                second: self.second,
                longest_at: self.longest_at,
                gen: self.gen,
            }
        }
    }

    /// The gaps whose lengths a change replaced, by owning leaf (at most three leaves
    /// for the changes kept incremental).
    #[derive(Clone, Copy, Default)]
    struct Owned {
        /// Leaf, its longest gap among these (length, start), and the second longest.
        by_leaf: [(usize, (u64, u64), u64); 3],
        n: usize,
    }

    impl Owned {
        /// Counts gap `(len, at)` (length, start) for `leaf`.
        fn add(&mut self, leaf: usize, gap: (u64, u64)) -> bool {
            for slot in self.by_leaf.iter_mut().take(self.n) {
                if slot.0 == leaf {
                    if gap.0 > slot.1 .0 {
                        slot.2 = slot.1 .0;
                        slot.1 = gap;
                    } else {
                        slot.2 = slot.2.max(gap.0);
                    }
                    return true;
                }
            }
            match self.by_leaf.get_mut(self.n) {
                Some(slot) => {
                    *slot = (leaf, gap, 0);
                    self.n += 1;
                    true
                }
                None => false,
            }
        }
        fn get_entry(&self, leaf: usize) -> Option<u64> {
            self.by_leaf
                .iter()
                .take(self.n)
                .find(|s| s.0 == leaf)
                .map(|s| s.1 .0)
        }
        fn get(&self, leaf: usize) -> u64 {
            self.get_entry(leaf).unwrap_or(0)
        }
    }

    /// Growable storage, and the search structures that follow it when enabled: the
    /// leaves' gap summaries (reserved array), updated by every change, and the
    /// per-node chains (memory array), marked stale by every change and rebuilt by
    /// [`Store::refresh_nodes`]. Every change goes through the methods below.
    ///
    /// The regions are kept in leaves: consecutive runs of the array, in order. The
    /// reserved array (`split`) cuts a leaf in two when it would pass [`LEAF_MAX`] and
    /// drops leaves that empty, so no insert or removal moves more than a leaf; its
    /// leaves are never empty. The memory array (a few hundred regions at most, read as
    /// a slice by callers and by the node chains) stays in one leaf.
    #[derive(Debug, Default)]
    pub(crate) struct Store<const N: usize> {
        leaves: Vec<Leaf>,
        len: usize,
        split: bool,
        /// Whether the leaves' `longest` describe the array (the reserved array,
        /// unless a test dropped them: then the next change rebuilds them).
        indexed: bool,
        /// Empty leaf buffers of capacity [`LEAF_MAX`], taken by splits; kept topped up
        /// by [`Store::reserve`] so that reserved inserts cannot fail.
        spare: Vec<Vec<Region>>,
        nodes: NodeLinks,
        /// The last number given to a leaf's state (`Leaf::gen`).
        gen: u64,
        /// What the last search learned about a leaf's small gaps; kept with the
        /// leaves, so that a copy or a restored snapshot keeps what matches it.
        memo: index::WalkMemo,
    }

    /// A copy without the spare leaves (empty buffers; `reserve` tops them up again).
    impl<const N: usize> Clone for Store<N> {
        fn clone(&self) -> Self {
            Self {
                leaves: self.leaves.clone(),
                len: self.len,
                split: self.split,
                indexed: self.indexed,
                spare: Vec::new(),
                nodes: self.nodes.clone(),
                gen: self.gen,
                memo: self.memo,
            }
        }
    }

    impl<const N: usize> Store<N> {
        const fn with(split: bool) -> Self {
            Self {
                leaves: Vec::new(),
                len: 0,
                split,
                indexed: split,
                spare: Vec::new(),
                nodes: NodeLinks::new(!split),
                gen: 0,
                memo: index::WalkMemo::NONE,
            }
        }
        /// Storage in leaves, whose gaps are summarised for searches (the reserved
        /// array).
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
        /// A copy of the search memo, for the tests.
        #[cfg(test)]
        pub(crate) fn memo(&self) -> index::WalkMemo {
            self.memo
        }
        /// Stores a memo (the tests' searches keep theirs outside the store).
        #[cfg(test)]
        pub(crate) fn put_memo(&mut self, memo: index::WalkMemo) {
            self.memo = memo;
        }
        /// The leaves, for a search that updates the memo in place; `None` if the
        /// store is not indexed ([`Store::index`]).
        pub(crate) fn index_and_memo(&mut self) -> Option<(&[Leaf], &mut index::WalkMemo)> {
            self.searchable()
                .then_some((self.leaves.as_slice(), &mut self.memo))
        }
        /// Gives leaf `c` (every leaf for `None`: after leaves were split, joined or
        /// dropped) a new state number: its regions changed.
        fn bump(&mut self, c: Option<usize>) {
            let gen = &mut self.gen;
            let mut next = || {
                *gen += 1;
                *gen
            };
            match c {
                Some(c) => {
                    if let Some(l) = self.leaves.get_mut(c) {
                        l.gen = next();
                    }
                }
                None => {
                    for l in &mut self.leaves {
                        l.gen = next();
                    }
                    // Leaves moved: the memo's leaf range names other leaves now.
                    self.memo.short = None;
                }
            }
        }
        /// Forgets the search structures, as a heap failure while updating them does.
        #[cfg(test)]
        pub(crate) fn drop_search_structures(&mut self) {
            self.indexed = false;
            self.memo.short = None;
            self.nodes.stale();
        }
        /// Makes the last leaf wrong for `check_index`: a summary, or (5) its regions emptied.
        #[cfg(test)]
        pub(crate) fn corrupt_leaf(&mut self, what: usize) {
            if let Some(l) = self.leaves.last_mut() {
                match what {
                    0 => l.longest = l.longest.wrapping_add(1),
                    1 => l.first = l.first.wrapping_add(1),
                    2 => l.second = 0,
                    3 => l.longest_at = l.longest_at.wrapping_add(1),
                    5 => l.regions.clear(),
                    _ => l.start += 1,
                }
            }
            self.bump(None);
        }
        /// Rebuilds the per-node chains if the array changed.
        pub(crate) fn refresh_nodes(&mut self) {
            if !self.split {
                let flat = self
                    .leaves
                    .first()
                    .map_or(&[][..], |l| l.regions.as_slice());
                self.nodes.refresh(flat);
            }
        }
        /// All regions.
        pub(crate) fn view(&self) -> Regions<'_> {
            Regions::leaves(&self.leaves, self.len)
        }
        /// The regions of an unsplit store (the memory array) as one slice.
        pub(crate) fn flat(&self) -> &[Region] {
            match self.leaves.as_slice() {
                [one] => &one.regions,
                _ => &[],
            }
        }
        /// The leaves, if their gap summaries describe the array.
        pub(crate) fn index(&self) -> Option<&[Leaf]> {
            self.searchable().then_some(self.leaves.as_slice())
        }
        /// Whether the leaves and their summaries are the search index.
        fn searchable(&self) -> bool {
            self.split && self.indexed
        }
        /// Whether the leaves, their summaries and the node chains match the regions.
        pub(crate) fn check_index(&self) -> Result<(), &'static str> {
            let mut at = 0;
            for (c, l) in self.leaves.iter().enumerate() {
                if l.start != at {
                    return Err("a leaf's start is stale");
                }
                if self.split && (l.regions.is_empty() || l.regions.len() > LEAF_MAX) {
                    return Err("a leaf is empty or too long");
                }
                if self.split && l.regions.capacity() < LEAF_MAX {
                    return Err("a leaf has no room for LEAF_MAX regions");
                }
                if self.split && l.regions.first().map(|r| r.base.as_u64()) != Some(l.first) {
                    return Err("a leaf's first base is stale");
                }
                if self.split && self.indexed {
                    let (longest, second, _) = index::leaf_longest(&self.leaves, c);
                    if l.longest != longest {
                        return Err("a leaf's longest gap is stale");
                    }
                    let at = l.longest_at;
                    if index::gap_at(&self.leaves, c, at).map(|(_, end)| end.saturating_sub(at))
                        != Some(longest)
                    {
                        return Err("a leaf's longest gap is not where it says");
                    }
                    if l.second < second {
                        return Err("a leaf's bound on its other gaps is too low");
                    }
                }
                at += l.regions.len();
            }
            if at != self.len {
                return Err("the leaves do not add up to the length");
            }
            if !self.split && self.leaves.len() > 1 {
                return Err("the memory array is split");
            }
            if let Some((a, b, m)) = self.memo.short {
                let named = self.leaves.get(a..b);
                if named.is_none_or(|ls| ls.iter().any(|l| l.longest > m)) {
                    return Err("the search memo's short leaves are not all short");
                }
            }
            self.nodes.check(self.flat())
        }
        /// Leaf and offset of region `i < len` (the last leaf's end for `i == len`).
        fn locate(&self, i: usize) -> (usize, usize) {
            // The leaf of the last allocation's gap first: the reservation that
            // follows the search changes regions there.
            if let Some((c, _)) = self.memo.found {
                if let Some(l) = self.leaves.get(c) {
                    if l.start <= i && i < l.start + l.regions.len() {
                        return (c, i - l.start);
                    }
                }
            }
            let c = self
                .leaves
                .partition_point(|l| l.start <= i)
                .saturating_sub(1);
            (c, i - self.leaves.get(c).map_or(0, |l| l.start))
        }
        /// Gaps `s..=e` by owner (the leaf of the region just above each gap, the last
        /// leaf for the gap above the array), before or after a change; `None` if
        /// there are too many to follow one by one (the touched leaves are then
        /// recomputed).
        fn owned(&self, s: usize, e: usize) -> Option<Owned> {
            if !self.split || e - s > 4 {
                return None;
            }
            let mut o = Owned::default();
            let last = self.leaves.len().saturating_sub(1);
            let (mut c, mut k) = if s < self.len {
                self.locate(s)
            } else {
                (last, self.leaves.get(last).map_or(0, |l| l.regions.len()))
            };
            for _ in s..=e {
                if c < last && self.leaves.get(c).is_some_and(|l| k >= l.regions.len()) {
                    (c, k) = (c + 1, 0);
                }
                if !o.add(c, index::gap_len_start(&self.leaves, (c, k))) {
                    return None;
                }
                k += 1;
            }
            Some(o)
        }
        /// The leaf holding gap `g` (`0..=len`).
        fn owner(&self, g: usize) -> usize {
            if g >= self.len {
                self.leaves.len().saturating_sub(1)
            } else {
                self.locate(g).0
            }
        }
        /// Index of the first region ending above `addr`, placed from the leaf headers.
        pub(crate) fn first_ending_after(&self, addr: u64) -> usize {
            if !self.split {
                return self.flat().partition_point(|r| r.end().as_u64() <= addr);
            }
            // Regions are sorted and disjoint: the first ending above `addr` is the
            // last starting at or below it, if it reaches past `addr`, else the next.
            let Some(c) = self
                .leaves
                .partition_point(|l| l.first <= addr)
                .checked_sub(1)
            else {
                return 0;
            };
            let Some(leaf) = self.leaves.get(c) else {
                return 0;
            };
            let k = leaf.regions.partition_point(|r| r.base.as_u64() <= addr);
            let reaches = k
                .checked_sub(1)
                .and_then(|j| leaf.regions.get(j))
                .is_some_and(|r| r.end().as_u64() > addr);
            leaf.start + k - usize::from(reaches)
        }
        /// [`Store::first_ending_after`]`(addr)` with the regions on either side of
        /// that index, found in the same descent (an allocation's reservation needs
        /// all three).
        pub(crate) fn seek(&self, addr: u64) -> (usize, Option<Region>, Option<Region>) {
            if let Some(hit) = self.memo.found.and_then(|p| self.seek_at(p, addr)) {
                return hit;
            }
            let idx = self.first_ending_after(addr);
            if !self.split {
                return super::around(self.flat(), idx);
            }
            let (c, off) = self.locate(idx);
            let at = |c: usize, k: usize| self.leaves.get(c).and_then(|l| l.regions.get(k));
            let left = index::region_below(&self.leaves, (c, off));
            let right = at(c, off).or_else(|| at(c + 1, 0));
            (idx, left.copied(), right.copied())
        }
        /// [`Store::seek`]`(addr)` read at gap `(c, k)` (of a split store) without a
        /// descent, if `addr` lies there: the gap's first region ending above `addr`
        /// is the one above it exactly when the region below ends at or below `addr`
        /// and the one above ends above it (ends ascend). `None` when the gap is not
        /// in the store or does not hold `addr` (the position may be from before
        /// later changes), and for the end of a leaf other than the last, a position
        /// the search never keeps (it names that gap as the next leaf's first).
        pub(crate) fn seek_at(
            &self,
            (c, k): index::Pos,
            addr: u64,
        ) -> Option<(usize, Option<Region>, Option<Region>)> {
            let last = c + 1 == self.leaves.len();
            let leaf = self.leaves.get(c).filter(|l| {
                self.split && (k < l.regions.len() || (last && k == l.regions.len()))
            })?;
            let left = index::region_below(&self.leaves, (c, k));
            let right = leaf.regions.get(k);
            let holds = left.is_none_or(|l| l.end().as_u64() <= addr)
                && right.is_none_or(|r| r.end().as_u64() > addr);
            holds.then(|| (leaf.start + k, left.copied(), right.copied()))
        }
        /// Recomputes the starts of leaves `from..`.
        fn fix_starts(&mut self, from: usize) {
            let mut at = match from.checked_sub(1).and_then(|p| self.leaves.get(p)) {
                Some(p) => p.start + p.regions.len(),
                None => 0,
            };
            for l in self.leaves.iter_mut().skip(from) {
                l.start = at;
                at += l.regions.len();
            }
        }
        /// Recomputes the summaries of leaves `a..=b` (clamped).
        fn refresh(&mut self, a: usize, b: usize) {
            if !self.split {
                return;
            }
            let b = b.min(self.leaves.len().saturating_sub(1));
            // A recomputed leaf may have a longer gap than the memo's short leaves
            // allowed; recomputing is rare enough to forget them every time.
            self.memo.short = None;
            for c in a..=b {
                let (longest, second, at) = index::leaf_longest(&self.leaves, c);
                if let Some(l) = self.leaves.get_mut(c) {
                    l.longest = longest;
                    l.second = second;
                    l.longest_at = at;
                    l.first = l.regions.first().map_or(0, |r| r.base.as_u64());
                }
            }
        }
        /// Follows a change that replaced old gaps `s..=old_e` (summarised in `before`)
        /// by new gaps `s..=new_e`. `restructured`: leaves were split, joined or
        /// dropped from leaf `touched` on, so their summaries are recomputed.
        fn after_change(
            &mut self,
            s: usize,
            new_e: usize,
            before: Option<Owned>,
            touched: Option<usize>,
        ) {
            if !self.split {
                return;
            }
            if !self.indexed {
                self.indexed = true;
                self.refresh(0, usize::MAX);
                return;
            }
            let c = self.owner(s);
            let (Some(before), None, Some(after)) = (before, touched, self.owned(s, new_e)) else {
                // Leaves were split, joined or dropped, or many gaps changed: recompute
                // the leaves around the change, and the last leaf, which owns the gap
                // above the array.
                let from = touched.map_or(c, |t| t.min(c)).saturating_sub(1);
                self.refresh(from, self.owner(new_e.min(self.len)) + 1);
                let last = self.leaves.len().saturating_sub(1);
                self.refresh(last, last);
                return;
            };
            for &(leaf, _, _) in before.by_leaf.iter().take(before.n) {
                if after.get_entry(leaf).is_none() {
                    // The leaf lost gaps and gained none (they went to a neighbour):
                    // nothing tells where its longest gap is now.
                    self.refresh(leaf, leaf);
                }
            }
            for &(leaf, new, new2) in after.by_leaf.iter().take(after.n) {
                if let Some(l) = self.leaves.get_mut(leaf) {
                    l.first = l.regions.first().map_or(0, |r| r.base.as_u64());
                }
                self.gaps_replaced(leaf, before.get(leaf), new, new2);
            }
        }
        /// Replaces region `idx` (no-op out of bounds).
        pub(crate) fn set(&mut self, idx: usize, r: Region) {
            if idx < self.len && self.split && self.indexed {
                self.set_indexed(idx, r);
            } else if idx < self.len {
                let before = self.owned(idx, idx + 1);
                let (c, off) = self.locate(idx);
                if let Some(slot) = self.leaves.get_mut(c).and_then(|l| l.regions.get_mut(off)) {
                    *slot = r;
                }
                self.bump(Some(c));
                self.after_change(idx, idx + 1, before, None);
                self.nodes.stale();
            }
        }
        /// `set` on an indexed store, the allocator's most frequent change (an
        /// allocation merging into a neighbour): one placement of `idx`, and only the
        /// two gaps around the region are measured, before and after.
        fn set_indexed(&mut self, idx: usize, r: Region) {
            let (c, off) = self.locate(idx);
            let Some(leaf_len) = self.leaves.get(c).map(|l| l.regions.len()) else {
                return;
            };
            // The gap above region `idx` belongs to the leaf of region `idx + 1`, or
            // to the last leaf when `idx` is the last region.
            let above = if off + 1 < leaf_len || c + 1 == self.leaves.len() {
                (c, off + 1)
            } else {
                (c + 1, 0)
            };
            let old_below = index::gap_len(&self.leaves, (c, off));
            let old_above = index::gap_len(&self.leaves, above);
            let Some(l) = self.leaves.get_mut(c) else {
                return;
            };
            if let Some(slot) = l.regions.get_mut(off) {
                *slot = r;
            }
            if off == 0 {
                l.first = r.base.as_u64();
            }
            self.bump(Some(c));
            let new_below = index::gap_len_start(&self.leaves, (c, off));
            let new_above = index::gap_len_start(&self.leaves, above);
            if above.0 == c {
                let (long, short) = if new_below.0 >= new_above.0 {
                    (new_below, new_above)
                } else {
                    (new_above, new_below)
                };
                self.gaps_replaced(c, old_below.max(old_above), long, short.0);
            } else {
                self.gaps_replaced(c, old_below, new_below, 0);
                self.gaps_replaced(above.0, old_above, new_above, 0);
            }
            self.nodes.stale();
        }
        /// Keeps leaf `c`'s summary right after some of its gaps were replaced (the
        /// regions already changed): `old` is the longest replaced gap, `new` the
        /// longest new one (length, start) and `new2` the second longest's length (0 if
        /// none). `longest` and `longest_at` stay exact and `second` an upper bound on
        /// the gaps other than one longest gap; the leaf's regions are read again only
        /// when neither tells the new longest gap.
        fn gaps_replaced(&mut self, c: usize, old: u64, new: (u64, u64), new2: u64) {
            let Some(l) = self.leaves.get_mut(c) else {
                return;
            };
            let (longest, second) = (l.longest, l.second);
            if new.0 > longest {
                // A gap grew past the leaf's longest: the leaves the memo knows to be
                // short may include this one.
                self.memo.short = None;
            }
            if old < longest {
                // The longest gap is still there (unchanged: a gap whose start moved
                // was among the replaced ones).
                if new.0 >= longest {
                    (l.longest, l.longest_at) = new;
                    l.second = second.max(longest).max(new2);
                } else {
                    l.second = second.max(new.0);
                }
            } else if new.0 >= second {
                // A longest gap was replaced; every gap left is at most `second`
                // (when several were longest, `second` was already at `longest`).
                (l.longest, l.longest_at) = new;
                l.second = second.max(new2);
            } else {
                self.refresh(c, c);
            }
        }
        /// A leaf of capacity [`LEAF_MAX`], from the spares or the heap.
        fn new_leaf(&mut self) -> Option<Leaf> {
            let regions = match self.spare.pop() {
                Some(l) => l,
                None => {
                    let mut l = Vec::new();
                    if !(may_grow(0, 1) && l.try_reserve_exact(LEAF_MAX).is_ok()) {
                        return None;
                    }
                    l
                }
            };
            Some(Leaf {
                regions,
                ..Leaf::default()
            })
        }
        fn recycle(&mut self, l: Leaf) {
            let mut regions = l.regions;
            // Only into room the pool already has: a push must not reach the heap,
            // which could not refuse it here.
            if self.spare.len() < 4.min(self.spare.capacity()) && regions.capacity() >= LEAF_MAX {
                regions.clear();
                self.spare.push(regions);
            }
        }
        /// Inserts at `idx <= len` without updating the summaries; `None` (and no
        /// change) if the heap refused, else whether (from which leaf) leaves were
        /// restructured.
        fn raw_insert(&mut self, idx: usize, r: Region) -> Option<Option<usize>> {
            if idx > self.len {
                return None;
            }
            let mut touched = None;
            if self.leaves.is_empty() {
                if !grow(&mut self.leaves, 1) {
                    return None;
                }
                let leaf = if self.split {
                    self.new_leaf()?
                } else {
                    Leaf::default()
                };
                self.leaves.push(leaf);
                touched = Some(0);
            }
            let (c, off) = if idx == self.len {
                let c = self.leaves.len() - 1;
                (c, self.leaves.get(c).map_or(0, |l| l.regions.len()))
            } else {
                self.locate(idx)
            };
            let full = self
                .leaves
                .get(c)
                .is_some_and(|l| l.regions.len() >= LEAF_MAX);
            if !self.split || !full {
                let leaf = self.leaves.get_mut(c)?;
                if !grow(&mut leaf.regions, 1) {
                    return None;
                }
                leaf.regions.insert(off, r);
                for l in self.leaves.iter_mut().skip(c + 1) {
                    l.start += 1;
                }
                self.len += 1;
                self.bump(Some(c));
                return Some(touched);
            }
            // Split the full leaf in halves, then insert into the half `idx` falls in.
            if !grow(&mut self.leaves, 1) {
                return None;
            }
            let mut upper = self.new_leaf()?;
            let half = LEAF_MAX / 2;
            if let Some(leaf) = self.leaves.get_mut(c) {
                upper.regions.extend(leaf.regions.drain(half..));
            }
            self.leaves.insert(c + 1, upper);
            let (c2, off2) = if off <= half {
                (c, off)
            } else {
                (c + 1, off - half)
            };
            if let Some(leaf) = self.leaves.get_mut(c2) {
                leaf.regions.insert(off2, r);
            }
            self.len += 1;
            self.fix_starts(c);
            // The leaves after the split moved up by one.
            self.bump(None);
            Some(Some(c))
        }
        /// Removes `start..end` (`end <= len`) without updating the summaries; the
        /// first leaf restructured, if any.
        fn raw_remove(&mut self, start: usize, end: usize) -> Option<usize> {
            if start >= end || end > self.len {
                return None;
            }
            let (first, mut off) = self.locate(start);
            let mut touched = None;
            let mut c = first;
            let mut left = end - start;
            while left > 0 {
                let Some(leaf) = self.leaves.get_mut(c) else {
                    break;
                };
                let take = left.min(leaf.regions.len() - off);
                leaf.regions.drain(off..off + take);
                let emptied = leaf.regions.is_empty();
                self.bump(Some(c));
                left -= take;
                self.len -= take;
                if emptied && (self.split || self.leaves.len() > 1) {
                    let l = self.leaves.remove(c);
                    self.recycle(l);
                    touched = Some(first);
                } else {
                    c += 1;
                }
                off = 0;
            }
            if c > first + 1 {
                touched = Some(first);
            }
            // Keep any two neighbouring leaves above half a leaf together: the leaves a
            // removal shrank are the one at `first` and the next (the two ends of a
            // removal over a boundary); join them with each other or their outer
            // neighbours while two fit in half a leaf.
            if self.split {
                let size =
                    |ls: &[Leaf], i: usize| ls.get(i).map_or(usize::MAX, |l| l.regions.len());
                let mut j = first.min(self.leaves.len().saturating_sub(1));
                for _ in 0..4 {
                    let pair = if j > 0
                        && size(&self.leaves, j - 1).saturating_add(size(&self.leaves, j))
                            <= LEAF_MAX / 2
                    {
                        j - 1
                    } else if size(&self.leaves, j).saturating_add(size(&self.leaves, j + 1))
                        <= LEAF_MAX / 2
                    {
                        j
                    } else if size(&self.leaves, j + 1).saturating_add(size(&self.leaves, j + 2))
                        <= LEAF_MAX / 2
                    {
                        j + 1
                    } else {
                        break;
                    };
                    let l = self.leaves.remove(pair + 1);
                    if let Some(prev) = self.leaves.get_mut(pair) {
                        prev.regions.extend_from_slice(&l.regions);
                    }
                    self.recycle(l);
                    touched = Some(touched.map_or(pair, |t| t.min(pair)));
                    j = pair;
                }
            }
            self.fix_starts(first.saturating_sub(1));
            if touched.is_some() {
                // Leaves were dropped or joined: the ones after moved down.
                self.bump(None);
            }
            touched
        }
        /// Inserts at `idx` (`idx <= len`); `false` if the heap refused to grow.
        pub(crate) fn insert(&mut self, idx: usize, r: Region) -> bool {
            if idx > self.len {
                return false;
            }
            let before = self.owned(idx, idx);
            let Some(touched) = self.raw_insert(idx, r) else {
                return false;
            };
            self.after_change(idx, idx + 1, before, touched);
            self.nodes.stale();
            true
        }
        /// Removes `start..end` (clamped to the length).
        pub(crate) fn remove_range(&mut self, start: usize, end: usize) {
            let end = end.min(self.len);
            if start < end {
                let before = self.owned(start, end);
                let touched = self.raw_remove(start, end);
                self.after_change(start, start, before, touched);
                self.nodes.stale();
            }
        }
        /// Replaces `start..end` with `with`; `false` (and no change) if the range is out
        /// of bounds or the heap refused to grow.
        pub(crate) fn splice(&mut self, start: usize, end: usize, with: &[Region]) -> bool {
            if start > end || end > self.len {
                return false;
            }
            let before = self.owned(start, end);
            let (c, off) = self.locate(start);
            let removed = end - start;
            let fast = start < self.len
                && self.leaves.get(c).is_some_and(|l| {
                    off + removed <= l.regions.len()
                        && (!self.split || l.regions.len() - removed + with.len() <= LEAF_MAX)
                        && (!self.split || l.regions.len() - removed + with.len() > 0)
                });
            let touched = if fast {
                // The usual free: one region replaced by the one or two pieces left,
                // inside one leaf.
                let Some(leaf) = self.leaves.get_mut(c) else {
                    return false;
                };
                if with.len() > removed && !grow(&mut leaf.regions, with.len() - removed) {
                    return false;
                }
                // By hand rather than `Vec::splice`: overwrite what both have, then
                // move the leaf's tail once (its drop guard cost more than the move).
                let common = removed.min(with.len());
                for (slot, r) in leaf.regions.iter_mut().skip(off).zip(&with[..common]) {
                    *slot = *r;
                }
                if with.len() > removed {
                    for (i, r) in with.iter().enumerate().skip(common) {
                        leaf.regions.insert(off + i, *r);
                    }
                } else if removed > common {
                    leaf.regions.drain(off + common..off + removed);
                }
                self.len = self.len - removed + with.len();
                if with.len() != removed {
                    self.fix_starts(c + 1);
                }
                self.bump(Some(c));
                None
            } else {
                if !self.reserve(with.len()) {
                    return false;
                }
                let mut touched = self.raw_remove(start, end);
                for (i, r) in with.iter().enumerate() {
                    // Cannot fail: room was reserved above.
                    if let Some(Some(t)) = self.raw_insert(start + i, *r) {
                        touched = Some(touched.map_or(t, |x: usize| x.min(t)));
                    }
                }
                // Pieces may have gone to other leaves than the removed regions.
                Some(touched.unwrap_or(c).min(c))
            };
            self.after_change(start, start + with.len(), before, touched);
            self.nodes.stale();
            true
        }
        /// Frees spare leaves beyond a few, once an operation is over.
        pub(crate) fn trim_spares(&mut self) {
            self.spare.truncate(4);
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
            let new_leaves = if self.split {
                additional.min(self.leaves.len() + additional / (LEAF_MAX / 2) + 1)
            } else {
                additional
            };
            if !grow(&mut self.leaves, new_leaves) {
                return false;
            }
            if !self.split {
                return match self.leaves.first_mut() {
                    Some(l) => grow(&mut l.regions, additional),
                    None => {
                        let mut l = Leaf::default();
                        if !grow(&mut l.regions, additional) {
                            return false;
                        }
                        self.leaves.push(l);
                        true
                    }
                };
            }
            // Each insert splits at most one leaf (or creates the first), so as many
            // spares as inserts always suffice (the usual case: 2 or fewer, already
            // there).
            if self.spare.len() >= additional {
                return true;
            }
            // Otherwise fewer: only a leaf that `additional` inserts can fill splits
            // from its current size; the halves of a split hold at least LEAF_MAX / 2
            // regions, so each further split costs at least LEAF_MAX / 2 of the inserts.
            let may_fill = self
                .leaves
                .iter()
                .filter(|l| l.regions.len().saturating_add(additional) >= LEAF_MAX)
                .count();
            let splits = additional.min(may_fill + additional / (LEAF_MAX / 2) + 1);
            if !grow(&mut self.spare, splits) {
                return false;
            }
            while self.spare.len() < splits {
                let mut l = Vec::new();
                if !(may_grow(0, 1) && l.try_reserve_exact(LEAF_MAX).is_ok()) {
                    return false;
                }
                self.spare.push(l);
            }
            true
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

    /// Room in `v` for `additional` more elements, unless the heap refuses (see
    /// [`may_grow`]); every heap growth of the crate's search structures goes through
    /// it, so the unit tests can refuse any of them.
    pub(crate) fn grow<T>(v: &mut Vec<T>, additional: usize) -> bool {
        may_grow(v.capacity() - v.len(), additional) && v.try_reserve(additional).is_ok()
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
        pub(crate) fn first_ending_after(&self, addr: u64) -> usize {
            self.flat().partition_point(|r| r.end().as_u64() <= addr)
        }
        pub(crate) fn seek(&self, addr: u64) -> (usize, Option<Region>, Option<Region>) {
            super::around(self.flat(), self.first_ending_after(addr))
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
        /// Whether `additional` more regions fit, so that that many inserts cannot fail.
        pub(crate) fn reserve(&mut self, additional: usize) -> bool {
            self.len.checked_add(additional).is_some_and(|n| n <= N)
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
pub(crate) use imp::fault;
pub(crate) use imp::Store;
#[cfg(feature = "alloc")]
pub(crate) use imp::{grow, Leaf};

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
        crate::test_util::span(n << 20, 1 + (n % 7) * 0x1000)
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
        let mut memo = crate::index::WalkMemo::NONE;
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
            if let Some(leaves) = store.index() {
                // The search memo, kept across every change, against a search without
                // one: a change that does not renew its leaf's state number would
                // let the memo skip a gap the change made long enough (`set` here
                // shrinks regions, so gaps grow).
                for we in [1 << 40, rng.below(1 << 31) << 20] {
                    let size = [0x1000, 0xf_0000, 0x10_0000, 0x18_0000][step % 4];
                    let mut fresh = crate::index::WalkMemo::NONE;
                    assert_eq!(
                        crate::index::find_top_down(leaves, 0x1000, we, size, 0x1000, &mut memo),
                        crate::index::find_top_down(leaves, 0x1000, we, size, 0x1000, &mut fresh),
                        "seed {seed} step {step}: window top {we:#x}, size {size:#x}"
                    );
                }
            }
            if step % 97 == 0 {
                // Random positions through the view, both directions, and searches.
                let v = store.view();
                let i = rng.below(len as u64 + 1) as usize;
                assert_eq!(v.get(i), model.get(i));
                let j = i + rng.below(700) as usize;
                assert!(v
                    .range(i..j)
                    .eq(model.get(i..j.min(model.len())).unwrap_or(&[]).iter()));
                assert!(v.range(i..j).rev().eq(model
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

    /// A region that shrinks in place (as a split's lower half does) lengthens the gap
    /// above it, which can become its leaf's longest; one that grows downwards shortens
    /// the gap below. Equal gaps everywhere else, so each change decides the summary.
    #[test]
    fn set_follows_both_gaps_of_the_region() {
        let page = |n: u64| Region {
            base: PhysAddr::new(n * 0x2000),
            size: PhysSize::new(0x1000),
            flags: RegionFlags::NONE,
            nid: RegionNid::MaxNumNodes,
        };
        for i in [0, 1, 126, 127, 128, 200, 255, 256, 383, 599] {
            let mut store: Store<128> = Store::indexed();
            for n in 0..600 {
                assert!(store.insert(n, page(n as u64 + 1)));
            }
            let r = page(i as u64 + 1);
            store.set(
                i,
                Region {
                    size: PhysSize::new(0x10),
                    ..r
                },
            );
            assert_eq!(store.check_index(), Ok(()), "shrunk region {i}");
            store.set(
                i,
                Region {
                    base: PhysAddr::new(r.base.as_u64() - 0x800),
                    size: PhysSize::new(0x1800),
                    ..r
                },
            );
            assert_eq!(store.check_index(), Ok(()), "grown region {i}");
        }
    }

    /// `check_index`, which every differential test relies on, reports a wrong leaf
    /// start, first base, longest gap, where that gap starts, or a bound on the other
    /// gaps below one of them.
    #[test]
    fn check_index_notices_stale_summaries() {
        for what in 0..5 {
            let mut store: Store<128> = Store::indexed();
            for n in 0..600 {
                assert!(store.insert(n, region(2 * n as u64 + 1)));
            }
            assert_eq!(store.check_index(), Ok(()));
            store.corrupt_leaf(what);
            assert!(store.check_index().is_err(), "corruption {what} unnoticed");
        }
    }

    #[test]
    fn one_piece_memory_array_follows_a_plain_vec() {
        run(20, 3000, false, 0);
        run(21, 3000, false, 5);
    }
}

/// The inline store never holds more than `N` regions, and a change it refuses leaves
/// it as it was (memblock checks the capacity first; this is the store's own guard).
#[cfg(all(test, not(feature = "alloc")))]
mod inline_tests {
    use super::*;

    fn region(n: u64) -> Region {
        crate::test_util::span(n * 0x2000, 0x1000)
    }

    #[test]
    fn refuses_past_capacity_and_out_of_range_changing_nothing() {
        let mut store: Store<4> = Store::indexed();
        assert!(!store.insert(1, region(1)), "past the end");
        assert!(store.reserve(4) && !store.reserve(5));
        for n in 0..3 {
            assert!(store.insert(n, region(n as u64)));
        }
        assert!(store.reserve(1) && !store.reserve(2));
        assert!(
            !store.splice(1, 2, &[region(10), region(11), region(12)]),
            "5 > 4"
        );
        assert!(!store.splice(2, 1, &[]) && !store.splice(1, 4, &[]));
        assert_eq!(store.flat(), [region(0), region(1), region(2)]);
        assert!(store.splice(1, 2, &[region(10), region(11)]));
        assert_eq!(store.flat(), [region(0), region(10), region(11), region(2)]);
        assert!(
            !store.insert(4, region(9)) && !store.insert(0, region(9)),
            "full"
        );
        assert!(!store.reserve(1));
        assert_eq!(store.flat().len(), 4);
        store.remove_range(1, 3);
        assert_eq!(store.flat(), [region(0), region(2)]);
        assert_eq!(store.first_ending_after(0x2000), 1);
    }
}
