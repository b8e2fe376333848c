//! The booted-tree prediction on real pre-CAS dumps changed in one place each, for the
//! rules the real boots never exercise (found by `cargo mutants`, docs/MUTATION.md):
//! prom_init's missing-phandle rule, hotpluggable memory, a tree that outgrows the first
//! chunk, claims that end or start exactly at the edge of a free range, a small RMO
//! with memory above it, and root cell counts prom_init cannot read.

mod common;

use common::{blob, cells, N};
use topology::{predict_booted_for, prom_blob_address_for, OfBuild, PredictError};

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Reads a flattened tree back into the test writer's nodes (and its boot CPU), so
/// that a real dump can be changed and written again with `common::blob`.
fn parse(b: &[u8]) -> (N, u32) {
    let (off_struct, off_strings) = (be32(b, 8) as usize, be32(b, 12) as usize);
    let boot = be32(b, 28);
    let name_at = |off: usize| {
        let s = &b[off_strings + off..];
        let end = s.iter().position(|&c| c == 0).expect("terminated name");
        String::from_utf8(s[..end].to_vec()).expect("ASCII name")
    };
    let mut stack: Vec<N> = Vec::new();
    let mut at = off_struct;
    loop {
        let token = be32(b, at);
        at += 4;
        match token {
            1 => {
                let end = b[at..].iter().position(|&c| c == 0).expect("node name");
                let name = String::from_utf8(b[at..at + end].to_vec()).expect("ASCII");
                at = (at + end + 1).next_multiple_of(4);
                stack.push(N::new(&name));
            }
            3 => {
                let (len, nameoff) = (be32(b, at) as usize, be32(b, at + 4) as usize);
                let value = b[at + 8..at + 8 + len].to_vec();
                at = (at + 8 + len).next_multiple_of(4);
                let name = name_at(nameoff);
                stack.last_mut().expect("a node").props.push((name, value));
            }
            2 => {
                let done = stack.pop().expect("an open node");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return (done, boot),
                }
            }
            4 => {}
            t => panic!("token {t:#x}"),
        }
    }
}

fn prop<'a>(n: &'a N, name: &str) -> Option<&'a [u8]> {
    n.props.iter().find(|p| p.0 == name).map(|p| p.1.as_slice())
}

fn words(v: &[u8]) -> Vec<u64> {
    v.chunks_exact(4)
        .map(|c| u64::from(u32::from_be_bytes(c.try_into().expect("4"))))
        .collect()
}

/// The real dump of boot `a` (1 GiB, one node; two address and two size cells).
fn dump() -> (N, u32) {
    dump_of("a")
}

fn dump_of(boot: &str) -> (N, u32) {
    let (root, boot) = parse(&fixture(&format!("linux-6.1/{boot}.dumped.dtb")));
    assert_eq!(prop(&root, "#address-cells"), Some(&cells(&[2])[..]));
    assert_eq!(prop(&root, "#size-cells"), Some(&cells(&[2])[..]));
    (root, boot)
}

fn predict(root: &N, boot: u32) -> Result<topology::BootedTreePrediction, PredictError> {
    predict_booted_for(&blob(root, boot), &OfBuild::DEBIAN_6_1_64K)
}

#[test]
fn the_writer_round_trips_the_dump() {
    let (root, boot) = dump();
    let direct =
        predict_booted_for(&fixture("linux-6.1/a.dumped.dtb"), &OfBuild::DEBIAN_6_1_64K).unwrap();
    assert_eq!(predict(&root, boot).unwrap(), direct);
}

fn strip_phandles(n: &mut N) -> usize {
    let before = n.props.len();
    n.props.retain(|p| p.0 != "phandle");
    let mut removed = before - n.props.len();
    for c in &mut n.children {
        removed += strip_phandles(c);
    }
    removed
}

#[test]
fn prom_init_gives_every_node_without_one_a_phandle() {
    // flatten_device_tree writes a 4-byte phandle for every node that has none, so a
    // tree without them flattens to the same structure size (12 + 4 bytes each).
    let (root, boot) = dump();
    let with = predict(&root, boot).unwrap();
    let mut bare = root.clone();
    assert!(strip_phandles(&mut bare) > 1, "the dump has phandles");
    let without = predict(&bare, boot).unwrap();
    assert_eq!(without.struct_size, with.struct_size);
}

fn child<'a>(n: &'a mut N, name: &str) -> &'a mut N {
    n.children
        .iter_mut()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn hotpluggable_memory_is_refused() {
    let (mut root, boot) = dump();
    let rtas = child(&mut root, "rtas");
    let lrdr = prop(rtas, "ibm,lrdr-capacity")
        .expect("lrdr-capacity")
        .to_vec();
    // The dump's memory top is 0 (no maxmem): a non-zero one means hotpluggable memory.
    assert!(lrdr[..8].iter().all(|&b| b == 0), "{lrdr:x?}");
    let mut hot = lrdr.clone();
    hot[..8].copy_from_slice(&0x2_0000_0000u64.to_be_bytes());
    rtas.set("", "ibm,lrdr-capacity", hot);
    match predict(&root, boot) {
        Err(PredictError::Unsupported(why)) => assert!(why.contains("hotpluggable"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_tree_larger_than_the_first_chunk_is_refused() {
    // With 512 KiB pages the three page-aligned parts need 1.5 MiB, above prom_init's
    // 1 MiB chunk.
    let build = OfBuild {
        page_size: 512 << 10,
        ..OfBuild::DEBIAN_6_1_64K
    };
    match predict_booted_for(&fixture("linux-6.1/a.dumped.dtb"), &build) {
        Err(PredictError::Unsupported(why)) => assert!(why.contains("outgrows"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn root_cell_counts_prom_init_cannot_read_are_refused() {
    for (ac, sc) in [(3, 2), (2, 3)] {
        let (mut root, boot) = dump();
        root.set("", "#address-cells", cells(&[ac]));
        root.set("", "#size-cells", cells(&[sc]));
        match predict(&root, boot) {
            Err(PredictError::Unsupported(why)) => {
                assert!(why.contains("root cell counts"), "{ac}/{sc}: {why}")
            }
            other => panic!("{ac}/{sc}: {other:?}"),
        }
    }
}

/// The dump of `boot` with node 0's memory cut to `rmo` bytes, VOF's free memory one
/// range, `[free_from, free_to)`, and a page-sized RTAS.
fn with_memory(boot: &str, rmo: u64, free_from: u64, free_to: u64) -> (N, u32) {
    with_memory_rtas(boot, rmo, free_from, free_to, 0x1_0000)
}

/// As [`with_memory`], with an RTAS of `rtas_size` bytes (0: none to instantiate).
fn with_memory_rtas(
    boot: &str,
    rmo: u64,
    free_from: u64,
    free_to: u64,
    rtas_size: u32,
) -> (N, u32) {
    let (mut root, boot) = dump_of(boot);
    let split = |v: u64| [(v >> 32) as u32, v as u32];
    let m0 = child(&mut root, "memory@0");
    let reg = words(prop(m0, "reg").expect("reg"));
    assert_eq!(reg[..2], [0, 0], "memory@0 starts at 0");
    let r = split(rmo);
    m0.set("", "reg", cells(&[0, 0, r[0], r[1]]));
    let (a, b) = (split(free_from), split(free_to - free_from));
    m0.set("", "available", cells(&[a[0], a[1], b[0], b[1]]));
    child(&mut root, "rtas").set("", "rtas-size", cells(&[rtas_size]));
    (root, boot)
}

fn kernel_end(root: &N) -> u64 {
    let chosen = root
        .children
        .iter()
        .find(|c| c.name == "chosen")
        .expect("chosen");
    let k = words(prop(chosen, "qemu,boot-kernel").expect("boot-kernel"));
    ((k[0] << 32) | k[1]) + ((k[2] << 32) | k[3])
}

fn available_ranges(p: &topology::BootedTreePrediction) -> usize {
    let step = p
        .steps
        .iter()
        .find(|s| s.contains("VOF's available now has"))
        .expect("the claim step");
    step.rsplit("now has ")
        .next()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{step}"))
}

#[test]
fn claims_flush_with_a_free_range_leave_no_empty_range() {
    // Free memory is exactly [bottom, RMO top): RTAS (one 64 KiB page) is claimed at its
    // top end, the 1 MiB chunk at its bottom; one range is left, between them.
    let page = OfBuild::DEBIAN_6_1_64K.page_size;
    let rmo: u64 = 256 << 20;
    let (probe, _) = dump();
    let bottom = prom_blob_address_for(phys::PhysAddr::new(kernel_end(&probe)), page)
        .expect("bottom")
        .as_u64();
    let (root, boot) = with_memory("a", rmo, bottom, rmo);
    let p = predict(&root, boot).unwrap();
    assert_eq!(p.rtas_base.map(|a| a.as_u64()), Some(rmo - 0x1_0000));
    assert_eq!(p.blob_address.as_u64(), bottom);
    assert_eq!(available_ranges(&p), 1, "{:#?}", p.steps);
}

#[test]
fn the_rmo_is_the_memory_at_0_not_the_top_of_ram() {
    // Boot `b` has two 1 GiB nodes; with node 0 cut to 256 MiB the RAM still reaches
    // 2 GiB, but the RMO (and RTAS below its top) is node 0's 256 MiB.
    // The extra 512 KiB keep alloc_down's 1 MiB retries from the 768 MiB cap off the
    // address RTAS gets below the real RMO top.
    let rmo: u64 = (256 << 20) + (512 << 10);
    let (root, boot) = with_memory("b", rmo, 0x400_0000, rmo);
    let p = predict(&root, boot).unwrap();
    assert_eq!(p.rtas_base.map(|a| a.as_u64()), Some(rmo - 0x1_0000));
}

#[test]
fn rtas_is_never_claimed_at_the_bottom_itself() {
    // prom_init's alloc_down tries page-aligned bases 1 MiB apart while they are above
    // alloc_bottom: with free memory only at the bottom, RTAS finds no room even though
    // the 4th retry lands exactly there.
    let page = OfBuild::DEBIAN_6_1_64K.page_size;
    let (probe, _) = dump();
    let bottom = prom_blob_address_for(phys::PhysAddr::new(kernel_end(&probe)), page)
        .expect("bottom")
        .as_u64();
    let rmo = bottom + 0x1_0000 + (4 << 20);
    let (root, boot) = with_memory("a", rmo, bottom, bottom + 0x1_0000);
    match predict(&root, boot) {
        Err(PredictError::Unsupported(why)) => {
            assert!(why.contains("no room to instantiate RTAS"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn iommu_options_add_their_chosen_flags() {
    for (args, flag) in [
        ("iommu=off", "linux,iommu-off"),
        ("quiet iommu=force", "linux,iommu-force-on"),
    ] {
        let (mut root, boot) = dump();
        child(&mut root, "chosen").set("", "bootargs", common::string(args));
        let p = predict(&root, boot).unwrap();
        assert!(
            p.steps
                .iter()
                .any(|s| s.contains(&format!("/chosen/{flag} added"))),
            "{args}: {:#?}",
            p.steps
        );
    }
}

#[test]
fn less_than_a_page_for_the_tree_is_refused() {
    // RTAS takes the top 64 KiB page of a 128 KiB RMO above the bottom; what is left,
    // minus prom_init's 16 KiB, is below a page.
    let page = OfBuild::DEBIAN_6_1_64K.page_size;
    let (probe, _) = dump();
    let bottom = prom_blob_address_for(phys::PhysAddr::new(kernel_end(&probe)), page)
        .expect("bottom")
        .as_u64();
    let rmo = bottom + 2 * page;
    let (root, boot) = with_memory("a", rmo, bottom, rmo);
    match predict(&root, boot) {
        Err(PredictError::Unsupported(why)) => assert!(why.contains("less than a page"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// alloc_bottom of boot `a` with 64 KiB pages.
fn bottom_of_a() -> u64 {
    let (probe, _) = dump();
    prom_blob_address_for(phys::PhysAddr::new(kernel_end(&probe)), 0x1_0000)
        .expect("bottom")
        .as_u64()
}

#[test]
fn an_rtas_of_size_0_is_not_instantiated() {
    let bottom = bottom_of_a();
    let rmo: u64 = 256 << 20;
    let (root, boot) = with_memory_rtas("a", rmo, bottom, rmo, 0);
    let p = predict(&root, boot).unwrap();
    assert_eq!(p.rtas_base, None);
    assert!(p.mem_reserve.is_empty(), "{:?}", p.mem_reserve);
}

#[test]
fn a_chunk_of_exactly_the_tree_or_a_page_is_enough() {
    let page = 0x1_0000;
    let bottom = bottom_of_a();
    // Boot `a` flattens to three 64 KiB pages (header, strings, structure).
    let (full, boot) = dump();
    assert_eq!(predict(&full, boot).unwrap().totalsize.as_u64(), 3 * page);
    // Without RTAS the RMO top bounds the chunk: 16 KiB of gap, then the chunk.
    let rmo = bottom + 0x4000 + 3 * page;
    let (root, boot) = with_memory_rtas("a", rmo, bottom, rmo, 0);
    let p = predict(&root, boot).unwrap();
    assert_eq!(p.blob_address.as_u64(), bottom);
    assert_eq!(p.totalsize.as_u64(), 3 * page);
    // A chunk of exactly one page passes the page check and then fails on size.
    let rmo = bottom + 0x4000 + page;
    let (root, boot) = with_memory_rtas("a", rmo, bottom, rmo, 0);
    match predict(&root, boot) {
        Err(PredictError::Unsupported(why)) => assert!(why.contains("outgrows"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_size_cell_shortens_reg_and_available_entries() {
    // The same machine with `#size-cells = 1`: memory@0's reg and VOF's available are
    // re-encoded with 3-cell entries; prom_init reads them alike, and the structure
    // shrinks by 4 bytes per entry (one reg entry, and every range left in available).
    let (root, boot) = dump();
    let wide = predict(&root, boot).unwrap();
    let mut narrow = root.clone();
    narrow.set("", "#size-cells", cells(&[1]));
    let m0 = child(&mut narrow, "memory@0");
    for name in ["reg", "available"] {
        let w = words(prop(m0, name).expect(name));
        let entries: Vec<u32> = w
            .chunks_exact(4)
            .flat_map(|e| {
                assert_eq!(e[2], 0, "{name}: a size above 4 GiB");
                [e[0] as u32, e[1] as u32, e[3] as u32]
            })
            .collect();
        m0.set("", name, cells(&entries));
    }
    let p = predict(&narrow, boot).unwrap();
    let ranges = available_ranges(&wide) as u64;
    assert_eq!(available_ranges(&p) as u64, ranges);
    assert_eq!(p.rtas_base, wide.rtas_base);
    assert_eq!(p.blob_address, wide.blob_address);
    assert_eq!(
        p.struct_size.as_u64(),
        wide.struct_size.as_u64() - 4 - 4 * ranges
    );
}

#[test]
fn nodes_prom_init_would_extend_are_refused() {
    for node in [
        N::new("vtpm@71000003"),
        N::new("vga").p("device_type", common::string("display")),
    ] {
        let (mut root, boot) = dump();
        let name = node.name.clone();
        root.children.push(node);
        match predict(&root, boot) {
            Err(PredictError::Unsupported(why)) => {
                assert!(why.contains("would add properties"), "{name}: {why}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}
