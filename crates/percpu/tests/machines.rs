//! Both strategies on every topology fixture and on large synthetic machines.

mod common;

use common::*;
use percpu::{Outcome, Strategy, StructureKind as K};
use topology::{synthetic, topology_from_dtb, SyntheticSpec, Topology};

fn fixtures() -> Vec<(String, Topology)> {
    // Links to topology's fixtures, so that the packaged crate carries the trees.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut out = Vec::new();
    for dir in ["qemu", "crafted"] {
        let mut paths: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "dtb"))
            .collect();
        paths.sort();
        for p in paths {
            let blob = std::fs::read(&p).unwrap();
            let topo = topology_from_dtb(&blob).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((p.file_name().unwrap().to_string_lossy().into_owned(), topo));
        }
    }
    assert!(out.len() >= 8, "fixtures: {}", out.len());
    out
}

#[test]
fn every_fixture_plans_under_every_strategy() {
    for (name, topo) in fixtures() {
        for strategy in Strategy::EVERY {
            for radix in [false, true] {
                let c = cfg(&topo, strategy, radix);
                let (_, p) = run(&topo, &c);
                let lppacas = check_lppacas(&p);
                let present = topo.cpus.len();
                let expect = match (strategy, topo.hypervisor_mode) {
                    // CPU 0's lppaca is static in the 4.15 kernel image.
                    (Strategy::Linux415, _) => present - 1,
                    (_, true) => 0,
                    (_, false) => present,
                };
                assert_eq!(lppacas, expect, "{name} {strategy} radix={radix}");
                for cpu in 0..present as u32 {
                    assert!(p.find(cpu, K::Paca).is_some(), "{name}: CPU {cpu} paca");
                    assert!(p.find(cpu, K::McEmergencyStack).is_some());
                    assert_eq!(
                        p.find(cpu, K::SlbShadow).is_some(),
                        !radix,
                        "{name} {strategy} radix={radix} CPU {cpu}"
                    );
                }
                if strategy == Strategy::Linux61 {
                    check_linux61_locality(&topo, &c);
                }
                replay_matches(&topo, &c);
            }
        }
    }
}

#[test]
fn memoryless_fixture_node_falls_back() {
    let (_, topo) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "four-node-memoryless.dtb")
        .unwrap();
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, true));
    // QEMU: CPUs 6 and 7 on node 3, which has no memory.
    for cpu in [6, 7] {
        for a in p.cpu_structures(cpu) {
            assert_eq!(
                a.outcome,
                Outcome::Fallback(percpu::FallbackReason::NodeHasNoMemory),
                "CPU {cpu} {}",
                a.kind
            );
        }
    }
    // The others are local under radix.
    for cpu in 1..6 {
        assert!(p.cpu_structures(cpu).all(|a| a.is_local()), "CPU {cpu}");
    }
}

fn big() -> Topology {
    synthetic(&SyntheticSpec {
        nodes: 256,
        cpus: 8192,
        threads_per_core: 8,
        memoryless_nodes: 8,
        cpuless_nodes: 8,
        seed: 6,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn eight_thousand_cpus_on_256_nodes() {
    let topo = big();
    for strategy in Strategy::ALL {
        for radix in [false, true] {
            // A kernel built with NR_CPUS = 8192: the default (2048) would ignore the
            // CPUs above it (tested below).
            let mut c = cfg(&topo, strategy, radix);
            c.nr_cpu_ids = 8192;
            let (mb, p) = run(&topo, &c);
            assert!(p
                .findings
                .iter()
                .all(|f| !matches!(f, percpu::Finding::CpusCapped { .. })));
            assert_eq!(
                check_lppacas(&p),
                if strategy.per_cpu_allocation() {
                    8192
                } else {
                    8191
                }
            );
            // Per-node totals add up to what memblock holds beyond the kernel image.
            let t = p.total();
            let plan_reserved = mb.reserved_size().as_u64() - c.kernel.end.as_u64();
            let blocks: u64 = p.live_blocks().map(|a| a.reserved.as_u64()).sum();
            // memblock's own doubled region arrays are the only other reservations.
            assert!(plan_reserved >= blocks, "{strategy} radix={radix}");
            assert_eq!(t.used + t.padding, blocks, "{strategy} radix={radix}");
            if strategy.per_cpu_allocation() {
                check_linux61_locality_of(&topo, &c, &p);
            }
        }
    }
}

#[test]
fn the_default_nr_cpus_caps_a_bigger_machine() {
    // PlanConfig::for_topology models a distribution kernel with NR_CPUS = 2048:
    // smp_setup_cpu_maps stops at nr_cpu_ids, so 8192 - 2048 = 6144 present CPUs are
    // ignored and only CPUs 0..2048 get structures.
    let topo = big();
    let c = percpu::PlanConfig::for_topology(&topo, Strategy::Linux61);
    assert_eq!(c.nr_cpu_ids, 2048);
    let (_, p) = run(&topo, &c);
    assert!(p
        .findings
        .contains(&percpu::Finding::CpusCapped { count: 6144 }));
    assert_eq!(p.nr_cpu_ids_initial, 2048);
    assert_eq!(p.nr_cpu_ids_final, 2048);
    assert!(p.find(2047, percpu::StructureKind::Paca).is_some());
    assert!(p.find(2048, percpu::StructureKind::Paca).is_none());
}
