//! KVM-specific behaviour from Linux 6.1 `book3s_hv.c`: deferred registration, the
//! order of checks in `do_h_register_vpa`, and the DTL ring.

mod common;

use common::*;
use papr::hcall::ReturnCode;
use phys::PhysAddr;
use vpa_hv::{AreaKind, DispatchInfo, GuestRam, HostPageSize, KvmHostCpu, Profile, Rule};

const P: ReturnCode = ReturnCode::H_PARAMETER;
const R: ReturnCode = ReturnCode::H_RESOURCE;
const S: ReturnCode = ReturnCode::H_SUCCESS;
const VPA: u64 = 0x4_0000;
const DTL: u64 = 0x5_0000;
const SLB: u64 = 0x6_0000;

#[test]
fn dtl_and_slb_need_a_vpa_even_a_pending_one() {
    let mut hv = partition(Profile::Kvm, 2);
    set_buf_len(&mut hv, DTL, 4096);
    set_buf_len(&mut hv, SLB, 256);
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), R);
    assert_eq!(hv.h_register_vpa(REG_SLB, 0, SLB), R);
    set_vpa_size(&mut hv, VPA, 640);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    // vpa_is_registered() looks at next_gpa while an update is pending.
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
    assert_eq!(hv.h_register_vpa(REG_SLB, 0, SLB), S);
    // The other vCPU still has nothing.
    assert_eq!(hv.h_register_vpa(REG_DTL, 1, DTL), R);
}

#[test]
fn vpa_deregistration_waits_for_dtl_and_slb() {
    let mut hv = partition(Profile::Kvm, 1);
    set_vpa_size(&mut hv, VPA, 640);
    set_buf_len(&mut hv, DTL, 4096);
    set_buf_len(&mut hv, SLB, 256);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
    assert_eq!(hv.h_register_vpa(REG_SLB, 0, SLB), S);
    let v = hv.h_register_vpa_explained(DEREG_VPA, 0, 0);
    assert_eq!((v.code, v.rule), (R, Rule::VpaInUse));
    assert_eq!(hv.h_register_vpa(DEREG_DTL, 0, 0), S);
    assert_eq!(hv.h_register_vpa(DEREG_VPA, 0, 0), R, "SLB still there");
    assert_eq!(hv.h_register_vpa(DEREG_SLB, 0, 0), S);
    assert_eq!(hv.h_register_vpa(DEREG_VPA, 0, 0), S);
    let v = hv.h_register_vpa_explained(DEREG_VPA, 0, 0);
    assert_eq!((v.code, v.rule), (S, Rule::DeregisterNothing));
}

#[test]
fn check_order_follows_do_h_register_vpa() {
    let mut hv = partition(Profile::Kvm, 1);
    // A too-short DTL fails on size before the missing VPA is noticed.
    set_buf_len(&mut hv, DTL, 47);
    let v = hv.h_register_vpa_explained(REG_DTL, 0, DTL);
    assert_eq!((v.code, v.rule), (P, Rule::SizeTooSmall));
    // The 8-byte floor applies to the SLB shadow too.
    set_buf_len(&mut hv, SLB, 7);
    let v = hv.h_register_vpa_explained(REG_SLB, 0, SLB);
    assert_eq!((v.code, v.rule), (P, Rule::SizeTooSmall));
    // An unknown vCPU beats everything, even a reserved subfunction.
    let v = hv.h_register_vpa_explained(4 << 45, 5, 0);
    assert_eq!((v.code, v.rule), (P, Rule::UnknownProc));
    let v = hv.h_register_vpa_explained(4 << 45, 0, 0);
    assert_eq!((v.code, v.rule), (P, Rule::ReservedSubfunction));
}

#[test]
fn proc_no_is_an_int() {
    for profile in Profile::ALL {
        let mut hv = partition(profile, 2);
        set_vpa_size(&mut hv, VPA, 1024);
        // Only the low 32 bits are looked at...
        assert_eq!(
            hv.h_register_vpa(REG_VPA, (7 << 32) | 1, VPA),
            S,
            "{profile}"
        );
        // ...and as a signed int, so 0xffff_ffff is -1, nobody.
        assert_eq!(hv.h_register_vpa(REG_VPA, 0xffff_ffff, VPA), P, "{profile}");
    }
}

#[test]
fn re_registration_reinitialises_at_dispatch() {
    let mut hv = partition(Profile::Kvm, 1);
    set_vpa_size(&mut hv, VPA, 640);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    hv.dispatch(0).unwrap();
    hv.preempt(0).unwrap();
    hv.dispatch(0).unwrap();
    assert_eq!(yield_at(&hv, VPA), 4);
    hv.preempt(0).unwrap();
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    assert_eq!(yield_at(&hv, VPA), 5, "nothing until the next entry");
    hv.dispatch(0).unwrap();
    assert_eq!(yield_at(&hv, VPA), 2, "init_vpa: 1, then the entry");
}

#[test]
fn dtl_ring_wraps_and_counts() {
    let mut hv = partition(Profile::Kvm, 1);
    set_vpa_size(&mut hv, VPA, 640);
    // 3 entries and a bit: KVM keeps whole entries only.
    set_buf_len(&mut hv, DTL, 48 * 3 + 20);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
    // Mark the byte just past the third entry; the ring must never write it.
    hv.memory_mut()
        .write(PhysAddr::new(DTL + 144), &[0xee])
        .unwrap();
    for n in 0..5u64 {
        let info = DispatchInfo {
            timebase: 1000 + n,
            stolen: 10 * n,
            physical_cpu: 3,
            srr0: 0xc000_0000_0000_0000 | n,
            srr1: 0x8000_0000_0000_1033,
        };
        hv.dispatch_with(0, info).unwrap();
        hv.preempt(0).unwrap();
        assert_eq!(read_be64(&hv, VPA + 0x218), n + 1, "dtl_idx");
    }
    assert_eq!(hv.vcpu(0).unwrap().dtl_index(), 5);
    // Entries 0,1,2 then 3 -> slot 0, 4 -> slot 1.
    let slot = |i: u64| DTL + 48 * i;
    assert_eq!(read_be64(&hv, slot(0) + 16), 1003, "timebase of the 4th");
    assert_eq!(read_be64(&hv, slot(1) + 16), 1004, "timebase of the 5th");
    assert_eq!(read_be64(&hv, slot(2) + 16), 1002);
    assert_eq!(read_u8(&hv, slot(1)), 7, "dispatch_reason");
    assert_eq!(read_be32(&hv, slot(1) + 4), 40, "enqueue_to_dispatch_time");
    assert_eq!(read_be64(&hv, slot(1) + 32), 0xc000_0000_0000_0004, "srr0");
    assert_eq!(read_u8(&hv, DTL + 144), 0xee, "past the last whole entry");
    // enqueue_dispatch_tb accumulates the stolen time (0+10+20+30+40); the field
    // started at 0, so both host CPU paths agree here.
    assert_eq!(read_be64(&hv, VPA + 0x158), 100);
    // The entries overwrote the length word (it is entry 0's enqueue_to_dispatch_time,
    // 30 now), so re-registering needs the guest to write it again, as Linux does.
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), P);
    set_buf_len(&mut hv, DTL, 48 * 3);
    // Re-registering the DTL restarts the ring and the index.
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
    hv.dispatch(0).unwrap();
    assert_eq!(read_be64(&hv, VPA + 0x218), 1);
}

#[test]
fn deregistration_while_preempted_applies_at_next_dispatch() {
    let mut hv = partition(Profile::Kvm, 1);
    set_vpa_size(&mut hv, VPA, 640);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    hv.dispatch(0).unwrap();
    hv.preempt(0).unwrap();
    assert_eq!(hv.h_register_vpa(DEREG_VPA, 0, 0), S);
    let state = *hv.vcpu(0).unwrap().area(AreaKind::Vpa);
    assert!(state.active.is_some() && !state.is_registered());
    hv.dispatch(0).unwrap();
    assert_eq!(hv.vcpu(0).unwrap().area(AreaKind::Vpa).active, None);
    assert_eq!(yield_at(&hv, VPA), 3, "no longer counted");
}

#[test]
fn host_page_bound_uses_the_first_bytes_page() {
    let mut hv = partition_with_page(Profile::Kvm, HostPageSize::Size64K);
    // An SLB shadow exactly filling the rest of its 64 KiB page is fine; one more
    // byte is not.
    set_vpa_size(&mut hv, VPA, 640);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    let at = 0x1_0000 - 0x800;
    set_buf_len(&mut hv, at, 0x800);
    assert_eq!(hv.h_register_vpa(REG_SLB, 0, at), S);
    set_buf_len(&mut hv, at, 0x801);
    assert_eq!(hv.h_register_vpa(REG_SLB, 0, at), P);
}

#[test]
fn dispatch_hooks_refuse_out_of_order_calls() {
    let mut hv = partition(Profile::Kvm, 1);
    assert!(hv.preempt(0).is_err());
    hv.dispatch(0).unwrap();
    assert!(hv.dispatch(0).is_err());
    assert!(hv.dispatch(9).is_err());
}

const ENQUEUE_DISPATCH_TB: u64 = 0x158;
const DTL_IDX: u64 = 0x218;

fn stolen(ticks: u64) -> DispatchInfo {
    DispatchInfo {
        stolen: ticks,
        ..DispatchInfo::default()
    }
}

fn set_be64(hv: &mut vpa_hv::Partition<vpa_hv::VecRam>, addr: u64, value: u64) {
    hv.memory_mut()
        .write(PhysAddr::new(addr), &value.to_be_bytes())
        .unwrap();
}

/// POWER8 `kvmppc_update_vpa_dispatch` reads the guest's `enqueue_dispatch_tb` and adds
/// the stolen time to it: a value the guest left there is kept, also in a VPA
/// registered later at another address.
#[test]
fn power8_adds_stolen_time_to_the_guests_field() {
    let mut hv = partition(Profile::Kvm, 1);
    hv.set_kvm_host_cpu(KvmHostCpu::Power8);
    assert_eq!(hv.kvm_host_cpu(), KvmHostCpu::Power8);
    set_vpa_size(&mut hv, VPA, 640);
    set_be64(&mut hv, VPA + ENQUEUE_DISPATCH_TB, 1000);
    set_buf_len(&mut hv, DTL, 48 * 4);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
    hv.dispatch_with(0, stolen(5)).unwrap();
    assert_eq!(read_be64(&hv, VPA + ENQUEUE_DISPATCH_TB), 1005);
    // The first dispatch after registering already writes an entry.
    assert_eq!(read_be64(&hv, VPA + DTL_IDX), 1);
    assert_eq!(
        read_be32(&hv, DTL + 4),
        5,
        "entry 0 enqueue_to_dispatch_time"
    );
    hv.preempt(0).unwrap();
    hv.dispatch_with(0, stolen(7)).unwrap();
    assert_eq!(read_be64(&hv, VPA + ENQUEUE_DISPATCH_TB), 1012);
    assert_eq!(
        read_be32(&hv, DTL + 48 + 4),
        7,
        "entry 1 enqueue_to_dispatch_time"
    );
    hv.preempt(0).unwrap();
    // The field is the guest's: what it writes is added to.
    set_be64(&mut hv, VPA + ENQUEUE_DISPATCH_TB, u64::MAX);
    hv.dispatch_with(0, stolen(2)).unwrap();
    assert_eq!(
        read_be64(&hv, VPA + ENQUEUE_DISPATCH_TB),
        1,
        "wraps as a u64 does"
    );
    hv.preempt(0).unwrap();
    // Without a VPA the stolen time is not logged anywhere, and a new VPA starts from
    // the value the guest put in it.
    assert_eq!(hv.h_register_vpa(DEREG_DTL, 0, 0), S);
    assert_eq!(hv.h_register_vpa(DEREG_VPA, 0, 0), S);
    hv.dispatch_with(0, stolen(100)).unwrap();
    hv.preempt(0).unwrap();
    let vpa2 = VPA + 0x1000;
    set_vpa_size(&mut hv, vpa2, 640);
    set_be64(&mut hv, vpa2 + ENQUEUE_DISPATCH_TB, 50);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, vpa2), S);
    hv.dispatch_with(0, stolen(3)).unwrap();
    assert_eq!(read_be64(&hv, vpa2 + ENQUEUE_DISPATCH_TB), 53);
}

/// POWER9 `kvmppc_update_vpa_dispatch_p9` assigns `vc->stolen_tb`, the vCPU's stolen
/// time since it was created (counted with or without a VPA, never reset by a
/// registration), and logs in the DTL what no earlier entry logged.
#[test]
fn power9_sets_the_field_to_the_vcpus_total() {
    let mut hv = partition(Profile::Kvm, 1);
    assert_eq!(hv.kvm_host_cpu(), KvmHostCpu::Power9, "the default");
    // Stolen time before any VPA still counts in vc->stolen_tb.
    hv.dispatch_with(0, stolen(7)).unwrap();
    hv.preempt(0).unwrap();
    set_vpa_size(&mut hv, VPA, 640);
    set_be64(&mut hv, VPA + ENQUEUE_DISPATCH_TB, 1000);
    set_buf_len(&mut hv, DTL, 48 * 4);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
    hv.dispatch_with(0, stolen(5)).unwrap();
    assert_eq!(
        read_be64(&hv, VPA + ENQUEUE_DISPATCH_TB),
        12,
        "7 + 5, not 1000 + 5"
    );
    assert_eq!(read_be64(&hv, VPA + DTL_IDX), 1);
    assert_eq!(read_be32(&hv, DTL + 4), 12, "stolen_tb - stolen_logged");
    hv.preempt(0).unwrap();
    hv.dispatch_with(0, stolen(4)).unwrap();
    assert_eq!(read_be64(&hv, VPA + ENQUEUE_DISPATCH_TB), 16);
    assert_eq!(read_be32(&hv, DTL + 48 + 4), 4);
    hv.preempt(0).unwrap();
    // A VPA registered elsewhere gets the same running total, whatever it held.
    assert_eq!(hv.h_register_vpa(DEREG_DTL, 0, 0), S);
    let vpa2 = VPA + 0x1000;
    set_vpa_size(&mut hv, vpa2, 640);
    set_be64(&mut hv, vpa2 + ENQUEUE_DISPATCH_TB, 999);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, vpa2), S);
    hv.dispatch_with(0, stolen(1)).unwrap();
    assert_eq!(read_be64(&hv, vpa2 + ENQUEUE_DISPATCH_TB), 17);
    assert_eq!(
        read_be64(&hv, VPA + ENQUEUE_DISPATCH_TB),
        16,
        "old VPA untouched"
    );
}

/// The DTL field is 32 bits: both paths keep the low half of the stolen time.
#[test]
fn dtl_stolen_time_keeps_the_low_32_bits() {
    for cpu in [KvmHostCpu::Power8, KvmHostCpu::Power9] {
        let mut hv = partition(Profile::Kvm, 1);
        hv.set_kvm_host_cpu(cpu);
        set_vpa_size(&mut hv, VPA, 640);
        set_buf_len(&mut hv, DTL, 48);
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
        assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
        hv.dispatch_with(0, stolen(0x1_0000_0009)).unwrap();
        assert_eq!(read_be32(&hv, DTL + 4), 9, "{cpu:?}");
        assert_eq!(
            read_be64(&hv, VPA + ENQUEUE_DISPATCH_TB),
            0x1_0000_0009,
            "{cpu:?}"
        );
    }
}
