//! Names, predicates and error messages of the public API, and the layout invariant
//! check on layouts that break it. (Found by `cargo mutants`: none of these was checked
//! by another test.)

use papr::hcall::ReservedSubfunction;
use papr::layout::{self, FieldLayout, StructLayout, Writer};
use papr::{
    registration_length, write_registration_length, RegistrationLengthError, ReturnCode,
    VpaSubfunction,
};

#[test]
fn subfunction_names_and_kinds() {
    for sub in VpaSubfunction::ALL {
        assert_eq!(sub.to_string(), sub.name());
        assert!(sub.name().starts_with("H_VPA_"), "{sub:?}");
        let registers = sub.name().starts_with("H_VPA_REG_");
        assert_eq!(sub.is_register(), registers, "{sub:?}");
    }
    assert_eq!(
        ReservedSubfunction(4).to_string(),
        "H_REGISTER_VPA subfunction 4 is reserved"
    );
}

#[test]
fn only_h_success_is_success() {
    assert!(ReturnCode::H_SUCCESS.is_success());
    for raw in [-4, -1, 1, 5, 9999, 12345] {
        assert!(!ReturnCode::from_raw(raw).is_success(), "{raw}");
    }
}

#[test]
fn writer_names() {
    for (w, name) in [
        (Writer::Os, "os"),
        (Writer::Hypervisor, "hypervisor"),
        (Writer::Reserved, "reserved"),
    ] {
        assert_eq!(w.name(), name);
        assert_eq!(w.to_string(), name);
    }
}

#[test]
fn vpa_length_up_to_u16_max_fits_the_size_field() {
    let mut area = [0u8; 8];
    write_registration_length(VpaSubfunction::RegisterVpa, &mut area, 0xffff).unwrap();
    assert_eq!(
        registration_length(VpaSubfunction::RegisterVpa, &area),
        Ok(0xffff)
    );
    assert_eq!(
        write_registration_length(VpaSubfunction::RegisterVpa, &mut area, 0x1_0000),
        Err(RegistrationLengthError::TooLarge { length: 0x1_0000 })
    );
    // The DTL's 32-bit word takes it.
    write_registration_length(VpaSubfunction::RegisterDtl, &mut area, 0x1_0000).unwrap();
    assert_eq!(
        registration_length(VpaSubfunction::RegisterDtl, &area),
        Ok(0x1_0000)
    );
}

#[test]
fn registration_length_error_messages() {
    let e = registration_length(VpaSubfunction::DeregisterVpa, &[0; 8]).unwrap_err();
    assert_eq!(e.to_string(), "H_VPA_DEREG_VPA registers no area");
    let e = registration_length(VpaSubfunction::RegisterDtl, &[0; 5]).unwrap_err();
    assert_eq!(
        e,
        RegistrationLengthError::BufferTooShort { needed: 8, got: 5 }
    );
    assert_eq!(
        e.to_string(),
        "the registration length needs 8 bytes of area, only 5 given"
    );
    assert_eq!(
        RegistrationLengthError::TooLarge { length: 70000 }.to_string(),
        "VPA length 70000 does not fit the 16-bit size field"
    );
}

const fn field(name: &'static str, offset: usize, size: usize) -> FieldLayout {
    FieldLayout {
        name,
        offset,
        size,
        writer: Writer::Os,
    }
}

#[test]
fn is_contiguous_rejects_gaps_overlaps_and_overruns() {
    for l in layout::ALL {
        assert!(l.is_contiguous(), "{}", l.c_name);
    }
    let layout = |fields: &'static [FieldLayout], size| StructLayout {
        c_name: "probe",
        size,
        align: 8,
        fields,
    };
    static OK: [FieldLayout; 2] = [field("a", 0, 4), field("b", 4, 4)];
    static GAP: [FieldLayout; 2] = [field("a", 0, 4), field("b", 6, 2)];
    static OVERLAP: [FieldLayout; 2] = [field("a", 0, 4), field("b", 2, 4)];
    static LATE_START: [FieldLayout; 1] = [field("a", 2, 2)];
    assert!(layout(&OK, 8).is_contiguous());
    assert!(layout(&OK, 16).is_contiguous(), "tail padding");
    assert!(!layout(&OK, 7).is_contiguous(), "fields past sizeof");
    assert!(!layout(&GAP, 8).is_contiguous(), "gap");
    assert!(!layout(&OVERLAP, 8).is_contiguous(), "overlap");
    assert!(
        !layout(&LATE_START, 8).is_contiguous(),
        "first field not at 0"
    );
}
