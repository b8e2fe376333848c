//! `Partition` as a `papr::hcall::Hypervisor`, the way guest-side code drives it.

mod common;

use common::*;
use papr::hcall::{Hypervisor, Opcode, ReturnCode, VpaSubfunction};
use vpa_hv::Profile;

#[test]
fn other_opcodes_are_h_function() {
    for profile in Profile::ALL {
        let mut hv = partition(profile, 1);
        let r = hv.hcall(Opcode::H_PUT_TERM_CHAR, &[0, 1, 0x41]);
        assert_eq!(r.ret, ReturnCode::H_FUNCTION, "{profile}");
        assert_eq!(r.out, [0; 9]);
    }
}

#[test]
fn missing_arguments_read_as_zero() {
    for profile in Profile::ALL {
        let mut hv = partition(profile, 1);
        // flags only: proc 0, address 0.
        let r = hv.hcall(
            Opcode::H_REGISTER_VPA,
            &[VpaSubfunction::DeregisterVpa.to_flags()],
        );
        assert_eq!(r.ret, ReturnCode::H_SUCCESS, "{profile}");
        let r = hv.hcall(Opcode::H_REGISTER_VPA, &[]);
        assert_eq!(r.ret, ReturnCode::H_PARAMETER, "{profile}: subfunction 0");
    }
}

#[test]
fn register_vpa_default_method_through_a_mut_reference() {
    let mut hv = partition(Profile::Kvm, 2);
    set_vpa_size(&mut hv, 0x3000, 640);
    // Guest-side code takes any `H: Hypervisor`; `&mut Partition` is one.
    fn guest_registers<H: Hypervisor>(mut hv: H) -> ReturnCode {
        hv.register_vpa(VpaSubfunction::RegisterVpa, 1, 0x3000)
    }
    assert_eq!(guest_registers(&mut hv), ReturnCode::H_SUCCESS);
    // No caller named: no exit/entry, so KVM has not applied it yet.
    assert_eq!(hv.yield_count(1), None);
    hv.dispatch(1).unwrap();
    assert_eq!(hv.yield_count(1), Some(2));
}

#[test]
fn a_caller_that_is_not_running_is_not_re_entered() {
    let mut hv = partition(Profile::Kvm, 1);
    set_vpa_size(&mut hv, 0x3000, 640);
    hv.set_caller(Some(0));
    assert_eq!(
        hv.register_vpa(VpaSubfunction::RegisterVpa, 0, 0x3000),
        ReturnCode::H_SUCCESS
    );
    assert!(!hv.vcpu(0).unwrap().is_running());
    assert_eq!(hv.yield_count(0), None, "still pending");
}
