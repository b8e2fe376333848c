//! The guest side of the VPA contract: registration (`vpa_init`), the kexec shutdown
//! path (`pseries_kexec_cpu_down`, `default_machine_kexec`'s static paca), and VPHN
//! associativity-change detection.

use alloc::vec::Vec;
use core::fmt;

use papr::hcall::{Hypervisor, ReturnCode, VpaSubfunction};
use papr::Lppaca;
use phys::PhysAddr;

use crate::config::Strategy;
use crate::report::{Placement, StructureKind};

#[cfg(feature = "vm-memory")]
mod guest_memory;
#[cfg(feature = "vm-memory")]
pub use guest_memory::{GuestLppaca, LppacaOutsideGuestMemory};

/// The fields of a `struct paca_struct` that the VPA paths read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paca {
    /// `paca_index`: the logical CPU.
    pub paca_index: u32,
    /// `hw_cpu_id`: the hardware thread id, the `proc_no` of every hcall.
    pub hw_cpu_id: u32,
    /// `lppaca_ptr` (`None`: NULL, as in hypervisor mode or in the kexec copy).
    pub lppaca_ptr: Option<PhysAddr>,
    /// `slb_shadow_ptr` (`None`: NULL, as under radix).
    pub slb_shadow_ptr: Option<PhysAddr>,
    /// `dispatch_log`: the DTL buffer, allocated later from a kmem cache
    /// (`alloc_dtl_buffers`), so not part of a plan.
    pub dispatch_log: Option<PhysAddr>,
    /// `data_offset` (per-CPU offset; `initialise_paca` poisons it with
    /// `0xfeeeeeeeeeeeeeee` until the per-CPU areas exist).
    pub data_offset: u64,
}

/// `initialise_paca`'s poison for `data_offset`.
pub const DATA_OFFSET_POISON: u64 = 0xfeee_eeee_eeee_eeee;
/// `default_machine_kexec`'s poison for the static copy's `data_offset`.
pub const KEXEC_DATA_OFFSET_POISON: u64 = 0xedea_ddea_deee_eeee;

impl Paca {
    /// The paca of `cpu` as a plan left it: lppaca and SLB shadow pointers from the
    /// placement (the live ones), no DTL yet. `None` if the CPU has no paca.
    pub fn from_placement(placement: &Placement, cpu: u32, hw_cpu_id: u32) -> Option<Self> {
        placement.find(cpu, StructureKind::Paca)?;
        Some(Self {
            paca_index: cpu,
            hw_cpu_id,
            lppaca_ptr: placement.find(cpu, StructureKind::Lppaca).map(|a| a.addr),
            slb_shadow_ptr: placement
                .find(cpu, StructureKind::SlbShadow)
                .map(|a| a.addr),
            dispatch_log: None,
            data_offset: DATA_OFFSET_POISON,
        })
    }

    /// `default_machine_kexec`: the static `kexec_paca` is a copy of this CPU's paca with
    /// `data_offset` poisoned and `lppaca_ptr` NULL, so that nothing touches the dynamic
    /// lppaca (which the hypervisor may still write to after a crash).
    pub fn kexec_copy(&self) -> Self {
        Self {
            data_offset: KEXEC_DATA_OFFSET_POISON,
            lppaca_ptr: None,
            ..*self
        }
    }
}

/// The CPU and firmware features `vpa_init` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestFeatures {
    /// `FW_FEATURE_SPLPAR`: a shared-processor LPAR; gates SLB-shadow registration and
    /// every kexec deregistration.
    pub splpar: bool,
    /// `radix_enabled()`: then no SLB shadow is registered.
    pub radix: bool,
    /// `CPU_FTR_ALTIVEC`: sets `vmxregs_in_use`.
    pub altivec: bool,
    /// `CPU_FTR_ARCH_207S`: sets `ebb_regs_in_use`.
    pub arch_207s: bool,
    /// `dtl_mask`: the DTL events to log (`DTL_LOG_*`); 0 disables the DTL.
    pub dtl_mask: u8,
}

/// The lppaca fields the guest-side paths read or write.
///
/// A registered VPA is shared with the hypervisor, which writes its own fields
/// (`yield_count`, `__old_status`, ...) during hcalls and, on other CPUs, at any time.
/// Holding a Rust `&`/`&mut Lppaca` over such live memory would promise the compiler
/// that nothing else writes it, so a guest implements this trait over a raw pointer with
/// volatile accesses instead. [`Lppaca`] itself implements it for values owned by Rust
/// (tests, models, a not-yet-registered area); with the `vm-memory` feature,
/// `GuestLppaca` implements it over rust-vmm guest memory, for a VMM or a test
/// harness that writes planned lppacas into guest RAM and registers them with a
/// hypervisor model (`examples/plan_and_register.rs`).
pub trait LppacaAccess {
    /// Writes `vmxregs_in_use`.
    fn set_vmxregs_in_use(&mut self, value: u8);
    /// Writes `ebb_regs_in_use`.
    fn set_ebb_regs_in_use(&mut self, value: u8);
    /// Writes `dtl_idx`.
    fn set_dtl_idx(&mut self, value: u64);
    /// Writes `dtl_enable_mask`.
    fn set_dtl_enable_mask(&mut self, value: u8);
    /// Reads `dtl_enable_mask`.
    fn dtl_enable_mask(&self) -> u8;
    /// Reads `vphn_assoc_counts`.
    fn vphn_assoc_counts(&self) -> [u8; 8];
}

impl LppacaAccess for Lppaca {
    fn set_vmxregs_in_use(&mut self, value: u8) {
        self.vmxregs_in_use = value;
    }
    fn set_ebb_regs_in_use(&mut self, value: u8) {
        self.ebb_regs_in_use = value;
    }
    fn set_dtl_idx(&mut self, value: u64) {
        self.dtl_idx = value.into();
    }
    fn set_dtl_enable_mask(&mut self, value: u8) {
        self.dtl_enable_mask = value;
    }
    fn dtl_enable_mask(&self) -> u8 {
        self.dtl_enable_mask
    }
    fn vphn_assoc_counts(&self) -> [u8; 8] {
        self.vphn_assoc_counts
    }
}

/// Why the guest path refused to run: Linux would dereference a NULL pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VpaError {
    /// The CPU's paca has no lppaca (hypervisor mode): there is no VPA to register or read.
    NoLppaca {
        /// The CPU.
        cpu: u32,
    },
    /// SLB-shadow registration was due (hash, SPLPAR) but the paca has no SLB shadow.
    NoSlbShadow {
        /// The CPU.
        cpu: u32,
    },
    /// VPHN asked for more than the 8 counters the lppaca has.
    TooManyLevels {
        /// The depth asked for.
        depth: usize,
    },
}

impl fmt::Display for VpaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoLppaca { cpu } => write!(f, "CPU {cpu} has no lppaca (NULL lppaca_ptr)"),
            Self::NoSlbShadow { cpu } => write!(f, "CPU {cpu} has no SLB shadow to register"),
            Self::TooManyLevels { depth } => write!(
                f,
                "distance_ref_points_depth {depth} exceeds the 8 VPHN counters"
            ),
        }
    }
}

impl core::error::Error for VpaError {}

/// What `vpa_init` got back from the hypervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VpaInitOutcome {
    /// `H_REGISTER_VPA(H_VPA_REG_VPA)`.
    pub vpa: ReturnCode,
    /// `H_VPA_REG_SLB`, if it was issued (not when VPA registration failed, not under
    /// radix, not without SPLPAR).
    pub slb_shadow: Option<ReturnCode>,
    /// `H_VPA_REG_DTL`, if it was issued (a DTL buffer exists and `dtl_mask` is set).
    pub dtl: Option<ReturnCode>,
}

/// `vpa_init(cpu)` (`platforms/pseries/lpar.c`): marks the register sets in use in
/// the lppaca, registers the VPA, then (hash and SPLPAR only) the SLB shadow, then the
/// DTL via `register_dtl_buffer`, which also zeroes `dtl_idx` and sets
/// `dtl_enable_mask` — even when the hypervisor refused the DTL, as Linux does. A
/// failed VPA registration stops there.
///
/// Registration is issued for `paca.hw_cpu_id`; Linux runs it on that CPU itself. The
/// areas' contents live in guest memory, which this function does not write: before
/// calling it the guest must have written the lppaca ([`Lppaca::linux_init`], whose
/// `size` field the hypervisor reads), the SLB shadow
/// ([`papr::SlbShadow::linux_init`]) and, for the DTL, the buffer length
/// (`DISPATCH_LOG_BYTES`, big-endian at offset 4) that `register_dtl_buffer` stores.
pub fn vpa_init<H: Hypervisor + ?Sized, L: LppacaAccess + ?Sized>(
    hv: &mut H,
    paca: &Paca,
    lppaca: &mut L,
    features: &GuestFeatures,
) -> Result<VpaInitOutcome, VpaError> {
    let cpu = paca.paca_index;
    let lp_addr = paca.lppaca_ptr.ok_or(VpaError::NoLppaca { cpu })?;
    let proc_no = u64::from(paca.hw_cpu_id);
    if features.altivec {
        lppaca.set_vmxregs_in_use(1);
    }
    if features.arch_207s {
        lppaca.set_ebb_regs_in_use(1);
    }
    let vpa = hv.register_vpa(VpaSubfunction::RegisterVpa, proc_no, lp_addr.as_u64());
    let mut out = VpaInitOutcome {
        vpa,
        slb_shadow: None,
        dtl: None,
    };
    if !vpa.is_success() {
        return Ok(out);
    }
    if !features.radix && features.splpar {
        let slb = paca.slb_shadow_ptr.ok_or(VpaError::NoSlbShadow { cpu })?;
        out.slb_shadow = Some(hv.register_vpa(VpaSubfunction::RegisterSlb, proc_no, slb.as_u64()));
    }
    if let (Some(dtl), true) = (paca.dispatch_log, features.dtl_mask != 0) {
        lppaca.set_dtl_idx(0);
        out.dtl = Some(hv.register_vpa(VpaSubfunction::RegisterDtl, proc_no, dtl.as_u64()));
        lppaca.set_dtl_enable_mask(features.dtl_mask);
    }
    Ok(out)
}

/// What `pseries_kexec_cpu_down` does when the kernel is crashing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPolicy {
    /// "Don't risk a hypervisor call if we're crashing": no hcall at all (Linux up to
    /// 5.x, including the 2018 series and 4.15).
    NoHcalls,
    /// Linux 6.1: deregister DTL, SLB shadow and VPA even while crashing, so that the
    /// hypervisor stops writing into memory the kdump kernel may reuse.
    Deregister,
}

impl CrashPolicy {
    /// The policy of a strategy's kernel.
    pub const fn of(strategy: Strategy) -> Self {
        match strategy.base() {
            Strategy::Linux415 => Self::NoHcalls,
            _ => Self::Deregister,
        }
    }
}

/// `pseries_kexec_cpu_down(crash_shutdown, secondary)`, the VPA part: with SPLPAR, and
/// unless crashing under [`CrashPolicy::NoHcalls`], deregister the DTL (only if the
/// lppaca's `dtl_enable_mask` is set), then the SLB shadow, then the VPA. Failures are
/// only logged by Linux; every call is made regardless. Returns the calls and results.
pub fn kexec_cpu_down<H: Hypervisor + ?Sized, L: LppacaAccess + ?Sized>(
    hv: &mut H,
    paca: &Paca,
    lppaca: &L,
    splpar: bool,
    crash_shutdown: bool,
    policy: CrashPolicy,
) -> Vec<(VpaSubfunction, ReturnCode)> {
    let mut calls = Vec::new();
    if !splpar || (crash_shutdown && policy == CrashPolicy::NoHcalls) {
        return calls;
    }
    let proc_no = u64::from(paca.hw_cpu_id);
    if lppaca.dtl_enable_mask() != 0 {
        calls.push((
            VpaSubfunction::DeregisterDtl,
            hv.register_vpa(VpaSubfunction::DeregisterDtl, proc_no, 0),
        ));
    }
    for sub in [VpaSubfunction::DeregisterSlb, VpaSubfunction::DeregisterVpa] {
        calls.push((sub, hv.register_vpa(sub, proc_no, 0)));
    }
    calls
}

/// The saved VPHN associativity-change counters (`vphn_cpu_change_counts`) and the
/// change mask, as the series left `arch/powerpc/mm/numa.c` (Linux 4.17–5.x).
///
/// Linux 6.1 no longer has this path: the VPHN polling that used the lppaca counters
/// was removed in 5.x and topology updates now come from PRRN/hotplug events. It is
/// modelled because the series changed it (from the static `lppaca[cpu]`, which
/// indexed past a one-element array, to `lppaca_of(cpu)`), and the counters remain in
/// the lppaca that hypervisors update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VphnCounters {
    depth: usize,
    threads_per_core: u32,
    possible: Vec<bool>,
    saved: Vec<[u8; 8]>,
    changes: Vec<bool>,
}

impl VphnCounters {
    /// `setup_cpu_associativity_change_counters`: for every possible CPU, copy the first
    /// `depth` (`distance_ref_points_depth`) counters of its lppaca. `lppaca_of(cpu)`
    /// gives the CPU's lppaca; a possible CPU without one is an error (Linux would
    /// dereference NULL). `threads_per_core` is used to mark whole cores as changed.
    pub fn setup<'l, L: LppacaAccess + ?Sized + 'l>(
        possible: &[bool],
        depth: usize,
        threads_per_core: u32,
        mut lppaca_of: impl FnMut(u32) -> Option<&'l L>,
    ) -> Result<Self, VpaError> {
        if depth > 8 {
            return Err(VpaError::TooManyLevels { depth });
        }
        let mut saved = alloc::vec![[0u8; 8]; possible.len()];
        for (cpu, _) in possible.iter().enumerate().filter(|(_, p)| **p) {
            let cpu32 = cpu as u32;
            let lp = lppaca_of(cpu32).ok_or(VpaError::NoLppaca { cpu: cpu32 })?;
            saved[cpu][..depth].copy_from_slice(&lp.vphn_assoc_counts()[..depth]);
        }
        Ok(Self {
            depth,
            threads_per_core: threads_per_core.max(1),
            possible: possible.to_vec(),
            saved,
            changes: alloc::vec![false; possible.len()],
        })
    }

    /// `update_cpu_associativity_changes_mask`: for every possible CPU compare the
    /// lppaca's counters with the saved ones; on a difference save the new values, add
    /// the CPU's whole core (`cpu_sibling_mask`) to the change mask and skip to the
    /// core's last thread (so the siblings' counters are not re-read this round, as in
    /// Linux). The mask accumulates until [`VphnCounters::clear_changes`]. Returns the
    /// number of CPUs in the mask (`cpumask_weight`).
    pub fn update<'l, L: LppacaAccess + ?Sized + 'l>(
        &mut self,
        mut lppaca_of: impl FnMut(u32) -> Option<&'l L>,
    ) -> Result<usize, VpaError> {
        let n = self.possible.len();
        let tpc = self.threads_per_core as usize;
        let mut cpu = 0usize;
        while cpu < n {
            if !self.possible[cpu] {
                cpu += 1;
                continue;
            }
            let lp = lppaca_of(cpu as u32).ok_or(VpaError::NoLppaca { cpu: cpu as u32 })?;
            let counts = lp.vphn_assoc_counts();
            let mut changed = false;
            for (saved, now) in self.saved[cpu].iter_mut().zip(counts).take(self.depth) {
                if *saved != now {
                    *saved = now;
                    changed = true;
                }
            }
            if changed {
                let first = cpu / tpc * tpc;
                let last = (first + tpc).min(n);
                for c in first..last {
                    // cpu_sibling_mask holds the core's threads that are present.
                    if self.possible[c] {
                        self.changes[c] = true;
                    }
                }
                cpu = last;
            } else {
                cpu += 1;
            }
        }
        Ok(self.changes.iter().filter(|c| **c).count())
    }

    /// The CPUs in `cpu_associativity_changes_mask`.
    pub fn changed_cpus(&self) -> impl Iterator<Item = u32> + '_ {
        self.changes
            .iter()
            .enumerate()
            .filter(|(_, c)| **c)
            .map(|(i, _)| i as u32)
    }

    /// Empties the change mask (what `arch_update_cpu_topology` does once handled).
    pub fn clear_changes(&mut self) {
        self.changes.iter_mut().for_each(|c| *c = false);
    }

    /// The saved counters of `cpu`.
    pub fn saved(&self, cpu: u32) -> Option<&[u8]> {
        self.saved.get(cpu as usize).map(|s| &s[..self.depth])
    }
}

/// What [`kexec_shutdown`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexecShutdown {
    /// Per CPU, in the order the calls were issued: its logical id and the
    /// deregistrations `pseries_kexec_cpu_down` made.
    pub calls: Vec<(u32, Vec<(VpaSubfunction, ReturnCode)>)>,
    /// The static `kexec_paca` the kexecing CPU switches to: a copy of its paca with
    /// `lppaca_ptr` NULL and `data_offset` poisoned.
    pub kexec_paca: Paca,
}

/// The machine-wide kexec (or kdump) shutdown: every other CPU runs
/// `pseries_kexec_cpu_down(crash, secondary = 1)` from `kexec_smp_down` /
/// `crash_ipi_callback`, then the CPU performing the kexec runs it with `secondary = 0`
/// and `default_machine_kexec` switches to the static paca copy. Linux runs the
/// secondaries concurrently; here they go in ascending CPU order. `cpus` holds each
/// online CPU's paca and lppaca; `current` is the logical id of the kexecing CPU.
/// Returns `None` if `current` is not among `cpus`.
pub fn kexec_shutdown<H: Hypervisor + ?Sized>(
    hv: &mut H,
    cpus: &[(Paca, Lppaca)],
    current: u32,
    splpar: bool,
    crash_shutdown: bool,
    policy: CrashPolicy,
) -> Option<KexecShutdown> {
    let (me, me_lp) = cpus.iter().find(|(p, _)| p.paca_index == current)?;
    let mut others: Vec<&(Paca, Lppaca)> = cpus
        .iter()
        .filter(|(p, _)| p.paca_index != current)
        .collect();
    others.sort_by_key(|(p, _)| p.paca_index);
    let mut calls = Vec::new();
    for (paca, lp) in others {
        let c = kexec_cpu_down(hv, paca, lp, splpar, crash_shutdown, policy);
        calls.push((paca.paca_index, c));
    }
    let c = kexec_cpu_down(hv, me, me_lp, splpar, crash_shutdown, policy);
    calls.push((current, c));
    Some(KexecShutdown {
        calls,
        kexec_paca: me.kexec_copy(),
    })
}
