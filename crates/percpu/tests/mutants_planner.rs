//! The planner core's open mutants of the sampled run (docs/MUTATION.md): which limit a
//! failed allocation reports (memblock clamps `memblock_alloc_try_nid`'s limit to the
//! current limit, not `memblock_alloc_range_nid`'s), and which 4.15 array slots count as
//! freed when `free_unused_pacas` shrinks an array to a page boundary.

mod common;

use common::{cfg, machine, MIB};
use memblock::Memblock;
use percpu::{boot, Limit, PlanError, Strategy, StructureKind as K};
use phys::PhysAddr;

/// Linux 4.15 with radix: `radix_init_pgtable` allocates the process table with
/// `early_alloc_pgtable(1 << PRTB_SIZE_SHIFT)`, i.e. `memblock_alloc_base(size, size,
/// MEMBLOCK_ALLOC_ANYWHERE)`, which reaches `memblock_alloc_range_nid` with that end
/// unchanged: only `MEMBLOCK_ALLOC_ACCESSIBLE` is replaced by the current limit
/// (`memblock_find_in_range_node`). So when it cannot fit, the limit it failed below is
/// "anywhere", even though the current limit is still the end of the first memory block
/// (40 MiB here) at that point.
#[test]
fn a_failed_range_allocation_reports_its_own_limit() {
    // One 40 MiB block: the kernel takes [0, 32 MiB), the arrays and page tables the top
    // of the rest, so the 8 MiB-aligned 8 MiB guest process table has nowhere to go.
    let topo = machine(1, 2, 40 * MIB, 40 * MIB);
    let c = cfg(&topo, Strategy::Linux415, true);
    let mut mb = Memblock::new();
    let err = boot(&mut mb, &topo, &c).unwrap_err();
    match err {
        PlanError::CannotFit {
            kind, size, limit, ..
        } => {
            assert_eq!(kind, K::ProcessTable);
            assert_eq!(size.as_u64(), 8 * MIB);
            assert_eq!(limit, Limit::Anywhere);
        }
        other => panic!("expected CannotFit, got {other}"),
    }
}

/// Linux 6.1 with radix: the process table is `memblock_alloc_try_nid(size, size,
/// MEMBLOCK_LOW_LIMIT, MEMBLOCK_ALLOC_ANYWHERE, NUMA_NO_NODE)`, and
/// `memblock_alloc_internal` lowers `max_addr` to `memblock.current_limit`, which
/// `radix__early_init_mmu` lifts only after the process table. With the current limit
/// at 48 MiB (the RMA override), the 16 MiB-aligned 16 MiB table finds no room below it
/// (the kernel holds [0, 32 MiB), the linear map's page tables the top of [32, 48) MiB),
/// and the limit it failed below is those 48 MiB, not "anywhere".
#[test]
fn a_failed_try_nid_allocation_reports_the_current_limit() {
    let topo = machine(1, 2, 2048 * MIB, 2048 * MIB);
    let mut c = cfg(&topo, Strategy::Linux61, true);
    c.rma_limit_override = Some(PhysAddr::new(48 * MIB));
    let mut mb = Memblock::new();
    let err = boot(&mut mb, &topo, &c).unwrap_err();
    match err {
        PlanError::CannotFit {
            kind, size, limit, ..
        } => {
            assert_eq!(kind, K::ProcessTable);
            assert_eq!(size.as_u64(), 16 * MIB);
            assert_eq!(limit, Limit::Below(PhysAddr::new(48 * MIB)));
        }
        other => panic!("expected CannotFit, got {other}"),
    }
}

/// 4.15's `free_unused_pacas` keeps `PAGE_ALIGN(n * size)` bytes of each array. With
/// 4 KiB pages and 32 CPUs the 0xa80-byte pacas fill exactly 21 pages (32 * 0xa80 =
/// 0x15000) and the 0x80-byte SLB shadows exactly one (32 * 0x80 = 0x1000); with 5 CPUs
/// the four 0x400-byte lppaca entries (CPU 0 uses the static one) fill exactly one page.
/// The last structure then ends exactly where the kept part ends: it is all inside kept
/// memory, so it is live, like every other slot.
#[test]
fn a_slot_ending_at_the_kept_boundary_is_live() {
    for cpus in [5u32, 32] {
        let topo = machine(1, cpus, 1024 * MIB, 1024 * MIB);
        let mut c = cfg(&topo, Strategy::Linux415, false);
        c.page_size = 4 << 10;
        c.nr_cpu_ids = cpus;
        let mut mb = Memblock::new();
        let p = boot(&mut mb, &topo, &c).expect("plan");
        let last = cpus - 1;
        let kinds: &[K] = if cpus == 5 {
            &[K::Lppaca]
        } else {
            &[K::Paca, K::SlbShadow]
        };
        for &kind in kinds {
            let slot = p
                .allocations
                .iter()
                .find(|a| a.kind == kind && a.cpu == Some(last))
                .expect("the last CPU's slot");
            assert!(slot.in_array);
            assert!(!slot.freed, "{kind} of CPU {last} with {cpus} CPUs");
        }
        // No slot of any kind is freed: nothing in use was given back.
        assert!(
            p.allocations
                .iter()
                .filter(|a| a.in_array)
                .all(|a| !a.freed),
            "{cpus} CPUs"
        );
    }
}

/// 4.15's `free_lppacas` keeps `PAGE_ALIGN((num_possible_cpus() - 1) * sizeof(lppaca))`
/// bytes, but indexes the array by CPU id (`&extra_lppacas[cpu - 1]`): with possible CPUs
/// 0, 1 and 7 it keeps one 4 KiB page (two 0x400-byte entries, rounded up), while CPU 7's
/// entry is at 0x1800..0x1c00, wholly in the freed tail. That slot is recorded as freed
/// (and reported as freed while in use); CPU 1's, at 0..0x400, is not.
#[test]
fn a_slot_past_the_kept_part_is_freed() {
    let topo = machine(1, 8, 1024 * MIB, 1024 * MIB);
    let mut c = cfg(&topo, Strategy::Linux415, false);
    c.page_size = 4 << 10;
    c.nr_cpu_ids = 65;
    c.possible = (0..8).map(|cpu| matches!(cpu, 0 | 1 | 7)).collect();
    let mut mb = Memblock::new();
    let p = boot(&mut mb, &topo, &c).expect("plan");
    let lppaca = |cpu: u32| {
        p.allocations
            .iter()
            .find(|a| a.kind == K::Lppaca && a.cpu == Some(cpu))
            .expect("an lppaca slot")
    };
    let array = p
        .allocations
        .iter()
        .find(|a| a.kind == K::LppacaArray)
        .expect("the lppaca array");
    assert_eq!(array.reserved.as_u64(), 0x1000);
    assert_eq!(lppaca(7).addr.as_u64() - array.addr.as_u64(), 0x1800);
    assert!(lppaca(7).freed);
    assert!(!lppaca(1).freed);
    assert!(p.findings.iter().any(|f| matches!(
        f,
        percpu::Finding::FreedWhileInUse {
            kind: K::Lppaca,
            cpu: 7,
            ..
        }
    )));
}
