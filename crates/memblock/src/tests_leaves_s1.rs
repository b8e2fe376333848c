//! Unit tests for mutants of the leaves found by the leaves' mutation run (docs/MUTATION.md), part 1.
//!
//! These call `index.rs`'s helpers on hand-built leaves: the states that reach the
//! mutated lines differently (tied longest gaps, an address that is not a gap start)
//! are ones every caller in the crate already agrees on, so only the helpers' own
//! contracts can tell the mutants apart.
#![cfg(feature = "alloc")]

use alloc::vec::Vec;

use crate::index::{fit_top_down, gap_at, leaf_longest};
use crate::store::Leaf;
use crate::Region;

/// A reserved region `[base, end)`.
fn reg(base: u64, end: u64) -> Region {
    crate::test_util::span(base, end - base)
}

/// Leaves holding these runs of `(base, end)` regions, with their starts and first
/// bases filled in (the gap summaries are not read by the helpers tested here).
fn leaves(runs: &[&[(u64, u64)]]) -> Vec<Leaf> {
    let mut at = 0;
    runs.iter()
        .map(|run| {
            let regions: Vec<Region> = run.iter().map(|&(b, e)| reg(b, e)).collect();
            let leaf = Leaf {
                start: at,
                first: regions.first().map_or(0, |r| r.base.as_u64()),
                regions,
                ..Leaf::default()
            };
            at += leaf.regions.len();
            leaf
        })
        .collect()
}

/// `leaf_longest` must say where the *first* of several equally long longest gaps
/// starts, as documented. Two gaps of 0x1000 in a non-last leaf (the last leaf's gap
/// above the array would dominate): taking `>=` for `>` would record the later one.
#[test]
fn leaf_longest_records_the_first_of_tied_longest_gaps() {
    let l = leaves(&[
        &[(0x1000, 0x2000), (0x3000, 0x4000), (0x5000, 0x5800)],
        &[(0x10_0000, 0x10_1000)],
    ]);
    // Gaps of leaf 0: [0, 0x1000), [0x2000, 0x3000), [0x4000, 0x5000): all 0x1000.
    assert_eq!(leaf_longest(&l, 0), (0x1000, 0x1000, 0));
    // Without the gap at 0, the two tied gaps are [0x2000, 0x3000) and [0x4000, 0x5000).
    let l = leaves(&[
        &[(0x800, 0x2000), (0x3000, 0x4000), (0x5000, 0x5800)],
        &[(0x10_0000, 0x10_1000)],
    ]);
    assert_eq!(leaf_longest(&l, 0), (0x1000, 0x1000, 0x2000));
}

/// `gap_at` answers only for gaps the leaf owns: a leaf that is not the last does not
/// own the gap above its last region (the next leaf owns it as its gap 0), so asking
/// the first leaf for the gap starting at its last region's end must give `None`,
/// while the last leaf does own the gap above the array.
#[test]
fn gap_at_answers_only_for_gaps_the_leaf_owns() {
    let l = leaves(&[
        &[(0x1000, 0x2000), (0x3000, 0x4000)],
        &[(0x8000, 0x9000), (0xa000, 0xb000)],
    ]);
    assert_eq!(gap_at(&l, 0, 0x4000), None);
    assert_eq!(gap_at(&l, 1, 0x4000), Some((0, 0x8000)));
    assert_eq!(gap_at(&l, 1, 0xb000), Some((2, u64::MAX)));
    assert_eq!(gap_at(&l, 0, 0x2000), Some((1, 0x3000)));
}

/// `gap_at` answers only at a gap's exact start: an address inside a gap or inside a
/// region of the leaf names no gap (`check_index` relies on this to notice a
/// `longest_at` that moved).
#[test]
fn gap_at_answers_only_at_a_gap_start() {
    let l = leaves(&[&[(0x1000, 0x2000), (0x3000, 0x4000), (0x5000, 0x6000)]]);
    // Inside gap [0x2000, 0x3000), inside region [0x3000, 0x4000), inside the gap
    // above the array: none is a gap start.
    assert_eq!(gap_at(&l, 0, 0x2800), None);
    assert_eq!(gap_at(&l, 0, 0x3800), None);
    assert_eq!(gap_at(&l, 0, 0x7000), None);
    assert_eq!(gap_at(&l, 0, 0x2000), Some((1, 0x3000)));
    assert_eq!(gap_at(&l, 0, 0x6000), Some((3, u64::MAX)));
}

/// `fit_top_down` is Linux's per-range step exactly: a clamped range `[0, size)` fits
/// `size` bytes at 0 (`this_end < size` is false, `round_down(0) >= 0`). Memblock's
/// windows start at a page or more, so this pins the transcription for any caller,
/// not a reachable allocation.
#[test]
fn fit_top_down_fits_a_range_exactly_as_long_as_the_request_at_zero() {
    assert_eq!(fit_top_down(0, 0x1000, 0x1000, 0x1000), Some(0));
    assert_eq!(fit_top_down(0, 0xfff, 0x1000, 1), None);
    assert_eq!(fit_top_down(0x1000, 0x2000, 0x1000, 0x1000), Some(0x1000));
}
