//! [`Regions`]: a read-only view of one region array.
//!
//! Linux keeps each array as one C array, and inserting in the middle of it moves its
//! tail: on a boot that frees blocks in the middle of a reserved array of 150 000
//! regions that `memmove` is most of the time spent. With the `alloc` feature the
//! reserved array is therefore stored in leaves of at most a few hundred regions (see
//! `store.rs`), and callers read it through this view instead of a slice. The contents,
//! order and indices are exactly Linux's array: `reserved().get(i)` is Linux's
//! `memblock.reserved.regions[i]`; only the storage is split.

#[cfg(feature = "alloc")]
use crate::store::Leaf;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;
use core::fmt;
use core::ops::{Bound, RangeBounds};
use core::slice;

use crate::Region;

/// The regions of one array, in address order: Linux's `regions[0..cnt]` (without its
/// dummy entry when the array is empty).
///
/// It reads like a slice: [`len`](Regions::len), [`get`](Regions::get), indexing,
/// [`iter`](Regions::iter) (double-ended, exact-size), [`first`](Regions::first),
/// [`last`](Regions::last), [`partition_point`](Regions::partition_point), and it
/// compares equal to a slice, array or `Vec` with the same regions. Positions are
/// `O(log n)` to find (a binary search over the leaves, then inside one); iteration
/// is `O(1)` per region. [`Regions::as_slice`] gives the slice itself when the array
/// happens to be stored in one piece.
///
/// ```
/// use memblock::{Memblock, Region, RegionFlags, RegionNid};
/// use phys::{PhysAddr, PhysSize};
///
/// let mut mb = Memblock::new();
/// mb.add(PhysAddr::new(0), PhysSize::new(1 << 30)).unwrap();
/// mb.reserve(PhysAddr::new(0x1000), PhysSize::new(0x1000)).unwrap();
/// mb.reserve(PhysAddr::new(0x4000), PhysSize::new(0x2000)).unwrap();
/// let reserved = mb.reserved();
/// assert_eq!(reserved.len(), 2);
/// assert_eq!(reserved[1].base, PhysAddr::new(0x4000));
/// let sizes: Vec<u64> = reserved.iter().map(|r| r.size.as_u64()).collect();
/// assert_eq!(sizes, [0x1000, 0x2000]);
/// let one = Region {
///     base: PhysAddr::new(0x1000),
///     size: PhysSize::new(0x1000),
///     flags: RegionFlags::NONE,
///     nid: RegionNid::MaxNumNodes,
/// };
/// assert_eq!(reserved.first(), Some(&one));
/// ```
#[derive(Clone, Copy)]
pub struct Regions<'a> {
    repr: Repr<'a>,
}

#[derive(Clone, Copy)]
enum Repr<'a> {
    Flat(&'a [Region]),
    /// Non-empty leaves in order.
    #[cfg(feature = "alloc")]
    Leaves {
        leaves: &'a [Leaf],
        len: usize,
    },
}

/// No regions.
impl Default for Regions<'_> {
    fn default() -> Self {
        Self::from(&[][..])
    }
}

impl<'a> From<&'a [Region]> for Regions<'a> {
    fn from(s: &'a [Region]) -> Self {
        Self {
            repr: Repr::Flat(s),
        }
    }
}

/// Leaf and offset of region `i` (for `i < len`).
#[cfg(feature = "alloc")]
fn at(leaves: &[Leaf], i: usize) -> (usize, usize) {
    let c = leaves.partition_point(|l| l.start <= i).saturating_sub(1);
    (c, i - leaves.get(c).map_or(0, |l| l.start))
}

impl<'a> Regions<'a> {
    /// A view of leaves (each non-empty when there are several).
    #[cfg(feature = "alloc")]
    pub(crate) fn leaves(leaves: &'a [Leaf], len: usize) -> Self {
        match leaves {
            [] => Self::from(&[][..]),
            [one] => Self::from(one.regions.as_slice()),
            _ => Self {
                repr: Repr::Leaves { leaves, len },
            },
        }
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Flat(s) => s.len(),
            #[cfg(feature = "alloc")]
            Repr::Leaves { len, .. } => len,
        }
    }

    /// Whether there is no region.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slice of all regions, if the array is stored in one piece (always without
    /// the `alloc` feature). With `alloc`, whether the reserved array is in one piece
    /// depends on how it grew and shrank, not only on its contents: callers must
    /// handle `None` (and fall back to [`Regions::iter`] or [`Regions::pieces`]).
    pub fn as_slice(&self) -> Option<&'a [Region]> {
        match self.repr {
            Repr::Flat(s) => Some(s),
            #[cfg(feature = "alloc")]
            Repr::Leaves { .. } => None,
        }
    }

    /// The pieces the regions are stored in, in order: iterating them is the fastest
    /// way through the array.
    pub fn pieces(&self) -> impl DoubleEndedIterator<Item = &'a [Region]> + 'a {
        let (flat, leaves): (&'a [Region], LeafSlice<'a>) = match self.repr {
            Repr::Flat(s) => (s, &[]),
            #[cfg(feature = "alloc")]
            Repr::Leaves { leaves, .. } => (&[], leaves),
        };
        let flat = (!flat.is_empty()).then_some(flat);
        flat.into_iter().chain(leaves.iter().map(leaf_regions))
    }

    /// Region `i`, if `i < len`.
    pub fn get(&self, i: usize) -> Option<&'a Region> {
        match self.repr {
            Repr::Flat(s) => s.get(i),
            #[cfg(feature = "alloc")]
            Repr::Leaves { leaves, len } => {
                if i >= len {
                    return None;
                }
                let (c, k) = at(leaves, i);
                leaves.get(c)?.regions.get(k)
            }
        }
    }

    /// The first region.
    pub fn first(&self) -> Option<&'a Region> {
        self.pieces().next().and_then(<[Region]>::first)
    }

    /// The last region.
    pub fn last(&self) -> Option<&'a Region> {
        self.pieces().next_back().and_then(<[Region]>::last)
    }

    /// All regions in order.
    pub fn iter(&self) -> Iter<'a> {
        self.range(..)
    }

    /// The regions at positions `r` (as in `regions[r]`, but clamped to the length
    /// rather than refused), in order.
    pub fn range(&self, r: impl RangeBounds<usize>) -> Iter<'a> {
        let lo = match r.start_bound() {
            Bound::Included(&a) => a,
            Bound::Excluded(&a) => a.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let hi = match r.end_bound() {
            Bound::Included(&b) => b.saturating_add(1),
            Bound::Excluded(&b) => b,
            Bound::Unbounded => usize::MAX,
        };
        let hi = hi.min(self.len());
        let lo = lo.min(hi);
        match self.repr {
            Repr::Flat(s) => Iter {
                front: s.get(lo..hi).unwrap_or(&[]).iter(),
                mid: [].iter(),
                back: [].iter(),
                left: hi - lo,
            },
            #[cfg(feature = "alloc")]
            Repr::Leaves { leaves, .. } => {
                if lo == hi {
                    return Iter::default();
                }
                let (ca, oa) = at(leaves, lo);
                let (cb, ob) = at(leaves, hi - 1);
                let leaf = |c: usize| leaves.get(c).map_or(&[][..], leaf_regions);
                if ca == cb {
                    return Iter {
                        front: leaf(ca).get(oa..=ob).unwrap_or(&[]).iter(),
                        mid: [].iter(),
                        back: [].iter(),
                        left: hi - lo,
                    };
                }
                Iter {
                    front: leaf(ca).get(oa..).unwrap_or(&[]).iter(),
                    mid: leaves.get(ca + 1..cb).unwrap_or(&[]).iter(),
                    back: leaf(cb).get(..=ob).unwrap_or(&[]).iter(),
                    left: hi - lo,
                }
            }
        }
    }

    /// The number of leading regions for which `pred` holds, `pred` being true for a
    /// prefix of the array and false after it (as [`slice::partition_point`]).
    pub fn partition_point(&self, pred: impl FnMut(&Region) -> bool) -> usize {
        #[cfg(feature = "alloc")]
        let mut pred = pred;
        match self.repr {
            Repr::Flat(s) => s.partition_point(pred),
            #[cfg(feature = "alloc")]
            Repr::Leaves { leaves, len } => {
                let c = leaves.partition_point(|l| l.regions.last().is_none_or(&mut pred));
                match leaves.get(c) {
                    Some(l) => l.start + l.regions.partition_point(pred),
                    None => len,
                }
            }
        }
    }

    /// The regions copied into a `Vec`.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> Vec<Region> {
        self.iter().copied().collect()
    }
}

#[cfg(feature = "alloc")]
type LeafSlice<'a> = &'a [Leaf];
#[cfg(not(feature = "alloc"))]
type LeafSlice<'a> = &'a [[Region; 0]];

#[cfg(feature = "alloc")]
fn leaf_regions(l: &Leaf) -> &[Region] {
    &l.regions
}
#[cfg(not(feature = "alloc"))]
fn leaf_regions(l: &[Region; 0]) -> &[Region] {
    l
}

/// Iterator over [`Regions`], from [`Regions::iter`] and [`Regions::range`].
#[derive(Clone)]
pub struct Iter<'a> {
    front: slice::Iter<'a, Region>,
    #[cfg(feature = "alloc")]
    mid: slice::Iter<'a, Leaf>,
    #[cfg(not(feature = "alloc"))]
    mid: slice::Iter<'a, [Region; 0]>,
    back: slice::Iter<'a, Region>,
    left: usize,
}

/// Shows what is left to iterate, not the storage.
impl fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("left", &self.left).finish()
    }
}

impl Default for Iter<'_> {
    fn default() -> Self {
        Self {
            front: [].iter(),
            mid: [].iter(),
            back: [].iter(),
            left: 0,
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Region;

    fn next(&mut self) -> Option<&'a Region> {
        loop {
            if let Some(r) = self.front.next() {
                self.left -= 1;
                return Some(r);
            }
            match self.mid.next() {
                Some(l) => self.front = leaf_regions(l).iter(),
                None => {
                    let r = self.back.next()?;
                    self.left -= 1;
                    return Some(r);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.back.next_back() {
                self.left -= 1;
                return Some(r);
            }
            match self.mid.next_back() {
                Some(l) => self.back = leaf_regions(l).iter(),
                None => {
                    let r = self.front.next_back()?;
                    self.left -= 1;
                    return Some(r);
                }
            }
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl core::iter::FusedIterator for Iter<'_> {}

impl<'a> IntoIterator for Regions<'a> {
    type Item = &'a Region;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Regions<'a> {
    type Item = &'a Region;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Like a slice's indexing: panics if `i >= len` (use [`Regions::get`] to avoid that).
impl core::ops::Index<usize> for Regions<'_> {
    type Output = Region;
    fn index(&self, i: usize) -> &Region {
        match self.get(i) {
            Some(r) => r,
            None => panic!("region index {i} out of range for {} regions", self.len()),
        }
    }
}

impl fmt::Debug for Regions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Regions<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
impl Eq for Regions<'_> {}

impl PartialEq<[Region]> for Regions<'_> {
    fn eq(&self, other: &[Region]) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
impl PartialEq<&[Region]> for Regions<'_> {
    fn eq(&self, other: &&[Region]) -> bool {
        *self == **other
    }
}
impl<const K: usize> PartialEq<[Region; K]> for Regions<'_> {
    fn eq(&self, other: &[Region; K]) -> bool {
        *self == other[..]
    }
}
impl<const K: usize> PartialEq<&[Region; K]> for Regions<'_> {
    fn eq(&self, other: &&[Region; K]) -> bool {
        *self == other[..]
    }
}
#[cfg(feature = "alloc")]
impl PartialEq<Vec<Region>> for Regions<'_> {
    fn eq(&self, other: &Vec<Region>) -> bool {
        *self == other[..]
    }
}
#[cfg(feature = "alloc")]
impl PartialEq<Regions<'_>> for Vec<Region> {
    fn eq(&self, other: &Regions<'_>) -> bool {
        *other == self[..]
    }
}
impl<const K: usize> PartialEq<Regions<'_>> for [Region; K] {
    fn eq(&self, other: &Regions<'_>) -> bool {
        *other == self[..]
    }
}
impl PartialEq<Regions<'_>> for [Region] {
    fn eq(&self, other: &Regions<'_>) -> bool {
        *other == *self
    }
}
impl PartialEq<Regions<'_>> for &[Region] {
    fn eq(&self, other: &Regions<'_>) -> bool {
        *other == **self
    }
}

/// The view's slice-like contract on both representations: one flat slice, and leaves
/// (a reserved array of 600 regions).
#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::{Memblock, PhysAddr, PhysSize};

    fn reserved(n: u64) -> Memblock {
        let mut mb = Memblock::new();
        mb.add(PhysAddr::new(0), PhysSize::new(1 << 30)).unwrap();
        for i in 0..n {
            mb.reserve(PhysAddr::new(0x10_0000 + i * 0x2000), PhysSize::new(0x1000))
                .unwrap();
        }
        mb
    }

    // Each side of each comparison is a different impl: none of them is redundant.
    #[allow(clippy::nonminimal_bool, clippy::eq_op, clippy::op_ref)]
    #[test]
    fn equality_both_ways_with_slices_arrays_and_vecs() {
        for n in [3u64, 600] {
            let mb = reserved(n);
            let v = mb.reserved();
            let same: Vec<Region> = v.to_vec();
            let mut other = same.clone();
            if let Some(r) = other.last_mut() {
                r.size = PhysSize::new(0x800);
            }
            assert!(v == same && same == v && v == same[..] && same[..] == v);
            assert!(v == &same[..] && &same[..] == v);
            assert!(v != other && other != v && v != other[..] && other[..] != v);
            assert!(v != &other[..] && &other[..] != v);
            assert!(v == v && v != Regions::default());
            let first: [Region; 1] = [same[0]];
            let short = v.range(..1);
            assert_eq!(short.len(), 1);
            let one = Regions::from(&same[..1]);
            assert!(one == first && first == one && one == &first);
            let changed: [Region; 1] = [other[other.len() - 1]];
            assert!(Regions::from(&same[same.len() - 1..]) != changed);
            assert!(changed != Regions::from(&same[same.len() - 1..]));
        }
    }

    #[test]
    fn iteration_counts_down_from_both_ends() {
        for n in [3u64, 600] {
            let mb = reserved(n);
            let v = mb.reserved();
            let all = v.to_vec();
            let mut it = (&v).into_iter();
            assert_eq!(it.len(), all.len());
            assert_eq!(it.next_back(), all.last());
            assert_eq!(it.len(), all.len() - 1);
            assert_eq!(it.next(), all.first());
            assert_eq!(it.len(), all.len() - 2);
            assert_eq!(it.size_hint(), (all.len() - 2, Some(all.len() - 2)));
            assert_eq!((&v).into_iter().count(), all.len());
            assert!(v.into_iter().eq(all.iter()));
            // Range bounds, clamped like the length.
            assert!(v.range(1..=2).eq(all[1..=2].iter()));
            assert!(v.range(..).eq(all.iter()));
            assert_eq!(v.range(2..).len(), all.len() - 2);
            assert_eq!(v.range(..usize::MAX).len(), all.len());
            let (five, two) = (5, 2);
            assert_eq!(v.range(five..two).len(), 0);
            assert_eq!(v.get(all.len()), None);
            assert_eq!(v.partition_point(|r| r.base.as_u64() < 0x10_2000), 1);
        }
    }
}
