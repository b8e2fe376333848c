//! What the MMU setup allocates around the per-CPU structures: the radix linear map's
//! page tables, the partition and process tables, and the hash MMU's linear map slots.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use memblock::replay::Op;

use phys::PhysAddr;

use crate::consts;
use crate::early::DEFAULT_MMU_LPID_BITS;
use crate::error::PlanError;
use crate::mem::{MemOp, MemblockOps};
use crate::report::{NoNodeReason, StructureKind};

use super::nodes::node_of_addr;
use super::{Planner, Request};

impl<M: MemblockOps> Planner<'_, M> {
    /// The end of `early_init_mmu`: `radix__early_init_mmu` and, for hash,
    /// `htab_initialize` both call `memblock_set_current_limit(MEMBLOCK_ALLOC_ANYWHERE)`.
    /// Only what `early_setup` allocated before (the boot CPU's paca data, or 4.15's
    /// arrays) was clamped to the RMA by the current limit; later allocations are
    /// bounded by their own explicit limits alone. (The hash page table that
    /// `htab_initialize` allocates on bare metal is not modelled; an LPAR's comes from
    /// the hypervisor.)
    pub(super) fn early_init_mmu_lifts_limit(&mut self) {
        self.mb.set_current_limit(PhysAddr::MAX);
        self.record(MemOp::new(Op::Limit(PhysAddr::MAX)));
    }

    /// `radix_init_pgtable`: `create_physical_mapping` over every memblock memory
    /// region, allocating a table page whenever a PGD, PUD or PMD entry is empty.
    ///
    /// Linux 6.1 (`linux61`): mappings capped at `radix_mem_block_size`, every table a
    /// full page from `early_alloc_pgtable(PAGE_SIZE, NUMA_NO_NODE, start, end)`, i.e.
    /// inside the current run of same-size mappings of the range being mapped (its
    /// lower bound moves to the first mapping of a new size). Linux 4.15: no cap, upper tables of
    /// [`consts::RADIX_415_UPPER_TABLE_SIZE`] and PTE pages of `PAGE_SIZE`, from
    /// `memblock_alloc_base(size, size, MEMBLOCK_ALLOC_ANYWHERE)`. The kernel-text
    /// boundary that splits the mapping (`next_boundary`) is not modelled.
    pub(super) fn radix_page_tables(&mut self, linux61: bool) -> Result<(), PlanError> {
        let page = self.cfg.page_size;
        let cap = if linux61 {
            self.cfg.radix_mem_block_size
        } else {
            u64::MAX
        };
        let kernel = self.cfg.kernel;
        let mut pgd: BTreeSet<u64> = BTreeSet::new();
        let mut pud: BTreeSet<u64> = BTreeSet::new();
        let mut pmd: BTreeSet<u64> = BTreeSet::new();
        for (base, size, _) in self.mb.memory_ranges() {
            let start = base.as_u64().div_ceil(page).saturating_mul(page);
            let end = base.as_u64().saturating_add(size.as_u64()) / page * page;
            let mut addr = start;
            // create_physical_mapping moves its `start` (the lower bound it passes to
            // early_alloc_pgtable) to `addr` whenever the mapping size changes (6.1
            // radix_pgtable.c ~350: `if (mapping_size != previous_size || ...) start =
            // addr`), so table pages come from the current run of same-size mappings.
            let mut run_start = start;
            let mut prev_map = 0u64;
            let mut prev_exec = false;
            while addr < end {
                // 6.1 stops a mapping at the RWX boundary (`next_boundary`); 4.15 had none.
                let limit = if linux61 {
                    kernel.next_boundary(addr, end).min(end)
                } else {
                    end
                };
                let gap = limit.saturating_sub(addr).min(cap);
                let map = if addr % consts::RADIX_PUD_SIZE == 0 && gap >= consts::RADIX_PUD_SIZE {
                    consts::RADIX_PUD_SIZE
                } else if addr % consts::RADIX_PMD_SIZE == 0 && gap >= consts::RADIX_PMD_SIZE {
                    consts::RADIX_PMD_SIZE
                } else {
                    page
                };
                // A new run also starts where the mapping turns executable or stops
                // being so (kernel text up to __init_end, the interrupt vectors).
                let exec = linux61 && kernel.maps_text(addr, addr.saturating_add(map));
                if map != prev_map || exec != prev_exec {
                    run_start = addr;
                    prev_map = map;
                    prev_exec = exec;
                }
                // Levels: a PUD page per PGD entry, a PMD page per PUD entry unless the
                // mapping is 1 GiB, a PTE page per PMD entry unless it is 2 MiB.
                let mut need = Vec::new();
                if pgd.insert(addr / consts::RADIX_PGDIR_SIZE) {
                    need.push(false);
                }
                if map < consts::RADIX_PUD_SIZE && pud.insert(addr / consts::RADIX_PUD_SIZE) {
                    need.push(false);
                }
                if map < consts::RADIX_PMD_SIZE && pmd.insert(addr / consts::RADIX_PMD_SIZE) {
                    need.push(true);
                }
                let home = node_of_addr(self.topo, PhysAddr::new(addr));
                for pte in need {
                    let sz = if linux61 || pte {
                        page
                    } else {
                        consts::RADIX_415_UPPER_TABLE_SIZE
                    };
                    self.alloc(Request {
                        kind: StructureKind::PageTable,
                        cpu: None,
                        size: sz,
                        used: sz,
                        align: sz,
                        min: if linux61 { run_start } else { 0 },
                        max: if linux61 { end } else { u64::MAX },
                        nid: None,
                        try_nid: linux61,
                        home,
                        no_node: if linux61 {
                            NoNodeReason::RegionBounded
                        } else {
                            NoNodeReason::PreSeries
                        },
                    })?;
                }
                // Up to the next boundary of the level above, the following mappings have
                // the same size (they are `map`-aligned but not aligned to the next size)
                // and find their tables present: jump over them instead of walking each,
                // so the walk costs one step per table, not per mapping.
                let boundary = match map {
                    m if m == consts::RADIX_PUD_SIZE => consts::RADIX_PGDIR_SIZE,
                    m if m == consts::RADIX_PMD_SIZE => consts::RADIX_PUD_SIZE,
                    _ => consts::RADIX_PMD_SIZE,
                };
                let next_boundary = (addr / boundary).saturating_add(1).saturating_mul(boundary);
                let same_size_end = limit / map * map;
                let mut skip = next_boundary.min(same_size_end);
                if linux61 {
                    // Stop the jump where the executable part may begin or end.
                    let ivec = kernel.interrupts;
                    for b in [kernel.stext, kernel.init_end, ivec.base, ivec.end()] {
                        let b = b.as_u64();
                        for stop in [b / map * map, b.div_ceil(map).saturating_mul(map)] {
                            if stop > addr && stop < skip {
                                skip = stop;
                            }
                        }
                    }
                }
                addr = if skip > addr {
                    skip
                } else {
                    addr.saturating_add(map)
                };
            }
        }
        Ok(())
    }

    /// `mmu_partition_table_init` (hypervisor mode, radix): `memblock_alloc(1 <<
    /// PATB_SIZE_SHIFT, 1 << PATB_SIZE_SHIFT)` with `PATB_SIZE_SHIFT = mmu_lpid_bits + 4`.
    pub(super) fn partition_table(&mut self) -> Result<(), PlanError> {
        let bits = self
            .cfg
            .early
            .mmu_lpid_bits
            .unwrap_or(DEFAULT_MMU_LPID_BITS);
        let size = 1u64 << (bits + 4).min(40);
        self.alloc_shared(
            StructureKind::PartitionTable,
            size,
            size,
            0,
            true,
            NoNodeReason::SharedArray,
        )?;
        Ok(())
    }

    /// `htab_initialize` with `debug_pagealloc_enabled_or_kfence()`:
    /// `memblock_alloc_try_nid(memblock_end_of_DRAM() >> PAGE_SHIFT, 1,
    /// MEMBLOCK_LOW_LIMIT, ppc64_rma_size, NUMA_NO_NODE)`, a byte per page of memory.
    pub(super) fn linear_map_hash_slots(&mut self) -> Result<(), PlanError> {
        let end = self
            .mb
            .memory_ranges()
            .last()
            .map_or(0, |(b, s, _)| b.as_u64().saturating_add(s.as_u64()));
        let size = end / self.cfg.page_size;
        if size == 0 {
            return Ok(());
        }
        self.alloc_shared(
            StructureKind::LinearMapHashSlots,
            size,
            1,
            self.cfg.rma_limit(self.topo).raw(),
            true,
            NoNodeReason::SharedArray,
        )?;
        Ok(())
    }

    /// The radix process table: `1 << shift` bytes aligned to its size, no node,
    /// anywhere (6.1 `memblock_alloc_try_nid`, clamped to the current limit; 4.15
    /// `memblock_alloc_base`).
    pub(super) fn process_table(&mut self, shift: u32, linux61: bool) -> Result<(), PlanError> {
        let size = 1u64 << shift;
        self.alloc(Request {
            kind: StructureKind::ProcessTable,
            cpu: None,
            size,
            used: size,
            align: size,
            min: 0,
            max: u64::MAX,
            nid: None,
            try_nid: linux61,
            home: None,
            no_node: if linux61 {
                NoNodeReason::SharedArray
            } else {
                NoNodeReason::PreSeries
            },
        })?;
        Ok(())
    }
}
