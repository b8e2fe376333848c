//! The boot facts of a plan: what the kernel image, the device tree and firmware
//! reserve or allocate before the per-CPU structures ([`percpu::early`]).
//!
//! Sources, most specific first: `--kernel`/`--kernel-end` for the image; the device
//! tree for the rest. A tree the kernel booted from (`/sys/firmware/fdt`, v16 from
//! `prom_init` or v17 from kexec) carries its own reservation map, initrd, command
//! line and RTAS instance. QEMU's `dumpdtb` tree is taken before client-architecture
//! support and before `prom_init`: RTAS is not instantiated yet and the tree is not yet
//! flattened by `prom_init`, so both are modelled ([`percpu::prom_init`] for the
//! placement, the topology crate's prediction for the sizes).

use anyhow::Context;
use percpu::early::{KernelImage, Region};
use percpu::PlanConfig;
use phys::{PhysAddr, PhysSize};
use topology::DtbReport;

use super::kernel::kernel_from_elf;
use super::machine::{Machine, MachineArgs};

/// `MIN_MEMORY_BLOCK_SIZE` (`1 << SECTION_SIZE_BITS`, 16 MiB on ppc64): the radix
/// mapping cap of a pseries tree without `ibm,lmb-size`.
const MIN_MEMORY_BLOCK_SIZE: u64 = 16 << 20;

/// What a device tree says beyond the topology.
#[derive(Clone, Debug)]
pub struct TreeInfo {
    /// `ibm,lmb-size`, if any.
    pub lmb_size: Option<PhysSize>,
    /// The lowest `memory` node range (`memstart_addr`, `first_memblock_size`).
    pub first_memory_block: Option<(PhysAddr, PhysSize)>,
    /// QEMU's pre-CAS `dumpdtb` tree (RTAS not instantiated, not flattened by
    /// `prom_init` yet).
    pub qemu_pre_cas: bool,
}

impl TreeInfo {
    /// The facts of `report`, parsed from `blob`.
    pub fn new(report: &DtbReport, _blob: &[u8]) -> anyhow::Result<Self> {
        Ok(Self {
            lmb_size: report.lmb_size,
            first_memory_block: report.first_memory_block,
            qemu_pre_cas: report.affinity_assumed,
        })
    }
}

/// `radix_mem_block_size` (6.1 `radix_memory_block_size`): 1 GiB on PowerNV (OPAL),
/// else `ibm,lmb-size`, else `MIN_MEMORY_BLOCK_SIZE`.
fn radix_block(m: &Machine) -> Option<u64> {
    let tree = m.tree.as_ref()?;
    Some(if m.topo.hypervisor_mode {
        1 << 30
    } else {
        tree.lmb_size.map_or(MIN_MEMORY_BLOCK_SIZE, |s| s.as_u64())
    })
}

/// Fills `cfg.kernel`, `cfg.early` and `cfg.radix_mem_block_size` from the options and
/// the machine's tree.
pub fn apply(m: &Machine, args: &MachineArgs, cfg: &mut PlanConfig) -> anyhow::Result<()> {
    if let Some(path) = &args.kernel {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
        cfg.kernel = kernel_from_elf(&bytes).with_context(|| shown.clone())?;
    } else if let Some(end) = args.kernel_end {
        cfg.kernel = KernelImage::ending_at(PhysAddr::new(end));
    }
    if let Some(b) = radix_block(m) {
        cfg.radix_mem_block_size = b;
    }
    if let Some(addr) = args.fdt_addr {
        let size = cfg.early.fdt.map_or(PhysSize::ZERO, |r| r.size);
        cfg.early.fdt = Some(Region::new(PhysAddr::new(addr), size));
    }
    Ok(())
}
