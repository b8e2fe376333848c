//! prom_init's blob layout with a page smaller than the header and reservation map
//! (found by `cargo mutants`, docs/MUTATION.md): with 4 KiB and 64 KiB pages the 40-byte
//! header and the 8 x 16-byte reservation map always fit in the first page, so the real
//! boots cannot tell their sizes apart. With 64-byte pages the strings start at the
//! first page boundary after 40 + 128 = 168 bytes, 192.

use topology::{predict_booted_for, OfBuild};

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn align(x: u64, page: u64) -> u64 {
    x.div_ceil(page) * page
}

#[test]
fn strings_start_after_header_and_reservation_map() {
    for page in [64u64, 128] {
        let build = OfBuild {
            page_size: page,
            ..OfBuild::DEBIAN_6_1_64K
        };
        let p = predict_booted_for(&fixture("linux-6.1/a.dumped.dtb"), &build)
            .unwrap_or_else(|e| panic!("page {page}: {e}"));
        // prom_init: header (40 bytes, 8-aligned) and MEM_RESERVE_MAP_SIZE (8) entries of
        // 16 bytes, then the strings at the next page, the structure at the page after
        // them, the end at the page after that.
        let strings_start = align(40 + 8 * 16, page);
        let struct_start = align(strings_start + p.strings_size.as_u64(), page);
        let total = align(struct_start + p.struct_size.as_u64(), page);
        assert_eq!(p.totalsize.as_u64(), total, "page {page}");
    }
}
