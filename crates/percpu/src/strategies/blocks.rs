//! [`crate::Strategy::PerCpuBlock`] and [`crate::Strategy::PerNodeBlock`]: the paca data
//! of a CPU, or of a node's CPUs, in one memblock allocation.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use phys::{NodeId, PhysAddr, PhysSize};

use super::{push_slot, record, Record, CPU_BLOCK_ALIGN, VPA_PAGE};
use crate::consts::{L1_CACHE_BYTES, LPPACA_STRUCT_SIZE, SLB_SHADOW_SIZE};
use crate::error::PlanError;
use crate::mem::MemblockOps;
use crate::plan::{early_cpu_to_node, Planner, Request};
use crate::report::{NoNodeReason, Outcome, StructureKind};

/// Records the paca, lppaca and SLB shadow of `cpu` inside the block at `base`.
fn slots<M: MemblockOps>(
    p: &mut Planner<'_, M>,
    cpu: u32,
    base: PhysAddr,
    r: Record,
    requested: Option<NodeId>,
    outcome: Outcome,
) {
    let at = |off: u64| base.saturating_add(PhysSize::new(off));
    let ps = p.cfg.paca_size.as_u64();
    push_slot(
        p,
        StructureKind::Paca,
        cpu,
        at(r.paca),
        ps,
        requested,
        outcome,
    );
    if let Some(off) = r.lppaca {
        let kind = StructureKind::Lppaca;
        push_slot(
            p,
            kind,
            cpu,
            at(off),
            LPPACA_STRUCT_SIZE,
            requested,
            outcome,
        );
    }
    if let Some(off) = r.slb {
        let kind = StructureKind::SlbShadow;
        push_slot(p, kind, cpu, at(off), SLB_SHADOW_SIZE, requested, outcome);
    }
}

/// The node asked for and the outcome of the allocation just made.
fn last_outcome<M: MemblockOps>(p: &Planner<'_, M>) -> (Option<NodeId>, Outcome) {
    p.allocs
        .last()
        .map_or((None, Outcome::Local), |a| (a.requested_node, a.outcome))
}

/// One CPU's block through `alloc_paca_data` (so the boot CPU's goes bottom-up without a
/// node, like its paca in Linux): `[lppaca][paca][SLB shadow]`, 1 KiB-aligned when it
/// holds an lppaca. The boot CPU's block always ends in an SLB shadow, since radix is
/// not known yet; [`account_boot_fixup`] accounts for its freeing under radix.
pub(super) fn cpu_block<M: MemblockOps>(p: &mut Planner<'_, M>, cpu: u32) -> Result<(), PlanError> {
    let lppaca = !p.cfg.hypervisor_mode;
    let slb = cpu == p.cfg.boot_cpu || !p.cfg.radix;
    let r = record(0, lppaca, p.cfg.paca_size.as_u64(), slb);
    let align = if lppaca {
        CPU_BLOCK_ALIGN
    } else {
        L1_CACHE_BYTES
    };
    let base = p.alloc_paca_data(StructureKind::PacaBlock, r.end, 0, align, cpu)?;
    let (requested, outcome) = last_outcome(p);
    slots(p, cpu, base, r, requested, outcome);
    Ok(())
}

/// Under radix, Linux 6.1's `free_unused_pacas` frees the boot CPU's SLB shadow, which
/// here is the tail of the boot CPU's block: the block's reservation shrinks by it.
pub(super) fn account_boot_fixup<M: MemblockOps>(p: &mut Planner<'_, M>) {
    if !p.cfg.radix {
        return;
    }
    let boot = Some(p.cfg.boot_cpu);
    let freed = p
        .allocs
        .iter()
        .any(|a| a.kind == StructureKind::SlbShadow && a.cpu == boot && a.freed);
    if let Some(b) = p
        .allocs
        .iter_mut()
        .find(|a| a.kind == StructureKind::PacaBlock && a.cpu == boot && !a.freed)
    {
        if freed {
            b.reserved = PhysSize::new(b.reserved.as_u64().saturating_sub(SLB_SHADOW_SIZE));
        }
    }
}

/// One block per node for the possible CPUs other than the boot CPU, in ascending node
/// order: their records in ascending CPU order, then one record for each present CPU
/// of the node that is not possible, whose records are freed in one piece.
pub(super) fn node_blocks<M: MemblockOps>(
    p: &mut Planner<'_, M>,
    cpus: &[u32],
) -> Result<(), PlanError> {
    let cfg = p.cfg;
    let topo = p.topo;
    let mut groups: BTreeMap<NodeId, (Vec<u32>, u64)> = BTreeMap::new();
    for &c in cpus.iter().filter(|&&c| c != cfg.boot_cpu) {
        groups
            .entry(early_cpu_to_node(topo, c))
            .or_default()
            .0
            .push(c);
    }
    for c in &topo.cpus {
        let id = c.logical_id;
        if id != cfg.boot_cpu && !cfg.is_possible(id) {
            if let Some(g) = groups.get_mut(&early_cpu_to_node(topo, id)) {
                g.1 += 1;
            }
        }
    }
    let lppaca = !cfg.hypervisor_mode;
    let slb = !cfg.radix;
    let ps = cfg.paca_size.as_u64();
    for (node, (members, absent)) in groups {
        let mut off = 0;
        let mut recs = Vec::with_capacity(members.len());
        for &c in &members {
            let r = record(off, lppaca, ps, slb);
            off = r.end;
            recs.push((c, r));
        }
        let keep = off;
        for _ in 0..absent {
            off = record(off, lppaca, ps, slb).end;
        }
        let align = if lppaca { VPA_PAGE } else { L1_CACHE_BYTES };
        let base = p.alloc(Request {
            kind: StructureKind::PacaBlock,
            cpu: None,
            size: off,
            used: 0,
            align,
            min: 0,
            max: p.paca_limit,
            nid: Some(node),
            try_nid: true,
            home: Some(node),
            no_node: NoNodeReason::SharedArray,
        })?;
        let idx = p.allocs.len() - 1;
        let (requested, outcome) = last_outcome(p);
        if keep < off {
            p.free(base.saturating_add(PhysSize::new(keep)), off - keep)?;
            p.allocs[idx].reserved = PhysSize::new(keep);
        }
        for (c, r) in recs {
            slots(p, c, base, r, requested, outcome);
        }
    }
    Ok(())
}
