//! Heap failures on stores of several leaves that were copied (a caller's clone, the
//! snapshot a failed growth restores): a refused heap growth must change nothing, and
//! an operation that succeeds must lose no region. Found by review: a derived clone of
//! a leaf kept no spare capacity, so inserts `Store::reserve` had promised could fail.

use alloc::vec::Vec;

use crate::store::fault::fail_heap_after;
use crate::store::Store;
use crate::{
    AllocLimit, ArrayKind, Memblock, NodeId, PhysAddr, PhysSize, Region, RegionFlags, RegionNid,
};

type State = (Vec<Region>, Vec<Region>, u64, u64, usize, usize);

fn state(mb: &Memblock) -> State {
    (
        mb.memory().to_vec(),
        mb.reserved().to_vec(),
        mb.phys_mem_size().as_u64(),
        mb.reserved_size().as_u64(),
        mb.capacity(ArrayKind::Memory),
        mb.capacity(ArrayKind::Reserved),
    )
}

/// `n` 4 KiB reservations every 16 KiB in 1 GiB of memory on node 0.
fn many(n: u64) -> Memblock {
    let mut mb = Memblock::new();
    mb.add_node(
        PhysAddr::new(0),
        PhysSize::new(1 << 30),
        NodeId::new(0),
        RegionFlags::NONE,
    )
    .unwrap();
    for i in 0..n {
        mb.reserve(PhysAddr::new(0x10_0000 + i * 0x4000), PhysSize::new(0x1000))
            .unwrap();
    }
    mb
}

/// As memblock.rs's `heap_failure_mid_operation_changes_nothing`, but on a reserved
/// array of several leaves: an operation inserting into two different leaves of a
/// clone.
#[test]
fn clone_with_several_leaves_heap_failure_changes_nothing() {
    fn p(a: u64) -> PhysAddr {
        PhysAddr::new(a)
    }
    fn z(s: u64) -> PhysSize {
        PhysSize::new(s)
    }
    type OpFn = fn(&mut Memblock) -> bool;
    // Region i is at 0x10_0000 + i * 0x4000; leaves of 128..256 regions.
    let ops: [(&str, OpFn); 5] = [
        // Ends inside regions 127 and 128, on both sides of the first leaf boundary:
        // the splice slow path puts both kept pieces into the second leaf.
        ("free straddling a leaf boundary", |mb| {
            mb.free(p(0x10_0000 + 127 * 0x4000 + 0x800), z(0x4000))
                .is_ok()
        }),
        // Three holes around the first leaf boundary (regions 126..129): pieces go
        // into two leaves.
        ("reserve three holes in two leaves", |mb| {
            mb.reserve(p(0x10_0000 + 126 * 0x4000 + 0x2000), z(3 * 0x4000))
                .is_ok()
        }),
        ("reserve across a leaf boundary", |mb| {
            mb.reserve(p(0x10_0000 + 120 * 0x4000 + 0x2000), z(300 * 0x4000))
                .is_ok()
        }),
        // Both ends split in different leaves.
        ("set_node across leaves", |mb| {
            mb.set_node(
                p(0x10_0000 + 50 * 0x4000 + 0x800),
                z(400 * 0x4000),
                NodeId::new(1).unwrap(),
            )
            .is_ok()
        }),
        ("free across leaves", |mb| {
            mb.free(p(0x10_0000 + 50 * 0x4000 + 0x800), z(400 * 0x4000))
                .is_ok()
        }),
    ];
    let mut failures = 0;
    let mut bad = Vec::new();
    for n in [300u64, 600, 1000] {
        let base = many(n);
        base.check_index().unwrap();
        let before = state(&base);
        for (name, op) in ops {
            let mut clean = base.clone();
            assert!(op(&mut clean), "{name} fails without injection");
            let after = state(&clean);
            for k in 0..40 {
                let mut mb = base.clone();
                fail_heap_after(Some(k));
                let ok = op(&mut mb);
                fail_heap_after(None);
                if let Err(e) = mb.check_index() {
                    bad.push(alloc::format!("{name}, n {n}, k {k}: index {e}"));
                }
                if ok {
                    if state(&mb) != after {
                        bad.push(alloc::format!("{name}, n {n}, k {k}: ok but different"));
                    }
                } else {
                    failures += 1;
                    if state(&mb) != before {
                        bad.push(alloc::format!(
                            "{name}, n {n}, k {k}: failed and changed ({} -> {} regions)",
                            before.1.len(),
                            mb.reserved().len()
                        ));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(failures > 0);
}

fn region(i: u64) -> Region {
    Region {
        base: PhysAddr::new(i << 20),
        size: PhysSize::new(0x1000),
        flags: RegionFlags::NONE,
        nid: RegionNid::MaxNumNodes,
    }
}

/// The splice slow path ("cannot fail: room was reserved above") on a cloned store:
/// the leaves' regions have no spare capacity, `reserve` does not cover them.
#[test]
fn cloned_store_splice_slow_path() {
    let mut bad = Vec::new();
    for (start, end) in [(250, 262), (255, 257), (127, 129), (120, 140), (0, 2)] {
        for k in 0..12 {
            let mut s: Store<128> = Store::indexed();
            for i in 0..600u64 {
                assert!(s.insert(i as usize, region(4 * i)));
            }
            let mut s = s.clone();
            let before = s.view().to_vec();
            // Three pieces between the neighbours of the replaced range.
            let lo = before[start].base.as_u64() >> 20;
            let with = [region(lo), region(lo + 1), region(lo + 2)];
            fail_heap_after(Some(k));
            let ok = s.splice(start, end, &with);
            fail_heap_after(None);
            let mut want = before.clone();
            want.splice(start..end, with);
            let got = s.view().to_vec();
            if ok && got != want {
                bad.push(alloc::format!(
                    "{start}..{end} k {k}: splice ok but {} regions, want {}",
                    got.len(),
                    want.len()
                ));
            }
            if !ok && got != before {
                bad.push(alloc::format!(
                    "{start}..{end} k {k}: splice failed and changed"
                ));
            }
            if let Err(e) = s.check_index() {
                bad.push(alloc::format!("{start}..{end} k {k}: {e}"));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// An allocation after a failed growth (snapshot restored) with injected failures.
#[test]
fn alloc_after_clone_many_leaves() {
    let base = many(700);
    for k in 0..8 {
        let mut mb = base.clone();
        let before = state(&mb);
        fail_heap_after(Some(k));
        let r = mb.alloc_try_nid(
            PhysSize::new(0x100),
            0x100,
            PhysAddr::ZERO,
            AllocLimit::Anywhere,
            None,
        );
        fail_heap_after(None);
        mb.check_index().unwrap();
        if r.is_err() {
            assert!(state(&mb) == before, "k {k}");
        }
    }
}

/// Without any caller clone: an operation that grew the reserved array and then failed
/// is rolled back by restoring the snapshot, a clone; the next operation that fails
/// on the heap then leaves a partial change.
#[test]
fn restored_snapshot_then_heap_failure_changes_nothing() {
    fn base() -> Memblock {
        let mut mb = many(600);
        // Fill up to two free slots below Linux's capacity: the next reservation with
        // three pieces grows the array.
        let mut i = 0u64;
        while mb.capacity(ArrayKind::Reserved) - mb.reserved().len() > 2 {
            mb.reserve(
                PhysAddr::new(0x2000_0000 + i * 0x4000),
                PhysSize::new(0x1000),
            )
            .unwrap();
            i += 1;
        }
        mb
    }
    // Three holes around region 126 (first leaf boundary at 128).
    fn op1(mb: &mut Memblock) -> bool {
        mb.reserve(
            PhysAddr::new(0x10_0000 + 126 * 0x4000 + 0x2000),
            PhysSize::new(3 * 0x4000),
        )
        .is_ok()
    }
    // A free from inside region 255 to inside region 256 (a leaf boundary of the
    // sequentially built array): two kept pieces, spliced over two leaves.
    fn op2(mb: &mut Memblock) -> bool {
        mb.free(
            PhysAddr::new(0x10_0000 + 255 * 0x4000 + 0x800),
            PhysSize::new(0x4000),
        )
        .is_ok()
    }
    let mut restored = 0;
    let mut bad = Vec::new();
    for k in 0..200 {
        let mut mb = base();
        fail_heap_after(Some(k));
        let ok = op1(&mut mb);
        fail_heap_after(None);
        if ok || mb.undone_growths() == 0 {
            continue;
        }
        restored += 1;
        for k2 in 0..20 {
            let mut mb = base();
            fail_heap_after(Some(k));
            assert!(!op1(&mut mb));
            fail_heap_after(None);
            let before = state(&mb);
            let mut want = base();
            fail_heap_after(Some(k));
            let _ = op1(&mut want);
            fail_heap_after(None);
            assert!(op2(&mut want));
            fail_heap_after(Some(k2));
            let ok2 = op2(&mut mb);
            fail_heap_after(None);
            let now = state(&mb);
            if ok2 && now != state(&want) {
                bad.push(alloc::format!(
                    "k {k} k2 {k2}: free succeeded with {} regions, want {}",
                    now.1.len(),
                    want.reserved().len()
                ));
            }
            if !ok2 && now != before {
                bad.push(alloc::format!("k {k} k2 {k2}: free failed and changed"));
            }
        }
    }
    // With leaves cloned with their capacity, no growth fails after the snapshot here.
    let _ = restored;
    assert!(bad.is_empty(), "{bad:#?}");
}
