//! The QEMU 7.2.22 `pseries` results measured from a real guest (shared facts notes,
//! "H_REGISTER_VPA ... QEMU 7.2 return codes"), reproduced with the `Qemu` profile over
//! rust-vmm guest memory (`GuestMemoryMmap`), as the QEMU run had it: 1 GiB, 4 vCPUs
//! with hardware ids 0..3, two NUMA nodes.

mod common;

use common::*;
use papr::hcall::{Hypervisor, Opcode, ReturnCode};
use vm_memory::{GuestAddress, GuestMemoryMmap};
use vpa_hv::{Partition, Profile};

type Mem = GuestMemoryMmap<()>;

fn qemu() -> Partition<Mem> {
    let mem = Mem::from_ranges(&[(GuestAddress(0), 1 << 30)]).unwrap();
    Partition::new(Profile::Qemu, mem, &[0, 1, 2, 3]).unwrap()
}

const BASE: u64 = 0x10_0000; // a 4 KiB-aligned buffer in the guest

fn reg(hv: &mut Partition<Mem>, cpu: u64, addr: u64, size: u16) -> ReturnCode {
    set_vpa_size(hv, addr, size);
    hv.h_register_vpa(REG_VPA, cpu, addr)
}

#[test]
fn measured_return_codes() {
    let mut hv = qemu();
    let s = ReturnCode::H_SUCCESS;
    let p = ReturnCode::H_PARAMETER;
    assert_eq!(
        reg(&mut hv, 0, BASE, 640),
        s,
        "640 bytes, 4K aligned, cpu 0"
    );
    assert_eq!(
        reg(&mut hv, 2, BASE + 0x2400, 640),
        s,
        "other cpu, 1K aligned"
    );
    assert_eq!(reg(&mut hv, 0, BASE, 0x100), p, "size field 0x100");
    assert_eq!(reg(&mut hv, 0, BASE + 3072, 640), s, "@+3072 size 640");
    assert_eq!(reg(&mut hv, 0, BASE + 3072, 1280), p, "@+3072 size 1280");
    assert_eq!(reg(&mut hv, 0, BASE + 3584, 640), p, "@+3584 size 640");
    assert_eq!(reg(&mut hv, 0, BASE + 128, 640), s, "128-byte aligned");
    set_vpa_size(&mut hv, BASE, 640);
    assert_eq!(
        hv.h_register_vpa(REG_VPA, 0, BASE + 8),
        p,
        "8-byte misaligned"
    );
    assert_eq!(hv.h_register_vpa(REG_VPA, 99, BASE), p, "cpu id 99");
    assert_eq!(
        hv.h_register_vpa(REG_VPA, 0, 0),
        ReturnCode::H_HARDWARE,
        "address 0"
    );
    assert_eq!(hv.h_register_vpa(DEREG_VPA, 0, 0), s, "deregister");
}

#[test]
fn registration_sets_the_shared_processor_bit() {
    let mut hv = qemu();
    for cpu in 0..4u64 {
        let vpa = BASE + cpu * 0x1000;
        // A guest-written status byte keeps its other bits: QEMU ORs 0x2 in.
        hv.memory_mut()
            .write_slice(&[0x80], GuestAddress(vpa + 9))
            .unwrap();
        assert_eq!(reg(&mut hv, cpu, vpa, 640), ReturnCode::H_SUCCESS);
        assert_eq!(read_u8(&hv, vpa + 9), 0x82);
    }
}

use vm_memory::Bytes;

#[test]
fn home_node_associativity_as_measured() {
    let mut hv = qemu();
    // ibm,associativity <5 0 0 0 N id> minus the length cell; N = 0,0,1,1.
    for (cpu, node) in [(0u32, 0u32), (1, 0), (2, 1), (3, 1)] {
        hv.set_associativity(cpu, &[0, 0, 0, node, cpu]).unwrap();
    }
    let r = hv.hcall(Opcode::H_HOME_NODE_ASSOCIATIVITY, &[1, 2]);
    assert_eq!(r.ret, ReturnCode::H_SUCCESS);
    assert_eq!(
        &r.out[..6],
        &[0, 1, (2 << 32) | 0xffff_ffff, u64::MAX, u64::MAX, u64::MAX],
        "cpu2: 0 0 | 0 1 | 2 -1 | padding"
    );
    let r = hv.hcall(Opcode::H_HOME_NODE_ASSOCIATIVITY, &[1, 1]);
    assert_eq!(&r.out[..3], &[0, 0, (1 << 32) | 0xffff_ffff]);
    assert_eq!(
        hv.hcall(Opcode::H_HOME_NODE_ASSOCIATIVITY, &[2, 0]).ret,
        ReturnCode::H_FUNCTION,
        "flags must be 1"
    );
    assert_eq!(
        hv.hcall(Opcode::H_HOME_NODE_ASSOCIATIVITY, &[1, 7]).ret,
        ReturnCode::H_P2,
        "unknown cpu"
    );
}

#[test]
fn vm_memory_bounds_are_respected() {
    // A VPA whose size field lies beyond the end of RAM reads as 0 in QEMU.
    let mut hv = qemu();
    assert_eq!(
        hv.h_register_vpa(REG_VPA, 0, 1 << 30),
        ReturnCode::H_PARAMETER
    );
    assert_eq!(
        hv.h_register_vpa(REG_VPA, 0, u64::MAX - 127),
        ReturnCode::H_PARAMETER
    );
}
