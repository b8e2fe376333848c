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
