//! Unit tests for mutants of the leaves found by the leaves' mutation run (docs/MUTATION.md), part 2.
#![cfg(feature = "alloc")]

use alloc::vec::Vec;

use crate::store::fault::fail_heap_after;
use crate::store::Store;
use crate::{PhysSize, Region};

/// A 4 KiB region every 8 KiB, the `n`th at `(n + 1) * 8 KiB`.
fn page(n: usize) -> Region {
    crate::test_util::span((n as u64 + 1) * 0x2000, 0x1000)
}

/// An indexed store (the reserved array's) of `n` pages, in several leaves for
/// `n > 256`.
fn pages(n: usize) -> Store<128> {
    let mut store = Store::indexed();
    for i in 0..n {
        assert!(store.insert(i, page(i)));
    }
    assert_eq!(store.check_index(), Ok(()));
    store
}

/// After a heap failure drops the index, the leaves' summaries no longer describe the
/// array (here: one made wrong on purpose) and no search reads them; `check_index`
/// must still accept the store, since it is a state the allocator runs in until the
/// next change rebuilds the summaries.
#[test]
fn dropped_index_is_not_checked_until_rebuilt() {
    let mut store = pages(600);
    store.drop_search_structures();
    store.corrupt_leaf(0);
    assert!(store.index().is_none());
    assert_eq!(store.check_index(), Ok(()));
    assert!(store.insert(600, page(600)));
    assert!(store.index().is_some());
    assert_eq!(store.check_index(), Ok(()));
}

/// Appends pages after the last one while the heap refuses every growth, until an
/// insert is refused; the number of leaf splits that still went through (each takes
/// a spare leaf buffer, the only heap-free source of a new leaf).
fn splits_without_heap(store: &mut Store<128>) -> usize {
    let leaves = |s: &Store<128>| s.index().map_or(0, <[_]>::len);
    let before = leaves(store);
    fail_heap_after(Some(0));
    let mut n = store.view().len();
    let next = store
        .view()
        .last()
        .map_or(0, |r| (r.base.as_u64() >> 13) as usize);
    let mut refused = false;
    for i in 0..2000 {
        if !store.insert(n, page(next + i)) {
            refused = true;
            break;
        }
        n += 1;
    }
    fail_heap_after(None);
    assert!(refused, "no split needed the heap");
    assert_eq!(store.view().len(), n, "a refused insert changed the store");
    assert_eq!(store.check_index(), Ok(()));
    leaves(store) - before
}

/// A removal that empties whole leaves keeps their buffers for the next splits, up
/// to the spare pool's room (4: `reserve` gave the pool its first buffer and room for
/// 4), so those splits need no heap and the one after them does. Pins both halves of
/// `recycle`'s rule: buffers are reused, and the pool never grows on the heap there
/// (where a failure could not be refused).
#[test]
fn emptied_leaves_refill_the_spare_pool_up_to_its_room() {
    let mut store = pages(2000);
    assert!(store.reserve(1));
    let sizes: Vec<usize> = store
        .index()
        .map(|ls| ls.iter().map(|l| l.regions.len()).collect())
        .unwrap_or_default();
    // Whole leaves 0..6: six buffers freed, room for three beside reserve's one.
    let end: usize = sizes.iter().take(6).sum();
    store.remove_range(0, end);
    assert_eq!(store.check_index(), Ok(()));
    assert_eq!(splits_without_heap(&mut store), 4);
}

/// `set` past the end is a no-op, as documented: on the memory array it must leave
/// the per-node chains usable (marking them stale would make the next node-local
/// search rebuild them for nothing), on a reserved array whose index was dropped it
/// must not rebuild the index, and on an indexed one it must leave the summaries
/// exact.
#[test]
fn set_past_the_end_changes_nothing() {
    let mut memory: Store<128> = Store::node_linked();
    for i in 0..8 {
        assert!(memory.insert(i, page(2 * i)));
    }
    memory.refresh_nodes();
    assert!(memory.nodes().is_some());
    let before = memory.view().to_vec();
    memory.set(8, page(100));
    assert_eq!(memory.view(), before);
    assert!(memory.nodes().is_some(), "chains made stale");

    let mut dropped = pages(600);
    dropped.drop_search_structures();
    dropped.set(600, page(700));
    assert_eq!(dropped.view().len(), 600);
    assert!(dropped.index().is_none(), "index rebuilt");

    let mut indexed = pages(600);
    let before = indexed.view().to_vec();
    for idx in [600, 601, 10_000] {
        indexed.set(idx, page(700));
    }
    assert_eq!(indexed.view(), before);
    assert_eq!(indexed.check_index(), Ok(()));
}

/// `first_ending_after(addr)` is the first region ending *above* `addr`: a region
/// that ends exactly at `addr` is not it (Linux's loops skip `rend <= base`); `seek`
/// adds the regions on either side of that index, none above the last region. The
/// callers in memblock.rs happen to skip a wrong neighbour again (a reservation then
/// takes its slower general path), so only the store's own contract shows these
/// off-by-ones; checked in every part of a leaf and at the leaf boundaries of a split
/// store, and on the one-piece memory array.
#[test]
fn first_ending_after_and_seek_skip_a_region_ending_at_the_address() {
    let mut memory: Store<128> = Store::node_linked();
    for i in 0..300 {
        assert!(memory.insert(i, page(i)));
    }
    for store in [pages(600), memory] {
        let n = store.view().len();
        for i in [0, 1, 127, 128, 129, 255, 256, 300, n - 1] {
            let Some(r) = store.view().get(i).copied() else {
                continue;
            };
            let (base, end) = (r.base.as_u64(), r.end().as_u64());
            assert_eq!(store.first_ending_after(base - 1), i, "gap below {i}");
            assert_eq!(store.first_ending_after(base), i, "base of {i}");
            assert_eq!(store.first_ending_after(end - 1), i, "last byte of {i}");
            assert_eq!(store.first_ending_after(end), i + 1, "end of {i}");
            let v = store.view();
            let around = |j: usize| {
                (
                    j,
                    j.checked_sub(1).and_then(|k| v.get(k)).copied(),
                    v.get(j).copied(),
                )
            };
            assert_eq!(store.seek(base), around(i), "seek base of {i}");
            assert_eq!(store.seek(end), around(i + 1), "seek end of {i}");
        }
    }
}

/// A splice of the last region of a leaf replaces the gap above it, which the next
/// leaf owns (the gap below that leaf's first region): `owned` must step into the
/// next leaf there, or that leaf keeps a longest gap that no longer exists. Here that
/// gap becomes the next leaf's unique longest one, then shrinks below the others.
#[test]
fn splice_at_a_leaf_end_updates_the_next_leaf() {
    let base = pages(600);
    let starts: Vec<usize> = base
        .index()
        .map(|ls| ls.iter().map(|l| l.start).collect())
        .unwrap_or_default();
    assert!(starts.len() > 2);
    for &b in starts.iter().skip(1) {
        let mut store = base.clone();
        let Some(below) = store.view().get(b - 1).copied() else {
            continue;
        };
        for (size, what) in [(0x10, "widened"), (0x1800, "narrowed")] {
            let r = Region {
                size: PhysSize::new(size),
                ..below
            };
            assert!(store.splice(b - 1, b, &[r]));
            assert_eq!(store.check_index(), Ok(()), "{what} gap at leaf start {b}");
        }
    }
}
