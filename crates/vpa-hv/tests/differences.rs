//! One test per row of the crate docs' "Where the profiles differ" table: each checks
//! both sides, so a profile drifting towards the other fails here.

mod common;

use common::*;
use papr::hcall::{Hypervisor, ReturnCode};
use vpa_hv::{AreaKind, GuestRam, HostPageSize, Profile, Rule};

const P: ReturnCode = ReturnCode::H_PARAMETER;
const S: ReturnCode = ReturnCode::H_SUCCESS;
const VPA: u64 = 0x4_0000;

#[test]
fn stray_flag_bits() {
    for profile in Profile::ALL {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, VPA, 1024);
        let rc = hv.h_register_vpa(REG_VPA | 1, 0, VPA);
        let want = if profile.is_kvm() { S } else { P };
        assert_eq!(rc, want, "{profile}");
    }
}

#[test]
fn address_zero() {
    for profile in Profile::ALL {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, 0, 1024);
        let v = hv.h_register_vpa_explained(REG_VPA, 0, 0);
        assert_eq!(v.rule, Rule::AddressZero);
        let want = if profile.is_kvm() {
            P
        } else {
            ReturnCode::H_HARDWARE
        };
        assert_eq!(v.code, want, "{profile}");
        // The same for the DTL and SLB shadow.
        for flags in [REG_DTL, REG_SLB] {
            let want = if profile.is_kvm() {
                P
            } else {
                ReturnCode::H_HARDWARE
            };
            assert_eq!(hv.h_register_vpa(flags, 0, 0), want, "{profile}");
        }
    }
}

#[test]
fn dtl_and_slb_alignment() {
    for profile in Profile::ALL {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, VPA, 1024);
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
        let buf = 0x5_0008;
        set_buf_len(&mut hv, buf, 48 * 4);
        let want = if profile.is_kvm() { P } else { S };
        assert_eq!(hv.h_register_vpa(REG_DTL, 0, buf), want, "{profile} dtl");
        assert_eq!(hv.h_register_vpa(REG_SLB, 0, buf), want, "{profile} slb");
    }
}

#[test]
fn vpa_minimum_size() {
    for (profile, want) in [
        (Profile::Kvm, S),
        (Profile::KvmPre414, P),
        (Profile::Qemu, S),
    ] {
        for size in [640u16, 1023] {
            let mut hv = partition(profile, 1);
            set_vpa_size(&mut hv, VPA, size);
            assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), want, "{profile} {size}");
        }
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, VPA, 639);
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), P, "{profile} 639");
    }
}

#[test]
fn page_crossing() {
    // 640 bytes at 4 KiB - 128: crosses 4 KiB, not 64 KiB.
    let at = VPA + 0x1000 - 128;
    let cases = [
        (Profile::Kvm, HostPageSize::Size64K, S),
        (Profile::Kvm, HostPageSize::Size4K, P),
        (Profile::Qemu, HostPageSize::Size64K, P),
        (Profile::Qemu, HostPageSize::Size4K, P),
    ];
    for (profile, page, want) in cases {
        let mut hv = partition_with_page(profile, page);
        set_vpa_size(&mut hv, at, 640);
        assert_eq!(
            hv.h_register_vpa(REG_VPA, 0, at),
            want,
            "{profile} {page:?}"
        );
    }
    // Crossing 64 KiB fails everywhere.
    let at = 0x1_0000 - 128;
    for profile in Profile::ALL {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, at, 1024);
        let v = hv.h_register_vpa_explained(REG_VPA, 0, at);
        assert_eq!((v.code, v.rule), (P, Rule::CrossesPage), "{profile}");
    }
    // QEMU does not check the DTL for crossing; KVM does.
    for profile in [Profile::Kvm, Profile::Qemu] {
        let mut hv = partition_with_page(profile, HostPageSize::Size4K);
        set_vpa_size(&mut hv, VPA, 640);
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
        let dtl = 0x6_0000 + 0x1000 - 128;
        set_buf_len(&mut hv, dtl, 48 * 10);
        let want = if profile.is_kvm() { P } else { S };
        assert_eq!(hv.h_register_vpa(REG_DTL, 0, dtl), want, "{profile}");
        // Both check the SLB shadow.
        set_buf_len(&mut hv, dtl, 256);
        assert_eq!(hv.h_register_vpa(REG_SLB, 0, dtl), P, "{profile}");
    }
}

#[test]
fn area_outside_memory() {
    // The VPA starts in RAM and runs past its end (memory that ends mid-page, so the
    // page rule does not catch it first): KVM refuses, QEMU does not check.
    let at = 0x8_0000;
    for profile in [Profile::Kvm, Profile::Qemu] {
        let ram = vpa_hv::VecRam::new(0x8_0100);
        let mut hv = vpa_hv::Partition::new(profile, ram, &[0]).unwrap();
        set_vpa_size(&mut hv, at, 640);
        let v = hv.h_register_vpa_explained(REG_VPA, 0, at);
        if profile.is_kvm() {
            assert_eq!((v.code, v.rule), (P, Rule::OutsideMemory));
        } else {
            assert_eq!((v.code, v.rule), (S, Rule::Accepted));
            // Its counter lies outside RAM: QEMU's stores there are dropped.
            hv.dispatch(0).unwrap();
            hv.preempt(0).unwrap();
            assert_eq!(hv.yield_count(0), None);
        }
    }
    // Entirely outside: both refuse, for different reasons.
    for profile in [Profile::Kvm, Profile::Qemu] {
        let mut hv = partition(profile, 1);
        let v = hv.h_register_vpa_explained(REG_VPA, 0, MEM + 0x1000);
        let rule = if profile.is_kvm() {
            Rule::OutsideMemory
        } else {
            Rule::SizeTooSmall
        };
        assert_eq!((v.code, v.rule), (P, rule), "{profile}");
    }
}

#[test]
fn dtl_length_rounding() {
    for profile in [Profile::Kvm, Profile::Qemu] {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, VPA, 640);
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
        set_buf_len(&mut hv, 0x5_0000, 100);
        assert_eq!(hv.h_register_vpa(REG_DTL, 0, 0x5_0000), S);
        let dtl = hv.vcpu(0).unwrap().area(AreaKind::Dtl).effective().unwrap();
        let want = if profile.is_kvm() { 96 } else { 100 };
        assert_eq!(dtl.len.as_u64(), want, "{profile}");
    }
}

#[test]
fn when_registration_takes_effect() {
    for profile in [Profile::Kvm, Profile::Qemu] {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, VPA, 640);
        hv.memory_mut()
            .write(phys::PhysAddr::new(VPA + 0x100), &7u32.to_be_bytes())
            .unwrap();
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
        let state = *hv.vcpu(0).unwrap().area(AreaKind::Vpa);
        assert!(state.is_registered());
        if profile.is_kvm() {
            assert_eq!(state.active, None, "KVM defers to the next entry");
            assert_eq!(read_u8(&hv, VPA + 9), 0, "not yet initialised");
            hv.dispatch(0).unwrap();
            assert_eq!(read_u8(&hv, VPA + 9), 2, "init_vpa at entry");
            assert_eq!(yield_at(&hv, VPA), 2, "init_vpa sets 1, entry makes it 2");
        } else {
            assert!(state.active.is_some(), "QEMU registers at once");
            assert_eq!(read_u8(&hv, VPA + 9), 2);
            assert_eq!(yield_at(&hv, VPA), 7, "QEMU leaves the count alone");
            hv.dispatch(0).unwrap();
            assert_eq!(yield_at(&hv, VPA), 8, "7 + 1, even already");
        }
    }
}

#[test]
fn yield_count_parity_correction() {
    // The guest scribbles an odd value over the counter while running.
    for profile in [Profile::Kvm, Profile::Qemu] {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, VPA, 640);
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
        hv.dispatch(0).unwrap();
        hv.memory_mut()
            .write(phys::PhysAddr::new(VPA + 0x100), &41u32.to_be_bytes())
            .unwrap();
        hv.preempt(0).unwrap();
        let want = if profile.is_kvm() { 42 } else { 43 };
        assert_eq!(yield_at(&hv, VPA), want, "{profile}");
    }
}

#[test]
fn hcall_is_an_exit_under_kvm_only() {
    for profile in [Profile::Kvm, Profile::Qemu] {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, VPA, 640);
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
        hv.dispatch(0).unwrap();
        hv.set_caller(Some(0));
        let before = yield_at(&hv, VPA);
        // Any hcall, even a failing one.
        let r = hv.hcall(papr::hcall::Opcode::H_REGISTER_VPA, &[0, 0, 0]);
        assert_eq!(r.ret, P);
        let want = if profile.is_kvm() { before + 2 } else { before };
        assert_eq!(yield_at(&hv, VPA), want, "{profile}");
    }
}

#[test]
fn dtl_entries() {
    for profile in [Profile::Kvm, Profile::Qemu] {
        let mut hv = partition(profile, 1);
        set_vpa_size(&mut hv, VPA, 640);
        assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
        let dtl = 0x5_0000;
        set_buf_len(&mut hv, dtl, 48 * 2);
        assert_eq!(hv.h_register_vpa(REG_DTL, 0, dtl), S);
        hv.dispatch(0).unwrap();
        let idx = read_be64(&hv, VPA + 0x218);
        if profile.is_kvm() {
            assert_eq!(idx, 1);
            assert_eq!(read_u8(&hv, dtl), 7, "dispatch_reason");
        } else {
            assert_eq!(idx, 0, "QEMU 7.2 writes no DTL");
            assert_eq!(read_u8(&hv, dtl), 0);
        }
    }
}
