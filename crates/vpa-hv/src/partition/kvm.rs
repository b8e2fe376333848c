//! KVM HV's rules (Linux 6.1 `arch/powerpc/kvm/book3s_hv.c`): the hcall handler, the
//! deferred registration applied at the next guest entry, and the dispatch accounting
//! of both host CPU entry paths. [`Profile::Kvm`](crate::Profile::Kvm) and
//! [`Profile::KvmPre414`](crate::Profile::KvmPre414) differ only in the VPA minimum,
//! which [`Profile::vpa_min_size`](crate::Profile::vpa_min_size) carries.

use papr::be;
use papr::hcall::{ReturnCode, VpaSubfunction};
use papr::DtlEntry;
use phys::{PhysAddr, PhysSize};

use super::{
    bump_yield, deregister_rule, write_be, Area, AreaKind, DispatchInfo, Partition, Vcpu, Verdict,
};
use crate::layout;
use crate::memory::GuestRam;
use crate::profile::{KvmHostCpu, Rule};

/// Every hcall is a guest exit and re-entry of the caller.
pub(super) const HCALL_EXITS: bool = true;

/// `vcpu_vpa_increment_dispatch` on exit: a plain increment, no parity correction.
pub(super) const PREEMPT_PARITY: Option<u32> = None;

impl<M: GuestRam> Partition<M> {
    /// `do_h_register_vpa` in Linux 6.1 `arch/powerpc/kvm/book3s_hv.c`.
    pub(super) fn kvm_register(&mut self, idx: usize, flags: u64, addr: u64) -> Verdict {
        // (flags >> H_VPA_FUNC_SHIFT) & H_VPA_FUNC_MASK; the other bits are ignored.
        let sub = VpaSubfunction::from_flags(flags).ok();
        let mut len = 0u64;
        let start = PhysAddr::new(addr);
        if let Some(s) = sub.filter(|s| s.is_register()) {
            if addr == 0 {
                return Verdict::param(Rule::AddressZero);
            }
            if addr % layout::CACHE_LINE != 0 {
                return Verdict::param(Rule::Misaligned);
            }
            // kvmppc_pin_guest_page: the page must be guest memory to read the length.
            let mut header = [0u8; 8];
            if self.memory.read(start, &mut header).is_err() {
                return Verdict::param(Rule::OutsideMemory);
            }
            len = if s == VpaSubfunction::RegisterVpa {
                u64::from(u16::from_be_bytes([header[4], header[5]]))
            } else {
                u64::from(u32::from_be_bytes([
                    header[4], header[5], header[6], header[7],
                ]))
            };
            let page = self.host_page.bytes();
            let nb = page - addr % page;
            if len > nb {
                return Verdict::param(Rule::CrossesPage);
            }
            if len < layout::REG_VPA_HEADER {
                return Verdict::param(Rule::SizeTooSmall);
            }
            // Implied in KVM by page-granular memslots; explicit for arbitrary sizes.
            if !self.memory.contains(start, PhysSize::new(len)) {
                return Verdict::param(Rule::OutsideMemory);
            }
        }
        let area = Area {
            addr: start,
            len: PhysSize::new(len),
        };
        let v = &mut self.vcpus[idx];
        let (kind, next, rule) = match sub {
            None => return Verdict::param(Rule::ReservedSubfunction),
            Some(VpaSubfunction::RegisterVpa) => {
                if len < self.profile.vpa_min_size() {
                    return Verdict::param(Rule::SizeTooSmall);
                }
                (AreaKind::Vpa, Some(area), Rule::Accepted)
            }
            Some(VpaSubfunction::RegisterDtl) => {
                if len < layout::DTL_ENTRY_SIZE {
                    return Verdict::param(Rule::SizeTooSmall);
                }
                if !v.vpa.is_registered() {
                    return Verdict::new(ReturnCode::H_RESOURCE, Rule::NeedsVpa);
                }
                let whole = len - len % layout::DTL_ENTRY_SIZE;
                let area = Area {
                    len: PhysSize::new(whole),
                    ..area
                };
                (AreaKind::Dtl, Some(area), Rule::Accepted)
            }
            Some(VpaSubfunction::RegisterSlb) => {
                if !v.vpa.is_registered() {
                    return Verdict::new(ReturnCode::H_RESOURCE, Rule::NeedsVpa);
                }
                (AreaKind::SlbShadow, Some(area), Rule::Accepted)
            }
            Some(VpaSubfunction::DeregisterVpa) => {
                if v.dtl.is_registered() || v.slb.is_registered() {
                    return Verdict::new(ReturnCode::H_RESOURCE, Rule::VpaInUse);
                }
                (AreaKind::Vpa, None, deregister_rule(&v.vpa))
            }
            Some(VpaSubfunction::DeregisterDtl) => (AreaKind::Dtl, None, deregister_rule(&v.dtl)),
            Some(VpaSubfunction::DeregisterSlb) => {
                (AreaKind::SlbShadow, None, deregister_rule(&v.slb))
            }
        };
        v.area_mut(kind).pending = Some(next);
        Verdict::ok(rule)
    }
}

/// Guest entry under KVM: pending registrations first, then the stolen-time fields,
/// the DTL entry and `yield_count`.
pub(super) fn dispatch<M: GuestRam>(
    memory: &mut M,
    v: &mut Vcpu,
    cpu: KvmHostCpu,
    info: &DispatchInfo,
) {
    update_vpas(memory, v);
    // POWER9: vc->stolen_tb grows in kvmppc_core_vcpu_load_hv, VPA or not.
    v.stolen_tb = v.stolen_tb.wrapping_add(info.stolen);
    if let Some(vpa) = v.vpa.active {
        let logged = match cpu {
            KvmHostCpu::Power8 => {
                // kvmppc_update_vpa_dispatch: be64_to_cpu(field) + stolen.
                let mut b = [0u8; 8];
                let at = vpa
                    .addr
                    .checked_add(PhysSize::new(layout::VPA_ENQUEUE_DISPATCH_TB));
                let old = at
                    .and_then(|at| memory.read(at, &mut b).ok())
                    .map_or(0, |()| u64::from_be_bytes(b));
                let field = old.wrapping_add(info.stolen);
                write_be(memory, vpa.addr, layout::VPA_ENQUEUE_DISPATCH_TB, field, 8);
                info.stolen
            }
            KvmHostCpu::Power9 => {
                // kvmppc_update_vpa_dispatch_p9.
                let delta = v.stolen_tb.wrapping_sub(v.stolen_logged);
                v.stolen_logged = v.stolen_tb;
                let total = v.stolen_tb;
                write_be(memory, vpa.addr, layout::VPA_ENQUEUE_DISPATCH_TB, total, 8);
                delta
            }
        };
        if let Some(log) = v.dtl.active {
            dtl_entry(memory, v, log, info, logged);
            write_be(memory, vpa.addr, layout::VPA_DTL_IDX, v.dtl_index, 8);
        }
        bump_yield(memory, vpa.addr, None);
    }
}

/// `kvmppc_update_vpas` + `kvmppc_update_vpa` + `init_vpa`.
fn update_vpas<M: GuestRam>(memory: &mut M, v: &mut Vcpu) {
    if let Some(next) = v.vpa.pending.take() {
        v.vpa.active = next;
        if let Some(vpa) = next {
            if let Some(at) = vpa.addr.checked_add(PhysSize::new(layout::VPA_OLD_STATUS)) {
                let mut b = [0u8; 1];
                if memory.read(at, &mut b).is_ok() {
                    let _ = memory.write(at, &[b[0] | layout::SHARED_PROC]);
                }
            }
            write_be(memory, vpa.addr, layout::VPA_YIELD_COUNT, 1, 4);
        }
    }
    if let Some(next) = v.dtl.pending.take() {
        v.dtl.active = next;
        v.dtl_next = 0;
        v.dtl_index = 0;
    }
    if let Some(next) = v.slb.pending.take() {
        v.slb.active = next;
    }
}

/// `__kvmppc_create_dtl_entry`: one entry at the ring's write pointer, which wraps at
/// the (whole-entry) end of the registered area.
fn dtl_entry<M: GuestRam>(
    memory: &mut M,
    v: &mut Vcpu,
    log: Area,
    info: &DispatchInfo,
    stolen: u64,
) {
    // cpu_to_be32(stolen): the C assignment keeps the low 32 bits.
    let stolen = u32::try_from(stolen & 0xffff_ffff).unwrap_or(0);
    let entry = DtlEntry {
        dispatch_reason: layout::KVM_DTL_DISPATCH_REASON,
        preempt_reason: 0,
        processor_id: be::U16::new(info.physical_cpu),
        enqueue_to_dispatch_time: be::U32::new(stolen),
        timebase: be::U64::new(info.timebase),
        srr0: be::U64::new(info.srr0),
        srr1: be::U64::new(info.srr1),
        ..DtlEntry::ZEROED
    };
    let e = entry.as_bytes();
    if let Some(at) = log.addr.checked_add(PhysSize::new(v.dtl_next)) {
        let _ = memory.write(at, e);
    }
    v.dtl_next = v.dtl_next.saturating_add(layout::DTL_ENTRY_SIZE);
    if v.dtl_next >= log.len.as_u64() {
        v.dtl_next = 0;
    }
    v.dtl_index = v.dtl_index.wrapping_add(1);
}
