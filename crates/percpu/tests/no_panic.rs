//! Arbitrary machines and configurations: a plan never panics, a failure leaves
//! memblock as it was, and a success is consistent with memblock and PAPR.

mod common;

use common::*;
use memblock::Memblock;
use percpu::{PlanConfig, Strategy};
use phys::{NodeId, PhysAddr, PhysSize};
use proptest::prelude::{
    any, prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig,
};
use proptest::strategy::Strategy as _;
use topology::{Cpu, MemoryRange, Node, Topology};

fn arb_topology() -> impl proptest::strategy::Strategy<Value = Topology> {
    (
        proptest::collection::vec((0u64..64, 0u64..8, proptest::option::of(0u32..6)), 0..6),
        proptest::collection::vec(proptest::option::of(0u32..8), 0..40),
        0u64..(4 * GIB),
        any::<bool>(),
    )
        .prop_map(|(mem, cpus, rma, hv)| {
            let mut base = 0u64;
            let mut memory = Vec::new();
            for (size_units, gap_units, node) in mem {
                base += gap_units * 256 * MIB;
                let size = size_units * 128 * MIB;
                if size == 0 {
                    continue;
                }
                memory.push(MemoryRange {
                    base: PhysAddr::new(base),
                    size: PhysSize::new(size),
                    node: node.and_then(NodeId::new),
                });
                base += size;
            }
            let cpus: Vec<Cpu> = cpus
                .into_iter()
                .enumerate()
                .map(|(i, n)| Cpu {
                    logical_id: i as u32,
                    hw_id: i as u32 * 8,
                    node: n.and_then(NodeId::new),
                })
                .collect();
            let mut ids: Vec<NodeId> = memory
                .iter()
                .filter_map(|m| m.node)
                .chain(cpus.iter().filter_map(|c| c.node))
                .collect();
            ids.sort();
            ids.dedup();
            let nodes: Vec<Node> = ids.iter().map(|&id| Node { id }).collect();
            let n = nodes.len();
            Topology {
                cpus,
                memory,
                nodes,
                distances: vec![vec![10; n]; n],
                rma_size: PhysSize::new(rma),
                hypervisor_mode: hv,
            }
        })
}

fn arb_config(topo: &Topology) -> impl proptest::strategy::Strategy<Value = PlanConfig> {
    let t = topo.clone();
    (
        prop_oneof![
            2 => Just(Strategy::Linux61),
            2 => Just(Strategy::Linux415),
            2 => proptest::sample::select(Strategy::BEYOND_LINUX.to_vec()),
        ],
        any::<bool>(),
        prop_oneof![4 => 1u32..80, 1 => 0u32..5000],
        proptest::collection::vec(proptest::bool::weighted(0.85), 0..80),
        prop_oneof![4 => Just(0u32), 1 => 0u32..10],
        prop_oneof![4 => Just(0xa80u64), 1 => Just(0x1000), 1 => 0u64..0x3000],
        prop_oneof![Just(32 * MIB), 0u64..(256 * MIB)],
        prop_oneof![4 => 13u32..16, 1 => 0u32..40],
        any::<bool>(),
    )
        .prop_map(
            move |(strategy, radix, nr, possible, boot, paca, kern, tshift, seg1t)| {
                let mut c = PlanConfig::for_topology(&t, strategy);
                c.radix = radix;
                c.nr_cpu_ids = nr;
                c.possible = possible;
                c.boot_cpu = boot;
                c.paca_size = PhysSize::new(paca);
                c.kernel = percpu::early::KernelImage::ending_at(phys::PhysAddr::new(kern));
                c.thread_shift = tshift;
                c.segment_1t = seg1t;
                c
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn plans_never_panic_and_fail_cleanly(
        (topo, c) in arb_topology().prop_flat_map(|t| (Just(t.clone()), arb_config(&t)))
    ) {
        let mut mb = Memblock::new();
        match percpu::boot(&mut mb, &topo, &c) {
            Ok(p) => {
                check_lppacas(&p);
                let mut blocks: Vec<_> = p
                    .live_blocks()
                    .filter(|a| !a.reserved.is_zero())
                    .map(|a| (a.addr, a.reserved))
                    .collect();
                blocks.sort();
                for w in blocks.windows(2) {
                    prop_assert!(w[0].0.saturating_add(w[0].1) <= w[1].0);
                }
                for (b, s) in blocks {
                    prop_assert!(mb.is_region_reserved(b, s));
                }
                replay_matches(&topo, &c);
            }
            Err(_) => {
                prop_assert!(mb.memory().is_empty() && mb.reserved().is_empty());
                prop_assert!(!mb.bottom_up());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Leaving the memblock calls out changes nothing else: the same placement (or the
    /// same error) and the same memblock state afterwards.
    #[test]
    fn discarding_the_call_log_changes_only_the_log(
        (topo, c) in arb_topology().prop_flat_map(|t| (Just(t.clone()), arb_config(&t)))
    ) {
        let (mut kept_mb, mut lean_mb) = (Memblock::new(), Memblock::new());
        let kept = percpu::boot(&mut kept_mb, &topo, &c);
        let lean = percpu::boot_with(&mut lean_mb, &topo, &c, percpu::CallLog::Discard);
        match (kept, lean) {
            (Ok(kept), Ok(lean)) => {
                prop_assert!(!kept.ops.is_empty() && lean.ops.is_empty());
                prop_assert_eq!(percpu::Placement { ops: Vec::new(), ..kept }, lean);
            }
            (kept, lean) => prop_assert_eq!(kept.map(|_| ()), lean.map(|_| ())),
        }
        prop_assert_eq!(kept_mb.memory(), lean_mb.memory());
        prop_assert_eq!(kept_mb.reserved(), lean_mb.reserved());
        prop_assert_eq!(kept_mb.bottom_up(), lean_mb.bottom_up());
    }
}

#[test]
fn the_generator_reaches_both_outcomes() {
    // Run the property's generator by hand and make sure it is not vacuous: some plans
    // succeed and some fail.
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut ok, mut err) = (0, 0);
    let strat = arb_topology().prop_flat_map(|t| (Just(t.clone()), arb_config(&t)));
    for _ in 0..200 {
        let (topo, c) =
            proptest::strategy::ValueTree::current(&strat.new_tree(&mut runner).unwrap());
        match percpu::boot(&mut Memblock::new(), &topo, &c) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    assert!(ok >= 40 && err >= 20, "ok {ok} err {err}");
}

/// A plan on an empty memblock names the missing step instead of failing on its first
/// structure, and leaves memblock empty; `boot` does both steps.
#[test]
fn planning_on_an_empty_memblock_points_to_boot() {
    let topo = topology::synthetic(&topology::SyntheticSpec::default()).unwrap();
    let cfg = PlanConfig::for_topology(&topo, Strategy::Linux61);
    let mut mb = Memblock::new();
    let e = percpu::plan(&mut mb, &topo, &cfg).unwrap_err();
    assert_eq!(e, percpu::PlanError::EmptyMemblock);
    assert!(e.to_string().contains("percpu::boot"), "{e}");
    assert!(mb.memory().is_empty() && mb.reserved().is_empty());
    assert!(percpu::boot(&mut mb, &topo, &cfg).is_ok());
}
