//! The boot sequences: Linux 6.1 and 6.12 (individual, node-local) and Linux 4.15
//! (arrays). The strategies beyond Linux ([`crate::strategies`]) run the 6.1 sequence with
//! their own paca data allocation.
//!
//! One file per part of the sequence, all working on one [`Planner`] (defined here with
//! the allocation core every part shares: `alloc`, `alloc_shared`, `free`, the report
//! bookkeeping):
//! - `init`: the memblock state before the pacas ([`init_memblock`]) and [`boot`];
//! - `setup`: `setup_arch`'s memblock steps before the pacas (RTAS, the unflattened tree,
//!   node ids);
//! - `linux61`: the 6.1 / 6.12 per-CPU sequence;
//! - `linux415`: the 4.15 array sequence;
//! - `mmu`: radix page tables, partition and process tables, hash linear map slots;
//! - `nodes`: which node Linux asks for.

use alloc::vec::Vec;
use memblock::replay::Op;

use memblock::AllocLimit;
use phys::{NodeId, PhysAddr, PhysSize};
use topology::Topology;

use crate::config::Limit;
use crate::config::{PlanConfig, Strategy};
use crate::error::PlanError;
use crate::mem::{MemOp, MemblockOps};
use crate::report::{
    Allocation, FallbackReason, Finding, NoNodeReason, Outcome, Placement, StructureKind,
};
use crate::totals::node_totals;

mod init;
mod linux415;
mod linux61;
mod mmu;
mod nodes;
mod setup;

pub use init::{boot, boot_with, init_memblock};
pub use nodes::{early_cpu_to_node, first_online_node, node_of_addr};

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
    plan_after(mb, topo, cfg, Some(Vec::new()))
}

/// Whether a plan keeps the memblock calls it makes ([`Placement::ops`]).
///
/// The log is one record per call, about nine per CPU: at 8192 CPUs, megabytes that a
/// caller wanting only where the structures went (a table of them, their totals)
/// writes and never reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallLog {
    /// Keep every call, in order: [`Placement::replay_script`] then rebuilds the
    /// final memblock state.
    #[default]
    Keep,
    /// Keep none: [`Placement::ops`] is empty. Everything else in the placement is
    /// what [`CallLog::Keep`] gives.
    Discard,
}

/// [`plan`], its log starting with `earlier` (the calls that built `mb`), so that
/// [`boot`] hands over one log without copying the plan's; `None` keeps no log.
fn plan_after<M: MemblockOps>(
    mb: &mut M,
    topo: &Topology,
    cfg: &PlanConfig,
    earlier: Option<Vec<MemOp>>,
) -> Result<Placement, PlanError> {
    cfg.validate()?;
    if mb.memory_ranges().is_empty() {
        return Err(PlanError::EmptyMemblock);
    }
    let snapshot = mb.clone();
    let mut p = Planner::new(mb, topo, cfg, earlier);
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
/// Records a plan makes per CPU, at most: its paca, lppaca, SLB shadow and five
/// stacks, and one more for the shared structures that grow with the CPU count.
const STRUCTURES_PER_CPU: usize = 9;

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
    /// The calls made, when the caller keeps them ([`CallLog`]).
    ops: Option<Vec<MemOp>>,
    pub(crate) allocs: Vec<Allocation>,
    findings: Vec<Finding>,
    /// [`PlanConfig::paca_limit`].
    pub(crate) paca_limit: u64,
    bottom_up: bool,
    /// What the strategies beyond Linux carry from one CPU to the next.
    pub(crate) beyond: crate::strategies::State,
    /// Each CPU's node and each node's lowest memory, computed once.
    nodes: nodes::NodeTable,
    /// The memory range of the last allocation's node lookup.
    memory_hint: usize,
}

impl<'a, M: MemblockOps> Planner<'a, M> {
    fn new(
        mb: &'a mut M,
        topo: &'a Topology,
        cfg: &'a PlanConfig,
        mut ops: Option<Vec<MemOp>>,
    ) -> Self {
        // Both logs are sized once for the structures of every CPU the topology has:
        // growing them by doubling copies each several times, and at 8192 CPUs those
        // copies (megabytes of fresh pages) cost more than the records themselves.
        let expected = topo
            .cpus
            .len()
            .saturating_add(8)
            .saturating_mul(STRUCTURES_PER_CPU);
        if let Some(ops) = &mut ops {
            ops.reserve(expected);
        }
        Self {
            mb,
            topo,
            cfg,
            ops,
            allocs: Vec::with_capacity(expected),
            findings: Vec::new(),
            paca_limit: cfg.paca_limit(topo).raw(),
            bottom_up: false,
            beyond: crate::strategies::State::default(),
            nodes: nodes::NodeTable::new(topo),
            memory_hint: 0,
        }
    }

    /// A CPU's home node: `early_cpu_to_node(cpu)`, the node Linux itself asks
    /// memblock for (a present CPU without a valid node gets `first_online_node`, a
    /// possible CPU that is not present node 0).
    pub(crate) fn home_of(&self, cpu: u32) -> Option<NodeId> {
        Some(self.nodes.cpu_node(cpu))
    }

    /// Logs a memblock call, if the caller keeps the log.
    pub(crate) fn record(&mut self, op: MemOp) {
        if let Some(ops) = &mut self.ops {
            ops.push(op);
        }
    }

    pub(crate) fn set_bottom_up(&mut self, on: bool) {
        self.mb.set_bottom_up(on);
        self.bottom_up = on;
        self.record(MemOp::new(Op::BottomUp(on)));
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
        self.record(MemOp::free(base, size));
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
        match self.nodes.lowest_memory(nid) {
            Some(low) if low.as_u64() < eff_max => FallbackReason::NodeFullBelowLimit,
            Some(_) => FallbackReason::NodeMemoryAboveLimit,
            None => FallbackReason::NodeHasNoMemory,
        }
    }

    pub(crate) fn alloc(&mut self, r: Request) -> Result<PhysAddr, PlanError> {
        let size = PhysSize::new(r.size);
        let min = PhysAddr::new(r.min);
        let max: AllocLimit = AllocLimit::from_raw(r.max);
        let result = if r.try_nid {
            self.mb.alloc_try_nid(size, r.align, min, max, r.nid)
        } else {
            self.mb
                .alloc_range_nid(size, r.align, min, max, r.nid, false)
        };
        let call = if r.try_nid {
            Op::AllocTryNid {
                size,
                align: r.align,
                min,
                max,
                nid: r.nid,
            }
        } else {
            Op::Alloc {
                size,
                align: r.align,
                start: min,
                end: max,
                nid: r.nid,
                exact: false,
            }
        };
        self.record(MemOp::alloc(call, result));
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
        let memory_node = nodes::node_of_addr_near(self.topo, addr, &mut self.memory_hint);
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

    /// One `THREAD_SIZE` stack of `cpu`. Linux 6.1's `alloc_stack(limit, cpu)` asks
    /// `memblock_alloc_try_nid(THREAD_SIZE, THREAD_ALIGN, MEMBLOCK_LOW_LIMIT, limit,
    /// early_cpu_to_node(cpu))`; before the series (`node_local` false, Linux 4.15)
    /// `memblock_alloc_base(THREAD_SIZE, THREAD_SIZE, limit)` takes any node.
    fn alloc_stack(
        &mut self,
        kind: StructureKind,
        limit: u64,
        cpu: u32,
        node_local: bool,
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
            nid: node_local.then(|| self.nodes.cpu_node(cpu)),
            try_nid: node_local,
            home: self.home_of(cpu),
            no_node: NoNodeReason::PreSeries,
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
            ops: self.ops.unwrap_or_default(),
            nodes,
            findings: self.findings,
        }
    }
}
