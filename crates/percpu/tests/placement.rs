//! Placement against Linux's rules: sizes, alignments, limits, node locality and
//! fallbacks, derived from the topology and Linux's code rather than from the plan.

mod common;

use common::*;
use papr::lppaca::vpa_placement_ok;
use percpu::{FallbackReason, Finding, Outcome, Strategy, StructureKind as K};
use phys::{PhysAddr, PhysSize};

#[test]
fn radix_everything_is_node_local() {
    let topo = machine(4, 4, 4 * GIB, GIB);
    check_linux61_locality(&topo, &cfg(&topo, Strategy::Linux61, true));
}

#[test]
fn hash_guest_falls_back_exactly_where_the_rma_excludes_the_node() {
    // 1 GiB RMA inside node 0: pacas, lppacas, SLB shadows and emergency stacks of the
    // other nodes' CPUs must fall back; their IRQ stacks (limit: the 1 TiB segment) stay
    // local, because the current limit was lifted to ANYWHERE by htab_initialize.
    let topo = machine(4, 2, 4 * GIB, GIB);
    let cfg = cfg(&topo, Strategy::Linux61, false);
    check_linux61_locality(&topo, &cfg);
    let (_, p) = run(&topo, &cfg);
    let a = p.find(7, K::SoftirqStack).unwrap();
    assert_eq!(a.outcome, Outcome::Local);
    assert_eq!(a.memory_node, Some(nid(3)));
    let a = p.find(7, K::Lppaca).unwrap();
    assert_eq!(
        a.outcome,
        Outcome::Fallback(FallbackReason::NodeMemoryAboveLimit)
    );
}

#[test]
fn hash_guest_with_rma_spanning_nodes_is_local() {
    // Small nodes (256 MiB) under a 1 GiB RMA: nodes 0..3 are all below the limit.
    let topo = machine(4, 2, 256 * MIB, GIB);
    check_linux61_locality(&topo, &cfg(&topo, Strategy::Linux61, false));
}

#[test]
fn hypervisor_mode_hash_is_unlimited_and_local() {
    let mut topo = machine(2, 4, 4 * GIB, GIB);
    topo.hypervisor_mode = true;
    let cfg = cfg(&topo, Strategy::Linux61, false);
    check_linux61_locality(&topo, &cfg);
}

#[test]
fn every_lppaca_obeys_papr_and_linux_size_and_alignment() {
    for (radix, strategy) in [
        (false, Strategy::Linux61),
        (true, Strategy::Linux61),
        (false, Strategy::Linux415),
        (true, Strategy::Linux415),
    ] {
        let topo = machine(3, 5, 2 * GIB, GIB);
        let (_, p) = run(&topo, &cfg(&topo, strategy, radix));
        let mut n = 0;
        for a in p.live().filter(|a| a.kind == K::Lppaca) {
            n += 1;
            assert!(a.addr.is_aligned(0x400), "{strategy}: lppaca at {}", a.addr);
            assert_eq!(a.reserved, PhysSize::new(0x400));
            assert_eq!(a.size, PhysSize::new(640));
            // The area registered is the advertised size, 0x400.
            vpa_placement_ok(a.addr, PhysSize::new(0x400)).unwrap();
        }
        // 4.15: CPU 0's lppaca is the static one in the kernel image.
        let expect = if strategy == Strategy::Linux415 {
            14
        } else {
            15
        };
        assert_eq!(n, expect, "{strategy}");
    }
    // What Linux writes into each lppaca before registering it.
    let lp = papr::Lppaca::linux_init();
    assert_eq!(lp.registered_size(), 0x400);
    assert_eq!(lp.desc.get(), 0xd397_d781);
    assert_eq!(lp.fpregs_in_use, 1);
    assert_eq!(lp.slb_count.get(), 64);
}

#[test]
fn sizes_and_alignments_are_linuxs() {
    let topo = machine(2, 2, 4 * GIB, GIB);
    let c = cfg(&topo, Strategy::Linux61, false);
    let (_, p) = run(&topo, &c);
    for a in p.live().filter(|a| a.kind.is_per_cpu()) {
        let (size, align) = match a.kind {
            K::Paca => (c.paca_size.as_u64(), 128),
            K::Lppaca => (0x400, 0x400),
            K::SlbShadow => (128, 128),
            _ => (16384, 16384), // THREAD_SIZE, THREAD_ALIGN (no VMAP_STACK on Book3S-64)
        };
        assert_eq!((a.reserved.as_u64(), a.align), (size, align), "{}", a.kind);
        assert!(a.addr.is_aligned(align));
    }
    // Each CPU: paca, lppaca, SLB shadow, 2 IRQ stacks, 3 emergency stacks.
    for cpu in 0..4 {
        assert_eq!(p.cpu_structures(cpu).count(), 8, "CPU {cpu}");
    }
}

#[test]
fn hypervisor_mode_allocates_no_lppaca_and_radix_no_slb_shadow() {
    let mut topo = machine(2, 2, 4 * GIB, GIB);
    topo.hypervisor_mode = true;
    // Hash host: no lppaca, but SLB shadows (Linux itself uses them to restore bolted
    // SLB entries; new_slb_shadow does not look at HV mode).
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    assert_eq!(p.live().filter(|a| a.kind == K::Lppaca).count(), 0);
    assert_eq!(p.live().filter(|a| a.kind == K::SlbShadow).count(), 4);
    // Radix host: neither. The boot CPU's SLB shadow was allocated, then freed.
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, true));
    assert_eq!(p.live().filter(|a| a.kind == K::Lppaca).count(), 0);
    assert_eq!(p.live().filter(|a| a.kind == K::SlbShadow).count(), 0);
    let freed: Vec<_> = p
        .allocations
        .iter()
        .filter(|a| a.kind == K::SlbShadow)
        .collect();
    assert_eq!(freed.len(), 1);
    assert!(freed[0].freed && freed[0].cpu == Some(0));
}

#[test]
fn linux415_in_hypervisor_mode_still_has_lppacas() {
    // Pre-series allocate_lppacas had no CPU_FTR_HVMODE check (the series' first patch
    // added it).
    let mut topo = machine(1, 4, 4 * GIB, GIB);
    topo.hypervisor_mode = true;
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux415, false));
    assert_eq!(p.live().filter(|a| a.kind == K::Lppaca).count(), 3);
}

#[test]
fn memoryless_node_and_nodeless_cpus_fall_back_as_linux_does() {
    let mut topo = machine(3, 2, 4 * GIB, GIB);
    // Node 2 loses its memory; CPU 1 loses its associativity.
    topo.memory.pop();
    topo.cpus[1].node = None;
    let c = cfg(&topo, Strategy::Linux61, true);
    let (_, p) = run(&topo, &c);
    for a in p.live().filter(|a| a.cpu == Some(4) || a.cpu == Some(5)) {
        assert_eq!(
            a.outcome,
            Outcome::Fallback(FallbackReason::NodeHasNoMemory),
            "{}",
            a.kind
        );
    }
    // numa_setup_cpu: an invalid node becomes first_online_node (node 0 here), which is
    // then the CPU's home: local and outcome agree.
    for a in p.live().filter(|a| a.cpu == Some(1)) {
        assert_eq!(a.requested_node, Some(nid(0)), "{}", a.kind);
        assert_eq!(a.home_node, Some(nid(0)));
        assert_eq!(a.memory_node, Some(nid(0)));
        assert_eq!(a.outcome, Outcome::Local);
        assert!(a.is_local());
    }
}

#[test]
fn local_and_outcome_agree_wherever_a_node_was_requested() {
    // A nodeless CPU (1), a memoryless node (2: CPUs 4, 5) and possible CPUs that are
    // not present (6, 7: early_cpu_to_node gives node 0), under hash (RMA fallbacks)
    // and radix.
    let mut topo = machine(3, 2, 4 * GIB, GIB);
    topo.memory.pop();
    topo.cpus[1].node = None;
    for radix in [false, true] {
        let mut c = cfg(&topo, Strategy::Linux61, radix);
        c.possible = vec![true; 8];
        let (_, p) = run(&topo, &c);
        let mut asked = 0;
        for a in p.live().filter(|a| a.kind.is_per_cpu()) {
            if a.requested_node.is_some() {
                asked += 1;
                assert_eq!(a.requested_node, a.home_node, "{} CPU {:?}", a.kind, a.cpu);
                assert_eq!(
                    a.is_local(),
                    a.outcome == Outcome::Local,
                    "{} CPU {:?}: {:?}",
                    a.kind,
                    a.cpu,
                    a.outcome
                );
            }
        }
        assert!(asked > 0);
        // CPUs 6 and 7 ask for node 0 and get it unless the RMA pushes them elsewhere:
        // node 0 holds the RMA, so they are local.
        for cpu in [6, 7] {
            assert!(p.cpu_structures(cpu).all(|a| a.home_node == Some(nid(0))));
            assert!(p.cpu_structures(cpu).all(|a| a.is_local()), "radix={radix}");
        }
    }
}

#[test]
fn possible_but_not_present_cpus_ask_for_node_zero() {
    // lrdr-capacity style: 4 present CPUs on node 1, 4 more possible. early_cpu_to_node
    // returns 0 for CPUs never entered in numa_cpu_lookup_table.
    let mut topo = machine(2, 2, 4 * GIB, GIB);
    for c in &mut topo.cpus {
        c.node = Some(nid(1));
    }
    let mut c = cfg(&topo, Strategy::Linux61, true);
    c.possible = vec![true; 8];
    let (_, p) = run(&topo, &c);
    for cpu in 4..8 {
        let a = p.find(cpu, K::Paca).unwrap();
        assert_eq!(a.requested_node, Some(nid(0)));
        assert_eq!(a.memory_node, Some(nid(0)));
    }
    assert_eq!(p.find(3, K::Paca).unwrap().memory_node, Some(nid(1)));
}

#[test]
fn full_node_below_the_limit_falls_back_with_that_reason() {
    // Node 1 is a 256 KiB sliver below the 1 GiB RMA; its CPUs' 20 stacks (320 KiB)
    // cannot all fit.
    let mut topo = machine(2, 4, 512 * MIB, GIB);
    topo.memory[1].size = PhysSize::new(256 << 10);
    let (mb, p) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    let fallbacks: Vec<_> = p
        .live()
        .filter(|a| a.outcome == Outcome::Fallback(FallbackReason::NodeFullBelowLimit))
        .collect();
    assert!(!fallbacks.is_empty());
    // Linux falls back only when the node really has no room: at the end, no free
    // range of node 1 can hold a stack.
    let node1 = topo.memory[1];
    let free_in_node1: u64 = free_ranges(&mb)
        .into_iter()
        .filter(|(b, e)| *b >= node1.base.as_u64() && *e <= node1.base.as_u64() + (256 << 10))
        .map(|(b, e)| {
            let ab = b.div_ceil(16384) * 16384;
            e.saturating_sub(ab)
        })
        .max()
        .unwrap_or(0);
    assert!(
        free_in_node1 < 16384,
        "room for a stack left on node 1: {free_in_node1}"
    );
}

fn free_ranges(mb: &memblock::Memblock) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for m in mb.memory() {
        let mut cur = m.base.as_u64();
        let end = m.end().as_u64();
        for r in mb.reserved() {
            let (rb, re) = (r.base.as_u64(), r.end().as_u64());
            if re <= cur || rb >= end {
                continue;
            }
            if rb > cur {
                out.push((cur, rb));
            }
            cur = cur.max(re);
        }
        if cur < end {
            out.push((cur, end));
        }
    }
    out
}

#[test]
fn radix_page_tables_stay_inside_the_mapped_region() {
    // Nodes not adjacent in memory: each memblock memory region is its own node, so
    // every page-table page lands on the node it maps.
    let mut topo = machine(2, 2, 4 * GIB, GIB);
    // Node 1 at 1 TiB: a different 512 GiB PGD entry, so it needs its own PUD page.
    topo.memory[1].base = PhysAddr::new(1024 * GIB);
    let c = cfg(&topo, Strategy::Linux61, true);
    let (_, p) = run(&topo, &c);
    let tables: Vec<_> = p.live().filter(|a| a.kind == K::PageTable).collect();
    // Per node: one PUD page (a new 512 GiB PGD entry) and, with 256 MiB mapping
    // blocks, one PMD page per GiB: 1 + 4 = 5 pages of 64 KiB.
    assert_eq!(tables.len(), 10);
    for t in &tables {
        assert!(
            t.is_local(),
            "table at {} maps node {:?}",
            t.addr,
            t.home_node
        );
        assert_eq!(t.reserved, PhysSize::new(0x10000));
        assert!(t.addr.is_aligned(0x10000));
    }
    // Adjacent node ranges merge into one memblock region before NUMA is parsed, so
    // Linux puts the tables at the top of the merged range: node 0's tables are remote.
    let topo = machine(2, 2, 4 * GIB, GIB);
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, true));
    let remote = p
        .live()
        .filter(|a| a.kind == K::PageTable && !a.is_local())
        .count();
    assert_eq!(
        remote, 5,
        "node 0: the PUD page (it maps address 0) and four PMD pages"
    );
}

#[test]
fn linux415_arrays_are_page_aligned_with_tails_freed() {
    let topo = machine(2, 4, 4 * GIB, GIB);
    let c = cfg(&topo, Strategy::Linux415, false);
    let (_, p) = run(&topo, &c);
    let page = 0x10000u64;
    let pa = |x: u64| x.div_ceil(page) * page;
    let arr = |k| p.live().find(|a| a.kind == k).unwrap();
    // Kept after free_unused_pacas: nr_cpu_ids = 8 pacas, 7 lppacas, 2048 SLB shadows.
    assert_eq!(
        arr(K::PacaArray).reserved.as_u64(),
        pa(8 * c.paca_size.as_u64())
    );
    assert_eq!(arr(K::LppacaArray).reserved.as_u64(), pa(7 * 0x400));
    assert_eq!(arr(K::SlbShadowArray).reserved.as_u64(), pa(2048 * 128));
    for k in [K::PacaArray, K::LppacaArray, K::SlbShadowArray] {
        assert!(arr(k).addr.is_aligned(page));
        assert!(arr(k).end().as_u64() <= GIB);
    }
    // CPU n's paca is slot n.
    let base = arr(K::PacaArray).addr.as_u64();
    for cpu in 0..8u32 {
        let a = p.find(cpu, K::Paca).unwrap();
        assert_eq!(
            a.addr.as_u64(),
            base + u64::from(cpu) * c.paca_size.as_u64()
        );
        assert!(a.in_array);
    }
}

#[test]
fn linux415_sparse_possible_mask_frees_lppacas_in_use() {
    // free_lppacas keeps num_possible_cpus() - 1 entries, not nr_cpu_ids - 1.
    let topo = machine(1, 80, 8 * GIB, GIB);
    let mut c = cfg(&topo, Strategy::Linux415, false);
    c.possible = (0..80).map(|i| !(4..76).contains(&i)).collect();
    let (_, p) = run(&topo, &c);
    // 8 possible: keep PAGE_ALIGN(7 KiB) = 64 KiB = 64 entries: CPUs 1..=64 survive;
    // CPUs 76..79 (entries 75..78) are freed while possible.
    let bad: Vec<u32> = p
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::FreedWhileInUse { cpu, .. } => Some(*cpu),
            _ => None,
        })
        .collect();
    assert_eq!(bad, vec![76, 77, 78, 79]);
}

#[test]
fn the_summary_names_fallbacks_and_findings() {
    let topo = machine(2, 2, 4 * GIB, GIB);
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    let text = p.to_string();
    // Node 1's CPUs: paca, lppaca, SLB shadow and the 3 emergency stacks fall back under
    // the RMA; their IRQ stacks are local.
    let lppaca = p
        .locality_summary()
        .into_iter()
        .find(|s| s.kind == K::Lppaca)
        .unwrap();
    assert_eq!(
        (lppaca.local, lppaca.fallback, lppaca.off_home_no_node),
        (2, 2, 0)
    );
    assert!(
        text.contains("leak: 0x1ff0 bytes of cpu_to_phys_id"),
        "{text}"
    );
    assert_eq!(p.total().remote_structures, 2 * 6);
}

#[test]
fn comparing_the_strategies_node_by_node() {
    // The point of the series: on a radix machine Linux 4.15 put every paca, lppaca
    // and SLB shadow on the node of the highest memory below the limit; 6.1 spreads them.
    let topo = machine(4, 4, 4 * GIB, GIB);
    let (_, new) = run(&topo, &cfg(&topo, Strategy::Linux61, true));
    let (_, old) = run(&topo, &cfg(&topo, Strategy::Linux415, true));
    let remote = |p: &percpu::Placement| {
        p.live()
            .filter(|a| matches!(a.kind, K::Paca | K::Lppaca | K::SlbShadow) && !a.is_local())
            .count()
    };
    assert_eq!(remote(&new), 0);
    // 4.15: the arrays sit below min(256 MiB, ppc64_rma_size = min(first block, 1 GiB)),
    // i.e. in node 0's first 256 MiB, so the 12 CPUs of nodes 1..=3 have remote pacas
    // and lppacas (every one in the array: CPU 0's static lppaca is on node 0's CPU),
    // no SLB shadow under radix.
    assert_eq!(remote(&old), 12 + 12);
    // Node 0 holds the arrays and the emergency stacks (below min(1 TiB, 1 GiB)); the
    // IRQ stacks go top-down below the 1 TiB segment, i.e. to node 3; nodes 1 and 2 get
    // nothing.
    assert!(old.node(Some(nid(0))).allocations > 0);
    assert!(old.node(Some(nid(3))).allocations > 0);
    for n in 1..3 {
        assert_eq!(old.node(Some(nid(n))).allocations, 0, "node {n}");
    }
    assert!(new.node(Some(nid(2))).used > 0);
    assert_eq!(new.memblock_trace(), &new.ops[..]);
}

#[test]
fn early_addresses_follow_memblock_direction_by_hand() {
    // Worked out by hand from Linux's rules on a hash guest with a 1 GiB RMA and the
    // kernel image reserved over [0, 32 MiB):
    // - paca_ptrs: memblock_alloc_raw(2048 * 8, 128), top-down below the current limit
    //   (the RMA): 0x4000_0000 - 0x4000.
    // - the boot CPU's paca data, bottom-up from the first free byte: paca at 32 MiB,
    //   lppaca at the next 1 KiB boundary after the paca's 0xa80 bytes, and the SLB
    //   shadow (128 bytes, 128-aligned) in the lowest free range that fits: the
    //   0x180-byte alignment hole between the paca and the lppaca.
    let topo = machine(2, 2, 4 * GIB, GIB);
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    let at = |kind, cpu| {
        p.allocations
            .iter()
            .find(|a| a.kind == kind && a.cpu == cpu)
            .unwrap()
            .addr
            .as_u64()
    };
    assert_eq!(at(K::PacaPtrs, None), 0x3fff_c000);
    assert_eq!(at(K::Paca, Some(0)), 0x0200_0000);
    assert_eq!(at(K::Lppaca, Some(0)), 0x0200_0c00);
    assert_eq!(at(K::SlbShadow, Some(0)), 0x0200_0a80);
    // cpu_to_phys_id (memblock_alloc: below the *current* limit) comes after
    // early_init_mmu lifted that limit, so it sits at the very top of RAM (8 GiB).
    assert_eq!(at(K::CpuToPhysId, None), 8 * GIB - 2048 * 4);
    // free_unused_pacas then shrank paca_ptrs to 4 pointers, freeing
    // [0x3fff_c020, 1 GiB). CPU 1 (node 0) is allocated top-down below min(1 TiB, RMA)
    // on node 0: at the top of that freed tail, 128-aligned.
    assert_eq!(at(K::Paca, Some(1)), (0x4000_0000 - 0xa80) & !127);
}

#[test]
fn linux415_keeps_the_lppaca_array_when_the_paca_array_does_not_shrink() {
    // 4.15 free_unused_pacas(): new_size = PAGE_ALIGN(sizeof(paca) * nr_cpu_ids);
    // `if (new_size >= paca_size) return;` comes before free_lppacas(). With
    // nr_cpu_ids = 128 and possible = {0, 127}, setup_nr_cpu_ids() leaves nr_cpu_ids at
    // 128, so the paca array keeps its PAGE_ALIGN(128 * 0xa80) = 6 pages and the lppaca
    // array its PAGE_ALIGN(127 * 1 KiB) = 2 pages: nothing is freed, and CPU 127's
    // lppaca (entry 126, at 126 KiB into the array) stays reserved.
    let topo = machine(1, 128, 8 * GIB, GIB);
    let mut c = cfg(&topo, Strategy::Linux415, false);
    c.nr_cpu_ids = 128;
    c.possible = (0..128).map(|i| i == 0 || i == 127).collect();
    let (mb, p) = run(&topo, &c);
    assert!(
        !p.ops.iter().any(|op| op.freed().is_some()),
        "4.15 frees nothing here"
    );
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let arr = |k| p.live().find(|a| a.kind == k).unwrap();
    assert_eq!(arr(K::PacaArray).reserved.as_u64(), 6 * 0x10000);
    assert_eq!(arr(K::LppacaArray).reserved.as_u64(), 2 * 0x10000);
    let lp = p.find(127, K::Lppaca).unwrap();
    assert_eq!(
        lp.addr.as_u64(),
        arr(K::LppacaArray).addr.as_u64() + 126 * 0x400
    );
    assert!(mb.is_region_reserved(lp.addr, PhysSize::new(0x400)));
}

#[test]
fn linux415_array_and_stack_addresses_by_hand() {
    // Linux 4.15 on a 2-node machine (4 GiB per node, first memory block 1 GiB), kernel
    // image over [0, 32 MiB), NR_CPUS = 2048, 64 KiB pages:
    // - setup_initial_memory_limit: ppc64_rma_size = min(first block, 1 GiB) = 1 GiB, for
    //   hash, radix and hypervisor mode alike (no HVMODE test before 4.16).
    // - allocate_pacas: limit = min(0x10000000, ppc64_rma_size) = 256 MiB, and
    //   memblock_alloc_base(size, PAGE_SIZE, limit) goes top-down below it:
    //   pacas PAGE_ALIGN(2048 * 0xa80) = 0x540000 at 0x10000000 - 0x540000 = 0xfac0000;
    //   lppacas PAGE_ALIGN(2047 * 0x400) = 0x200000 at 0xf8c0000;
    //   SLB shadows PAGE_ALIGN(2048 * 128) = 0x40000 at 0xf880000, under radix too:
    //   allocate_pacas runs in early_init_devtree, before radix is chosen.
    // - emergency_stack_init: limit = min(safe_stack_limit() = 1 TiB, 1 GiB): the first
    //   16 KiB stack is at 0x40000000 - 0x4000.
    let page = 0x10000u64;
    let pa = |x: u64| x.div_ceil(page) * page;
    assert_eq!(pa(2048 * 0xa80), 0x54_0000);
    assert_eq!(pa(2047 * 0x400), 0x20_0000);
    for (radix, hv) in [(false, false), (true, false), (false, true)] {
        let mut topo = machine(2, 2, 4 * GIB, GIB);
        if hv {
            // What the topology reports in hypervisor mode: no RMA of its own; the
            // first block is node 0's 4 GiB, so min(4 GiB, 1 GiB) = 1 GiB still.
            topo.hypervisor_mode = true;
            topo.rma_size = PhysSize::MAX;
        }
        let mut c = cfg(&topo, Strategy::Linux415, radix);
        c.hypervisor_mode = hv;
        let (_, p) = run(&topo, &c);
        let what = format!("radix={radix} hv={hv}");
        let arr = |k| {
            p.allocations
                .iter()
                .find(|a| a.kind == k)
                .map(|a| a.addr.as_u64())
        };
        assert_eq!(
            p.paca_limit,
            percpu::Limit::Below(PhysAddr::new(0x1000_0000)),
            "{what}"
        );
        assert_eq!(arr(K::PacaArray), Some(0xfac_0000), "{what}");
        assert_eq!(arr(K::LppacaArray), Some(0xf8c_0000), "{what}");
        assert_eq!(arr(K::SlbShadowArray), Some(0xf88_0000), "{what}");
        // Under radix nobody uses it: no CPU gets a slot in it.
        assert_eq!(p.find(1, K::SlbShadow).is_some(), !radix, "{what}");
        let first_emerg = p
            .allocations
            .iter()
            .find(|a| a.kind == K::EmergencyStack)
            .unwrap();
        assert_eq!(first_emerg.addr.as_u64(), GIB - 0x4000, "{what}");
        // The current limit at the start: hash: ppc64_rma_size (1 GiB, hypervisor mode
        // included); radix: the end of the first memory block
        // (radix__setup_initial_memory_limit), here the 1 GiB RMA block.
        assert_eq!(
            p.ops.iter().find_map(|op| match op.op {
                memblock::replay::Op::Limit(a) => Some(a.as_u64()),
                _ => None,
            }),
            Some(GIB),
            "{what}"
        );
    }
}

#[test]
fn linux415_radix_current_limit_is_the_end_of_the_first_block() {
    // radix__setup_initial_memory_limit: memblock_set_current_limit(first_memblock_base +
    // first_memblock_size), unclamped, while ppc64_rma_size is clamped to 1 GiB.
    let mut topo = machine(2, 2, 4 * GIB, GIB);
    topo.rma_size = PhysSize::MAX;
    let c = cfg(&topo, Strategy::Linux415, true);
    let below = |a| percpu::Limit::Below(PhysAddr::new(a));
    assert_eq!(c.rma_limit(&topo), below(GIB));
    assert_eq!(c.initial_current_limit(&topo), below(4 * GIB));
    assert_eq!(c.paca_limit(&topo), below(256 * MIB));
    // 6.1 radix: no RMA, current limit anywhere.
    let c61 = cfg(&topo, Strategy::Linux61, true);
    assert_eq!(c61.rma_limit(&topo), percpu::Limit::Anywhere);
    assert_eq!(c61.initial_current_limit(&topo), percpu::Limit::Anywhere);
}

#[test]
fn radix_process_table_by_hand() {
    // 2 nodes of 4 GiB (memory [0, 8 GiB)). radix_init_pgtable allocates the process
    // table after the linear mapping: 1 << PRTB_SIZE_SHIFT bytes aligned to its size,
    // no node, anywhere, top-down. The top of memory already holds, in 6.1, paca_ptrs
    // (memblock_alloc_raw below the current limit, ANYWHERE under radix) and the
    // linear-mapping table pages; in 4.15 the table pages (memblock_alloc_base
    // anywhere). So the table takes the next size-aligned block down:
    // - 6.1: mmu_pid_bits 20, 16 MiB: 8 GiB - 32 MiB;
    // - 4.15 guest: mmu_pid_bits 19, 8 MiB: 8 GiB - 16 MiB;
    // - 4.15 hypervisor mode: mmu_pid_bits 20, 16 MiB: 8 GiB - 32 MiB.
    // Hash has no process table.
    for (strategy, hv, size) in [
        (Strategy::Linux61, false, 16 * MIB),
        (Strategy::Linux415, false, 8 * MIB),
        (Strategy::Linux415, true, 16 * MIB),
    ] {
        let mut topo = machine(2, 2, 4 * GIB, GIB);
        topo.hypervisor_mode = hv;
        let mut c = cfg(&topo, strategy, true);
        c.hypervisor_mode = hv;
        let (mb, p) = run(&topo, &c);
        let pt: Vec<_> = p.live().filter(|a| a.kind == K::ProcessTable).collect();
        assert_eq!(pt.len(), 1, "{strategy} hv={hv}");
        assert_eq!(pt[0].reserved.as_u64(), size, "{strategy} hv={hv}");
        assert_eq!(
            pt[0].addr.as_u64(),
            8 * GIB - 2 * size,
            "{strategy} hv={hv}"
        );
        assert!(mb.is_region_reserved(pt[0].addr, pt[0].reserved));
        // It comes right after the last linear-mapping table page in the sequence.
        let idx = |k| p.allocations.iter().rposition(|a| a.kind == k).unwrap();
        assert_eq!(idx(K::ProcessTable), idx(K::PageTable) + 1, "{strategy}");
        let (_, hash) = run(&topo, &cfg(&topo, strategy, false));
        assert!(hash.live().all(|a| a.kind != K::ProcessTable));
    }
}

#[test]
fn radix_table_pages_are_bounded_by_the_current_mapping_run() {
    // 6.1 create_physical_mapping passes its `start` as the lower bound of
    // early_alloc_pgtable and moves it to `addr` when the mapping size changes. Memory
    // [0, 4 GiB) and [8 GiB, 9 GiB + 64 KiB) (a hole keeps them apart in memblock):
    // the second region maps [8 GiB, 9 GiB) with 2 MiB pages (cap 256 MiB < 1 GiB):
    // its PMD page is asked for with min 8 GiB; then [9 GiB, 9 GiB + 64 KiB) with a
    // 64 KiB page: a new run, so its PMD and PTE pages are asked for with min 9 GiB.
    let mut topo = machine(2, 2, 4 * GIB, GIB);
    topo.memory[1].base = PhysAddr::new(8 * GIB);
    topo.memory[1].size = PhysSize::new(GIB + 0x10000);
    let c = cfg(&topo, Strategy::Linux61, true);
    let (_, p) = run(&topo, &c);
    let mins: Vec<u64> = p
        .ops
        .iter()
        .filter_map(|op| match op.op {
            memblock::replay::Op::AllocTryNid { size, min, max, .. }
                if size.as_u64() == 0x10000
                    && max == memblock::AllocLimit::Addr(PhysAddr::new(9 * GIB + 0x10000)) =>
            {
                Some(min.as_u64())
            }
            _ => None,
        })
        .collect();
    assert_eq!(mins, vec![8 * GIB, 9 * GIB, 9 * GIB]);
}
