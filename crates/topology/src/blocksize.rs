//! The radix linear mapping's largest page on Linux 6.12: `memory_block_size` as
//! `early_init_memory_block_size` probes it from the flattened tree.
//!
//! 6.1 capped the mapping at `ibm,lmb-size` (or 16 MiB without one, 1 GiB on
//! PowerNV). 6.12 starts from 1 GiB and scans the root's children in tree order:
//! `ibm,dynamic-reconfiguration-memory` ends the scan with its `ibm,lmb-size` (16 MiB
//! when it has none); before that, every `memory` node's `linux,usable-memory` (or
//! `reg`) entry of non-zero size shrinks the block by factors of four (down to 16 MiB)
//! while the size has the block's bit set, so a 1 GiB node gives 256 MiB and a 2 GiB
//! node keeps 1 GiB; an empty entry of an `ibm,coherent-device-memory` node caps it at
//! 256 MiB.

use phys::PhysSize;

use crate::error::DtbError;
use crate::fdt::{be_cells as cells, prop_value as raw, read_number as number, Tree};

/// `MIN_MEMORY_BLOCK_SIZE` (`1 << SECTION_SIZE_BITS`): 16 MiB on ppc64, the radix
/// mapping cap of a tree without `ibm,lmb-size` in 6.1 and the floor of 6.12's probe.
pub const MIN_MEMORY_BLOCK_SIZE: u64 = 16 << 20;
const MIN_BLOCK: u64 = MIN_MEMORY_BLOCK_SIZE;

fn root_cells(tree: &Tree<'_>, name: &str, default: u32) -> usize {
    tree.node(0)
        .and_then(|r| raw(r, name))
        .and_then(|v| cells(v).first().copied())
        .map_or(default, |c| c.clamp(1, 2)) as usize
}

/// `update_memory_block_size`: quarter the block while the size has its bit set.
fn update(block: &mut u64, size: u64) {
    while *block > MIN_BLOCK && size & *block != 0 {
        *block >>= 2;
    }
}

/// Linux 6.12's `memory_block_size` for the tree in `blob` (see the module
/// documentation).
pub fn probe_memory_block_size(blob: &[u8]) -> Result<PhysSize, DtbError> {
    let tree = Tree::parse(blob)?;
    let (ac, sc) = (
        root_cells(&tree, "#address-cells", 1),
        root_cells(&tree, "#size-cells", 1),
    );
    let mut block: u64 = 1 << 30;
    let Some(root) = tree.node(0) else {
        return Ok(PhysSize::new(block));
    };
    for &i in &root.children {
        let Some(node) = tree.node(i) else { continue };
        let name = node.path.rsplit('/').next().unwrap_or("");
        if name == "ibm,dynamic-reconfiguration-memory" {
            let lmb = raw(node, "ibm,lmb-size").map(cells).unwrap_or_default();
            block = if lmb.len() >= sc {
                number(&lmb[..sc])
            } else {
                MIN_BLOCK
            };
            break;
        }
        if raw(node, "device_type") != Some(b"memory\0") {
            continue;
        }
        let Some(reg) = raw(node, "linux,usable-memory").or_else(|| raw(node, "reg")) else {
            continue;
        };
        let c = cells(reg);
        for e in c.chunks_exact(ac + sc) {
            let size = number(&e[ac..]);
            if size != 0 {
                update(&mut block, size);
            } else if raw(node, "compatible") == Some(b"ibm,coherent-device-memory\0") {
                block = block.min(256 << 20);
                break;
            }
        }
    }
    Ok(PhysSize::new(block))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartering() {
        let mut b = 1u64 << 30;
        update(&mut b, 1 << 30);
        assert_eq!(b, 256 << 20);
        let mut b = 1u64 << 30;
        update(&mut b, 2 << 30);
        assert_eq!(b, 1 << 30);
        let mut b = 1u64 << 30;
        update(&mut b, (1 << 30) | (256 << 20) | (64 << 20) | (16 << 20));
        assert_eq!(b, MIN_BLOCK);
    }
}
