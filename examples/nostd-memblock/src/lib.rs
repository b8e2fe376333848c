//! Early boot of a small two-node board, as firmware or a kernel without a heap would
//! write it: describe RAM per node, reserve the kernel image, then place each CPU's
//! stack on its own node, falling back to any node, with Linux's memblock rules.
//!
//! `#![no_std]`, and `numaboot-memblock` without its `alloc` feature: the region arrays
//! are stored inline and nothing is ever allocated from a heap. The board sizes them:
//! [`BootMemblock`] holds [`BOOT_REGIONS`] regions per array, under 1 KiB on the boot
//! stack where Linux's default 128 take over 6 KiB
//! ([`Memblock::INLINE_BYTES`](memblock::Memblock::INLINE_BYTES) tells).
//!
//! The empty allocator is built at compile time ([`EMPTY`], a `const`): no constructor
//! runs at boot, no `static mut` and no lock are needed, since [`boot`] copies it into
//! a local that it alone mutates. A kernel that wants memblock in a global instead puts
//! the same `const` behind its own lock (`static MB: Lock<BootMemblock> =
//! Lock::new(EMPTY)`).

#![no_std]

use memblock::{AllocError, AllocLimit, Config, Error, Memblock, RegionFlags};
use phys::{NodeId, PhysAddr, PhysSize};

/// Regions per array on this board: a handful of banks, the kernel, one stack run per
/// node; more than that is a firmware bug the board reports as
/// [`AllocError::ArrayFull`].
pub const BOOT_REGIONS: usize = 16;

/// This board's memblock: capacity chosen here, not by the crate.
pub type BootMemblock = Memblock<BOOT_REGIONS>;

/// The empty allocator, evaluated by the compiler: 4 KiB pages, 64-byte cache lines,
/// and no array growth (there is no heap to grow into).
pub const EMPTY: BootMemblock = Memblock::sized_with_config(Config {
    page_size: 0x1000,
    initial_regions: BOOT_REGIONS,
    smp_cache_bytes: 64,
    allow_resize: false,
});

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
/// Works on a memblock of any capacity `R`.
pub fn init<const R: usize>(
    mb: &mut Memblock<R>,
    banks: &[Bank],
    kernel: (PhysAddr, PhysSize),
) -> Result<(), Error> {
    for b in banks {
        mb.add_node(b.base, b.size, Some(b.node), RegionFlags::NONE)?;
    }
    mb.reserve(kernel.0, kernel.1)
}

/// One stack of `size` bytes per CPU, on the CPU's node if it has free memory (Linux's
/// `memblock_alloc_try_nid`, 16-byte aligned below any limit). On failure the CPUs
/// placed so far stay reserved, as in a kernel that would panic at that point.
pub fn place_stacks<const R: usize, const N: usize>(
    mb: &mut Memblock<R>,
    cpu_nodes: &[NodeId; N],
    size: PhysSize,
) -> Result<[PhysAddr; N], AllocError> {
    let mut out = [PhysAddr::ZERO; N];
    for (slot, &node) in out.iter_mut().zip(cpu_nodes) {
        *slot = mb.alloc_try_nid(size, 16, PhysAddr::ZERO, AllocLimit::Anywhere, Some(node))?;
    }
    Ok(out)
}

/// The whole early boot on the stack: the allocator from [`EMPTY`], the banks, the
/// kernel, the stacks. A region error converts into the allocation error it stands
/// for (a full array is [`AllocError::ArrayFull`]), so one error type covers both
/// steps.
pub fn boot<const N: usize>(
    banks: &[Bank],
    kernel: (PhysAddr, PhysSize),
    cpu_nodes: &[NodeId; N],
    stack: PhysSize,
) -> Result<(BootMemblock, [PhysAddr; N]), AllocError> {
    let mut mb = EMPTY;
    init(&mut mb, banks, kernel)?;
    let stacks = place_stacks(&mut mb, cpu_nodes, stack)?;
    Ok((mb, stacks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use memblock::ArrayKind;

    const MIB: u64 = 1 << 20;

    fn two_nodes() -> [Bank; 2] {
        [
            Bank {
                base: PhysAddr::new(0),
                size: PhysSize::new(64 * MIB),
                node: NodeId::ZERO,
            },
            Bank {
                base: PhysAddr::new(64 * MIB),
                size: PhysSize::new(64 * MIB),
                node: NodeId::new(1).unwrap(),
            },
        ]
    }

    #[test]
    fn stacks_land_on_their_nodes() {
        let (n0, n1) = (NodeId::ZERO, NodeId::new(1).unwrap());
        let mut mb = Memblock::new();
        init(
            &mut mb,
            &two_nodes(),
            (PhysAddr::new(0), PhysSize::new(8 * MIB)),
        )
        .unwrap();
        let stacks = place_stacks(&mut mb, &[n0, n1, n1], PhysSize::new(0x4000)).unwrap();
        // Top-down: the highest free 16 KiB of each node, CPUs of one node stacked.
        assert_eq!(stacks[0].as_u64(), 64 * MIB - 0x4000);
        assert_eq!(stacks[1].as_u64(), 128 * MIB - 0x4000);
        assert_eq!(stacks[2].as_u64(), 128 * MIB - 0x8000);
    }

    #[test]
    fn the_small_board_memblock_places_what_the_default_one_does() {
        let nodes = [0, 1, 1, 0, 1, 0, 0, 1].map(|n| NodeId::new(n).unwrap());
        let kernel = (PhysAddr::new(0), PhysSize::new(8 * MIB));
        let stack = PhysSize::new(0x4000);
        let (small, stacks) = boot(&two_nodes(), kernel, &nodes, stack).unwrap();

        // The same calls on Linux's default-sized memblock with the same tunables.
        let mut big = Memblock::with_config(EMPTY.config());
        init(&mut big, &two_nodes(), kernel).unwrap();
        assert_eq!(place_stacks(&mut big, &nodes, stack), Ok(stacks));
        assert_eq!(small.reserved(), big.reserved());
    }

    #[test]
    fn too_many_banks_is_a_full_array_not_a_panic() {
        // 17 separate banks (a hole between each) on a 16-region board.
        let banks: [Bank; BOOT_REGIONS + 1] = core::array::from_fn(|i| Bank {
            base: PhysAddr::new(2 * i as u64 * MIB),
            size: PhysSize::new(MIB),
            node: NodeId::ZERO,
        });
        let r = boot(
            &banks,
            (PhysAddr::new(0), PhysSize::new(MIB)),
            &[NodeId::ZERO],
            PhysSize::new(0x1000),
        );
        assert_eq!(
            r.map(|(_, s)| s),
            Err(AllocError::ArrayFull {
                array: ArrayKind::Memory
            })
        );
        // The first 16 fit exactly.
        let mut mb = EMPTY;
        assert_eq!(
            init(
                &mut mb,
                &banks[..BOOT_REGIONS],
                (PhysAddr::new(0), PhysSize::new(MIB))
            ),
            Ok(())
        );
        assert_eq!(mb.memory().len(), BOOT_REGIONS);
    }
}
