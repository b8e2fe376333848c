//! PAPR's VPA placement rule and the registration length the hypervisor reads.

use papr::hcall::VpaSubfunction;
use papr::{
    registration_length, vpa_placement_ok, write_registration_length, Lppaca,
    RegistrationLengthError, SlbShadow, VpaPlacementError,
};
use phys::{PhysAddr, PhysSize};
use proptest::prelude::*;

fn check(addr: u64, size: u64) -> Result<(), VpaPlacementError> {
    vpa_placement_ok(PhysAddr::new(addr), PhysSize::new(size))
}

#[test]
fn placement_cases() {
    // The QEMU 7.2 observations in /work/shared/facts, translated to PAPR's rules.
    assert_eq!(check(0x1000, 640), Ok(()));
    assert_eq!(check(0x1c00, 640), Ok(()));
    assert_eq!(check(0x1c00, 1024), Ok(()), "ends exactly on the boundary");
    assert_eq!(check(0x1080, 640), Ok(()), "128-byte alignment is enough");
    assert_eq!(
        check(0x1c00, 1280),
        Err(VpaPlacementError::CrossesBoundary {
            addr: PhysAddr::new(0x1c00),
            size: PhysSize::new(1280)
        })
    );
    assert!(matches!(
        check(0x1e00, 640),
        Err(VpaPlacementError::CrossesBoundary { .. })
    ));
    assert!(matches!(
        check(0x1008, 640),
        Err(VpaPlacementError::Misaligned { .. })
    ));
    assert!(matches!(
        check(0x1000, 0x100),
        Err(VpaPlacementError::TooSmall { .. })
    ));
    assert!(matches!(
        check(0x1000, 639),
        Err(VpaPlacementError::TooSmall { .. })
    ));
    assert!(matches!(
        check(0x1000, 0),
        Err(VpaPlacementError::TooSmall { .. })
    ));
    // Near the top of the address space: the last byte may be 2^64 - 1.
    assert_eq!(check(u64::MAX - 1023, 1024), Ok(()));
    assert!(matches!(
        check(u64::MAX - 127, 1024),
        Err(VpaPlacementError::Overflow { .. })
    ));
    assert!(matches!(
        check(0x1000, u64::MAX),
        Err(VpaPlacementError::Overflow { .. })
    ));
}

#[test]
fn placement_error_messages() {
    assert_eq!(
        check(0x1e00, 640).unwrap_err().to_string(),
        "VPA at 0x1e00 of size 0x280 crosses a 4 KiB boundary"
    );
    assert_eq!(
        check(0x1008, 640).unwrap_err().to_string(),
        "VPA address 0x1008 is not aligned to the 128-byte L1 cache line"
    );
    assert_eq!(
        check(0, 256).unwrap_err().to_string(),
        "VPA size 0x100 is below the PAPR minimum of 640"
    );
}

proptest! {
    /// Agrees with a brute-force restatement of the three rules (QEMU's formula for
    /// the boundary, in 128-bit arithmetic so nothing wraps).
    #[test]
    fn placement_matches_model(addr: u64, size in prop_oneof![0u64..5000, any::<u64>()]) {
        let a = u128::from(addr);
        let s = u128::from(size);
        let ok = size >= 640
            && addr % 128 == 0
            && a + s - 1 <= u128::from(u64::MAX)
            && a / 4096 == (a + s - 1) / 4096;
        prop_assert_eq!(check(addr, size).is_ok(), ok);
    }

    /// Linux's allocation (1 KiB aligned, 1 KiB advertised) always satisfies the rule.
    #[test]
    fn linux_allocation_is_always_placeable(block in 0u64..(u64::MAX >> 10)) {
        prop_assert_eq!(check(block << 10, papr::LPPACA_ALLOC_SIZE), Ok(()));
    }
}

#[test]
fn registration_length_reads_where_hypervisors_do() {
    let lp = Lppaca::linux_init();
    assert_eq!(
        registration_length(VpaSubfunction::RegisterVpa, lp.as_bytes()),
        Ok(0x400)
    );
    let s = SlbShadow::linux_init();
    assert_eq!(
        registration_length(VpaSubfunction::RegisterSlb, s.as_bytes()),
        Ok(128)
    );

    let mut dtl = [0u8; 4096];
    write_registration_length(VpaSubfunction::RegisterDtl, &mut dtl, 4096).unwrap();
    assert_eq!(&dtl[..8], &[0, 0, 0, 0, 0, 0, 0x10, 0]);
    assert_eq!(
        registration_length(VpaSubfunction::RegisterDtl, &dtl),
        Ok(4096)
    );

    let mut vpa = [0u8; 8];
    write_registration_length(VpaSubfunction::RegisterVpa, &mut vpa, 0x0280).unwrap();
    assert_eq!(vpa, [0, 0, 0, 0, 0x02, 0x80, 0, 0]);
    assert_eq!(
        write_registration_length(VpaSubfunction::RegisterVpa, &mut vpa, 0x1_0000),
        Err(RegistrationLengthError::TooLarge { length: 0x1_0000 })
    );
    assert_eq!(
        registration_length(VpaSubfunction::DeregisterVpa, &vpa),
        Err(RegistrationLengthError::NotARegistration(
            VpaSubfunction::DeregisterVpa
        ))
    );
    assert_eq!(
        registration_length(VpaSubfunction::RegisterSlb, &[0; 7]),
        Err(RegistrationLengthError::BufferTooShort { needed: 8, got: 7 })
    );
    assert_eq!(
        registration_length(VpaSubfunction::RegisterVpa, &[0, 0, 0, 0, 0xab, 0xcd]),
        Ok(0xabcd)
    );
}
