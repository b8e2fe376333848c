//! The real-mode area (RMA) size, as Linux 6.1 computes `ppc64_rma_size`.
//!
//! Source: `arch/powerpc/kernel/prom.c` records `first_memblock_size`, the size of the
//! lowest-based range that `early_init_dt_add_memory_arch` sees (only the ranges of
//! available `memory` nodes under the root go through it; DR-memory LMBs are added with
//! `memblock_add` directly),
//! clamps it by `mem=`, and calls `setup_initial_memory_limit`. On hash MMU
//! (`arch/powerpc/mm/book3s64/hash_utils.c`, `hash__setup_initial_memory_limit`):
//!
//! * in hypervisor mode (`CPU_FTR_HVMODE`) the RMA is unlimited (`ULONG_MAX`);
//! * otherwise it is `first_memblock_size`, clamped to 1 GiB before ISA 3.0
//!   (POWER8 and older, "to avoid some funky things such as RTAS bugs") and to 1 TiB
//!   (`1UL << SID_SHIFT_1T`) from POWER9 on, because virtual real mode aliases above it.
//!
//! The first block must start at 0 (`BUG_ON(first_memblock_base != 0)`). With the
//! radix MMU (`arch/powerpc/mm/init_64.c`, `radix__setup_initial_memory_limit`) real
//! mode is not limited and `ppc64_rma_size` is `ULONG_MAX` as well.

use phys::{PhysAddr, PhysSize};

/// 1 GiB: the pre-ISA-3.0 guest clamp.
pub const RMA_CLAMP_PRE_ARCH_300: PhysSize = PhysSize::new(0x4000_0000);
/// 1 TiB (`1 << SID_SHIFT_1T`): the ISA 3.0 (POWER9+) guest clamp.
pub const RMA_CLAMP_ARCH_300: PhysSize = PhysSize::new(1 << 40);

/// Which MMU the kernel will run with; radix lifts the RMA limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mmu {
    /// Hash page table (the MMU the per-CPU series' RMA limits are about).
    #[default]
    Hash,
    /// Radix tree (POWER9+); real mode is not limited.
    Radix,
}

/// Why Linux could not compute an RMA for this memory layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RmaError {
    /// No memory-node range at all, so `first_memblock_size` stays 0.
    NoFirstBlock,
    /// The lowest memory-node range does not start at 0 (Linux hits `BUG_ON`).
    FirstBlockNotAtZero(PhysAddr),
}

/// `ppc64_rma_size` for a partition whose lowest memory-node range is `first_block`.
///
/// ```
/// use phys::{PhysAddr, PhysSize};
/// use topology::rma::{linux_rma_size, Mmu};
///
/// let first = Some((PhysAddr::ZERO, PhysSize::new(0x2000_0000)));
/// // A POWER9 LPAR on hash: the first block, under the 1 TiB clamp.
/// assert_eq!(linux_rma_size(first, false, true, Mmu::Hash), Ok(PhysSize::new(0x2000_0000)));
/// // Hypervisor mode: unlimited.
/// assert_eq!(linux_rma_size(first, true, true, Mmu::Hash), Ok(PhysSize::MAX));
/// ```
pub fn linux_rma_size(
    first_block: Option<(PhysAddr, PhysSize)>,
    hypervisor_mode: bool,
    arch_300: bool,
    mmu: Mmu,
) -> Result<PhysSize, RmaError> {
    if hypervisor_mode || mmu == Mmu::Radix {
        return Ok(PhysSize::MAX);
    }
    let (base, size) = first_block.ok_or(RmaError::NoFirstBlock)?;
    if base != PhysAddr::ZERO {
        return Err(RmaError::FirstBlockNotAtZero(base));
    }
    let clamp = if arch_300 {
        RMA_CLAMP_ARCH_300
    } else {
        RMA_CLAMP_PRE_ARCH_300
    };
    Ok(size.min(clamp))
}
