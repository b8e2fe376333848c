//! Bad device trees: each yields an error naming the node path and property (or the
//! blob offset for framing errors), never a panic; and Linux's NUMA_NO_NODE mappings.

mod common;

use common::{blob, cells, guest, N};
use phys::{NodeId, PhysSize};
use topology::{parse_dtb, BlobError, DtbError, DtbOptions, PropProblem, Topology};

fn parse(root: &N) -> Result<Topology, DtbError> {
    parse_dtb(&blob(root, 0), &DtbOptions::default()).map(|r| r.topology)
}

/// Asserts a property error at `path`/`property` and returns its problem.
fn prop_err(root: &N, path: &str, property: &str) -> PropProblem {
    match parse(root) {
        Err(DtbError::Property {
            path: p,
            property: q,
            problem,
        }) => {
            assert_eq!((p.as_str(), q.as_str()), (path, property), "{problem}");
            let msg = DtbError::prop_for_test(&p, &q, problem.clone());
            assert!(msg.contains(path) && msg.contains(property), "{msg}");
            problem
        }
        other => panic!("expected an error at {path} {property}, got {other:?}"),
    }
}

trait ForTest {
    fn prop_for_test(p: &str, q: &str, problem: PropProblem) -> String;
}

impl ForTest for DtbError {
    fn prop_for_test(p: &str, q: &str, problem: PropProblem) -> String {
        DtbError::Property {
            path: p.into(),
            property: q.into(),
            problem,
        }
        .to_string()
    }
}

const CPU0: &str = "/cpus/PowerPC,POWER9@0";

#[test]
fn the_base_tree_is_good() {
    let t = parse(&guest()).unwrap();
    let nodes: Vec<_> = t.cpus.iter().map(|c| c.node.map(NodeId::get)).collect();
    assert_eq!(nodes, vec![Some(0), Some(0), Some(1), Some(1)]);
    let hw: Vec<_> = t.cpus.iter().map(|c| c.hw_id).collect();
    assert_eq!(hw, vec![0, 1, 8, 9]);
    assert_eq!(t.memory.len(), 2);
    assert_eq!(t.rma_size, PhysSize::new(4 << 30));
}

#[test]
fn truncated_blob() {
    let b = blob(&guest(), 0);
    for cut in [0, 3, 39, 40, b.len() / 2, b.len() - 1] {
        let e = parse_dtb(&b[..cut], &DtbOptions::default()).unwrap_err();
        assert!(
            matches!(
                e,
                DtbError::Blob(BlobError::TooShort { .. } | BlobError::Truncated { .. })
            ),
            "cut {cut}: {e}"
        );
    }
}

#[test]
fn every_prefix_and_byte_flip_is_handled() {
    // Small enough to try exhaustively: no input may panic.
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/crafted/drmem-v1.dtb"
    ))
    .unwrap();
    for cut in 0..fixture.len() {
        let _ = parse_dtb(&fixture[..cut], &DtbOptions::default());
    }
    for i in 0..fixture.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = fixture.clone();
            b[i] ^= x;
            let _ = parse_dtb(&b, &DtbOptions::default());
        }
    }
}

#[test]
fn wrong_magic() {
    let mut b = blob(&guest(), 0);
    b[0] = 0xfe;
    let e = parse_dtb(&b, &DtbOptions::default()).unwrap_err();
    assert_eq!(
        e,
        DtbError::Blob(BlobError::BadMagic { found: 0xfe0d_feed })
    );
    assert!(e.to_string().contains("magic"));
}

#[test]
fn header_blocks_outside_the_blob() {
    let mut b = blob(&guest(), 0);
    // size_dt_struct far past the end.
    b[36..40].copy_from_slice(&0x00ff_0000u32.to_be_bytes());
    let e = parse_dtb(&b, &DtbOptions::default()).unwrap_err();
    assert!(matches!(
        e,
        DtbError::Blob(BlobError::BlockOutOfBounds {
            block: "structure",
            ..
        })
    ));
}

#[test]
fn property_value_past_the_structure_block() {
    let mut b = blob(&guest(), 0);
    // Structure block at 56: root FDT_BEGIN_NODE (56), empty name padded (60), first
    // property token (64), its length (68).
    assert_eq!(&b[64..68], &3u32.to_be_bytes());
    b[68..72].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
    let e = parse_dtb(&b, &DtbOptions::default()).unwrap_err();
    assert!(
        matches!(e, DtbError::Blob(BlobError::Structure { offset: 8, .. })),
        "{e}"
    );
    assert!(e.to_string().contains("(inside /)"), "{e}");
}

#[test]
fn property_of_the_wrong_length() {
    let mut t = guest();
    t.set(
        "cpus/PowerPC,POWER9@0",
        "ibm,associativity",
        vec![0, 0, 0, 5, 0],
    );
    let p = prop_err(&t, CPU0, "ibm,associativity");
    assert!(matches!(p, PropProblem::WrongLength { len: 5, .. }));

    let mut t = guest();
    t.set("", "#address-cells", vec![0, 2]);
    assert!(matches!(
        prop_err(&t, "/", "#address-cells"),
        PropProblem::WrongLength { len: 2, .. }
    ));

    let mut t = guest();
    t.set("memory@0", "reg", cells(&[0, 0, 1]));
    assert!(matches!(
        prop_err(&t, "/memory@0", "reg"),
        PropProblem::WrongLength { len: 12, .. }
    ));

    let mut t = guest();
    t.set(
        "cpus/PowerPC,POWER9@0",
        "ibm,ppc-interrupt-server#s",
        vec![],
    );
    prop_err(&t, CPU0, "ibm,ppc-interrupt-server#s");
}

#[test]
fn cell_count_larger_than_the_property() {
    let mut t = guest();
    t.set(
        "cpus/PowerPC,POWER9@0",
        "ibm,associativity",
        cells(&[9, 0, 0]),
    );
    assert_eq!(
        prop_err(&t, CPU0, "ibm,associativity"),
        PropProblem::CountTooLarge { count: 9, room: 2 }
    );

    let mut t = guest();
    t.set("memory@0", "ibm,associativity", cells(&[0xffff_ffff]));
    prop_err(&t, "/memory@0", "ibm,associativity");
}

#[test]
fn phandle_cycle() {
    let mut t = guest();
    t.set("cpus/PowerPC,POWER9@0", "l2-cache", cells(&[0x10]));
    let cpus = t.at("cpus");
    cpus.children.push(
        N::new("l2-cache@10")
            .p("phandle", cells(&[0x10]))
            .p("next-level-cache", cells(&[0x11])),
    );
    cpus.children.push(
        N::new("l3-cache@11")
            .p("phandle", cells(&[0x11]))
            .p("next-level-cache", cells(&[0x10])),
    );
    assert_eq!(
        prop_err(&t, "/cpus/l3-cache@11", "next-level-cache"),
        PropProblem::PhandleCycle { phandle: 0x10 }
    );

    // A cache pointing back at the CPU itself.
    let mut t = guest();
    t.set("cpus/PowerPC,POWER9@0", "l2-cache", cells(&[0x10]));
    t.set("cpus/PowerPC,POWER9@0", "phandle", cells(&[0x20]));
    t.at("cpus").children.push(
        N::new("l2-cache@10")
            .p("phandle", cells(&[0x10]))
            .p("next-level-cache", cells(&[0x20])),
    );
    prop_err(&t, "/cpus/l2-cache@10", "next-level-cache");

    // A chain that ends (dangling phandle) is fine, as in Linux.
    let mut t = guest();
    t.set("cpus/PowerPC,POWER9@0", "l2-cache", cells(&[0x99]));
    parse(&t).unwrap();
}

#[test]
fn absurd_sizes() {
    let mut t = guest();
    t.set("memory@0", "reg", cells(&[0xffff_ffff, 0, 2, 0]));
    assert_eq!(prop_err(&t, "/memory@0", "reg"), PropProblem::Overflow);

    let mut t = guest();
    t.set("", "#address-cells", cells(&[3]));
    assert_eq!(
        prop_err(&t, "/", "#address-cells"),
        PropProblem::TooManyCells { cells: 3 }
    );

    // DR memory: huge v2 run, huge v1 count, huge lookup arrays.
    let drmem = |t: &mut N, prop: &str, v: Vec<u8>| {
        t.children.push(
            N::new("ibm,dynamic-reconfiguration-memory")
                .p("ibm,lmb-size", cells(&[0, 0x1000_0000]))
                .p(prop, v),
        );
    };
    let mut t = guest();
    drmem(
        &mut t,
        "ibm,dynamic-memory-v2",
        cells(&[1, 0xffff_ffff, 2, 0, 0, 0, 8]),
    );
    assert!(matches!(
        prop_err(
            &t,
            "/ibm,dynamic-reconfiguration-memory",
            "ibm,dynamic-memory-v2"
        ),
        PropProblem::Invalid(_)
    ));
    let mut t = guest();
    drmem(
        &mut t,
        "ibm,dynamic-memory-v2",
        cells(&[1, 0xffff_ffff, 0xffff_ffff, 0, 0, 0, 8]),
    );
    assert_eq!(
        prop_err(
            &t,
            "/ibm,dynamic-reconfiguration-memory",
            "ibm,dynamic-memory-v2"
        ),
        PropProblem::Overflow
    );
    let mut t = guest();
    t.set("memory@100000000", "reg", cells(&[0x10_0000, 0, 0, 0x1000]));
    assert!(matches!(
        prop_err(&t, "/memory@100000000", "reg"),
        PropProblem::Invalid(_)
    ));
    let mut t = guest();
    drmem(&mut t, "ibm,dynamic-memory", cells(&[0xffff_ffff, 0, 2, 0]));
    assert!(matches!(
        prop_err(
            &t,
            "/ibm,dynamic-reconfiguration-memory",
            "ibm,dynamic-memory"
        ),
        PropProblem::CountTooLarge {
            count: 0xffff_ffff,
            room: 0
        }
    ));
    let mut t = guest();
    drmem(&mut t, "ibm,dynamic-memory-v2", cells(&[0]));
    t.set(
        "ibm,dynamic-reconfiguration-memory",
        "ibm,associativity-lookup-arrays",
        cells(&[0xffff_ffff, 0xffff_ffff, 0]),
    );
    prop_err(
        &t,
        "/ibm,dynamic-reconfiguration-memory",
        "ibm,associativity-lookup-arrays",
    );
}

#[test]
fn deep_nesting_is_refused() {
    let mut deep = N::new("n");
    for _ in 0..100 {
        deep = N::new("n").c(deep);
    }
    let t = guest().c(deep);
    let e = parse(&t).unwrap_err();
    assert!(
        matches!(e, DtbError::Blob(BlobError::Structure { .. })),
        "{e}"
    );
}

#[test]
fn reference_point_zero_is_an_error() {
    let mut t = guest();
    t.set("rtas", "ibm,associativity-reference-points", cells(&[4, 0]));
    prop_err(&t, "/rtas", "ibm,associativity-reference-points");
}

#[test]
fn invalid_node_ids_become_numa_no_node() {
    // __associativity_to_nid: 0xffff (POWER4 "invalid") and ids >= nr_node_ids
    // (MAX_NUMNODES this early) are NUMA_NO_NODE; so is an array shorter than the
    // primary index.
    for bad in [
        cells(&[5, 0, 0, 0, 0xffff, 0]),
        cells(&[5, 0, 0, 0, 256, 0]),
        cells(&[3, 0, 0, 0]),
    ] {
        let mut t = guest();
        t.set("cpus/PowerPC,POWER9@8", "ibm,associativity", bad);
        let topo = parse(&t).unwrap();
        assert_eq!(topo.cpus[2].node, None);
        assert_eq!(topo.cpus[3].node, None);
        // Linux's numa_setup_cpu falls back to the first online node.
        assert_eq!(topo.cpu_node(2), NodeId::new(0));
    }
    // Memory without ibm,associativity goes to node 0 (default_nid), not no-node.
    let mut t = guest();
    t.remove("memory@100000000", "ibm,associativity");
    let topo = parse(&t).unwrap();
    assert!(topo.memory.iter().all(|m| m.node == NodeId::new(0)));
}

#[test]
fn no_reference_points_disables_numa() {
    let mut t = guest();
    t.remove("rtas", "ibm,associativity-reference-points");
    let r = parse_dtb(&blob(&t, 0), &DtbOptions::default()).unwrap();
    assert_eq!(r.primary_domain_index, None);
    assert!(r.topology.cpus.iter().all(|c| c.node == NodeId::new(0)));
    assert_eq!(r.topology.nodes.len(), 1);
    assert_eq!(r.warnings.len(), 1);

    // A primary index with the top bit set is negative as Linux's int: disabled too.
    let mut t = guest();
    t.set(
        "rtas",
        "ibm,associativity-reference-points",
        cells(&[0x8000_0000, 1]),
    );
    let r = parse_dtb(&blob(&t, 0), &DtbOptions::default()).unwrap();
    assert_eq!(r.primary_domain_index, None);
}

#[test]
fn form2_tables() {
    let form2 = || {
        let mut t = guest();
        t.set(
            "chosen",
            "ibm,architecture-vec-5",
            vec![0, 0, 0, 0, 0, 0x20],
        );
        t.set("rtas", "ibm,associativity-reference-points", cells(&[4]));
        t
    };
    // Missing tables (Linux would dereference NULL).
    prop_err(&form2(), "/rtas", "ibm,numa-lookup-index-table");

    let mut t = form2();
    t.set("rtas", "ibm,numa-lookup-index-table", cells(&[2, 0, 1]));
    prop_err(&t, "/rtas", "ibm,numa-distance-table");

    let mut dist = cells(&[4]);
    dist.extend([10, 30, 30, 10]);
    t.set("rtas", "ibm,numa-distance-table", dist.clone());
    let topo = parse(&t).unwrap();
    assert_eq!(topo.distances, vec![vec![10, 30], vec![30, 10]]);

    // A domain id Linux would index its 256x256 table with out of bounds.
    let mut bad = t.clone();
    bad.set("rtas", "ibm,numa-lookup-index-table", cells(&[2, 0, 300]));
    prop_err(&bad, "/rtas", "ibm,numa-lookup-index-table");

    // Count larger than the table.
    let mut bad = t.clone();
    bad.set("rtas", "ibm,numa-lookup-index-table", cells(&[7, 0, 1]));
    assert_eq!(
        prop_err(&bad, "/rtas", "ibm,numa-lookup-index-table"),
        PropProblem::CountTooLarge { count: 7, room: 2 }
    );

    // A node in use that the table leaves out.
    let mut bad = t.clone();
    let mut d1 = cells(&[1]);
    d1.push(10);
    bad.set("rtas", "ibm,numa-lookup-index-table", cells(&[1, 0]));
    bad.set("rtas", "ibm,numa-distance-table", d1);
    assert_eq!(
        prop_err(&bad, "/rtas", "ibm,numa-lookup-index-table"),
        PropProblem::MissingNode { node: 1 }
    );

    // A distance table of the wrong size: Linux warns and uses 10/20.
    let mut odd = t.clone();
    let mut d3 = cells(&[3]);
    d3.extend([10, 30, 30]);
    odd.set("rtas", "ibm,numa-distance-table", d3);
    let r = parse_dtb(&blob(&odd, 0), &DtbOptions::default()).unwrap();
    assert_eq!(r.topology.distances, vec![vec![10, 20], vec![20, 10]]);
    assert_eq!(r.warnings.len(), 1);
}

#[test]
fn other_tree_level_errors() {
    // Two CPUs claiming one hardware thread.
    let mut t = guest();
    t.set(
        "cpus/PowerPC,POWER9@8",
        "ibm,ppc-interrupt-server#s",
        cells(&[1, 9]),
    );
    prop_err(&t, "/cpus/PowerPC,POWER9@8", "ibm,ppc-interrupt-server#s");

    // No CPUs, no memory.
    let mut t = guest();
    t.at("cpus").children.clear();
    assert_eq!(parse(&t).unwrap_err(), DtbError::NoCpus);
    let mut t = guest();
    t.children.retain(|c| !c.name.starts_with("memory"));
    assert_eq!(parse(&t).unwrap_err(), DtbError::NoMemory);

    // RMA: the lowest memory block must be at 0 on a hash LPAR.
    let mut t = guest();
    t.children.retain(|c| c.name != "memory@0");
    let e = parse(&t).unwrap_err();
    assert!(matches!(e, DtbError::Rma(_)), "{e}");
    let r = parse_dtb(
        &blob(&t, 0),
        &DtbOptions {
            rma_override: Some(PhysSize::new(1 << 28)),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.topology.rma_size, PhysSize::new(1 << 28));
}

#[test]
fn boot_cpu_is_found_by_header_thread_id() {
    let r = parse_dtb(&blob(&guest(), 9), &DtbOptions::default()).unwrap();
    assert_eq!(r.boot_cpu, Some(3));
}
