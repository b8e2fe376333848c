//! Device-tree reading edge cases found by a sampled `cargo mutants` run on topology
//! (docs/MUTATION.md): what a well-formed tree must not warn about, and where memory may
//! end.

mod common;

use common::{blob, cells, guest, N};
use topology::{parse_dtb, DtbOptions, MAX_PHYSMEM_BITS};

const LMB: u64 = 0x1000_0000;

/// A guest whose dynamic memory is one v2 run of `count` LMBs of 256 MiB at `base`.
fn with_drmem_v2(base: u64, count: u32) -> N {
    let mut t = guest();
    t.children.push(
        N::new("ibm,dynamic-reconfiguration-memory")
            .p("ibm,lmb-size", cells(&[0, LMB as u32]))
            .p(
                "ibm,dynamic-memory-v2",
                cells(&[1, count, (base >> 32) as u32, base as u32, 0, 0, 8]),
            )
            .p(
                "ibm,associativity-lookup-arrays",
                cells(&[1, 4, 0, 0, 0, 0]),
            ),
    );
    t
}

/// Linux refuses memory beyond `1 << MAX_PHYSMEM_BITS`; memory ending exactly there is
/// addressable and kept.
#[test]
fn dynamic_memory_may_end_at_the_physical_limit() {
    let end = 1u64 << MAX_PHYSMEM_BITS;
    let at_limit = parse_dtb(
        &blob(&with_drmem_v2(end - LMB, 1), 0),
        &DtbOptions::default(),
    );
    let topo = at_limit.expect("a run ending at the limit").topology;
    assert!(topo
        .memory
        .iter()
        .any(|r| r.base.as_u64() + r.size.as_u64() == end));
    let beyond = parse_dtb(
        &blob(&with_drmem_v2(end - LMB, 2), 0),
        &DtbOptions::default(),
    );
    assert!(beyond.is_err(), "{beyond:?}");
}

/// The small good guest and QEMU's real trees (every 6.1 boot fixture's booted tree)
/// read without a warning: the empty-`linux,usable-memory` warning is for nodes that
/// have that property, empty, and a `reg`, not for every memory node.
#[test]
fn good_trees_read_without_warnings() {
    let r = parse_dtb(&blob(&guest(), 0), &DtbOptions::default()).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let dir = format!("{}/fixtures/linux-6.1", env!("CARGO_MANIFEST_DIR"));
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".booted.dtb") {
            continue;
        }
        let r = parse_dtb(&std::fs::read(&path).unwrap(), &DtbOptions::default()).unwrap();
        assert!(
            r.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            r.warnings
        );
        read += 1;
    }
    assert!(read >= 14, "{read}");
}
