//! Plans of several machines, rendered as `memblock=debug` logs, read back: the
//! observed placement must be the plan's, structure for structure, with nodes from a
//! topology or from the call sites alone.

use bootlog::{compare, observe, parse, render_log, ObserveConfig, Prefix};
use memblock::replay::Op;
use memblock::Memblock;
use percpu::{Allocation, MemOp, Outcome, Placement, PlanConfig, Strategy, StructureKind};
use phys::PhysSize;
use topology::{synthetic, SyntheticSpec, Topology};

/// A tree in `tests/data/` (topology's fixtures are linked there, so that the packaged
/// crate carries them).
fn fixture(name: &str) -> Topology {
    let p = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    topology::topology_from_dtb(&std::fs::read(p).unwrap()).unwrap()
}

fn machines() -> Vec<(String, Topology)> {
    let mut v = vec![
        (
            "default".to_string(),
            topology::topology_from_toml(include_str!("data/default-machine.toml")).unwrap(),
        ),
        ("r84".into(), fixture("r84.dtb")),
        (
            "four-node-memoryless".into(),
            fixture("four-node-memoryless.dtb"),
        ),
        ("cpuless-node".into(), fixture("cpuless-node.dtb")),
        ("powernv9".into(), fixture("powernv9-two-chip.dtb")),
        ("one-node".into(), fixture("one-node.dtb")),
    ];
    let spec = SyntheticSpec {
        nodes: 3,
        cpus: 24,
        threads_per_core: 4,
        memoryless_nodes: 1,
        seed: 7,
        ..SyntheticSpec::default()
    };
    v.push(("synthetic".into(), synthetic(&spec).unwrap()));
    v
}

/// The configurations to plan each machine with.
fn configs(topo: &Topology) -> Vec<(String, PlanConfig)> {
    let base = PlanConfig::for_topology(topo, Strategy::Linux61);
    let mut out = Vec::new();
    for radix in [false, true] {
        let mut c = base.clone();
        c.radix = radix;
        c.paca_size = PhysSize::new(3328);
        out.push((format!("radix={radix}"), c.clone()));
        let n = topo.cpus.len() as u32;
        if n >= 4 {
            // Boot on CPU 3, only every other CPU possible (plus the boot CPU).
            let mut s = c.clone();
            s.boot_cpu = 3;
            s.possible = (0..n).map(|i| i % 2 == 1 || i == 3).collect();
            s.nr_cpu_ids = n + 5;
            out.push((format!("radix={radix} boot=3 sparse"), s));
        }
    }
    out
}

fn plan(topo: &Topology, cfg: &PlanConfig) -> Placement {
    percpu::boot(&mut Memblock::new(), topo, cfg).unwrap()
}

/// Page tables' home node is the node of the memory they map, which the log does not
/// show.
fn comparable(a: &Allocation) -> Allocation {
    let mut a = *a;
    if a.kind == StructureKind::PageTable {
        a.home_node = None;
    }
    a
}

/// The calls a log shows (memblock_set_node, the current limit and bottom-up mode print
/// nothing).
fn logged(ops: &[MemOp]) -> Vec<MemOp> {
    ops.iter()
        .filter(|o| !matches!(o.op, Op::SetNode { .. } | Op::Limit(_) | Op::BottomUp(_)))
        .copied()
        .collect()
}

#[test]
fn rendered_plans_read_back_as_the_same_placement() {
    let mut checked = 0;
    for (name, topo) in machines() {
        for (cname, cfg) in configs(&topo) {
            let what = format!("{name} {cname}");
            let p = plan(&topo, &cfg);
            for prefix in [Prefix::Timestamp, Prefix::None] {
                let mut text = render_log(&p, prefix).unwrap();
                // Lines that are not memblock debug output are ignored.
                text.insert_str(
                    0,
                    "[    0.000000] Activating Kernel Userspace Access Prevention\r\n",
                );
                let log = parse(&text).unwrap();
                let possible: Vec<u32> = cfg.possible_cpus().collect();
                let ocfg = ObserveConfig {
                    boot_cpu: cfg.boot_cpu,
                    possible: Some(possible.clone()),
                    topology: Some(&topo),
                    page_size: cfg.page_size,
                };
                let o = observe(&log, &ocfg).unwrap();
                let q = &o.placement;
                assert_eq!(q.allocations.len(), p.allocations.len(), "{what}");
                for (a, b) in p.allocations.iter().zip(&q.allocations) {
                    assert_eq!(comparable(a), comparable(b), "{what}");
                }
                assert_eq!(q.findings, p.findings, "{what}");
                assert_eq!(q.nodes, p.nodes, "{what}: per-node totals");
                assert_eq!(
                    (
                        q.nr_cpu_ids_initial,
                        q.nr_cpu_ids_final,
                        q.boot_cpu,
                        q.paca_limit
                    ),
                    (
                        p.nr_cpu_ids_initial,
                        p.nr_cpu_ids_final,
                        p.boot_cpu,
                        p.paca_limit
                    ),
                    "{what}"
                );
                assert_eq!(q.ops, logged(&p.ops), "{what}");
                let c = compare(&p, q, Some(&topo));
                assert!(c.all_identical(), "{what}: {:?}", c.differences().next());
                assert_eq!(
                    c.summary.per_cpu.total as usize,
                    p.live().filter(|a| a.kind.is_per_cpu()).count()
                );

                // Without a topology: the node is the requested one exactly where the
                // plan says memblock found it there, unknown otherwise.
                let bare = observe(
                    &log,
                    &ObserveConfig {
                        topology: None,
                        ..ocfg.clone()
                    },
                )
                .unwrap()
                .placement;
                for (a, b) in p.allocations.iter().zip(&bare.allocations) {
                    match a.outcome {
                        Outcome::Local => assert_eq!(b.memory_node, a.memory_node, "{what}"),
                        _ => assert_eq!(b.memory_node, None, "{what} {a:?}"),
                    }
                    assert_eq!(
                        core::mem::discriminant(&a.outcome),
                        core::mem::discriminant(&b.outcome),
                        "{what} {a:?}"
                    );
                    assert_eq!((a.addr, a.kind, a.cpu), (b.addr, b.kind, b.cpu));
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn a_plan_of_the_real_machine_differs_from_a_plan_of_another() {
    // compare() must see differences where there are some: the r84 machine planned
    // with radix against the same machine planned with hash.
    let topo = fixture("r84.dtb");
    let mut cfg = PlanConfig::for_topology(&topo, Strategy::Linux61);
    cfg.paca_size = PhysSize::new(3328);
    let hash = plan(&topo, &cfg);
    cfg.radix = true;
    let radix = plan(&topo, &cfg);
    let text = render_log(&radix, Prefix::Timestamp).unwrap();
    let log = parse(&text).unwrap();
    let o = observe(
        &log,
        &ObserveConfig {
            topology: Some(&topo),
            ..ObserveConfig::default()
        },
    )
    .unwrap();
    let c = compare(&hash, &o.placement, Some(&topo));
    assert!(!c.all_identical());
    // Hash keeps an SLB shadow per CPU, radix none: 8 missing in the log.
    let missing: Vec<_> = c
        .differences()
        .filter(|e| e.verdict == bootlog::Verdict::MissingInLog)
        .collect();
    assert_eq!(missing.len(), 8);
    assert!(missing.iter().all(|e| e.kind == StructureKind::SlbShadow));
    assert!(c.summary.missing_in_plan >= 1, "radix page tables");
    let s = c.summary;
    assert_eq!(
        s.per_cpu.total - s.per_cpu.identical + s.shared.total - s.shared.identical,
        s.size_differs + s.moved_same_node + s.other_node + s.missing_in_log + s.missing_in_plan
    );
}

#[test]
fn linux_415_is_not_rendered() {
    let topo = fixture("r84.dtb");
    let cfg = PlanConfig::for_topology(&topo, Strategy::Linux415);
    let p = plan(&topo, &cfg);
    assert_eq!(
        render_log(&p, Prefix::None),
        Err(bootlog::RenderError::NotLinux61)
    );
}
