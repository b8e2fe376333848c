//! Crafted trees for rules where Linux 6.1 accepts what looks odd: overlapping memory
//! descriptions, CPUs that are not present, nodes only named in lookup tables, the
//! memory-node scans, a missing `ibm,lmb-size`, FORM2 table holders, and the affinity
//! form from `ibm,architecture-vec-5`. Every expected value is worked out from the
//! Linux source named in the comment, not taken from the crate's output.

mod common;

use common::{blob, cells, guest, string, N};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::{parse_dtb, AffinityForm, DtbError, DtbOptions, DtbReport, PropProblem};

const M: u64 = 1 << 20;
const G: u64 = 1 << 30;

fn report(root: &N, boot: u32) -> DtbReport {
    parse_dtb(&blob(root, boot), &DtbOptions::default()).unwrap()
}

fn mem(r: &DtbReport) -> Vec<(u64, u64, Option<u32>)> {
    r.topology
        .memory
        .iter()
        .map(|m| (m.base.as_u64(), m.size.as_u64(), m.node.map(NodeId::get)))
        .collect()
}

fn node_ids(r: &DtbReport) -> Vec<u32> {
    r.topology.nodes.iter().map(|n| n.id.get()).collect()
}

fn n(id: u32) -> NodeId {
    NodeId::new(id).unwrap()
}

/// One `ibm,dynamic-memory` (v1) entry with 2 address cells: base, drc index,
/// reserved, aa_index, flags.
fn lmb(base: u64, aa_index: u32, flags: u32) -> Vec<u32> {
    vec![
        (base >> 32) as u32,
        base as u32,
        0x8000_0000,
        0,
        aa_index,
        flags,
    ]
}

/// A DR-memory node with 256 MiB LMBs, lookup arrays `arrays` (4 domains each, the
/// node at domain index 3 as the base tree's reference point 4 reads it) and `lmbs`.
fn drmem(arrays: &[u32], lmbs: &[Vec<u32>]) -> N {
    let mut aa = vec![arrays.len() as u32, 4];
    for &node in arrays {
        aa.extend([0, 0, 0, node]);
    }
    let mut dm = vec![lmbs.len() as u32];
    for l in lmbs {
        dm.extend(l);
    }
    N::new("ibm,dynamic-reconfiguration-memory")
        .p("ibm,lmb-size", cells(&[0, 256 << 20]))
        .p("ibm,associativity-lookup-arrays", cells(&aa))
        .p("ibm,dynamic-memory", cells(&dm))
}

/// The base guest with only `memory@0`, covering `[0, size)` on `node`, and the DR
/// node placed *before* it in the tree, so that tree order and Linux's order (memory
/// nodes first, then LMBs) differ.
fn powervm(size: u64, node: u32, dr: N) -> N {
    let mut t = guest();
    t.children.retain(|c| !c.name.starts_with("memory@"));
    t.children.insert(0, dr);
    t.c(N::new("memory@0")
        .p("device_type", string("memory"))
        .p("reg", cells(&[0, 0, (size >> 32) as u32, size as u32]))
        .p("ibm,associativity", cells(&[4, 0, 0, 0, node])))
}

#[test]
fn powervm_rma_in_memory_node_and_lmb_0() {
    // PowerVM: memory@0 is the RMA (256 MiB here) and LMB 0, at the same address, is
    // assigned too. memblock_add_range adds only what is not covered yet, so the
    // memory is the union [0, 768M); LMB 1 is node 0, LMB 2 node 1, LMB 3 unassigned.
    let dr = drmem(
        &[0, 1],
        &[
            lmb(0, 0, 0x8),
            lmb(256 * M, 0, 0x8),
            lmb(512 * M, 1, 0x8),
            lmb(768 * M, 1, 0),
        ],
    );
    let r = report(&powervm(256 * M, 0, dr), 0);
    assert_eq!(
        mem(&r),
        vec![(0, 512 * M, Some(0)), (512 * M, 256 * M, Some(1))]
    );
    // The RMA is the first memory node block (early_init_dt_add_memory_arch), not the
    // union: LMBs are memblock_add'ed directly.
    assert_eq!(
        r.first_memory_block,
        Some((PhysAddr::ZERO, PhysSize::new(256 * M)))
    );
    assert_eq!(r.topology.rma_size, PhysSize::new(256 * M));
    assert_eq!(node_ids(&r), vec![0, 1]);
    // Same node on both descriptions: nothing to warn about.
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn the_lmb_node_wins_over_the_memory_node() {
    // memory@0 says [0, 512M) is node 1; LMB 0 says [0, 256M) is node 0.
    // parse_numa_properties calls memblock_set_node for memory nodes first and for
    // LMBs (numa_setup_drmem_lmb) second, so the LMB's node 0 wins on [0, 256M) even
    // though the DR node comes first in the tree.
    let dr = drmem(&[0], &[lmb(0, 0, 0x8)]);
    let r = report(&powervm(512 * M, 1, dr), 0);
    assert_eq!(
        mem(&r),
        vec![(0, 256 * M, Some(0)), (256 * M, 256 * M, Some(1))]
    );
    assert_eq!(node_ids(&r), vec![0, 1]);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("/memory@0 reg"), "{}", r.warnings[0]);

    // Two memory nodes overlapping: the later one in tree order wins its part, and the
    // memory is the union.
    let mut t = guest();
    t.set("memory@100000000", "reg", cells(&[0, 0x8000_0000, 1, 0]));
    let r = report(&t, 0);
    assert_eq!(
        mem(&r),
        vec![(0, 2 * G, Some(0)), (2 * G, 4 * G, Some(1))],
        "memory@0 [0, 4G) node 0, then memory@100000000 [2G, 6G) node 1"
    );
}

#[test]
fn not_present_cpus_keep_linux_numbering() {
    // CPU@0 (threads 0, 1) is disabled; the boot thread is 9, on CPU@8. Linux's
    // smp_setup_cpu_maps numbers 0, 1 -> logical 0, 1 (possible, not present) and
    // 8, 9 -> 2, 3; early_init_dt_scan_cpus counts every thread, so boot_cpuid = 3.
    let mut t = guest();
    t.set("cpus/PowerPC,POWER9@0", "status", string("disabled"));
    let r = report(&t, 9);
    let cpus: Vec<_> = r
        .topology
        .cpus
        .iter()
        .map(|c| (c.logical_id, c.hw_id, c.node.map(NodeId::get)))
        .collect();
    assert_eq!(cpus, vec![(0, 8, Some(1)), (1, 9, Some(1))]);
    assert_eq!(r.boot_cpu, Some(1));
    assert_eq!(r.linux_boot_cpu, Some(3));
    let np: Vec<_> = r
        .not_present_cpus
        .iter()
        .map(|c| (c.linux_logical_id, c.hw_id, c.path.as_str()))
        .collect();
    assert_eq!(
        np,
        vec![
            (0, 0, "/cpus/PowerPC,POWER9@0"),
            (1, 1, "/cpus/PowerPC,POWER9@0")
        ]
    );
    assert_eq!(r.linux_logical_id(0), Some(2));
    assert_eq!(r.linux_logical_id(1), Some(3));
    assert_eq!(r.linux_logical_id(2), None);
    // Node 0 stays online through memory@0 even with its CPUs gone.
    assert_eq!(node_ids(&r), vec![0, 1]);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("boot CPU is logical 1 here but 3")));

    // The disabled CPU after the boot one shifts nothing before it.
    let mut t = guest();
    t.set("cpus/PowerPC,POWER9@8", "status", string("fail"));
    let r = report(&t, 1);
    assert_eq!((r.boot_cpu, r.linux_boot_cpu), (Some(1), Some(1)));
    assert_eq!(r.linux_logical_id(1), Some(1));
    let np: Vec<_> = r
        .not_present_cpus
        .iter()
        .map(|c| c.linux_logical_id)
        .collect();
    assert_eq!(np, vec![2, 3]);

    // enable-method "spin-table" makes an unavailable CPU present.
    let mut t = guest();
    t.set("cpus/PowerPC,POWER9@0", "status", string("disabled"));
    t.set(
        "cpus/PowerPC,POWER9@0",
        "enable-method",
        string("spin-table"),
    );
    let r = report(&t, 0);
    assert_eq!(r.topology.cpus.len(), 4);
    assert!(r.not_present_cpus.is_empty());

    // The boot thread on a not-present CPU: no boot CPU in the list, Linux's id kept.
    let mut t = guest();
    t.set("cpus/PowerPC,POWER9@8", "status", string("disabled"));
    let r = report(&t, 8);
    assert_eq!((r.boot_cpu, r.linux_boot_cpu), (None, Some(2)));
}

#[test]
fn lookup_array_only_nodes_are_not_online() {
    // Lookup arrays name nodes 0, 1 and 2; only node 1 has an assigned LMB. Linux
    // onlines nodes from CPUs, memory nodes and assigned LMBs only, so node 2 is not a
    // node of the machine (its distance row would otherwise be all zeros).
    let mut t = guest();
    t.children
        .push(drmem(&[0, 1, 2], &[lmb(8 * G, 1, 0x8), lmb(9 * G, 2, 0)]));
    let r = report(&t, 0);
    assert_eq!(node_ids(&r), vec![0, 1]);
    assert_eq!(r.topology.distance(n(0), n(2)), None);
    // FORM1, reference points <4 3 2 1>: nodes 0 and 1 differ at the first only.
    assert_eq!(r.topology.distances, vec![vec![10, 20], vec![20, 10]]);
    // memory@100000000 [4G, 8G) and the LMB at 8G touch and share node 1: one range.
    assert_eq!(
        mem(&r),
        vec![(0, 4 * G, Some(0)), (4 * G, 4 * G + 256 * M, Some(1))]
    );
}

#[test]
fn memory_node_scans() {
    // A memory node below another node is not added to memblock (the early scan looks
    // at the root's children only) but parse_numa_properties walks every node of type
    // memory and assigns its node to memory already there, after memory@0 in tree order.
    let mut t = guest();
    t.children.push(
        N::new("ibm,platform").c(N::new("memory@0")
            .p("device_type", string("memory"))
            .p("reg", cells(&[0, 0, 0, 0x4000_0000]))
            .p("ibm,associativity", cells(&[4, 0, 0, 0, 1]))),
    );
    let r = report(&t, 0);
    assert_eq!(
        mem(&r),
        vec![
            (0, G, Some(1)),
            (G, 3 * G, Some(0)),
            (4 * G, 4 * G, Some(1))
        ]
    );
    assert_eq!(r.topology.rma_size, PhysSize::new(4 * G));

    // A disabled memory node adds no memory, yet Linux still brings its node online.
    let mut t = guest();
    t.children.push(
        N::new("memory@200000000")
            .p("device_type", string("memory"))
            .p("status", string("disabled"))
            .p("reg", cells(&[2, 0, 1, 0]))
            .p("ibm,associativity", cells(&[4, 0, 0, 3, 3])),
    );
    let r = report(&t, 0);
    assert_eq!(mem(&r), vec![(0, 4 * G, Some(0)), (4 * G, 4 * G, Some(1))]);
    assert_eq!(node_ids(&r), vec![0, 1, 3]);
    // FORM1: node 3's record <0 3 3 ...> differs from node 0's <0 0 0> at reference
    // points 4 and 3 (domain indices 3 and 2), equal at 2: 10 * 2 * 2.
    assert_eq!(r.topology.distance(n(0), n(3)), Some(40));

    // An empty linux,usable-memory adds nothing (reg is not used).
    let mut t = guest();
    t.set("memory@100000000", "linux,usable-memory", Vec::new());
    let r = report(&t, 0);
    assert_eq!(mem(&r), vec![(0, 4 * G, Some(0))]);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("empty linux,usable-memory")));

    // A non-empty one replaces reg.
    let mut t = guest();
    t.set(
        "memory@100000000",
        "linux,usable-memory",
        cells(&[1, 0, 0, 0x1000_0000]),
    );
    let r = report(&t, 0);
    assert_eq!(
        mem(&r),
        vec![(0, 4 * G, Some(0)), (4 * G, 256 * M, Some(1))]
    );

    // A trailing partial entry is ignored as Linux ignores it; less than one entry is
    // an error (parse_numa_properties would read past the property).
    let mut t = guest();
    t.set("memory@100000000", "reg", cells(&[1, 0, 1, 0, 7]));
    let r = report(&t, 0);
    assert_eq!(mem(&r), vec![(0, 4 * G, Some(0)), (4 * G, 4 * G, Some(1))]);
    assert!(r.warnings.iter().any(|w| w.contains("trailing")));
    let mut t = guest();
    t.set("memory@100000000", "reg", cells(&[1, 0, 1]));
    match parse_dtb(&blob(&t, 0), &DtbOptions::default()) {
        Err(DtbError::Property { path, property, .. }) => {
            assert_eq!(
                (path.as_str(), property.as_str()),
                ("/memory@100000000", "reg")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_lmb_size_ignores_dr_memory() {
    // walk_drmem_lmbs_early returns at once without ibm,lmb-size (or with one shorter
    // than #size-cells): no LMB is memory.
    for lmb_size in [None, Some(cells(&[0x1000_0000]))] {
        let mut t = guest();
        let mut dr = drmem(&[0, 1], &[lmb(8 * G, 1, 0x8)]);
        dr.props.retain(|p| p.0 != "ibm,lmb-size");
        if let Some(v) = lmb_size {
            dr = dr.p("ibm,lmb-size", v);
        }
        t.children.push(dr);
        let r = report(&t, 0);
        assert_eq!(mem(&r), vec![(0, 4 * G, Some(0)), (4 * G, 4 * G, Some(1))]);
        assert_eq!((r.lmb_size, r.drmem), (None, None));
        assert!(r.warnings.iter().any(|w| w.contains("ibm,lmb-size")));
    }
}

fn form2_tables(t: &mut N, holder: &str, ids: &[u32]) {
    let k = ids.len();
    let mut idx = vec![k as u32];
    idx.extend(ids);
    let mut dist = cells(&[(k * k) as u32]);
    for i in 0..k {
        for j in 0..k {
            dist.push(if i == j { 10 } else { 30 });
        }
    }
    t.set(holder, "ibm,numa-lookup-index-table", cells(&idx));
    t.set(holder, "ibm,numa-distance-table", dist);
}

#[test]
fn form2_checks_online_nodes_and_names_the_holder() {
    // FORM2 on pSeries: tables in /rtas. Node 2 is only in the lookup arrays and node 5
    // only in the index table: neither is online, so neither is a node, and the table
    // need not list node 2.
    let mut t = guest();
    t.set(
        "chosen",
        "ibm,architecture-vec-5",
        vec![0, 0, 0, 0, 0, 0x20],
    );
    form2_tables(&mut t, "rtas", &[1, 0, 5]);
    t.children.push(drmem(&[0, 1, 2], &[lmb(8 * G, 1, 0x8)]));
    let r = report(&t, 0);
    assert_eq!(r.affinity, AffinityForm::Form2);
    assert_eq!(node_ids(&r), vec![0, 1]);
    assert_eq!(r.topology.distances, vec![vec![10, 30], vec![30, 10]]);

    // PowerNV keeps its tables in /ibm,opal, and the error must say so.
    let mut t = guest();
    t.children
        .push(N::new("ibm,opal").p("ibm,associativity-reference-points", cells(&[4, 3])));
    form2_tables(&mut t, "ibm,opal", &[0]);
    let opts = DtbOptions {
        affinity: Some(AffinityForm::Form2),
        ..Default::default()
    };
    match parse_dtb(&blob(&t, 0), &opts) {
        Err(DtbError::Property {
            path,
            property,
            problem,
        }) => {
            assert_eq!(path, "/ibm,opal");
            assert_eq!(property, "ibm,numa-lookup-index-table");
            assert_eq!(problem, PropProblem::MissingNode { node: 1 });
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn affinity_form_from_architecture_vec_5() {
    let form = |vec5: Option<Vec<u8>>| {
        let mut t = guest();
        match vec5 {
            Some(v) => t.set("chosen", "ibm,architecture-vec-5", v),
            None => t.remove("chosen", "ibm,architecture-vec-5"),
        }
        report(&t, 0)
    };
    // A negotiated vector whose byte 5 has neither OV5_FORM1 (0x80) nor OV5_FORM2
    // (0x20): FORM0, node from the second reference point (3), which is domain 0 for
    // every array of the base tree: one node, distance 10.
    let r = form(Some(vec![0x17, 0x80, 0x00, 0x00, 0xc0, 0x40, 0x00, 0x00]));
    assert_eq!(
        (r.affinity, r.affinity_assumed),
        (AffinityForm::Form0, false)
    );
    assert_eq!(r.primary_domain_index, Some(3));
    assert_eq!(node_ids(&r), vec![0]);
    assert_eq!(r.topology.distances, vec![vec![10]]);
    assert_eq!(mem(&r), vec![(0, 8 * G, Some(0))]);

    // fw_vec5_feature_init: index 5 >= len means absent, so a short vector or none at
    // all is FORM0 too.
    for v in [Some(vec![0x17, 0x80, 0x80]), Some(vec![0x80]), None] {
        let r = form(v.clone());
        assert_eq!(
            (r.affinity, r.affinity_assumed),
            (AffinityForm::Form0, false),
            "{v:?}"
        );
    }

    // QEMU's exact pre-CAS placeholder is read as the FORM1 every guest negotiates.
    let r = form(Some(vec![0, 0]));
    assert_eq!(
        (r.affinity, r.affinity_assumed),
        (AffinityForm::Form1, true)
    );
    assert_eq!(node_ids(&r), vec![0, 1]);
    // And FORM1 granted explicitly.
    let r = form(Some(vec![0, 0, 0, 0, 0, 0x80]));
    assert_eq!(
        (r.affinity, r.affinity_assumed),
        (AffinityForm::Form1, false)
    );
}
