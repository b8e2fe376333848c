//! Early boot of a small two-node board, as firmware or a kernel without a heap would
//! write it: describe RAM per node, reserve the kernel image, then place each CPU's
//! stack on its own node, falling back to any node, with Linux's memblock rules.
//!
//! `#![no_std]`, and `numaboot-memblock` without its `alloc` feature: the region arrays
//! have their built-in fixed capacity and nothing is ever allocated from a heap.

#![no_std]

use memblock::{AllocError, AllocLimit, Error, Memblock, RegionFlags};
use phys::{NodeId, PhysAddr, PhysSize};

/// A bank of RAM and the NUMA node it belongs to.
#[derive(Clone, Copy, Debug)]
pub struct Bank {
    /// First byte.
    pub base: PhysAddr,
    /// Length.
    pub size: PhysSize,
    /// Owning node.
    pub node: NodeId,
}

/// Registers the banks and reserves the kernel image, as `early_init_devtree` does.
pub fn init(mb: &mut Memblock, banks: &[Bank], kernel: (PhysAddr, PhysSize)) -> Result<(), Error> {
    for b in banks {
        mb.add_node(b.base, b.size, Some(b.node), RegionFlags::NONE)?;
    }
    mb.reserve(kernel.0, kernel.1)
}

/// One stack of `size` bytes per CPU, on the CPU's node if it has free memory (Linux's
/// `memblock_alloc_try_nid`, 16-byte aligned below any limit). On failure the CPUs
/// placed so far stay reserved, as in a kernel that would panic at that point.
pub fn place_stacks<const N: usize>(
    mb: &mut Memblock,
    cpu_nodes: &[NodeId; N],
    size: PhysSize,
) -> Result<[PhysAddr; N], AllocError> {
    let mut out = [PhysAddr::ZERO; N];
    for (slot, &node) in out.iter_mut().zip(cpu_nodes) {
        *slot = mb.alloc_try_nid(size, 16, PhysAddr::ZERO, AllocLimit::Anywhere, Some(node))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn stacks_land_on_their_nodes() {
        let n0 = NodeId::ZERO;
        let n1 = NodeId::new(1).unwrap();
        let banks = [
            Bank {
                base: PhysAddr::new(0),
                size: PhysSize::new(64 * MIB),
                node: n0,
            },
            Bank {
                base: PhysAddr::new(64 * MIB),
                size: PhysSize::new(64 * MIB),
                node: n1,
            },
        ];
        let mut mb = Memblock::new();
        init(&mut mb, &banks, (PhysAddr::new(0), PhysSize::new(8 * MIB))).unwrap();
        let stacks = place_stacks(&mut mb, &[n0, n1, n1], PhysSize::new(0x4000)).unwrap();
        // Top-down: the highest free 16 KiB of each node, CPUs of one node stacked.
        assert_eq!(stacks[0].as_u64(), 64 * MIB - 0x4000);
        assert_eq!(stacks[1].as_u64(), 128 * MIB - 0x4000);
        assert_eq!(stacks[2].as_u64(), 128 * MIB - 0x8000);
    }
}
