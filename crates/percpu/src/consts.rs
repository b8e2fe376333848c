//! Linux ppc64 constants the plan depends on, with the header each comes from.

use phys::PhysSize;

/// `L1_CACHE_BYTES` / `SMP_CACHE_BYTES` on PPC64 (`asm/cache.h`: `L1_CACHE_SHIFT` 7).
pub const L1_CACHE_BYTES: u64 = 128;

/// `PAGE_SIZE` of a 4 KiB-page ppc64 kernel (`CONFIG_PPC_4K_PAGES`, Debian 13's
/// default `powerpc64le` flavour).
pub const PAGE_SIZE_4K: u64 = 0x1000;

/// `PAGE_SIZE` of a 64 KiB-page ppc64 kernel (`CONFIG_PPC_64K_PAGES`, the pseries and
/// powernv defconfig choice).
pub const PAGE_SIZE_64K: u64 = 0x1_0000;

/// `CONFIG_THREAD_SHIFT` default for PPC64 (`arch/powerpc/Kconfig`: `default "14" if
/// PPC64`). Book3S-64 has no `CONFIG_VMAP_STACK`, so `THREAD_SHIFT` equals it.
pub const THREAD_SHIFT_DEFAULT: u32 = 14;

/// `LPPACA_SIZE` in `paca.c`: the bytes allocated and advertised for each lppaca, and
/// the alignment `new_lppaca` asks for. 640 would do for PAPR, but pre-4.14 KVM rejects
/// a size field below 1 KiB.
pub const LPPACA_SIZE: u64 = papr::lppaca::LPPACA_ALLOC_SIZE;

/// `sizeof(struct lppaca)`: the 640 bytes PAPR defines.
pub const LPPACA_STRUCT_SIZE: u64 = papr::lppaca::VPA_MIN_SIZE;

/// `sizeof(struct slb_shadow)`: 48 bytes of fields padded to a cache line.
pub const SLB_SHADOW_SIZE: u64 = papr::SLB_SHADOW_SIZE as u64;

/// `sizeof(struct paca_struct)` of Debian's Linux 6.1 ppc64le kernel
/// (`linux-image-6.1.0-50-powerpc64le`): 3328 bytes, the size its `alloc_paca_data`
/// asks for in a `memblock=debug` boot log. The real value depends on the kernel
/// configuration (KVM handler state, hash-MMU slice arrays, ...); pass the value of
/// another build through [`crate::PlanConfig::paca_size`].
pub const PACA_SIZE_6_1: PhysSize = PhysSize::new(0xd00);

/// `sizeof(struct paca_struct)` of Debian's 4 KiB-page Linux 6.12 ppc64le kernel
/// (`linux-image-6.12.107+deb13-powerpc64le`): 1280 bytes, as its `alloc_paca_data`
/// asks in a `memblock=debug` log; its 64 KiB-page flavour asks [`PACA_SIZE_6_1`]'s
/// 3328, like 6.1 (the paca's hash-MMU slice state scales with the page size).
pub const PACA_SIZE_6_12_4K: PhysSize = PhysSize::new(0x500);

/// `RTAS_WORK_AREA_ARENA_SZ` (Linux 6.12 `rtas-work-area.c`): two 128 KiB work areas.
pub const RTAS_WORK_AREA_ARENA_SZ: u64 = 256 * 1024;

/// `sizeof(struct paca_struct)` assumed for Linux 4.13-4.15: 0xa80 (2688 bytes) is
/// consistent with the field report of Ubuntu bug 1728115, where 2048 pacas took "more
/// than 5 MB" on a 4.13 pseries kernel; not measured.
pub const PACA_SIZE_4_15: PhysSize = PhysSize::new(0xa80);

/// `CONFIG_NR_CPUS` of `pseries_le_defconfig`/`ppc64le` distribution kernels: the
/// `nr_cpu_ids` Linux starts with before the device tree has been scanned.
pub const DEFAULT_NR_CPUS: u32 = 2048;

/// `SID_SHIFT`: a 256 MiB segment, the bolted size without 1 TiB segments.
pub const SID_SHIFT: u32 = 28;

/// `SID_SHIFT_1T`: a 1 TiB segment (`MMU_FTR_1T_SEGMENT`, POWER5+ onwards).
pub const SID_SHIFT_1T: u32 = 40;

/// `SZ_1G`: the clamp Linux 4.15 put on `ppc64_rma_size` (hash and radix alike) "to
/// avoid some funky things such as RTAS bugs".
pub const SZ_1G: u64 = 1 << 30;

/// `0x10000000`: Linux 4.15 `allocate_pacas` kept the paca, lppaca and SLB shadow arrays
/// below 256 MiB on Book3S-64 (`limit = min(0x10000000ULL, ppc64_rma_size)`).
pub const SZ_256M: u64 = 1 << 28;

/// `SZ_4G`: pseries machine-check stacks stay below it so RTAS arguments can live there.
pub const SZ_4G: u64 = 1 << 32;

/// `sizeof(u32)`: an entry of `cpu_to_phys_id` (`smp_setup_cpu_maps`).
pub const CPU_TO_PHYS_ID_ENTRY: u64 = 4;

/// `sizeof(struct paca_struct *)`: an entry of `paca_ptrs`.
pub const PACA_PTR_SIZE: u64 = 8;

/// Radix page-table geometry with 64 KiB pages (`asm/book3s/64/radix-64k.h`): a PTE
/// page maps 2 MiB (`PMD_SIZE`), a PMD page 1 GiB (`PUD_SIZE`), a PUD page 512 GiB
/// (`PGDIR_SIZE`).
pub const RADIX_PMD_SIZE: u64 = 1 << 21;
/// See [`RADIX_PMD_SIZE`].
pub const RADIX_PUD_SIZE: u64 = 1 << 30;
/// See [`RADIX_PMD_SIZE`].
pub const RADIX_PGDIR_SIZE: u64 = 1 << 39;

/// `PRTB_SIZE_SHIFT` (`mmu_pid_bits + 4`) of Linux 6.1: `mmu_pid_bits` is 20 on
/// POWER9/10 unless the device tree's `ibm,mmu-pid-bits` says otherwise (19 for a guest
/// on a POWER9 with `CPU_FTR_P9_RADIX_PREFETCH_BUG`, not modelled): a 16 MiB process
/// table.
pub const PRTB_SIZE_SHIFT_61: u32 = 24;

/// `PRTB_SIZE_SHIFT` of Linux 4.15 without `ibm,mmu-pid-bits` in the device tree:
/// `radix_init_pgtable` defaults `mmu_pid_bits` to 20 in hypervisor mode and to 19 in a
/// guest ("the guest uses the bottom half of the PID space"): 16 MiB or 8 MiB.
pub const PRTB_SIZE_SHIFT_415_HV: u32 = 24;
/// See [`PRTB_SIZE_SHIFT_415_HV`].
pub const PRTB_SIZE_SHIFT_415_GUEST: u32 = 23;

/// Linux 4.15's radix `PUD_TABLE_SIZE`/`PMD_TABLE_SIZE` with 64 KiB pages: 512
/// eight-byte entries. 4.15 allocated upper tables at their own size; 6.1 allocates a
/// whole page for every level.
pub const RADIX_415_UPPER_TABLE_SIZE: u64 = 0x1000;

/// The default cap on a radix linear-mapping page (`radix_mem_block_size`): the 256 MiB
/// LMB size that PowerVM and QEMU pseries report in `ibm,lmb-size`.
pub const DEFAULT_RADIX_MEM_BLOCK_SIZE: u64 = 256 << 20;
