//! Linux 6.1's `free_unused_pacas` when nothing is unused (found by `cargo mutants`,
//! docs/MUTATION.md): every test machine booted with `NR_CPUS` above its CPU count, so
//! `paca_ptrs` always shrank and a free of zero bytes could not be told apart.

mod common;

use common::{cfg, machine, run, GIB};
use memblock::replay::Op;
use percpu::{Allocation, Finding, MemOp, Placement, Strategy, StructureKind as K};

fn paca_ptrs(p: &Placement) -> &Allocation {
    p.live().find(|a| a.kind == K::PacaPtrs).expect("paca_ptrs")
}

fn frees(ops: &[MemOp]) -> Vec<(u64, u64)> {
    ops.iter()
        .filter_map(MemOp::freed)
        .map(|(base, size)| (base.as_u64(), size.as_u64()))
        .collect()
}

#[test]
fn paca_ptrs_is_freed_only_when_it_shrinks() {
    let topo = machine(2, 4, GIB, GIB);
    let mut c = cfg(&topo, Strategy::Linux61, false);
    // nr_cpu_ids at the first scan equals the final one: paca_ptrs keeps its size and
    // free_unused_pacas frees nothing (`new_ptrs_size < paca_ptrs_size` is false).
    c.nr_cpu_ids = c.final_nr_cpu_ids();
    let (_, p) = run(&topo, &c);
    let ptrs = paca_ptrs(&p);
    assert_eq!(ptrs.size.as_u64(), 8 * u64::from(c.nr_cpu_ids));
    let f = frees(p.memblock_trace());
    assert!(f.iter().all(|&(_, size)| size > 0), "{f:x?}");
    assert!(
        !f.iter()
            .any(|&(base, _)| base == ptrs.addr.as_u64() + ptrs.size.as_u64()),
        "{f:x?}"
    );

    // With room for twice the CPUs at first, the tail of paca_ptrs is freed once.
    c.nr_cpu_ids *= 2;
    let (_, p) = run(&topo, &c);
    let ptrs = paca_ptrs(&p);
    let tail = (ptrs.addr.as_u64() + ptrs.size.as_u64(), ptrs.size.as_u64());
    assert_eq!(
        frees(p.memblock_trace())
            .iter()
            .filter(|&&f| f == tail)
            .count(),
        1
    );
}

fn lppaca_array(p: &Placement) -> Option<&Allocation> {
    p.allocations.iter().find(|a| a.kind == K::LppacaArray)
}

#[test]
fn linux415_lppaca_array_leaves_out_the_static_lppaca() {
    // allocate_lppacas: CPU 0 uses the static lppaca in the image, so the array holds
    // nr_cpu_ids - 1 entries of 0x400 bytes, page aligned. 65 ids fill exactly 64 KiB;
    // one entry more would need another page.
    let topo = machine(2, 4, GIB, GIB);
    let mut c = cfg(&topo, Strategy::Linux415, false);
    c.nr_cpu_ids = 65;
    let (_, p) = run(&topo, &c);
    let want = (0x400u64 * 64).div_ceil(c.page_size) * c.page_size;
    let a = lppaca_array(&p).expect("an lppaca array");
    // The size memblock was asked for (the report keeps what stays in use).
    let asked: Vec<u64> = p
        .memblock_trace()
        .iter()
        .filter_map(|op| match op.op {
            Op::Alloc { size, .. } | Op::AllocTryNid { size, .. } if op.result == Some(a.addr) => {
                Some(size.as_u64())
            }
            _ => None,
        })
        .collect();
    assert_eq!(asked, [want]);

    // A single CPU needs no array at all.
    let one = machine(1, 1, GIB, GIB);
    let mut c = cfg(&one, Strategy::Linux415, false);
    c.nr_cpu_ids = 1;
    let (_, p) = run(&one, &c);
    assert!(lppaca_array(&p).is_none(), "{:?}", lppaca_array(&p));
}

#[test]
fn linux415_free_unused_pacas_frees_exactly_the_tails() {
    // 65 ids at the first scan, fewer possible CPUs: free_unused_pacas frees the paca
    // array beyond PAGE_ALIGN(possible pacas) and the lppaca array beyond
    // PAGE_ALIGN(possible - 1 lppacas) when that is smaller than the array, and nothing
    // of zero bytes.
    for (nodes, per_node) in [(2, 4), (1, 5)] {
        let topo = machine(nodes, per_node, GIB, GIB);
        let nposs = u64::from(nodes * per_node);
        for page in [4u64 << 10, 64 << 10] {
            let mut c = cfg(&topo, Strategy::Linux415, false);
            c.page_size = page;
            c.nr_cpu_ids = 65;
            let (_, p) = run(&topo, &c);
            let what = format!("{nposs} CPUs, page {page:#x}");
            let align = |x: u64| x.div_ceil(page) * page;
            let f = frees(p.memblock_trace());
            assert!(f.iter().all(|&(_, size)| size > 0), "{what}: {f:x?}");
            let base = |kind| {
                p.allocations
                    .iter()
                    .find(|a| a.kind == kind)
                    .map(|a| a.addr.as_u64())
                    .expect("the array")
            };

            let ps = c.paca_size.as_u64();
            let (size, kept) = (align(ps * 65), align(ps * nposs));
            let tail = (base(K::PacaArray) + kept, size - kept);
            assert_eq!(
                f.iter().filter(|&&x| x == tail).count(),
                1,
                "{what}: {f:x?}"
            );

            // Every possible CPU's slot stays inside what is kept: nothing in use is
            // freed (with 5 CPUs and 4 KiB pages the last lppaca ends exactly there).
            assert!(
                !p.findings
                    .iter()
                    .any(|f| matches!(f, Finding::FreedWhileInUse { .. })),
                "{what}: {:?}",
                p.findings
            );
            // Hash MMU: each CPU's SLB shadow is its entry of the shadow array.
            let slbs = base(K::SlbShadowArray);
            for cpu in 0..nodes * per_node {
                let s = p.find(cpu, K::SlbShadow).expect("an SLB shadow");
                assert_eq!(s.addr.as_u64(), slbs + 0x80 * u64::from(cpu), "{what}");
            }

            let (size, kept) = (align(0x400 * 64), align(0x400 * (nposs - 1)));
            let lp = base(K::LppacaArray);
            let lp_frees: Vec<_> = f
                .iter()
                .filter(|&&(b, _)| b > lp && b <= lp + size)
                .collect();
            if kept < size {
                assert_eq!(lp_frees, [&(lp + kept, size - kept)], "{what}");
            } else {
                assert!(lp_frees.is_empty(), "{what}: {lp_frees:x?}");
            }
        }
    }
}

#[test]
fn per_cpu_block_radix_frees_the_boot_cpus_slb_shadow_tail() {
    // Under radix no block keeps an SLB shadow: the boot CPU's block was laid out before
    // the MMU was chosen, and free_unused_pacas frees its SLB shadow (the block's tail);
    // the others are laid out without one. Every block keeps 128 bytes less than under
    // hash.
    let topo = machine(2, 4, GIB, GIB);
    let blocks = |radix: bool| {
        let c = cfg(&topo, Strategy::PerCpuBlock, radix);
        let (_, p) = run(&topo, &c);
        let mut v: Vec<(Option<u32>, u64)> = p
            .live()
            .filter(|a| a.kind == K::PacaBlock)
            .map(|a| (a.cpu, a.reserved.as_u64()))
            .collect();
        v.sort();
        v
    };
    let hash = blocks(false);
    let radix = blocks(true);
    assert_eq!(hash.len(), radix.len());
    assert!(!hash.is_empty());
    for (h, r) in hash.iter().zip(&radix) {
        assert_eq!(h.0, r.0);
        assert_eq!(r.1, h.1 - 0x80, "block of CPU {:?}", h.0);
    }
}

/// per-node-block frees the tail of a node's block only when the node has possible CPUs
/// that are not present: with every CPU present nothing is kept back, and no free of
/// zero bytes appears in the memblock calls.
#[test]
fn per_node_block_frees_no_empty_tail() {
    let topo = machine(2, 4, 4 * GIB, GIB);
    let mut c = cfg(&topo, Strategy::PerNodeBlock, false);
    c.nr_cpu_ids = topo.cpus.len() as u32;
    let (_, p) = run(&topo, &c);
    let zero_frees: Vec<String> = p
        .ops
        .iter()
        .filter(|op| op.freed().is_some_and(|(_, size)| size.as_u64() == 0))
        .map(|op| op.to_string())
        .collect();
    assert!(zero_frees.is_empty(), "{zero_frees:?}");
    assert!(p.live().any(|a| a.kind == K::PacaBlock));
}
