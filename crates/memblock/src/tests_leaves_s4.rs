//! Unit tests for mutants of `view.rs` and the inline store found by the leaves' mutation run (docs/MUTATION.md).
//!
//! The inline (no-`alloc`) store's `splice` with an empty range to replace: Linux's
//! callers always remove at least one region there, so only the store's own contract
//! (an empty `start..end` is a plain insertion, as for `Vec::splice`) pins it.

#![cfg(not(feature = "alloc"))]

use crate::store::Store;
use crate::Region;

fn region(n: u64) -> Region {
    crate::test_util::span(n * 0x2000, 0x1000)
}

/// `splice(i, i, with)` inserts `with` before position `i` (at the front, in the middle,
/// at the end) and is refused only for want of room: `start == end` is a valid empty
/// range, not an inverted one.
#[test]
fn splice_of_an_empty_range_inserts() {
    let mut store: Store<6> = Store::indexed();
    assert!(store.splice(0, 0, &[region(2)]));
    assert!(store.splice(0, 0, &[region(0)]));
    assert!(store.splice(1, 1, &[region(1)]));
    assert!(store.splice(3, 3, &[region(3), region(4)]));
    assert_eq!(
        store.flat(),
        [region(0), region(1), region(2), region(3), region(4)]
    );
    assert!(!store.splice(2, 2, &[region(8), region(9)]), "7 > 6");
    assert!(store.splice(5, 5, &[]));
    assert_eq!(store.flat().len(), 5);
}
