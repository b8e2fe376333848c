//! Machines for the tests, built directly as `Topology` values.
#![allow(dead_code)]

use memblock::Memblock;
use percpu::{Placement, PlanConfig, Strategy};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::{Cpu, MemoryRange, Node, Topology};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

pub fn nid(i: u32) -> NodeId {
    NodeId::new(i).unwrap()
}

/// `nodes` nodes of `mem_per_node` bytes each, laid out from address 0, and
/// `cpus_per_node` CPUs on each node numbered node by node; RMA `rma`.
pub fn machine(nodes: u32, cpus_per_node: u32, mem_per_node: u64, rma: u64) -> Topology {
    let mut cpus = Vec::new();
    for n in 0..nodes {
        for t in 0..cpus_per_node {
            let i = n * cpus_per_node + t;
            cpus.push(Cpu {
                logical_id: i,
                hw_id: i,
                node: NodeId::new(n),
            });
        }
    }
    let memory = (0..nodes)
        .map(|n| MemoryRange {
            base: PhysAddr::new(u64::from(n) * mem_per_node),
            size: PhysSize::new(mem_per_node),
            node: NodeId::new(n),
        })
        .collect();
    Topology {
        cpus,
        memory,
        nodes: (0..nodes).map(|n| Node { id: nid(n) }).collect(),
        distances: (0..nodes)
            .map(|a| (0..nodes).map(|b| if a == b { 10 } else { 40 }).collect())
            .collect(),
        rma_size: PhysSize::new(rma),
        hypervisor_mode: false,
    }
}

pub fn cfg(topo: &Topology, strategy: Strategy, radix: bool) -> PlanConfig {
    let mut c = PlanConfig::for_topology(topo, strategy);
    c.radix = radix;
    c
}

pub fn run(topo: &Topology, cfg: &PlanConfig) -> (Memblock, Placement) {
    let mut mb = Memblock::new();
    let p = percpu::boot(&mut mb, topo, cfg).expect("plan");
    (mb, p)
}
