//! Real boots of the Debian 6.1 ppc64le kernel under QEMU 7.2 pseries (VOF), eleven
//! shapes (`fixtures/linux-6.1/README.md`): the version 16 tree prom_init wrote (read
//! out of guest memory), QEMU's pre-CAS dump of the same machine, and the console
//! log (`memblock=debug`) the numbers are checked against.

mod common;

use common::boots;
use phys::PhysSize;
use topology::{
    fdt_facts, parse_dtb, predict_booted, unflatten_allocations, unflattened_size, BootMmu,
    DtbOptions, PredictError,
};

const BOOTS: [&str; 12] = [
    "r84", "h84", "a", "b", "bh", "m", "n", "x", "r42", "h164", "r164", "xive",
];

fn fixture(name: &str) -> Vec<u8> {
    boots::fixture("linux-6.1", name)
}

fn log(boot: &str) -> String {
    boots::log("linux-6.1", boot)
}

fn logged(boot: &str, prefix: &str, tag: &str) -> u64 {
    boots::logged(&log(boot), prefix, tag)
}

fn reserved(boot: &str, caller: &str) -> (u64, u64) {
    boots::reserved(&log(boot), caller)
}

#[test]
fn version_16_trees_parse_like_the_dumped_ones() {
    for boot in BOOTS {
        let booted = fixture(&format!("{boot}.booted.dtb"));
        let dumped = fixture(&format!("{boot}.dumped.dtb"));
        let b = parse_dtb(&booted, &DtbOptions::default()).unwrap();
        let d = parse_dtb(&dumped, &DtbOptions::default()).unwrap();
        assert_eq!(b.facts.header.version, 16, "{boot}");
        assert_eq!(b.facts.header.last_comp_version, 16, "{boot}");
        assert_eq!(d.facts.header.version, 17, "{boot}");
        let t = |r: &topology::DtbReport| r.topology.clone();
        let (bt, dt) = (t(&b), t(&d));
        assert_eq!(bt.cpus, dt.cpus, "{boot}: CPUs");
        assert_eq!(bt.memory, dt.memory, "{boot}: memory");
        assert_eq!(bt.nodes, dt.nodes, "{boot}: nodes");
        // The booted tree has FORM2 tables (negotiated); the dump is read as FORM1.
        assert!(d.affinity_assumed && !b.affinity_assumed, "{boot}");
        assert_eq!(bt.distances, dt.distances, "{boot}: distances");
    }
}

#[test]
fn unflattened_size_matches_the_logged_allocation() {
    for boot in BOOTS {
        let booted = fixture(&format!("{boot}.booted.dtb"));
        let want = logged(
            boot,
            "memblock_alloc_try_nid: ",
            "early_init_dt_alloc_memory_arch",
        );
        assert_eq!(
            unflattened_size(&booted).unwrap(),
            PhysSize::new(want),
            "{boot}"
        );
        let allocs = unflatten_allocations(&booted).unwrap();
        assert_eq!(allocs.tree.align, 8, "{boot}: logged align=0x8");
        // QEMU writes no /aliases, and the log shows no alias allocation.
        assert!(allocs.aliases.is_empty(), "{boot}");
        let count = log(boot).matches("early_init_dt_alloc_memory_arch").count();
        assert_eq!(count, 1 + allocs.aliases.len(), "{boot}");
    }
}

#[test]
fn header_and_reservations_match_the_log() {
    for boot in BOOTS {
        let booted = fixture(&format!("{boot}.booted.dtb"));
        let f = fdt_facts(&booted).unwrap();
        let (start, end) = reserved(boot, "early_init_fdt_reserve_self");
        assert_eq!(f.header.totalsize.as_u64(), end - start, "{boot}");
        let (start, end) = reserved(boot, "early_init_fdt_scan_reserved_mem");
        let rsv: Vec<_> = f
            .mem_reserve
            .iter()
            .map(|&(b, s)| (b.as_u64(), s.as_u64()))
            .collect();
        assert_eq!(rsv, vec![(start, end - start)], "{boot}");
        // prom_init's RTAS instantiation is what that entry reserves.
        assert_eq!(f.rtas.base.map(u64::from), Some(start), "{boot}");
        assert_eq!(f.rtas.entry, f.rtas.base, "{boot}");
        assert!(f.rtas.lpar && f.rtas.size.is_some(), "{boot}");
        assert_eq!(f.chosen.initrd, None);
        assert_eq!(f.chosen.crashkernel, None);
        let cmdline = log(boot)
            .lines()
            .find_map(|l| l.strip_prefix("Kernel command line: ").map(String::from))
            .unwrap();
        assert_eq!(
            f.chosen.bootargs.as_deref(),
            Some(cmdline.as_str()),
            "{boot}"
        );
    }
}

#[test]
fn possible_cpus_match_the_partition_size_logged() {
    for boot in BOOTS {
        let f = fdt_facts(&fixture(&format!("{boot}.booted.dtb"))).unwrap();
        let want = logged(boot, "Partition configured for ", "cpus.");
        // Debian's NR_CPUS; the present CPUs never exceed what the log says.
        assert_eq!(u64::from(f.possible_cpus(2048)), want, "{boot}");
        assert!(f.cpu_node_threads.len() as u64 <= want, "{boot}");
        // A smaller nr_cpu_ids caps the count.
        assert_eq!(f.possible_cpus(2), 2, "{boot}");
    }
}

#[test]
fn prediction_from_the_dump_matches_the_booted_tree() {
    for boot in BOOTS {
        let booted = fixture(&format!("{boot}.booted.dtb"));
        let f = fdt_facts(&booted).unwrap();
        let p = predict_booted(&fixture(&format!("{boot}.dumped.dtb")))
            .unwrap_or_else(|e| panic!("{boot}: {e}"));
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
        assert_eq!(p.totalsize, f.header.totalsize, "{boot}");
        assert_eq!(
            p.unflatten,
            unflatten_allocations(&booted).unwrap(),
            "{boot}"
        );
        let (start, _) = reserved(boot, "early_init_fdt_reserve_self");
        assert_eq!(p.blob_address.as_u64(), start, "{boot}: blob address");
        assert_eq!(p.mem_reserve, f.mem_reserve, "{boot}: reservation map");
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
fn a_booted_tree_is_not_predicted_from() {
    let e = predict_booted(&fixture("r84.booted.dtb")).unwrap_err();
    assert_eq!(e, PredictError::NotPreCasDump);
    assert!(e.to_string().contains("pre-CAS"), "{e}");
}

#[test]
fn damaged_dumps_never_panic() {
    // Every 5th byte of a real dump flipped, and every 97th prefix: errors or
    // predictions, never a panic.
    let dump = fixture("a.dumped.dtb");
    for i in (0..dump.len()).step_by(5) {
        let mut b = dump.clone();
        b[i] ^= 0xff;
        let _ = predict_booted(&b);
        let _ = unflatten_allocations(&b);
        let _ = fdt_facts(&b).map(|f| f.possible_cpus(2048));
    }
    for cut in (0..dump.len()).step_by(97) {
        let _ = predict_booted(&dump[..cut]);
    }
}
