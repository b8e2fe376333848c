//! Each fixture parses to the topology its QEMU command line (fixtures/qemu/NAME.cmd)
//! or its hand-written intent (comment at the top of fixtures/crafted/NAME.dts)
//! describes. The expectations are written from those, not from parser output.

use phys::{NodeId, PhysAddr, PhysSize};
use topology::{parse_dtb, AffinityForm, DrmemVersion, DtbOptions, DtbReport, Topology};

const M: u64 = 1 << 20;
const G: u64 = 1 << 30;

fn load(path: &str) -> DtbReport {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let blob = std::fs::read(&full).unwrap();
    parse_dtb(&blob, &DtbOptions::default()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn n(id: u32) -> NodeId {
    NodeId::new(id).unwrap()
}

/// (logical, hw, node) triples.
fn cpus(t: &Topology) -> Vec<(u32, u32, Option<u32>)> {
    t.cpus
        .iter()
        .map(|c| (c.logical_id, c.hw_id, c.node.map(NodeId::get)))
        .collect()
}

/// (base, size, node) triples.
fn mem(t: &Topology) -> Vec<(u64, u64, Option<u32>)> {
    t.memory
        .iter()
        .map(|m| (m.base.as_u64(), m.size.as_u64(), m.node.map(NodeId::get)))
        .collect()
}

fn node_ids(t: &Topology) -> Vec<u32> {
    t.nodes.iter().map(|x| x.id.get()).collect()
}

#[test]
fn qemu_one_node() {
    // -m 4G -smp 2, no -numa.
    let r = load("qemu/one-node.dtb");
    let t = &r.topology;
    assert_eq!(r.affinity, AffinityForm::Form1);
    assert!(r.affinity_assumed, "dumpdtb is pre-CAS");
    // QEMU gives CPUs no ibm,associativity without -numa: NUMA_NO_NODE, and Linux's
    // numa_setup_cpu puts them on the first online node, 0.
    assert_eq!(cpus(t), vec![(0, 0, None), (1, 1, None)]);
    assert_eq!(t.cpu_node(0), Some(n(0)));
    assert_eq!(t.cpu_node(1), Some(n(0)));
    assert_eq!(mem(t), vec![(0, 4 * G, Some(0))]);
    assert_eq!(node_ids(t), vec![0]);
    assert_eq!(t.distances, vec![vec![10]]);
    // POWER9 guest on hash: min(first block 4 GiB, 1 TiB).
    assert!(r.arch_300);
    assert_eq!(t.rma_size, PhysSize::new(4 * G));
    assert!(!t.hypervisor_mode);
    assert_eq!(r.boot_cpu, Some(0));
}

#[test]
fn qemu_two_node() {
    // -m 1G -smp 4; node 0 cpus 0-1 512M, node 1 cpus 2-3 512M.
    let r = load("qemu/two-node.dtb");
    let t = &r.topology;
    assert_eq!(r.primary_domain_index, Some(4));
    assert_eq!(
        cpus(t),
        vec![
            (0, 0, Some(0)),
            (1, 1, Some(0)),
            (2, 2, Some(1)),
            (3, 3, Some(1))
        ]
    );
    assert_eq!(
        mem(t),
        vec![(0, 512 * M, Some(0)), (512 * M, 512 * M, Some(1))]
    );
    assert_eq!(node_ids(t), vec![0, 1]);
    // QEMU's default distance for two nodes is 20.
    assert_eq!(t.distances, vec![vec![10, 20], vec![20, 10]]);
    assert_eq!(t.rma_size, PhysSize::new(512 * M));
    assert_eq!(t.rma_limit(), PhysAddr::new(512 * M));
    assert_eq!(r.drmem, None);
}

#[test]
fn qemu_four_node_with_memoryless_node() {
    // -m 2G -smp 8; nodes 0..2 with 1G, 512M, 512M and CPUs in pairs; node 3 CPUs 6-7
    // and no memory; -numa dist 0-1 20, 0-2 40, 0-3 80, 1-2 40, 1-3 80, 2-3 80.
    let r = load("qemu/four-node-memoryless.dtb");
    let t = &r.topology;
    let want: Vec<_> = (0..8).map(|i| (i, i, Some(i / 2))).collect();
    assert_eq!(cpus(t), want);
    assert_eq!(
        mem(t),
        vec![
            (0, G, Some(0)),
            (G, 512 * M, Some(1)),
            (G + 512 * M, 512 * M, Some(2)),
        ]
    );
    assert_eq!(node_ids(t), vec![0, 1, 2, 3]);
    assert_eq!(t.memory_size_on(n(3)), PhysSize::ZERO);
    assert_eq!(t.cpus_on(n(3)).count(), 2);
    assert_eq!(
        t.distances,
        vec![
            vec![10, 20, 40, 80],
            vec![20, 10, 40, 80],
            vec![40, 40, 10, 80],
            vec![80, 80, 80, 10],
        ]
    );
    assert_eq!(t.rma_size, PhysSize::new(G));
}

#[test]
fn qemu_cpuless_node() {
    // -m 1G -smp 2; node 0 cpus 0-1 512M; node 1 512M, no CPUs.
    let r = load("qemu/cpuless-node.dtb");
    let t = &r.topology;
    assert_eq!(cpus(t), vec![(0, 0, Some(0)), (1, 1, Some(0))]);
    assert_eq!(
        mem(t),
        vec![(0, 512 * M, Some(0)), (512 * M, 512 * M, Some(1))]
    );
    assert_eq!(node_ids(t), vec![0, 1]);
    assert_eq!(t.cpus_on(n(1)).count(), 0);
    assert_eq!(t.distance(n(0), n(1)), Some(20));
}

#[test]
fn crafted_form2() {
    let r = load("crafted/form2.dtb");
    let t = &r.topology;
    assert_eq!(r.affinity, AffinityForm::Form2);
    assert!(!r.affinity_assumed);
    assert_eq!(r.primary_domain_index, Some(1));
    let want: Vec<_> = (0..12)
        .map(|i| (i, (i / 4) * 8 + i % 4, Some(i / 4)))
        .collect();
    assert_eq!(cpus(t), want);
    assert_eq!(mem(t), vec![(0, G, Some(0)), (G, 512 * M, Some(1))]);
    assert_eq!(node_ids(t), vec![0, 1, 2]);
    assert_eq!(
        t.distances,
        vec![vec![10, 20, 40], vec![22, 10, 80], vec![44, 88, 10]]
    );
}

fn check_drmem(r: &DtbReport) {
    let t = &r.topology;
    assert_eq!(r.lmb_size, Some(PhysSize::new(256 * M)));
    assert_eq!(
        cpus(t),
        vec![
            (0, 0, Some(0)),
            (1, 1, Some(0)),
            (2, 8, Some(1)),
            (3, 9, Some(1))
        ]
    );
    assert_eq!(
        mem(t),
        vec![
            (0, 2 * G, Some(0)),
            (2 * G, 512 * M, Some(1)),
            (2 * G + 512 * M, 256 * M, Some(2)),
            (3 * G, 256 * M, None),
            (3 * G + 512 * M, 512 * M, None),
        ]
    );
    assert_eq!(node_ids(t), vec![0, 1, 2]);
    assert_eq!(
        t.distances,
        vec![vec![10, 20, 40], vec![20, 10, 40], vec![40, 40, 10]]
    );
    // POWER8 (pre-ISA-3.0): 2 GiB first block clamped to 1 GiB.
    assert!(!r.arch_300);
    assert_eq!(t.rma_size, PhysSize::new(G));
}

#[test]
fn crafted_drmem_v1_and_v2_agree() {
    let v1 = load("crafted/drmem-v1.dtb");
    let v2 = load("crafted/drmem-v2.dtb");
    assert_eq!(v1.drmem, Some(DrmemVersion::V1));
    assert_eq!(v2.drmem, Some(DrmemVersion::V2));
    check_drmem(&v1);
    check_drmem(&v2);
    assert_eq!(v1.topology, v2.topology);
}

#[test]
fn crafted_powernv_host() {
    let r = load("crafted/powernv.dtb");
    let t = &r.topology;
    assert!(t.hypervisor_mode);
    assert_eq!(r.affinity, AffinityForm::Form1);
    assert_eq!(t.rma_size, PhysSize::MAX);
    let hw = [0x20, 0x21, 0x22, 0x23, 0x820, 0x821, 0x822, 0x823];
    let want: Vec<_> = (0..8u32)
        .map(|i| (i, hw[i as usize], Some(if i < 4 { 0 } else { 8 })))
        .collect();
    assert_eq!(cpus(t), want);
    assert_eq!(
        mem(t),
        vec![(0, 8 * G, Some(0)), (32 << 40, 8 * G, Some(8))]
    );
    assert_eq!(t.distance(n(0), n(8)), Some(20));
}

#[test]
fn options_override_linux_choices() {
    let blob = std::fs::read(format!(
        "{}/fixtures/qemu/two-node.dtb",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let rma = PhysSize::new(256 * M);
    let r = parse_dtb(
        &blob,
        &DtbOptions {
            rma_override: Some(rma),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.topology.rma_size, rma);
    let radix = parse_dtb(
        &blob,
        &DtbOptions {
            mmu: topology::rma::Mmu::Radix,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(radix.topology.rma_size, PhysSize::MAX);
    // FORM0 (what Linux would use on this pre-CAS tree with no negotiation): the
    // primary domain is reference point 2 = index 3, which is 0 for every QEMU array.
    let f0 = parse_dtb(
        &blob,
        &DtbOptions {
            affinity: Some(AffinityForm::Form0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(f0.primary_domain_index, Some(3));
    assert!(f0
        .topology
        .cpus
        .iter()
        .all(|c| c.node == Some(NodeId::ZERO)));
    assert_eq!(f0.topology.nodes.len(), 1);
}

#[test]
fn qemu_powernv9_two_chips() {
    // -M powernv9 -m 2G -smp 4,sockets=2,cores=2,threads=1: the tree QEMU gives skiboot.
    let r = load("qemu/powernv9-two-chip.dtb");
    let t = &r.topology;
    assert!(t.hypervisor_mode);
    assert_eq!(t.rma_size, PhysSize::MAX);
    // No reference points until skiboot adds them: Linux runs without NUMA.
    assert_eq!(r.primary_domain_index, None);
    assert_eq!(t.cpus.len(), 4);
    // QEMU's POWER9 PIR is chip << 8 | core << 2 (SMT4 numbering), and it lists chip
    // 1's cores first; Linux numbers threads in tree order, so the boot thread (PIR 0)
    // is logical 3.
    assert_eq!(
        cpus(t),
        vec![
            (0, 0x104, Some(0)),
            (1, 0x100, Some(0)),
            (2, 0x004, Some(0)),
            (3, 0x000, Some(0)),
        ]
    );
    assert_eq!(r.boot_cpu, Some(3));
    // 1 GiB per chip, contiguous, all on node 0 without NUMA.
    assert_eq!(mem(t), vec![(0, 2 * G, Some(0))]);
    assert_eq!(
        r.first_memory_block,
        Some((PhysAddr::ZERO, PhysSize::new(G)))
    );
}
