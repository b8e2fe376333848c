//! QEMU 7.2 `pseries` rules (TCG): `h_register_vpa` and its helpers in
//! `hw/ppc/spapr_hcall.c`, and `spapr_cpu_exec_enter`/`_exit` in `hw/ppc/spapr.c` for
//! the dispatch counter.

use papr::hcall::{ReturnCode, VpaSubfunction};
use phys::{PhysAddr, PhysSize};

use super::{bump_yield, deregister_rule, Area, AreaKind, Partition, Vcpu, Verdict};
use crate::layout;
use crate::memory::GuestRam;
use crate::profile::Rule;

/// TCG handles an hcall inside the vCPU loop: no exit.
pub(super) const HCALL_EXITS: bool = false;

/// `spapr_cpu_exec_exit`: the counter ends odd after an exit.
pub(super) const PREEMPT_PARITY: Option<u32> = Some(1);

impl<M: GuestRam> Partition<M> {
    /// QEMU's `ld*_phys` on memory that is not RAM reads zeros (unassigned memory).
    fn qemu_read_be(&self, addr: PhysAddr, width: usize) -> u64 {
        let mut value = 0u64;
        for i in 0..width {
            let byte = u64::try_from(i)
                .ok()
                .and_then(|i| addr.checked_add(PhysSize::new(i)))
                .and_then(|a| {
                    let mut b = [0u8; 1];
                    self.memory.read(a, &mut b).ok().map(|()| b[0])
                })
                .unwrap_or(0);
            value = (value << 8) | u64::from(byte);
        }
        value
    }

    /// `h_register_vpa` and its helpers in QEMU 7.2 `hw/ppc/spapr_hcall.c`.
    pub(super) fn qemu_register(&mut self, idx: usize, flags: u64, addr: u64) -> Verdict {
        let Some(sub) = VpaSubfunction::from_flags_exact(flags) else {
            return Verdict::param(Rule::ReservedSubfunction);
        };
        let start = PhysAddr::new(addr);
        // QEMU computes in target_ulong, which wraps.
        let size_at = PhysAddr::new(addr.wrapping_add(layout::AREA_LENGTH));
        let crosses = |size: u64| {
            addr / layout::QEMU_PAGE != addr.wrapping_add(size).wrapping_sub(1) / layout::QEMU_PAGE
        };
        let hw = Verdict::new(ReturnCode::H_HARDWARE, Rule::AddressZero);
        let (kind, next, rule) = match sub {
            VpaSubfunction::RegisterVpa => {
                if addr == 0 {
                    return hw;
                }
                if addr % layout::CACHE_LINE != 0 {
                    return Verdict::param(Rule::Misaligned);
                }
                let size = self.qemu_read_be(size_at, 2);
                if size < layout::LPPACA_SIZE {
                    return Verdict::param(Rule::SizeTooSmall);
                }
                if crosses(size) {
                    return Verdict::param(Rule::CrossesPage);
                }
                let status_at = PhysAddr::new(addr.wrapping_add(layout::VPA_OLD_STATUS));
                let status = self.qemu_read_be(status_at, 1);
                let status = u8::try_from(status).unwrap_or(0) | layout::SHARED_PROC;
                // stb_phys to unassigned memory is dropped.
                let _ = self.memory.write(status_at, &[status]);
                let area = Area {
                    addr: start,
                    len: PhysSize::new(size),
                };
                (AreaKind::Vpa, Some(area), Rule::Accepted)
            }
            VpaSubfunction::DeregisterVpa => {
                let v = &self.vcpus[idx];
                if v.slb.is_registered() || v.dtl.is_registered() {
                    return Verdict::new(ReturnCode::H_RESOURCE, Rule::VpaInUse);
                }
                (AreaKind::Vpa, None, deregister_rule(&v.vpa))
            }
            VpaSubfunction::RegisterSlb => {
                if addr == 0 {
                    return hw;
                }
                let size = self.qemu_read_be(size_at, 4);
                if size < layout::REG_VPA_HEADER {
                    return Verdict::param(Rule::SizeTooSmall);
                }
                if crosses(size) {
                    return Verdict::param(Rule::CrossesPage);
                }
                if !self.vcpus[idx].vpa.is_registered() {
                    return Verdict::new(ReturnCode::H_RESOURCE, Rule::NeedsVpa);
                }
                let area = Area {
                    addr: start,
                    len: PhysSize::new(size),
                };
                (AreaKind::SlbShadow, Some(area), Rule::Accepted)
            }
            VpaSubfunction::RegisterDtl => {
                if addr == 0 {
                    return hw;
                }
                let size = self.qemu_read_be(size_at, 4);
                if size < layout::DTL_ENTRY_SIZE {
                    return Verdict::param(Rule::SizeTooSmall);
                }
                if !self.vcpus[idx].vpa.is_registered() {
                    return Verdict::new(ReturnCode::H_RESOURCE, Rule::NeedsVpa);
                }
                let area = Area {
                    addr: start,
                    len: PhysSize::new(size),
                };
                (AreaKind::Dtl, Some(area), Rule::Accepted)
            }
            VpaSubfunction::DeregisterSlb => {
                let rule = deregister_rule(&self.vcpus[idx].slb);
                (AreaKind::SlbShadow, None, rule)
            }
            VpaSubfunction::DeregisterDtl => {
                let rule = deregister_rule(&self.vcpus[idx].dtl);
                (AreaKind::Dtl, None, rule)
            }
        };
        self.vcpus[idx].area_mut(kind).active = next;
        Verdict::ok(rule)
    }
}

/// `spapr_cpu_exec_enter`: with a VPA, the counter ends even; no DTL entry.
pub(super) fn dispatch<M: GuestRam>(memory: &mut M, v: &mut Vcpu) {
    if let Some(vpa) = v.vpa.active {
        bump_yield(memory, vpa.addr, Some(0));
    }
}
