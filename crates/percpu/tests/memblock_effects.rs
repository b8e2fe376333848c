//! What a plan does to memblock: replayable, exact on freeing, untouched on failure.

mod common;

use common::*;
use memblock::Memblock;
use percpu::{Finding, PlanError, Strategy, StructureKind as K};
use phys::{PhysAddr, PhysSize};
use topology::Topology;

fn replay(topo: &Topology, strategy: Strategy, radix: bool) {
    replay_matches(topo, &cfg(topo, strategy, radix));
}

#[test]
fn replay_reproduces_the_reserved_list() {
    for strategy in Strategy::ALL {
        for radix in [false, true] {
            replay(&machine(3, 4, 2 * GIB, GIB), strategy, radix);
        }
    }
}

#[test]
fn replay_reproduces_a_large_machine() {
    // 512 CPUs: the reserved array outgrows its 128 initial slots and doubles, which
    // memblock itself allocates; the replay must agree on that too.
    for strategy in Strategy::ALL {
        replay(&machine(16, 32, GIB, 2 * GIB), strategy, false);
    }
}

/// Bytes reserved in memblock.
fn reserved_bytes(mb: &Memblock) -> u64 {
    mb.reserved_size().as_u64()
}

#[test]
fn freeing_leaves_what_a_boot_without_those_cpus_reserves() {
    // The same machine booted with nr_cpu_ids = NR_CPUS (2048) and with nr_cpu_ids =
    // the possible count. Linux 6.1 allocates per-CPU structures only for possible CPUs
    // and free_unused_pacas shrinks paca_ptrs, so the reserved byte counts must be equal
    // except for the cpu_to_phys_id tail that smp_setup_pacas frees with the shrunk
    // nr_cpu_ids: (2048 - 8) * 4 bytes that Linux leaks.
    let topo = machine(2, 4, 4 * GIB, GIB);
    for radix in [false, true] {
        let big = cfg(&topo, Strategy::Linux61, radix);
        let mut small = big.clone();
        small.nr_cpu_ids = 8;
        let (mb_big, p_big) = run(&topo, &big);
        let (mb_small, p_small) = run(&topo, &small);
        let leak = (2048 - 8) * 4;
        assert_eq!(reserved_bytes(&mb_big), reserved_bytes(&mb_small) + leak);
        assert!(p_big.findings.contains(&Finding::Leak {
            kind: K::CpuToPhysId,
            addr: p_big
                .allocations
                .iter()
                .find(|a| a.kind == K::CpuToPhysId)
                .unwrap()
                .addr
                .checked_add(PhysSize::new(32))
                .unwrap(),
            size: PhysSize::new(leak),
        }));
        assert!(p_small.findings.is_empty());
        // paca_ptrs shrank to 8 pointers in both.
        for p in [&p_big, &p_small] {
            let ptrs = p.live().find(|a| a.kind == K::PacaPtrs).unwrap();
            assert_eq!(ptrs.reserved.as_u64(), 64);
        }
        // Same structures, same sizes, per CPU.
        for cpu in 0..8 {
            let a: Vec<_> = p_big
                .cpu_structures(cpu)
                .map(|a| (a.kind, a.reserved))
                .collect();
            let b: Vec<_> = p_small
                .cpu_structures(cpu)
                .map(|a| (a.kind, a.reserved))
                .collect();
            assert_eq!(a, b);
        }
    }
}

fn reserved_list(mb: &Memblock) -> Vec<(u64, u64)> {
    mb.reserved()
        .iter()
        .map(|r| (r.base.as_u64(), r.size.as_u64()))
        .collect()
}

#[test]
fn linux415_freeing_leaves_exactly_the_hand_derived_reserved_list() {
    // 2 nodes of 4 GiB, 8 CPUs, a 1 GiB first block, kernel image [0, 32 MiB), hash.
    // Worked out from 4.15's code (see placement.rs for the array addresses):
    // - NR_CPUS = 2048: pacas [0xfac0000, +0x540000), lppacas [0xf8c0000, +0x200000),
    //   SLB shadows [0xf880000, +0x40000). free_unused_pacas keeps PAGE_ALIGN(8 * 0xa80)
    //   = 0x10000 of the pacas and free_lppacas PAGE_ALIGN(7 * 0x400) = 0x10000 of the
    //   lppacas; the SLB shadows are never shrunk, so they merge with the lppacas into
    //   [0xf880000, 0xf8d0000).
    // - nr_cpu_ids = 8 from the start: pacas [0xfff0000, +0x10000), lppacas
    //   [0xffe0000, +0x10000), SLB shadows PAGE_ALIGN(8 * 128) [0xffd0000, +0x10000):
    //   one region [0xffd0000, 0x10000000).
    // - Both: 16 IRQ stacks top-down below 1 TiB: [8 GiB - 0x40000, 8 GiB); 24 emergency
    //   stacks below min(1 TiB, 1 GiB): [1 GiB - 0x60000, 1 GiB).
    // So freeing leaves the same regions as a boot without the 2040 impossible CPUs,
    // except where 4.15 puts the arrays and the SLB shadow array it never shrinks.
    let topo = machine(2, 4, 4 * GIB, GIB);
    let big = cfg(&topo, Strategy::Linux415, false);
    let mut small = big.clone();
    small.nr_cpu_ids = 8;
    let (mb_big, _) = run(&topo, &big);
    let (mb_small, _) = run(&topo, &small);
    let image = (0, 32 * MIB);
    let stacks = [(GIB - 0x60000, 0x60000), (8 * GIB - 0x40000, 0x40000)];
    assert_eq!(
        reserved_list(&mb_big),
        vec![
            image,
            (0xf88_0000, 0x5_0000),
            (0xfac_0000, 0x1_0000),
            stacks[0],
            stacks[1]
        ]
    );
    assert_eq!(
        reserved_list(&mb_small),
        vec![image, (0xffd_0000, 0x3_0000), stacks[0], stacks[1]]
    );
}

#[test]
fn linux61_freeing_leaves_only_live_structures_reserved() {
    // Linux 6.1, NR_CPUS = 2048 and 8 possible CPUs: paca_ptrs (2048 * 8 bytes) shrinks
    // to 8 * 8 bytes, cpu_to_phys_id (2048 * 4) is freed with nr_cpu_ids = 8 so its
    // first 32 bytes go and the rest leaks, and under radix the boot CPU's SLB shadow is
    // freed. The reserved list must be exactly the kernel image, every live structure
    // and the leaked tail, merged where they touch: no freed byte stays reserved.
    let topo = machine(2, 4, 4 * GIB, GIB);
    for radix in [false, true] {
        let c = cfg(&topo, Strategy::Linux61, radix);
        let (mb, p) = run(&topo, &c);
        let ptrs = p
            .allocations
            .iter()
            .find(|a| a.kind == K::PacaPtrs)
            .unwrap();
        let c2p = p
            .allocations
            .iter()
            .find(|a| a.kind == K::CpuToPhysId)
            .unwrap();
        let mut freed = vec![
            (ptrs.addr.as_u64() + 64, 2048 * 8 - 64),
            (c2p.addr.as_u64(), 32),
        ];
        if radix {
            let slb = p
                .allocations
                .iter()
                .find(|a| a.kind == K::SlbShadow && a.cpu == Some(0))
                .unwrap();
            assert!(slb.freed);
            freed.push((slb.addr.as_u64(), 128));
        }
        for &(b, s) in &freed {
            assert!(
                !mb.is_region_reserved(PhysAddr::new(b), PhysSize::new(s))
                    || p.live_blocks()
                        .any(|a| a.addr.as_u64() < b + s
                            && a.addr.as_u64() + a.reserved.as_u64() > b),
                "radix={radix}: freed {b:#x}+{s:#x} still reserved"
            );
        }
        // The expected list: image + live blocks (kind sizes from Linux), merged.
        let mut blocks: Vec<(u64, u64)> = vec![(0, c.kernel.end.as_u64())];
        blocks.extend(
            p.live_blocks()
                .filter(|a| !a.reserved.is_zero())
                .map(|a| (a.addr.as_u64(), a.addr.as_u64() + a.reserved.as_u64())),
        );
        blocks.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (b, e) in blocks {
            match merged.last_mut() {
                Some(last) if last.1 >= b => last.1 = last.1.max(e),
                _ => merged.push((b, e)),
            }
        }
        let expected: Vec<(u64, u64)> = merged.iter().map(|&(b, e)| (b, e - b)).collect();
        assert_eq!(reserved_list(&mb), expected, "radix={radix}");
    }
}

#[test]
fn no_structure_of_an_impossible_cpu_survives() {
    let topo = machine(2, 8, 4 * GIB, GIB);
    for strategy in Strategy::ALL {
        let mut c = cfg(&topo, strategy, false);
        c.possible = (0..16).map(|i| i % 3 != 2).collect();
        let (mb, p) = run(&topo, &c);
        for cpu in (0..16).filter(|i| i % 3 == 2) {
            assert_eq!(p.cpu_structures(cpu).count(), 0, "{strategy} CPU {cpu}");
        }
        // Every live block is reserved in memblock, and none overlap.
        let mut blocks: Vec<_> = p
            .live_blocks()
            .map(|a| (a.addr, a.addr.saturating_add(a.reserved)))
            .collect();
        blocks.sort();
        for w in blocks.windows(2) {
            assert!(w[0].1 <= w[1].0, "{strategy}: overlapping blocks {w:?}");
        }
        for (b, e) in blocks {
            if b == e {
                continue;
            }
            assert!(
                mb.is_region_reserved(b, PhysSize::new(e.as_u64() - b.as_u64())),
                "{strategy}: block {b}..{e} not reserved"
            );
        }
    }
}

#[test]
fn linux415_frees_exactly_the_page_aligned_tails() {
    // 4.15's total after free_unused_pacas: the arrays at their shrunk page-aligned
    // sizes, every stack, plus the kernel image. Computed from Linux's formulas.
    let topo = machine(2, 4, 4 * GIB, GIB);
    let c = cfg(&topo, Strategy::Linux415, false);
    let (mb, _) = run(&topo, &c);
    let pa = |x: u64| x.div_ceil(0x10000) * 0x10000;
    let expected = c.kernel.end.as_u64()
        + pa(8 * c.paca_size.as_u64())
        + pa(7 * 0x400)
        + pa(2048 * 128) // SLB shadows are never shrunk
        + 8 * 5 * 16384;
    assert_eq!(reserved_bytes(&mb), expected);
}

#[test]
fn linux61_reserves_exactly_the_structures() {
    let topo = machine(2, 4, 4 * GIB, GIB);
    let mut c = cfg(&topo, Strategy::Linux61, false);
    c.nr_cpu_ids = 8;
    let (mb, _) = run(&topo, &c);
    let expected = c.kernel.end.as_u64()
        + 8 * 8 // paca_ptrs
        + 8 * (c.paca_size.as_u64() + 0x400 + 128 + 5 * 16384);
    assert_eq!(reserved_bytes(&mb), expected);
}

#[test]
fn a_plan_that_cannot_fit_names_the_cpu_and_leaves_memblock_untouched() {
    // 64 MiB RMA with a 32 MiB kernel: 2048 CPUs' emergency stacks cannot all fit.
    let topo = machine(2, 1024, 4 * GIB, 64 * MIB);
    for strategy in Strategy::ALL {
        let c = cfg(&topo, strategy, false);
        let mut mb = Memblock::new();
        percpu::init_memblock(&mut mb, &topo, &c).unwrap();
        let before = mb.clone();
        let err = percpu::plan(&mut mb, &topo, &c).unwrap_err();
        match err {
            PlanError::CannotFit {
                kind, cpu, limit, ..
            } => {
                assert!(kind.is_per_cpu() && cpu.is_some(), "{kind}");
                assert_eq!(limit, percpu::Limit::Below(PhysAddr::new(64 * MIB)));
                let msg = err.to_string();
                assert!(msg.contains(kind.name()), "{msg}");
                if let Some(cpu) = cpu {
                    assert!(msg.contains(&format!("CPU {cpu}")), "{msg}");
                }
            }
            other => panic!("{strategy}: {other}"),
        }
        assert_eq!(mb.memory(), before.memory(), "{strategy}");
        assert_eq!(mb.reserved(), before.reserved(), "{strategy}");
        assert_eq!(mb.bottom_up(), before.bottom_up());
        assert_eq!(mb.current_limit(), before.current_limit());
    }
}

#[test]
fn boot_cpu_paca_failure_restores_bottom_up() {
    // The RMA leaves exactly room for paca_ptrs (2048 * 8 bytes): the boot CPU's paca,
    // allocated bottom-up, fails while bottom-up is set; the failed plan must restore
    // top-down.
    let topo = machine(1, 2, GIB, 32 * MIB);
    let mut c = cfg(&topo, Strategy::Linux61, false);
    c.kernel = percpu::early::KernelImage::ending_at(PhysAddr::new(32 * MIB - 16384));
    let mut mb = Memblock::new();
    let err = percpu::boot(&mut mb, &topo, &c).unwrap_err();
    assert_eq!(
        err,
        PlanError::CannotFit {
            kind: K::Paca,
            cpu: Some(0),
            size: c.paca_size,
            align: 128,
            limit: percpu::Limit::Below(PhysAddr::new(32 * MIB))
        }
    );
    assert!(!mb.bottom_up());
    assert_eq!(mb.reserved().len(), 0, "boot() restores the empty memblock");
    assert_eq!(
        err.to_string(),
        "cannot allocate the paca of CPU 0: 0xa80 bytes aligned to 0x80 below 0x2000000 on any node"
    );
}
