//! Where Linux's Open Firmware client `prom_init` puts what it hands the kernel: the
//! flattened device tree and the RTAS instance (Linux 6.1 `arch/powerpc/kernel/prom_init.c`).
//!
//! A pseries kernel booted by Open Firmware (SLOF, or QEMU's VOF) runs `prom_init` from
//! wherever firmware loaded it. `prom_init` keeps two cursors inside the real-mode area:
//! `alloc_bottom`, just above its own image (and above an initrd that follows the
//! image), grows upwards (`alloc_up`); `alloc_top`, the top of the RMO capped at 768 MiB,
//! grows downwards (`alloc_down`). It instantiates RTAS at `alloc_top` minus the size
//! firmware asks for (page aligned), records it and the initrd in its reservation map
//! (`reserve_mem`, widened to whole pages), and flattens the tree at `alloc_bottom`.
//! Both claims succeed at the first address tried when nothing else is there, which is
//! the case under VOF and SLOF for a kernel loaded low; this module computes those
//! first addresses. It does not model claims that firmware refuses.

use alloc::vec::Vec;

use phys::{PhysAddr, PhysSize};

use crate::early::Region;

/// QEMU pseries' default `kernel-addr`: where `-kernel` images are loaded.
pub const QEMU_KERNEL_ADDR: PhysAddr = PhysAddr::new(0x40_0000);

/// `prom_init` caps its allocation top at 768 MiB ("some RS64 machines have buggy
/// firmware where claims up at 1GB fail").
pub const PROM_ALLOC_TOP_CAP: u64 = 0x3000_0000;

/// What `prom_init` starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromInitInput {
    /// Where firmware loaded the kernel image (its `_stext`).
    pub load_addr: PhysAddr,
    /// `_end - _stext` of the image.
    pub image_size: PhysSize,
    /// The size of the `memory` node `reg` entry at address 0 on an LPAR (`rmo_top`);
    /// `None` when there is none or on bare metal, where the top of RAM is used.
    pub rmo_size: Option<PhysSize>,
    /// The end of the highest `memory` node `reg` entry (`ram_top`).
    pub ram_top: PhysAddr,
    /// The initrd firmware loaded, if any (`prom_check_initrd`).
    pub initrd: Option<Region>,
    /// `/rtas`'s `rtas-size`, when firmware offers RTAS (`prom_instantiate_rtas`).
    pub rtas_size: Option<u32>,
    /// `PAGE_SIZE` of the kernel (`prom_init` aligns with the kernel's page size).
    pub page_size: u64,
}

/// Where things end up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromInitLayout {
    /// The flattened tree's address (its size is the tree's `totalsize`).
    pub fdt_base: PhysAddr,
    /// The reservation map `prom_init` writes into the tree: the initrd, then RTAS,
    /// each widened to whole pages.
    pub memreserve: Vec<Region>,
    /// The RTAS instance (`linux,rtas-base`), if instantiated.
    pub rtas_base: Option<PhysAddr>,
}

/// Why the layout cannot be computed (where `prom_init` itself would panic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromInitError {
    /// The page size is not a power of two of at least 4 KiB.
    BadPageSize(u64),
    /// No room for RTAS between `alloc_bottom` and `alloc_top`.
    NoRoomForRtas {
        /// `alloc_bottom`.
        bottom: PhysAddr,
        /// `alloc_top`.
        top: PhysAddr,
    },
    /// No room for the flattened tree below `alloc_top`.
    NoRoomForFdt {
        /// `alloc_bottom`.
        bottom: PhysAddr,
        /// `alloc_top`.
        top: PhysAddr,
    },
}

impl core::fmt::Display for PromInitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadPageSize(p) => write!(f, "page size {p:#x} is not a power of two >= 4 KiB"),
            Self::NoRoomForRtas { bottom, top } => write!(
                f,
                "prom_init: no room to instantiate RTAS between {bottom} and {top}"
            ),
            Self::NoRoomForFdt { bottom, top } => write!(
                f,
                "prom_init: no room for the flattened device tree between {bottom} and {top}"
            ),
        }
    }
}

impl core::error::Error for PromInitError {}

fn align_up(x: u64, a: u64) -> Option<u64> {
    x.checked_add(a - 1).map(|v| v & !(a - 1))
}

/// Computes where `prom_init` places RTAS and the flattened tree (see the module
/// documentation for the rules).
pub fn layout(input: &PromInitInput) -> Result<PromInitLayout, PromInitError> {
    let page = input.page_size;
    if !page.is_power_of_two() || page < 0x1000 {
        return Err(PromInitError::BadPageSize(page));
    }
    // prom_init_mem: alloc_bottom = PAGE_ALIGN(&_end + 0x4000), with &_end where the
    // image runs now.
    let image_end = input
        .load_addr
        .as_u64()
        .saturating_add(input.image_size.as_u64());
    let mut bottom = align_up(image_end.saturating_add(0x4000), page).unwrap_or(u64::MAX);
    let rmo_top = input
        .rmo_size
        .map_or(input.ram_top.as_u64(), |s| s.as_u64())
        .min(PROM_ALLOC_TOP_CAP);
    let mut top = rmo_top;
    let mut memreserve = Vec::new();
    // reserve_mem widens to whole pages.
    let widen = |r: Region| {
        let base = r.base.as_u64() & !(page - 1);
        let end = align_up(r.end().as_u64(), page).unwrap_or(u64::MAX);
        Region::new(PhysAddr::new(base), PhysSize::new(end - base))
    };
    if let Some(rd) = input.initrd.filter(|r| !r.size.is_zero()) {
        memreserve.push(widen(rd));
        // An initrd above the kernel but inside the RMO pushes alloc_bottom past it.
        if rd.base.as_u64() < rmo_top && rd.end().as_u64() > bottom {
            bottom = align_up(rd.end().as_u64(), page).unwrap_or(u64::MAX);
        }
    }
    let mut rtas_base = None;
    if let Some(size) = input.rtas_size.filter(|s| *s != 0) {
        // alloc_down(size, PAGE_SIZE, 0): the first try is the highest aligned base.
        let base = top
            .checked_sub(u64::from(size))
            .map(|b| b & !(page - 1))
            .filter(|b| *b > bottom)
            .ok_or(PromInitError::NoRoomForRtas {
                bottom: PhysAddr::new(bottom),
                top: PhysAddr::new(top),
            })?;
        top = base;
        rtas_base = Some(PhysAddr::new(base));
        memreserve.push(widen(Region::new(
            PhysAddr::new(base),
            PhysSize::new(u64::from(size)),
        )));
    }
    // flatten_device_tree: alloc_up(room, PAGE_SIZE) with room = min(top - bottom -
    // 0x4000, 1 MiB); the header sits at the start of the claimed chunk.
    let fdt_base = align_up(bottom, page)
        .filter(|b| top.checked_sub(0x4000).is_some_and(|t| *b < t))
        .ok_or(PromInitError::NoRoomForFdt {
            bottom: PhysAddr::new(bottom),
            top: PhysAddr::new(top),
        })?;
    Ok(PromInitLayout {
        fdt_base: PhysAddr::new(fdt_base),
        memreserve,
        rtas_base,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// The Debian 6.1.0-50 kernel under QEMU pseries (VOF) with 1 GiB on node 0: the
    /// real boot's log reserves the tree at 0x2c90000 and RTAS at 0x2fff0000 (64 KiB).
    #[test]
    fn qemu_vof_boot_of_debian_6_1() {
        let l = layout(&PromInitInput {
            load_addr: QEMU_KERNEL_ADDR,
            image_size: PhysSize::new(0x288_0000),
            rmo_size: Some(PhysSize::new(1 << 30)),
            ram_top: PhysAddr::new(3 << 30),
            initrd: None,
            rtas_size: Some(0x89c),
            page_size: 0x1_0000,
        })
        .unwrap();
        assert_eq!(l.fdt_base, PhysAddr::new(0x2c9_0000));
        assert_eq!(l.rtas_base, Some(PhysAddr::new(0x2fff_0000)));
        assert_eq!(
            l.memreserve,
            vec![Region::new(
                PhysAddr::new(0x2fff_0000),
                PhysSize::new(0x1_0000)
            )]
        );
    }

    #[test]
    fn small_rmo_and_initrd() {
        let l = layout(&PromInitInput {
            load_addr: QEMU_KERNEL_ADDR,
            image_size: PhysSize::new(0x288_0000),
            rmo_size: Some(PhysSize::new(512 << 20)),
            ram_top: PhysAddr::new(512 << 20),
            initrd: Some(Region::new(
                PhysAddr::new(0x300_0000),
                PhysSize::new(0x12345),
            )),
            rtas_size: Some(0x89c),
            page_size: 0x1_0000,
        })
        .unwrap();
        // RTAS at the top of the 512 MiB RMO; the tree after the initrd's last page.
        assert_eq!(l.rtas_base, Some(PhysAddr::new(0x1fff_0000)));
        assert_eq!(l.fdt_base, PhysAddr::new(0x302_0000));
        assert_eq!(
            l.memreserve[0],
            Region::new(PhysAddr::new(0x300_0000), PhysSize::new(0x2_0000))
        );
    }

    #[test]
    fn no_room_is_an_error() {
        let e = layout(&PromInitInput {
            load_addr: QEMU_KERNEL_ADDR,
            image_size: PhysSize::new(0x288_0000),
            rmo_size: Some(PhysSize::new(32 << 20)),
            ram_top: PhysAddr::new(32 << 20),
            initrd: None,
            rtas_size: Some(0x89c),
            page_size: 0x1_0000,
        });
        assert!(matches!(e, Err(PromInitError::NoRoomForRtas { .. })));
        assert!(layout(&PromInitInput {
            load_addr: PhysAddr::new(u64::MAX - 10),
            image_size: PhysSize::new(u64::MAX),
            rmo_size: None,
            ram_top: PhysAddr::MAX,
            initrd: None,
            rtas_size: None,
            page_size: 3,
        })
        .is_err());
    }
}
