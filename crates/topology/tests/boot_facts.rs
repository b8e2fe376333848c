//! Boot facts on hand-built trees: version 16 framing, the reservation block,
//! `/reserved-memory`, `/chosen`, `/rtas`, possible CPUs, aliases and `crashkernel=`.

mod common;

use common::{blob, cells, guest, string, N};
use phys::{PhysAddr, PhysSize};
use topology::{
    fdt_facts, parse_crashkernel, parse_dtb, unflatten_allocations, unflattened_size, BlobError,
    CrashKernel, CrashRange, DtbError, DtbOptions, DynamicReservation, ReservedRegion,
    SIZEOF_ALIAS_PROP, SIZEOF_DEVICE_NODE, SIZEOF_PROPERTY,
};

fn be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn put(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// The blob with these reservation entries before the terminator.
fn with_rsv(root: &N, entries: &[(u64, u64)]) -> Vec<u8> {
    let mut b = blob(root, 0);
    let extra: Vec<u8> = entries
        .iter()
        .flat_map(|&(a, s)| a.to_be_bytes().into_iter().chain(s.to_be_bytes()))
        .collect();
    let n = extra.len() as u32;
    b.splice(40..40, extra);
    for at in [4, 8, 12] {
        let v = be(&b, at);
        put(&mut b, at, v + n);
    }
    b
}

/// The same blob framed as prom_init frames it: version 16, no size_dt_struct.
fn as_v16(mut b: Vec<u8>) -> Vec<u8> {
    put(&mut b, 20, 16);
    put(&mut b, 24, 16);
    put(&mut b, 36, 0);
    b
}

#[test]
fn version_16_reads_like_17_and_needs_fdt_end() {
    let v17 = blob(&guest(), 8);
    let v16 = as_v16(v17.clone());
    let o = DtbOptions::default();
    assert_eq!(
        parse_dtb(&v16, &o).unwrap().topology,
        parse_dtb(&v17, &o).unwrap().topology
    );
    let f = fdt_facts(&v16).unwrap();
    assert_eq!((f.header.version, f.header.last_comp_version), (16, 16));
    assert_eq!(f.header.boot_cpuid_phys, 8);
    assert_eq!(f.header.totalsize.as_u64(), v16.len() as u64);
    assert_eq!(
        u64::from(f.header.structure_size),
        u64::from(be(&v17, 36)),
        "walked structure size is size_dt_struct"
    );
    // Without FDT_END (made a NOP) the walk must stop at totalsize, not run past it.
    let strings_at = be(&v16, 12) as usize;
    let mut cut = v16.clone();
    assert_eq!(be(&cut, strings_at - 4), 9);
    put(&mut cut, strings_at - 4, 4);
    let e = fdt_facts(&cut).unwrap_err();
    assert!(
        matches!(e, DtbError::Blob(BlobError::Structure { .. })),
        "{e}"
    );
    // Versions below 16 name nodes by path: refused.
    let mut old = v16.clone();
    put(&mut old, 20, 15);
    assert!(matches!(
        fdt_facts(&old),
        Err(DtbError::Blob(BlobError::Version { version: 15, .. }))
    ));
}

#[test]
fn reservation_block_in_order_and_terminated() {
    let entries = [(0x2fff_0000, 0x1_0000), (0x1000_0000, 0x20_0000)];
    let b = with_rsv(&guest(), &entries);
    let f = fdt_facts(&b).unwrap();
    let got: Vec<_> = f
        .mem_reserve
        .iter()
        .map(|&(a, s)| (a.as_u64(), s.as_u64()))
        .collect();
    assert_eq!(got, entries);
    // Point the block at the strings' tail: no terminator before totalsize.
    let mut bad = b.clone();
    let end = bad.len() as u32;
    put(&mut bad, 16, end - 20);
    let e = fdt_facts(&bad).unwrap_err();
    assert!(
        matches!(e, DtbError::Blob(BlobError::MemReserve { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("terminator"), "{e}");
}

fn reserved_memory(children: Vec<N>) -> N {
    let mut rm = N::new("reserved-memory")
        .p("#address-cells", cells(&[2]))
        .p("#size-cells", cells(&[2]))
        .p("ranges", vec![]);
    rm.children = children;
    guest().c(rm)
}

#[test]
fn reserved_memory_static_and_dynamic() {
    let root = reserved_memory(vec![
        N::new("fw@10000000")
            .p(
                "reg",
                cells(&[0, 0x1000_0000, 0, 0x10_0000, 0, 0x2000_0000, 0, 0]),
            )
            .p("no-map", vec![]),
        N::new("off@0")
            .p("reg", cells(&[0, 0, 0, 0x1000]))
            .p("status", string("disabled")),
        N::new("bad@0").p("reg", cells(&[0, 0, 0])),
        N::new("cma")
            .p("size", cells(&[0, 0x400_0000]))
            .p("alignment", cells(&[0, 0x100_0000]))
            .p("alloc-ranges", cells(&[0, 0, 0, 0x4000_0000])),
        N::new("badsize").p("size", cells(&[0x400_0000])),
    ]);
    let f = fdt_facts(&blob(&root, 0)).unwrap();
    let rm = &f.reserved_memory;
    assert!(rm.present && rm.usable);
    assert_eq!(
        rm.regions,
        vec![ReservedRegion {
            name: "fw@10000000".into(),
            base: PhysAddr::new(0x1000_0000),
            size: PhysSize::new(0x10_0000),
            no_map: true,
        }]
    );
    assert_eq!(
        rm.dynamic,
        vec![DynamicReservation {
            name: "cma".into(),
            size: PhysSize::new(0x400_0000),
            alignment: Some(PhysSize::new(0x100_0000)),
            alloc_ranges: vec![(PhysAddr::new(0), PhysSize::new(0x4000_0000))],
            no_map: false,
        }]
    );
    // The empty entry, the partial reg and the narrow size each warn.
    assert_eq!(f.warnings.len(), 3, "{:?}", f.warnings);

    // Cell counts other than the root's: Linux ignores the whole node.
    let mut root = reserved_memory(vec![N::new("x@0").p("reg", cells(&[0, 0x1000]))]);
    root.set("reserved-memory", "#address-cells", cells(&[1]));
    root.set("reserved-memory", "#size-cells", cells(&[1]));
    let f = fdt_facts(&blob(&root, 0)).unwrap();
    assert!(f.reserved_memory.present && !f.reserved_memory.usable);
    assert!(f.reserved_memory.regions.is_empty());
}

#[test]
fn chosen_initrd_bootargs_and_crashkernel() {
    let mut root = guest();
    root.set("chosen", "linux,initrd-start", cells(&[0x0200_0000]));
    root.set("chosen", "linux,initrd-end", cells(&[0, 0x0280_0000]));
    root.set(
        "chosen",
        "bootargs",
        string("quiet crashkernel=1G-4G:256M,4G-:512M@32M crashkernel=64M,high"),
    );
    let f = fdt_facts(&blob(&root, 0)).unwrap();
    assert_eq!(
        f.chosen.initrd,
        Some((PhysAddr::new(0x0200_0000), PhysAddr::new(0x0280_0000)))
    );
    assert!(f.chosen.bootargs.as_deref().unwrap().starts_with("quiet"));
    let ck = f.chosen.crashkernel.unwrap();
    let g = |x: u64| PhysSize::new(x << 30);
    assert_eq!(
        ck,
        CrashKernel::Ranges {
            ranges: vec![
                CrashRange {
                    start: g(1),
                    end: Some(g(4)),
                    size: PhysSize::new(256 << 20)
                },
                CrashRange {
                    start: g(4),
                    end: None,
                    size: PhysSize::new(512 << 20)
                },
            ],
            offset: Some(PhysAddr::new(32 << 20)),
        }
    );
    assert_eq!(ck.reservation(PhysSize::new(512 << 20)), None);
    assert_eq!(
        ck.reservation(g(2)),
        Some((PhysSize::new(256 << 20), Some(PhysAddr::new(32 << 20))))
    );
    assert_eq!(ck.reservation(g(64)).unwrap().0, PhysSize::new(512 << 20));

    // Start above end: Linux ignores the initrd.
    root.set("chosen", "linux,initrd-end", cells(&[0x100]));
    let f = fdt_facts(&blob(&root, 0)).unwrap();
    assert_eq!(f.chosen.initrd, None);
    assert!(f.warnings.iter().any(|w| w.contains("initrd")));
}

#[test]
fn crashkernel_forms() {
    let fixed = |s: &str| parse_crashkernel(s).unwrap();
    assert_eq!(fixed("ro"), None);
    assert_eq!(
        fixed("crashkernel=0x10000000@64M"),
        Some(CrashKernel::Fixed {
            size: PhysSize::new(0x1000_0000),
            offset: Some(PhysAddr::new(64 << 20)),
        })
    );
    // Octal, as C's strtoull reads a leading 0; the last option wins.
    assert_eq!(
        fixed("crashkernel=1G crashkernel=010K"),
        Some(CrashKernel::Fixed {
            size: PhysSize::new(8 << 10),
            offset: None,
        })
    );
    // A size not below RAM in an entry before the match voids the whole option.
    let ck = fixed("crashkernel=0-:2G").unwrap();
    assert_eq!(ck.reservation(PhysSize::new(1 << 30)), None);
    assert_eq!(
        ck.reservation(PhysSize::new(4 << 30)),
        Some((PhysSize::new(2 << 30), None))
    );
    for bad in [
        "crashkernel=",
        "crashkernel=X",
        "crashkernel=1G-512M:64M",
        "crashkernel=1G:64M",
        "crashkernel=64Mx",
        "crashkernel=99999999999999999999",
        "crashkernel=16E",
    ] {
        assert!(parse_crashkernel(bad).is_err(), "{bad}");
    }
}

fn rtas_guest(lrdr: &[u32], threads: u32, hypertas: bool) -> N {
    let mut root = guest();
    root.set("rtas", "ibm,lrdr-capacity", cells(lrdr));
    if hypertas {
        root.set("rtas", "ibm,hypertas-functions", string("hcall-splpar"));
    }
    let ids: Vec<u32> = (0..threads).collect();
    root.set(
        "cpus/PowerPC,POWER9@0",
        "ibm,ppc-interrupt-server#s",
        cells(&ids),
    );
    let ids: Vec<u32> = (8..8 + threads).collect();
    root.set(
        "cpus/PowerPC,POWER9@8",
        "ibm,ppc-interrupt-server#s",
        cells(&ids),
    );
    root
}

#[test]
fn possible_cpus_follow_smp_setup_cpu_maps() {
    // maxcpus is the cell after the root's 2 + 2 cells, times the threads per core.
    let f = fdt_facts(&blob(&rtas_guest(&[0, 0, 0, 0x1000_0000, 6], 4, true), 0)).unwrap();
    assert_eq!(f.rtas.lrdr_max_cpus, Some(6));
    assert_eq!(f.cpu_node_threads, vec![4, 4]);
    assert_eq!(f.possible_cpus(2048), 24);
    assert_eq!(f.possible_cpus(16), 16);
    assert_eq!(f.possible_cpus(5), 5);
    // Fewer than the threads in the tree: the tree's threads still count.
    let f = fdt_facts(&blob(&rtas_guest(&[0, 0, 0, 0x1000_0000, 1], 4, true), 0)).unwrap();
    assert_eq!(f.possible_cpus(2048), 8);
    // Not an LPAR (no ibm,hypertas-functions): the tree's threads only.
    let f = fdt_facts(&blob(&rtas_guest(&[0, 0, 0, 0x1000_0000, 6], 2, false), 0)).unwrap();
    assert!(!f.rtas.lpar);
    assert_eq!(f.possible_cpus(2048), 4);
    // A property too short for the maxcpus cell is a warning, and is not used.
    let f = fdt_facts(&blob(&rtas_guest(&[0, 0, 0, 1], 2, true), 0)).unwrap();
    assert_eq!(f.rtas.lrdr_max_cpus, None);
    assert_eq!(f.possible_cpus(2048), 4);
    assert!(f.warnings.iter().any(|w| w.contains("lrdr")));
}

#[test]
fn unflattened_size_counts_nodes_properties_and_made_up_names() {
    let small = N::new("")
        .c(N::new("a@1").p("x", vec![1, 2, 3]))
        .c(N::new("chosen")
            .p("rng-seed", vec![0; 32])
            .p("name", string("chosen")));
    // Root: node + "" + made-up name "" (1 byte); a@1: node + 4, one property, made-up
    // "a" (2 bytes); chosen: node + 7, name kept, rng-seed dropped by the kernel.
    let a = |x: u64| x.div_ceil(8) * 8;
    let mut want = a(SIZEOF_DEVICE_NODE + 1) + a(SIZEOF_PROPERTY + 1);
    want += a(SIZEOF_DEVICE_NODE + 4) + SIZEOF_PROPERTY + a(SIZEOF_PROPERTY + 2);
    want += a(SIZEOF_DEVICE_NODE + 7) + SIZEOF_PROPERTY;
    let want = want.div_ceil(4) * 4 + 4;
    assert_eq!(unflattened_size(&blob(&small, 0)).unwrap().as_u64(), want);
}

#[test]
fn alias_allocations_follow_of_alias_scan() {
    let root = guest().c(N::new("aliases")
        .p("serial0", string("/cpus/PowerPC,POWER9@0"))
        .p("disk", string("/memory@0"))
        .p("nothere1", string("/nope"))
        .p("net12", string("/memory@0:opts"))
        .p("via3", string("serial0"))
        .p("phandle", cells(&[7])));
    let allocs = unflatten_allocations(&blob(&root, 0)).unwrap();
    let got: Vec<_> = allocs
        .aliases
        .iter()
        .map(|a| (a.what.as_str(), a.size.as_u64(), a.align))
        .collect();
    let sz = |stem: &str| SIZEOF_ALIAS_PROP + stem.len() as u64 + 1;
    assert_eq!(
        got,
        vec![
            ("alias serial0", sz("serial"), 8),
            ("alias net12", sz("net"), 8),
            ("alias via3", sz("via"), 8),
        ]
    );
}
