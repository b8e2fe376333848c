//! The two node fallbacks of `early_cpu_to_node` on a machine whose lowest node is not
//! node 0, where they give different answers.
//!
//! Linux 6.1 (`mem_topology_setup` -> `numa_setup_cpu` in `arch/powerpc/mm/numa.c`,
//! `early_cpu_to_node` in `arch/powerpc/include/asm/topology.h`):
//! * a *present* CPU whose associativity gives no usable node is entered in
//!   `numa_cpu_lookup_table` as `first_online_node`, the lowest node with memory or a
//!   present CPU (node 0 is taken offline first, so here that is node 1);
//! * a *possible but not present* CPU only gets its per-CPU `numa_node` set; its
//!   `numa_cpu_lookup_table` entry stays -1, which `early_cpu_to_node` turns into 0.
//!
//! `allocate_paca` and the stack allocations of Linux 6.1 pass `early_cpu_to_node(cpu)`
//! to `memblock_alloc_try_nid`, so the node each allocation asks for is that value. On
//! every other test machine node 0 is the lowest node, and both fallbacks coincide.

mod common;

use common::*;
use memblock::replay::Op;
use memblock::Memblock;
use percpu::{Outcome, Strategy, StructureKind as K};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::{Cpu, MemoryRange, Node, Topology};

/// Nodes 1 and 2 (1 GiB each), no node 0. CPU 0 (boot) on node 1, CPU 1 on node 2,
/// CPU 2 present without a node; CPU 3 is possible but not present.
fn machine_without_node0() -> Topology {
    let cpu = |id: u32, node: Option<NodeId>| Cpu {
        logical_id: id,
        hw_id: id * 8,
        node,
    };
    Topology {
        cpus: vec![cpu(0, Some(nid(1))), cpu(1, Some(nid(2))), cpu(2, None)],
        memory: vec![
            MemoryRange {
                base: PhysAddr::ZERO,
                size: PhysSize::new(GIB),
                node: Some(nid(1)),
            },
            MemoryRange {
                base: PhysAddr::new(GIB),
                size: PhysSize::new(GIB),
                node: Some(nid(2)),
            },
        ],
        nodes: vec![Node { id: nid(1) }, Node { id: nid(2) }],
        distances: vec![vec![10, 40], vec![40, 10]],
        rma_size: PhysSize::new(GIB),
        hypervisor_mode: false,
    }
}

const NODELESS: u32 = 2;
const NOT_PRESENT: u32 = 3;

#[test]
fn early_cpu_to_node_tells_the_two_fallbacks_apart() {
    let topo = machine_without_node0();
    assert_eq!(percpu::first_online_node(&topo), nid(1));
    assert_eq!(percpu::early_cpu_to_node(&topo, 0), nid(1));
    assert_eq!(percpu::early_cpu_to_node(&topo, 1), nid(2));
    assert_eq!(
        percpu::early_cpu_to_node(&topo, NODELESS),
        nid(1),
        "present CPU without a node: first_online_node"
    );
    assert_eq!(
        percpu::early_cpu_to_node(&topo, NOT_PRESENT),
        nid(0),
        "possible, not present: numa_cpu_lookup_table stays -1 -> node 0"
    );
    // A present CPU naming a node that is not one of the machine's: first_online_node.
    let mut odd = topo.clone();
    odd.cpus[NODELESS as usize].node = Some(nid(7));
    assert_eq!(percpu::early_cpu_to_node(&odd, NODELESS), nid(1));
}

#[test]
fn each_cpus_allocations_ask_memblock_for_its_early_node() {
    let topo = machine_without_node0();
    for radix in [false, true] {
        let mut cfg = cfg(&topo, Strategy::Linux61, radix);
        cfg.possible = vec![true; 4];
        let mut mb = Memblock::new();
        let p = percpu::boot(&mut mb, &topo, &cfg).expect("plan");

        let expect = [
            (1, Some(nid(2))),
            (NODELESS, Some(nid(1))),
            (NOT_PRESENT, Some(nid(0))),
        ];
        for (cpu, want) in expect {
            let mine: Vec<_> = p.cpu_structures(cpu).collect();
            // paca, lppaca (hash and radix: an LPAR), SLB shadow (hash) and the stacks.
            assert!(
                mine.iter().any(|a| a.kind == K::Paca)
                    && mine.iter().any(|a| a.kind == K::Lppaca)
                    && mine.iter().any(|a| a.kind == K::EmergencyStack),
                "radix={radix}: CPU {cpu} lacks structures: {mine:?}"
            );
            for a in mine {
                assert_eq!(
                    a.requested_node, want,
                    "radix={radix}: {} of CPU {cpu}",
                    a.kind
                );
                assert_eq!(a.home_node, want, "radix={radix}: home of {}", a.kind);
                // And memblock really was asked for that node.
                let asked = p.ops.iter().find_map(|op| match op.op {
                    Op::AllocTryNid { nid, .. } if op.result == Some(a.addr) => Some(nid),
                    _ => None,
                });
                assert_eq!(
                    asked,
                    Some(want),
                    "radix={radix}: memblock call of {} of CPU {cpu}",
                    a.kind
                );
            }
        }
        // The not-present CPU asks for node 0, which has no memory: every one of its
        // structures falls back, and lands on node 1 or 2.
        for a in p.cpu_structures(NOT_PRESENT) {
            assert!(
                matches!(a.outcome, Outcome::Fallback(_)),
                "radix={radix}: {} of CPU 3: {:?}",
                a.kind,
                a.outcome
            );
            assert!(matches!(a.memory_node, Some(n) if n == nid(1) || n == nid(2)));
        }
        // The node-less CPU's structures are local to node 1.
        for a in p.cpu_structures(NODELESS) {
            assert_eq!(a.outcome, Outcome::Local, "radix={radix}: {}", a.kind);
            assert_eq!(a.memory_node, Some(nid(1)));
        }
    }
}

/// `node_of_addr` decides each allocation's `memory_node`: the last byte of a range is
/// still its node, the first byte after it belongs to the next range or to no node.
#[test]
fn node_of_addr_at_range_edges() {
    let mut topo = machine_without_node0();
    let at = |t: &Topology, a: u64| percpu::node_of_addr(t, PhysAddr::new(a));
    assert_eq!(at(&topo, 0), Some(nid(1)));
    assert_eq!(at(&topo, GIB - 1), Some(nid(1)));
    assert_eq!(at(&topo, GIB), Some(nid(2)));
    assert_eq!(at(&topo, 2 * GIB - 1), Some(nid(2)));
    assert_eq!(at(&topo, 2 * GIB), None, "past the last range");
    // With a hole between the two ranges.
    topo.memory[1].base = PhysAddr::new(2 * GIB);
    assert_eq!(at(&topo, GIB - 1), Some(nid(1)));
    assert_eq!(at(&topo, GIB), None, "first byte of the hole");
    assert_eq!(at(&topo, 2 * GIB - 1), None, "last byte of the hole");
    assert_eq!(at(&topo, 2 * GIB), Some(nid(2)));
    assert_eq!(at(&topo, u64::MAX), None);
}
