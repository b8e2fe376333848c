//! The partition model: profile, guest memory, vCPUs, the hcall handler and the
//! dispatch hooks.

use alloc::vec::Vec;
use core::fmt;

use papr::hcall::{HcallResult, Hypervisor, Opcode, ReturnCode, VpaSubfunction};
use phys::{PhysAddr, PhysSize};

use crate::layout;
use crate::memory::GuestRam;
use crate::profile::{Family, HostPageSize, KvmHostCpu, Profile, Rule};

// One file per hypervisor family: the H_REGISTER_VPA checks and the dispatch
// accounting each one models. Every place the families differ is a `match` on
// [`Family`] in this file, so a new family is a compile error at each of them.
mod kvm;
mod qemu;

/// A registered guest area: where it is and how long the hypervisor takes it to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Area {
    /// Guest physical address of the first byte.
    pub addr: PhysAddr,
    /// Length as the hypervisor recorded it (KVM rounds a DTL down to whole entries).
    pub len: PhysSize,
}

/// Which of a vCPU's three areas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AreaKind {
    /// The Virtual Processor Area (`struct lppaca`).
    Vpa,
    /// The Dispatch Trace Log ring.
    Dtl,
    /// The SLB shadow buffer.
    SlbShadow,
}

impl fmt::Display for AreaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Vpa => "vpa",
            Self::Dtl => "dtl",
            Self::SlbShadow => "slb",
        })
    }
}

/// The registration state of one area of one vCPU.
///
/// QEMU registers immediately. KVM records the request and applies it when the vCPU
/// next enters the guest (`kvmppc_update_vpas`); until then `pending` holds the next
/// value and, as in KVM's `vpa_is_registered`, decides whether the area counts as
/// registered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AreaState {
    /// The area the hypervisor currently uses (KVM: `pinned_addr`).
    pub active: Option<Area>,
    /// KVM only: a registration (`Some(Some(_))`) or deregistration (`Some(None)`)
    /// waiting for the next dispatch (`update_pending`).
    pub pending: Option<Option<Area>>,
}

impl AreaState {
    /// The area as the registration rules see it: the pending value if there is one.
    pub const fn effective(&self) -> Option<Area> {
        match self.pending {
            Some(next) => next,
            None => self.active,
        }
    }

    /// Whether the area counts as registered (KVM `vpa_is_registered`).
    pub const fn is_registered(&self) -> bool {
        self.effective().is_some()
    }
}

/// Timing details recorded in a DTL entry at dispatch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchInfo {
    /// Guest timebase at dispatch (`now + vc->tb_offset`).
    pub timebase: u64,
    /// Timebase ticks stolen from the vCPU since its previous dispatch.
    ///
    /// KVM only; what it feeds depends on [`KvmHostCpu`]. POWER9: it is added to the
    /// vCPU's running total (`vc->stolen_tb`, one vCPU per virtual core on that path)
    /// at every dispatch, VPA or not; with a VPA, `enqueue_dispatch_tb` is set to that
    /// total and the DTL entry's `enqueue_to_dispatch_time` gets the part no earlier
    /// entry logged. POWER8: it is taken as the figure `kvmppc_update_vpa_dispatch`
    /// computes for this dispatch (`core_stolen - stolen_logged + busy_stolen`); with a
    /// VPA it is added to the guest's `enqueue_dispatch_tb` and recorded in the DTL
    /// entry, and without one it is dropped. The DTL field is 32 bits wide (the low
    /// half is kept, as `cpu_to_be32` does); the VPA field is 64 bits and wraps.
    pub stolen: u64,
    /// Host CPU the vCPU is dispatched on (`processor_id`).
    pub physical_cpu: u16,
    /// Guest PC at dispatch (`srr0`).
    pub srr0: u64,
    /// Guest MSR at dispatch (`srr1`).
    pub srr1: u64,
}

/// One virtual processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vcpu {
    proc_no: u32,
    vpa: AreaState,
    dtl: AreaState,
    slb: AreaState,
    running: bool,
    dtl_next: u64,
    dtl_index: u64,
    /// KVM POWER9: `vc->stolen_tb`, all the stolen time since the vCPU was created.
    stolen_tb: u64,
    /// KVM POWER9: `vcpu->arch.stolen_logged`, `stolen_tb` at the last logged dispatch.
    stolen_logged: u64,
    associativity: Vec<u32>,
}

impl Vcpu {
    fn new(proc_no: u32) -> Self {
        Self {
            proc_no,
            vpa: AreaState::default(),
            dtl: AreaState::default(),
            slb: AreaState::default(),
            running: false,
            dtl_next: 0,
            dtl_index: 0,
            stolen_tb: 0,
            stolen_logged: 0,
            associativity: Vec::new(),
        }
    }

    /// The hardware id the guest passes as `proc_no` (device-tree `reg`).
    pub const fn proc_no(&self) -> u32 {
        self.proc_no
    }

    /// The registration state of one area.
    pub const fn area(&self, kind: AreaKind) -> &AreaState {
        match kind {
            AreaKind::Vpa => &self.vpa,
            AreaKind::Dtl => &self.dtl,
            AreaKind::SlbShadow => &self.slb,
        }
    }

    /// Whether the vCPU is dispatched (between [`Partition::dispatch`] and
    /// [`Partition::preempt`]).
    pub const fn is_running(&self) -> bool {
        self.running
    }

    /// KVM: how many DTL entries were written since the DTL was (re)registered
    /// (`vcpu->arch.dtl_index`, mirrored in the VPA's `dtl_idx`).
    pub const fn dtl_index(&self) -> u64 {
        self.dtl_index
    }

    /// The associativity domains H_HOME_NODE_ASSOCIATIVITY reports.
    pub fn associativity(&self) -> &[u32] {
        &self.associativity
    }

    fn area_mut(&mut self, kind: AreaKind) -> &mut AreaState {
        match kind {
            AreaKind::Vpa => &mut self.vpa,
            AreaKind::Dtl => &mut self.dtl,
            AreaKind::SlbShadow => &mut self.slb,
        }
    }
}

/// An hcall's return code with the rule that produced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The value returned in r3.
    pub code: ReturnCode,
    /// Why.
    pub rule: Rule,
}

impl Verdict {
    const fn new(code: ReturnCode, rule: Rule) -> Self {
        Self { code, rule }
    }
    const fn param(rule: Rule) -> Self {
        Self::new(ReturnCode::H_PARAMETER, rule)
    }
    const fn ok(rule: Rule) -> Self {
        Self::new(ReturnCode::H_SUCCESS, rule)
    }
}

/// Building a partition failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionError {
    /// Two vCPUs were given the same proc-no.
    DuplicateProcNo(u32),
    /// A proc-no above `i32::MAX`: hypervisors look vCPUs up through an `int`, so such
    /// a vCPU could never be named by an hcall.
    ProcNoTooLarge(u32),
    /// An operation named a vCPU the partition does not have.
    UnknownProcNo(u32),
    /// More associativity domains than H_HOME_NODE_ASSOCIATIVITY can return (12).
    TooManyDomains(usize),
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateProcNo(p) => write!(f, "proc-no {p} given twice"),
            Self::ProcNoTooLarge(p) => write!(f, "proc-no {p} does not fit in an int"),
            Self::UnknownProcNo(p) => write!(f, "no vCPU has proc-no {p}"),
            Self::TooManyDomains(n) => {
                write!(f, "{n} associativity domains; at most 12 fit in r4..r9")
            }
        }
    }
}

impl core::error::Error for PartitionError {}

/// A dispatch hook was called out of order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DispatchError {
    /// No vCPU has this proc-no.
    UnknownProcNo(u32),
    /// [`Partition::dispatch`] on a vCPU that is already running.
    AlreadyRunning(u32),
    /// [`Partition::preempt`] on a vCPU that is not running.
    NotRunning(u32),
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownProcNo(p) => write!(f, "no vCPU has proc-no {p}"),
            Self::AlreadyRunning(p) => write!(f, "vCPU {p} is already running"),
            Self::NotRunning(p) => write!(f, "vCPU {p} is not running"),
        }
    }
}

impl core::error::Error for DispatchError {}

/// Most domains H_HOME_NODE_ASSOCIATIVITY returns: two per register, r4..r9.
pub const VPHN_MAX_DOMAINS: usize = 12;

/// A logical partition as the hypervisor sees it: a rule profile, guest memory and
/// vCPUs with their VPA, DTL and SLB shadow registrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition<M> {
    profile: Profile,
    host_page: HostPageSize,
    kvm_cpu: KvmHostCpu,
    memory: M,
    vcpus: Vec<Vcpu>,
    caller: Option<u32>,
    clock: u64,
}

impl<M: GuestRam> Partition<M> {
    /// A partition with vCPUs whose hardware ids are `proc_nos`, none running and
    /// nothing registered. KVM profiles assume 64 KiB host pages; see
    /// [`Partition::set_host_page_size`].
    ///
    /// # Who owns guest memory
    ///
    /// The partition takes `memory` by value and is from then on the only way this
    /// crate reaches it: [`Partition::memory`] and [`Partition::memory_mut`] lend it
    /// out, [`Partition::into_memory`] gives it back. Nothing is copied; what `M` *is*
    /// decides whether anyone else sees the same bytes. A [`VecRam`](crate::VecRam) is
    /// private to the partition. rust-vmm's `GuestMemoryMmap` is a handle on shared
    /// mappings: a VMM keeps a clone for its vCPU threads and devices and passes
    /// another here, and both see every write (the VPA is shared memory by design:
    /// the hypervisor writes `yield_count` while the guest reads it). The handler
    /// writes only inside areas the guest registered, plus the bytes the modelled
    /// hypervisor writes there; a refused hcall writes nothing.
    pub fn new(profile: Profile, memory: M, proc_nos: &[u32]) -> Result<Self, PartitionError> {
        let mut vcpus: Vec<Vcpu> = Vec::with_capacity(proc_nos.len());
        for &p in proc_nos {
            if i32::try_from(p).is_err() {
                return Err(PartitionError::ProcNoTooLarge(p));
            }
            if vcpus.iter().any(|v| v.proc_no == p) {
                return Err(PartitionError::DuplicateProcNo(p));
            }
            vcpus.push(Vcpu::new(p));
        }
        Ok(Self {
            profile,
            host_page: HostPageSize::default(),
            kvm_cpu: KvmHostCpu::default(),
            memory,
            vcpus,
            caller: None,
            clock: 0,
        })
    }

    /// Sets the KVM host page size, which bounds a KVM registration (no effect on
    /// [`Profile::Qemu`]).
    pub fn set_host_page_size(&mut self, page: HostPageSize) {
        self.host_page = page;
    }

    /// The KVM host page size in use.
    pub const fn host_page_size(&self) -> HostPageSize {
        self.host_page
    }

    /// Sets the KVM host CPU generation, which decides how dispatches update
    /// `enqueue_dispatch_tb` (no effect on [`Profile::Qemu`]). The default is
    /// [`KvmHostCpu::Power9`].
    pub fn set_kvm_host_cpu(&mut self, cpu: KvmHostCpu) {
        self.kvm_cpu = cpu;
    }

    /// The KVM host CPU generation in use.
    pub const fn kvm_host_cpu(&self) -> KvmHostCpu {
        self.kvm_cpu
    }

    /// The rule profile.
    pub const fn profile(&self) -> Profile {
        self.profile
    }

    /// Guest memory.
    pub const fn memory(&self) -> &M {
        &self.memory
    }

    /// Guest memory, for the guest (or a test) to write.
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.memory
    }

    /// Gives the guest memory back.
    pub fn into_memory(self) -> M {
        self.memory
    }

    /// All vCPUs, in creation order.
    pub fn vcpus(&self) -> &[Vcpu] {
        &self.vcpus
    }

    /// The vCPU with hardware id `proc_no`.
    pub fn vcpu(&self, proc_no: u32) -> Option<&Vcpu> {
        self.vcpus.iter().find(|v| v.proc_no == proc_no)
    }

    /// Sets the domains H_HOME_NODE_ASSOCIATIVITY reports for a vCPU: its device-tree
    /// `ibm,associativity` without the leading length cell.
    pub fn set_associativity(
        &mut self,
        proc_no: u32,
        domains: &[u32],
    ) -> Result<(), PartitionError> {
        if domains.len() > VPHN_MAX_DOMAINS {
            return Err(PartitionError::TooManyDomains(domains.len()));
        }
        let v = self
            .vcpus
            .iter_mut()
            .find(|v| v.proc_no == proc_no)
            .ok_or(PartitionError::UnknownProcNo(proc_no))?;
        v.associativity = domains.to_vec();
        Ok(())
    }

    /// Names the vCPU that issues the hcalls made through [`Hypervisor::hcall`]
    /// (`None`: unknown). Under the KVM profiles every hcall leaves the guest and
    /// re-enters it, so a running caller is preempted before and dispatched after the
    /// call, which is when KVM applies a pending registration and bumps `yield_count`
    /// twice. QEMU (TCG) handles hcalls without leaving the vCPU loop.
    pub fn set_caller(&mut self, proc_no: Option<u32>) {
        self.caller = proc_no;
    }

    /// Hypervisors look the vCPU up through an `int` (`kvmppc_find_vcpu(kvm, int)`,
    /// `spapr_find_cpu(int)`): the low 32 bits count and a negative id is nobody.
    fn find(&self, proc_no: u64) -> Option<usize> {
        let low = u32::try_from(proc_no & 0xffff_ffff).ok()?;
        // Above i32::MAX the int is negative, and kvm_get_vcpu_by_id refuses id < 0.
        i32::try_from(low).ok()?;
        self.find_u32(low)
    }

    fn find_u32(&self, proc_no: u32) -> Option<usize> {
        self.vcpus.iter().position(|v| v.proc_no == proc_no)
    }

    /// H_REGISTER_VPA(`flags`, `proc_no`, `addr`) under the partition's profile.
    ///
    /// A call that does not return `H_SUCCESS` changes nothing, neither the
    /// registrations nor guest memory.
    pub fn h_register_vpa(&mut self, flags: u64, proc_no: u64, addr: u64) -> ReturnCode {
        self.h_register_vpa_explained(flags, proc_no, addr).code
    }

    /// As [`Partition::h_register_vpa`], also saying which rule decided.
    pub fn h_register_vpa_explained(&mut self, flags: u64, proc_no: u64, addr: u64) -> Verdict {
        let Some(idx) = self.find(proc_no) else {
            return Verdict::param(Rule::UnknownProc);
        };
        match self.profile.family() {
            Family::Kvm => self.kvm_register(idx, flags, addr),
            Family::Qemu => self.qemu_register(idx, flags, addr),
        }
    }

    /// H_REGISTER_VPA with typed arguments: `sub` is encoded as the flags word Linux
    /// passes (`sub.to_flags()`, no stray bits) and `proc_no` is the vCPU's hardware
    /// id. The bare handler, like [`Partition::h_register_vpa_explained`]: no guest
    /// exit is implied (see [`Partition::set_caller`] for that).
    ///
    /// ```
    /// use papr::hcall::{ReturnCode, VpaSubfunction};
    /// use phys::PhysAddr;
    /// use vpa_hv::{GuestRam, Partition, Profile, Rule, VecRam};
    ///
    /// let mut hv = Partition::new(Profile::Kvm, VecRam::new(1 << 20), &[0]).unwrap();
    /// let vpa = PhysAddr::new(0x1_0000);
    /// // The guest's lppaca advertises its size (be16 at offset 4).
    /// hv.memory_mut().write(PhysAddr::new(0x1_0004), &640u16.to_be_bytes()).unwrap();
    /// let v = hv.register(VpaSubfunction::RegisterVpa, 0, vpa);
    /// assert_eq!((v.code, v.rule), (ReturnCode::H_SUCCESS, Rule::Accepted));
    /// let v = hv.register(VpaSubfunction::RegisterDtl, 0, PhysAddr::new(0));
    /// assert_eq!((v.code, v.rule), (ReturnCode::H_PARAMETER, Rule::AddressZero));
    /// ```
    pub fn register(&mut self, sub: VpaSubfunction, proc_no: u32, addr: PhysAddr) -> Verdict {
        self.h_register_vpa_explained(sub.to_flags(), u64::from(proc_no), addr.as_u64())
    }

    fn read_be(&self, addr: PhysAddr, buf: &mut [u8]) -> Option<u64> {
        self.memory.read(addr, buf).ok()?;
        Some(buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// The hypervisor dispatches (enters) the vCPU, with a default [`DispatchInfo`]
    /// whose timebase is a counter of dispatch events.
    pub fn dispatch(&mut self, proc_no: u32) -> Result<(), DispatchError> {
        let info = DispatchInfo {
            timebase: self.clock,
            ..DispatchInfo::default()
        };
        self.dispatch_with(proc_no, info)
    }

    /// The hypervisor dispatches the vCPU.
    ///
    /// KVM (`kvmhv_run_single_vcpu` on POWER9 and later, `kvmppc_run_vcpu` on
    /// POWER8): applies pending registrations (`kvmppc_update_vpas`; a new VPA gets
    /// `__old_status |= 2` and `yield_count = 1` from `init_vpa`, a new DTL restarts
    /// at its first entry), then with a VPA updates `enqueue_dispatch_tb` as the
    /// [`KvmHostCpu`] path does (POWER9: set to the vCPU's stolen-time total; POWER8:
    /// `info.stolen` added to what the field holds, see [`DispatchInfo::stolen`]),
    /// writes a DTL entry if a DTL is registered and bumps `dtl_idx`
    /// (`__kvmppc_create_dtl_entry`, called for every dispatch with a VPA, the first
    /// one after a registration included), and increments `yield_count`
    /// (`vcpu_vpa_increment_dispatch`), which makes it even.
    ///
    /// QEMU (`spapr_cpu_exec_enter`): with a VPA, increments the counter at 0x100 and
    /// increments it once more if the result is odd. QEMU 7.2 writes no DTL entries.
    pub fn dispatch_with(&mut self, proc_no: u32, info: DispatchInfo) -> Result<(), DispatchError> {
        let idx = self
            .find_u32(proc_no)
            .ok_or(DispatchError::UnknownProcNo(proc_no))?;
        if self.vcpus[idx].running {
            return Err(DispatchError::AlreadyRunning(proc_no));
        }
        self.clock = self.clock.wrapping_add(1);
        let Self { memory, vcpus, .. } = self;
        let v = &mut vcpus[idx];
        match self.profile.family() {
            Family::Kvm => kvm::dispatch(memory, v, self.kvm_cpu, &info),
            Family::Qemu => qemu::dispatch(memory, v),
        }
        v.running = true;
        Ok(())
    }

    /// The vCPU stops running: preempted by the hypervisor, or ceded/conferred.
    ///
    /// KVM increments `yield_count` on every guest exit (`vcpu_vpa_increment_dispatch`
    /// after `kvmhv_vcpu_entry_p9`), which makes it odd. QEMU (`spapr_cpu_exec_exit`)
    /// increments the counter and once more if the result is even.
    pub fn preempt(&mut self, proc_no: u32) -> Result<(), DispatchError> {
        let idx = self
            .find_u32(proc_no)
            .ok_or(DispatchError::UnknownProcNo(proc_no))?;
        if !self.vcpus[idx].running {
            return Err(DispatchError::NotRunning(proc_no));
        }
        self.clock = self.clock.wrapping_add(1);
        let Self { memory, vcpus, .. } = self;
        let v = &mut vcpus[idx];
        if let Some(vpa) = v.vpa.active {
            let parity = match self.profile.family() {
                Family::Kvm => kvm::PREEMPT_PARITY,
                Family::Qemu => qemu::PREEMPT_PARITY,
            };
            bump_yield(memory, vpa.addr, parity);
        }
        v.running = false;
        Ok(())
    }

    /// Reads the VPA's `yield_count` (the dispatch counter) of a vCPU, if it has an
    /// active VPA whose counter is in guest memory.
    pub fn yield_count(&self, proc_no: u32) -> Option<u32> {
        let vpa = self.vcpu(proc_no)?.vpa.active?;
        let at = vpa
            .addr
            .checked_add(PhysSize::new(layout::VPA_YIELD_COUNT))?;
        let mut b = [0u8; 4];
        self.read_be(at, &mut b).and_then(|v| u32::try_from(v).ok())
    }

    /// H_HOME_NODE_ASSOCIATIVITY as QEMU answers it (`h_home_node_assoc` in
    /// `hw/ppc/spapr_hcall.c`; KVM passes this hcall to QEMU): `flags` must be 1
    /// (`H_FUNCTION` otherwise), an unknown `proc_no` gives `H_P2`, and r4..r9 carry
    /// the domains two per register, high word first, padded with `0xffffffff`.
    pub fn h_home_node_associativity(&self, flags: u64, proc_no: u64) -> HcallResult {
        if flags != 1 {
            return HcallResult::status(ReturnCode::H_FUNCTION);
        }
        let Some(idx) = self.find(proc_no) else {
            return HcallResult::status(ReturnCode::H_P2);
        };
        let domains = &self.vcpus[idx].associativity;
        let cell = |i: usize| domains.get(i).copied().unwrap_or(u32::MAX);
        let mut out = [0u64; 9];
        for (r, slot) in out.iter_mut().take(6).enumerate() {
            *slot = (u64::from(cell(2 * r)) << 32) | u64::from(cell(2 * r + 1));
        }
        HcallResult {
            ret: ReturnCode::H_SUCCESS,
            out,
        }
    }
}

pub(super) fn deregister_rule(state: &AreaState) -> Rule {
    if state.is_registered() {
        Rule::Accepted
    } else {
        Rule::DeregisterNothing
    }
}

/// Big-endian store of the low `width` bytes of `value` at `base + offset`; a store
/// outside guest memory is dropped, as QEMU drops stores to unassigned memory (KVM
/// areas are always inside guest memory).
pub(super) fn write_be<M: GuestRam>(
    memory: &mut M,
    base: PhysAddr,
    offset: u64,
    value: u64,
    width: usize,
) {
    let bytes = value.to_be_bytes();
    let Some(at) = base.checked_add(PhysSize::new(offset)) else {
        return;
    };
    let _ = memory.write(at, &bytes[bytes.len().saturating_sub(width)..]);
}

/// Increments the be32 `yield_count`; `parity` is QEMU's correction: increment again
/// if the low bit is not the wanted one.
pub(super) fn bump_yield<M: GuestRam>(memory: &mut M, vpa: PhysAddr, parity: Option<u32>) {
    let Some(at) = vpa.checked_add(PhysSize::new(layout::VPA_YIELD_COUNT)) else {
        return;
    };
    let mut b = [0u8; 4];
    // QEMU's ldl_be_phys reads unassigned memory as 0.
    let old = memory
        .read(at, &mut b)
        .map_or(0, |()| u32::from_be_bytes(b));
    let mut new = old.wrapping_add(1);
    if let Some(want) = parity {
        if new & 1 != want {
            new = new.wrapping_add(1);
        }
    }
    let _ = memory.write(at, &new.to_be_bytes());
}

impl<M: GuestRam> Hypervisor for Partition<M> {
    /// H_REGISTER_VPA and H_HOME_NODE_ASSOCIATIVITY; any other opcode gets
    /// `H_FUNCTION`. Under the KVM profiles a running [caller](Partition::set_caller)
    /// is preempted before and dispatched after the call, as a KVM guest exit is.
    fn hcall(&mut self, opcode: Opcode, args: &[u64]) -> HcallResult {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let hcall_exits = match self.profile.family() {
            Family::Kvm => kvm::HCALL_EXITS,
            Family::Qemu => qemu::HCALL_EXITS,
        };
        let exit = self
            .caller
            .filter(|_| hcall_exits)
            .filter(|&c| self.vcpu(c).is_some_and(Vcpu::is_running));
        if let Some(c) = exit {
            let _ = self.preempt(c);
        }
        let result = match opcode {
            Opcode::H_REGISTER_VPA => {
                HcallResult::status(self.h_register_vpa(arg(0), arg(1), arg(2)))
            }
            Opcode::H_HOME_NODE_ASSOCIATIVITY => self.h_home_node_associativity(arg(0), arg(1)),
            _ => HcallResult::status(ReturnCode::H_FUNCTION),
        };
        if let Some(c) = exit {
            let _ = self.dispatch(c);
        }
        result
    }
}
