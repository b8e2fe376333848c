//! `report.rs` and `error.rs` beyond the 1-in-4 sample of `tests/mutants_report.rs`: the
//! paca-data families, the sentences outcomes print, the machine-wide totals and the
//! error chain of `PlanError` (docs/MUTATION.md).

mod common;

use core::error::Error as _;

use common::*;
use percpu::{
    ConfigError, FallbackReason, Family, NoNodeReason, Outcome, PlanError, Strategy,
    StructureKind as K,
};
use phys::{PhysAddr, PhysSize};

/// `alloc_paca_data` (arch/powerpc/kernel/paca.c) allocates a CPU's paca, lppaca and SLB
/// shadow; stacks (`irqstack_early_init`, `emergency_stack_init` in setup_64.c) and the
/// shared tables are allocated elsewhere and are not paca data.
#[test]
fn only_the_three_paca_structures_are_paca_data() {
    for (f, paca_data) in [
        (Family::Paca, true),
        (Family::Lppaca, true),
        (Family::SlbShadow, true),
        (Family::Stack, false),
        (Family::Shared, false),
    ] {
        assert_eq!(f.is_paca_data(), paca_data, "{f:?}");
    }
    assert!(!K::EmergencyStack.family().is_paca_data());
    assert!(!K::PageTable.family().is_paca_data());
}

/// Each fallback reason says which of the three facts about the node made memblock go
/// elsewhere: no memory, memory only above the limit, memory below the limit but full.
#[test]
fn fallback_reasons_name_their_cause() {
    let text = |r: FallbackReason| r.to_string();
    assert!(
        text(FallbackReason::NodeHasNoMemory).contains("no memory"),
        "{}",
        text(FallbackReason::NodeHasNoMemory)
    );
    let above = text(FallbackReason::NodeMemoryAboveLimit);
    assert!(
        above.contains("above") && above.contains("limit"),
        "{above}"
    );
    let full = text(FallbackReason::NodeFullBelowLimit);
    assert!(full.contains("full") && full.contains("below"), "{full}");
}

/// Why no node was asked for: each reason names its case (the boot CPU before NUMA,
/// a shared array, 4.15's node-less allocator, page tables bounded to their range),
/// and no two read alike.
#[test]
fn no_node_reasons_name_their_cause() {
    let all = [
        (NoNodeReason::BootCpuBeforeNuma, "boot CPU"),
        (NoNodeReason::SharedArray, "shared"),
        (NoNodeReason::PreSeries, "4.15"),
        (NoNodeReason::RegionBounded, "range"),
    ];
    for (r, word) in all {
        let s = r.to_string();
        assert!(s.contains(word), "{r:?}: {s:?}");
        for (o, _) in all.iter().filter(|(o, _)| *o != r) {
            assert_ne!(s, o.to_string());
        }
    }
}

/// An outcome says whether it was local, a fallback or a request for no node, and for
/// the last two carries its reason's sentence.
#[test]
fn outcomes_print_kind_and_reason() {
    assert!(Outcome::Local.to_string().contains("local"));
    for r in [
        FallbackReason::NodeHasNoMemory,
        FallbackReason::NodeMemoryAboveLimit,
        FallbackReason::NodeFullBelowLimit,
    ] {
        let s = Outcome::Fallback(r).to_string();
        assert!(s.contains("fallback"), "{s}");
        assert!(s.contains(&r.to_string()), "{s}");
    }
    for r in [
        NoNodeReason::BootCpuBeforeNuma,
        NoNodeReason::SharedArray,
        NoNodeReason::PreSeries,
        NoNodeReason::RegionBounded,
    ] {
        let s = Outcome::NoNodeRequested(r).to_string();
        assert!(s.contains("no node"), "{s}");
        assert!(s.contains(&r.to_string()), "{s}");
    }
}

/// The machine's totals are the sum of the nodes' totals, field by field, and their
/// `used` is every live structure's bytes (containers counted through their slots).
#[test]
fn total_sums_every_node() {
    for strategy in [Strategy::Linux61, Strategy::Linux415] {
        let topo = machine(3, 4, GIB, GIB);
        let (_, p) = run(&topo, &cfg(&topo, strategy, false));
        assert!(
            p.nodes.len() >= 2,
            "{strategy}: the plan spans several nodes"
        );
        let t = p.total();
        let sum = |f: fn(&percpu::NodeTotals) -> u64| p.nodes.iter().map(f).sum::<u64>();
        assert_eq!(t.node, None);
        assert_eq!(t.used, sum(|n| n.used), "{strategy}");
        assert_eq!(t.padding, sum(|n| n.padding), "{strategy}");
        assert_eq!(t.alignment_gaps, sum(|n| n.alignment_gaps), "{strategy}");
        assert_eq!(t.allocations, sum(|n| n.allocations), "{strategy}");
        assert_eq!(
            t.reserved_regions,
            sum(|n| n.reserved_regions),
            "{strategy}"
        );
        assert_eq!(
            t.remote_structures,
            sum(|n| n.remote_structures),
            "{strategy}"
        );
        let bytes: u64 = p
            .live()
            .filter(|a| !a.kind.is_container())
            .map(|a| a.size.as_u64())
            .sum();
        assert_eq!(t.used, bytes, "{strategy}");
        // Linux reserves 1 KiB for each 640-byte lppaca: padding is never zero.
        assert!(t.padding >= 384 * 12, "{strategy}: {}", t.padding);
    }
}

/// A plan refused for its configuration chains to the configuration error, and one
/// that memblock failed chains to memblock's error: `source()` gives the cause.
#[test]
fn plan_errors_chain_to_their_cause() {
    let topo = machine(1, 2, GIB, GIB);
    let mut c = cfg(&topo, Strategy::Linux61, false);
    c.nr_cpu_ids = 0;
    let err = percpu::boot(&mut memblock::Memblock::new(), &topo, &c).unwrap_err();
    let PlanError::Config(inner) = err else {
        panic!("{err:?}")
    };
    assert_eq!(inner, ConfigError::NoCpuIds);
    let src = err.source().expect("a configuration error has a cause");
    assert_eq!(
        src.downcast_ref::<ConfigError>(),
        Some(&ConfigError::NoCpuIds)
    );
    assert_eq!(src.to_string(), ConfigError::NoCpuIds.to_string());
    // `?` turns a configuration error into a plan error that wraps it.
    let from: PlanError = ConfigError::NoCpuIds.into();
    assert_eq!(from, PlanError::Config(ConfigError::NoCpuIds));

    let cause = memblock::Error::NoMemory {
        array: memblock::ArrayKind::Reserved,
    };
    let err = PlanError::Memblock {
        op: "reserve",
        base: PhysAddr::new(0x1000),
        size: PhysSize::new(0x1000),
        error: cause,
    };
    let src = err.source().expect("a memblock failure has a cause");
    assert_eq!(src.downcast_ref::<memblock::Error>(), Some(&cause));

    assert!(PlanError::EmptyMemblock.source().is_none());
}
