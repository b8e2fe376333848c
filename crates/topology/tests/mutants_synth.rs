//! The synthetic generator's documented contract at its edges, found by the `cargo
//! mutants` run over synth.rs (docs/MUTATION.md): the generator is SplitMix64 as
//! published, every node but 0 may be the one left without memory or CPUs, the limits
//! are inclusive, and distances follow chips of four node ids.

use std::collections::BTreeSet;

use phys::NodeId;
use topology::{synthetic, SynthError, SyntheticSpec, Topology};

/// SplitMix64 as in Vigna's reference `splitmix64.c`, written from its published
/// description for this test.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn node(id: u32) -> NodeId {
    NodeId::new(id).unwrap()
}

fn memoryless(t: &Topology) -> BTreeSet<u32> {
    t.nodes
        .iter()
        .filter(|n| t.memory_size_on(n.id).is_zero())
        .map(|n| n.id.get())
        .collect()
}

fn cpuless(t: &Topology) -> BTreeSet<u32> {
    t.nodes
        .iter()
        .filter(|n| t.cpus_on(n.id).next().is_none())
        .map(|n| n.id.get())
        .collect()
}

/// "A seed names one machine forever": the generator is SplitMix64, and a draw in
/// `0..n` is its output modulo `n`. With two nodes there is nothing to shuffle (node 1
/// is the only candidate for lacking anything), each node gets one core, and every
/// further core goes to node `draw % 2`: node 0's share is fixed by the parities of the
/// seed's first outputs.
#[test]
fn cores_are_spread_by_splitmix64_draws() {
    // The reference implementation's first outputs for seed 0.
    let mut check = SplitMix64(0);
    assert_eq!(
        [check.next(), check.next(), check.next()],
        [
            0xe220_a839_7b1d_cdaf,
            0x6e78_9e6a_a1b9_65f4,
            0x06c4_5d18_8009_454f
        ]
    );
    let extra = 63u32;
    for seed in [0, 1, 2, 3, 42, 0xdead_beef, u64::MAX] {
        let spec = SyntheticSpec {
            nodes: 2,
            cpus: 2 + extra,
            threads_per_core: 1,
            seed,
            ..Default::default()
        };
        let t = synthetic(&spec).unwrap();
        let mut rng = SplitMix64(seed);
        let even = (0..extra).filter(|_| rng.next() % 2 == 0).count();
        assert_eq!(t.cpus_on(node(0)).count(), 1 + even, "seed {seed}");
        assert_eq!(
            t.cpus_on(node(1)).count(),
            1 + extra as usize - even,
            "seed {seed}"
        );
    }
}

/// Which node lacks memory is drawn over all of nodes 1.. (a uniform shuffle): over
/// enough seeds each of them is the memoryless one at some point, node 0 never.
#[test]
fn every_node_but_0_can_be_the_memoryless_one() {
    let mut seen = BTreeSet::new();
    let mut seen_cpuless = BTreeSet::new();
    for seed in 0..64 {
        let spec = SyntheticSpec {
            nodes: 4,
            cpus: 16,
            threads_per_core: 4,
            memoryless_nodes: 1,
            seed,
            ..Default::default()
        };
        seen.extend(memoryless(&synthetic(&spec).unwrap()));
        let spec = SyntheticSpec {
            memoryless_nodes: 0,
            cpuless_nodes: 1,
            ..spec
        };
        seen_cpuless.extend(cpuless(&synthetic(&spec).unwrap()));
    }
    assert_eq!(seen, BTreeSet::from([1, 2, 3]));
    assert_eq!(seen_cpuless, BTreeSet::from([1, 2, 3]));
}

/// Memoryless plus CPU-less nodes may be all the nodes but 0.
#[test]
fn all_nodes_but_0_may_lack_memory_or_cpus() {
    let spec = SyntheticSpec {
        nodes: 3,
        memoryless_nodes: 1,
        cpuless_nodes: 1,
        ..Default::default()
    };
    let t = synthetic(&spec).unwrap();
    let (ml, cl) = (memoryless(&t), cpuless(&t));
    assert_eq!((ml.len(), cl.len()), (1, 1));
    assert_eq!(ml.union(&cl).copied().collect::<Vec<_>>(), [1, 2]);
    assert!(synthetic(&SyntheticSpec {
        cpuless_nodes: 2,
        ..spec
    })
    .is_err());
}

/// One core for each node with CPUs is enough.
#[test]
fn one_core_per_cpu_node_is_enough() {
    let spec = SyntheticSpec {
        nodes: 4,
        cpus: 8,
        threads_per_core: 2,
        ..Default::default()
    };
    let t = synthetic(&spec).unwrap();
    for id in 0..4 {
        assert_eq!(t.cpus_on(node(id)).count(), 2, "node {id}");
    }
}

/// "Distances are 10 local, 20 within a group of four consecutive node ids (a chip),
/// 40 otherwise."
#[test]
fn distances_follow_chips_of_four() {
    let spec = SyntheticSpec {
        nodes: 10,
        cpus: 40,
        ..Default::default()
    };
    let t = synthetic(&spec).unwrap();
    let chip = |id: usize| id / 4;
    for (a, row) in t.distances.iter().enumerate() {
        for (b, &d) in row.iter().enumerate() {
            let want = if a == b {
                10
            } else if chip(a) == chip(b) {
                20
            } else {
                40
            };
            assert_eq!(d, want, "{a} -> {b}");
        }
    }
    assert_eq!(t.distances.len(), 10);
}

/// A CPU count that is zero or not whole cores is refused, whatever else would fit,
/// and the error names the parameter.
#[test]
fn cpus_must_be_whole_cores() {
    for cpus in [0, 6] {
        let spec = SyntheticSpec {
            nodes: 1,
            cpus,
            threads_per_core: 4,
            ..Default::default()
        };
        let e = synthetic(&spec).unwrap_err();
        assert!(matches!(e, SynthError::Parameter(_)));
        let msg = e.to_string();
        assert!(
            msg.contains("cpus") && msg.contains("threads_per_core"),
            "{cpus}: {msg:?}"
        );
    }
    let e = synthetic(&SyntheticSpec {
        nodes: 0,
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("nodes"), "{e}");
}
