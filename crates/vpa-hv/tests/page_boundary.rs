//! The "must not cross a page" rule at its exact edges, for every profile.
//!
//! QEMU 7.2 (`hw/ppc/spapr_hcall.c`) refuses an area when its first and last byte lie in
//! different 4 KiB pages (`addr / 4096 != (addr + size - 1) / 4096`), whatever the host
//! page size; KVM (Linux 6.1 `do_h_register_vpa`) refuses it when the length exceeds the
//! bytes left in the *host* page (`len > nb`). Both therefore accept an area that ends
//! exactly on the boundary and refuse one byte more. The measured QEMU results in
//! `qemu_facts.rs` (640 bytes at +0xC00 accepted, at +0xE00 refused) never end exactly on
//! a boundary, so they cannot tell `size - 1` from `size`; these cases can.

mod common;

use common::*;
use papr::hcall::ReturnCode;
use vpa_hv::{HostPageSize, Partition, Profile, Rule, VecRam};

/// A 4 KiB-aligned (but not 64 KiB-aligned) page well inside [`MEM`].
const PAGE: u64 = 0x2_1000;
/// A 64 KiB-aligned page, for KVM with 64 KiB host pages.
const PAGE64: u64 = 0x4_0000;

const ALL: [Profile; 3] = [Profile::Kvm, Profile::KvmPre414, Profile::Qemu];

fn vpa(hv: &mut Partition<VecRam>, addr: u64, size: u16) -> (ReturnCode, Rule) {
    set_vpa_size(hv, addr, size);
    let v = hv.h_register_vpa_explained(REG_VPA, 0, addr);
    (v.code, v.rule)
}

fn slb(hv: &mut Partition<VecRam>, addr: u64, len: u32) -> (ReturnCode, Rule) {
    set_buf_len(hv, addr, len);
    let v = hv.h_register_vpa_explained(REG_SLB, 0, addr);
    (v.code, v.rule)
}

const OK: (ReturnCode, Rule) = (ReturnCode::H_SUCCESS, Rule::Accepted);
const CROSSES: (ReturnCode, Rule) = (ReturnCode::H_PARAMETER, Rule::CrossesPage);

#[test]
fn qemu_vpa_ending_on_the_4k_boundary_is_accepted_one_byte_more_is_not() {
    // QEMU ignores the host page size: the same answers under both settings.
    for page in [HostPageSize::Size4K, HostPageSize::Size64K] {
        let mut hv = partition_with_page(Profile::Qemu, page);
        assert_eq!(vpa(&mut hv, PAGE + 0xC00, 0x400), OK, "0x400 @ +0xC00");
        assert_eq!(vpa(&mut hv, PAGE + 0xC00, 0x401), CROSSES, "0x401 @ +0xC00");
        assert_eq!(vpa(&mut hv, PAGE + 0xD80, 640), OK, "640 @ +0xD80");
        assert_eq!(vpa(&mut hv, PAGE + 0xE00, 640), CROSSES, "640 @ +0xE00");
        // Across a 64 KiB boundary too (QEMU's page is 4 KiB, not the host's).
        assert_eq!(
            vpa(&mut hv, PAGE64 + 0xFC00, 0x400),
            OK,
            "0x400 @ 64K-0x400"
        );
        assert_eq!(
            vpa(&mut hv, PAGE64 + 0xFE00, 640),
            CROSSES,
            "640 @ 64K-0x200"
        );
    }
}

#[test]
fn qemu_slb_shadow_uses_the_same_boundary_rule() {
    let mut hv = partition(Profile::Qemu, 2);
    assert_eq!(vpa(&mut hv, PAGE, 640), OK);
    assert_eq!(slb(&mut hv, PAGE + 0xC00, 0x400), OK, "0x400 @ +0xC00");
    assert_eq!(slb(&mut hv, PAGE + 0xC00, 0x401), CROSSES, "0x401 @ +0xC00");
    assert_eq!(slb(&mut hv, PAGE + 0xF80, 0x80), OK, "0x80 @ +0xF80");
    assert_eq!(slb(&mut hv, PAGE + 0xF80, 0x81), CROSSES, "0x81 @ +0xF80");
}

#[test]
fn kvm_with_4k_host_pages_draws_the_line_where_qemu_does() {
    for profile in [Profile::Kvm, Profile::KvmPre414] {
        let mut hv = partition_with_page(profile, HostPageSize::Size4K);
        assert_eq!(
            vpa(&mut hv, PAGE + 0xC00, 0x400),
            OK,
            "{profile}: 0x400 @ +0xC00"
        );
        assert_eq!(
            vpa(&mut hv, PAGE + 0xC00, 0x401),
            CROSSES,
            "{profile}: 0x401 @ +0xC00"
        );
        assert_eq!(
            vpa(&mut hv, PAGE + 0xE00, 640),
            CROSSES,
            "{profile}: 640 @ +0xE00"
        );
    }
    // 640 bytes fit exactly at +0xD80, but pre-4.14 KVM wants at least 1 KiB.
    let mut hv = partition_with_page(Profile::Kvm, HostPageSize::Size4K);
    assert_eq!(vpa(&mut hv, PAGE + 0xD80, 640), OK);
    let mut hv = partition_with_page(Profile::KvmPre414, HostPageSize::Size4K);
    assert_eq!(
        vpa(&mut hv, PAGE + 0xD80, 640),
        (ReturnCode::H_PARAMETER, Rule::SizeTooSmall)
    );
}

#[test]
fn kvm_with_64k_host_pages_accepts_what_qemu_refuses() {
    for profile in [Profile::Kvm, Profile::KvmPre414] {
        let mut hv = partition_with_page(profile, HostPageSize::Size64K);
        // Inside one 64 KiB host page: a 4 KiB crossing does not matter to KVM.
        assert_eq!(
            vpa(&mut hv, PAGE + 0xE00, 0x400),
            OK,
            "{profile}: 0x400 @ +0xE00"
        );
        assert_eq!(
            vpa(&mut hv, PAGE64 + 0xFC00, 0x400),
            OK,
            "{profile}: 0x400 @ 64K-0x400"
        );
        assert_eq!(
            vpa(&mut hv, PAGE64 + 0xFC00, 0x401),
            CROSSES,
            "{profile}: 0x401 @ 64K-0x400"
        );
        assert_eq!(
            vpa(&mut hv, PAGE64 + 0xFE00, 0x400),
            CROSSES,
            "{profile}: 0x400 @ 64K-0x200"
        );
    }
    let mut hv = partition_with_page(Profile::Qemu, HostPageSize::Size64K);
    assert_eq!(vpa(&mut hv, PAGE + 0xE00, 0x400), CROSSES);
}

#[test]
fn kvm_slb_shadow_and_dtl_ending_on_the_host_page_boundary() {
    for profile in ALL {
        if profile == Profile::Qemu {
            continue;
        }
        let mut hv = partition_with_page(profile, HostPageSize::Size4K);
        assert_eq!(vpa(&mut hv, PAGE, 0x400), OK);
        assert_eq!(
            slb(&mut hv, PAGE + 0xF80, 0x80),
            OK,
            "{profile}: SLB 0x80 @ +0xF80"
        );
        assert_eq!(
            slb(&mut hv, PAGE + 0xF80, 0x81),
            CROSSES,
            "{profile}: SLB 0x81 @ +0xF80"
        );
        set_buf_len(&mut hv, PAGE + 0x800, 0x800);
        assert_eq!(
            hv.h_register_vpa(REG_DTL, 0, PAGE + 0x800),
            ReturnCode::H_SUCCESS,
            "{profile}: DTL 0x800 @ +0x800"
        );
        set_buf_len(&mut hv, PAGE + 0x800, 0x801);
        assert_eq!(
            hv.h_register_vpa_explained(REG_DTL, 0, PAGE + 0x800).rule,
            Rule::CrossesPage,
            "{profile}: DTL 0x801 @ +0x800"
        );
    }
}
