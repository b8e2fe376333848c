//! The two real boots in `tests/data` (see its README): every memblock line accounted
//! for, the facts checked against sources other than the parser (the device tree QEMU
//! built, the kernel's own `MEMBLOCK configuration` dumps and `numa:` lines, the
//! vmlinux symbol table), and the per-CPU placement rebuilt with and without a topology.

use bootlog::{compare, observe, parse, BootLog, Event, Mmu, ObserveConfig, RangeSet, Verdict};
use percpu::{Outcome, StructureKind};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::Topology;

const R84: &str = include_str!("data/r84.log");
const H84: &str = include_str!("data/h84.log");

fn dtb(name: &str) -> Topology {
    let bytes = std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    topology::topology_from_dtb(&bytes).unwrap()
}

fn both() -> [(&'static str, &'static str, Mmu, Topology); 2] {
    [
        ("r84", R84, Mmu::Radix, dtb("r84.dtb")),
        ("h84", H84, Mmu::Hash, dtb("h84.dtb")),
    ]
}

/// Lines whose message starts with a memblock debug keyword, counted without the parser.
fn memblock_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| {
            let m = l.split_once("] ").map_or(*l, |(_, m)| m);
            m.starts_with("memblock_") || m.starts_with("memblock: ")
        })
        .count()
}

#[test]
fn every_memblock_line_becomes_an_event() {
    for (name, text, _, _) in both() {
        let log = parse(text).unwrap();
        let folded = log.allocs().filter(|(_, a)| a.result.is_some()).count();
        assert_eq!(log.records.len() + folded, memblock_lines(text), "{name}");
        // Results are the very next line in these logs. The one allowed failure is
        // sparse_buffer_init's attempt at one buffer for a whole node's memmap (it
        // falls back to smaller allocations); it is followed by another allocation.
        for (line, a) in log.allocs() {
            match a.result {
                Some(r) => {
                    assert_eq!(r.line, line + 1, "{name}:{line}");
                    assert!(r.addr.is_aligned(a.align), "{name}:{line}");
                }
                None => assert!(a.caller.is("memmap_alloc"), "{name}:{line}: {a:?}"),
            }
        }
    }
}

#[test]
fn replayed_reservations_equal_the_kernels_own_dumps() {
    // memblock_dump_all prints the reserved array: replaying the log's reservations and
    // frees up to each dump must give exactly those regions.
    for (name, text, _, _) in both() {
        let log = parse(text).unwrap();
        assert!(log.facts.dumps.len() >= 2, "{name}");
        for dump in &log.facts.dumps {
            let mut set = RangeSet::new();
            for r in log.records.iter().take_while(|r| r.line < dump.line) {
                match &r.event {
                    Event::Reserve { range, .. } => set.add(*range),
                    Event::Free { range, .. } => set.remove(*range),
                    Event::Alloc(a) => set.add(a.block().unwrap()),
                    _ => {}
                }
            }
            assert_eq!(
                set.ranges(),
                dump.reserved,
                "{name}: dump at line {}",
                dump.line
            );
        }
    }
}

#[test]
fn facts_agree_with_the_device_tree_and_the_kernel_image() {
    for (name, text, mmu, topo) in both() {
        let f = parse(text).unwrap().facts;
        // `_end` of vmlinux-6.1.0-50-powerpc64le (powerpc64le-linux-gnu-nm) is
        // 0xc000000002880000; early_init_devtree reserves [0, __pa(_end)).
        assert_eq!(f.kernel_end, Some(PhysAddr::new(0x288_0000)), "{name}");
        assert_eq!(f.mmu, Some(mmu), "{name}");
        assert_eq!(f.hypervisor_mode, Some(topo.hypervisor_mode), "{name}");
        assert_eq!(f.possible_cpus as usize, topo.cpus.len(), "{name}");
        // The tree blob reserved is inside RAM, page aligned, and not the kernel.
        let fdt = f.fdt.unwrap();
        assert!(fdt.base >= f.kernel_end.unwrap() && fdt.base.is_aligned(0x1_0000));
        assert_eq!(f.reserved_mem.len(), 1, "{name}");
        // RTAS sits below the RMA, as rtas_initialize asks.
        let rtas = f.rtas.unwrap();
        assert!(rtas.addr.unwrap().saturating_add(rtas.size) <= topo.rma_limit());
        assert!(f.unflattened_tree.unwrap().size.as_u64() > 0);
        assert_eq!(
            f.paca_size,
            Some(PhysSize::new(3328)),
            "{name}: same build, same sizeof"
        );
        assert_eq!(f.nr_cpu_ids, Some(2048), "{name}: Debian's NR_CPUS");
        // The kernel's own NUMA view equals the device tree's.
        let from_log = f.topology().unwrap();
        assert_eq!(from_log.memory, topo.memory, "{name}");
        for c in &topo.cpus {
            assert_eq!(from_log.cpus[c.logical_id as usize].node, c.node, "{name}");
        }
    }
}

fn observed(log: &BootLog<'_>, topo: Option<&Topology>) -> percpu::Placement {
    let cfg = ObserveConfig {
        topology: topo,
        ..ObserveConfig::default()
    };
    observe(log, &cfg).unwrap().placement
}

#[test]
fn per_cpu_structures_of_both_boots() {
    for (name, text, mmu, topo) in both() {
        let log = parse(text).unwrap();
        let p = observed(&log, Some(&topo));
        let per_cpu = if mmu == Mmu::Radix { 7 } else { 8 };
        for c in &topo.cpus {
            let cpu = c.logical_id;
            assert_eq!(p.cpu_structures(cpu).count(), per_cpu, "{name} CPU {cpu}");
            // early_cpu_to_node as the log shows it equals the device tree's node.
            for a in p.cpu_structures(cpu) {
                assert_eq!(a.home_node, c.node, "{name} CPU {cpu} {}", a.kind);
            }
        }
        let slb_boot = p
            .allocations
            .iter()
            .find(|a| a.kind == StructureKind::SlbShadow && a.cpu == Some(0))
            .unwrap();
        assert_eq!(slb_boot.freed, mmu == Mmu::Radix, "{name}");
        let ptrs = p
            .live()
            .find(|a| a.kind == StructureKind::PacaPtrs)
            .unwrap();
        assert_eq!(ptrs.reserved.as_u64(), 8 * topo.cpus.len() as u64, "{name}");
        assert_eq!(p.nr_cpu_ids_final as usize, topo.cpus.len());
        let leak = p
            .findings
            .iter()
            .find_map(|f| match *f {
                percpu::Finding::Leak { kind, size, .. } => Some((kind, size)),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            leak,
            (StructureKind::CpuToPhysId, PhysSize::new(4 * (2048 - 8)))
        );
        let tables = p
            .live()
            .filter(|a| a.kind == StructureKind::PageTable)
            .count();
        let prtb = p
            .live()
            .filter(|a| a.kind == StructureKind::ProcessTable)
            .count();
        if mmu == Mmu::Radix {
            assert!(tables > 0);
            assert_eq!(prtb, 1);
        } else {
            assert_eq!(tables + prtb, 0);
        }
        // Node 3 has no memory: every structure of its CPUs fell back.
        let n3 = NodeId::new(3);
        for a in p
            .live()
            .filter(|a| a.kind.is_per_cpu() && a.home_node == n3)
        {
            assert!(matches!(a.outcome, Outcome::Fallback(_)), "{name} {a:?}");
        }
    }
}

#[test]
fn nodes_from_call_sites_agree_with_the_topology() {
    // Without a topology, an allocation's node is known when memblock reserved it at
    // its first call site; that must agree with the device tree wherever it is known,
    // and the fallbacks it reports must be the topology's.
    for (name, text, _, topo) in both() {
        let log = parse(text).unwrap();
        assert!(log.first_reserve_site.is_some());
        let with = observed(&log, Some(&topo));
        let without = observed(&log, None);
        assert_eq!(with.allocations.len(), without.allocations.len());
        let mut known = 0;
        for (a, b) in with.allocations.iter().zip(&without.allocations) {
            assert_eq!((a.kind, a.cpu, a.addr), (b.kind, b.cpu, b.addr));
            if let Some(n) = b.memory_node {
                assert_eq!(a.memory_node, Some(n), "{name} {a:?}");
                known += 1;
            }
            assert_eq!(
                matches!(a.outcome, Outcome::Fallback(_)),
                matches!(b.outcome, Outcome::Fallback(_)),
                "{name} {a:?}"
            );
            assert_eq!(a.outcome, b.outcome, "{name}: inferred reason {a:?}");
        }
        assert!(known >= 20, "{name}: {known}");
        // And a log compared with itself is identical, on either basis.
        assert!(compare(&with, &with, Some(&topo)).all_identical());
        assert!(compare(&without, &without, None).all_identical());
        let c = compare(&with, &without, None);
        assert_eq!(c.summary.per_cpu.total, c.summary.per_cpu.identical);
    }
}

#[test]
fn a_moved_structure_is_reported_once_with_its_verdict() {
    let topo = dtb("r84.dtb");
    let log = parse(R84).unwrap();
    let real = observed(&log, Some(&topo));
    let mut plan = real.clone();
    let i = plan
        .allocations
        .iter()
        .position(|a| a.kind == StructureKind::Lppaca && a.cpu == Some(2))
        .unwrap();
    // Node 1 is [1 GiB, 2 GiB): another address on node 1, then one on node 0.
    plan.allocations[i].addr = PhysAddr::new(0x4000_0000);
    let c = compare(&plan, &real, Some(&topo));
    let d: Vec<_> = c.differences().collect();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].kind, d[0].cpu, d[0].verdict),
        (StructureKind::Lppaca, Some(2), Verdict::MovedSameNode)
    );
    plan.allocations[i].addr = PhysAddr::new(0x100_0000);
    let c = compare(&plan, &real, Some(&topo));
    assert_eq!(c.differences().next().unwrap().verdict, Verdict::OtherNode);
    plan.allocations[i].freed = true;
    let c = compare(&plan, &real, Some(&topo));
    assert_eq!(
        c.differences().next().unwrap().verdict,
        Verdict::MissingInPlan
    );
    assert_eq!(c.summary.per_cpu.total, 56);
    assert_eq!(c.summary.per_cpu.identical, 55);
    assert_eq!(c.summary.missing_in_plan, 1);
}
