//! The Linux 4.15 sequence: the paca array, the lppaca and SLB shadow arrays, each one
//! allocation for all CPUs, before the series made them node-local.

use alloc::vec::Vec;

use phys::PhysSize;

use crate::consts::{self, L1_CACHE_BYTES, LPPACA_SIZE, LPPACA_STRUCT_SIZE, SLB_SHADOW_SIZE};
use crate::error::PlanError;
use crate::mem::MemblockOps;
use crate::report::{Finding, StructureKind};

use super::Planner;

impl<M: MemblockOps> Planner<'_, M> {
    /// The Linux 4.15 sequence.
    pub(super) fn linux415(&mut self) -> Result<(), PlanError> {
        let cfg = self.cfg;
        let page = cfg.page_size;
        let nr0 = u64::from(cfg.nr_cpu_ids);
        let ps = cfg.paca_size.as_u64();
        let limit = self.paca_limit;
        let page_align = |x: u64| x.div_ceil(page).saturating_mul(page);
        let possible: Vec<u32> = cfg.possible_cpus().collect();

        // allocate_pacas(): one array for nr_cpu_ids pacas, page aligned, below the limit.
        let paca_size = page_align(ps * nr0);
        let pacas = self.alloc_array(StructureKind::PacaArray, paca_size, page, limit)?;
        // allocate_lppacas(): CPU 0 uses the static lppaca[0] in the kernel image; the
        // others an array of 1 KiB-aligned (sizeof = 0x400) entries.
        let lp_size = if nr0 > 1 {
            page_align(LPPACA_SIZE * (nr0 - 1))
        } else {
            0
        };
        let lppacas = if lp_size > 0 {
            Some(self.alloc_array(StructureKind::LppacaArray, lp_size, page, limit)?)
        } else {
            None
        };
        // allocate_slb_shadows(): allocate_pacas runs in early_init_devtree, before
        // mmu_early_init_devtree has chosen radix, so the SLB shadow array is allocated
        // (with the hash limits) whatever the MMU; under radix it is never used, so it
        // gets no per-CPU slots below.
        let slb_size = page_align(SLB_SHADOW_SIZE * nr0);
        let slb_array = self.alloc_array(StructureKind::SlbShadowArray, slb_size, page, limit)?;
        let slbs = (!cfg.radix).then_some(slb_array);

        // early_init_mmu: radix page tables with memblock_alloc_base(size, size, ANYWHERE),
        // then radix_init_pgtable's process table, early_alloc_pgtable(1UL <<
        // PRTB_SIZE_SHIFT), with mmu_pid_bits defaulting to 20 (hypervisor) or 19 (guest).
        if cfg.radix {
            self.radix_page_tables(false)?;
            let shift = if cfg.hypervisor_mode {
                consts::PRTB_SIZE_SHIFT_415_HV
            } else {
                consts::PRTB_SIZE_SHIFT_415_GUEST
            };
            self.process_table(shift, false)?;
        }
        self.early_init_mmu_lifts_limit();

        // smp_setup_cpu_maps → free_unused_pacas(): the page-aligned tail of the paca
        // array, then free_lppacas() sized by num_possible_cpus(). 4.15 paca.c:
        //   new_size = PAGE_ALIGN(sizeof(struct paca_struct) * nr_cpu_ids);
        //   if (new_size >= paca_size) return;
        //   memblock_free(...); paca_size = new_size; free_lppacas();
        // so when the paca array does not shrink, the lppaca array is not shrunk either.
        self.note_capped();
        let nr1 = u64::from(cfg.final_nr_cpu_ids());
        let new_paca = page_align(ps * nr1);
        let mut paca_kept = paca_size;
        let shrinks = new_paca < paca_size;
        if shrinks {
            self.free(
                pacas.saturating_add(PhysSize::new(new_paca)),
                paca_size - new_paca,
            )?;
            paca_kept = new_paca;
        }
        let mut lp_kept = lp_size;
        if let (true, Some(lp)) = (shrinks, lppacas) {
            let nposs = possible.len() as u64;
            let new_lp = if nposs > 1 {
                page_align((nposs - 1) * LPPACA_SIZE)
            } else {
                0
            };
            if new_lp < lp_size {
                self.free(lp.saturating_add(PhysSize::new(new_lp)), lp_size - new_lp)?;
                lp_kept = new_lp;
            }
        }
        self.shrink_array(StructureKind::PacaArray, paca_kept);
        self.shrink_array(StructureKind::LppacaArray, lp_kept);

        // The per-CPU slots inside the arrays, for the report.
        for &cpu in &possible {
            let c = u64::from(cpu);
            self.slot(
                StructureKind::Paca,
                cpu,
                pacas,
                c * ps,
                ps,
                ps,
                paca_kept,
                page,
            );
            if cpu > 0 {
                if let Some(lp) = lppacas {
                    let off = (c - 1) * LPPACA_SIZE;
                    if off + LPPACA_SIZE > lp_kept {
                        self.findings.push(Finding::FreedWhileInUse {
                            kind: StructureKind::Lppaca,
                            cpu,
                            addr: lp.saturating_add(PhysSize::new(off)),
                        });
                    }
                    self.slot(
                        StructureKind::Lppaca,
                        cpu,
                        lp,
                        off,
                        LPPACA_STRUCT_SIZE,
                        LPPACA_SIZE,
                        lp_kept,
                        0x400,
                    );
                }
            }
            if let Some(s) = slbs {
                self.slot(
                    StructureKind::SlbShadow,
                    cpu,
                    s,
                    c * SLB_SHADOW_SIZE,
                    SLB_SHADOW_SIZE,
                    SLB_SHADOW_SIZE,
                    slb_size,
                    L1_CACHE_BYTES,
                );
            }
        }

        // irqstack_early_init (limit = safe_stack_limit()), emergency_stack_init (limit =
        // min(safe_stack_limit(), ppc64_rma_size), no separate machine-check limit yet).
        let seg = cfg.segment_size();
        let limit = seg.min(cfg.rma_limit(self.topo).raw());
        for &cpu in &possible {
            self.alloc_stack(StructureKind::SoftirqStack, seg, cpu, false)?;
            self.alloc_stack(StructureKind::HardirqStack, seg, cpu, false)?;
        }
        for &cpu in &possible {
            self.alloc_stack(StructureKind::EmergencyStack, limit, cpu, false)?;
            self.alloc_stack(StructureKind::NmiEmergencyStack, limit, cpu, false)?;
            self.alloc_stack(StructureKind::McEmergencyStack, limit, cpu, false)?;
        }
        // initmem_init: nodes are attached to memblock only now.
        self.set_nodes()?;
        Ok(())
    }
}
