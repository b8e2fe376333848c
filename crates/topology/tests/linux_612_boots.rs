//! Real boots of Debian 13's Linux 6.12 ppc64le kernels, the 4 KiB-page
//! (`powerpc64le`) and the 64 KiB-page (`powerpc64le-64k`) flavour, under QEMU 7.2
//! pseries (VOF) (`fixtures/linux-6.12/README.md`): the version 16 tree prom_init
//! wrote, QEMU's pre-CAS dump of the same machine, and the console log
//! (`memblock=debug`) the numbers are checked against. Which build a boot ran is read
//! from its log's `Linux version` banner, not from the fixture's name.

mod common;

use common::boots::{self, logged};
use phys::{PhysAddr, PhysSize};
use topology::{
    fdt_facts, parse_dtb, predict_booted, predict_booted_for, prom_blob_address,
    prom_blob_address_for, unflatten_allocations, unflatten_allocations_for, unflattened_size,
    unflattened_size_for, BootMmu, DtbOptions, OfBuild, PredictError,
};

const BOOTS: [&str; 10] = [
    "64-r84", "64-h84", "4-r84", "4-h84", "4-x", "4-r42", "4-r164", "4-h164", "64-x", "64-r164",
];

fn fixture(dir: &str, name: &str) -> Vec<u8> {
    boots::fixture(dir, name)
}

fn f612(name: &str) -> Vec<u8> {
    fixture("linux-6.12", name)
}

fn log_of(dir: &str, boot: &str) -> String {
    boots::log(dir, boot)
}

fn log(boot: &str) -> String {
    log_of("linux-6.12", boot)
}

/// The build the log's banner names: Debian's 6.12 with or without `-64k`.
fn build_of(boot: &str) -> OfBuild {
    let text = log(boot);
    let banner = text
        .lines()
        .find(|l| l.starts_with("Linux version "))
        .unwrap_or_else(|| panic!("{boot}: no banner"));
    let release = banner.split(' ').nth(2).unwrap();
    assert!(release.starts_with("6.12."), "{boot}: {release}");
    if release.ends_with("-powerpc64le-64k") {
        OfBuild::DEBIAN_6_12_64K
    } else {
        assert!(release.ends_with("-powerpc64le"), "{boot}: {release}");
        OfBuild::DEBIAN_6_12_4K
    }
}

fn unflatten_request(text: &str) -> u64 {
    logged(
        text,
        "memblock_alloc_try_nid: ",
        "early_init_dt_alloc_memory_arch",
    )
}

fn reserved(boot: &str, caller: &str) -> (u64, u64) {
    boots::reserved(&log(boot), caller)
}

/// The value of `/chosen/qemu,boot-kernel` (kernel load address and size), found by a
/// walk of the structure block independent of the crate's reader.
fn boot_kernel(blob: &[u8]) -> (u64, u64) {
    let be = |o: usize| u32::from_be_bytes(blob[o..o + 4].try_into().unwrap()) as usize;
    let (off_struct, off_strings) = (be(8), be(12));
    let mut at = off_struct;
    let mut path: Vec<String> = Vec::new();
    loop {
        let token = be(at);
        at += 4;
        match token {
            1 => {
                let end = at + blob[at..].iter().position(|&b| b == 0).unwrap();
                path.push(String::from_utf8_lossy(&blob[at..end]).into_owned());
                at = (end + 1).next_multiple_of(4);
            }
            2 => {
                path.pop();
            }
            3 => {
                let (len, name_off) = (be(at), be(at + 4));
                let value = &blob[at + 8..at + 8 + len];
                let name_start = off_strings + name_off;
                let name_end =
                    name_start + blob[name_start..].iter().position(|&b| b == 0).unwrap();
                if path.len() == 2
                    && path[1] == "chosen"
                    && &blob[name_start..name_end] == b"qemu,boot-kernel"
                {
                    let q = |o: usize| u64::from_be_bytes(value[o..o + 8].try_into().unwrap());
                    return (q(0), q(8));
                }
                at = (at + 8 + len).next_multiple_of(4);
            }
            4 => {}
            _ => panic!("no /chosen/qemu,boot-kernel"),
        }
    }
}

#[test]
fn the_named_builds_are_what_the_build_less_functions_use() {
    assert_eq!(OfBuild::default(), OfBuild::DEBIAN_6_1_64K);
    let b = OfBuild::DEBIAN_6_1_64K;
    assert_eq!(
        (b.sizeof_device_node, b.sizeof_property, b.sizeof_alias_prop),
        (
            topology::SIZEOF_DEVICE_NODE,
            topology::SIZEOF_PROPERTY,
            topology::SIZEOF_ALIAS_PROP
        )
    );
    for boot in ["r84", "x", "r164"] {
        let booted = fixture("linux-6.1", &format!("{boot}.booted.dtb"));
        let dumped = fixture("linux-6.1", &format!("{boot}.dumped.dtb"));
        assert_eq!(
            unflatten_allocations(&booted).unwrap(),
            unflatten_allocations_for(&booted, &b).unwrap()
        );
        assert_eq!(
            predict_booted(&dumped).unwrap(),
            predict_booted_for(&dumped, &b).unwrap()
        );
    }
}

#[test]
fn version_16_trees_parse_like_the_dumped_ones() {
    for boot in BOOTS {
        let booted = f612(&format!("{boot}.booted.dtb"));
        let dumped = f612(&format!("{boot}.dumped.dtb"));
        let b = parse_dtb(&booted, &DtbOptions::default()).unwrap();
        let d = parse_dtb(&dumped, &DtbOptions::default()).unwrap();
        assert_eq!(b.facts.header.version, 16, "{boot}");
        assert_eq!(b.facts.header.last_comp_version, 16, "{boot}");
        assert_eq!(d.facts.header.version, 17, "{boot}");
        let (bt, dt) = (b.topology.clone(), d.topology.clone());
        assert_eq!(bt.cpus, dt.cpus, "{boot}: CPUs");
        assert_eq!(bt.memory, dt.memory, "{boot}: memory");
        assert_eq!(bt.nodes, dt.nodes, "{boot}: nodes");
        assert!(d.affinity_assumed && !b.affinity_assumed, "{boot}");
        assert_eq!(bt.distances, dt.distances, "{boot}: distances");
        // The partition size the kernel logs, and the node count.
        let cpus = logged(&log(boot), "Partition configured for ", "cpus.");
        assert_eq!(bt.cpus.len() as u64, cpus, "{boot}");
        let nodes = logged(&log(boot), "numa: Partition configured for ", "NUMA nodes.");
        assert_eq!(bt.nodes.len() as u64, nodes, "{boot}");
    }
}

#[test]
fn unflattened_size_matches_the_logged_allocation() {
    for boot in BOOTS {
        let build = build_of(boot);
        let booted = f612(&format!("{boot}.booted.dtb"));
        let want = unflatten_request(&log(boot));
        assert_eq!(
            unflattened_size_for(&booted, &build).unwrap(),
            PhysSize::new(want),
            "{boot}"
        );
        let allocs = unflatten_allocations_for(&booted, &build).unwrap();
        assert_eq!(allocs.tree.align, 8, "{boot}: logged align=0x8");
        assert!(allocs.aliases.is_empty(), "{boot}");
        let count = log(boot).matches("early_init_dt_alloc_memory_arch").count();
        assert_eq!(count, 1 + allocs.aliases.len(), "{boot}");
        // 6.1's smaller struct property gets it wrong: the sizes matter.
        assert!(
            unflattened_size(&booted).unwrap() < PhysSize::new(want),
            "{boot}"
        );
        // The page size plays no part in unflattening.
        let other = OfBuild {
            page_size: 0,
            ..build
        };
        assert_eq!(unflatten_allocations_for(&booted, &other).unwrap(), allocs);
    }
}

#[test]
fn the_same_shape_costs_what_each_kernel_logged() {
    // The same QEMU machine under 6.1 and under 6.12 gives one tree shape (the booted
    // trees differ only in property values): each build's size of either booted tree
    // is what its own kernel logged.
    let pairs = [
        ("r84", "64-r84"),
        ("r84", "4-r84"),
        ("h84", "64-h84"),
        ("h84", "4-h84"),
        ("x", "4-x"),
        ("x", "64-x"),
        ("r42", "4-r42"),
        ("r164", "4-r164"),
        ("r164", "64-r164"),
        ("h164", "4-h164"),
    ];
    for (old_boot, boot) in pairs {
        let old = fixture("linux-6.1", &format!("{old_boot}.booted.dtb"));
        let old_request = unflatten_request(&log_of("linux-6.1", old_boot));
        let new = f612(&format!("{boot}.booted.dtb"));
        let new_request = unflatten_request(&log(boot));
        assert!(old_request < new_request, "{boot}");
        for tree in [&old, &new] {
            assert_eq!(
                unflattened_size_for(tree, &OfBuild::DEBIAN_6_1_64K).unwrap(),
                PhysSize::new(old_request),
                "{old_boot} {boot}"
            );
            assert_eq!(
                unflattened_size_for(tree, &build_of(boot)).unwrap(),
                PhysSize::new(new_request),
                "{old_boot} {boot}"
            );
        }
    }
}

#[test]
fn header_and_reservations_match_the_log() {
    for boot in BOOTS {
        let page = build_of(boot).page_size;
        let booted = f612(&format!("{boot}.booted.dtb"));
        let f = fdt_facts(&booted).unwrap();
        let (start, end) = reserved(boot, "early_init_fdt_reserve_self");
        assert_eq!(f.header.totalsize.as_u64(), end - start, "{boot}");
        assert_eq!(start % page, 0, "{boot}: blob page-aligned");
        let (start, end) = reserved(boot, "early_init_fdt_scan_reserved_mem");
        let rsv: Vec<_> = f
            .mem_reserve
            .iter()
            .map(|&(b, s)| (b.as_u64(), s.as_u64()))
            .collect();
        assert_eq!(rsv, vec![(start, end - start)], "{boot}");
        // RTAS is smaller than a page on QEMU: one page of the build's size.
        assert!(u64::from(f.rtas.size.unwrap()) <= page, "{boot}");
        assert_eq!(end - start, page, "{boot}");
        assert_eq!(f.rtas.base.map(u64::from), Some(start), "{boot}");
        assert_eq!(f.rtas.entry, f.rtas.base, "{boot}");
        let cmdline = log(boot)
            .lines()
            .find_map(|l| l.strip_prefix("Kernel command line: ").map(String::from))
            .unwrap();
        assert_eq!(
            f.chosen.bootargs.as_deref(),
            Some(cmdline.as_str()),
            "{boot}"
        );
        assert_eq!(
            u64::from(f.possible_cpus(2048)),
            logged(&log(boot), "Partition configured for ", "cpus.")
        );
    }
}

#[test]
fn prediction_from_the_dump_matches_the_booted_tree() {
    for boot in BOOTS {
        let build = build_of(boot);
        let booted = f612(&format!("{boot}.booted.dtb"));
        let dumped = f612(&format!("{boot}.dumped.dtb"));
        let f = fdt_facts(&booted).unwrap();
        let p = predict_booted_for(&dumped, &build).unwrap_or_else(|e| panic!("{boot}: {e}"));
        let steps = p.steps.join("\n");
        assert_eq!(
            p.strings_size.as_u64(),
            u64::from(f.header.strings_size),
            "{boot}\n{steps}"
        );
        assert_eq!(
            p.struct_size.as_u64(),
            u64::from(f.header.structure_size),
            "{boot}\n{steps}"
        );
        assert_eq!(p.totalsize, f.header.totalsize, "{boot}\n{steps}");
        assert_eq!(
            p.unflatten,
            unflatten_allocations_for(&booted, &build).unwrap(),
            "{boot}"
        );
        assert_eq!(
            p.unflatten.tree.size,
            PhysSize::new(unflatten_request(&log(boot))),
            "{boot}"
        );
        let (start, end) = reserved(boot, "early_init_fdt_reserve_self");
        assert_eq!(p.blob_address.as_u64(), start, "{boot}: blob address");
        assert_eq!(p.totalsize.as_u64(), end - start, "{boot}");
        assert_eq!(p.mem_reserve, f.mem_reserve, "{boot}: reservation map");
        let (rtas, _) = reserved(boot, "early_init_fdt_scan_reserved_mem");
        assert_eq!(p.rtas_base.map(|a| a.as_u64()), Some(rtas), "{boot}");
        assert_eq!(
            p.rtas_base.map(|a| a.as_u64()),
            f.rtas.base.map(u64::from),
            "{boot}"
        );
        let hash = log(boot).contains("disable_radix");
        assert_eq!(p.mmu == BootMmu::Hash, hash, "{boot}");
        assert_eq!(p.xive, !log(boot).contains("xive=off"), "{boot}");
    }
}

#[test]
fn a_wrong_build_mispredicts() {
    // The 4 KiB boots with 64 KiB pages: the blob, its address and RTAS all move.
    for boot in BOOTS.iter().filter(|b| b.starts_with("4-")) {
        let booted = f612(&format!("{boot}.booted.dtb"));
        let f = fdt_facts(&booted).unwrap();
        let p = predict_booted_for(
            &f612(&format!("{boot}.dumped.dtb")),
            &OfBuild::DEBIAN_6_12_64K,
        )
        .unwrap();
        assert_ne!(p.totalsize, f.header.totalsize, "{boot}");
        assert_ne!(p.mem_reserve, f.mem_reserve, "{boot}");
    }
}

#[test]
fn the_blob_sits_where_prom_init_starts_free_memory() {
    for boot in BOOTS {
        let build = build_of(boot);
        let booted = f612(&format!("{boot}.booted.dtb"));
        let (base, size) = boot_kernel(&booted);
        let loaded_end = PhysAddr::new(base + size);
        let (start, _) = reserved(boot, "early_init_fdt_reserve_self");
        assert_eq!(
            prom_blob_address_for(loaded_end, build.page_size),
            Some(PhysAddr::new(start)),
            "{boot}"
        );
    }
    for boot in ["r84", "h84", "a", "r164"] {
        let booted = fixture("linux-6.1", &format!("{boot}.booted.dtb"));
        let (base, size) = boot_kernel(&booted);
        let loaded_end = PhysAddr::new(base + size);
        let text = log_of("linux-6.1", boot);
        let line = text
            .lines()
            .find(|l| l.contains("early_init_fdt_reserve_self"))
            .unwrap();
        let start = u64::from_str_radix(&line[line.find("[0x").unwrap() + 3..][..16], 16).unwrap();
        assert_eq!(
            prom_blob_address(loaded_end),
            PhysAddr::new(start),
            "{boot}"
        );
        assert_eq!(
            prom_blob_address_for(loaded_end, OfBuild::DEBIAN_6_1_64K.page_size),
            Some(PhysAddr::new(start)),
            "{boot}"
        );
    }
}

#[test]
fn page_sizes_that_are_not_powers_of_two_are_refused() {
    let dump = f612("4-r84.dumped.dtb");
    for page in [0, 3, 0x3000, u64::MAX] {
        let build = OfBuild {
            page_size: page,
            ..OfBuild::DEBIAN_6_12_4K
        };
        let e = predict_booted_for(&dump, &build).unwrap_err();
        assert_eq!(e, PredictError::BadPageSize(page));
        assert!(e.to_string().contains("power of two"), "{e}");
        assert_eq!(prom_blob_address_for(PhysAddr::new(0x1000), page), None);
    }
    assert_eq!(prom_blob_address_for(PhysAddr::MAX, 0x1000), None);
    assert_eq!(
        prom_blob_address_for(PhysAddr::new(u64::MAX - 0x4000), 0x1000),
        None
    );
}

#[test]
fn odd_builds_and_damaged_dumps_never_panic() {
    let builds = [
        OfBuild::DEBIAN_6_12_4K,
        OfBuild {
            page_size: 1,
            ..OfBuild::DEBIAN_6_12_4K
        },
        OfBuild {
            page_size: 1 << 63,
            sizeof_device_node: u64::MAX,
            sizeof_property: u64::MAX,
            sizeof_alias_prop: u64::MAX,
        },
    ];
    let dump = f612("4-x.dumped.dtb");
    for build in &builds {
        let _ = predict_booted_for(&dump, build);
        let _ = unflatten_allocations_for(&dump, build);
    }
    for i in (0..dump.len()).step_by(7) {
        let mut b = dump.clone();
        b[i] ^= 0xff;
        let _ = predict_booted_for(&b, &OfBuild::DEBIAN_6_12_4K);
        let _ = unflatten_allocations_for(&b, &OfBuild::DEBIAN_6_12_4K);
    }
}
