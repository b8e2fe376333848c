//! Device-tree reading rules the fixtures never exercise, found by the `cargo mutants`
//! run over dtb.rs (docs/MUTATION.md). Each test states the Linux 6.1 rule it checks
//! (arch/powerpc/mm/numa.c, arch/powerpc/kernel/prom.c, drivers/of/fdt.c) and builds a
//! small tree where the rule decides the outcome.

mod common;

use common::{blob, cells, guest, string, N};
use topology::{
    parse_dtb, AffinityForm, DtbError, DtbOptions, DtbReport, MemoryRange, PropProblem,
    MAX_PHYSMEM_BITS,
};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn parse(root: &N) -> DtbReport {
    parse_dtb(&blob(root, 0), &DtbOptions::default()).expect("a valid tree")
}

fn node_ids(r: &DtbReport) -> Vec<u32> {
    r.topology.nodes.iter().map(|n| n.id.get()).collect()
}

/// `(base, size, node)` of each memory range, for readable comparisons.
fn ranges(mem: &[MemoryRange]) -> Vec<(u64, u64, Option<u32>)> {
    mem.iter()
        .map(|m| (m.base.as_u64(), m.size.as_u64(), m.node.map(|n| n.get())))
        .collect()
}

/// A 2/2-cell `reg` (or `linux,usable-memory`) entry.
fn reg(base: u64, size: u64) -> Vec<u8> {
    cells(&[
        (base >> 32) as u32,
        base as u32,
        (size >> 32) as u32,
        size as u32,
    ])
}

fn memory(name: &str, base: u64, size: u64, node: u32) -> N {
    N::new(name)
        .p("device_type", string("memory"))
        .p("reg", reg(base, size))
        .p("ibm,associativity", cells(&[4, 0, 0, 0, node]))
}

/// The small guest with `ibm,architecture-vec-5` byte 5 = `b` (0x80 FORM1, 0x20 FORM2,
/// 0 FORM0) and the given `/rtas` reference points.
fn guest_with(vec5_byte5: u8, refs: &[u32]) -> N {
    let mut t = guest();
    t.set(
        "chosen",
        "ibm,architecture-vec-5",
        vec![0, 0, 0, 0, 0, vec5_byte5],
    );
    t.set("rtas", "ibm,associativity-reference-points", cells(refs));
    t
}

/// FORM0 (no affinity bit negotiated): `find_primary_domain_index` needs at least two
/// reference points and takes the second; `__node_distance` is then 10 for a node to
/// itself and 20 to any other.
#[test]
fn form0_takes_the_second_of_two_reference_points() {
    // The first FORM0 reference point is the SMP level, "should be all 0's".
    let r = parse(&guest_with(0, &[0, 4]));
    assert_eq!(r.affinity, AffinityForm::Form0);
    assert_eq!(r.primary_domain_index, Some(4));
    assert_eq!(node_ids(&r), [0, 1]);
    assert_eq!(r.topology.distances, [[10, 20], [20, 10]]);
    // One reference point is "short" for FORM0: NUMA off, everything on node 0.
    let short = parse(&guest_with(0, &[4]));
    assert_eq!(short.primary_domain_index, None);
    assert_eq!(node_ids(&short), [0]);
}

/// Linux keeps the primary domain index in an `int`: 0x7fffffff is still a positive
/// index (NUMA stays on, and no associativity array is that long, so no CPU or memory
/// gets a node); 0x80000000 is negative and disables NUMA.
#[test]
fn primary_index_is_negative_only_from_bit_31() {
    let big = parse(&guest_with(0x80, &[0x7fff_ffff]));
    assert_eq!(big.primary_domain_index, Some(0x7fff_ffff));
    assert!(big.topology.cpus.iter().all(|c| c.node.is_none()));
    assert!(big.topology.memory.iter().all(|m| m.node.is_none()));
    let negative = parse(&guest_with(0x80, &[0x8000_0000]));
    assert_eq!(negative.primary_domain_index, None);
    assert!(negative
        .topology
        .cpus
        .iter()
        .all(|c| c.node.map(|n| n.get()) == Some(0)));
}

/// `ibm,numa-lookup-index-table` may list every one of the MAX_NUMNODES (256) domain
/// ids; the distances of the online nodes are then read from the 256 x 256 table at
/// row-major `index(a) * 256 + index(b)` (`initialize_form2_numa_distance_lookup_table`).
/// 257 entries must repeat an id and are refused.
#[test]
fn form2_index_table_may_list_all_256_domains() {
    let with_domains = |n: u32| {
        let mut t = guest_with(0x20, &[4, 2]);
        let mut index = vec![n];
        index.extend((0..n).map(|i| i % 256));
        let sq = (n * n) as usize;
        let table: Vec<u8> = (0..sq)
            .map(|k| {
                let (i, j) = (k / n as usize, k % n as usize);
                if i == j {
                    10
                } else {
                    (20 + (i + 2 * j) % 200) as u8
                }
            })
            .collect();
        let mut dist = (n * n).to_be_bytes().to_vec();
        dist.extend(&table);
        t.set("rtas", "ibm,numa-lookup-index-table", cells(&index));
        t.set("rtas", "ibm,numa-distance-table", dist);
        t
    };
    let r = parse(&with_domains(256));
    assert_eq!(r.affinity, AffinityForm::Form2);
    assert_eq!(node_ids(&r), [0, 1]);
    // Row 0 column 1 and row 1 column 0 of the table written above.
    assert_eq!(r.topology.distances, [[10, 22], [21, 10]]);
    let too_many = parse_dtb(&blob(&with_domains(257), 0), &DtbOptions::default());
    assert!(
        matches!(&too_many, Err(DtbError::Property { property, .. })
            if property == "ibm,numa-lookup-index-table"),
        "{too_many:?}"
    );
}

/// Linux stops with "Failed to identify boot CPU !" when no thread has the header's
/// `boot_cpuid_phys` (`early_init_devtree`), and a boot thread in a CPU node that is not
/// available is counted by `early_init_dt_scan_cpus` but never marked present
/// (`smp_setup_cpu_maps`): both are reported.
#[test]
fn a_missing_or_absent_boot_thread_is_reported() {
    let r = parse_dtb(&blob(&guest(), 0x99), &DtbOptions::default()).unwrap();
    assert_eq!((r.boot_cpu, r.linux_boot_cpu), (None, None));
    assert!(
        r.warnings.iter().any(|w| w.contains("153")),
        "a warning names boot_cpuid_phys 0x99: {:?}",
        r.warnings
    );

    let mut t = guest();
    t.set("cpus/PowerPC,POWER9@8", "status", string("disabled"));
    let r = parse_dtb(&blob(&t, 8), &DtbOptions::default()).unwrap();
    // Threads 0 and 1 come first, so Linux numbers thread 8 as logical 2.
    assert_eq!((r.boot_cpu, r.linux_boot_cpu), (None, Some(2)));
    let boot_warnings: Vec<_> = r.warnings.iter().filter(|w| w.contains("boot")).collect();
    assert!(
        boot_warnings
            .iter()
            .any(|w| w.contains("status") && w.contains('8') && w.contains('2')),
        "a warning names the boot thread 8, its Linux logical id 2 and its status: {:?}",
        r.warnings
    );
}

/// A non-empty `linux,usable-memory` replaces `reg` in both of Linux's scans
/// (`early_init_dt_scan_memory` and `parse_numa_properties`), so `reg` is never read:
/// a kdump kernel's memory node adds only its usable part, without a warning, and a
/// `reg` too short for one entry does not matter.
#[test]
fn non_empty_usable_memory_replaces_reg() {
    let mut t = guest();
    t.set("memory@0", "linux,usable-memory", reg(0, 512 * MIB));
    let r = parse(&t);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        ranges(&r.topology.memory),
        [(0, 512 * MIB, Some(0)), (4 * GIB, 4 * GIB, Some(1))]
    );

    t.set("memory@0", "reg", cells(&[0]));
    let r = parse(&t);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        ranges(&r.topology.memory),
        [(0, 512 * MIB, Some(0)), (4 * GIB, 4 * GIB, Some(1))]
    );
}

/// A memory node with an empty `reg` adds no memory (`early_init_dt_scan_memory` reads
/// no entry) and `parse_numa_properties` skips it (`len <= 0`) before reading its
/// associativity, so its node is not brought online.
#[test]
fn an_empty_reg_adds_nothing_and_onlines_no_node() {
    let mut t = guest();
    t.children.push(
        N::new("memory@200000000")
            .p("device_type", string("memory"))
            .p("reg", Vec::new())
            .p("ibm,associativity", cells(&[4, 0, 0, 0, 2])),
    );
    let r = parse(&t);
    assert_eq!(r.topology, parse(&guest()).topology);
    assert_eq!(node_ids(&r), [0, 1]);
}

/// `early_init_dt_add_memory_arch` records the first memory block with `base <
/// memstart_addr`: of two ranges at the same lowest base, the first in tree order
/// sizes the RMA.
#[test]
fn the_first_of_two_equal_bases_is_the_first_memory_block() {
    let mut t = guest();
    t.children.push(memory("mem@0", 0, 512 * MIB, 0));
    let r = parse(&t);
    let (base, size) = r.first_memory_block.unwrap();
    assert_eq!((base.as_u64(), size.as_u64()), (0, 4 * GIB));
}

/// `memblock_add` merges what overlaps memory already added: two memory nodes
/// describing the same bytes give those bytes once, with NUMA (each range then on the
/// node of its last description) or without (`setup_nonnuma`: all on node 0).
#[test]
fn overlapping_memory_nodes_add_their_union() {
    let mut t = guest();
    t.children.push(memory("mem@40000000", GIB, 2 * GIB, 0));
    let r = parse(&t);
    assert_eq!(
        ranges(&r.topology.memory),
        [(0, 4 * GIB, Some(0)), (4 * GIB, 4 * GIB, Some(1))]
    );
    t.remove("rtas", "ibm,associativity-reference-points");
    let r = parse(&t);
    assert_eq!(r.primary_domain_index, None);
    assert_eq!(ranges(&r.topology.memory), [(0, 8 * GIB, Some(0))]);
}

/// Every later `memblock_set_node` that moves memory to another node is reported, in
/// a bounded list: the warnings name each override they list, and a last line counts
/// the rest, so the listed ones and the counted ones add up to the overrides made.
#[test]
fn override_warnings_are_capped_and_counted() {
    let piece = 128 * MIB;
    for k in 1..=20u64 {
        let mut t = guest();
        let names: Vec<String> = (0..k)
            .map(|i| format!("mem@{:x}", 4 * GIB + i * piece))
            .collect();
        for (i, name) in (0..k).zip(&names) {
            // Node 1's memory, described again as node 0's.
            t.children.push(memory(name, 4 * GIB + i * piece, piece, 0));
        }
        let r = parse(&t);
        let listed = r
            .warnings
            .iter()
            .filter(|w| names.iter().any(|n| w.contains(&format!("/{n} "))))
            .count() as u64;
        let counted: Vec<u64> = r
            .warnings
            .iter()
            .filter(|w| !names.iter().any(|n| w.contains(&format!("/{n} "))))
            .map(|w| {
                let digits: String = w
                    .split_whitespace()
                    .find(|s| s.chars().all(|c| c.is_ascii_digit()))
                    .unwrap_or_else(|| panic!("no count in {w:?}"))
                    .into();
                digits.parse().unwrap()
            })
            .collect();
        assert!(counted.len() <= 1, "k={k}: {:?}", r.warnings);
        assert!(counted.iter().all(|&c| c > 0), "k={k}: {:?}", r.warnings);
        assert_eq!(listed + counted.iter().sum::<u64>(), k, "{:?}", r.warnings);
        if k == 20 {
            assert!(listed < k, "the list is capped: {:?}", r.warnings);
        }
        // Linux's later description wins.
        assert_eq!(
            ranges(&r.topology.memory),
            [
                (0, 4 * GIB + k * piece, Some(0)),
                (4 * GIB + k * piece, 4 * GIB - k * piece, Some(1))
            ]
        );
    }
}

/// A guest with DR memory: one v2 run of `count` 256 MiB LMBs at `base`, associativity
/// array 0 of `lookup` (`ibm,associativity-lookup-arrays` cells).
fn with_lmbs(mut t: N, base: u64, count: u32, lookup: &[u32]) -> N {
    t.children.push(
        N::new("ibm,dynamic-reconfiguration-memory")
            .p("ibm,lmb-size", cells(&[0, 256 << 20]))
            .p(
                "ibm,dynamic-memory-v2",
                cells(&[1, count, (base >> 32) as u32, base as u32, 0, 0, 8]),
            )
            .p("ibm,associativity-lookup-arrays", cells(lookup)),
    );
    t
}

/// `get_nid_and_numa_distance` uses the lookup arrays whenever the primary index is
/// at most the array size, so arrays longer than the primary index still name LMB nodes.
#[test]
fn lookup_arrays_longer_than_the_primary_index_name_the_node() {
    let t = with_lmbs(guest(), 8 * GIB, 2, &[1, 5, 0, 0, 0, 1, 9]);
    let r = parse(&t);
    // The LMBs continue node 1's memory node, and memblock merges them.
    assert_eq!(
        ranges(&r.topology.memory).last(),
        Some(&(4 * GIB, 4 * GIB + 512 * MIB, Some(1)))
    );
}

/// `get_nid_and_numa_distance` fills the FORM1 distance row from an LMB only when its
/// node is above 0: node 0's row stays what its memory node wrote (all domains 0),
/// so nodes 0 and 1, which differ at the first reference point only, are 20 apart
/// however the LMBs of node 0 describe the higher domains.
#[test]
fn lmbs_of_node_0_do_not_fill_its_distance_row() {
    let t = with_lmbs(guest(), 8 * GIB, 2, &[1, 4, 7, 7, 7, 0]);
    let r = parse(&t);
    assert_eq!(
        ranges(&r.topology.memory).last(),
        Some(&(8 * GIB, 512 * MIB, Some(0)))
    );
    assert_eq!(node_ids(&r), [0, 1]);
    assert_eq!(r.topology.distances, [[10, 20], [20, 10]]);
}

/// A malformed `ibm,associativity-lookup-arrays` is reported with its byte length, or
/// with how many whole arrays of the stated size it really holds.
#[test]
fn bad_lookup_arrays_report_their_real_size() {
    let err = |lookup: &[u32]| {
        parse_dtb(
            &blob(&with_lmbs(guest(), 8 * GIB, 1, lookup), 0),
            &DtbOptions::default(),
        )
        .unwrap_err()
    };
    match err(&[1]) {
        DtbError::Property {
            property,
            problem: PropProblem::WrongLength { len, .. },
            ..
        } => assert_eq!(
            (property.as_str(), len),
            ("ibm,associativity-lookup-arrays", 4)
        ),
        e => panic!("{e:?}"),
    }
    // Three arrays of 2 announced, 5 cells present: 2 whole arrays.
    match err(&[3, 2, 0, 1, 0, 2, 0]) {
        DtbError::Property {
            problem: PropProblem::CountTooLarge { count, room },
            ..
        } => assert_eq!((count, room), (3, 2)),
        e => panic!("{e:?}"),
    }
    // The message names the node, the property and both numbers.
    let msg = err(&[3, 2, 0, 1, 0, 2, 0]).to_string();
    for part in [
        "/ibm,dynamic-reconfiguration-memory",
        "ibm,associativity-lookup-arrays",
        "3",
        "2",
    ] {
        assert!(msg.contains(part), "{part:?} in {msg:?}");
    }
    let msg = err(&[1]).to_string();
    assert!(msg.contains("length 4"), "{msg:?}");
}

/// With the default root `#address-cells` and `#size-cells` of 1 (no 64-bit
/// addresses), each `reg` entry is two cells.
#[test]
fn one_cell_addresses_and_sizes() {
    let mut t = guest();
    t.set("", "#address-cells", cells(&[1]));
    t.set("", "#size-cells", cells(&[1]));
    t.set("memory@0", "reg", cells(&[0, 0x4000_0000]));
    t.set(
        "memory@100000000",
        "reg",
        cells(&[0x4000_0000, 0x2000_0000, 0x8000_0000, 0x1000_0000]),
    );
    let r = parse(&t);
    assert_eq!(
        ranges(&r.topology.memory),
        [
            (0, GIB, Some(0)),
            (GIB, 512 * MIB, Some(1)),
            (2 * GIB, 256 * MIB, Some(1))
        ]
    );
}

/// Memory may end exactly at `1 << MAX_PHYSMEM_BITS` (the last addressable byte is
/// below it); a byte further is refused.
#[test]
fn a_memory_node_may_end_at_the_physical_limit() {
    let end = 1u64 << MAX_PHYSMEM_BITS;
    let mut t = guest();
    t.children.push(memory("memory@top", end - GIB, GIB, 1));
    let r = parse(&t);
    assert!(r
        .topology
        .memory
        .iter()
        .any(|m| m.base.as_u64() + m.size.as_u64() == end));
    t.set("memory@top", "reg", reg(end - GIB, GIB + 4096));
    assert!(parse_dtb(&blob(&t, 0), &DtbOptions::default()).is_err());
}

/// Every real pSeries boot ran as a logical partition ("Hardware name: IBM pSeries" in
/// its console log), not in hypervisor mode.
#[test]
fn pseries_boots_are_not_hypervisor_mode() {
    let dir = format!("{}/fixtures/linux-6.1", env!("CARGO_MANIFEST_DIR"));
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".booted.dtb") else {
            continue;
        };
        let log = std::fs::read_to_string(format!("{stem}.log")).unwrap();
        assert!(log.contains("Hardware name: IBM pSeries"), "{stem}");
        let r = parse_dtb(&std::fs::read(&path).unwrap(), &DtbOptions::default()).unwrap();
        assert!(!r.topology.hypervisor_mode, "{name}");
        read += 1;
    }
    assert!(read >= 14, "{read}");
}

/// `pnv_probe` picks the PowerNV platform (bare metal, hypervisor mode) from the root's
/// `compatible` containing "ibm,powernv", whether or not an `/ibm,opal` node exists.
#[test]
fn compatible_powernv_alone_means_hypervisor_mode() {
    let mut t = guest();
    t.set("", "compatible", b"qemu,powernv9\0ibm,powernv\0".to_vec());
    let r = parse(&t);
    assert!(r.topology.hypervisor_mode);
    assert_eq!(r.affinity, AffinityForm::Form1, "OPAL is always FORM1");
}
