//! The boot sequences: Linux 6.1 (individual, node-local) and Linux 4.15 (arrays). The
//! strategies beyond Linux ([`crate::strategies`]) run the 6.1 sequence with their own
//! paca data allocation.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use memblock::AllocLimit;
use phys::{NodeId, PhysAddr, PhysSize};
use topology::Topology;

use crate::config::Limit;
use crate::config::{PlanConfig, Strategy};
use crate::consts::{self, L1_CACHE_BYTES, LPPACA_SIZE, LPPACA_STRUCT_SIZE, SLB_SHADOW_SIZE};
use crate::early::{
    crashkernel_region, Region, DEFAULT_MMU_LPID_BITS, DT_ALLOC_ALIGN, RTAS_INSTANTIATE_MAX,
    RTAS_USER_REGION_SIZE,
};
use crate::error::PlanError;
use crate::mem::{limit_of, MemLimit, MemOp, MemblockOps};
use crate::report::{
    Allocation, FallbackReason, Finding, NoNodeReason, Outcome, Placement, StructureKind,
};
use crate::totals::node_totals;

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
        ops.push(MemOp::Add {
            base: r.base,
            size: r.size,
            nid: None,
        });
    }
    let limit = PhysAddr::new(cfg.initial_current_limit(topo).raw());
    mb.set_current_limit(limit);
    ops.push(MemOp::Limit(limit));
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
        ops.push(MemOp::Reserve {
            base: r.base,
            size: r.size,
        });
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
            ops.push(MemOp::AllocTryNid {
                size: fdt.size,
                align: page,
                min: PhysAddr::ZERO,
                max: MemLimit::from_raw(0),
                nid: None,
                result,
            });
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

/// [`init_memblock`] then [`plan`]: the whole sequence from an empty memblock. The
/// returned placement's `ops` start with the initialisation calls, so its
/// [`Placement::replay_script`] rebuilds the final memblock from nothing.
pub fn boot<M: MemblockOps>(
    mb: &mut M,
    topo: &Topology,
    cfg: &PlanConfig,
) -> Result<Placement, PlanError> {
    let snapshot = mb.clone();
    let init = match init_memblock(mb, topo, cfg) {
        Ok(ops) => ops,
        Err(e) => {
            *mb = snapshot;
            return Err(e);
        }
    };
    match plan(mb, topo, cfg) {
        Ok(mut p) => {
            let mut ops = init;
            ops.append(&mut p.ops);
            p.ops = ops;
            Ok(p)
        }
        Err(e) => {
            *mb = snapshot;
            Err(e)
        }
    }
}

/// Runs the per-CPU allocation sequence of `cfg.strategy` against `mb`, which must hold
/// the state [`init_memblock`] describes, and reports where everything went.
///
/// The sequence includes Linux's own frees (`free_unused_pacas`, the `cpu_to_phys_id`
/// table, the boot CPU's SLB shadow under radix), so the returned memblock state is the
/// one Linux has after `emergency_stack_init`.
///
/// On error, `mb` is restored to exactly its state before the call (the function
/// works on `mb` and puts back a clone taken on entry), so a failed plan never leaves
/// memblock half-changed.
pub fn plan<M: MemblockOps>(
    mb: &mut M,
    topo: &Topology,
    cfg: &PlanConfig,
) -> Result<Placement, PlanError> {
    cfg.validate()?;
    let snapshot = mb.clone();
    let mut p = Planner::new(mb, topo, cfg);
    let result = match cfg.strategy {
        Strategy::Linux415 => p.linux415(),
        // 6.1, 6.12, and the strategies beyond Linux, which differ only in the paca data.
        _ => p.linux61(),
    };
    match result {
        Ok(()) => Ok(p.finish()),
        Err(e) => {
            drop(p);
            *mb = snapshot;
            Err(e)
        }
    }
}

/// The node of the memory at `addr`, from the topology (`memory` is sorted by base).
pub fn node_of_addr(topo: &Topology, addr: PhysAddr) -> Option<NodeId> {
    let idx = topo.memory.partition_point(|r| r.base <= addr);
    let r = topo.memory.get(idx.checked_sub(1)?)?;
    (addr < r.base.saturating_add(r.size))
        .then_some(r.node)
        .flatten()
}

/// `first_online_node` after `parse_numa_properties`: the lowest node with memory or a
/// present CPU (node 0 when there is none, as `setup_nonnuma` makes it).
pub fn first_online_node(topo: &Topology) -> NodeId {
    topo.memory
        .iter()
        .filter_map(|r| r.node)
        .chain(topo.cpus.iter().filter_map(|c| c.node))
        .min()
        .unwrap_or(NodeId::ZERO)
}

/// `early_cpu_to_node(cpu)` once `mem_topology_setup` has run (Linux 6.1
/// `numa_setup_cpu`): a present CPU gets its associativity node, or
/// `first_online_node` when that is missing or not a node of the machine; a possible
/// CPU that is not present is never entered in `numa_cpu_lookup_table`, so
/// `early_cpu_to_node` falls back to node 0.
pub fn early_cpu_to_node(topo: &Topology, cpu: u32) -> NodeId {
    match topo.cpus.get(cpu as usize) {
        Some(c) => match c.node {
            Some(n) if topo.nodes.iter().any(|x| x.id == n) || topo.nodes.is_empty() => n,
            _ => first_online_node(topo),
        },
        None => NodeId::ZERO,
    }
}

/// What one allocation asks of memblock, and how to describe it in the report.
#[derive(Clone, Copy)]
pub(crate) struct Request {
    pub(crate) kind: StructureKind,
    pub(crate) cpu: Option<u32>,
    /// Bytes asked from memblock.
    pub(crate) size: u64,
    /// Bytes of the structure itself.
    pub(crate) used: u64,
    pub(crate) align: u64,
    pub(crate) min: u64,
    /// Raw Linux limit (0 accessible, `u64::MAX` anywhere).
    pub(crate) max: u64,
    pub(crate) nid: Option<NodeId>,
    /// `memblock_alloc_try_nid` (true) or `memblock_alloc_range_nid` (false).
    pub(crate) try_nid: bool,
    pub(crate) home: Option<NodeId>,
    pub(crate) no_node: NoNodeReason,
}

pub(crate) struct Planner<'a, M> {
    pub(crate) mb: &'a mut M,
    pub(crate) topo: &'a Topology,
    pub(crate) cfg: &'a PlanConfig,
    ops: Vec<MemOp>,
    pub(crate) allocs: Vec<Allocation>,
    findings: Vec<Finding>,
    /// [`PlanConfig::paca_limit`].
    pub(crate) paca_limit: u64,
    bottom_up: bool,
    /// What the strategies beyond Linux carry from one CPU to the next.
    pub(crate) beyond: crate::strategies::State,
}

impl<'a, M: MemblockOps> Planner<'a, M> {
    fn new(mb: &'a mut M, topo: &'a Topology, cfg: &'a PlanConfig) -> Self {
        Self {
            mb,
            topo,
            cfg,
            ops: Vec::new(),
            allocs: Vec::new(),
            findings: Vec::new(),
            paca_limit: cfg.paca_limit(topo).raw(),
            bottom_up: false,
            beyond: crate::strategies::State::default(),
        }
    }

    /// A CPU's home node: `early_cpu_to_node(cpu)`, the node Linux itself asks
    /// memblock for (a present CPU without a valid node gets `first_online_node`, a
    /// possible CPU that is not present node 0).
    pub(crate) fn home_of(&self, cpu: u32) -> Option<NodeId> {
        Some(early_cpu_to_node(self.topo, cpu))
    }

    pub(crate) fn set_bottom_up(&mut self, on: bool) {
        self.mb.set_bottom_up(on);
        self.bottom_up = on;
        self.ops.push(MemOp::BottomUp(on));
    }

    pub(crate) fn free(&mut self, base: PhysAddr, size: u64) -> Result<(), PlanError> {
        let size = PhysSize::new(size);
        self.mb
            .free(base, size)
            .map_err(|error| PlanError::Memblock {
                op: "free",
                base,
                size,
                error,
            })?;
        self.ops.push(MemOp::Free { base, size });
        Ok(())
    }

    /// The limit memblock really applies: `Accessible` is the current limit, and
    /// `memblock_alloc_internal` clamps a try_nid limit to it.
    fn effective_max(&self, max: u64, try_nid: bool) -> u64 {
        let cur = self.mb.current_limit().as_u64();
        match max {
            0 => cur,
            m if try_nid => m.min(cur),
            m => m,
        }
    }

    fn classify(&self, nid: NodeId, eff_max: u64) -> FallbackReason {
        let mut any = false;
        for r in self.topo.memory.iter().filter(|r| r.node == Some(nid)) {
            any = true;
            if r.base.as_u64() < eff_max {
                return FallbackReason::NodeFullBelowLimit;
            }
        }
        if any {
            FallbackReason::NodeMemoryAboveLimit
        } else {
            FallbackReason::NodeHasNoMemory
        }
    }

    pub(crate) fn alloc(&mut self, r: Request) -> Result<PhysAddr, PlanError> {
        let size = PhysSize::new(r.size);
        let min = PhysAddr::new(r.min);
        let max: AllocLimit = limit_of(r.max);
        let result = if r.try_nid {
            self.mb.alloc_try_nid(size, r.align, min, max, r.nid)
        } else {
            self.mb
                .alloc_range_nid(size, r.align, min, max, r.nid, false)
        };
        self.ops.push(if r.try_nid {
            MemOp::AllocTryNid {
                size,
                align: r.align,
                min,
                max: MemLimit::from_raw(r.max),
                nid: r.nid,
                result,
            }
        } else {
            MemOp::Alloc {
                size,
                align: r.align,
                start: min,
                end: MemLimit::from_raw(r.max),
                nid: r.nid,
                exact: false,
                result,
            }
        });
        let eff_max = self.effective_max(r.max, r.try_nid);
        let Some(addr) = result else {
            return Err(PlanError::CannotFit {
                kind: r.kind,
                cpu: r.cpu,
                size,
                align: r.align,
                limit: Limit::from_raw(eff_max),
            });
        };
        let memory_node = node_of_addr(self.topo, addr);
        let outcome = match r.nid {
            Some(n) if memory_node == Some(n) => Outcome::Local,
            Some(n) => Outcome::Fallback(self.classify(n, eff_max)),
            None => Outcome::NoNodeRequested(r.no_node),
        };
        self.allocs.push(Allocation {
            kind: r.kind,
            cpu: r.cpu,
            addr,
            size: PhysSize::new(r.used),
            reserved: size,
            align: r.align,
            requested_node: r.nid,
            home_node: r.home,
            memory_node,
            outcome,
            in_array: false,
            freed: false,
        });
        Ok(addr)
    }

    /// A structure of no single CPU for which Linux asks no node: `size` bytes aligned
    /// to `align` below `max` (0 accessible, `u64::MAX` anywhere), through
    /// `memblock_alloc_try_nid` (`try_nid`) or `memblock_alloc_range_nid`.
    fn alloc_shared(
        &mut self,
        kind: StructureKind,
        size: u64,
        align: u64,
        max: u64,
        try_nid: bool,
        no_node: NoNodeReason,
    ) -> Result<PhysAddr, PlanError> {
        self.alloc(Request {
            kind,
            cpu: None,
            size,
            used: size,
            align,
            min: 0,
            max,
            nid: None,
            try_nid,
            home: None,
            no_node,
        })
    }

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
        let nid = (!boot).then(|| early_cpu_to_node(self.topo, cpu));
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
    fn allocate_paca(&mut self, cpu: u32) -> Result<(), PlanError> {
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

    /// `alloc_stack(limit, cpu)`: `memblock_alloc_try_nid(THREAD_SIZE, THREAD_ALIGN,
    /// MEMBLOCK_LOW_LIMIT, limit, early_cpu_to_node(cpu))`.
    fn alloc_stack61(
        &mut self,
        kind: StructureKind,
        limit: u64,
        cpu: u32,
    ) -> Result<(), PlanError> {
        let ts = self.cfg.thread_size();
        self.alloc(Request {
            kind,
            cpu: Some(cpu),
            size: ts,
            used: ts,
            align: ts,
            min: 0,
            max: limit,
            nid: Some(early_cpu_to_node(self.topo, cpu)),
            try_nid: true,
            home: self.home_of(cpu),
            no_node: NoNodeReason::PreSeries,
        })?;
        Ok(())
    }

    /// Linux 4.15 `memblock_alloc_base(THREAD_SIZE, THREAD_SIZE, limit)`.
    fn alloc_stack415(
        &mut self,
        kind: StructureKind,
        limit: u64,
        cpu: u32,
    ) -> Result<(), PlanError> {
        let ts = self.cfg.thread_size();
        self.alloc(Request {
            kind,
            cpu: Some(cpu),
            size: ts,
            used: ts,
            align: ts,
            min: 0,
            max: limit,
            nid: None,
            try_nid: false,
            home: self.home_of(cpu),
            no_node: NoNodeReason::PreSeries,
        })?;
        Ok(())
    }

    /// The end of `early_init_mmu`: `radix__early_init_mmu` and, for hash,
    /// `htab_initialize` both call `memblock_set_current_limit(MEMBLOCK_ALLOC_ANYWHERE)`.
    /// Only what `early_setup` allocated before (the boot CPU's paca data, or 4.15's
    /// arrays) was clamped to the RMA by the current limit; later allocations are
    /// bounded by their own explicit limits alone. (The hash page table that
    /// `htab_initialize` allocates on bare metal is not modelled; an LPAR's comes from
    /// the hypervisor.)
    fn early_init_mmu_lifts_limit(&mut self) {
        self.mb.set_current_limit(PhysAddr::MAX);
        self.ops.push(MemOp::Limit(PhysAddr::MAX));
    }

    /// `smp_setup_cpu_maps` stops at `nr_cpu_ids`: possible CPUs beyond are ignored.
    fn note_capped(&mut self) {
        let cfg = self.cfg;
        let capped = cfg
            .possible
            .iter()
            .skip(cfg.nr_cpu_ids as usize)
            .filter(|p| **p)
            .count();
        if capped > 0 {
            self.findings.push(Finding::CpusCapped {
                count: u32::try_from(capped).unwrap_or(u32::MAX),
            });
        }
    }

    fn mark_freed(&mut self, kind: StructureKind, cpu: Option<u32>) {
        if let Some(a) = self
            .allocs
            .iter_mut()
            .find(|a| a.kind == kind && a.cpu == cpu && !a.freed)
        {
            a.freed = true;
        }
    }

    /// The Linux 6.1 sequence: `early_setup` → `setup_arch`.
    fn linux61(&mut self) -> Result<(), PlanError> {
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
            self.alloc_stack61(StructureKind::SoftirqStack, bolted, cpu)?;
            self.alloc_stack61(StructureKind::HardirqStack, bolted, cpu)?;
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
            self.alloc_stack61(StructureKind::EmergencyStack, limit, cpu)?;
            self.alloc_stack61(StructureKind::NmiEmergencyStack, limit, cpu)?;
            self.alloc_stack61(StructureKind::McEmergencyStack, mce_limit, cpu)?;
        }
        Ok(())
    }

    /// The Linux 4.15 sequence.
    fn linux415(&mut self) -> Result<(), PlanError> {
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
            self.alloc_stack415(StructureKind::SoftirqStack, seg, cpu)?;
            self.alloc_stack415(StructureKind::HardirqStack, seg, cpu)?;
        }
        for &cpu in &possible {
            self.alloc_stack415(StructureKind::EmergencyStack, limit, cpu)?;
            self.alloc_stack415(StructureKind::NmiEmergencyStack, limit, cpu)?;
            self.alloc_stack415(StructureKind::McEmergencyStack, limit, cpu)?;
        }
        // initmem_init: nodes are attached to memblock only now.
        self.set_nodes()?;
        Ok(())
    }

    fn alloc_array(
        &mut self,
        kind: StructureKind,
        size: u64,
        align: u64,
        limit: u64,
    ) -> Result<PhysAddr, PlanError> {
        self.alloc(Request {
            kind,
            cpu: None,
            size,
            used: 0,
            align,
            min: 0,
            max: limit,
            nid: None,
            try_nid: false,
            home: None,
            no_node: NoNodeReason::PreSeries,
        })
    }

    fn shrink_array(&mut self, kind: StructureKind, kept: u64) {
        if let Some(a) = self.allocs.iter_mut().find(|a| a.kind == kind) {
            a.reserved = PhysSize::new(kept);
            if kept == 0 {
                a.freed = true;
            }
        }
    }

    /// Records the slot of `cpu` inside a 4.15 array. A slot past the part of the array
    /// that stayed reserved is recorded as freed.
    #[allow(clippy::too_many_arguments)]
    fn slot(
        &mut self,
        kind: StructureKind,
        cpu: u32,
        base: PhysAddr,
        off: u64,
        used: u64,
        stride: u64,
        kept: u64,
        align: u64,
    ) {
        let addr = base.saturating_add(PhysSize::new(off));
        self.allocs.push(Allocation {
            kind,
            cpu: Some(cpu),
            addr,
            size: PhysSize::new(used),
            reserved: PhysSize::new(stride),
            align,
            requested_node: None,
            home_node: self.home_of(cpu),
            memory_node: node_of_addr(self.topo, addr),
            outcome: Outcome::NoNodeRequested(NoNodeReason::PreSeries),
            in_array: true,
            freed: off + stride > kept,
        });
    }

    fn find_live(&self, kind: StructureKind, cpu: Option<u32>) -> Option<PhysAddr> {
        self.allocs
            .iter()
            .find(|a| a.kind == kind && a.cpu == cpu && !a.freed)
            .map(|a| a.addr)
    }

    /// `parse_numa_properties` → `memblock_set_node` for every memory range with a node.
    fn set_nodes(&mut self) -> Result<(), PlanError> {
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
                self.ops.push(MemOp::SetNode {
                    base: r.base,
                    size: r.size,
                    nid,
                });
            }
        }
        Ok(())
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
    fn radix_page_tables(&mut self, linux61: bool) -> Result<(), PlanError> {
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
    fn partition_table(&mut self) -> Result<(), PlanError> {
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
    fn linear_map_hash_slots(&mut self) -> Result<(), PlanError> {
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

    /// The allocations `setup_arch` makes before `smp_setup_cpu_maps`:
    /// `unflatten_device_tree`'s one block for the whole tree and `of_alias_scan`'s
    /// records (`memblock_alloc(size, 8)` each, no node, below the current limit), then
    /// `rtas_initialize`'s user buffer (`memblock_phys_alloc_range(64 KiB, PAGE_SIZE, 0,
    /// rtas_region)`, with `rtas_region = min(ppc64_rma_size, 1 GiB)` on an LPAR and
    /// 1 GiB otherwise).
    fn setup_arch_early(&mut self) -> Result<(), PlanError> {
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

    /// The radix process table: `1 << shift` bytes aligned to its size, no node,
    /// anywhere (6.1 `memblock_alloc_try_nid`, clamped to the current limit; 4.15
    /// `memblock_alloc_base`).
    fn process_table(&mut self, shift: u32, linux61: bool) -> Result<(), PlanError> {
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

    fn finish(self) -> Placement {
        let reserved = self.mb.reserved_ranges();
        let topo = self.topo;
        let nodes = node_totals(
            &self.allocs,
            &reserved,
            |addr| node_of_addr(topo, addr),
            self.cfg.page_size,
        );
        Placement {
            strategy: self.cfg.strategy,
            nr_cpu_ids_initial: self.cfg.nr_cpu_ids,
            nr_cpu_ids_final: self.cfg.final_nr_cpu_ids(),
            boot_cpu: self.cfg.boot_cpu,
            paca_limit: Limit::from_raw(self.paca_limit),
            allocations: self.allocs,
            ops: self.ops,
            nodes,
            findings: self.findings,
        }
    }
}
