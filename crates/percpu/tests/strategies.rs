//! The strategies beyond Linux: the rules each must keep (checked from the placement,
//! not from the code that made it), that only the paca data differs from Linux 6.1, the
//! savings derived from each strategy's rule, and the hypervisor models' verdicts.

mod common;

use common::*;
use memblock::Memblock;
use percpu::{MemOp, Outcome, Placement, PlanConfig, Strategy, StructureKind as K};
use phys::PhysSize;
use topology::{synthetic, SyntheticSpec, Topology};
use vpa_hv::{GuestRam, Partition, Profile, Rule, VecRam};

const PAGE: u64 = 4096;

fn paca_data(k: K) -> bool {
    matches!(k, K::Paca | K::Lppaca | K::SlbShadow)
}

/// Checks every rule of `percpu::strategies` on a placement.
fn check_rules(topo: &Topology, c: &PlanConfig, mb: &Memblock, p: &Placement) {
    let s = c.strategy;
    let limit = c.paca_limit(topo).raw();
    let containers: Vec<_> = p.live_blocks().filter(|a| a.kind.is_container()).collect();
    let mut spans: Vec<(u64, u64, K, Option<u32>)> = Vec::new();
    for a in p.live().filter(|a| paca_data(a.kind)) {
        let (lo, hi) = (a.addr.as_u64(), a.end().as_u64());
        assert_eq!(
            lo % 128,
            0,
            "{s}: {:?} of CPU {:?} at {lo:#x}",
            a.kind,
            a.cpu
        );
        if matches!(a.kind, K::Lppaca | K::SlbShadow) {
            assert_eq!(
                lo / PAGE,
                (hi - 1) / PAGE,
                "{s}: {:?} at {lo:#x} crosses 4 KiB",
                a.kind
            );
        }
        let bound = if a.kind == K::Lppaca && s == Strategy::RmaSplit {
            c.bolted_size()
        } else {
            limit
        };
        assert!(
            hi <= bound,
            "{s}: {:?} of CPU {:?} ends at {hi:#x}",
            a.kind,
            a.cpu
        );
        if a.in_array {
            // A slot lies inside a live container block of this plan...
            assert!(
                containers
                    .iter()
                    .any(|b| b.addr.as_u64() <= lo && hi <= b.addr.as_u64() + b.reserved.as_u64()),
                "{s}: {:?} of CPU {:?} at {lo:#x} is in no block",
                a.kind,
                a.cpu
            );
        }
        // ...and in memblock's reserved memory.
        assert!(
            mb.reserved()
                .iter()
                .any(|r| r.base.as_u64() <= lo && hi <= r.base.as_u64() + r.size.as_u64()),
            "{s}: {:?} of CPU {:?} at {lo:#x} is not reserved",
            a.kind,
            a.cpu
        );
        spans.push((lo, hi, a.kind, a.cpu));
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "{s}: {:?} and {:?} overlap", w[0], w[1]);
    }
    // Every possible CPU has its paca, its lppaca unless in hypervisor mode, its SLB
    // shadow unless radix.
    for cpu in c.possible_cpus() {
        assert!(p.find(cpu, K::Paca).is_some());
        assert_eq!(p.find(cpu, K::Lppaca).is_some(), !c.hypervisor_mode);
        assert_eq!(p.find(cpu, K::SlbShadow).is_some(), !c.radix);
    }
}

fn big() -> Topology {
    synthetic(&SyntheticSpec {
        nodes: 64,
        cpus: 2048,
        threads_per_core: 8,
        memoryless_nodes: 4,
        cpuless_nodes: 4,
        seed: 16,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn every_strategy_keeps_the_rules() {
    let machines = [
        machine(4, 16, 32 * GIB, GIB),
        machine(2, 3, 512 * MIB, 512 * MIB),
        machine(1, 1, 256 * MIB, 256 * MIB),
        big(),
    ];
    for (i, topo) in machines.iter().enumerate() {
        // The big machine once per MMU: a debug build plans it in about a second.
        let small = i < 3;
        for s in Strategy::BEYOND_LINUX {
            for radix in [false, true] {
                for hv in [false, true].into_iter().filter(|&h| small || !h) {
                    let mut c = cfg(topo, s, radix);
                    c.hypervisor_mode = hv;
                    let sizes: &[u64] = if small {
                        &[0xa80, 0xd00, 0x500]
                    } else {
                        &[0xd00]
                    };
                    for &paca in sizes {
                        c.paca_size = PhysSize::new(paca);
                        let (mb, p) = run(topo, &c);
                        check_rules(topo, &c, &mb, &p);
                        if !hv {
                            assert_eq!(check_lppacas(&p), c.possible_cpus().count());
                        }
                        if small {
                            replay_matches(topo, &c);
                        }
                    }
                }
            }
        }
    }
}

/// What an allocation asked memblock for: kind, CPU, size, alignment, node.
type Request = (K, Option<u32>, u64, u64, Option<phys::NodeId>);

#[test]
fn only_the_paca_data_differs_from_linux() {
    let topo = machine(4, 16, 32 * GIB, GIB);
    let key = |p: &Placement| -> Vec<Request> {
        p.live()
            .filter(|a| !paca_data(a.kind) && !a.kind.is_container())
            .map(|a| (a.kind, a.cpu, a.size.as_u64(), a.align, a.requested_node))
            .collect()
    };
    for radix in [false, true] {
        let (_, linux) = run(&topo, &cfg(&topo, Strategy::Linux61, radix));
        for s in Strategy::BEYOND_LINUX {
            let (_, p) = run(&topo, &cfg(&topo, s, radix));
            assert_eq!(key(&p), key(&linux), "{s} radix={radix}");
            // The stacks land on the same nodes.
            for a in p
                .live()
                .filter(|a| a.kind.is_per_cpu() && !paca_data(a.kind))
            {
                let l = linux.find(a.cpu.unwrap(), a.kind).unwrap();
                assert_eq!(a.memory_node, l.memory_node, "{s} {:?}", a.kind);
            }
        }
    }
}

/// Bytes reserved for the paca data (with its arrays, pages and blocks).
fn paca_data_reserved(p: &Placement) -> u64 {
    p.live_blocks()
        .filter(|a| paca_data(a.kind) || a.kind.is_container())
        .map(|a| a.reserved.as_u64())
        .sum()
}

#[test]
fn savings_follow_from_each_rule() {
    // 4 nodes x 16 CPUs, 1 GiB RMA on node 0, hash, Debian's 3328-byte paca.
    let topo = machine(4, 16, 32 * GIB, GIB);
    let n = 64u64;
    let ps = 0xd00u64;
    let with = |s| {
        let mut c = cfg(&topo, s, false);
        c.paca_size = PhysSize::new(ps);
        run(&topo, &c).1
    };
    let linux = with(Strategy::Linux61);
    assert_eq!(paca_data_reserved(&linux), n * (ps + 1024 + 128));
    // packed-vpa: the boot CPU's page, then ceil(k / 6) pages per node for its k other
    // CPUs (15 on node 0, 16 elsewhere).
    let pages = 1 + 15u64.div_ceil(6) + 3 * 16u64.div_ceil(6);
    let packed = with(Strategy::PackedVpa);
    assert_eq!(paca_data_reserved(&packed), n * (ps + 128) + pages * PAGE);
    assert_eq!(
        packed
            .live_blocks()
            .filter(|a| a.kind == K::LppacaPage)
            .count() as u64,
        pages
    );
    // per-cpu-block and per-node-block: 640 + 3328 + 128 = 4096 per CPU, nothing more.
    for s in [Strategy::PerCpuBlock, Strategy::PerNodeBlock] {
        let p = with(s);
        assert_eq!(paca_data_reserved(&p), n * PAGE, "{s}");
        assert!(
            p.total().reserved_regions < linux.total().reserved_regions,
            "{s}"
        );
    }
    // One memblock allocation per CPU, or per node (the boot CPU has its own).
    let blocks = |p: &Placement| p.live_blocks().filter(|a| a.kind == K::PacaBlock).count();
    assert_eq!(blocks(&with(Strategy::PerCpuBlock)), 64);
    assert_eq!(blocks(&with(Strategy::PerNodeBlock)), 1 + 4);
}

#[test]
fn per_node_block_frees_the_impossible_cpus_in_one_piece() {
    let topo = machine(2, 8, GIB, 2 * GIB);
    let mut c = cfg(&topo, Strategy::PerNodeBlock, false);
    c.paca_size = PhysSize::new(0xd00);
    // CPUs 6, 7 (node 0) and 13-15 (node 1) are present but not possible.
    for cpu in [6, 7, 13, 14, 15] {
        c.possible[cpu] = false;
    }
    let (mb, p) = run(&topo, &c);
    check_rules(&topo, &c, &mb, &p);
    let frees: Vec<(u64, u64)> = p
        .ops
        .iter()
        .filter_map(MemOp::freed)
        .map(|(base, size)| (base.as_u64(), size.as_u64()))
        .collect();
    for (absent, node) in [(2u64, 0u32), (3, 1)] {
        let block = p
            .live_blocks()
            .find(|a| a.kind == K::PacaBlock && a.requested_node == Some(nid(node)))
            .unwrap();
        let end = block.addr.as_u64() + block.reserved.as_u64();
        assert!(
            frees.contains(&(end, absent * PAGE)),
            "node {node}: no free of {absent} records at {end:#x}: {frees:x?}"
        );
        // The freed records are free memory again.
        assert!(!mb
            .reserved()
            .iter()
            .any(|r| r.base.as_u64() < end + absent * PAGE
                && end < r.base.as_u64() + r.size.as_u64()));
    }
}

#[test]
fn rma_split_makes_every_lppaca_local() {
    // The RMA is node 0's first GiB; every node has memory.
    let topo = machine(4, 8, 8 * GIB, GIB);
    let (_, linux) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    let (_, split) = run(&topo, &cfg(&topo, Strategy::RmaSplit, false));
    for cpu in 1..32u32 {
        let lp = split.find(cpu, K::Lppaca).unwrap();
        assert!(lp.is_local() && lp.outcome == Outcome::Local, "CPU {cpu}");
        for k in [K::Paca, K::SlbShadow] {
            assert_eq!(
                split.find(cpu, k).unwrap().memory_node,
                linux.find(cpu, k).unwrap().memory_node
            );
        }
    }
    // Linux: only node 0's CPUs have a local lppaca.
    let local = |p: &Placement| {
        p.live()
            .filter(|a| a.kind == K::Lppaca && a.is_local())
            .count()
    };
    assert_eq!(local(&linux), 8);
    assert_eq!(local(&split), 32);
}

#[test]
fn failures_restore_memblock() {
    // 64 CPUs' paca data and emergency stacks (3.4 MiB) do not fit in the 1 MiB a
    // 33 MiB RMA leaves above a 32 MiB kernel.
    let topo = machine(4, 16, 32 * GIB, 33 * MIB);
    for s in Strategy::BEYOND_LINUX {
        let c = cfg(&topo, s, false);
        let mut mb = Memblock::new();
        percpu::init_memblock(&mut mb, &topo, &c).unwrap();
        let before = mb.clone();
        let e = percpu::plan(&mut mb, &topo, &c).unwrap_err();
        assert!(matches!(e, percpu::PlanError::CannotFit { .. }), "{s}: {e}");
        assert_eq!(mb.reserved(), before.reserved(), "{s}");
        assert_eq!(mb.memory(), before.memory(), "{s}");
    }
}

#[test]
fn the_hypervisor_models_judge_the_size_field() {
    // Every lppaca registered with the size field its strategy advertises: pre-4.14
    // KVM refuses the 640-byte ones, every profile takes Linux's.
    let topo = machine(2, 4, 128 * MIB, 256 * MIB);
    for s in Strategy::EVERY {
        let (_, p) = run(&topo, &cfg(&topo, s, false));
        for profile in Profile::ALL {
            let hw: Vec<u32> = (0..8).collect();
            let mut hv = Partition::new(profile, VecRam::new(256 * MIB as usize), &hw).unwrap();
            for cpu in 0..8u32 {
                let Some(lp) = p.find(cpu, K::Lppaca) else {
                    continue; // Linux 4.15's CPU 0: the static lppaca.
                };
                let field = s.lppaca_size_field() as u16;
                hv.memory_mut()
                    .write(
                        lp.addr.saturating_add(PhysSize::new(4)),
                        &field.to_be_bytes(),
                    )
                    .unwrap();
                let v = hv.h_register_vpa_explained(
                    papr::hcall::VpaSubfunction::RegisterVpa.to_flags(),
                    u64::from(cpu),
                    lp.addr.as_u64(),
                );
                let refused = u64::from(field) < profile.vpa_min_size();
                assert_eq!(
                    !v.code.is_success(),
                    refused,
                    "{s} {profile} CPU {cpu}: {v:?}"
                );
                if refused {
                    assert_eq!(v.rule, Rule::SizeTooSmall);
                }
            }
        }
    }
}
