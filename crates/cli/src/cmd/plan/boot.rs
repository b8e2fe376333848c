//! The boot facts of a plan: what the kernel image, the device tree and firmware
//! reserve or allocate before the per-CPU structures ([`percpu::early`]).
//!
//! Sources, most specific first: `--kernel`/`--kernel-end` for the image; the device
//! tree for the rest. A tree the kernel booted from (`/sys/firmware/fdt`: version 16
//! from `prom_init`, 17 from kexec) carries its own reservation map, `/reserved-memory`,
//! initrd, command line (`crashkernel=`) and RTAS instance; only its own address is not
//! in it (`--fdt-addr`, else where `prom_init` puts it above a kernel loaded at
//! `--load-addr`, QEMU's 0x400000 by default). QEMU's `dumpdtb` tree is taken before
//! client-architecture support and before `prom_init`, so the tree the kernel will boot
//! from is predicted ([`topology::predict_booted`]): its size, address, reservation map
//! and RTAS instance.

use anyhow::Context;
use percpu::early::{CrashKernel, EarlyBoot, KernelImage, Region};
use percpu::PlanConfig;
use percpu::Strategy;
use phys::{PhysAddr, PhysSize};
use topology::{
    predict_booted, predict_booted_for, probe_memory_block_size, prom_blob_address_for,
    unflatten_allocations, unflatten_allocations_for, DtbReport, FdtFacts, OfBuild,
    UnflattenAllocs, MIN_MEMORY_BLOCK_SIZE,
};

use super::kernel::{config_beside, kernel_from_elf, parse_config};
use super::machine::{Machine, MachineArgs, PageSizeArg};
use crate::cmd::files::{self, Cap};

/// QEMU pseries' default `kernel-addr`, where `-kernel` images are loaded.
const QEMU_KERNEL_ADDR: u64 = 0x40_0000;

/// What a device tree says about early boot beyond the topology.
#[derive(Clone, Debug)]
pub struct TreeInfo {
    /// `ibm,lmb-size`, if any.
    pub lmb_size: Option<PhysSize>,
    /// The header, reservations, `/chosen` and `/rtas` facts of the tree as given.
    pub facts: FdtFacts,
    /// Whether the tree is QEMU's pre-CAS dump (the kernel boots from another tree,
    /// predicted from this one).
    pub qemu_pre_cas: bool,
    /// The blob, for the sizes that depend on the kernel build ([`TreeInfo::booted`]).
    pub blob: Vec<u8>,
    /// Why the booted tree cannot be predicted from a pre-CAS dump, if so.
    pub unpredictable: Option<String>,
}

/// Which tree the kernel boots from, and what it costs, for one kernel build.
#[derive(Clone, Debug)]
pub enum Booted {
    /// The tree given is the one the kernel boots from.
    AsGiven {
        /// `unflatten_device_tree`'s and `of_alias_scan`'s allocations.
        unflatten: UnflattenAllocs,
    },
    /// QEMU's pre-CAS dump: the predicted booted tree.
    Predicted(Box<topology::BootedTreePrediction>),
    /// QEMU's pre-CAS dump that the prediction rules do not cover: the early boot
    /// facts are unknown beyond the kernel image.
    Unknown,
}

impl TreeInfo {
    /// The facts of `report`, parsed from `blob`.
    pub fn new(report: &DtbReport, blob: &[u8]) -> anyhow::Result<Self> {
        let qemu_pre_cas = report.affinity_assumed;
        // Whether the rules cover the dump does not depend on the kernel build.
        let unpredictable = qemu_pre_cas
            .then(|| predict_booted(blob).err().map(|e| e.to_string()))
            .flatten();
        if !qemu_pre_cas {
            unflatten_allocations(blob)?;
        }
        Ok(Self {
            lmb_size: report.lmb_size,
            facts: report.facts.clone(),
            qemu_pre_cas,
            blob: blob.to_vec(),
            unpredictable,
        })
    }

    /// The booted tree for the kernel `build`.
    pub fn booted(&self, build: &OfBuild) -> anyhow::Result<Booted> {
        Ok(if self.qemu_pre_cas {
            match predict_booted_for(&self.blob, build) {
                Ok(p) => Booted::Predicted(Box::new(p)),
                Err(_) => Booted::Unknown,
            }
        } else {
            Booted::AsGiven {
                unflatten: unflatten_allocations_for(&self.blob, build)?,
            }
        })
    }
}

/// The device-tree structures of the kernel build `cfg` models.
fn of_build(cfg: &PlanConfig) -> OfBuild {
    match cfg.strategy.base() {
        Strategy::Linux612 if cfg.page_size == percpu::consts::PAGE_SIZE_4K => {
            OfBuild::DEBIAN_6_12_4K
        }
        Strategy::Linux612 => OfBuild::DEBIAN_6_12_64K,
        // 6.1's structures; a 4 KiB build of it keeps them and changes the page size.
        _ => OfBuild {
            page_size: cfg.page_size,
            ..OfBuild::DEBIAN_6_1_64K
        },
    }
}

/// The radix linear mapping's largest page: 6.1's `radix_mem_block_size` (1 GiB on
/// PowerNV, else `ibm,lmb-size`, else `MIN_MEMORY_BLOCK_SIZE`); 6.12's
/// `memory_block_size` ([`topology::probe_memory_block_size`]).
fn radix_block(m: &Machine, strategy: Strategy) -> anyhow::Result<Option<u64>> {
    let Some(tree) = m.tree.as_ref() else {
        return Ok(None);
    };
    Ok(Some(match strategy.base() {
        Strategy::Linux612 => probe_memory_block_size(&tree.blob)?.as_u64(),
        _ if m.topo.hypervisor_mode => 1 << 30,
        _ => tree.lmb_size.map_or(MIN_MEMORY_BLOCK_SIZE, |s| s.as_u64()),
    }))
}

fn region((base, size): (PhysAddr, PhysSize)) -> Region {
    Region::new(base, size)
}

/// `crashkernel=` of the tree's `bootargs`, resolved against the machine's memory
/// (`reserve_crashkernel` passes `memblock_phys_mem_size()`).
fn crashkernel(m: &Machine, facts: &FdtFacts) -> Option<CrashKernel> {
    let ram = m
        .topo
        .memory
        .iter()
        .fold(PhysSize::ZERO, |a, r| a.saturating_add(r.size));
    facts
        .chosen
        .crashkernel
        .as_ref()
        .and_then(|c| c.reservation(ram))
        .map(|(size, base)| CrashKernel { size, base })
}

/// The early-boot facts of a tree the kernel boots from as given.
fn as_given(
    m: &Machine,
    facts: &FdtFacts,
    unflatten: &UnflattenAllocs,
    args: &MachineArgs,
    kernel: &KernelImage,
    kernel_page: u64,
) -> EarlyBoot {
    let loaded_end = args
        .load_addr
        .unwrap_or(QEMU_KERNEL_ADDR)
        .saturating_add(kernel.end.as_u64().saturating_sub(kernel.stext.as_u64()));
    // A hypervisor-mode tree comes from skiboot/petitboot (kexec), not prom_init: its
    // address is unknown without --fdt-addr.
    let fdt_base = match args.fdt_addr {
        Some(a) => Some(PhysAddr::new(a)),
        None if m.topo.hypervisor_mode => None,
        None => prom_blob_address_for(PhysAddr::new(loaded_end), kernel_page),
    };
    let mut reserved: Vec<Region> = facts.mem_reserve.iter().copied().map(region).collect();
    if facts.reserved_memory.usable {
        reserved.extend(
            facts
                .reserved_memory
                .regions
                .iter()
                .map(|r| Region::new(r.base, r.size)),
        );
    }
    EarlyBoot {
        fdt: fdt_base.map(|b| Region::new(b, facts.header.totalsize)),
        reserved,
        initrd: facts.chosen.initrd.and_then(|(start, end)| {
            end.checked_offset_from(start)
                .filter(|s| !s.is_zero())
                .map(|s| Region::new(start, s))
        }),
        crashkernel: crashkernel(m, facts),
        unflattened_tree: Some(unflatten.tree.size),
        aliases: unflatten.aliases.iter().map(|a| a.size).collect(),
        rtas: facts.rtas.present && facts.rtas.base.is_some() && facts.rtas.size.is_some(),
        mmu_lpid_bits: None,
    }
}

/// Notes for the user on boot facts of `m` that cannot be modelled.
pub fn notes(m: &Machine, args: &MachineArgs) -> Vec<String> {
    let mut notes = Vec::new();
    match &m.tree {
        Some(TreeInfo {
            unpredictable: Some(why),
            ..
        }) => notes.push(format!(
            "the booted tree's size, place and reservations are not modelled: {why}"
        )),
        None if args.fdt_addr.is_some() => {
            notes.push("--fdt-addr ignored: a TOML topology has no device tree to size".into())
        }
        _ => {}
    }
    notes
}

/// Fills `cfg.kernel`, `cfg.early`, the kernel build's page size, paca size, stack
/// size, `NR_CPUS` and KFENCE, and `cfg.radix_mem_block_size` from the options and the
/// machine's tree.
pub fn apply(m: &Machine, args: &MachineArgs, cfg: &mut PlanConfig) -> anyhow::Result<()> {
    let strategy = cfg.strategy;
    let mut page = args.page_size.map_or(cfg.page_size, PageSizeArg::bytes);
    if let Some(path) = &args.kernel {
        let shown = files::shown(path);
        let bytes = files::read_input(path, Cap::Kernel)?;
        cfg.kernel = kernel_from_elf(&bytes).with_context(|| shown.clone())?;
    } else if let Some(end) = args.kernel_end {
        cfg.kernel = KernelImage::ending_at(PhysAddr::new(end));
    }
    // The build's configuration (given, or Debian's config-VERSION beside the image)
    // gives NR_CPUS, the stack size, the page size and KFENCE; the command line wins.
    let conf = args
        .kernel_config
        .clone()
        .or_else(|| args.kernel.as_deref().and_then(config_beside));
    if let Some(conf) = conf {
        let text = files::read_text(&conf, Cap::Config)?;
        let kc = parse_config(&text);
        if let (Some(n), None) = (kc.nr_cpus, args.nr_cpus) {
            cfg.nr_cpu_ids = n;
        }
        if let Some(t) = kc.thread_shift {
            cfg.thread_shift = t;
        }
        if let Some(k) = kc.kfence {
            cfg.kfence = k;
        }
        match (kc.page_size, args.page_size) {
            (Some(p), Some(a)) if p != a.bytes() => anyhow::bail!(
                "{}: PAGE_SIZE {p:#x}, but --page-size says {:#x}",
                conf.display(),
                a.bytes()
            ),
            (Some(p), _) => page = p,
            _ => {}
        }
    }
    if args.kernel.is_none() && args.kernel_end.is_none() {
        cfg.kernel = KernelImage::debian(strategy, page);
    }
    cfg.page_size = page;
    if args.paca_size.is_none() {
        cfg.paca_size = strategy.default_paca_size_for(page);
    }
    if let Some(b) = radix_block(m, strategy)? {
        cfg.radix_mem_block_size = b;
    }
    if let Some(tree) = &m.tree {
        // smp_setup_cpu_maps: every thread of every CPU node, and on an LPAR CPUs up to
        // ibm,lrdr-capacity's maxcpus (QEMU's -smp maxcpus), are possible.
        let n = tree.facts.possible_cpus(cfg.nr_cpu_ids) as usize;
        if n > cfg.possible.len() {
            cfg.possible = vec![true; n];
        }
        let booted = tree.booted(&of_build(cfg))?;
        cfg.early = match &booted {
            Booted::AsGiven { unflatten } => {
                as_given(m, &tree.facts, unflatten, args, &cfg.kernel, cfg.page_size)
            }
            Booted::Predicted(p) => EarlyBoot {
                fdt: Some(Region::new(
                    args.fdt_addr.map_or(p.blob_address, PhysAddr::new),
                    p.totalsize,
                )),
                reserved: p.mem_reserve.iter().copied().map(region).collect(),
                unflattened_tree: Some(p.unflatten.tree.size),
                aliases: p.unflatten.aliases.iter().map(|a| a.size).collect(),
                rtas: p.rtas_base.is_some(),
                // QEMU puts -append into /chosen/bootargs of the dump.
                crashkernel: crashkernel(m, &tree.facts),
                ..EarlyBoot::default()
            },
            Booted::Unknown => EarlyBoot::default(),
        };
    }
    if let Some(path) = &args.facts_from {
        apply_log(path, args, cfg)?;
    }
    Ok(())
}

/// `--facts-from LOG`: the boot facts as the kernel logged them, over whatever the
/// tree and the image said. The tree's own address and size, the reservations made
/// before the pacas and the unflattened tree are what Linux reserved; RTAS's buffer
/// exists if the log allocated one.
fn apply_log(
    path: &std::path::Path,
    args: &MachineArgs,
    cfg: &mut PlanConfig,
) -> anyhow::Result<()> {
    let shown = files::shown(path);
    let bytes = files::read_input(path, Cap::Log)?;
    let text = String::from_utf8_lossy(&bytes);
    let log = bootlog::parse(&text)
        .map_err(|e| anyhow::anyhow!("{shown}: line {}: {}: `{}`", e.line, e.kind, e.text))?;
    let f = &log.facts;
    let Some(end) = f.kernel_end else {
        anyhow::bail!("{shown}: no kernel image reservation (memblock_reserve from 0 by early_init_devtree): not a memblock=debug log from the start of boot");
    };
    if args.kernel.is_none() && args.kernel_end.is_none() {
        cfg.kernel = KernelImage::ending_at(end);
    } else {
        cfg.kernel.end = end;
    }
    cfg.early.fdt = f.fdt.map(|r| Region::new(r.base, r.size));
    cfg.early.reserved = f
        .reserved_mem
        .iter()
        .map(|r| Region::new(r.base, r.size))
        .collect();
    cfg.early.unflattened_tree = f.unflattened_tree.map(|b| b.size);
    cfg.early.rtas = f.rtas.is_some();
    if args.paca_size.is_none() {
        if let Some(ps) = f.paca_size {
            cfg.paca_size = ps;
        }
    }
    if !args.radix && !args.hash {
        if let Some(mmu) = f.mmu {
            cfg.radix = mmu == bootlog::Mmu::Radix;
        }
    }
    Ok(())
}
