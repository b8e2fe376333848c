//! The radix linear map's page-table allocations against a plain transcription of
//! `create_physical_mapping` (Linux 6.1 and 4.15 `radix_pgtable.c`) that walks every
//! mapping one by one (docs/MUTATION.md). The planner jumps over runs of mappings that
//! need no table; the count, sizes and bounds of the tables must come out the same.

mod common;

use common::{cfg, nid, GIB, MIB};
use memblock::replay::Op;
use memblock::trace::Rng;
use memblock::Memblock;
use percpu::early::KernelImage;
use percpu::{boot, Placement, Strategy, StructureKind as K};
use phys::{PhysAddr, PhysSize};
use topology::{Cpu, MemoryRange, Node, Topology};

const PMD: u64 = 1 << 21;
const PUD: u64 = 1 << 30;
const PGDIR: u64 = 1 << 39;

/// Two nodes with memory at `ranges` (node i gets range i) and two CPUs each.
fn topo(ranges: &[(u64, u64)]) -> Topology {
    let n = ranges.len() as u32;
    Topology {
        cpus: (0..2 * n)
            .map(|i| Cpu {
                logical_id: i,
                hw_id: i,
                node: Some(nid(i / 2)),
            })
            .collect(),
        memory: ranges
            .iter()
            .enumerate()
            .map(|(i, &(base, end))| MemoryRange {
                base: PhysAddr::new(base),
                size: PhysSize::new(end - base),
                node: Some(nid(i as u32)),
            })
            .collect(),
        nodes: (0..n).map(|i| Node { id: nid(i) }).collect(),
        distances: (0..n)
            .map(|a| (0..n).map(|b| if a == b { 10 } else { 40 }).collect())
            .collect(),
        rma_size: PhysSize::new(ranges[0].1.min(GIB)),
        hypervisor_mode: false,
    }
}

/// `(size, min, max)` of each table page, in order, as the kernel asks for them.
/// 6.1: `early_alloc_pgtable(PAGE_SIZE, nid, region_start, region_end)` with
/// `region_start` the first address of the current run of same-size, same-exec
/// mappings and `region_end` the end of the memblock region; mappings at most
/// `radix_mem_block_size` and stopped at `__srwx_boundary` (`next_boundary`). 4.15: no
/// cap and no boundary, upper tables of 4 KiB, PTE pages of `PAGE_SIZE`, no bounds.
fn oracle(
    regions: &[(u64, u64)],
    page: u64,
    cap: u64,
    k: &KernelImage,
    linux61: bool,
) -> Vec<(u64, u64, u64)> {
    let mut pgd = std::collections::HashSet::new();
    let mut pud = std::collections::HashSet::new();
    let mut pmd = std::collections::HashSet::new();
    let mut out = Vec::new();
    for &(base, end) in regions {
        let start = base.div_ceil(page) * page;
        let end = end / page * page;
        let (mut run, mut prev_size, mut prev_exec) = (start, 0, false);
        let mut addr = start;
        while addr < end {
            let mut gap = if linux61 {
                let srwx = k.srwx_boundary.as_u64();
                (if addr < srwx { srwx } else { end }) - addr
            } else {
                end - addr
            };
            if linux61 {
                gap = gap.min(cap);
            }
            let size = if addr % PUD == 0 && gap >= PUD {
                PUD
            } else if addr % PMD == 0 && gap >= PMD {
                PMD
            } else {
                page
            };
            // overlaps_kernel_text || overlaps_interrupt_vector_text.
            let (s, e) = (addr, addr + size);
            let text = s < k.init_end.as_u64() && k.stext.as_u64() < e;
            let iv = k.interrupts.size.as_u64() > 0
                && s < k.interrupts.end().as_u64()
                && k.interrupts.base.as_u64() < e;
            let exec = linux61 && (text || iv);
            if size != prev_size || exec != prev_exec {
                run = addr;
                prev_size = size;
                prev_exec = exec;
            }
            let bounds = |sz: u64| {
                if linux61 {
                    (sz, run, end)
                } else {
                    (sz, 0, u64::MAX)
                }
            };
            let upper = if linux61 { page } else { 0x1000 };
            if pgd.insert(addr / PGDIR) {
                out.push(bounds(upper));
            }
            if size < PUD && pud.insert(addr / PUD) {
                out.push(bounds(upper));
            }
            if size < PMD && pmd.insert(addr / PMD) {
                out.push(bounds(page));
            }
            addr += size;
        }
    }
    out
}

/// `(size, min, max)` of the planner's page-table allocations, from its memblock calls.
fn planned(p: &Placement) -> Vec<(u64, u64, u64)> {
    p.allocations
        .iter()
        .filter(|a| a.kind == K::PageTable)
        .map(|a| {
            let op = p
                .memblock_trace()
                .iter()
                .find(|o| o.is_alloc() && o.result == Some(a.addr))
                .expect("the call");
            match op.op {
                Op::AllocTryNid { min, max, .. }
                | Op::Alloc {
                    start: min,
                    end: max,
                    ..
                } => (a.reserved.as_u64(), min.as_u64(), max.raw()),
                _ => unreachable!(),
            }
        })
        .collect()
}

fn check(ranges: &[(u64, u64)], strategy: Strategy, kernel: KernelImage, cap: Option<u64>) {
    let t = topo(ranges);
    let mut c = cfg(&t, strategy, true);
    c.kernel = kernel;
    if let Some(cap) = cap {
        c.radix_mem_block_size = cap;
    }
    let linux61 = strategy != Strategy::Linux415;
    let want = oracle(
        ranges,
        c.page_size,
        c.radix_mem_block_size,
        &kernel,
        linux61,
    );
    let p = boot(&mut Memblock::new(), &t, &c).expect("plan");
    let got = planned(&p);
    assert_eq!(got, want, "{strategy} {ranges:x?} cap {cap:x?}");
}

/// Each range ends 1 MiB past a 1 GiB boundary (a run of pages in a new PUD entry),
/// the second starts at 2 GiB, so the two page runs start at PMD offset 0 of different
/// PMD entries.
const RANGES: [(u64, u64); 2] = [(0, GIB + MIB), (2 * GIB, 3 * GIB + MIB)];

#[test]
fn linux61_tables_match_a_mapping_by_mapping_walk() {
    check(&RANGES, Strategy::Linux61, KernelImage::DEBIAN_6_1, None);
    // radix_mem_block_size of 1 GiB: 1 GiB mappings where aligned.
    check(
        &RANGES,
        Strategy::Linux61,
        KernelImage::DEBIAN_6_1,
        Some(GIB),
    );
    // A kernel without text boundaries of its own.
    check(
        &RANGES,
        Strategy::Linux61,
        KernelImage::ending_at(PhysAddr::new(32 * MIB)),
        None,
    );
}

/// A small range whose pages cross a 2 MiB boundary without any 2 MiB mapping: a PTE
/// page in each of the two PMD entries.
const SMALL: [(u64, u64); 2] = [(0, GIB), (5 * GIB + MIB, 5 * GIB + 3 * MIB)];

#[test]
fn page_runs_across_a_pmd_boundary_need_a_table_in_each() {
    check(&SMALL, Strategy::Linux61, KernelImage::DEBIAN_6_1, None);
    check(&SMALL, Strategy::Linux415, KernelImage::DEBIAN_6_1, None);
}

/// PMD mappings past 1 GiB: the PMD page of the second PUD entry comes from the run
/// that began where the kernel text stopped (6.1 prints "Mapped 0x0-0x2600000 with 2.00
/// MiB pages (exec)" on the Debian kernel, then a new run), not from address 0.
const TWO_GIB: [(u64, u64); 2] = [(0, 2 * GIB), (3 * GIB, 4 * GIB + MIB)];

/// A second range starting inside the last 2 MiB of the first one's pages: its pages
/// find that PMD entry's PTE page already there.
const SHARED_PMD: [(u64, u64); 2] = [(0, GIB + MIB), (GIB + 3 * MIB / 2, 2 * GIB)];

#[test]
fn runs_restart_where_the_text_ends_and_pmd_entries_are_shared() {
    for strategy in [Strategy::Linux61, Strategy::Linux415] {
        check(&TWO_GIB, strategy, KernelImage::DEBIAN_6_1, None);
        check(&SHARED_PMD, strategy, KernelImage::DEBIAN_6_1, None);
    }
    // The run boundary itself, from the 6.1 Debian kernel's symbols: __init_end is
    // 0x24e0000, inside the 2 MiB mapping at 0x2400000, so the executable run ends at
    // 0x2600000 and the PMD page for 1 GiB and up is asked from there.
    let t = topo(&TWO_GIB);
    let mut c = cfg(&t, Strategy::Linux61, true);
    c.kernel = KernelImage::DEBIAN_6_1;
    let p = boot(&mut Memblock::new(), &t, &c).expect("plan");
    let mins: Vec<u64> = planned(&p).iter().map(|t| t.1).collect();
    assert_eq!(&mins[..3], [0, 0, 0x260_0000]);
}

#[test]
fn linux415_tables_match_a_mapping_by_mapping_walk() {
    check(&RANGES, Strategy::Linux415, KernelImage::DEBIAN_6_1, None);
    // Memory that is not a multiple of 2 MiB anywhere near its start.
    check(
        &[(0, 4 * GIB), (5 * GIB + 3 * MIB, 6 * GIB + 5 * MIB)],
        Strategy::Linux415,
        KernelImage::DEBIAN_6_1,
        None,
    );
}

/// Random machines: one to three memory ranges at page-aligned but otherwise random
/// places (the first from 0, large enough for the kernel and the plan), random kernel
/// symbols (`__srwx_boundary`, `__init_end`, the interrupt vectors or none), 4 KiB or
/// 64 KiB pages, `radix_mem_block_size` from 2 MiB to 2 GiB, 6.1 and 4.15. The jumping
/// walk and the mapping-by-mapping one must ask for the same tables every time.
#[test]
fn random_machines_match_a_mapping_by_mapping_walk() {
    let mut rng = Rng::new(18);
    for _ in 0..300 {
        let page = if rng.below(2) == 0 { 0x1000 } else { 0x1_0000 };
        let unit = |rng: &mut Rng, max: u64| (1 + rng.below(max / page)) * page;
        let mut ranges = vec![(0, 512 * MIB + unit(&mut rng, 3 * GIB))];
        for _ in 0..rng.below(3) {
            let start = ranges.last().unwrap().1 + unit(&mut rng, 2 * GIB);
            ranges.push((start, start + unit(&mut rng, 3 * GIB)));
        }
        let srwx = unit(&mut rng, 48 * MIB);
        let init_end = srwx + unit(&mut rng, 16 * MIB);
        let kernel = KernelImage {
            end: PhysAddr::new(init_end + unit(&mut rng, 8 * MIB)),
            stext: PhysAddr::ZERO,
            init_end: PhysAddr::new(init_end),
            srwx_boundary: PhysAddr::new(srwx),
            interrupts: if rng.below(2) == 0 {
                KernelImage::DEBIAN_6_1.interrupts
            } else {
                percpu::early::Region::new(PhysAddr::ZERO, PhysSize::ZERO)
            },
        };
        let strategy = if rng.below(2) == 0 {
            Strategy::Linux61
        } else {
            Strategy::Linux415
        };
        let cap = (2 * MIB) << rng.below(11);
        let t = topo(&ranges);
        let mut c = cfg(&t, strategy, true);
        c.page_size = page;
        c.kernel = kernel;
        c.radix_mem_block_size = cap;
        let want = oracle(&ranges, page, cap, &kernel, strategy != Strategy::Linux415);
        let p = boot(&mut Memblock::new(), &t, &c).expect("plan");
        assert_eq!(
            planned(&p),
            want,
            "{strategy} page {page:#x} cap {cap:#x} {ranges:x?} {kernel:x?}"
        );
    }
}

/// `mmu_partition_table_init` (radix, hypervisor mode): `memblock_alloc(1 <<
/// PATB_SIZE_SHIFT, 1 << PATB_SIZE_SHIFT)` with `PATB_SIZE_SHIFT = mmu_lpid_bits + 4`:
/// 64 KiB for the 12 bits POWER9 has when the tree does not say, 4 KiB for 8.
#[test]
fn partition_table_is_sixteen_bytes_per_lpid() {
    let mut t = topo(&RANGES);
    t.hypervisor_mode = true;
    for (bits, size) in [(None, 0x1_0000u64), (Some(8), 0x1000)] {
        let mut c = cfg(&t, Strategy::Linux61, true);
        assert!(c.hypervisor_mode);
        c.early.mmu_lpid_bits = bits;
        let p = boot(&mut Memblock::new(), &t, &c).expect("plan");
        let tables: Vec<_> = p
            .allocations
            .iter()
            .filter(|a| a.kind == K::PartitionTable)
            .collect();
        assert_eq!(tables.len(), 1, "{bits:?}");
        assert_eq!(tables[0].reserved.as_u64(), size);
        assert_eq!(tables[0].align, size);
        assert_eq!(tables[0].addr.as_u64() % size, 0);
    }
    // A guest has none: the hypervisor owns the partition table.
    let g = topo(&RANGES);
    let p = boot(&mut Memblock::new(), &g, &cfg(&g, Strategy::Linux61, true)).expect("plan");
    assert!(!p.allocations.iter().any(|a| a.kind == K::PartitionTable));
}
