//! The memblock state when the per-CPU allocations begin ([`init_memblock`]) and the whole
//! sequence from an empty memblock ([`boot`]).

use alloc::vec::Vec;
use memblock::replay::Op;

use memblock::AllocLimit;
use phys::{PhysAddr, PhysSize};
use topology::Topology;

use crate::config::Limit;
use crate::config::PlanConfig;
use crate::early::{crashkernel_region, Region};
use crate::error::PlanError;
use crate::mem::{MemOp, MemblockOps};
use crate::report::{Placement, StructureKind};

use super::{plan_after, CallLog};

/// Puts into `mb` what `early_init_devtree` has set up when the per-CPU allocations
/// begin, in Linux 6.1's order: every memory range of the topology (without its node:
/// Linux reads associativity only later, in `mem_topology_setup`); the current limit
/// (`setup_initial_memory_limit`: the RMA for a hash guest; `MEMBLOCK_ALLOC_ANYWHERE`
/// for radix, as `mmu_early_init_devtree` sets it, or in hypervisor mode); the kernel
/// image `[0, _end)`; the crash kernel (`reserve_crashkernel`); then
/// `early_reserve_mem`: the flattened tree itself, its reservation block entries and
/// `/reserved-memory` regions, the initrd widened to whole pages; and
/// `move_device_tree`'s copy when the tree overlaps the crash kernel or the initrd, or
/// does not end in memory.
///
/// Returns the calls made, in the replay language. On error `mb` may hold part of the
/// ranges; start again from a fresh memblock.
pub fn init_memblock<M: MemblockOps>(
    mb: &mut M,
    topo: &Topology,
    cfg: &PlanConfig,
) -> Result<Vec<MemOp>, PlanError> {
    cfg.validate()?;
    let mut ops = Vec::new();
    for r in &topo.memory {
        mb.add(r.base, r.size, None)
            .map_err(|error| PlanError::Memblock {
                op: "add",
                base: r.base,
                size: r.size,
                error,
            })?;
        ops.push(MemOp::add(r.base, r.size, None));
    }
    let limit = PhysAddr::new(cfg.initial_current_limit(topo).raw());
    mb.set_current_limit(limit);
    ops.push(MemOp::new(Op::Limit(limit)));
    let mut reserve = |mb: &mut M, r: Region| -> Result<(), PlanError> {
        if r.size.is_zero() {
            return Ok(());
        }
        mb.reserve(r.base, r.size)
            .map_err(|error| PlanError::Memblock {
                op: "reserve",
                base: r.base,
                size: r.size,
                error,
            })?;
        ops.push(MemOp::reserve(r.base, r.size));
        Ok(())
    };
    reserve(
        mb,
        Region::new(PhysAddr::ZERO, PhysSize::new(cfg.kernel.end.as_u64())),
    )?;
    let early = &cfg.early;
    let in_memory = |r: Region| {
        topo.memory
            .iter()
            .any(|m| m.base <= r.base && r.end() <= m.base.saturating_add(m.size))
    };
    let crash = early.crashkernel.and_then(|req| {
        crashkernel_region(
            req,
            cfg.rma_limit(topo).raw(),
            !cfg.hypervisor_mode,
            &cfg.kernel,
            cfg.page_size,
            in_memory,
        )
    });
    if let Some(c) = crash {
        reserve(mb, c)?;
    }
    if let Some(fdt) = early.fdt {
        reserve(mb, fdt)?;
    }
    for r in &early.reserved {
        reserve(mb, *r)?;
    }
    let page = cfg.page_size;
    let initrd = early.initrd.filter(|r| !r.size.is_zero()).map(|r| {
        let base = r.base.as_u64() & !(page - 1);
        let end = r.end().as_u64().div_ceil(page).saturating_mul(page);
        Region::new(PhysAddr::new(base), PhysSize::new(end.saturating_sub(base)))
    });
    if let Some(rd) = initrd {
        reserve(mb, rd)?;
    }
    if let Some(fdt) = early.fdt.filter(|f| !f.size.is_zero()) {
        let last = Region::new(
            PhysAddr::new(fdt.end().as_u64().saturating_sub(1)),
            PhysSize::new(1),
        );
        let moves = !in_memory(last)
            || crash.is_some_and(|c| c.overlaps(fdt))
            || early.initrd.is_some_and(|r| r.overlaps(fdt));
        if moves {
            // memblock_alloc_raw(size, PAGE_SIZE): the copy stays reserved for good.
            let result =
                mb.alloc_try_nid(fdt.size, page, PhysAddr::ZERO, AllocLimit::Accessible, None);
            ops.push(MemOp::alloc(
                Op::AllocTryNid {
                    size: fdt.size,
                    align: page,
                    min: PhysAddr::ZERO,
                    max: AllocLimit::Accessible,
                    nid: None,
                },
                result,
            ));
            if result.is_none() {
                return Err(PlanError::CannotFit {
                    kind: StructureKind::DeviceTree,
                    cpu: None,
                    size: fdt.size,
                    align: page,
                    limit: Limit::from_raw(limit.as_u64()),
                });
            }
        }
    }
    Ok(ops)
}

/// [`init_memblock`] then [`plan`](super::plan): the whole sequence from an empty memblock. The
/// returned placement's `ops` start with the initialisation calls, so its
/// [`Placement::replay_script`] rebuilds the final memblock from nothing.
pub fn boot<M: MemblockOps>(
    mb: &mut M,
    topo: &Topology,
    cfg: &PlanConfig,
) -> Result<Placement, PlanError> {
    boot_with(mb, topo, cfg, CallLog::Keep)
}

/// [`boot`], keeping the memblock calls or not (`log`). With [`CallLog::Discard`] the
/// placement's `ops` is empty and everything else is what [`boot`] returns, for a
/// caller that reports where the structures went and never replays the calls.
/// The crate's example (in its top documentation) plans both ways.
pub fn boot_with<M: MemblockOps>(
    mb: &mut M,
    topo: &Topology,
    cfg: &PlanConfig,
    log: CallLog,
) -> Result<Placement, PlanError> {
    let snapshot = mb.clone();
    let init = match init_memblock(mb, topo, cfg) {
        Ok(ops) => ops,
        Err(e) => {
            *mb = snapshot;
            return Err(e);
        }
    };
    let init = (log == CallLog::Keep).then_some(init);
    plan_after(mb, topo, cfg, init).inspect_err(|_| *mb = snapshot)
}
