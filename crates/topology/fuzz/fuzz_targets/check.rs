// Invariants every accepted topology must hold; a violation is a bug worth a crash.
use topology::Topology;

pub fn check(t: &Topology) {
    for (i, c) in t.cpus.iter().enumerate() {
        assert_eq!(c.logical_id as usize, i, "logical ids must be dense");
    }
    for m in &t.memory {
        assert!(!m.size.is_zero(), "empty memory range");
        assert!(m.base.checked_add(m.size).is_some(), "range wraps");
    }
    for w in t.memory.windows(2) {
        let end = w[0].base.checked_add(w[0].size).unwrap();
        assert!(end <= w[1].base, "memory not sorted or overlapping");
    }
    for w in t.nodes.windows(2) {
        assert!(w[0].id < w[1].id, "nodes not sorted and unique");
    }
    assert_eq!(t.distances.len(), t.nodes.len());
    assert!(t.distances.iter().all(|r| r.len() == t.nodes.len()));
    for c in &t.cpus {
        if let Some(n) = c.node {
            assert!(t.node_index(n).is_some(), "CPU on an unlisted node");
        }
        let _ = t.cpu_node(c.logical_id);
    }
    for m in &t.memory {
        if let Some(n) = m.node {
            assert!(t.node_index(n).is_some(), "memory on an unlisted node");
        }
    }
}
