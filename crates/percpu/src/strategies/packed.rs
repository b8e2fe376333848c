//! [`crate::Strategy::PackedVpa`] and [`crate::Strategy::RmaSplit`]: 640-byte lppacas,
//! six to a node-local 4 KiB page.

use phys::PhysSize;

use super::{push_slot, Page, LPPACAS_PER_PAGE, VPA_PAGE};
use crate::config::Strategy;
use crate::consts::{L1_CACHE_BYTES, LPPACA_STRUCT_SIZE};
use crate::error::PlanError;
use crate::mem::MemblockOps;
use crate::plan::{early_cpu_to_node, Planner, Request};
use crate::report::{NoNodeReason, StructureKind};

/// `allocate_paca(cpu)`: the paca and the SLB shadow as Linux 6.1 allocates them, the
/// lppaca from a page of the CPU's node.
pub(super) fn allocate_paca<M: MemblockOps>(
    p: &mut Planner<'_, M>,
    cpu: u32,
) -> Result<(), PlanError> {
    let ps = p.cfg.paca_size.as_u64();
    p.alloc_paca_data(StructureKind::Paca, ps, ps, L1_CACHE_BYTES, cpu)?;
    if !p.cfg.hypervisor_mode {
        lppaca_slot(p, cpu)?;
    }
    p.new_slb_shadow(cpu)
}

/// The next free slot of the CPU's node's page, or of a new page: `memblock_alloc_try_nid(
/// 4096, 4096, 0, limit, nid)`, bottom-up and without a node for the boot CPU as
/// `alloc_paca_data` does it. The limit is `allocate_paca`'s, or for
/// [`Strategy::RmaSplit`] the bolted size alone (memblock still clamps it to the current
/// limit, the RMA while `early_setup` runs).
fn lppaca_slot<M: MemblockOps>(p: &mut Planner<'_, M>, cpu: u32) -> Result<(), PlanError> {
    let boot = cpu == p.cfg.boot_cpu;
    let node = (!boot).then(|| early_cpu_to_node(p.topo, cpu));
    let free = p
        .beyond
        .pages
        .iter()
        .position(|pg| !boot && pg.node == node && pg.used < LPPACAS_PER_PAGE);
    let idx = match free {
        Some(i) => i,
        None => {
            let max = if p.cfg.strategy == Strategy::RmaSplit {
                p.cfg.bolted_size()
            } else {
                p.paca_limit
            };
            if boot {
                p.set_bottom_up(true);
            }
            let addr = p.alloc(Request {
                kind: StructureKind::LppacaPage,
                cpu: None,
                size: VPA_PAGE,
                used: 0,
                align: VPA_PAGE,
                min: 0,
                max,
                nid: node,
                try_nid: true,
                home: node,
                no_node: NoNodeReason::BootCpuBeforeNuma,
            })?;
            if boot {
                p.set_bottom_up(false);
            }
            let outcome = p.allocs.last().map_or(crate::Outcome::Local, |a| a.outcome);
            p.beyond.pages.push(Page {
                node,
                addr,
                used: 0,
                outcome,
            });
            p.beyond.pages.len() - 1
        }
    };
    let page = &mut p.beyond.pages[idx];
    let addr = page
        .addr
        .saturating_add(PhysSize::new(page.used * LPPACA_STRUCT_SIZE));
    page.used += 1;
    let (requested, outcome) = (page.node, page.outcome);
    push_slot(
        p,
        StructureKind::Lppaca,
        cpu,
        addr,
        LPPACA_STRUCT_SIZE,
        requested,
        outcome,
    );
    Ok(())
}
