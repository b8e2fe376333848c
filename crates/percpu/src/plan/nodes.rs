//! Which node Linux asks memblock for: the node of an address, `first_online_node` and
//! `early_cpu_to_node`.

use phys::{NodeId, PhysAddr};
use topology::Topology;

/// The node of the memory at `addr`, from the topology (`memory` is sorted by base).
pub fn node_of_addr(topo: &Topology, addr: PhysAddr) -> Option<NodeId> {
    let idx = topo.memory.partition_point(|r| r.base <= addr);
    node_if_inside(topo, idx.checked_sub(1)?, addr)
}

/// The node of memory range `i` if `addr` lies inside it (`None` too for a range
/// without a node).
fn node_if_inside(topo: &Topology, i: usize, addr: PhysAddr) -> Option<NodeId> {
    let r = topo.memory.get(i)?;
    (addr < r.base.saturating_add(r.size))
        .then_some(r.node)
        .flatten()
}

/// [`node_of_addr`], trying the memory range at `hint` (the range of an earlier
/// answer) before the binary search over the ranges, and keeping the range found
/// there: consecutive allocations mostly land in one node's memory, and at 8192 CPUs
/// the search missed the cache at each of its steps.
pub(crate) fn node_of_addr_near(
    topo: &Topology,
    addr: PhysAddr,
    hint: &mut usize,
) -> Option<NodeId> {
    let memory = &topo.memory;
    // The range `node_of_addr` reads: the last one starting at or below `addr`.
    let last_at_or_below = |i: usize| {
        memory.get(i).is_some_and(|r| r.base <= addr)
            && memory.get(i + 1).is_none_or(|r| r.base > addr)
    };
    if !last_at_or_below(*hint) {
        *hint = memory.partition_point(|r| r.base <= addr).checked_sub(1)?;
    }
    node_if_inside(topo, *hint, addr)
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
    cpu_node_rule(
        topo,
        cpu,
        |n| topo.nodes.iter().any(|x| x.id == n),
        || first_online_node(topo),
    )
}

/// The rule of [`early_cpu_to_node`], with the machine's node set and
/// `first_online_node` supplied by the caller (so the planner can answer from tables).
fn cpu_node_rule(
    topo: &Topology,
    cpu: u32,
    is_node: impl Fn(NodeId) -> bool,
    first_online: impl FnOnce() -> NodeId,
) -> NodeId {
    match topo.cpus.get(cpu as usize) {
        Some(c) => match c.node {
            Some(n) if topo.nodes.is_empty() || is_node(n) => n,
            _ => first_online(),
        },
        None => NodeId::ZERO,
    }
}

/// Number of node-id slots: every valid [`NodeId`].
const SLOTS: usize = NodeId::MAX_NUMNODES as usize;

/// The node facts the planner asks for on every allocation, computed once per plan:
/// each CPU's [`early_cpu_to_node`] and each node's lowest memory address. Asking the
/// topology each time costs a scan of every node per allocation, which dominated
/// plans of thousands of CPUs.
#[derive(Clone, Debug)]
pub(crate) struct NodeTable {
    cpu_node: alloc::vec::Vec<NodeId>,
    /// Per node id: the lowest base of its memory ranges.
    lowest_memory: alloc::vec::Vec<Option<PhysAddr>>,
}

impl NodeTable {
    pub(crate) fn new(topo: &Topology) -> Self {
        let mut is_node = alloc::vec![false; SLOTS];
        for n in &topo.nodes {
            if let Some(slot) = is_node.get_mut(n.id.get() as usize) {
                *slot = true;
            }
        }
        let first = first_online_node(topo);
        let cpu_node = (0..topo.cpus.len())
            .map(|cpu| {
                let cpu = u32::try_from(cpu).unwrap_or(u32::MAX);
                cpu_node_rule(
                    topo,
                    cpu,
                    |n| is_node.get(n.get() as usize).copied().unwrap_or(false),
                    || first,
                )
            })
            .collect();
        let mut lowest_memory = alloc::vec![None; SLOTS];
        for r in &topo.memory {
            if let Some(slot) = r.node.and_then(|n| lowest_memory.get_mut(n.get() as usize)) {
                let low: &mut Option<PhysAddr> = slot;
                *low = Some(low.map_or(r.base, |b| b.min(r.base)));
            }
        }
        Self {
            cpu_node,
            lowest_memory,
        }
    }

    /// [`early_cpu_to_node`] of `cpu`.
    pub(crate) fn cpu_node(&self, cpu: u32) -> NodeId {
        self.cpu_node
            .get(cpu as usize)
            .copied()
            .unwrap_or(NodeId::ZERO)
    }

    /// The lowest address of `nid`'s memory, `None` for a node without memory.
    pub(crate) fn lowest_memory(&self, nid: NodeId) -> Option<PhysAddr> {
        self.lowest_memory
            .get(nid.get() as usize)
            .copied()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topology::{synthetic, SyntheticSpec};

    /// The table answers what the topology-scanning functions answer, on machines with
    /// memoryless nodes, CPUs without a node and CPUs that are not present.
    #[test]
    fn the_table_agrees_with_the_rules() {
        for seed in 0..20 {
            let mut topo = synthetic(&SyntheticSpec {
                nodes: 1 + seed % 4,
                cpus: 16 * (1 + seed % 4),
                threads_per_core: 4,
                memoryless_nodes: u32::from(seed % 4 > 1),
                seed: u64::from(seed),
                ..Default::default()
            })
            .unwrap();
            if let Some(c) = topo.cpus.get_mut(seed as usize % 5) {
                c.node = None;
            }
            if let Some(c) = topo.cpus.get_mut(1 + seed as usize % 3) {
                c.node = NodeId::new(200);
            }
            let t = NodeTable::new(&topo);
            for cpu in 0..topo.cpus.len() as u32 + 3 {
                assert_eq!(
                    t.cpu_node(cpu),
                    early_cpu_to_node(&topo, cpu),
                    "{seed}/{cpu}"
                );
            }
            for id in 0..NodeId::MAX_NUMNODES {
                let n = NodeId::new(id).unwrap();
                let want = topo
                    .memory
                    .iter()
                    .filter(|r| r.node == Some(n))
                    .map(|r| r.base)
                    .min();
                assert_eq!(t.lowest_memory(n), want, "{seed}/{id}");
            }
        }
    }

    /// The hinted lookup answers what the binary search answers, from any hint (in
    /// range or not, right or stale), at every range's ends and between ranges.
    #[test]
    fn a_hinted_node_lookup_agrees_with_the_search() {
        for seed in 0..8u32 {
            let mut topo = synthetic(&SyntheticSpec {
                nodes: 2 + seed % 4,
                cpus: 32,
                threads_per_core: 4,
                seed: u64::from(seed),
                ..Default::default()
            })
            .unwrap();
            // Holes between ranges and memory without a node.
            for r in topo.memory.iter_mut().skip(1).step_by(2) {
                r.size = phys::PhysSize::new(r.size.as_u64() / 2);
            }
            if let Some(r) = topo.memory.last_mut() {
                r.node = None;
            }
            let mut probes = alloc::vec![PhysAddr::ZERO, PhysAddr::new(u64::MAX)];
            for r in &topo.memory {
                let (b, e) = (r.base.as_u64(), r.base.as_u64() + r.size.as_u64());
                probes.extend([b.saturating_sub(1), b, b + 1, e - 1, e, e + 1].map(PhysAddr::new));
            }
            let mut carried = 0;
            for (i, &addr) in probes.iter().enumerate() {
                let want = node_of_addr(&topo, addr);
                assert_eq!(node_of_addr_near(&topo, addr, &mut carried), want, "{addr}");
                for start in [0, i % (topo.memory.len() + 2), usize::MAX] {
                    let mut hint = start;
                    assert_eq!(node_of_addr_near(&topo, addr, &mut hint), want, "{addr}");
                }
            }
            assert!(topo.memory.len() > 1, "seed {seed}: one range");
        }
    }
}
