//! Which node Linux asks memblock for: the node of an address, `first_online_node` and
//! `early_cpu_to_node`.

use phys::{NodeId, PhysAddr};
use topology::Topology;

/// The node of the memory at `addr`, from the topology (`memory` is sorted by base).
pub fn node_of_addr(topo: &Topology, addr: PhysAddr) -> Option<NodeId> {
    let idx = topo.memory.partition_point(|r| r.base <= addr);
    let r = topo.memory.get(idx.checked_sub(1)?)?;
    (addr < r.base.saturating_add(r.size))
        .then_some(r.node)
        .flatten()
}

/// `first_online_node` after `parse_numa_properties`: the lowest node with memory or a
/// present CPU (node 0 when there is none, as `setup_nonnuma` makes it).
pub fn first_online_node(topo: &Topology) -> NodeId {
    topo.memory
        .iter()
        .filter_map(|r| r.node)
        .chain(topo.cpus.iter().filter_map(|c| c.node))
        .min()
        .unwrap_or(NodeId::ZERO)
}

/// `early_cpu_to_node(cpu)` once `mem_topology_setup` has run (Linux 6.1
/// `numa_setup_cpu`): a present CPU gets its associativity node, or
/// `first_online_node` when that is missing or not a node of the machine; a possible
/// CPU that is not present is never entered in `numa_cpu_lookup_table`, so
/// `early_cpu_to_node` falls back to node 0.
pub fn early_cpu_to_node(topo: &Topology, cpu: u32) -> NodeId {
    match topo.cpus.get(cpu as usize) {
        Some(c) => match c.node {
            Some(n) if topo.nodes.iter().any(|x| x.id == n) || topo.nodes.is_empty() => n,
            _ => first_online_node(topo),
        },
        None => NodeId::ZERO,
    }
}
