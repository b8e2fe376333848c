//! `fdt_facts` on `/reserved-memory` and `/rtas` with root cell counts other than QEMU's
//! 2 + 2 (docs/MUTATION.md): Linux's `early_init_fdt_scan_reserved_mem` only uses the
//! node when its `#address-cells`/`#size-cells` equal the root's and it has `ranges`,
//! and reads `reg` in entries of that many cells; `smp_setup_cpu_maps` finds `maxcpus`
//! in `ibm,lrdr-capacity` after the root's address and size cells.

mod common;

use common::{blob, cells, guest, N};
use topology::fdt_facts;

/// The small guest with root cells `ac`/`sc` and a `/reserved-memory` of its own cells
/// `rm_ac`/`rm_sc` (with `ranges` when `ranges`), holding `children`.
fn tree(ac: u32, sc: u32, rm_ac: u32, rm_sc: u32, ranges: bool, children: Vec<N>) -> Vec<u8> {
    let mut t = guest();
    t.set("", "#address-cells", cells(&[ac]));
    t.set("", "#size-cells", cells(&[sc]));
    let mut rm = N::new("reserved-memory")
        .p("#address-cells", cells(&[rm_ac]))
        .p("#size-cells", cells(&[rm_sc]));
    if ranges {
        rm = rm.p("ranges", Vec::new());
    }
    for c in children {
        rm = rm.c(c);
    }
    t.children.push(rm);
    blob(&t, 0)
}

fn fw(reg: &[u32]) -> N {
    N::new("fw@0").p("reg", cells(reg))
}

#[test]
fn reserved_memory_needs_the_roots_cells_and_ranges() {
    let ok = fdt_facts(&tree(
        2,
        2,
        2,
        2,
        true,
        vec![fw(&[0, 0x1000_0000, 0, 0x10_0000])],
    ))
    .unwrap();
    let rm = &ok.reserved_memory;
    assert!(rm.present && rm.usable, "{rm:?}");
    assert_eq!(rm.regions.len(), 1);
    assert_eq!(rm.regions[0].base.as_u64(), 0x1000_0000);
    assert_eq!(rm.regions[0].size.as_u64(), 0x10_0000);
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);

    // One difference at a time: size cells, address cells, no ranges.
    for (rm_ac, rm_sc, ranges) in [(2, 1, true), (1, 2, true), (2, 2, false)] {
        let f = fdt_facts(&tree(2, 2, rm_ac, rm_sc, ranges, vec![fw(&[0, 1, 0, 1])])).unwrap();
        let rm = &f.reserved_memory;
        assert!(rm.present && !rm.usable, "{rm_ac}/{rm_sc} {ranges}: {rm:?}");
        assert!(rm.regions.is_empty());
        assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
    }
}

/// Regions are read in entries of the root's cells: 2 + 1 cells (12 bytes) here, two
/// entries; 1 to 4 cells of each are accepted, 0 or 5 are not.
#[test]
fn reserved_memory_entries_follow_the_cell_counts() {
    let f = fdt_facts(&tree(
        2,
        1,
        2,
        1,
        true,
        vec![fw(&[0, 0x1000_0000, 0x1000, 0, 0x2000_0000, 0x2000])],
    ))
    .unwrap();
    let got: Vec<_> = f
        .reserved_memory
        .regions
        .iter()
        .map(|r| (r.base.as_u64(), r.size.as_u64()))
        .collect();
    assert_eq!(got, [(0x1000_0000, 0x1000), (0x2000_0000, 0x2000)]);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);

    // A reg of 8 bytes with 2 + 2 cells is not a whole entry: skipped with a warning.
    let f = fdt_facts(&tree(2, 2, 2, 2, true, vec![fw(&[0, 0x1000])])).unwrap();
    assert!(f.reserved_memory.regions.is_empty());
    assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);

    // Four cells each: usable, entries of 32 bytes.
    let f = fdt_facts(&tree(
        4,
        4,
        4,
        4,
        true,
        vec![fw(&[0, 0, 0, 0x4000, 0, 0, 0, 0x100])],
    ))
    .unwrap();
    assert!(f.reserved_memory.usable);
    assert_eq!(f.reserved_memory.regions.len(), 1, "{:?}", f.warnings);
    assert_eq!(f.reserved_memory.regions[0].base.as_u64(), 0x4000);
    // Five, or none, of either: nothing can be described, with one warning. Each reg is
    // whole entries of what the cells would give if they were accepted (5 + 2 cells; 2
    // cells), so a wrongly accepted one would show as regions (sizes not 0) or as one
    // empty-entry warning per entry (no size cells).
    let seven = [0, 0, 0, 0, 0x1000, 0, 0x100];
    let eight = [0, 0x100, 0, 0x100, 0, 0x100, 0, 0x100];
    for (ac, sc, reg) in [
        (5, 2, &seven[..]),
        (2, 5, &seven[..]),
        (0, 2, &eight[..]),
        (2, 0, &eight[..]),
    ] {
        let f = fdt_facts(&tree(ac, sc, ac, sc, true, vec![fw(reg)])).unwrap();
        assert!(f.reserved_memory.regions.is_empty(), "{ac}/{sc}");
        assert_eq!(f.warnings.len(), 1, "{ac}/{sc}: {:?}", f.warnings);
    }
}

/// `ibm,lrdr-capacity` is <address, size, maxcpus, ...>: with 2 + 1 root cells the
/// `maxcpus` cell is the fourth.
#[test]
fn lrdr_capacity_maxcpus_follows_the_roots_cells() {
    let mut t = guest();
    t.set("", "#size-cells", cells(&[1]));
    t.set(
        "rtas",
        "ibm,lrdr-capacity",
        cells(&[0, 0x4000_0000, 0x1000_0000, 64, 0x10000]),
    );
    let f = fdt_facts(&blob(&t, 0)).unwrap();
    assert_eq!(f.rtas.lrdr_max_cpus, Some(64));
}

/// A dynamic reservation (no `reg`): `size` of `#size-cells`, `alignment` of
/// `#address-cells`, `alloc-ranges` in whole entries; Linux's
/// `__reserved_mem_alloc_size` skips the node when any of them has another length.
#[test]
fn dynamic_reservations_need_properties_of_the_right_width() {
    let dynamic = |alignment: Vec<u8>, ranges: Vec<u8>| {
        N::new("buf")
            .p("size", cells(&[0, 0x40_0000]))
            .p("alignment", alignment)
            .p("alloc-ranges", ranges)
    };
    let good = dynamic(cells(&[0, 0x1_0000]), cells(&[0, 0, 0, 0x4000_0000]));
    let f = fdt_facts(&tree(2, 2, 2, 2, true, vec![good])).unwrap();
    let d = &f.reserved_memory.dynamic;
    assert_eq!(d.len(), 1, "{:?}", f.warnings);
    assert_eq!(d[0].size.as_u64(), 0x40_0000);
    assert_eq!(d[0].alignment.map(|a| a.as_u64()), Some(0x1_0000));
    assert_eq!(d[0].alloc_ranges.len(), 1);
    assert_eq!(d[0].alloc_ranges[0].1.as_u64(), 0x4000_0000);

    let bad = [
        // alignment of one cell where the root has two
        dynamic(cells(&[0x1_0000]), cells(&[0, 0, 0, 0x4000_0000])),
        // alloc-ranges of one and a half entries
        dynamic(cells(&[0, 0x1_0000]), cells(&[0, 0, 0, 0x4000_0000, 0, 1])),
    ];
    for b in bad {
        let f = fdt_facts(&tree(2, 2, 2, 2, true, vec![b])).unwrap();
        assert!(
            f.reserved_memory.dynamic.is_empty(),
            "{:?}",
            f.reserved_memory
        );
        assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
    }
}
