//! Exact edges of the rules and fields that the broader tests pass over (each case
//! found by `cargo mutants` as a change no other test noticed): minimum lengths at the
//! boundary, status bits already set, every DTL entry field KVM writes, multi-byte
//! counters, profile names.
//!
//! Sources: QEMU 7.2 `hw/ppc/spapr_hcall.c` (`register_slb_shadow`: size < 8 refused;
//! `register_dtl`: size < 48 refused; `register_vpa` ORs 2 into `__old_status`), Linux
//! 6.1 `arch/powerpc/kvm/book3s_hv.c` (`do_h_register_vpa`: `len < sizeof(struct
//! reg_vpa)` = 8 refused; DTL rounded down to whole 48-byte entries; `init_vpa` ORs 2
//! into `__old_status`; `__kvmppc_create_dtl_entry` fills processor_id, timebase, srr0
//! and srr1).

mod common;

use common::*;
use papr::hcall::ReturnCode;
use phys::PhysAddr;
use vpa_hv::{DispatchInfo, GuestRam, Partition, Profile, UnknownProfile, VecRam};

const VPA: u64 = 0x1_0000;
const SLB: u64 = 0x1_1000;
const DTL: u64 = 0x1_2000;
const S: ReturnCode = ReturnCode::H_SUCCESS;
const P: ReturnCode = ReturnCode::H_PARAMETER;

fn with_vpa(profile: Profile) -> Partition<VecRam> {
    let mut hv = partition(profile, 2);
    set_vpa_size(&mut hv, VPA, 1024);
    assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
    if profile.is_kvm() {
        hv.dispatch(0).unwrap();
    }
    hv
}

#[test]
fn slb_shadow_of_8_bytes_is_the_smallest_accepted() {
    for profile in [Profile::Kvm, Profile::KvmPre414, Profile::Qemu] {
        let mut hv = with_vpa(profile);
        set_buf_len(&mut hv, SLB, 7);
        assert_eq!(hv.h_register_vpa(REG_SLB, 0, SLB), P, "{profile}: 7 bytes");
        set_buf_len(&mut hv, SLB, 8);
        assert_eq!(hv.h_register_vpa(REG_SLB, 0, SLB), S, "{profile}: 8 bytes");
    }
}

#[test]
fn dtl_of_one_entry_is_the_smallest_accepted() {
    for profile in [Profile::Kvm, Profile::KvmPre414, Profile::Qemu] {
        let mut hv = with_vpa(profile);
        set_buf_len(&mut hv, DTL, 47);
        assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), P, "{profile}: 47 bytes");
        set_buf_len(&mut hv, DTL, 48);
        assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S, "{profile}: 48 bytes");
    }
}

#[test]
fn vpa_deregistration_refused_while_either_other_area_is_registered() {
    for profile in [Profile::Kvm, Profile::Qemu] {
        for (flags, addr, len) in [(REG_SLB, SLB, 64), (REG_DTL, DTL, 96)] {
            let mut hv = with_vpa(profile);
            set_buf_len(&mut hv, addr, len);
            assert_eq!(hv.h_register_vpa(flags, 0, addr), S);
            assert_eq!(
                hv.h_register_vpa(DEREG_VPA, 0, 0),
                ReturnCode::H_RESOURCE,
                "{profile}: only {} registered",
                if flags == REG_SLB { "SLB" } else { "DTL" }
            );
        }
    }
}

#[test]
fn shared_processor_bit_is_set_not_toggled() {
    // __old_status at 9: the bit (2) already set stays set; other bits are kept.
    for profile in [Profile::Kvm, Profile::Qemu] {
        for (before, after) in [(0x02u8, 0x02u8), (0x03, 0x03), (0x01, 0x03), (0, 0x02)] {
            let mut hv = partition(profile, 1);
            set_vpa_size(&mut hv, VPA, 1024);
            hv.memory_mut()
                .write(PhysAddr::new(VPA + 9), &[before])
                .unwrap();
            assert_eq!(hv.h_register_vpa(REG_VPA, 0, VPA), S);
            hv.dispatch(0).unwrap();
            assert_eq!(
                read_u8(&hv, VPA + 9),
                after,
                "{profile}: status {before:#x}"
            );
        }
    }
}

#[test]
fn yield_count_reads_all_four_bytes() {
    let mut hv = with_vpa(Profile::Qemu);
    hv.memory_mut()
        .write(PhysAddr::new(VPA + 0x100), &0x0102_0304u32.to_be_bytes())
        .unwrap();
    assert_eq!(hv.yield_count(0), Some(0x0102_0304));
}

#[test]
fn kvm_dtl_entry_carries_processor_id_and_srr1() {
    let mut hv = with_vpa(Profile::Kvm);
    set_buf_len(&mut hv, DTL, 48 * 4);
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
    hv.preempt(0).unwrap();
    let info = DispatchInfo {
        timebase: 0x1234,
        stolen: 5,
        physical_cpu: 0x0203,
        srr0: 0xc000_0000_0000_1000,
        srr1: 0x8000_0000_0000_1033,
    };
    hv.dispatch_with(0, info).unwrap();
    // The DTL registration took effect at this entry; the entry is slot 0.
    assert_eq!(read_u8(&hv, DTL + 1), 0, "preempt_reason");
    assert_eq!(
        u16::from_be_bytes([read_u8(&hv, DTL + 2), read_u8(&hv, DTL + 3)]),
        0x0203,
        "processor_id"
    );
    assert_eq!(read_be64(&hv, DTL + 16), 0x1234, "timebase");
    assert_eq!(read_be64(&hv, DTL + 32), 0xc000_0000_0000_1000, "srr0");
    assert_eq!(read_be64(&hv, DTL + 40), 0x8000_0000_0000_1033, "srr1");
}

#[test]
fn plain_dispatch_stamps_increasing_timebases() {
    let mut hv = with_vpa(Profile::Kvm);
    set_buf_len(&mut hv, DTL, 48 * 4);
    assert_eq!(hv.h_register_vpa(REG_DTL, 0, DTL), S);
    for _ in 0..3 {
        hv.preempt(0).unwrap();
        hv.dispatch(0).unwrap();
    }
    let tb: Vec<u64> = (0..3).map(|i| read_be64(&hv, DTL + 48 * i + 16)).collect();
    assert!(
        tb[0] > 0 && tb[0] < tb[1] && tb[1] < tb[2],
        "timebases of the default dispatches: {tb:?}"
    );
}

#[test]
fn profile_names_round_trip() {
    for (profile, name) in [
        (Profile::Kvm, "kvm"),
        (Profile::KvmPre414, "kvm-pre-4.14"),
        (Profile::Qemu, "qemu"),
    ] {
        assert_eq!(profile.name(), name);
        assert_eq!(profile.to_string(), name);
        assert_eq!(name.parse::<Profile>(), Ok(profile));
    }
    assert_eq!("xyzzy".parse::<Profile>(), Err(UnknownProfile));
    assert_eq!("".parse::<Profile>(), Err(UnknownProfile));
    assert_eq!(
        UnknownProfile.to_string(),
        "unknown profile (expected kvm, kvm-pre-4.14 or qemu)"
    );
}

#[test]
fn every_rule_has_its_own_description() {
    use vpa_hv::Rule;
    let all = [
        Rule::UnknownProc,
        Rule::ReservedSubfunction,
        Rule::AddressZero,
        Rule::Misaligned,
        Rule::OutsideMemory,
        Rule::SizeTooSmall,
        Rule::CrossesPage,
        Rule::NeedsVpa,
        Rule::VpaInUse,
        Rule::DeregisterNothing,
        Rule::Accepted,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for rule in all {
        let text = rule.to_string();
        assert_eq!(text, rule.describe());
        assert!(!text.is_empty(), "{rule:?}");
        assert!(seen.insert(text), "{rule:?} shares its description");
    }
    assert!(Rule::CrossesPage.describe().contains("page"));
    assert!(Rule::SizeTooSmall.describe().contains("size"));
}
