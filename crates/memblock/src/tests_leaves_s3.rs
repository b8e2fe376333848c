//! Unit tests for mutants of the leaves found by the leaves' mutation run (docs/MUTATION.md), part 3.
#![cfg(feature = "alloc")]

use alloc::vec::Vec;

use crate::store::fault::fail_heap_after;
use crate::store::{grow, Store};
use crate::{PhysAddr, PhysSize, Region};

/// `LEAF_MAX`, which the store does not export.
const FULL: usize = 256;

/// Region number `k`: 4 KiB at `k + 1` MiB, so that regions sort as their keys.
fn page(k: u64) -> Region {
    crate::test_util::span((k + 1) << 20, 0x1000)
}

/// The lengths of the leaves of an indexed store.
fn sizes(s: &Store<128>) -> Vec<usize> {
    s.index()
        .map(|ls| ls.iter().map(|l| l.regions.len()).collect())
        .unwrap_or_default()
}

/// An indexed store of the regions of `keys`, appended in order.
fn appended(keys: impl IntoIterator<Item = u64>) -> Store<128> {
    let mut s: Store<128> = Store::indexed();
    for k in keys {
        assert!(s.insert(s.view().len(), page(k)));
    }
    s
}

/// Leaves `[128, 1]`: the second leaf holds one region, which a join cannot take
/// (129 regions do not fit in half a leaf).
fn one_region_leaf() -> Store<128> {
    let mut s = appended(0..257);
    s.remove_range(129, 257);
    assert_eq!(sizes(&s), [128, 1]);
    s
}

/// Emptying the only leaf of the reserved array drops it, as it drops any other:
/// a leaf of a split store is never empty (`check_index` refuses an empty one),
/// whether the removal goes through `remove_range` or `splice`'s slow path.
#[test]
fn emptying_the_only_leaf_drops_it() {
    let mut s = appended([5]);
    s.remove_range(0, 1);
    assert_eq!(s.view().len(), 0);
    assert_eq!(s.check_index(), Ok(()));
    assert!(s.insert(0, page(7)));
    assert_eq!(s.check_index(), Ok(()));

    let mut s = appended([5]);
    assert!(s.splice(0, 1, &[]));
    assert_eq!(s.view().len(), 0);
    assert_eq!(s.check_index(), Ok(()));
}

/// `splice`'s fast path (all within one leaf) must not empty a leaf: removing the one
/// region of a leaf goes the slow way, which drops the leaf. Replacing that region by
/// two stays on the fast path (the leaf keeps 2 regions, far from `LEAF_MAX`).
#[test]
fn splice_never_empties_a_leaf_in_place() {
    let mut s = one_region_leaf();
    assert!(s.splice(128, 129, &[]));
    assert_eq!(sizes(&s), [128]);
    assert_eq!(s.check_index(), Ok(()));

    let mut s = one_region_leaf();
    assert!(s.splice(128, 129, &[page(300), page(301)]));
    assert_eq!(sizes(&s), [128, 2]);
    assert_eq!(s.check_index(), Ok(()));
    let want: Vec<Region> = (0..128).chain([300, 301]).map(page).collect();
    assert_eq!(s.view().to_vec(), want);
}

/// `Store::reserve(k)` promises that `k` inserts cannot fail, even with the heap
/// refusing everything afterwards. The worst cases for the spare pool: `k` inserts
/// that each split a different full leaf (`may_fill` must count every leaf they
/// could fill), and many inserts into one full leaf (a split every `LEAF_MAX / 2`).
/// The store is a copy, which has no spare leaves and no room for another leaf, so
/// every split needs what `reserve` set aside.
#[test]
fn reserved_inserts_split_full_leaves_without_the_heap() {
    // Leaves [256, 256, 256] of keys 0..768 (spaced by 2, to insert between).
    let mut s = appended((128..256).chain(384..768).map(|k| 2 * k));
    for k in (0..128).rev() {
        assert!(s.insert(0, page(2 * k)));
    }
    for k in (256..384).rev() {
        assert!(s.insert(256, page(2 * k)));
    }
    assert_eq!(sizes(&s), [FULL, FULL, FULL]);
    let model: Vec<Region> = (0..768).map(|k| page(2 * k)).collect();
    assert_eq!(s.view().to_vec(), model);

    // One insert into each full leaf, from the last (indices stay put below).
    let mut copy = s.clone();
    assert!(copy.reserve(3));
    fail_heap_after(Some(0));
    let ok: Vec<bool> = [600usize, 300, 10]
        .iter()
        .map(|&i| copy.insert(i, page(2 * i as u64 - 1)))
        .collect();
    fail_heap_after(None);
    assert_eq!(ok, [true, true, true]);
    assert_eq!(copy.view().len(), 771);
    assert_eq!(copy.check_index(), Ok(()));

    // 300 inserts at the front of one full leaf: three splits.
    let mut one = appended((0..256).map(|k| 2 * k + 600));
    assert_eq!(sizes(&one), [FULL]);
    let mut copy = one.clone();
    assert!(copy.reserve(300));
    fail_heap_after(Some(0));
    let done = (0..300u64)
        .rev()
        .take_while(|&k| copy.insert(0, page(2 * k)))
        .count();
    fail_heap_after(None);
    assert_eq!(done, 300);
    assert_eq!(copy.check_index(), Ok(()));
    let want: Vec<Region> = (0..300).chain(300..556).map(|k| page(2 * k)).collect();
    assert_eq!(copy.view().to_vec(), want);
    // The original is untouched by its copy.
    assert_eq!(one.view().len(), 256);
    one.trim_spares();
    assert_eq!(one.check_index(), Ok(()));
}

/// Shrinks leaf `c` (whose first region is at `at`) to `n` regions, one region at a
/// time through `splice`'s fast path, which never joins leaves: the way to lay out
/// small neighbouring leaves that a removal then has to join.
fn shrink(s: &mut Store<128>, model: &mut Vec<Region>, at: usize, c: usize, n: usize) {
    while sizes(s)[c] > n {
        assert!(s.splice(at + 1, at + 2, &[]));
        model.remove(at + 1);
    }
}

/// `n` full leaves of keys `0..256 * n` spaced by 2 (inserts go between), and the model.
fn full_leaves(n: u64) -> (Store<128>, Vec<Region>) {
    let mut keys: Vec<u64> = (0..n - 1)
        .flat_map(|i| 256 * i + 128..256 * i + 256)
        .collect();
    keys.extend(256 * (n - 1)..256 * n);
    let mut s = appended(keys.iter().map(|k| 2 * k));
    for i in 0..n - 1 {
        for k in (256 * i..256 * i + 128).rev() {
            assert!(s.insert(256 * i as usize, page(2 * k)));
        }
    }
    assert_eq!(sizes(&s), alloc::vec![FULL; n as usize]);
    let model: Vec<Region> = (0..256 * n).map(|k| page(2 * k)).collect();
    assert_eq!(s.view().to_vec(), model);
    (s, model)
}

/// Number of full leaves, leaves to shrink (leaf, new size), region removed afterwards.
type Layout = (u64, &'static [(usize, usize)], usize);

/// A removal joins neighbouring leaves only when the two fit in half a leaf: a join
/// of a small leaf with a big neighbour makes a leaf longer than `LEAF_MAX`. Each
/// layout has a small leaf next to the removal whose pairing with the wrong
/// neighbour (the one on the other side, or itself) would pass `LEAF_MAX`.
#[test]
fn removal_joins_only_leaves_that_fit_in_half_a_leaf() {
    // (leaves to shrink: (leaf, new size), region removed afterwards)
    // (leaves, leaves to shrink: (leaf, new size), region removed afterwards)
    let cases: [Layout; 6] = [
        // [256, 10, 10], removal in leaf 0 (the pair to its right is 1 and 2).
        (3, &[(1, 10), (2, 10)], 5),
        // [256, 10, 10], removal in leaf 1 (pair 1 and 2, not 0 and 1).
        (3, &[(1, 10), (2, 10)], 258),
        // [10, 256], removal in leaf 0 (no pair).
        (2, &[(0, 10)], 1),
        // [256, 10, 256, 10], removal in leaf 1 (no pair).
        (4, &[(1, 10), (3, 10)], 258),
        // [256, 200, 10, 256], removal in leaf 1 (no pair).
        (4, &[(1, 200), (2, 10)], 258),
        // [10, 10, 256, 256], removal in leaf 1 (pair 0 and 1, not 1 and 2).
        (4, &[(0, 10), (1, 10)], 12),
    ];
    for (k, &(n, shrinks, removed)) in cases.iter().enumerate() {
        let (mut s, mut model) = full_leaves(n);
        // From the last leaf down, so the starts of the earlier ones stay put.
        for &(c, size) in shrinks.iter().rev() {
            shrink(&mut s, &mut model, 256 * c, c, size);
        }
        assert_eq!(s.check_index(), Ok(()), "case {k} before");
        s.remove_range(removed, removed + 1);
        model.remove(removed);
        assert_eq!(s.view().to_vec(), model, "case {k}");
        assert_eq!(s.check_index(), Ok(()), "case {k}: {:?}", sizes(&s));
    }
}

/// `splice`'s contract: a range out of bounds (reversed, or past the end) is refused
/// with no change; an empty range inserts; a range across a leaf boundary, or one
/// that would overfill its leaf, goes the slow way (remove, then insert with splits)
/// and still gives the right regions in valid leaves.
#[test]
fn splice_bounds_and_its_slow_path() {
    let mut s = one_region_leaf();
    let before = s.view().to_vec();
    assert!(!s.splice(2, 1, &[]));
    assert!(!s.splice(129, 130, &[]));
    assert!(!s.splice(130, 130, &[page(900)]));
    assert!(!s.insert(130, page(900)));
    s.remove_range(129, 135);
    s.remove_range(3, 2);
    assert_eq!(s.view().to_vec(), before);
    assert_eq!(s.check_index(), Ok(()));

    // An empty range: an insert, at the front, in the middle and at the end.
    let mut model = before.clone();
    for at in [0, 5, 130] {
        let r = between(&model, at);
        assert!(s.splice(at, at, &[r]));
        model.insert(at, r);
        assert_eq!(s.view().to_vec(), model);
        assert_eq!(s.check_index(), Ok(()));
    }

    // Across the boundary of [128, 1]: two regions replaced by one, then all but the
    // first by one.
    let mut s = one_region_leaf();
    let mut model = s.view().to_vec();
    assert!(s.splice(127, 129, &[page(500)]));
    model.splice(127..129, [page(500)]);
    assert_eq!(s.view().to_vec(), model);
    assert_eq!(s.check_index(), Ok(()));
    let mut s = one_region_leaf();
    let mut model = s.view().to_vec();
    assert!(s.splice(1, 129, &[page(500)]));
    model.splice(1..129, [page(500)]);
    assert_eq!(s.view().to_vec(), model);
    assert_eq!(s.check_index(), Ok(()));

    // A full leaf: one region replaced by two (a free in the middle of a region).
    let mut s = appended(0..256);
    let mut model = s.view().to_vec();
    let r = model[10];
    let piece = |off: u64| Region {
        base: PhysAddr::new(r.base.as_u64() + off),
        size: PhysSize::new(0x400),
        ..r
    };
    let two = [piece(0), piece(0x800)];
    assert!(s.splice(10, 11, &two));
    model.splice(10..11, two);
    assert_eq!(s.view().to_vec(), model);
    assert_eq!(s.check_index(), Ok(()));
}

/// A 4 KiB region 8 KiB below region `at` of `model` (or above the last one).
fn between(model: &[Region], at: usize) -> Region {
    match model.get(at) {
        Some(r) => Region {
            base: PhysAddr::new(r.base.as_u64() - 0x2000),
            ..*r
        },
        None => Region {
            base: PhysAddr::new(model[model.len() - 1].base.as_u64() + 0x2000),
            ..model[0]
        },
    }
}

/// `k` inserts at the front of a copy of `s` (whose first key is above `k`), each
/// splitting or creating a leaf when it has to, after `reserve(k)` and with the heap
/// refusing everything: all must go in.
fn reserved_front_inserts(s: &Store<128>, k: u64) {
    let mut copy = s.clone();
    assert!(copy.reserve(k as usize), "k = {k}");
    fail_heap_after(Some(0));
    let done = (0..k)
        .rev()
        .take_while(|&key| copy.insert(0, page(key)))
        .count();
    fail_heap_after(None);
    assert_eq!(done as u64, k, "k = {k}: refused after {done} inserts");
    assert_eq!(copy.check_index(), Ok(()), "k = {k}");
    let want: Vec<Region> = (0..k).map(page).chain(s.view().iter().copied()).collect();
    assert_eq!(copy.view().to_vec(), want, "k = {k}");
}

/// `Store::reserve(k)` promises that `k` inserts cannot fail. Front inserts into one
/// full leaf split it at the 1st insert and every 128th after (the spare pool must
/// allow for `k / (LEAF_MAX / 2)` splits, and the leaf array grow as much: a copy has
/// no room for another leaf); into an empty store the first insert creates the first
/// leaf (the `+ 1` of both counts).
#[test]
fn reserved_front_inserts_never_reach_the_heap() {
    let one = appended((0..256).map(|k| 2 * k + 2000));
    assert_eq!(sizes(&one), [FULL]);
    for k in [1, 2, 300, 384, 640] {
        reserved_front_inserts(&one, k);
    }
    let empty: Store<128> = Store::indexed();
    for k in [1, 3, 1000] {
        reserved_front_inserts(&empty, k);
    }
}

/// Every heap growth goes through `grow` so that the unit tests can refuse it: a
/// growth past the capacity must ask the (refusing) heap, one within the capacity
/// must not.
#[test]
fn grow_refuses_only_growth_past_the_capacity() {
    let mut full: Vec<u64> = Vec::with_capacity(4);
    full.extend([1, 2, 3, 4]);
    let cap = full.capacity();
    let mut roomy: Vec<u64> = Vec::with_capacity(8);
    roomy.extend([1, 2, 3, 4]);
    let room = roomy.capacity() - roomy.len();
    fail_heap_after(Some(0));
    let refused = !grow(&mut full, 1);
    let within = grow(&mut roomy, room);
    let nothing = grow(&mut full, 0);
    fail_heap_after(None);
    assert!(refused);
    assert_eq!(full.capacity(), cap);
    assert!(within);
    assert!(nothing);
}

/// The usual free rewrites regions inside one leaf: when the leaf keeps at most
/// `LEAF_MAX` regions it must not touch the heap, even in a full leaf of a copy (no
/// spare leaves, no room for another leaf), where the slow way's `reserve` would have
/// to grow both.
#[test]
fn splice_within_a_full_leaf_needs_no_heap() {
    let s = appended(0..256);
    let mut copy = s.clone();
    let mut model = s.view().to_vec();
    let half = |r: Region, off: u64| Region {
        base: PhysAddr::new(r.base.as_u64() + off),
        size: PhysSize::new(0x400),
        ..r
    };
    fail_heap_after(Some(0));
    let mut ok = Vec::new();
    for (at, removed, pieces) in [(10, 1, 1), (20, 2, 2), (30, 1, 0), (40, 1, 2)] {
        let r = model[at];
        let with: Vec<Region> = [0, 0x800]
            .into_iter()
            .take(pieces)
            .map(|off| half(r, off))
            .collect();
        ok.push(copy.splice(at, at + removed, &with));
        model.splice(at..at + removed, with);
    }
    fail_heap_after(None);
    assert_eq!(ok, [true; 4]);
    assert_eq!(copy.view().to_vec(), model);
    assert_eq!(copy.check_index(), Ok(()));
}

/// A splice that grows the memory array (one region freed in its middle: two pieces)
/// asks the heap when its buffer is full, so a refusing heap is reported (no change)
/// instead of aborting in `Vec::insert`. Filling the array one region at a time makes
/// it full at some length (right before each growth), well below 64 regions.
#[test]
fn a_growing_splice_of_the_memory_array_asks_the_heap() {
    let mut refused = 0;
    for n in 1..=64u64 {
        let mut s: Store<128> = Store::node_linked();
        for k in 0..n {
            assert!(s.insert(k as usize, page(k)));
        }
        let before = s.view().to_vec();
        let r = before[0];
        let half = |off: u64| Region {
            base: PhysAddr::new(r.base.as_u64() + off),
            size: PhysSize::new(0x400),
            ..r
        };
        fail_heap_after(Some(0));
        let ok = s.splice(0, 1, &[half(0), half(0x800)]);
        fail_heap_after(None);
        if ok {
            assert_eq!(s.view().len(), before.len() + 1, "n = {n}");
        } else {
            refused += 1;
            assert_eq!(s.view().to_vec(), before, "n = {n}");
        }
        assert_eq!(s.check_index(), Ok(()), "n = {n}");
    }
    assert!(refused > 0);
}

/// `reserve` on an empty memory array (one piece, whose leaf does not exist yet) creates
/// the leaf with room for the regions asked for: it reports success, and the inserts it
/// made room for then need no heap. (Found by the last part of the leaves' run: with
/// the heap's answer inverted, a fresh array reported a refusal and made no leaf.)
#[test]
fn reserve_on_an_empty_memory_array_makes_its_leaf() {
    let mut s: Store<128> = Store::node_linked();
    assert!(s.reserve(3));
    fail_heap_after(Some(0));
    let inserted = (0..3u64).all(|k| s.insert(k as usize, page(k)));
    fail_heap_after(None);
    assert!(inserted);
    assert_eq!(s.view().len(), 3);
}

/// `check_index` refuses a leaf with no regions, by name: the leaves' own check fires
/// before the stale first base that an emptied leaf also has (a split store drops every
/// leaf it empties, so only this hook makes one).
#[test]
fn check_index_names_an_empty_leaf() {
    let mut s: Store<128> = Store::indexed();
    for k in 0..600u64 {
        assert!(s.insert(k as usize, page(k)));
    }
    assert_eq!(s.check_index(), Ok(()));
    s.corrupt_leaf(5);
    assert_eq!(s.check_index(), Err("a leaf is empty or too long"));
}
