//! The public accessors, error values and messages: what a VMM embedding the crate reads
//! back. (Found by `cargo mutants`: none of these was checked by another test.)

mod common;

use common::*;
use papr::hcall::{Hypervisor, Opcode, ReturnCode};
use phys::{PhysAddr, PhysSize};
use vpa_hv::{
    AreaKind, DispatchError, GuestRam, OutOfGuestMemory, Partition, PartitionError, Profile,
    VecRam, VPHN_MAX_DOMAINS,
};

#[test]
fn vec_ram_reports_its_size_and_refuses_out_of_range_access_untouched() {
    let mut ram = VecRam::new(0x3000);
    assert_eq!(ram.size(), PhysSize::new(0x3000));
    assert_eq!(VecRam::from_bytes(vec![7; 5]).size(), PhysSize::new(5));
    assert!(ram.contains(PhysAddr::new(0x2ff0), PhysSize::new(0x10)));
    assert!(!ram.contains(PhysAddr::new(0x2ff0), PhysSize::new(0x11)));
    assert!(!ram.contains(PhysAddr::new(u64::MAX), PhysSize::new(2)));

    let err = ram.write(PhysAddr::new(0x2ffc), &[1; 8]).unwrap_err();
    assert_eq!(
        err,
        OutOfGuestMemory {
            addr: PhysAddr::new(0x2ffc),
            len: PhysSize::new(8),
        }
    );
    assert!(
        ram.as_bytes().iter().all(|&b| b == 0),
        "a failed write wrote"
    );
    let mut buf = [0u8; 3];
    let err = ram.read(PhysAddr::new(0x3000), &mut buf).unwrap_err();
    assert_eq!(err.len, PhysSize::new(3));
    assert_eq!(
        err.to_string(),
        format!(
            "3 bytes at {} are not all guest memory",
            PhysAddr::new(0x3000)
        )
    );
}

#[cfg(feature = "vm-memory")]
#[test]
fn vm_memory_adaptor_contains_only_guest_memory() {
    use vm_memory::{GuestAddress, GuestMemoryMmap};
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x2000)]).unwrap();
    assert!(mem.contains(PhysAddr::new(0x1000), PhysSize::new(0x1000)));
    assert!(!mem.contains(PhysAddr::new(0x1000), PhysSize::new(0x1001)));
    assert!(!mem.contains(PhysAddr::new(0x4000), PhysSize::new(1)));
    assert!(!mem.contains(PhysAddr::new(0), PhysSize::new(u64::MAX)));
}

#[test]
fn error_and_area_names() {
    assert_eq!(AreaKind::Vpa.to_string(), "vpa");
    assert_eq!(AreaKind::Dtl.to_string(), "dtl");
    assert_eq!(AreaKind::SlbShadow.to_string(), "slb");
    assert_eq!(
        PartitionError::DuplicateProcNo(3).to_string(),
        "proc-no 3 given twice"
    );
    assert_eq!(
        PartitionError::ProcNoTooLarge(u32::MAX).to_string(),
        format!("proc-no {} does not fit in an int", u32::MAX)
    );
    assert_eq!(
        PartitionError::UnknownProcNo(9).to_string(),
        "no vCPU has proc-no 9"
    );
    assert_eq!(
        PartitionError::TooManyDomains(13).to_string(),
        "13 associativity domains; at most 12 fit in r4..r9"
    );
    assert_eq!(
        DispatchError::UnknownProcNo(4).to_string(),
        "no vCPU has proc-no 4"
    );
    assert_eq!(
        DispatchError::AlreadyRunning(1).to_string(),
        "vCPU 1 is already running"
    );
    assert_eq!(
        DispatchError::NotRunning(2).to_string(),
        "vCPU 2 is not running"
    );
}

#[test]
fn vcpus_keep_their_proc_no_and_associativity() {
    let mut hv = Partition::new(Profile::Kvm, VecRam::new(MEM as usize), &[8, 16, 24]).unwrap();
    let ids: Vec<u32> = hv.vcpus().iter().map(|v| v.proc_no()).collect();
    assert_eq!(ids, [8, 16, 24]);
    assert_eq!(hv.vcpu(16).map(|v| v.proc_no()), Some(16));
    assert!(hv.vcpu(1).is_none());

    let twelve: Vec<u32> = (1..=12).collect();
    assert_eq!(twelve.len(), VPHN_MAX_DOMAINS);
    hv.set_associativity(16, &twelve).unwrap();
    assert_eq!(hv.vcpu(16).unwrap().associativity(), &twelve[..]);
    assert!(hv.vcpu(8).unwrap().associativity().is_empty());
    let thirteen: Vec<u32> = (1..=13).collect();
    assert_eq!(
        hv.set_associativity(16, &thirteen),
        Err(PartitionError::TooManyDomains(13))
    );
    assert_eq!(
        hv.set_associativity(5, &[1]),
        Err(PartitionError::UnknownProcNo(5))
    );
    assert_eq!(hv.vcpu(16).unwrap().associativity(), &twelve[..]);

    // And H_HOME_NODE_ASSOCIATIVITY hands all twelve out, two per register.
    let r = hv.hcall(Opcode::H_HOME_NODE_ASSOCIATIVITY, &[1, 16]);
    assert_eq!(r.ret, ReturnCode::H_SUCCESS);
    let packed: Vec<u64> = twelve
        .chunks(2)
        .map(|p| (u64::from(p[0]) << 32) | u64::from(p[1]))
        .collect();
    assert_eq!(&r.out[..6], &packed[..]);
}
