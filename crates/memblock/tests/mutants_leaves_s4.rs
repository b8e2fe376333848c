//! The read-only view `Regions` of the reserved array, on the points of its public
//! contract that the differential tests (which compare its contents with a `Vec`) do not
//! look at, found by mutation testing of `view.rs` (`docs/MUTATION.md`): whether an
//! array in one piece is handed out as one slice, how many pieces an empty array has,
//! what `Debug` prints, and equality of two views of the same length or of a view and
//! an array reference.

#![cfg(feature = "alloc")]

use memblock::{Memblock, PhysAddr, PhysSize, Region, Regions};

/// 1 GiB of memory and `n` reserved pages, one every 8 KiB from 1 MiB (600 fill
/// several leaves; 3 fit in one). Past 128 regions the reserved array doubles and
/// reserves its own new storage, one more region.
fn reserved(n: u64) -> Memblock {
    let mut mb = Memblock::new();
    mb.add(PhysAddr::new(0), PhysSize::new(1 << 30)).unwrap();
    for i in 0..n {
        mb.reserve(PhysAddr::new(0x10_0000 + i * 0x2000), PhysSize::new(0x1000))
            .unwrap();
    }
    assert!(mb.reserved().len() >= n as usize);
    mb
}

/// An empty array is one (empty) slice and has no piece at all: callers that take
/// `as_slice` as the fast path must get it for a fresh `Memblock`, and `pieces` must not
/// hand out an empty piece (a caller counting or indexing pieces would see a phantom).
#[test]
fn an_empty_view_is_an_empty_slice_with_no_pieces() {
    let mb = Memblock::new();
    let fresh = mb.reserved();
    assert_eq!(fresh.as_slice(), Some(&[][..]));
    assert_eq!(fresh.pieces().count(), 0);
    assert_eq!(fresh.pieces().next_back(), None);
    assert_eq!((fresh.first(), fresh.last()), (None, None));
    let none = Regions::default();
    assert_eq!(none.as_slice(), Some(&[][..]));
    assert_eq!(none.pieces().count(), 0);
    assert!(none.is_empty() && fresh.is_empty());
}

/// An array that fits in one leaf is handed out as that one slice (the documented
/// "stored in one piece" case), and one that does not is not: `as_slice` must say
/// which, with the right contents.
#[test]
fn one_leaf_is_one_slice_and_several_are_not() {
    let small = reserved(3);
    let v = small.reserved();
    let all = v.to_vec();
    assert_eq!(v.as_slice(), Some(&all[..]));
    assert_eq!(v.pieces().count(), 1);
    assert_eq!(v.pieces().next(), Some(&all[..]));
    let big = reserved(600);
    let v = big.reserved();
    assert_eq!(v.as_slice(), None);
    assert!(v.pieces().count() >= 2);
    assert_eq!(v.pieces().map(<[Region]>::len).sum::<usize>(), v.len());
}

/// `Debug` of a view prints its regions like the slice they stand for, and `Debug` of
/// an iterator prints how many regions it has left: both are what assertion messages
/// show, so they must describe the contents, not be empty.
#[test]
fn debug_shows_the_regions_and_what_an_iterator_has_left() {
    for n in [3u64, 600] {
        let mb = reserved(n);
        let v = mb.reserved();
        let all = v.to_vec();
        assert_eq!(format!("{v:?}"), format!("{all:?}"));
        let len = all.len();
        let mut it = v.iter();
        assert_eq!(format!("{it:?}"), format!("Iter {{ left: {len} }}"));
        it.next();
        it.next_back();
        assert_eq!(format!("{it:?}"), format!("Iter {{ left: {} }}", len - 2));
    }
    assert_eq!(format!("{:?}", Regions::default()), "[]");
}

/// Two views of the same length are equal only if every region is: a view compared
/// with a view (not a slice) must still look at the contents, on one slice and on
/// leaves.
// `short == short` compares a view with itself on purpose (`eq` is under test).
#[allow(clippy::nonminimal_bool, clippy::eq_op)]
#[test]
fn views_of_equal_length_and_different_regions_differ() {
    for n in [3u64, 600] {
        let a = reserved(n);
        let mut b = reserved(n);
        assert!(a.reserved() == b.reserved());
        let second = PhysAddr::new(0x10_2000);
        b.free(second, PhysSize::new(0x1000)).unwrap();
        b.reserve(second, PhysSize::new(0x800)).unwrap();
        assert_eq!(b.reserved().len(), a.reserved().len());
        assert!(a.reserved() != b.reserved());
        assert!(b.reserved() != a.reserved());
        let all = a.reserved().to_vec();
        let (short, long) = (Regions::from(&all[..1]), Regions::from(&all[..2]));
        assert!(short != long && long != short && short == short);
    }
}

/// Every comparison of a view with a slice, array or `Vec` (either side, by value or by
/// reference) is true for the same regions and false for the same number of regions
/// with one different: each impl is its own code path, and a caller comparing with an
/// array reference must not be told "equal" for different contents.
// Each comparison goes through a different impl: none of them is redundant.
#[allow(clippy::nonminimal_bool, clippy::op_ref)]
#[test]
fn every_comparison_impl_tells_equal_from_different() {
    for n in [3u64, 600] {
        let mb = reserved(n);
        let v = mb.reserved();
        let same = v.to_vec();
        let mut other = same.clone();
        other[1].size = PhysSize::new(0x800);
        assert!(v == same && same == v && v == same[..] && same[..] == v);
        assert!(v == &same[..] && &same[..] == v);
        assert!(v != other && other != v && v != other[..] && other[..] != v);
        assert!(v != &other[..] && &other[..] != v);
    }
    let mb = reserved(3);
    let v = mb.reserved();
    let same: [Region; 3] = [v[0], v[1], v[2]];
    let mut other = same;
    other[1].size = PhysSize::new(0x800);
    assert!(v == same && same == v && v == &same);
    assert!(v != other && other != v && v != &other);
}
