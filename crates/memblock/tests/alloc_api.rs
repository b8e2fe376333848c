//! Allocation, case by case after Linux's tools/testing/memblock/tests/alloc_api.c,
//! alloc_nid_api.c and alloc_helpers_api.c, and array growth
//! (`memblock_double_array`). Each expected address is worked out from mm/memblock.c
//! in the comment above it. Page size is ppc64's 64 KiB unless said otherwise.

#![cfg(feature = "alloc")] // Growth needs the heap.

use memblock::{
    AllocError, AllocLimit, ArrayKind, Config, Memblock, NodeId, PhysAddr, PhysSize, RegionFlags,
};

fn p(x: u64) -> PhysAddr {
    PhysAddr::new(x)
}
fn s(x: u64) -> PhysSize {
    PhysSize::new(x)
}
fn n(x: u32) -> Option<NodeId> {
    NodeId::new(x)
}
fn res(mb: &Memblock) -> Vec<(u64, u64)> {
    mb.reserved()
        .iter()
        .map(|r| (r.base.as_u64(), r.size.as_u64()))
        .collect()
}
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn one_gib() -> Memblock {
    let mut mb = Memblock::new();
    mb.add(p(0), s(GIB)).unwrap();
    mb
}

fn any(mb: &mut Memblock, size: u64, align: u64) -> Result<PhysAddr, AllocError> {
    mb.alloc_range_nid(s(size), align, p(0), AllocLimit::Anywhere, None, false)
}

#[test]
fn top_down_takes_the_highest_fit_and_merges() {
    let mut mb = one_gib();
    // The top of memory, rounded down to the alignment.
    assert_eq!(any(&mut mb, 0x100, 0x1000), Ok(p(GIB - 0x1000)));
    // The next one ends where the free range ends (at the first block), so they merge.
    assert_eq!(any(&mut mb, 0x1000, 0x1000), Ok(p(GIB - 0x2000)));
    assert_eq!(res(&mb), [(GIB - 0x2000, 0x1100)]);
    assert_eq!(mb.reserved_size(), s(0x1100));
}

#[test]
fn top_down_fills_a_gap_that_fits_and_skips_one_that_does_not() {
    let mut mb = one_gib();
    mb.reserve(p(GIB - 0x1_0000), s(0x1_0000)).unwrap(); // r1 at the top
    mb.reserve(p(GIB - 0x3_0000), s(0x1_0000)).unwrap(); // r2, gap of 0x10000 between
                                                         // 0x20000 does not fit the gap: placed below r2.
    assert_eq!(any(&mut mb, 0x2_0000, 0x1_0000), Ok(p(GIB - 0x5_0000)));
    // 0x10000 fits the gap exactly: everything merges into one region.
    assert_eq!(any(&mut mb, 0x1_0000, 0x1_0000), Ok(p(GIB - 0x2_0000)));
    assert_eq!(res(&mb), [(GIB - 0x5_0000, 0x5_0000)]);
}

#[test]
fn first_page_is_never_allocated() {
    // Memory [0, 128 KiB): only [64 KiB, 128 KiB) is usable (start = max(start, PAGE_SIZE)).
    let mut mb = Memblock::new();
    mb.add(p(0), s(0x2_0000)).unwrap();
    assert_eq!(any(&mut mb, 0x1_0000, 0x1_0000), Ok(p(0x1_0000)));
    assert_eq!(any(&mut mb, 0x100, 0x100), Err(AllocError::NoFit));
    // Bottom-up behaves the same.
    let mut mb = Memblock::new();
    mb.add(p(0), s(0x2_0000)).unwrap();
    mb.set_bottom_up(true);
    assert_eq!(any(&mut mb, 0x100, 0x100), Ok(p(0x1_0000)));
}

#[test]
fn bottom_up_takes_the_lowest_fit() {
    let mut mb = one_gib();
    mb.set_bottom_up(true);
    mb.reserve(p(0), s(0x10_0000)).unwrap();
    mb.reserve(p(0x11_0000), s(0x1000)).unwrap(); // gap [1 MiB, 1 MiB + 64 KiB)
                                                  // 0x20000 does not fit the gap: placed right after r2, rounded up to 64 KiB.
    assert_eq!(any(&mut mb, 0x2_0000, 0x1_0000), Ok(p(0x12_0000)));
    // 0x8000 fits the gap at its bottom, merging with r1.
    assert_eq!(any(&mut mb, 0x8000, 0x8000), Ok(p(0x10_0000)));
    assert_eq!(
        res(&mb),
        [(0, 0x10_8000), (0x11_0000, 0x1000), (0x12_0000, 0x2_0000)]
    );
}

#[test]
fn alignment_zero_means_smp_cache_bytes() {
    let mut mb = one_gib();
    // SMP_CACHE_BYTES = 128 on ppc64: top of memory - 0x10, rounded down to 0x80.
    assert_eq!(any(&mut mb, 0x10, 0), Ok(p(GIB - 0x80)));
}

#[test]
fn misaligned_end_rounds_down() {
    let mut mb = one_gib();
    // End 0x1234_5678: cand = round_down(0x12345678 - 0x1000, 0x1000) = 0x12344000.
    let r = mb.alloc_range_nid(
        s(0x1000),
        0x1000,
        p(0),
        AllocLimit::Addr(p(0x1234_5678)),
        None,
        false,
    );
    assert_eq!(r, Ok(p(0x1234_4000)));
}

#[test]
fn zero_size_returns_an_address_and_reserves_nothing() {
    // Top-down: cand = round_down(this_end - 0, align) = the end of memory itself.
    let mut mb = one_gib();
    assert_eq!(any(&mut mb, 0, 0x1000), Ok(p(GIB)));
    assert!(mb.reserved().is_empty());
}

#[test]
fn accessible_means_current_limit_and_anywhere_does_not() {
    let mut mb = one_gib();
    mb.set_current_limit(p(0x1000_0000));
    let acc = mb.alloc_range_nid(s(0x1000), 0x1000, p(0), AllocLimit::Accessible, None, false);
    assert_eq!(acc, Ok(p(0x1000_0000 - 0x1000)));
    // 0 and 1 (MEMBLOCK_ALLOC_NOLEAKTRACE) are "accessible" too.
    let one = mb.alloc_range_nid(s(0x1000), 0x1000, p(0), AllocLimit::Addr(p(1)), None, false);
    assert_eq!(one, Ok(p(0x1000_0000 - 0x2000)));
    // memblock_alloc_range_nid does not clamp ANYWHERE...
    let anyw = mb.alloc_range_nid(s(0x1000), 0x1000, p(0), AllocLimit::Anywhere, None, false);
    assert_eq!(anyw, Ok(p(GIB - 0x1000)));
    // ...but memblock_alloc_try_nid (memblock_alloc_internal) clamps it to the limit.
    let tried = mb.alloc_try_nid(s(0x1000), 0x1000, p(0), AllocLimit::Anywhere, None);
    assert_eq!(tried, Ok(p(0x1000_0000 - 0x3000)));
}

#[test]
fn try_nid_drops_min_when_it_cannot_be_met() {
    let mut mb = one_gib();
    // [min, max) = [0x2000_0800, 0x2000_1000) cannot hold 0x1000 bytes; the retry with
    // min = 0 places it right below max.
    let r = mb.alloc_try_nid(
        s(0x1000),
        0x1000,
        p(0x2000_0800),
        AllocLimit::Addr(p(0x2000_1000)),
        None,
    );
    assert_eq!(r, Ok(p(0x2000_0000)));
    // With max below the first usable page there is nothing, even without min.
    let r = mb.alloc_try_nid(
        s(0x1000),
        0x1000,
        p(0x800),
        AllocLimit::Addr(p(0x8000)),
        None,
    );
    assert_eq!(r, Err(AllocError::NoFit));
    // alloc_range_nid has no such retry.
    let r = mb.alloc_range_nid(
        s(0x1000),
        0x1000,
        p(0x2000_0800),
        AllocLimit::Addr(p(0x2000_1000)),
        None,
        false,
    );
    assert_eq!(r, Err(AllocError::NoFit));
}

#[test]
fn exact_address_range() {
    let mut mb = one_gib();
    // [min, max) exactly the size: placed at min.
    let r = mb.alloc_try_nid(
        s(0x4000),
        0x1000,
        p(0x10_0000),
        AllocLimit::Addr(p(0x10_4000)),
        None,
    );
    assert_eq!(r, Ok(p(0x10_0000)));
}

fn two_nodes() -> Memblock {
    let mut mb = Memblock::new();
    mb.add_node(p(0), s(GIB), n(0), RegionFlags::NONE).unwrap();
    mb.add_node(p(GIB), s(GIB), n(1), RegionFlags::NONE)
        .unwrap();
    mb
}

#[test]
fn node_local_then_fallback() {
    let mut mb = two_nodes();
    // Node 0 requested: top of node 0, not of memory.
    let r = mb.alloc_try_nid(s(0x1000), 0x1000, p(0), AllocLimit::Accessible, n(0));
    assert_eq!(r, Ok(p(GIB - 0x1000)));
    // No node: top of memory (node 1).
    let r = mb.alloc_try_nid(s(0x1000), 0x1000, p(0), AllocLimit::Accessible, None);
    assert_eq!(r, Ok(p(2 * GIB - 0x1000)));
    // Node 1 below 1 GiB cannot be met: falls back to any node, below the limit.
    let r = mb.alloc_try_nid(s(0x1000), 0x1000, p(0), AllocLimit::Addr(p(GIB)), n(1));
    assert_eq!(r, Ok(p(GIB - 0x2000)));
    // ...unless the node is exact.
    let r = mb.alloc_exact_nid(s(0x1000), 0x1000, p(0), AllocLimit::Addr(p(GIB)), n(1));
    assert_eq!(r, Err(AllocError::NoFit));
    let r = mb.alloc_range_nid(
        s(0x1000),
        0x1000,
        p(0),
        AllocLimit::Addr(p(GIB)),
        n(1),
        true,
    );
    assert_eq!(r, Err(AllocError::NoFit));
}

#[test]
fn full_node_falls_back_to_the_highest_free_range_anywhere() {
    let mut mb = two_nodes();
    mb.reserve(p(0), s(GIB)).unwrap(); // node 0 full
    let r = mb.alloc_try_nid(s(0x1000), 0x1000, p(0), AllocLimit::Accessible, n(0));
    assert_eq!(r, Ok(p(2 * GIB - 0x1000)));
}

#[test]
fn movable_node_skips_hotplug_memory() {
    let mut mb = two_nodes();
    mb.mark_hotplug(p(GIB), s(GIB)).unwrap();
    // Without movable_node the hotpluggable node is used as any other.
    assert_eq!(any(&mut mb, 0x1000, 0x1000), Ok(p(2 * GIB - 0x1000)));
    mb.set_movable_node(true);
    assert_eq!(any(&mut mb, 0x1000, 0x1000), Ok(p(GIB - 0x1000)));
    // A request for the hotpluggable node falls back.
    let r = mb.alloc_try_nid(s(0x1000), 0x1000, p(0), AllocLimit::Accessible, n(1));
    assert_eq!(r, Ok(p(GIB - 0x2000)));
}

#[test]
fn nomap_memory_is_never_allocated() {
    let mut mb = one_gib();
    mb.mark_nomap(p(GIB / 2), s(GIB / 2)).unwrap();
    assert_eq!(any(&mut mb, 0x1000, 0x1000), Ok(p(GIB / 2 - 0x1000)));
}

#[test]
fn failed_allocation_changes_nothing() {
    let mut mb = one_gib();
    mb.reserve(p(0x1000_0000), s(0x1000)).unwrap();
    let before = (mb.memory().to_vec(), mb.reserved().to_vec());
    assert_eq!(any(&mut mb, 2 * GIB, 0x1000), Err(AllocError::NoFit));
    assert_eq!(any(&mut mb, u64::MAX, 0x1000), Err(AllocError::NoFit));
    assert_eq!((mb.memory().to_vec(), mb.reserved().to_vec()), before);
}

/// Reserves `count` disjoint 4 KiB blocks every 128 KiB from 16 MiB up.
fn reserve_blocks(mb: &mut Memblock, from: u64, count: u64) {
    for i in from..from + count {
        mb.reserve(p(16 * MIB + i * 0x2_0000), s(0x1000)).unwrap();
    }
}

#[test]
fn reserved_array_doubles_into_memblock_memory() {
    let mut mb = one_gib();
    reserve_blocks(&mut mb, 0, 128);
    assert_eq!(mb.capacity(ArrayKind::Reserved), 128);
    assert_eq!(mb.array_location(ArrayKind::Reserved), None);
    // The 129th entry: cnt + 1 > max, so the array doubles to 256 entries = 6144 bytes,
    // page-aligned to 64 KiB, found top-down above the new range: the top of memory.
    reserve_blocks(&mut mb, 128, 1);
    assert_eq!(mb.capacity(ArrayKind::Reserved), 256);
    assert_eq!(
        mb.array_location(ArrayKind::Reserved),
        Some(p(GIB - 0x1_0000))
    );
    assert_eq!(mb.reserved().len(), 130);
    assert_eq!(res(&mb).last(), Some(&(GIB - 0x1_0000, 0x1_0000)));
    assert_eq!(mb.reserved_size(), s(129 * 0x1000 + 0x1_0000));

    // Fill to 256 entries and add one more: 512 entries = 12288 bytes -> 64 KiB again,
    // placed below the current array (which is still reserved while searching); then
    // the old array is freed and the new one reserved.
    reserve_blocks(&mut mb, 129, 126);
    assert_eq!(mb.reserved().len(), 256);
    reserve_blocks(&mut mb, 255, 1);
    assert_eq!(mb.capacity(ArrayKind::Reserved), 512);
    assert_eq!(
        mb.array_location(ArrayKind::Reserved),
        Some(p(GIB - 0x2_0000))
    );
    assert_eq!(res(&mb).last(), Some(&(GIB - 0x2_0000, 0x1_0000)));
    assert_eq!(mb.reserved().len(), 257);
}

#[test]
fn reserved_array_growth_avoids_the_range_being_reserved() {
    let mut mb = one_gib();
    reserve_blocks(&mut mb, 0, 128);
    // The 129th entry is the top 1 MiB of memory. The search above it finds nothing, so
    // Linux retries below min(new_area_start, limit): the array goes right under it
    // instead of into the range about to be reserved.
    mb.reserve(p(GIB - MIB), s(MIB)).unwrap();
    assert_eq!(
        mb.array_location(ArrayKind::Reserved),
        Some(p(GIB - MIB - 0x1_0000))
    );
    // Array and range are adjacent, so they merge.
    assert_eq!(
        res(&mb).last(),
        Some(&(GIB - MIB - 0x1_0000, MIB + 0x1_0000))
    );
}

#[test]
fn memory_array_doubles_and_reserves_its_new_home() {
    let mut mb = Memblock::new();
    for i in 0..128u64 {
        mb.add(p(i * 2 * MIB), s(MIB)).unwrap();
    }
    // The 129th memory region: the new array (64 KiB) is allocated top-down from free
    // memory *before* the new region exists: the top of region 127, which ends at
    // 127 * 2 MiB + 1 MiB.
    mb.add(p(128 * 2 * MIB), s(MIB)).unwrap();
    assert_eq!(mb.capacity(ArrayKind::Memory), 256);
    let top127 = 127 * 2 * MIB + MIB;
    assert_eq!(
        mb.array_location(ArrayKind::Memory),
        Some(p(top127 - 0x1_0000))
    );
    assert_eq!(res(&mb), [(top127 - 0x1_0000, 0x1_0000)]);
    assert_eq!(mb.memory().len(), 129);
}

#[test]
fn growth_with_a_small_page_size() {
    // 4 KiB pages: 256 * 24 = 6144 bytes round up to 8 KiB.
    let mut mb = Memblock::with_config(Config {
        page_size: 0x1000,
        ..Config::default()
    });
    mb.add(p(0), s(GIB)).unwrap();
    reserve_blocks(&mut mb, 0, 129);
    assert_eq!(res(&mb).last(), Some(&(GIB - 0x2000, 0x2000)));
}

#[test]
fn growth_fails_when_no_memory_can_hold_the_array() {
    // Only 128 KiB of memory, all reserved in 4 KiB pieces with gaps: no 64 KiB hole.
    let mut mb = Memblock::new();
    mb.add(p(0), s(0x100_0000)).unwrap();
    for i in 0..128u64 {
        mb.reserve(p(i * 0x2_0000), s(0x1_1000)).unwrap();
    }
    let before = res(&mb);
    assert!(mb.reserve(p(0x200_0000), s(0x1000)).is_err());
    assert_eq!(res(&mb), before);
    // An allocation that needs a new reserved entry fails as a whole: a range fits,
    // the reserved array cannot record it.
    assert_eq!(
        any(&mut mb, 0x100, 0x100),
        Err(AllocError::ArrayFull {
            array: ArrayKind::Reserved
        })
    );
    assert_eq!(res(&mb), before);
}
