//! From QEMU's pre-CAS `dumpdtb` tree to the tree a Linux 6.1 or 6.12 pSeries guest
//! really boots from: the flattened size prom_init writes and what
//! `unflatten_device_tree` then allocates.
//!
//! The rules live in `cas`, `prominit`, `layout` and `unflatten`; see
//! [`predict_booted_for`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use phys::{PhysAddr, PhysSize};

use crate::build::OfBuild;
use crate::cas::{self, GuestChoice};
use crate::error::DtbError;
use crate::fdt::Tree;
use crate::layout::prom_layout;
use crate::shape::Shape;
use crate::unflatten::{allocations, UnflattenAllocs};

/// The MMU the guest asks for at CAS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootMmu {
    /// Radix (ISA 3.0), the Debian default.
    Radix,
    /// Hash page table (`disable_radix`, or a host without radix).
    Hash,
}

/// The predicted tree the kernel boots from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootedTreePrediction {
    /// `totalsize` of prom_init's version 16 blob (what `early_init_fdt_reserve_self`
    /// reserves).
    pub totalsize: PhysSize,
    /// `size_dt_strings`: the strings block with its 4-byte hole.
    pub strings_size: PhysSize,
    /// The structure block up to and including `FDT_END`.
    pub struct_size: PhysSize,
    /// Where prom_init puts the blob: the start of the chunk it claims.
    pub blob_address: PhysAddr,
    /// `unflatten_device_tree`'s allocations for that blob.
    pub unflatten: UnflattenAllocs,
    /// The memory reservation map prom_init writes (RTAS, page-rounded).
    pub mem_reserve: Vec<(PhysAddr, PhysSize)>,
    /// `linux,rtas-base` prom_init records, if `/rtas` has a `rtas-size`.
    pub rtas_base: Option<PhysAddr>,
    /// The MMU negotiated at CAS.
    pub mmu: BootMmu,
    /// Whether XIVE exploitation was negotiated (else XICS).
    pub xive: bool,
    /// What each step changed, in order.
    pub steps: Vec<String>,
}

/// Why no booted tree could be predicted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PredictError {
    /// The blob could not be read.
    Dtb(DtbError),
    /// The tree is not QEMU's pre-CAS dump (no `ibm,architecture-vec-5 = [00 00]` in
    /// `/chosen`); the rules only describe how QEMU and prom_init change such a tree.
    NotPreCasDump,
    /// The tree needs a rule numaboot does not model; the message names it.
    Unsupported(String),
    /// The build's `page_size` (the value here) is not a power of two, so prom_init's
    /// rounding is undefined.
    BadPageSize(u64),
}

impl fmt::Display for PredictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dtb(e) => e.fmt(f),
            Self::NotPreCasDump => f.write_str(
                "not a pre-CAS QEMU dump (no /chosen/ibm,architecture-vec-5 = [00 00]); \
                 a booted tree needs no prediction",
            ),
            Self::Unsupported(why) => write!(f, "cannot predict the booted tree: {why}"),
            Self::BadPageSize(p) => write!(
                f,
                "cannot predict the booted tree: page size {p:#x} is not a power of two"
            ),
        }
    }
}

impl core::error::Error for PredictError {}

impl From<DtbError> for PredictError {
    fn from(e: DtbError) -> Self {
        Self::Dtb(e)
    }
}

/// Predicts the tree Debian's Linux 6.1 boots from when QEMU 7.2 pseries (with VOF)
/// starts it from this pre-CAS dump: [`predict_booted_for`] with
/// [`OfBuild::DEBIAN_6_1_64K`].
pub fn predict_booted(dumped_blob: &[u8]) -> Result<BootedTreePrediction, PredictError> {
    predict_booted_for(dumped_blob, &OfBuild::DEBIAN_6_1_64K)
}

/// Predicts the tree a kernel of `build` boots from when QEMU 7.2 pseries (with VOF)
/// starts it from this pre-CAS dump.
///
/// Linux 6.1 and 6.12 take the same steps (their prom_init, CAS request,
/// `unflatten_device_tree` and `of_alias_scan` agree on everything modelled here); the
/// build's page size rounds every claim and block of step 2 and 3, its struct sizes
/// price step 4.
///
/// The steps, in the order they happen in the guest:
/// 1. **CAS.** prom_init asks for radix or hash, XIVE or XICS, and FORM2, as
///    `prom_check_platform_support` decides from
///    `/chosen/ibm,arch-vec-5-platform-support` and the command line (`bootargs`, or
///    Debian's `CONFIG_CMDLINE` when empty: `disable_radix[=bool]`,
///    `radix_hcall_invalidate=on`, `xive=off`). QEMU rebuilds the tree: the negotiated
///    `ibm,architecture-vec-5` (27 bytes with radix, 24 with hash and XIVE, 23 with
///    hash and XICS); FORM2 in `/rtas` (`ibm,associativity-reference-points` one cell,
///    `ibm,max-associativity-domains` `<1 n>`, new `ibm,numa-lookup-index-table` and
///    `ibm,numa-distance-table` for the `n` nodes of the dump's FORM1 maximum
///    domains) and every `ibm,associativity` three cells shorter; with XIVE the XICS
///    node becomes `interrupt-controller@60302031b0000` with XIVE's properties and the
///    root gains `ibm,plat-res-int-priorities`. `/chosen/rng-seed` stays.
/// 2. **prom_init.** `prom_init_mem`: the RMO top is the `reg` entry at 0 (capped at
///    768 MiB), free memory starts page-aligned above the kernel's end
///    (`qemu,boot-kernel`) plus 16 KiB. `prom_instantiate_rtas` claims `rtas-size`
///    bytes page-aligned just below the RMO top, adds `linux,rtas-base` and
///    `linux,rtas-entry` and reserves those pages; `iommu=off`/`force` add their
///    `/chosen` flags; `flatten_device_tree` claims up to 1 MiB at the bottom. VOF's
///    `available` loses both claims.
/// 3. **Flattening.** prom_init's version 16 layout: header page, page-aligned strings
///    (a hole, `phandle`, then each name once, the first name of the walk always
///    added again because the search bound is still 0), page-aligned structure
///    (`name` properties skipped, a `phandle` added where missing).
/// 4. **Unflattening** of that blob: see [`crate::unflatten_allocations_for`] (the
///    kernel removes `rng-seed` first).
///
/// [`PredictError::NotPreCasDump`] when `/chosen/ibm,architecture-vec-5` is not QEMU's
/// `[00 00]` placeholder; [`PredictError::Unsupported`] for what these rules do not
/// cover: an initrd, `mem=`, hotpluggable memory (`maxmem`, which adds
/// `ibm,dynamic-reconfiguration-memory` at CAS), a vTPM or display (prom_init adds
/// properties), radix without GTSE, a tree that outgrows the first 1 MiB chunk, or
/// claims VOF could not satisfy where these rules expect them;
/// [`PredictError::BadPageSize`] for a `build` whose page size is not a power of two.
pub fn predict_booted_for(
    dumped_blob: &[u8],
    build: &OfBuild,
) -> Result<BootedTreePrediction, PredictError> {
    let page = build.page_size;
    if !page.is_power_of_two() {
        return Err(PredictError::BadPageSize(page));
    }
    let tree = Tree::parse(dumped_blob)?;
    let mut shape = Shape::of(&tree);
    let chosen = shape
        .find("/chosen")
        .and_then(|i| shape.nodes.get(i))
        .ok_or(PredictError::NotPreCasDump)?;
    if chosen.bytes("ibm,architecture-vec-5") != Some(&[0u8, 0][..]) {
        return Err(PredictError::NotPreCasDump);
    }
    let cmdline = cas::prom_cmdline(chosen.bytes("bootargs"));
    let choice: GuestChoice =
        cas::guest_choice(chosen.bytes("ibm,arch-vec-5-platform-support"), &cmdline)
            .map_err(PredictError::Unsupported)?;
    hotplug_memory_check(&shape)?;
    let mut steps = cas::apply(&mut shape, choice).map_err(PredictError::Unsupported)?;
    let prom =
        crate::prominit::apply(&mut shape, &cmdline, page).map_err(PredictError::Unsupported)?;
    steps.extend(prom.steps);
    let layout = prom_layout(&shape, page);
    if layout.totalsize > prom.chunk_size {
        return Err(PredictError::Unsupported(alloc::format!(
            "the flattened tree ({} bytes) outgrows prom_init's first {}-byte chunk",
            layout.totalsize,
            prom.chunk_size
        )));
    }
    steps.push(alloc::format!(
        "flatten: strings {} bytes, structure {} bytes, totalsize {}",
        layout.strings_size,
        layout.struct_size,
        layout.totalsize
    ));
    Ok(BootedTreePrediction {
        totalsize: PhysSize::new(layout.totalsize),
        strings_size: PhysSize::new(layout.strings_size),
        struct_size: PhysSize::new(layout.struct_size),
        blob_address: PhysAddr::new(prom.blob_address),
        unflatten: allocations(&shape, build),
        mem_reserve: prom
            .mem_reserve
            .iter()
            .map(|&(b, s)| (PhysAddr::new(b), PhysSize::new(s)))
            .collect(),
        rtas_base: prom.rtas_base.map(PhysAddr::new),
        mmu: if choice.radix {
            BootMmu::Radix
        } else {
            BootMmu::Hash
        },
        xive: choice.xive,
        steps,
    })
}

/// With hotpluggable memory (`-m ...,maxmem=`) QEMU adds
/// `ibm,dynamic-reconfiguration-memory` at CAS, whose size these rules do not model.
/// `ibm,lrdr-capacity` starts with the top of hotpluggable memory, 0 without any.
fn hotplug_memory_check(shape: &Shape<'_>) -> Result<(), PredictError> {
    let Some(rtas) = shape.find("/rtas").and_then(|i| shape.nodes.get(i)) else {
        return Ok(());
    };
    let Some(lrdr) = rtas.bytes("ibm,lrdr-capacity") else {
        return Ok(());
    };
    let addr_cells = shape
        .nodes
        .first()
        .and_then(|r| r.bytes("#address-cells"))
        .and_then(|v| <[u8; 4]>::try_from(v).ok())
        .map_or(1, u32::from_be_bytes) as usize;
    let head = lrdr.get(..addr_cells.saturating_mul(4)).unwrap_or(lrdr);
    if head.iter().any(|&b| b != 0) {
        return Err(PredictError::Unsupported(
            "hotpluggable memory (ibm,lrdr-capacity names a memory top): QEMU adds \
             ibm,dynamic-reconfiguration-memory at CAS, which is not modelled"
                .into(),
        ));
    }
    Ok(())
}
