//! What Linux 6.1 reserves and allocates before the per-CPU structures: the boot facts
//! of a particular kernel image and firmware hand-over.
//!
//! The per-CPU allocations are top-down searches through memblock, so every byte
//! reserved before them moves them: the kernel image, the flattened device tree, the
//! firmware's reservations (RTAS instantiated by `prom_init`, an initrd), a crash kernel,
//! and the allocations `setup_arch` makes before `smp_setup_cpu_maps` (the unflattened
//! device tree, `of_alias_scan`'s alias records, RTAS's user buffer). [`KernelImage`]
//! holds the kernel facts (read from the `vmlinux` symbol table by a front end) and
//! [`EarlyBoot`] the rest; both default to "nothing beyond the kernel image", the model
//! numaboot used before these were known. [`crate::init_memblock`] and the Linux 6.1
//! sequence apply them in Linux's order (`early_init_devtree`, then `setup_arch`).

use alloc::vec::Vec;

use phys::{PhysAddr, PhysSize};

/// A physical range `[base, base + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Region {
    /// First byte.
    pub base: PhysAddr,
    /// Length in bytes.
    pub size: PhysSize,
}

impl Region {
    /// `[base, base + size)`.
    pub const fn new(base: PhysAddr, size: PhysSize) -> Self {
        Self { base, size }
    }

    /// One past the last byte, saturating at the top of the address space.
    pub const fn end(self) -> PhysAddr {
        self.base.saturating_add(self.size)
    }

    /// Whether the two ranges share a byte.
    pub fn overlaps(self, other: Region) -> bool {
        self.base < other.end() && other.base < self.end()
    }
}

/// The kernel image facts the early sequence depends on, as physical addresses of a
/// kernel running at 0 (`PHYSICAL_START` 0: a relocatable ppc64 kernel copies itself
/// down to 0 before `early_setup`).
///
/// The defaults are those of Debian's `linux-image-6.1.0-50-powerpc64le` (read with
/// `nm` from its `vmlinux`); a front end replaces them with the symbols of the kernel
/// being modelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KernelImage {
    /// `__pa(_end)`: `early_init_devtree` reserves `[0, _end)`.
    pub end: PhysAddr,
    /// `__pa(_stext)`: the start of kernel text (0 when running at 0).
    pub stext: PhysAddr,
    /// `__pa(__init_end)`: the radix linear mapping maps `[_stext, __init_end)`
    /// executable (`overlaps_kernel_text`).
    pub init_end: PhysAddr,
    /// `__pa(__srwx_boundary)`: with `CONFIG_STRICT_KERNEL_RWX` no radix mapping may
    /// cross it (`next_boundary`).
    pub srwx_boundary: PhysAddr,
    /// `__end_interrupts - _stext`: the interrupt vectors at 0 are executable too
    /// (`overlaps_interrupt_vector_text`); they start at `__start_interrupts - _stext`.
    pub interrupts: Region,
}

impl KernelImage {
    /// Debian `6.1.0-50-powerpc64le`: `_end` 0x2880000, `__init_end` 0x24e0000,
    /// `__srwx_boundary` 0x2000000, interrupt vectors 0x100..0x5d00.
    pub const DEBIAN_6_1: Self = Self {
        end: PhysAddr::new(0x288_0000),
        stext: PhysAddr::ZERO,
        init_end: PhysAddr::new(0x24e_0000),
        srwx_boundary: PhysAddr::new(0x200_0000),
        interrupts: Region::new(PhysAddr::new(0x100), PhysSize::new(0x5c00)),
    };

    /// Debian `6.12.107+deb13-powerpc64le-64k`: `_end` 0x2990000, `__init_end` 0x25b0000.
    pub const DEBIAN_6_12_64K: Self = Self {
        end: PhysAddr::new(0x299_0000),
        init_end: PhysAddr::new(0x25b_0000),
        ..Self::DEBIAN_6_1
    };

    /// Debian `6.12.107+deb13-powerpc64le` (4 KiB pages): `_end` 0x287f000,
    /// `__init_end` 0x24f9000.
    pub const DEBIAN_6_12_4K: Self = Self {
        end: PhysAddr::new(0x287_f000),
        init_end: PhysAddr::new(0x24f_9000),
        ..Self::DEBIAN_6_1
    };

    /// The symbols of Debian's build of `strategy` with `PAGE_SIZE` `page_size` (6.1's
    /// for 4.15, which has no Debian build here, and for the strategies beyond Linux,
    /// which are built on 6.1).
    pub const fn debian(strategy: crate::Strategy, page_size: u64) -> Self {
        Self::debian_build(strategy, page_size).0
    }

    /// The Debian kernel release whose `vmlinux` symbols [`KernelImage::debian`] holds
    /// for the same arguments.
    pub const fn debian_release(strategy: crate::Strategy, page_size: u64) -> &'static str {
        Self::debian_build(strategy, page_size).1
    }

    /// Which Debian build [`KernelImage::debian`] and [`KernelImage::debian_release`]
    /// describe: its symbols and its release, chosen in one place.
    const fn debian_build(strategy: crate::Strategy, page_size: u64) -> (Self, &'static str) {
        match strategy.base() {
            crate::Strategy::Linux612 if page_size == crate::consts::PAGE_SIZE_4K => {
                (Self::DEBIAN_6_12_4K, "6.12.107+deb13-powerpc64le")
            }
            crate::Strategy::Linux612 => (Self::DEBIAN_6_12_64K, "6.12.107+deb13-powerpc64le-64k"),
            _ => (Self::DEBIAN_6_1, "6.1.0-50-powerpc64le"),
        }
    }

    /// An image known only by its end: text up to the end, no RWX boundary (for
    /// `--kernel-end` and hand-written configurations).
    pub const fn ending_at(end: PhysAddr) -> Self {
        Self {
            end,
            stext: PhysAddr::ZERO,
            init_end: end,
            srwx_boundary: PhysAddr::ZERO,
            interrupts: Region::new(PhysAddr::ZERO, PhysSize::ZERO),
        }
    }

    /// Whether a linear mapping of `[start, end)` is executable in the radix mapping:
    /// it overlaps kernel text up to `__init_end` or the interrupt vectors.
    pub fn maps_text(&self, start: u64, end: u64) -> bool {
        let text = start < self.init_end.as_u64() && self.stext.as_u64() < end;
        let ivec = !self.interrupts.size.is_zero()
            && start < self.interrupts.end().as_u64()
            && self.interrupts.base.as_u64() < end;
        text || ivec
    }

    /// `next_boundary(addr, end)` of 6.1 `radix_pgtable.c` for a kernel running at 0:
    /// below `__srwx_boundary` a mapping stops there.
    pub fn next_boundary(&self, addr: u64, end: u64) -> u64 {
        let b = self.srwx_boundary.as_u64();
        if addr < b {
            b
        } else {
            end
        }
    }
}

impl Default for KernelImage {
    fn default() -> Self {
        Self::DEBIAN_6_1
    }
}

/// A `crashkernel=` request as the command line gives it (after the range form has
/// been resolved against the memory size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CrashKernel {
    /// Bytes requested.
    pub size: PhysSize,
    /// `@offset`, if given.
    pub base: Option<PhysAddr>,
}

/// Everything Linux 6.1 reserves or allocates before the per-CPU structures, besides
/// the kernel image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EarlyBoot {
    /// The flattened device tree blob the kernel booted from (`early_init_fdt_reserve_self`
    /// reserves `fdt_totalsize` bytes at its address).
    pub fdt: Option<Region>,
    /// The tree's memory reservation block entries, then its static `/reserved-memory`
    /// regions, in the order `early_init_fdt_scan_reserved_mem` reserves them.
    pub reserved: Vec<Region>,
    /// `linux,initrd-start`..`linux,initrd-end` of `/chosen`; `early_reserve_mem`
    /// reserves it widened to whole pages.
    pub initrd: Option<Region>,
    /// `crashkernel=` on the command line; `reserve_crashkernel` places it.
    pub crashkernel: Option<CrashKernel>,
    /// Bytes `unflatten_device_tree` asks memblock for (`memblock_alloc(size, 8)`), if
    /// the tree is known.
    pub unflattened_tree: Option<PhysSize>,
    /// `of_alias_scan`'s records, one `memblock_alloc(size, 8)` each, in tree order.
    pub aliases: Vec<PhysSize>,
    /// Whether `rtas_initialize` finds RTAS (`/rtas` with `linux,rtas-base` and
    /// `rtas-size`) and so allocates its 64 KiB user buffer.
    pub rtas: bool,
    /// `mmu_lpid_bits` (`ibm,mmu-lpid-bits`, else 12 on POWER8-10): the hypervisor's
    /// radix partition table is `1 << (mmu_lpid_bits + 4)` bytes.
    pub mmu_lpid_bits: Option<u32>,
}

/// `RTAS_USER_REGION_SIZE`: the buffer `rtas_initialize` allocates.
pub const RTAS_USER_REGION_SIZE: u64 = 64 * 1024;
/// `RTAS_INSTANTIATE_MAX`: the RTAS buffer stays below 1 GiB.
pub const RTAS_INSTANTIATE_MAX: u64 = 1 << 30;
/// `mmu_lpid_bits` of POWER8-10 when the tree does not say (`mmu_early_init_devtree`).
pub const DEFAULT_MMU_LPID_BITS: u32 = 12;
/// The alignment of `unflatten_device_tree`'s and `of_alias_scan`'s allocations
/// (`__alignof__(struct device_node)`, `__alignof__(struct alias_prop)`).
pub const DT_ALLOC_ALIGN: u64 = 8;

/// Where `reserve_crashkernel` (Linux 6.1 `arch/powerpc/kexec/core.c`, relocatable
/// kernel) puts the crash kernel, or `None` when it reserves nothing.
///
/// Without `@offset` the base is the middle of the RMA, at most 512 MiB on an LPAR and
/// 128 MiB otherwise; base and size are rounded up to whole pages; a region that would
/// overlap the running kernel, or that is not all memory, is dropped (Linux prints an
/// error and boots on).
pub fn crashkernel_region(
    req: CrashKernel,
    rma_size: u64,
    lpar: bool,
    kernel: &KernelImage,
    page: u64,
    is_memory: impl Fn(Region) -> bool,
) -> Option<Region> {
    if req.size.is_zero() {
        return None;
    }
    let start = match req.base {
        Some(b) if b.as_u64() != 0 => b.as_u64(),
        _ => {
            let cap = if lpar { 512 << 20 } else { 128 << 20 };
            (rma_size / 2).min(cap)
        }
    };
    let base = start.div_ceil(page).checked_mul(page)?;
    let size = req.size.as_u64().div_ceil(page).checked_mul(page)?;
    let region = Region::new(PhysAddr::new(base), PhysSize::new(size));
    let image = Region::new(
        kernel.stext,
        PhysSize::new(kernel.end.as_u64().saturating_sub(kernel.stext.as_u64())),
    );
    (base.checked_add(size).is_some() && !region.overlaps(image) && is_memory(region))
        .then_some(region)
}
