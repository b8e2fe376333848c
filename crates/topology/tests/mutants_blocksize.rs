//! Linux 6.12's `memory_block_size` probe on small crafted trees, for the cases the real
//! trees never exercise (found by `cargo mutants`, docs/MUTATION.md): `reg` entries whose
//! address and size cell counts differ, an empty entry in an ordinary memory node, and
//! the 256 MiB cap of an empty `ibm,coherent-device-memory` entry.

mod common;

use common::{blob, cells, string, N};
use topology::probe_memory_block_size;

const GIB: u32 = 1 << 30;

/// A root with the given cell counts and `memory` children.
fn root(address_cells: u32, size_cells: u32, memories: Vec<N>) -> N {
    let mut r = N::new("")
        .p("#address-cells", cells(&[address_cells]))
        .p("#size-cells", cells(&[size_cells]));
    for m in memories {
        r = r.c(m);
    }
    r
}

fn memory(name: &str, reg: &[u32]) -> N {
    N::new(name)
        .p("device_type", string("memory"))
        .p("reg", cells(reg))
}

fn probe(tree: &N) -> u64 {
    probe_memory_block_size(&blob(tree, 0))
        .expect("a valid tree")
        .as_u64()
}

#[test]
fn entries_are_address_cells_plus_size_cells_long() {
    // One cell each: the single entry (0, 1 GiB) has bit 30 set, so the block is
    // quartered to 256 MiB; reading the entry as one cell would see no size at all.
    assert_eq!(
        probe(&root(1, 1, vec![memory("memory@0", &[0, GIB])])),
        256 << 20
    );
    // Two address cells and one size cell: entries of three cells.
    assert_eq!(
        probe(&root(2, 1, vec![memory("memory@0", &[0, 0, GIB])])),
        256 << 20
    );
    // Two entries of 1 + 1 cells: 2 GiB keeps the block, 1 GiB then quarters it.
    assert_eq!(
        probe(&root(
            1,
            1,
            vec![memory("memory@0", &[0, 0x8000_0000, 0x8000_0000, GIB])]
        )),
        256 << 20
    );
}

#[test]
fn an_empty_entry_of_an_ordinary_memory_node_is_skipped() {
    // (0, 0) in a plain memory node changes nothing: the 2 GiB node after it keeps the
    // 1 GiB block. Only a coherent-device node's empty entry caps the block.
    let tree = root(
        2,
        2,
        vec![
            memory("memory@0", &[0, 0, 0, 0]),
            memory("memory@100000000", &[1, 0, 0, 0x8000_0000]),
        ],
    );
    assert_eq!(probe(&tree), 1 << 30);
}

#[test]
fn an_empty_coherent_device_entry_caps_at_256_mib() {
    let coherent = memory("memory@10000000000", &[0x100, 0, 0, 0])
        .p("compatible", string("ibm,coherent-device-memory"));
    let tree = root(
        2,
        2,
        vec![coherent, memory("memory@0", &[0, 0, 0, 0x8000_0000])],
    );
    assert_eq!(probe(&tree), 256 << 20);
    // Without an empty entry it is sized like any other node.
    let coherent = memory("memory@10000000000", &[0x100, 0, 0, 0x8000_0000])
        .p("compatible", string("ibm,coherent-device-memory"));
    assert_eq!(probe(&root(2, 2, vec![coherent])), 1 << 30);
}
