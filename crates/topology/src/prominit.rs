//! What Linux's prom_init (arch/powerpc/kernel/prom_init.c) does to the tree, and to
//! firmware memory, between CAS and flattening, on a QEMU pseries guest with VOF. 6.12
//! does what 6.1 does here (its prom_init differs only in two more CAS PVR entries
//! and in rounding `mem=`, which is refused); only `PAGE_SIZE` varies with the build.
//!
//! `prom_init_mem` finds the top of the RMO (the memory `reg` entry at 0, capped at
//! 768 MiB) and the bottom of free memory (the first page boundary above the kernel's
//! `_end` plus 16 KiB); `prom_instantiate_rtas` claims `rtas-size` bytes as high as possible below
//! the RMO top (`alloc_down`), records `linux,rtas-base` and `linux,rtas-entry` in
//! `/rtas` and reserves the pages in the reservation map; `flatten_device_tree`
//! claims up to 1 MiB from the bottom (`alloc_up`) for the blob. Every claim changes
//! the `available` property VOF keeps in `/memory@0`. `iommu=off`/`iommu=force` add
//! empty `/chosen` properties.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use phys::PhysAddr;

use crate::layout::{page_align, page_align_down, DEVTREE_CHUNK_SIZE};
use crate::shape::{Shape, ShapeNode};

/// prom_init caps the RMO top at 768 MiB (`prom_init_mem`).
const RMO_CAP: u64 = 0x3000_0000;
/// `alloc_up`/`alloc_down` retry 1 MiB further on when a claim fails.
const RETRY_STEP: u64 = 0x10_0000;

/// What the prom_init steps leave besides the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PromResult {
    pub steps: Vec<String>,
    /// Where the flattened blob starts (the chunk `flatten_device_tree` claims).
    pub blob_address: u64,
    /// Bytes claimed for the blob.
    pub chunk_size: u64,
    pub rtas_base: Option<u64>,
    /// The reservation map prom_init writes.
    pub mem_reserve: Vec<(u64, u64)>,
}

use crate::fdt::{be_cells as cells_of, read_number as number};

fn u32_of(node: &ShapeNode<'_>, name: &str) -> Option<u32> {
    match node.bytes(name)? {
        &[a, b, c, d] => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

/// Where Debian 6.1's `flatten_device_tree` puts the blob when nothing else sits above
/// the kernel: [`prom_blob_address_for`] with 64 KiB pages, saturating at the top of
/// the address space.
pub fn prom_blob_address(loaded_end: PhysAddr) -> PhysAddr {
    PhysAddr::new(page_align(
        loaded_end.as_u64().saturating_add(KERNEL_GAP),
        crate::OfBuild::DEBIAN_6_1_64K.page_size,
    ))
}

/// Where `flatten_device_tree` puts the blob when nothing else sits above the kernel:
/// `prom_init_mem` starts free memory at `PAGE_ALIGN(&_end + 0x4000)`, with `&_end`
/// the end of the image where firmware loaded it (`loaded_end`), and `alloc_up`'s
/// first claim is there. For a booted tree, whose own address is not recorded in it.
///
/// `page_size` is the kernel's `PAGE_SIZE` ([`crate::OfBuild::page_size`]). `None`
/// unless it is a power of two, or when the address would pass the top of the
/// address space.
pub fn prom_blob_address_for(loaded_end: PhysAddr, page_size: u64) -> Option<PhysAddr> {
    loaded_end
        .as_u64()
        .checked_add(KERNEL_GAP)
        .map(PhysAddr::new)?
        .align_up(page_size)
}

/// The 16 KiB `prom_init_mem` leaves above `_end` before free memory starts.
const KERNEL_GAP: u64 = 0x4000;

/// Firmware's free memory as VOF reports it, `[start, end)` ranges.
struct Available {
    node: usize,
    ranges: Vec<(u64, u64)>,
}

impl Available {
    /// A VOF claim succeeds when the range is free.
    fn claim(&mut self, base: u64, size: u64) -> bool {
        let Some(end) = base.checked_add(size) else {
            return false;
        };
        let Some(i) = self.ranges.iter().position(|&(s, e)| s <= base && end <= e) else {
            return false;
        };
        let (s, e) = self.ranges.remove(i);
        if end < e {
            self.ranges.insert(i, (end, e));
        }
        if s < base {
            self.ranges.insert(i, (s, base));
        }
        true
    }
}

pub(crate) fn apply(shape: &mut Shape<'_>, cmdline: &str, page: u64) -> Result<PromResult, String> {
    if cmdline.contains("mem=") {
        return Err("a mem= option (prom_init's memory limit) is not modelled".into());
    }
    let root = shape.nodes.first().ok_or("no root node")?;
    let rac = u32_of(root, "#address-cells").unwrap_or(2) as usize;
    let rsc = u32_of(root, "#size-cells").unwrap_or(1) as usize;
    if !(1..=2).contains(&rac) || !(1..=2).contains(&rsc) {
        return Err(format!(
            "root cell counts {rac}/{rsc}: prom_init reads 1 or 2"
        ));
    }
    let chosen = shape.find("/chosen").ok_or("no /chosen node")?;
    let chosen_node = shape.nodes.get(chosen).ok_or("no /chosen node")?;
    for unsupported in ["linux,initrd-start", "linux,initrd-end"] {
        if chosen_node.prop(unsupported).is_some() {
            return Err(
                "an initrd (prom_check_initrd, alloc_bottom above it) is not modelled".into(),
            );
        }
    }
    if chosen_node.prop("linux,stdout-path").is_none() {
        return Err("/chosen has no linux,stdout-path for prom_init_stdout to keep".into());
    }
    let kernel = chosen_node
        .bytes("qemu,boot-kernel")
        .filter(|v| v.len() == 16)
        .ok_or("/chosen has no 16-byte qemu,boot-kernel (kernel base and size)")?;
    let kc = cells_of(kernel);
    let kernel_end = number(&kc[..2]).saturating_add(number(&kc[2..]));
    for n in &shape.nodes {
        if n.name.starts_with("vtpm") || n.bytes("device_type") == Some(b"display\0") {
            return Err(format!(
                "node {}: prom_init would add properties to it",
                n.name
            ));
        }
        if let Some(p) = n.props.iter().find(|p| p.name.len() >= 64) {
            return Err(format!(
                "property {} is longer than prom_init's 64-byte name buffer",
                p.name
            ));
        }
    }

    // prom_init_mem: RMO top (LPAR: the size of the reg entry at 0) and RAM top.
    let (mut rmo_top, mut ram_top) = (0u64, 0u64);
    let mut available: Option<Available> = None;
    for (i, n) in shape.nodes.iter().enumerate() {
        let ty = n.bytes("device_type").or_else(|| n.bytes("name"));
        if ty.map(|t| t.split(|&b| b == 0).next() == Some(b"memory")) != Some(true) {
            continue;
        }
        let reg = cells_of(n.bytes("reg").unwrap_or(&[]));
        for e in reg.chunks_exact(rac + rsc) {
            let (base, size) = (number(&e[..rac]), number(&e[rac..]));
            if size == 0 {
                continue;
            }
            if base == 0 {
                rmo_top = size;
            }
            ram_top = ram_top.max(base.saturating_add(size));
        }
        if let Some(av) = n.bytes("available") {
            if available.is_some() {
                return Err("more than one memory node has an available property".into());
            }
            let c = cells_of(av);
            let ranges = c
                .chunks_exact(rac + rsc)
                .map(|e| {
                    let base = number(&e[..rac]);
                    (base, base.saturating_add(number(&e[rac..])))
                })
                .collect();
            available = Some(Available { node: i, ranges });
        }
    }
    let mut available = available.ok_or("no memory node has VOF's available property")?;
    let alloc_bottom = prom_blob_address_for(PhysAddr::new(kernel_end), page)
        .ok_or("the kernel ends at the top of the address space")?
        .as_u64();
    if rmo_top == 0 {
        rmo_top = ram_top;
    }
    let mut alloc_top = rmo_top.min(RMO_CAP);
    let mut out = PromResult::default();

    // prom_instantiate_rtas: alloc_down(rtas-size, PAGE_SIZE).
    let rtas = shape.find("/rtas").ok_or("no /rtas node")?;
    let rtas_size = shape
        .nodes
        .get(rtas)
        .and_then(|n| u32_of(n, "rtas-size"))
        .unwrap_or(0) as u64;
    if rtas_size > 0 {
        let mut base = page_align_down(alloc_top.saturating_sub(rtas_size), page);
        let mut got = None;
        while base > alloc_bottom {
            if available.claim(base, rtas_size) {
                got = Some(base);
                break;
            }
            base = page_align_down(base.saturating_sub(RETRY_STEP), page);
        }
        let base = got.ok_or("no room to instantiate RTAS below the RMO top")?;
        alloc_top = base;
        let node = shape.nodes.get_mut(rtas).ok_or("no /rtas node")?;
        node.set_len("linux,rtas-base", 4, true);
        node.set_len("linux,rtas-entry", 4, true);
        let bottom = page_align_down(base, page);
        let top = page_align(base.saturating_add(rtas_size), page);
        out.mem_reserve.push((bottom, top.saturating_sub(bottom)));
        out.rtas_base = Some(base);
        out.steps.push(format!(
            "prom_init: RTAS ({rtas_size:#x} bytes) claimed at {base:#x}, \
             /rtas/linux,rtas-base and linux,rtas-entry added"
        ));
    }

    if let Some(at) = cmdline.find("iommu=") {
        let opt = cmdline.get(at + 6..).unwrap_or("").trim_start_matches(' ');
        let prop = if opt.starts_with("off") {
            Some("linux,iommu-off")
        } else if opt.starts_with("force") {
            Some("linux,iommu-force-on")
        } else {
            None
        };
        if let Some(prop) = prop {
            if let Some(n) = shape.nodes.get_mut(chosen) {
                n.set_len(prop, 0, true);
            }
            out.steps.push(format!("prom_init: /chosen/{prop} added"));
        }
    }

    // flatten_device_tree: alloc_up(room, PAGE_SIZE).
    let room = alloc_top
        .checked_sub(alloc_bottom)
        .and_then(|r| r.checked_sub(0x4000))
        .ok_or("no room between the kernel and the RMO top for the flattened tree")?
        .min(DEVTREE_CHUNK_SIZE);
    if room < page {
        return Err("less than a page for the flattened tree (prom_init panics)".into());
    }
    let mut base = page_align(alloc_bottom, page);
    let mut got = None;
    while base.saturating_add(room) <= alloc_top {
        if available.claim(base, room) {
            got = Some(base);
            break;
        }
        base = page_align(base.saturating_add(RETRY_STEP), page);
    }
    let base = got.ok_or("VOF has no free range for the flattened tree")?;
    out.blob_address = base;
    out.chunk_size = room;
    let n = available.ranges.len();
    if let Some(node) = shape.nodes.get_mut(available.node) {
        node.set_len("available", n * (rac + rsc) * 4, true);
    }
    out.steps.push(format!(
        "prom_init: {room:#x}-byte tree chunk claimed at {base:#x}; VOF's available now has \
         {n} ranges"
    ));
    Ok(out)
}
