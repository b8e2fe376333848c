//! The search memo (`index::WalkMemo`) against every change that can lengthen a gap
//! of the leaf it remembers: each change must give the leaf a new state number, or a
//! memo kept from before it would skip the gap the change made long enough.
//! `Memblock` itself only lengthens gaps by removing or cutting reserved regions;
//! these tests also hold `Store::set` to it, which `Memblock` only uses to grow a
//! region.

use crate::index::{find_top_down, WalkMemo};
use crate::store::Store;
use crate::test_util::span;
use alloc::vec::Vec;

const MIB: u64 = 1 << 20;

/// The request: longer than every gap of [`spaced`], shorter than what each change
/// below opens.
const SIZE: u64 = 0xf_f800;

/// 600 one-page regions 1 MiB apart, then two at 4 and 8 GiB, appended (leaves of
/// 128, 128, 128 and 218 regions): every gap between two of the first 600 is
/// `0xff000`, shorter than [`SIZE`]. The last leaf also holds the long gaps above
/// 600 MiB, so its summary cannot rule out its small gaps (as at 8192 CPUs, where
/// the leaf holding the RMA's top also holds the tops of the nodes above it).
fn spaced() -> Store<128> {
    let mut s = Store::indexed();
    for i in 0..600 {
        assert!(s.insert(i as usize, span((i + 1) * MIB, 0x1000)));
    }
    assert!(s.insert(600, span(4 << 30, 0x1000)));
    assert!(s.insert(601, span(8 << 30, 0x1000)));
    let sizes: Vec<usize> = s
        .index()
        .unwrap_or(&[])
        .iter()
        .map(|l| l.regions.len())
        .collect();
    assert_eq!(sizes, [128, 128, 128, 218]);
    s
}

/// A top-down search for [`SIZE`] from 600 MiB (the base of the last of the 600)
/// down to the first page.
fn search(s: &Store<128>, memo: &mut WalkMemo) -> Option<u64> {
    let leaves = s.index().unwrap_or(&[]);
    find_top_down(leaves, 0x1000, 600 * MIB, SIZE, 0x1000, memo)
}

/// After `change`, the memo kept from before gives what a search without one gives,
/// and that is the gap the change opened.
fn memo_sees(change: impl FnOnce(&mut Store<128>)) {
    let mut s = spaced();
    // A change to the first leaf, so that the last leaf's state number is not the
    // store's latest: a change that went back to an older number would meet it.
    s.set(0, span(MIB, 0x1000));
    let mut memo = WalkMemo::NONE;
    assert_eq!(search(&s, &mut memo), None);
    assert_ne!(
        memo,
        WalkMemo::NONE,
        "the walk of the last leaf was remembered"
    );
    assert_eq!(search(&s, &mut memo), None);
    change(&mut s);
    assert_eq!(s.check_index(), Ok(()));
    let fresh = search(&s, &mut WalkMemo::default());
    assert!(fresh.is_some(), "the change opened a gap of {SIZE:#x}");
    assert_eq!(search(&s, &mut memo), fresh);
}

#[test]
fn memo_sees_a_region_set_shorter() {
    // Region 590 (at 591 MiB) moved up: the gap below it grows by 0x800.
    memo_sees(|s| s.set(590, span(591 * MIB + 0x800, 0x800)));
}

#[test]
fn memo_sees_a_region_removed() {
    memo_sees(|s| s.remove_range(590, 591));
}

#[test]
fn memo_sees_a_region_spliced_shorter() {
    memo_sees(|s| assert!(s.splice(590, 591, &[span(591 * MIB + 0x800, 0x800)])));
}

#[test]
fn memo_sees_regions_spliced_away() {
    memo_sees(|s| assert!(s.splice(589, 591, &[])));
}

#[test]
fn memo_sees_leaves_joined() {
    // Most of the last two leaves go (44 and 10 regions are left): they join, and
    // the last leaf is another one.
    memo_sees(|s| {
        s.remove_range(300, 590);
        assert_eq!(s.index().map(<[_]>::len), Some(3));
    });
}

#[test]
fn memo_sees_a_splice_across_leaves() {
    // Regions 500..520 span two leaves: `splice`'s slow path, one region left.
    memo_sees(|s| assert!(s.splice(500, 520, &[span(501 * MIB, 0x1000)])));
}

#[test]
fn memo_sees_a_change_made_while_the_summaries_were_dropped() {
    // A heap failure drops the summaries: the next change goes through the plain
    // path, which rebuilds them. The leaf's state number must move there too.
    memo_sees(|s| {
        s.drop_search_structures();
        assert!(s.index().is_none());
        s.set(590, span(591 * MIB + 0x800, 0x800));
        assert!(s.index().is_some());
    });
}

/// The allocator keeps the memo from one allocation to the next (it is in the
/// reserved array's store, taken out only during a search).
#[test]
fn allocations_keep_the_memo() {
    use crate::{AllocLimit, Memblock, PhysAddr, PhysSize};
    let mut mb = Memblock::new();
    mb.add(PhysAddr::ZERO, PhysSize::new(16 << 30)).unwrap();
    for r in spaced().view().iter() {
        mb.reserve(r.base, r.size).unwrap();
    }
    assert_eq!(mb.walk_memo(), WalkMemo::NONE);
    let below = AllocLimit::Addr(PhysAddr::new(600 * MIB));
    let size = PhysSize::new(SIZE);
    assert!(mb
        .phys_alloc_range(size, 0x1000, PhysAddr::ZERO, below)
        .is_err());
    let memo = mb.walk_memo();
    assert_ne!(memo, WalkMemo::NONE, "the failed walk was kept");
    // A failed allocation changes nothing, so the next one keeps the same memo.
    assert!(mb
        .phys_alloc_range(size, 0x1000, PhysAddr::ZERO, below)
        .is_err());
    assert_eq!(mb.walk_memo(), memo);
}

/// Every address a test asks about: around each gap's ends and inside each region of
/// `s`, and the ends of the address space.
fn probes(s: &Store<128>) -> Vec<u64> {
    let mut at = alloc::vec![0, 1, u64::MAX - 1, u64::MAX];
    for r in s.view().iter() {
        let (b, e) = (r.base.as_u64(), r.end().as_u64());
        at.extend([b.wrapping_sub(1), b, b + 1, e - 1, e, e + 1]);
    }
    at
}

/// [`spaced`] with gaps of other lengths: a region grown, one removed.
fn reshaped() -> Store<128> {
    let mut s = spaced();
    s.set(130, span(131 * MIB, MIB / 2));
    s.remove_range(200, 201);
    s
}

/// `Store::seek_at` read at any position, for any address, either declines or gives
/// what a descent from the root gives, and exactly one position answers.
#[test]
fn seek_at_any_gap_agrees_with_the_descent() {
    let s = reshaped();
    let leaves = s.index().unwrap_or(&[]).to_vec();
    for addr in probes(&s) {
        // A fresh memo finds no gap: `seek` descends.
        let descent = s.seek(addr);
        let mut hits = 0;
        for (c, l) in leaves.iter().enumerate() {
            for k in 0..=l.regions.len() + 1 {
                if let Some(got) = s.seek_at((c, k), addr) {
                    assert_eq!(got, descent, "gap ({c}, {k}), address {addr:#x}");
                    hits += 1;
                }
            }
        }
        // Exactly one position answers: the one below the first region ending
        // above the address (for an address inside a region, the gap below that
        // region); a leaf's end, but the last's, is named as its next leaf's first.
        assert_eq!(hits, 1, "address {addr:#x}");
    }
    assert_eq!(s.seek_at((leaves.len(), 0), 0), None);
}

/// A search that finds an address keeps its gap, and the reservation's `seek` reads
/// the neighbours there; after a change the kept gap may no longer hold the address,
/// and `seek` descends instead.
#[test]
fn a_found_gap_places_the_reservation() {
    let mut s = spaced();
    let mut memo = WalkMemo::NONE;
    let leaves = s.index().unwrap_or(&[]);
    let found = find_top_down(leaves, 0x1000, 600 * MIB, 0x1000, 0x1000, &mut memo);
    let (Some(addr), Some(at)) = (found, memo.found) else {
        panic!("the search found {found:?} at {:?}", memo.found);
    };
    assert_eq!(addr, 600 * MIB - 0x1000);
    let descent = s.seek(addr);
    assert_eq!(s.seek_at(at, addr), Some(descent));
    s.put_memo(memo);
    assert_eq!(s.seek(addr), descent);
    // The region below the gap grows over the address: the kept gap no longer
    // holds it.
    let below = s.view().iter().nth(598).copied().unwrap();
    s.set(
        598,
        span(below.base.as_u64(), 600 * MIB - below.base.as_u64() - 0x800),
    );
    assert_eq!(s.seek_at(at, addr), None);
    s.put_memo(WalkMemo::NONE);
    let fresh = s.seek(addr);
    s.put_memo(memo);
    assert_eq!(s.seek(addr), fresh);
    assert_eq!(fresh.0, 598, "the grown region ends above the address");
}

/// The window ends a search keeps: exactly one position passes `index::locates` for
/// an address, and it is where `index::locate` places the address.
#[test]
fn exactly_the_located_gap_passes_the_check() {
    use crate::index::{locate, locates};
    let s = reshaped();
    let leaves = s.index().unwrap_or(&[]).to_vec();
    for addr in probes(&s) {
        for inclusive in [false, true] {
            let want = locate(&leaves, addr, inclusive);
            let mut passing = Vec::new();
            for (c, l) in leaves.iter().enumerate() {
                for k in 0..=l.regions.len() + 1 {
                    if locates(&leaves, (c, k), addr, inclusive) {
                        passing.push((c, k));
                    }
                }
            }
            assert_eq!(passing, [want], "address {addr:#x}, inclusive {inclusive}");
        }
    }
    assert!(!locates(&leaves, (leaves.len(), 0), 0, true));
    assert!(!locates(&[], (0, 0), 0, true));
}

/// The gap a search keeps is the one holding the address it returns, whichever way
/// the search found it: the gap at the window's top, a gap of the walk down a leaf,
/// the gap below a leaf's first region, or a leaf's longest gap checked alone.
#[test]
fn a_search_keeps_the_gap_of_its_address() {
    let mut s = spaced();
    // Region 300 goes: leaf 2's longest gap is then the one it leaves (0x1ff000),
    // all its others 0xff000.
    s.remove_range(300, 301);
    let leaves = s.index().unwrap_or(&[]).to_vec();
    let cases = [
        // (window top, size): a gap at the top of the window.
        (600 * MIB, 0x1000),
        // Inside region 250 (300 MiB + 0x800): the walk down leaf 1.
        (251 * MIB + 0x800, 0x1000),
        // Inside region 128, leaf 1's first: the gap below it.
        (129 * MIB + 0x800, 0x1000),
        // Inside region 380 (leaf 2), longer than every gap but the longest.
        (382 * MIB + 0x800, 0x10_0000),
    ];
    for (we, size) in cases {
        let mut memo = WalkMemo::NONE;
        let found = find_top_down(&leaves, 0x1000, we, size, 0x1000, &mut memo);
        let (Some(addr), Some(at)) = (found, memo.found) else {
            panic!("window top {we:#x}: found {found:?} at {:?}", memo.found);
        };
        assert!(addr + size <= we);
        assert_eq!(
            s.seek_at(at, addr),
            Some(s.seek(addr)),
            "window top {we:#x}: {addr:#x} kept at {at:?}"
        );
    }
}

/// The longest-gap check from a kept position answers what the binary search
/// answers, from any kept position (right, stale, in another leaf, out of range).
#[test]
fn a_kept_longest_gap_agrees_with_the_search() {
    use crate::index::{gap_at, gap_at_near};
    let mut s = spaced();
    s.set(130, span(131 * MIB, MIB / 2));
    s.remove_range(300, 301);
    let leaves = s.index().unwrap_or(&[]).to_vec();
    let mut kept = 0;
    for at in probes(&s) {
        for (c, l) in leaves.iter().enumerate() {
            let want = gap_at(&leaves, c, at);
            for hint in [None, Some((c + 1, 0)), Some((c, l.regions.len() + 1))]
                .into_iter()
                .chain((0..=l.regions.len()).map(|k| Some((c, k))))
            {
                let mut h = hint;
                assert_eq!(
                    gap_at_near(&leaves, c, at, &mut h),
                    want,
                    "{c} {at:#x} {hint:?}"
                );
                assert!(h == hint || h.is_some_and(|(hc, _)| hc == c));
                kept += usize::from(want.is_some() && h == hint);
            }
        }
    }
    assert!(kept > 100, "{kept} answers came from the kept position");
}

/// A search through the store's own memo, as the allocator runs one.
fn search_kept(s: &mut Store<128>) -> Option<u64> {
    let mut memo = s.memo();
    let found = search(s, &mut memo);
    s.put_memo(memo);
    found
}

/// The scan from the last leaf passes over leaves 1 and 2 (leaf 0 owns the gap below
/// 1 MiB, long enough for its summary): the store's memo keeps them as short. After
/// `change` to leaf 1, the store still passes `check_index` (which holds the memo's
/// short leaves to being short) and has kept them only if `kept` (a change that may
/// lengthen a gap, or moves leaves, forgets them), and a search with the store's memo
/// gives what one without a memo gives: the gap the change opened, if `opened`.
fn store_keeps_short_leaves_short(
    change: impl FnOnce(&mut Store<128>),
    kept: bool,
    opened: bool,
) -> Store<128> {
    let mut s = spaced();
    assert_eq!(search_kept(&mut s), None);
    assert_eq!(search_kept(&mut s), None);
    assert_eq!(
        s.memo().short.map(|(a, b, _)| (a, b)),
        Some((1, 3)),
        "the scan over the full leaves was remembered"
    );
    change(&mut s);
    assert_eq!(s.check_index(), Ok(()));
    assert_eq!(s.memo().short.is_some(), kept);
    let fresh = search(&s, &mut WalkMemo::default());
    assert_eq!(fresh.is_some(), opened, "{fresh:?}");
    assert_eq!(search_kept(&mut s), fresh);
    s
}

#[test]
fn short_leaves_are_forgotten_when_a_region_is_set_shorter() {
    // Region 200 (at 201 MiB) moved up: the gap below it grows to the request.
    store_keeps_short_leaves_short(|s| s.set(200, span(201 * MIB + 0x800, 0x800)), false, true);
}

#[test]
fn short_leaves_are_forgotten_when_a_region_is_removed() {
    store_keeps_short_leaves_short(|s| s.remove_range(200, 201), false, true);
}

#[test]
fn short_leaves_are_forgotten_when_many_regions_are_removed() {
    // Too many gaps change to follow one by one: the leaf is summarised again.
    store_keeps_short_leaves_short(|s| s.remove_range(150, 160), false, true);
}

#[test]
fn short_leaves_are_forgotten_when_leaves_move() {
    // Leaf 1 fills up with small regions in one of its gaps (which only shrinks) and
    // splits: the leaves above move up.
    let s = store_keeps_short_leaves_short(
        |s| {
            for i in 0..130 {
                assert!(s.insert(201 + i, span(201 * MIB + 0x2000 + i as u64 * 0x100, 0x10)));
            }
        },
        false,
        false,
    );
    assert_eq!(s.index().map(<[_]>::len), Some(5));
    assert_eq!(s.memo().short.map(|(a, b, _)| (a, b)), Some((1, 4)));
}

#[test]
fn short_leaves_stay_known_while_gaps_only_shrink() {
    // Region 200 grew down into the gap below it: no gap grew, so the memo still
    // holds and is kept.
    let s = store_keeps_short_leaves_short(
        |s| s.set(200, span(201 * MIB - 0x1000, 0x2000)),
        true,
        false,
    );
    assert_eq!(s.memo().short.map(|(a, b, _)| (a, b)), Some((1, 3)));
}

#[test]
fn short_leaves_are_forgotten_with_the_summaries() {
    let mut s = spaced();
    assert_eq!(search_kept(&mut s), None);
    assert!(s.memo().short.is_some());
    s.drop_search_structures();
    assert_eq!(s.memo().short, None);
}

/// Stale short leaves (a memo the store would have forgotten) are what
/// `check_index` reports.
#[test]
fn check_index_sees_short_leaves_that_are_not() {
    let mut s = spaced();
    assert_eq!(search_kept(&mut s), None);
    let mut memo = s.memo();
    memo.short = Some((0, 3, 0));
    s.put_memo(memo);
    assert_eq!(
        s.check_index(),
        Err("the search memo's short leaves are not all short")
    );
    memo.short = Some((1, 9, u64::MAX));
    s.put_memo(memo);
    assert!(s.check_index().is_err());
}

/// The header scan finds what a plain scan finds, from any start, for requests around
/// the leaves' longest gaps, with no memo or with any true one, and remembers exactly
/// the leaves it passed over.
#[test]
fn the_header_scan_agrees_with_a_plain_scan() {
    use crate::index::next_long_leaf;
    let s = spaced();
    let leaves = s.index().unwrap_or(&[]);
    let longest: Vec<u64> = leaves.iter().map(|l| l.longest).collect();
    assert_eq!(longest.get(..3), Some(&[0x10_0000, 0xf_f000, 0xf_f000][..]));
    let plain = |lo: usize, c: usize, size: u64| {
        longest[lo..c]
            .iter()
            .rposition(|&l| l >= size)
            .map(|i| lo + i)
    };
    let n = leaves.len();
    for size in [0xf_efff, 0xf_f000, 0xf_f001, 0x10_0000, 0x10_0001] {
        for lo in 0..n {
            for c in lo..=n {
                let expected = plain(lo, c, size);
                let mut short = None;
                assert_eq!(next_long_leaf(leaves, lo, c, size, &mut short), expected);
                let from = expected.map_or(lo, |j| j + 1);
                match short {
                    Some((a, b, m)) => {
                        assert_eq!((a, b), (from, c));
                        assert!(m < size && longest[a..b].iter().all(|&l| l <= m));
                    }
                    None => assert_eq!(from, c),
                }
                for a in 0..n {
                    for b in a + 1..=n {
                        let m = longest[a..b].iter().copied().max().unwrap_or(0);
                        let mut short = Some((a, b, m));
                        let found = next_long_leaf(leaves, lo, c, size, &mut short);
                        assert_eq!(found, expected, "{a}..{b} up to {m:#x}");
                    }
                }
            }
        }
    }
}

/// The scan believes its memo: leaves it names as short are not read (here, a memo
/// that is false on purpose sends the scan below leaves 1 and 2 to leaf 0).
#[test]
fn the_header_scan_jumps_over_the_memos_leaves() {
    use crate::index::next_long_leaf;
    let s = spaced();
    let leaves = s.index().unwrap_or(&[]);
    let mut short = Some((1, 3, 0));
    assert_eq!(next_long_leaf(leaves, 0, 3, 0xf_f000, &mut short), Some(0));
    assert_eq!(short, Some((1, 3, 0)));
    // From inside the run, too; not from its bottom, nor for a request it cannot rule
    // out.
    let mut short = Some((1, 3, 0));
    assert_eq!(next_long_leaf(leaves, 0, 2, 0xf_f000, &mut short), Some(0));
    let mut short = Some((1, 3, 0));
    assert_eq!(next_long_leaf(leaves, 0, 1, 0xf_f000, &mut short), Some(0));
    let mut short = Some((1, 3, 0xf_f000));
    assert_eq!(next_long_leaf(leaves, 0, 3, 0xf_f000, &mut short), Some(2));
}
