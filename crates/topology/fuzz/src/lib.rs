//! The bodies of the topology fuzz targets, as functions, so that the seed corpus also
//! runs as an ordinary test (`tests/seeds.rs`) on stable Rust.

use topology::rma::Mmu;
use topology::{parse_dtb, AffinityForm, DtbOptions, Topology};

/// Invariants every accepted topology must hold; a violation is a bug worth a crash.
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

/// `dtb`: any byte string as a device tree blob; an error or a well-formed topology,
/// never a panic. The options vary with the input length so that seeds (real DTBs)
/// stay valid blobs while FORM0/FORM2 and radix paths are exercised too.
pub fn dtb(data: &[u8]) {
    let opts = match data.len() % 5 {
        0 => DtbOptions::default(),
        1 => DtbOptions {
            affinity: Some(AffinityForm::Form0),
            ..Default::default()
        },
        2 => DtbOptions {
            affinity: Some(AffinityForm::Form2),
            ..Default::default()
        },
        3 => DtbOptions {
            mmu: Mmu::Radix,
            arch_300: Some(false),
            ..Default::default()
        },
        _ => DtbOptions {
            affinity: Some(AffinityForm::Form1),
            ..Default::default()
        },
    };
    match parse_dtb(data, &opts) {
        Ok(r) => {
            check(&r.topology);
            let _ = r.facts.possible_cpus(2048);
        }
        // Display must not panic either.
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // The size models, the booted-tree prediction and the block-size probe take the
    // same untrusted input, for every kernel build.
    for build in [
        topology::OfBuild::DEBIAN_6_1_64K,
        topology::OfBuild::DEBIAN_6_12_4K,
    ] {
        let _ = topology::unflatten_allocations_for(data, &build);
        if let Err(e) = topology::predict_booted_for(data, &build) {
            let _ = e.to_string();
        }
    }
    let _ = topology::probe_memory_block_size(data);
}

/// `toml`: any text as a TOML topology; an error or a well-formed topology, never a
/// panic.
pub fn toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match topology::topology_from_toml(text) {
        Ok(t) => check(&t),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
