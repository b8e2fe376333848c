//! The sizes of `setup_arch`'s RTAS allocations against a real Linux 6.12 boot log
//! (docs/MUTATION.md: `RTAS_WORK_AREA_ARENA_SZ` turned into `256 + 1024` or `256 / 1024`
//! went unnoticed by a test that only checked the work area is there).

mod common;

use common::{cfg, machine, GIB};
use percpu::{Allocation, Strategy, StructureKind as K};

/// The 4 KiB-page hash guest booted by Debian's 6.12 kernel with `memblock=debug`.
const LOG: &str = include_str!("fixtures/linux-6.12/4-h84.log");

/// `(bytes, align, max_addr)` of the `memblock=debug` line that names `caller`.
fn logged(caller: &str) -> (u64, u64, u64) {
    let line = LOG
        .lines()
        .find(|l| l.contains(caller) && l.contains(" bytes align="))
        .unwrap_or_else(|| panic!("no allocation by {caller} in the log"));
    let field = |key: &str| {
        let rest = &line[line.find(key).expect(key) + key.len()..];
        rest.split_whitespace().next().unwrap().to_string()
    };
    let hex = |s: String| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let bytes = line.split(": ").nth(1).unwrap().split(' ').next().unwrap();
    (
        bytes.parse().unwrap(),
        hex(field("align=")),
        hex(field("max_addr=")),
    )
}

#[test]
fn rtas_buffer_and_work_area_match_a_real_6_12_boot() {
    let buffer = logged("rtas_initialize");
    let arena = logged("rtas_work_area_reserve_arena");
    // The log's own figures: 64 KiB and 256 KiB, page aligned, below 1 GiB.
    assert_eq!(buffer, (65536, 0x1000, 1 << 30));
    assert_eq!(arena, (262_144, 0x1000, 1 << 30));

    // A hash guest with an RMA above 1 GiB, like the logged one (the limit is then
    // RTAS_INSTANTIATE_MAX, 1 GiB).
    let topo = machine(2, 2, 4 * GIB, 2 * GIB);
    let mut c = cfg(&topo, Strategy::Linux612, false);
    c.page_size = 0x1000;
    c.early.rtas = true;
    let (_, p) = common::run(&topo, &c);
    let one = |kind| -> &Allocation {
        p.allocations
            .iter()
            .find(|a| a.kind == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    for (kind, (bytes, align, max)) in [(K::RtasBuffer, buffer), (K::RtasWorkArea, arena)] {
        let a = one(kind);
        assert_eq!(a.reserved.as_u64(), bytes, "{kind}");
        assert_eq!(a.align, align, "{kind}");
        assert!(a.end().as_u64() <= max, "{kind} at {}", a.addr);
    }
}

/// `htab_initialize` with `debug_pagealloc_enabled_or_kfence()` (Debian's 6.12 has
/// KFENCE): `memblock_alloc_try_nid(memblock_end_of_DRAM() >> PAGE_SHIFT, 1,
/// MEMBLOCK_LOW_LIMIT, ppc64_rma_size, NUMA_NO_NODE)`. The logged guest has 3 GiB of
/// memory from 0 ("Memory: .../3145728K available") and asks for 786432 bytes.
#[test]
fn hash_linear_map_slots_match_a_real_6_12_boot() {
    let total_k: u64 = LOG
        .lines()
        .find_map(|l| l.split("K available").next()?.split("Memory: ").nth(1))
        .and_then(|s| s.split('/').nth(1))
        .expect("the Memory: line")
        .trim_end_matches('K')
        .parse()
        .unwrap();
    let end = total_k * 1024;
    assert_eq!(end, 3 * GIB);
    let slots = logged("hash__early_init_mmu");
    assert_eq!(slots, (end / 0x1000, 1, 1 << 30));

    // The same memory as two nodes of 1.5 GiB, a 1 GiB RMA.
    let topo = machine(2, 2, 3 * GIB / 2, GIB);
    for page in [0x1000u64, 0x1_0000] {
        let mut c = cfg(&topo, Strategy::Linux612, false);
        c.page_size = page;
        c.kfence = true;
        let (_, p) = common::run(&topo, &c);
        let a = p
            .allocations
            .iter()
            .find(|a| a.kind == K::LinearMapHashSlots)
            .expect("the slots");
        assert_eq!(a.reserved.as_u64(), end / page, "page {page:#x}");
        assert_eq!(a.align, 1);
        assert!(a.end().as_u64() <= slots.2);
    }
    // Without KFENCE (or debug_pagealloc) there are none.
    let mut c = cfg(&topo, Strategy::Linux612, false);
    c.kfence = false;
    let (_, p) = common::run(&topo, &c);
    assert!(!p
        .allocations
        .iter()
        .any(|a| a.kind == K::LinearMapHashSlots));
}

/// Debian's 6.12 hash boots allocate the linear-map slots (KFENCE is built in and on),
/// its 6.1 boots do not: the default configuration follows.
#[test]
fn kfence_by_default_only_in_6_12() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let slots_in = |log: &str| {
        std::fs::read_to_string(format!("{fixtures}/{log}"))
            .unwrap()
            .lines()
            .any(|l| l.contains("memblock_alloc_try_nid") && l.contains("hash__early_init_mmu+"))
    };
    let topo = machine(2, 2, 3 * GIB / 2, GIB);
    for (s, log) in [
        (Strategy::Linux61, "linux-6.1/h84.log"),
        (Strategy::Linux612, "linux-6.12/64-h84.log"),
    ] {
        let logged = slots_in(log);
        assert_eq!(s.default_kfence(), logged, "{s}");
        let c = percpu::PlanConfig::for_topology(&topo, s);
        let (_, p) = common::run(&topo, &c);
        let planned = p
            .allocations
            .iter()
            .any(|a| a.kind == K::LinearMapHashSlots);
        assert_eq!(planned, logged, "{s}");
    }
}
