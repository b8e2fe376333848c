//! Backing storage of one region array.
//!
//! Linux keeps each array in a fixed C array whose capacity (`type->max`) doubles on
//! demand. Here the *logical* capacity is tracked separately (it decides when Linux
//! would double, and how big the array it reserves is), so the storage only has to hold
//! the regions: a `Vec` with the `alloc` feature, an inline array of Linux's initial
//! size without it.

use crate::Region;

#[cfg(feature = "alloc")]
mod imp {
    use super::Region;
    use crate::index::GapIndex;
    use crate::nodes::NodeLinks;
    use alloc::vec::Vec;

    /// Growable storage, and the search structures that follow it when enabled: the
    /// gap index (reserved array), updated by every change, and the per-node chains
    /// (memory array), marked stale by every change and rebuilt by
    /// [`Store::refresh_nodes`]. Every change goes through the methods below.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Store<const N: usize>(Vec<Region>, GapIndex, NodeLinks);

    impl<const N: usize> Store<N> {
        /// Storage whose gaps are indexed (the reserved array).
        pub(crate) const fn indexed() -> Self {
            Self(Vec::new(), GapIndex::new(true), NodeLinks::new(false))
        }
        /// Storage with per-node chains (the memory array).
        pub(crate) const fn node_linked() -> Self {
            Self(Vec::new(), GapIndex::new(false), NodeLinks::new(true))
        }
        /// The per-node chains, if enabled and up to date.
        pub(crate) fn nodes(&self) -> Option<&NodeLinks> {
            Some(&self.2).filter(|n| n.usable())
        }
        /// Forgets the search structures, as a heap failure while updating them does.
        #[cfg(test)]
        pub(crate) fn drop_search_structures(&mut self) {
            self.1.invalidate();
            self.2.stale();
        }
        /// Rebuilds the per-node chains if the array changed.
        pub(crate) fn refresh_nodes(&mut self) {
            self.2.refresh(&self.0);
        }
        pub(crate) fn as_slice(&self) -> &[Region] {
            &self.0
        }
        /// The gap index, if it is enabled and describes the array.
        pub(crate) fn index(&self) -> Option<&GapIndex> {
            Some(&self.1).filter(|i| i.usable())
        }
        /// Whether the index (if any) matches the regions.
        pub(crate) fn check_index(&self) -> Result<(), &'static str> {
            self.1.check(&self.0)?;
            self.2.check(&self.0)
        }
        /// Replaces region `idx` (no-op out of bounds).
        pub(crate) fn set(&mut self, idx: usize, r: Region) {
            if idx < self.0.len() {
                let old = self.1.longest_replaced(&self.0, idx, idx + 1);
                if let Some(slot) = self.0.get_mut(idx) {
                    *slot = r;
                }
                self.1.update(&self.0, idx, idx + 1, 1, old);
                self.2.stale();
            }
        }
        /// `Vec::try_reserve`, failing on demand in the crate's unit tests
        /// (`fault::fail_heap_after`) when it would really have to allocate.
        fn try_reserve(&mut self, additional: usize) -> bool {
            #[cfg(test)]
            if self.0.capacity() - self.0.len() < additional && fault::should_fail() {
                return false;
            }
            self.0.try_reserve(additional).is_ok()
        }
        /// Inserts at `idx` (`idx <= len`); `false` if the heap refused to grow.
        pub(crate) fn insert(&mut self, idx: usize, r: Region) -> bool {
            if idx > self.0.len() || !self.try_reserve(1) {
                return false;
            }
            let old = self.1.longest_replaced(&self.0, idx, idx);
            self.0.insert(idx, r);
            self.1.update(&self.0, idx, idx, 1, old);
            self.2.stale();
            true
        }
        /// Removes `start..end` (clamped to the length).
        pub(crate) fn remove_range(&mut self, start: usize, end: usize) {
            let end = end.min(self.0.len());
            if start < end {
                let old = self.1.longest_replaced(&self.0, start, end);
                self.0.drain(start..end);
                self.1.update(&self.0, start, end, 0, old);
                self.2.stale();
            }
        }
        /// Replaces `start..end` with `with`; `false` (and no change) if the range is out
        /// of bounds or the heap refused to grow.
        pub(crate) fn splice(&mut self, start: usize, end: usize, with: &[Region]) -> bool {
            if start > end || end > self.0.len() {
                return false;
            }
            if with.len() > end - start && !self.try_reserve(with.len() - (end - start)) {
                return false;
            }
            let old = self.1.longest_replaced(&self.0, start, end);
            self.0.splice(start..end, with.iter().copied());
            self.1.update(&self.0, start, end, with.len(), old);
            self.2.stale();
            true
        }
        /// Makes room for `n` regions so later inserts do not reallocate piecemeal.
        pub(crate) fn reserve_to(&mut self, n: usize) -> bool {
            let extra = n.saturating_sub(self.0.len());
            self.try_reserve(extra)
        }
        /// Makes room for `additional` more regions, so that that many inserts cannot
        /// fail; `false` (and no change) if the heap refused.
        pub(crate) fn reserve(&mut self, additional: usize) -> bool {
            self.try_reserve(additional)
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
        pub(crate) fn as_slice(&self) -> &[Region] {
            self.buf.get(..self.len).unwrap_or(&[])
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
