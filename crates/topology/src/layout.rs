//! The layout of the version 16 blob Linux's prom_init writes (6.1 and 6.12 alike)
//! (`flatten_device_tree` in arch/powerpc/kernel/prom_init.c), which is the tree a
//! pSeries kernel booted through client interface firmware (SLOF or QEMU's VOF)
//! really starts from.
//!
//! prom_init claims a chunk at a page boundary and lays out: the 40-byte header and
//! the 8-entry reservation map; at the next page the strings (a 4-byte hole, then
//! `phandle`, then every property name once, `name` skipped, see [`prom_layout`] for a
//! quirk); at the next page
//! the structure (each node's unit name, its properties but `name`, a `phandle` if
//! the node has none, `FDT_END` at the end); the blob ends at the next page boundary.
//! `PAGE_SIZE` is the build's ([`crate::OfBuild::page_size`]): 64 KiB on Debian's 6.1
//! and 6.12 `-64k` kernels, 4 KiB on Debian's 6.12 default flavour, whose blob is
//! therefore a few pages of 4 KiB instead of three of 64 KiB.

use alloc::collections::BTreeSet;

use crate::shape::Shape;

/// prom_init's `sizeof(struct boot_param_header)` (all ten words).
const HEADER_BYTES: u64 = 40;
/// `MEM_RESERVE_MAP_SIZE` entries of 16 bytes.
const RSVMAP_BYTES: u64 = 8 * 16;
/// `DEVTREE_CHUNK_SIZE`: the first chunk prom_init claims for the blob.
pub(crate) const DEVTREE_CHUNK_SIZE: u64 = 0x10_0000;

/// Sizes of the blob prom_init would write for a tree of this shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PromLayout {
    pub strings_size: u64,
    pub struct_size: u64,
    pub totalsize: u64,
}

/// `PAGE_ALIGN`; saturates at the top instead of wrapping (and a page size of 0, which
/// callers refuse first, leaves nothing to align to).
pub(crate) fn page_align(x: u64, page: u64) -> u64 {
    if page == 0 {
        return x;
    }
    x.checked_next_multiple_of(page).unwrap_or(u64::MAX)
}

/// Rounds down to a page boundary (`_ALIGN_DOWN`).
pub(crate) fn page_align_down(x: u64, page: u64) -> u64 {
    x.checked_rem(page).map_or(x, |r| x - r)
}

fn align4(x: u64) -> u64 {
    x.div_ceil(4).saturating_mul(4)
}

pub(crate) fn prom_layout(shape: &Shape<'_>, page: u64) -> PromLayout {
    // scan_dt_build_strings: the hole, "phandle", then each new name. dt_find_string
    // searches up to dt_string_end, which is still 0 until the first name is added:
    // so the first name is always added, even when it is "phandle" (as in QEMU's
    // trees, whose root starts with one).
    let mut names: BTreeSet<&str> = BTreeSet::new();
    let mut strings = 4 + "phandle".len() as u64 + 1;
    let mut first = true;
    let mut structure = 0u64;
    for node in &shape.nodes {
        structure += 4 + align4(node.name.len() as u64 + 1) + 4;
        let mut has_phandle = false;
        for p in node.props.iter().filter(|p| p.name != "name") {
            if first {
                first = false;
                strings += p.name.len() as u64 + 1;
                names.insert("phandle");
                names.insert(&p.name);
            } else if names.insert(&p.name) {
                strings += p.name.len() as u64 + 1;
            }
            has_phandle |= p.name == "phandle";
            structure += 12 + align4(p.value.len() as u64);
        }
        if !has_phandle {
            structure += 16;
        }
    }
    structure += 4;
    let strings_start = page_align(HEADER_BYTES.next_multiple_of(8) + RSVMAP_BYTES, page);
    let struct_start = page_align(strings_start.saturating_add(strings), page);
    PromLayout {
        strings_size: strings,
        struct_size: structure,
        totalsize: page_align(struct_start.saturating_add(structure), page),
    }
}
