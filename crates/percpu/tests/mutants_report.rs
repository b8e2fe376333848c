//! The report's accessors, which only the CLI's tests used before (a 1-in-4 mutation
//! sample of `report.rs`, docs/MUTATION.md): each checked against a count made here
//! from the placement's own allocations, or against its definition.

mod common;

use common::*;
use percpu::{FallbackReason, Family, NoNodeReason, NodeLocality, NodeTotals, Outcome, Strategy};

#[test]
fn outcomes_that_are_fallbacks() {
    assert!(!Outcome::Local.is_fallback());
    for r in [
        NoNodeReason::BootCpuBeforeNuma,
        NoNodeReason::SharedArray,
        NoNodeReason::PreSeries,
    ] {
        assert!(!Outcome::NoNodeRequested(r).is_fallback(), "{r:?}");
    }
    for r in [
        FallbackReason::NodeHasNoMemory,
        FallbackReason::NodeMemoryAboveLimit,
        FallbackReason::NodeFullBelowLimit,
    ] {
        assert!(Outcome::Fallback(r).is_fallback(), "{r:?}");
    }
}

#[test]
fn wasted_is_padding_plus_alignment_gaps() {
    let t = NodeTotals {
        padding: 0x300,
        alignment_gaps: 0x40,
        ..NodeTotals::default()
    };
    assert_eq!(t.wasted(), 0x340);
}

#[test]
fn locality_percent() {
    let l = |structures, local| NodeLocality {
        structures,
        local,
        ..NodeLocality::default()
    };
    assert_eq!(l(4, 1).percent(), 25.0);
    assert_eq!(l(3, 3).percent(), 100.0);
    assert_eq!(l(0, 0).percent(), 100.0, "a node whose CPUs own nothing");
}

/// The legend names the SVG and the tables print, one per family, all different.
#[test]
fn family_labels() {
    let all = [
        (Family::Paca, "paca"),
        (Family::Lppaca, "lppaca"),
        (Family::SlbShadow, "slb_shadow"),
        (Family::Stack, "stacks"),
        (Family::Shared, "shared / page tables"),
    ];
    for (f, want) in all {
        assert_eq!(f.label(), want);
    }
}

/// Linux 4.15 asks for no node at all, so on two nodes the second node's CPUs'
/// structures land off their home node without being fallbacks: the per-kind summary
/// must count them apart from the local ones, as the allocations themselves say.
#[test]
fn locality_summary_counts_off_home_structures_with_no_node_apart() {
    let topo = machine(2, 4, 1 << 30, 1 << 30);
    let cfg = cfg(&topo, Strategy::Linux415, false);
    let (_, p) = run(&topo, &cfg);
    let summary = p.locality_summary();
    let mut off_home = 0;
    for s in &summary {
        let of_kind: Vec<_> = p.live().filter(|a| a.kind == s.kind).collect();
        let local = of_kind.iter().filter(|a| a.is_local()).count() as u64;
        let fallback = of_kind.iter().filter(|a| a.outcome.is_fallback()).count() as u64;
        assert_eq!(s.local, local, "{:?}", s.kind);
        assert_eq!(s.fallback, fallback, "{:?}", s.kind);
        assert_eq!(
            s.off_home_no_node,
            of_kind.len() as u64 - local - fallback,
            "{:?}",
            s.kind
        );
        off_home += s.off_home_no_node;
    }
    assert!(off_home > 0, "the second node's structures are off home");
}

/// `Placement::node` names the node it was asked for, also where the plan put nothing.
#[test]
fn totals_of_a_node_name_it() {
    let topo = machine(2, 2, 1 << 30, 1 << 30);
    let cfg = cfg(&topo, Strategy::Linux61, false);
    let (_, p) = run(&topo, &cfg);
    for n in [Some(nid(0)), Some(nid(1)), Some(nid(9)), None] {
        assert_eq!(p.node(n).node, n);
    }
    assert_eq!(p.node(Some(nid(9))).used, 0);
}
