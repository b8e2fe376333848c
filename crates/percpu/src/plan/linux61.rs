//! The Linux 6.1 / 6.12 sequence (`setup_arch` -> `allocate_paca_ptrs`, `allocate_paca`,
//! `new_slb_shadow`, `irqstack_early_init`, `emergency_stack_init`): every structure
//! allocated on its CPU's node, one at a time. The strategies beyond Linux reuse it with
//! their own paca data ([`Planner::alloc_paca_data`]).

use alloc::vec::Vec;

use phys::{PhysAddr, PhysSize};

use crate::consts::{self, L1_CACHE_BYTES, LPPACA_SIZE, LPPACA_STRUCT_SIZE, SLB_SHADOW_SIZE};
use crate::error::PlanError;
use crate::mem::MemblockOps;
use crate::report::{Allocation, Finding, NoNodeReason, Outcome, StructureKind};

use super::nodes::node_of_addr;
use super::{Planner, Request};

impl<M: MemblockOps> Planner<'_, M> {
    /// `alloc_paca_data(size, align, limit, cpu)`: the boot CPU asks for no node and
    /// allocates bottom-up (it runs before NUMA is known); every other CPU asks for
    /// `early_cpu_to_node(cpu)`. `memblock_alloc_try_nid` falls back to any node.
    pub(crate) fn alloc_paca_data(
        &mut self,
        kind: StructureKind,
        size: u64,
        used: u64,
        align: u64,
        cpu: u32,
    ) -> Result<PhysAddr, PlanError> {
        let boot = cpu == self.cfg.boot_cpu;
        if boot {
            self.set_bottom_up(true);
        }
        let nid = (!boot).then(|| self.nodes.cpu_node(cpu));
        let addr = self.alloc(Request {
            kind,
            cpu: Some(cpu),
            size,
            used,
            align,
            min: 0,
            max: self.paca_limit,
            nid,
            try_nid: true,
            home: self.home_of(cpu),
            no_node: NoNodeReason::BootCpuBeforeNuma,
        })?;
        if boot {
            self.set_bottom_up(false);
        }
        Ok(addr)
    }

    /// `allocate_paca(cpu)`: the paca, then `new_lppaca` (none in hypervisor mode), then
    /// `new_slb_shadow` (none with radix, except for the boot CPU which comes here
    /// before radix is known and is fixed up in `free_unused_pacas`).
    pub(super) fn allocate_paca(&mut self, cpu: u32) -> Result<(), PlanError> {
        if !self.cfg.strategy.is_linux() {
            return crate::strategies::allocate_paca(self, cpu);
        }
        let ps = self.cfg.paca_size.as_u64();
        self.alloc_paca_data(StructureKind::Paca, ps, ps, L1_CACHE_BYTES, cpu)?;
        if !self.cfg.hypervisor_mode {
            self.alloc_paca_data(
                StructureKind::Lppaca,
                LPPACA_SIZE,
                LPPACA_STRUCT_SIZE,
                0x400,
                cpu,
            )?;
        }
        self.new_slb_shadow(cpu)
    }

    /// `new_slb_shadow(cpu, limit)`: none with radix, except for the boot CPU, which
    /// comes here before radix is known (`free_unused_pacas` frees it again).
    pub(crate) fn new_slb_shadow(&mut self, cpu: u32) -> Result<(), PlanError> {
        if cpu == self.cfg.boot_cpu || !self.cfg.radix {
            self.alloc_paca_data(
                StructureKind::SlbShadow,
                SLB_SHADOW_SIZE,
                SLB_SHADOW_SIZE,
                L1_CACHE_BYTES,
                cpu,
            )?;
        }
        Ok(())
    }

    /// The Linux 6.1 sequence: `early_setup` → `setup_arch`.
    pub(super) fn linux61(&mut self) -> Result<(), PlanError> {
        let cfg = self.cfg;
        let boot = cfg.boot_cpu;
        let nr0 = u64::from(cfg.nr_cpu_ids);

        // early_setup: allocate_paca_ptrs() — memblock_alloc_raw(size, SMP_CACHE_BYTES).
        let ptrs_size = consts::PACA_PTR_SIZE * nr0;
        let ptrs = self.alloc_shared(
            StructureKind::PacaPtrs,
            ptrs_size,
            L1_CACHE_BYTES,
            0,
            true,
            NoNodeReason::SharedArray,
        )?;
        // early_setup: allocate_paca(boot_cpuid).
        self.allocate_paca(boot)?;

        // early_init_mmu → radix__early_init_mmu → radix_init_pgtable: the linear mapping
        // (radix_pgtable.c ~446-459), then the process table (~479:
        // early_alloc_pgtable(1UL << PRTB_SIZE_SHIFT, -1, 0, 0), i.e.
        // memblock_alloc_try_nid(size, size, MEMBLOCK_LOW_LIMIT, ANYWHERE, NUMA_NO_NODE)),
        // both before radix__early_init_mmu lifts the current limit (~735).
        if cfg.radix {
            self.radix_page_tables(true)?;
            self.process_table(consts::PRTB_SIZE_SHIFT_61, true)?;
            if cfg.hypervisor_mode {
                self.partition_table()?;
            }
        } else if cfg.kfence {
            self.linear_map_hash_slots()?;
        }
        self.early_init_mmu_lifts_limit();

        // setup_arch, before smp_setup_cpu_maps: unflatten_device_tree (and
        // of_alias_scan), then rtas_initialize.
        self.setup_arch_early()?;

        // setup_arch → smp_setup_cpu_maps: cpu_to_phys_id = memblock_alloc(nr_cpu_ids *
        // sizeof(u32), __alignof__(u32)), with the nr_cpu_ids of early boot.
        let c2p_size = consts::CPU_TO_PHYS_ID_ENTRY * nr0;
        let c2p = self.alloc_shared(
            StructureKind::CpuToPhysId,
            c2p_size,
            consts::CPU_TO_PHYS_ID_ENTRY,
            0,
            true,
            NoNodeReason::SharedArray,
        )?;
        self.note_capped();
        // setup_nr_cpu_ids(), then free_unused_pacas(): shrink paca_ptrs, and under radix
        // free the boot CPU's SLB shadow ("ugly fixup").
        let nr1 = u64::from(cfg.final_nr_cpu_ids());
        let new_ptrs = consts::PACA_PTR_SIZE * nr1;
        if new_ptrs < ptrs_size {
            self.free(
                ptrs.saturating_add(PhysSize::new(new_ptrs)),
                ptrs_size - new_ptrs,
            )?;
            if let Some(a) = self
                .allocs
                .iter_mut()
                .find(|a| a.kind == StructureKind::PacaPtrs)
            {
                a.size = PhysSize::new(new_ptrs);
                a.reserved = PhysSize::new(new_ptrs);
            }
        }
        if cfg.radix {
            if let Some(slb) = self.find_live(StructureKind::SlbShadow, Some(boot)) {
                self.free(slb, SLB_SHADOW_SIZE)?;
                self.mark_freed(StructureKind::SlbShadow, Some(boot));
            }
        }

        // mem_topology_setup → parse_numa_properties: memory regions get their nodes.
        self.set_nodes()?;

        // smp_setup_pacas: every other possible CPU, then free cpu_to_phys_id with the
        // *new* nr_cpu_ids — Linux leaks the tail of the table.
        let cpus: Vec<u32> = cfg.possible_cpus().collect();
        if cfg.strategy.is_linux() {
            for &cpu in &cpus {
                if cpu != boot {
                    self.allocate_paca(cpu)?;
                }
            }
        } else {
            crate::strategies::smp_setup_pacas(self, &cpus)?;
        }
        let c2p_free = consts::CPU_TO_PHYS_ID_ENTRY * nr1;
        self.free(c2p, c2p_free)?;
        self.mark_freed(StructureKind::CpuToPhysId, None);
        if c2p_free < c2p_size {
            let addr = c2p.saturating_add(PhysSize::new(c2p_free));
            let size = PhysSize::new(c2p_size - c2p_free);
            self.findings.push(Finding::Leak {
                kind: StructureKind::CpuToPhysId,
                addr,
                size,
            });
            // The leaked tail stays reserved: account for it as a live shared block.
            self.allocs.push(Allocation {
                kind: StructureKind::CpuToPhysId,
                cpu: None,
                addr,
                size: PhysSize::ZERO,
                reserved: size,
                align: consts::CPU_TO_PHYS_ID_ENTRY,
                requested_node: None,
                home_node: None,
                memory_node: node_of_addr(self.topo, addr),
                outcome: Outcome::NoNodeRequested(NoNodeReason::SharedArray),
                in_array: false,
                freed: false,
            });
        }

        // irqstack_early_init: soft and hard IRQ stacks below the bolted size.
        let bolted = cfg.bolted_size();
        for &cpu in &cpus {
            self.alloc_stack(StructureKind::SoftirqStack, bolted, cpu, true)?;
            self.alloc_stack(StructureKind::HardirqStack, bolted, cpu, true)?;
        }
        // emergency_stack_init: limit = min(bolted, RMA); pseries (LPAR) machine-check
        // stacks additionally below 4 GiB for RTAS.
        let limit = self.paca_limit;
        let mce_limit = if !cfg.hypervisor_mode && limit > consts::SZ_4G {
            consts::SZ_4G
        } else {
            limit
        };
        for &cpu in &cpus {
            self.alloc_stack(StructureKind::EmergencyStack, limit, cpu, true)?;
            self.alloc_stack(StructureKind::NmiEmergencyStack, limit, cpu, true)?;
            self.alloc_stack(StructureKind::McEmergencyStack, mce_limit, cpu, true)?;
        }
        Ok(())
    }
}
