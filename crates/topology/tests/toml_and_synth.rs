//! The hand-written TOML format and the synthetic generator.

use phys::{NodeId, PhysAddr, PhysSize};
use topology::{synthetic, topology_from_toml, SyntheticSpec, TomlError};

fn n(id: u32) -> NodeId {
    NodeId::new(id).unwrap()
}

#[test]
fn toml_full_example() {
    let t = topology_from_toml(
        r#"
        hypervisor_mode = false
        distances = [[10, 20, 40], [20, 10, 40], [40, 40, 10]]

        [[nodes]]
        id = 0
        memory = ["0x0-0x80000000"]
        cpus = "0-3"
        hw_ids = "0x20-0x23"

        [[nodes]]
        id = 1
        cpus = "4-7"          # memoryless

        [[nodes]]
        id = 4
        memory = ["0x80000000-0xc0000000", "0x100000000-0x140000000"]  # CPU-less
        "#,
    )
    .unwrap();
    assert_eq!(t.cpus.len(), 8);
    assert_eq!(t.cpus[0].hw_id, 0x20);
    assert_eq!(t.cpus[5].hw_id, 5);
    assert_eq!(t.cpus[5].node, Some(n(1)));
    let ids: Vec<_> = t.nodes.iter().map(|x| x.id.get()).collect();
    assert_eq!(ids, vec![0, 1, 4]);
    assert_eq!(t.memory.len(), 3);
    assert_eq!(t.memory_size_on(n(4)), PhysSize::new(2 << 30));
    assert_eq!(t.distance(n(1), n(4)), Some(40));
    // Linux's rule: first block (0..2 GiB) under the 1 TiB clamp.
    assert_eq!(t.rma_size, PhysSize::new(2 << 30));
}

#[test]
fn toml_rma_override_and_hypervisor_mode() {
    let t = topology_from_toml(
        "rma_size = \"0x10000000\"\n[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0-0x40000000\"]",
    )
    .unwrap();
    assert_eq!(t.rma_limit(), PhysAddr::new(0x1000_0000));
    let t = topology_from_toml(
        "hypervisor_mode = true\n[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0-0x40000000\"]",
    )
    .unwrap();
    assert!(t.hypervisor_mode);
    assert_eq!(t.rma_size, PhysSize::MAX);
    let t = topology_from_toml(
        "arch_300 = false\n[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0-0x80000000\"]",
    )
    .unwrap();
    assert_eq!(t.rma_size, PhysSize::new(1 << 30));
}

fn field_err(text: &str) -> (String, String) {
    match topology_from_toml(text) {
        Err(TomlError::Field { at, why }) => (at, why),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn toml_errors_name_the_field() {
    let cases = [
        ("[[nodes]]\nid = 300\ncpus = \"0\"", "nodes[0].id"),
        (
            "[[nodes]]\nid = 0\ncpus = \"0\"\n[[nodes]]\nid = 0\ncpus=\"1\"",
            "nodes[1].id",
        ),
        ("[[nodes]]\nid = 0\ncpus = \"0-2,2\"", "nodes[0].cpus"),
        ("[[nodes]]\nid = 0\ncpus = \"0-4294967295\"", "nodes[0].cpus"),
        ("[[nodes]]\nid = 0\ncpus = \"3-1\"", "nodes[0].cpus"),
        ("[[nodes]]\nid = 0\ncpus = \"1\"", "nodes[].cpus"),
        (
            "[[nodes]]\nid = 0\ncpus = \"0-1\"\nhw_ids = \"5\"",
            "nodes[0].hw_ids",
        ),
        (
            "[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0x1000-0x1000\"]",
            "nodes[0].memory[0]",
        ),
        (
            "[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0-0x2000\", \"0x1000-0x3000\"]",
            "nodes[0].memory[1]",
        ),
        (
            "distances = [[10]]\n[[nodes]]\nid = 0\ncpus = \"0\"\nmemory=[\"0-0x1000\"]\n[[nodes]]\nid = 1",
            "distances",
        ),
        (
            "[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0x1000-0x2000\"]",
            "rma_size",
        ),
        ("nodes = []", "nodes"),
    ];
    for (text, at) in cases {
        let (got, why) = field_err(text);
        assert_eq!(got, at, "{text}: {why}");
        assert!(!why.is_empty());
    }
}

#[test]
fn toml_is_as_strict_as_a_device_tree() {
    let two = "[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0-0x40000000\"]\n[[nodes]]\nid = 1\n";
    let cases = [
        // No CPU at all (a tree without CPUs is DtbError::NoCpus).
        (
            "[[nodes]]\nid = 0\nmemory = [\"0-0x40000000\"]".to_string(),
            "nodes[].cpus",
        ),
        // A 1x1 matrix for two nodes.
        (format!("distances = [[5]]\n{two}"), "distances"),
        // LOCAL_DISTANCE on the diagonal, more than it elsewhere.
        (format!("distances = [[10, 20], [20, 5]]\n{two}"), "distances[1][1]"),
        (format!("distances = [[10, 10], [20, 10]]\n{two}"), "distances[0][1]"),
        (format!("distances = [[10, 20], [0, 10]]\n{two}"), "distances[1][0]"),
        // Memory ending above 2^51 (MAX_PHYSMEM_BITS), as the DTB reader refuses.
        (
            "[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0-0x40000000\", \"0x7ffffffff0000-0x8000000010000\"]"
                .to_string(),
            "nodes[0].memory[1]",
        ),
        // Ids past the CPU cap, counted without overflow.
        (
            "[[nodes]]\nid = 0\ncpus = \"0-8192\"".to_string(),
            "nodes[0].cpus",
        ),
        (
            "[[nodes]]\nid = 0\ncpus = \"0\"\nhw_ids = \"0-4294967295\"".to_string(),
            "nodes[0].hw_ids",
        ),
    ];
    for (text, at) in cases {
        let (got, why) = field_err(&text);
        assert_eq!(got, at, "{text}: {why}");
    }
    // The limits themselves are fine: memory ending exactly at 2^51, asymmetric
    // distances, 8192 CPUs.
    let t = topology_from_toml(&format!(
        "distances = [[10, 22], [44, 10]]\n{two}cpus = \"1-8191\"\n\
         memory = [\"0x7fffff0000000-0x8000000000000\"]\n"
    ))
    .unwrap();
    assert_eq!(t.cpus.len(), 8192);
    assert_eq!(t.distance(n(1), n(0)), Some(44));
    assert_eq!(
        t.memory.last().map(|m| m.base.as_u64() + m.size.as_u64()),
        Some(1 << 51)
    );
}

#[test]
fn toml_rma_size_must_fit_the_first_block() {
    let node =
        "[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0-0x40000000\", \"0x40000000-0x80000000\"]\n";
    for rma in ["0", "\"0\"", "\"0x40000001\"", "0x80000000"] {
        let (at, why) = field_err(&format!("rma_size = {rma}\n{node}"));
        assert_eq!(at, "rma_size", "{rma}: {why}");
    }
    // The whole lowest range is the most, even with a contiguous one after it
    // (Linux's ppc64_rma_size is at most the first memory block).
    let t = topology_from_toml(&format!("rma_size = \"0x40000000\"\n{node}")).unwrap();
    assert_eq!(t.rma_size, PhysSize::new(1 << 30));
    // Memoryless everywhere: nothing to hold an RMA.
    let (at, _) = field_err("rma_size = 4096\n[[nodes]]\nid = 0\ncpus = \"0\"\n");
    assert_eq!(at, "rma_size");
}

#[test]
fn toml_syntax_errors_name_place_and_field() {
    for (text, want) in [
        (
            "[[nodes]]\nid = 0\ncpus = \"0\"\n[[nodes]]\nid = \"one\"\n",
            "line 5, column 6: nodes[1].id: invalid type",
        ),
        (
            "rma_size = -1\n[[nodes]]\nid = 0\ncpus = \"0\"\n",
            "line 1, column 12: rma_size: ",
        ),
        (
            "hypervisor_mode = 1\n",
            "line 1, column 19: hypervisor_mode: ",
        ),
        (
            "page_size = 3\n",
            "line 1, column 1: page_size: unknown field `page_size`",
        ),
        (
            "[[nodes]]\nid = 0\nbogus = 1\n",
            "line 3, column 1: nodes[0].bogus: ",
        ),
    ] {
        let e = topology_from_toml(text).unwrap_err();
        let TomlError::Syntax(msg) = &e else {
            panic!("{text}: {e}");
        };
        assert!(msg.starts_with(want), "{text}: {msg}");
        assert!(!msg.contains('\n') && !msg.contains('^'), "{msg}");
    }
}

#[test]
fn toml_syntax_errors() {
    for text in [
        "[[nodes]\nid=0",
        "[[nodes]]\nid = -1",
        "[[nodes]]\nid = 0\nbogus = 1",
    ] {
        let e = topology_from_toml(text).unwrap_err();
        assert!(matches!(e, TomlError::Syntax(_)), "{text}: {e}");
    }
}

#[test]
fn synthetic_large_machine() {
    let spec = SyntheticSpec {
        nodes: 256,
        cpus: 8192,
        threads_per_core: 8,
        memory_per_node: PhysSize::new(1 << 30),
        memoryless_nodes: 30,
        cpuless_nodes: 40,
        seed: 42,
        hypervisor_mode: false,
    };
    let t = synthetic(&spec).unwrap();
    assert_eq!(t.cpus.len(), 8192);
    assert_eq!(t.nodes.len(), 256);
    assert!(t
        .cpus
        .iter()
        .enumerate()
        .all(|(i, c)| c.logical_id == i as u32));
    let memless = t
        .nodes
        .iter()
        .filter(|x| t.memory_size_on(x.id).is_zero())
        .count();
    let cpuless = t
        .nodes
        .iter()
        .filter(|x| t.cpus_on(x.id).next().is_none())
        .count();
    assert_eq!((memless, cpuless), (30, 40));
    // Node 0 keeps both; a core's threads share a node.
    assert!(t.memory_size_on(n(0)).as_u64() > 0 && t.cpus_on(n(0)).count() > 0);
    for core in t.cpus.chunks(8) {
        assert!(core.iter().all(|c| c.node == core[0].node));
    }
    assert_eq!(t.memory.len(), 226);
    assert_eq!(t.rma_size, PhysSize::new(1 << 30));
    // Deterministic for a seed, different for another.
    assert_eq!(t, synthetic(&spec).unwrap());
    let other = synthetic(&SyntheticSpec { seed: 43, ..spec }).unwrap();
    assert_ne!(t, other);
}

#[test]
fn synthetic_rejects_bad_parameters() {
    let d = SyntheticSpec::default();
    for bad in [
        SyntheticSpec { nodes: 0, ..d },
        SyntheticSpec { nodes: 257, ..d },
        SyntheticSpec { cpus: 8200, ..d },
        SyntheticSpec { cpus: 6, ..d },
        SyntheticSpec {
            threads_per_core: 3,
            ..d
        },
        SyntheticSpec {
            memoryless_nodes: 2,
            ..d
        },
        SyntheticSpec {
            memory_per_node: PhysSize::ZERO,
            ..d
        },
        SyntheticSpec {
            nodes: 8,
            cpus: 16,
            ..d
        }, // 4 cores for 8 CPU nodes
        SyntheticSpec {
            nodes: 256,
            memory_per_node: PhysSize::new(1 << 60),
            ..d
        },
    ] {
        assert!(synthetic(&bad).is_err(), "{bad:?}");
    }
}

proptest::proptest! {
    #[test]
    fn synthetic_invariants(nodes in 1u32..=64, cores in 1u32..=256, tpc in 0u32..4,
                            ml in 0u32..32, cl in 0u32..32, seed: u64) {
        let tpc = 1 << tpc;
        let spec = SyntheticSpec { nodes, cpus: cores * tpc, threads_per_core: tpc,
            memoryless_nodes: ml, cpuless_nodes: cl, seed, ..Default::default() };
        if let Ok(t) = synthetic(&spec) {
            proptest::prop_assert_eq!(t.nodes.len(), nodes as usize);
            proptest::prop_assert_eq!(t.distances.len(), nodes as usize);
            proptest::prop_assert!(t.cpus.iter().all(|c| c.node.is_some()));
            let mut hw: Vec<_> = t.cpus.iter().map(|c| c.hw_id).collect();
            hw.sort_unstable();
            hw.dedup();
            proptest::prop_assert_eq!(hw.len(), t.cpus.len());
            for w in t.memory.windows(2) {
                proptest::prop_assert!(w[0].base.checked_add(w[0].size) == Some(w[1].base));
            }
        }
    }

    #[test]
    fn toml_never_panics(s in "\\PC{0,200}") {
        let _ = topology_from_toml(&s);
    }
}

#[test]
fn toml_describing_the_qemu_two_node_guest_equals_its_dtb() {
    // The same machine as fixtures/qemu/two-node.cmd, written by hand.
    let toml = topology_from_toml(
        r#"
        [[nodes]]
        id = 0
        cpus = "0-1"
        memory = ["0x0-0x20000000"]
        [[nodes]]
        id = 1
        cpus = "2-3"
        memory = ["0x20000000-0x40000000"]
        "#,
    )
    .unwrap();
    let blob = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/qemu/two-node.dtb"
    ))
    .unwrap();
    assert_eq!(topology::topology_from_dtb(&blob).unwrap(), toml);
}
