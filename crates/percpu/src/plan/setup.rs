//! `setup_arch`'s steps before the pacas that touch memblock: the RTAS buffer and work
//! area, the unflattened tree, and the node ids `mem_topology_setup` gives memory.

use crate::config::Strategy;
use crate::consts;
use crate::early::{DT_ALLOC_ALIGN, RTAS_INSTANTIATE_MAX, RTAS_USER_REGION_SIZE};
use crate::error::PlanError;
use crate::mem::{MemOp, MemblockOps};
use crate::report::{NoNodeReason, StructureKind};
use memblock::replay::Op;

use super::{Planner, Request};

impl<M: MemblockOps> Planner<'_, M> {
    /// `parse_numa_properties` → `memblock_set_node` for every memory range with a node.
    pub(super) fn set_nodes(&mut self) -> Result<(), PlanError> {
        for r in &self.topo.memory {
            if let Some(nid) = r.node {
                self.mb
                    .set_node(r.base, r.size, nid)
                    .map_err(|error| PlanError::Memblock {
                        op: "set_node",
                        base: r.base,
                        size: r.size,
                        error,
                    })?;
                self.record(MemOp::new(Op::SetNode {
                    base: r.base,
                    size: r.size,
                    nid,
                }));
            }
        }
        Ok(())
    }

    /// The allocations `setup_arch` makes before `smp_setup_cpu_maps`:
    /// `unflatten_device_tree`'s one block for the whole tree and `of_alias_scan`'s
    /// records (`memblock_alloc(size, 8)` each, no node, below the current limit), then
    /// `rtas_initialize`'s user buffer (`memblock_phys_alloc_range(64 KiB, PAGE_SIZE, 0,
    /// rtas_region)`, with `rtas_region = min(ppc64_rma_size, 1 GiB)` on an LPAR and
    /// 1 GiB otherwise).
    pub(super) fn setup_arch_early(&mut self) -> Result<(), PlanError> {
        let early = &self.cfg.early;
        let tree = early.unflattened_tree.into_iter();
        for size in tree.chain(early.aliases.iter().copied()) {
            self.alloc(Request {
                kind: StructureKind::DeviceTree,
                cpu: None,
                size: size.as_u64(),
                used: size.as_u64(),
                align: DT_ALLOC_ALIGN,
                min: 0,
                max: 0,
                nid: None,
                try_nid: true,
                home: None,
                no_node: NoNodeReason::SharedArray,
            })?;
        }
        if early.rtas {
            let region = if self.cfg.hypervisor_mode {
                RTAS_INSTANTIATE_MAX
            } else {
                self.cfg
                    .rma_limit(self.topo)
                    .raw()
                    .min(RTAS_INSTANTIATE_MAX)
            };
            self.alloc_shared(
                StructureKind::RtasBuffer,
                RTAS_USER_REGION_SIZE,
                self.cfg.page_size,
                region,
                false,
                NoNodeReason::SharedArray,
            )?;
            // 6.12 rtas_work_area_reserve_arena(rtas_region): memblock_alloc_try_nid(
            // RTAS_WORK_AREA_ARENA_SZ, PAGE_SIZE, MEMBLOCK_LOW_LIMIT, limit,
            // NUMA_NO_NODE), when RTAS implements ibm,get-system-parameter, which PAPR
            // requires of every platform.
            if self.cfg.strategy == Strategy::Linux612 {
                let size = consts::RTAS_WORK_AREA_ARENA_SZ;
                self.alloc_shared(
                    StructureKind::RtasWorkArea,
                    size,
                    self.cfg.page_size,
                    region,
                    true,
                    NoNodeReason::SharedArray,
                )?;
            }
        }
        Ok(())
    }
}
