//! Region operations, case by case after Linux's tools/testing/memblock/tests/basic_api.c.
//! Each expected array is worked out from mm/memblock.c in the comment above it.

use memblock::{
    ArrayKind, Config, Error, Memblock, NodeId, PhysAddr, PhysSize, Region, RegionFlags,
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
/// (base, size, flags, linux nid)
fn dump<'a>(regions: impl IntoIterator<Item = &'a Region>) -> Vec<(u64, u64, u32, u32)> {
    regions
        .into_iter()
        .map(|r| {
            (
                r.base.as_u64(),
                r.size.as_u64(),
                r.flags.bits(),
                r.linux_nid(),
            )
        })
        .collect()
}
const NONODE: u32 = 256;
const H: u32 = RegionFlags::HOTPLUG.bits();

#[test]
fn initial_state_is_linux_static_memblock() {
    let mb = Memblock::new();
    assert!(mb.memory().is_empty() && mb.reserved().is_empty());
    assert_eq!(mb.capacity(ArrayKind::Memory), 128);
    assert_eq!(mb.capacity(ArrayKind::Reserved), 128);
    assert_eq!(mb.current_limit(), PhysAddr::MAX);
    assert!(!mb.bottom_up());
    assert_eq!(mb.phys_mem_size(), PhysSize::ZERO);
    // Linux reads its dummy entry: start and end of DRAM are 0.
    assert_eq!(mb.start_of_dram(), PhysAddr::ZERO);
    assert_eq!(mb.end_of_dram(), PhysAddr::ZERO);
    assert_eq!(mb.config().page_size, 0x1_0000);
}

#[test]
fn add_simple_and_add_node() {
    let mut mb = Memblock::new();
    mb.add(p(0x4000_0000), s(0x1000_0000)).unwrap();
    // memblock_add stores MAX_NUMNODES and no flags.
    assert_eq!(dump(mb.memory()), [(0x4000_0000, 0x1000_0000, 0, NONODE)]);
    assert_eq!(mb.phys_mem_size(), s(0x1000_0000));

    let mut mb = Memblock::new();
    mb.add_node(p(0x6000_0000), s(0x800_0000), n(1), RegionFlags::HOTPLUG)
        .unwrap();
    assert_eq!(dump(mb.memory()), [(0x6000_0000, 0x800_0000, H, 1)]);
}

#[test]
fn add_disjoint_sorts() {
    let mut mb = Memblock::new();
    mb.add(p(0x8000), s(0x1000)).unwrap();
    mb.add(p(0x1000), s(0x2000)).unwrap();
    assert_eq!(
        dump(mb.memory()),
        [(0x1000, 0x2000, 0, NONODE), (0x8000, 0x1000, 0, NONODE)]
    );
    assert_eq!(mb.phys_mem_size(), s(0x3000));
}

#[test]
fn add_overlapping_takes_the_union() {
    // r1 [0x2000, 0x5000), r2 [0x1000, 0x3000) overlaps its bottom: the part below r1
    // is inserted, then merged -> [0x1000, 0x5000).
    let mut mb = Memblock::new();
    mb.add(p(0x2000), s(0x3000)).unwrap();
    mb.add(p(0x1000), s(0x2000)).unwrap();
    assert_eq!(dump(mb.memory()), [(0x1000, 0x4000, 0, NONODE)]);
    // r3 [0x4000, 0x9000) overlaps the top -> [0x1000, 0x9000).
    mb.add(p(0x4000), s(0x5000)).unwrap();
    assert_eq!(dump(mb.memory()), [(0x1000, 0x8000, 0, NONODE)]);
    // Within and twice: no change.
    mb.add(p(0x2000), s(0x1000)).unwrap();
    mb.add(p(0x1000), s(0x8000)).unwrap();
    assert_eq!(dump(mb.memory()), [(0x1000, 0x8000, 0, NONODE)]);
    assert_eq!(mb.phys_mem_size(), s(0x8000));
}

#[test]
fn add_between_fills_the_gap() {
    let mut mb = Memblock::new();
    mb.add(p(0x1000), s(0x1000)).unwrap();
    mb.add(p(0x4000), s(0x1000)).unwrap();
    // [0x1800, 0x4800) covers the gap [0x2000, 0x4000); all three merge.
    mb.add(p(0x1800), s(0x3000)).unwrap();
    assert_eq!(dump(mb.memory()), [(0x1000, 0x4000, 0, NONODE)]);
}

#[test]
fn add_near_max_is_capped() {
    // memblock_cap_size: size becomes PHYS_ADDR_MAX - base = 0x3ff.
    let mut mb = Memblock::new();
    mb.add(p(u64::MAX - 0x3ff), s(0x800)).unwrap();
    assert_eq!(dump(mb.memory()), [(u64::MAX - 0x3ff, 0x3ff, 0, NONODE)]);
    assert_eq!(mb.end_of_dram(), PhysAddr::MAX);
}

#[test]
fn add_keeps_existing_nodes_and_flags() {
    // Linux never changes an existing region when a new range overlaps it; only the
    // uncovered parts get the new node (and WARN about the mismatch).
    let mut mb = Memblock::new();
    mb.add_node(p(0x2000), s(0x1000), n(1), RegionFlags::NONE)
        .unwrap();
    mb.add_node(p(0x1000), s(0x4000), n(2), RegionFlags::NONE)
        .unwrap();
    assert_eq!(
        dump(mb.memory()),
        [
            (0x1000, 0x1000, 0, 2),
            (0x2000, 0x1000, 0, 1),
            (0x3000, 0x2000, 0, 2)
        ]
    );
    // Adjacent with another node: no merge; with the same node: merge.
    mb.add_node(p(0x5000), s(0x1000), n(3), RegionFlags::NONE)
        .unwrap();
    mb.add_node(p(0x6000), s(0x1000), n(3), RegionFlags::NONE)
        .unwrap();
    assert_eq!(dump(mb.memory()).len(), 4);
    assert_eq!(dump(mb.memory())[3], (0x5000, 0x2000, 0, 3));
}

#[test]
fn reserve_mirrors_add_with_max_numnodes() {
    let mut mb = Memblock::new();
    mb.reserve(p(0x2000), s(0x3000)).unwrap();
    mb.reserve(p(0x1000), s(0x2000)).unwrap(); // overlaps bottom
    mb.reserve(p(0x9000), s(0x1000)).unwrap(); // disjoint
    mb.reserve(p(0x6000), s(0x3000)).unwrap(); // fills up to r3 exactly -> merges
    assert_eq!(
        dump(mb.reserved()),
        [(0x1000, 0x4000, 0, NONODE), (0x6000, 0x4000, 0, NONODE)]
    );
    assert_eq!(mb.reserved_size(), s(0x8000));
    // Reserving is independent of memory.
    assert!(mb.memory().is_empty());
}

#[test]
fn remove_cases() {
    let setup = || {
        let mut mb = Memblock::new();
        mb.add(p(0x1000), s(0x4000)).unwrap(); // [0x1000, 0x5000)
        mb.add(p(0x8000), s(0x2000)).unwrap(); // [0x8000, 0xa000)
        mb
    };
    // Whole region.
    let mut mb = setup();
    mb.remove(p(0x1000), s(0x4000)).unwrap();
    assert_eq!(dump(mb.memory()), [(0x8000, 0x2000, 0, NONODE)]);
    assert_eq!(mb.phys_mem_size(), s(0x2000));
    // Absent range: no change.
    let mut mb = setup();
    mb.remove(p(0x5000), s(0x3000)).unwrap();
    assert_eq!(mb.memory().len(), 2);
    assert_eq!(mb.phys_mem_size(), s(0x6000));
    // Overlapping the top of r1 and the bottom of r2.
    let mut mb = setup();
    mb.remove(p(0x4000), s(0x5000)).unwrap();
    assert_eq!(
        dump(mb.memory()),
        [(0x1000, 0x3000, 0, NONODE), (0x9000, 0x1000, 0, NONODE)]
    );
    // Within r1: split in two.
    let mut mb = setup();
    mb.remove(p(0x2000), s(0x1000)).unwrap();
    assert_eq!(
        dump(mb.memory()),
        [
            (0x1000, 0x1000, 0, NONODE),
            (0x3000, 0x2000, 0, NONODE),
            (0x8000, 0x2000, 0, NONODE)
        ]
    );
    assert_eq!(mb.phys_mem_size(), s(0x5000));
    // Only region: array becomes empty, total 0.
    let mut mb = Memblock::new();
    mb.add(p(0x1000), s(0x1000)).unwrap();
    mb.remove(p(0), s(0x10_0000)).unwrap();
    assert!(mb.memory().is_empty());
    assert_eq!(mb.phys_mem_size(), PhysSize::ZERO);
    // Near max: remove [MAX - 0x100, +0x200) caps to [MAX - 0x100, MAX).
    let mut mb = Memblock::new();
    mb.add(p(u64::MAX - 0x1000), s(0x1000)).unwrap(); // [MAX-0x1000, MAX)
    mb.remove(p(u64::MAX - 0x100), s(0x200)).unwrap();
    assert_eq!(dump(mb.memory()), [(u64::MAX - 0x1000, 0xf00, 0, NONODE)]);
}

#[test]
fn free_cases() {
    let mut mb = Memblock::new();
    mb.reserve(p(0x1000), s(0x4000)).unwrap();
    mb.reserve(p(0x8000), s(0x2000)).unwrap();
    mb.free(p(0x2000), s(0x1000)).unwrap(); // split r1
    mb.free(p(0x9000), s(0x4000)).unwrap(); // trim r2's top
    mb.free(p(0xc000), s(0x1000)).unwrap(); // absent
    assert_eq!(
        dump(mb.reserved()),
        [
            (0x1000, 0x1000, 0, NONODE),
            (0x3000, 0x2000, 0, NONODE),
            (0x8000, 0x1000, 0, NONODE)
        ]
    );
    assert_eq!(mb.reserved_size(), s(0x4000));
    // Zero size: nothing at all (isolate returns at once).
    mb.free(p(0x1000), s(0)).unwrap();
    assert_eq!(mb.reserved().len(), 3);
}

#[test]
fn set_node_splits_and_merges() {
    let mut mb = Memblock::new();
    mb.add(p(0), s(0x10_0000)).unwrap();
    mb.set_node(p(0x4_0000), s(0x4_0000), NodeId::new(1).unwrap())
        .unwrap();
    assert_eq!(
        dump(mb.memory()),
        [
            (0, 0x4_0000, 0, NONODE),
            (0x4_0000, 0x4_0000, 0, 1),
            (0x8_0000, 0x8_0000, 0, NONODE)
        ]
    );
    // The rest to node 1 as well: everything merges into one region.
    mb.set_node(p(0), s(0x4_0000), NodeId::new(1).unwrap())
        .unwrap();
    mb.set_node(p(0x8_0000), s(u64::MAX), NodeId::new(1).unwrap())
        .unwrap();
    assert_eq!(dump(mb.memory()), [(0, 0x10_0000, 0, 1)]);
    assert_eq!(mb.phys_mem_size(), s(0x10_0000));
}

#[test]
fn flags_split_and_merge_back() {
    let mut mb = Memblock::new();
    mb.add(p(0x1_0000), s(0x4_0000)).unwrap();
    mb.mark_hotplug(p(0x2_0000), s(0x1_0000)).unwrap();
    assert_eq!(
        dump(mb.memory()),
        [
            (0x1_0000, 0x1_0000, 0, NONODE),
            (0x2_0000, 0x1_0000, H, NONODE),
            (0x3_0000, 0x2_0000, 0, NONODE)
        ]
    );
    mb.mark_nomap(p(0x2_8000), s(0x1_0000)).unwrap();
    assert_eq!(
        dump(mb.memory()),
        [
            (0x1_0000, 0x1_0000, 0, NONODE),
            (0x2_0000, 0x8000, H, NONODE),
            (0x2_8000, 0x8000, H | 4, NONODE),
            (0x3_0000, 0x8000, 4, NONODE),
            (0x3_8000, 0x1_8000, 0, NONODE)
        ]
    );
    mb.clear_nomap(p(0), s(u64::MAX)).unwrap();
    mb.clear_hotplug(p(0), s(u64::MAX)).unwrap();
    assert_eq!(dump(mb.memory()), [(0x1_0000, 0x4_0000, 0, NONODE)]);
}

#[test]
fn queries() {
    let mut mb = Memblock::new();
    mb.add(p(0x1000), s(0x3000)).unwrap(); // [0x1000, 0x4000)
    mb.add(p(0x8000), s(0x1000)).unwrap();
    mb.reserve(p(0x2000), s(0x1000)).unwrap(); // [0x2000, 0x3000)
    assert_eq!(mb.start_of_dram(), p(0x1000));
    assert_eq!(mb.end_of_dram(), p(0x9000));
    assert!(mb.is_region_memory(p(0x1000), s(0x3000)));
    assert!(!mb.is_region_memory(p(0x1000), s(0x3001)));
    assert!(!mb.is_region_memory(p(0x4000), s(1)));
    assert!(mb.is_region_memory(p(0x3fff), s(0))); // inside, empty
    assert!(mb.is_region_reserved(p(0x1000), s(0x1001)));
    assert!(!mb.is_region_reserved(p(0x1000), s(0x1000)));
    assert!(!mb.is_region_reserved(p(0x3000), s(0x1000)));
    // Linux's overlap test with size 0 is true strictly inside a region, false at its base.
    assert!(mb.is_region_reserved(p(0x2800), s(0)));
    assert!(!mb.is_region_reserved(p(0x2000), s(0)));
    // Size reaching past the top is capped, not wrapped.
    assert!(mb.is_region_reserved(p(0x2fff), s(u64::MAX)));
    assert_eq!(
        mb.memory_region_containing(p(0x8fff)).map(|r| r.base),
        Some(p(0x8000))
    );
    assert_eq!(mb.memory_region_containing(p(0x9000)), None);
    assert!(mb.is_memory(p(0x1000)) && !mb.is_memory(p(0x4000)));
    assert!(mb.is_reserved(p(0x2fff)) && !mb.is_reserved(p(0x3000)));
}

#[test]
fn free_ranges_both_directions_with_node_filter() {
    let mut mb = Memblock::new();
    mb.add_node(p(0x1_0000), s(0x3_0000), n(0), RegionFlags::NONE)
        .unwrap(); // [0x10000, 0x40000)
    mb.add_node(p(0x4_0000), s(0x4_0000), n(1), RegionFlags::NONE)
        .unwrap(); // [0x40000, 0x80000)
    mb.reserve(p(0x2_0000), s(0x3_0000)).unwrap(); // [0x20000, 0x50000) straddles both
    let fwd: Vec<_> = mb
        .free_ranges(None)
        .map(|(a, b, n)| (a.as_u64(), b.as_u64(), n.map(|n| n.get())))
        .collect();
    assert_eq!(
        fwd,
        [(0x1_0000, 0x2_0000, Some(0)), (0x5_0000, 0x8_0000, Some(1))]
    );
    let rev: Vec<_> = mb
        .free_ranges_rev(None)
        .map(|(a, b, _)| (a.as_u64(), b.as_u64()))
        .collect();
    assert_eq!(rev, [(0x5_0000, 0x8_0000), (0x1_0000, 0x2_0000)]);
    let node1: Vec<_> = mb
        .free_ranges(n(1))
        .map(|(a, b, _)| (a.as_u64(), b.as_u64()))
        .collect();
    assert_eq!(node1, [(0x5_0000, 0x8_0000)]);
    // NOMAP memory is never free.
    mb.mark_nomap(p(0x6_0000), s(0x1_0000)).unwrap();
    let rev1: Vec<_> = mb
        .free_ranges_rev(n(1))
        .map(|(a, b, _)| (a.as_u64(), b.as_u64()))
        .collect();
    assert_eq!(rev1, [(0x7_0000, 0x8_0000), (0x5_0000, 0x6_0000)]);
}

#[test]
fn growth_without_permission_fails_and_changes_nothing() {
    let mut mb = Memblock::with_config(Config {
        allow_resize: false,
        ..Config::default()
    });
    mb.add(p(0), s(0x1_0000_0000)).unwrap();
    for i in 0..128u64 {
        mb.reserve(p(0x100_0000 + i * 0x2_0000), s(0x1000)).unwrap();
    }
    let before = mb.reserved().iter().copied().collect::<Vec<_>>();
    assert_eq!(
        mb.reserve(p(0x200_0000 + 128 * 0x2_0000), s(0x1000)),
        Err(Error::NoMemory {
            array: ArrayKind::Reserved
        })
    );
    // Even an adjacent reserve, which would merge, needs room for one more entry
    // before merging: Linux counts nr_new = 1 with cnt == max.
    assert!(mb.reserve(p(0x100_1000), s(0x1000)).is_err());
    // Removing needs room for two more entries (isolate may split twice).
    assert!(mb.free(p(0x100_0000), s(0x1000)).is_err());
    assert_eq!(mb.reserved(), &before[..]);
    assert_eq!(mb.capacity(ArrayKind::Reserved), 128);
}

/// Without the `alloc` feature the arrays keep Linux's 128 entries, as before
/// `memblock_allow_resize()`, even when growth is allowed by the config.
#[cfg(not(feature = "alloc"))]
#[test]
fn fixed_capacity_without_alloc() {
    let mut mb = Memblock::new();
    mb.add(p(0), s(0x1_0000_0000)).unwrap();
    for i in 0..128u64 {
        mb.reserve(p(0x100_0000 + i * 0x2_0000), s(0x1000)).unwrap();
    }
    assert_eq!(
        mb.reserve(p(0x8000_0000), s(0x1000)),
        Err(Error::NoMemory {
            array: ArrayKind::Reserved
        })
    );
    assert_eq!(mb.reserved().len(), 128);
}

/// A reservation that fills two holes at once (Linux's insertion pass with more than one
/// new piece) and ends inside a region that reaches past it: the walk must step over
/// that region, and the pieces merge with their neighbours into one region.
#[test]
fn reserve_filling_two_holes_ending_inside_a_longer_region() {
    let mut mb = Memblock::new();
    mb.reserve(p(0x2000), s(0x1000)).unwrap();
    mb.reserve(p(0x4000), s(0x2000)).unwrap();
    // [0x1000, 0x5000): new pieces [0x1000, 0x2000) and [0x3000, 0x4000); the last
    // overlapped region [0x4000, 0x6000) ends past 0x5000.
    mb.reserve(p(0x1000), s(0x4000)).unwrap();
    assert_eq!(dump(mb.reserved()), [(0x1000, 0x5000, 0, 256)]);
    // The same with a hole left after the range, so nothing merges past it.
    let mut mb = Memblock::new();
    mb.reserve(p(0x2000), s(0x1000)).unwrap();
    mb.reserve(p(0x4000), s(0x2000)).unwrap();
    mb.reserve(p(0x8000), s(0x1000)).unwrap();
    mb.reserve(p(0x1000), s(0x3800)).unwrap();
    assert_eq!(
        dump(mb.reserved()),
        [(0x1000, 0x5000, 0, 256), (0x8000, 0x1000, 0, 256)]
    );
}
