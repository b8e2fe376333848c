//! `GuestLppaca` (the `vm-memory` feature) checked byte by byte against the layout of
//! Linux 6.1's `struct lppaca` (arch/powerpc/include/asm/lppaca.h), so that every
//! accessor is seen to reach guest memory at the right offset (docs/MUTATION.md: before
//! these tests only the doctest used the type, and `cargo mutants` leaves doctests out).
#![cfg(feature = "vm-memory")]

use papr::Lppaca;
use percpu::vpa::{GuestLppaca, LppacaAccess};
use phys::PhysAddr;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Offsets counted by hand from the C declaration: `desc` (be32) at 0, `size` (be16) at
/// 4, then 3 + 1 + 14 bytes, two be32 (0x18, 0x1c), 56 reserved bytes, so
/// `vphn_assoc_counts[8]` at 0x58; the second cache line (0x80) opens with 48 reserved
/// bytes, `cede_latency_hint` at 0xb0, `ebb_regs_in_use` at 0xb1, 6 reserved,
/// `dtl_enable_mask` at 0xb8, `donate_dedicated_cpu`, `fpregs_in_use` (0xba),
/// `pmcregs_in_use`, 28 reserved, `wait_state_cycles` (be64, 0xd8), 28 reserved,
/// `slb_count` (be16) at 0xfc, `idle` at 0xfe, `vmxregs_in_use` at 0xff; the fourth cache
/// line (0x180) has `page_ins` (be32), 148 reserved bytes, so `dtl_idx` (be64) at 0x218.
const DESC: u64 = 0x00;
const SIZE: u64 = 0x04;
const VPHN_ASSOC_COUNTS: u64 = 0x58;
const EBB_REGS_IN_USE: u64 = 0xb1;
const DTL_ENABLE_MASK: u64 = 0xb8;
const FPREGS_IN_USE: u64 = 0xba;
const SLB_COUNT: u64 = 0xfc;
const VMXREGS_IN_USE: u64 = 0xff;
const DTL_IDX: u64 = 0x218;
/// `sizeof(struct lppaca)`, which paca.c's `init_lppaca` checks with a BUILD_BUG_ON.
const LPPACA_BYTES: u64 = 640;

/// 1 MiB of guest RAM from 0, and an lppaca in it at a 1 KiB-aligned address that is not
/// 0, as `alloc_lppaca` places them (so an accessor that ignores the address shows).
const AT: u64 = 0x3_0400;

fn ram() -> GuestMemoryMmap<()> {
    GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap()
}

fn bytes(mem: &GuestMemoryMmap<()>, off: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    mem.read_slice(&mut b, GuestAddress(AT + off)).unwrap();
    b
}

#[test]
fn write_puts_linux_init_lppaca_at_its_address() {
    let mem = ram();
    let mut lp = GuestLppaca::new(&mem, PhysAddr::new(AT)).unwrap();
    assert_eq!(lp.addr(), PhysAddr::new(AT));
    lp.write(&Lppaca::linux_init());
    // paca.c init_lppaca: desc 0xd397d781 ("LpPa"), size LPPACA_SIZE (0x400),
    // fpregs_in_use 1, slb_count 64, everything else 0; all big-endian.
    assert_eq!(bytes(&mem, DESC, 4), [0xd3, 0x97, 0xd7, 0x81]);
    assert_eq!(bytes(&mem, SIZE, 2), [0x04, 0x00]);
    assert_eq!(bytes(&mem, FPREGS_IN_USE, 1), [1]);
    assert_eq!(bytes(&mem, SLB_COUNT, 2), [0, 64]);
    assert_eq!(bytes(&mem, DTL_IDX, 8), [0; 8]);
    // Nothing before or after the 640 bytes is touched.
    let mut around = [0u8; 2];
    mem.read_slice(&mut around[..1], GuestAddress(AT - 1))
        .unwrap();
    mem.read_slice(&mut around[1..], GuestAddress(AT + LPPACA_BYTES))
        .unwrap();
    assert_eq!(around, [0, 0]);
}

#[test]
fn read_returns_what_guest_memory_holds() {
    let mem = ram();
    // What a hypervisor would have written: the eye catcher and some counters.
    mem.write_slice(&[0xd3, 0x97, 0xd7, 0x81], GuestAddress(AT + DESC))
        .unwrap();
    mem.write_slice(
        &[1, 2, 3, 4, 5, 6, 7, 8],
        GuestAddress(AT + VPHN_ASSOC_COUNTS),
    )
    .unwrap();
    mem.write_slice(&[0x2], GuestAddress(AT + DTL_ENABLE_MASK))
        .unwrap();
    let lp = GuestLppaca::new(&mem, PhysAddr::new(AT)).unwrap();
    let copy = lp.read();
    assert_eq!(copy.desc.get(), 0xd397_d781);
    assert_eq!(copy.vphn_assoc_counts, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(copy.dtl_enable_mask, 0x2);
    assert_eq!(lp.vphn_assoc_counts(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(lp.dtl_enable_mask(), 0x2);
    // A read is a copy: it does not change the memory.
    assert_eq!(bytes(&mem, VPHN_ASSOC_COUNTS, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn each_setter_writes_its_own_field_only() {
    let mem = ram();
    let mut lp = GuestLppaca::new(&mem, PhysAddr::new(AT)).unwrap();
    lp.set_vmxregs_in_use(0x5a);
    lp.set_ebb_regs_in_use(0xa5);
    lp.set_dtl_enable_mask(0x7);
    lp.set_dtl_idx(0x0102_0304_0506_0708);
    assert_eq!(bytes(&mem, VMXREGS_IN_USE, 1), [0x5a]);
    assert_eq!(bytes(&mem, EBB_REGS_IN_USE, 1), [0xa5]);
    assert_eq!(bytes(&mem, DTL_ENABLE_MASK, 1), [0x7]);
    assert_eq!(bytes(&mem, DTL_IDX, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(lp.dtl_enable_mask(), 0x7);
    // The four fields are 1 + 1 + 1 + 8 bytes: nothing else of the 640 changed.
    let all = bytes(&mem, 0, LPPACA_BYTES as usize);
    assert_eq!(all.iter().filter(|b| **b != 0).count(), 11);
    // The setters go through the same memory `read` sees.
    let copy = lp.read();
    assert_eq!(copy.vmxregs_in_use, 0x5a);
    assert_eq!(copy.ebb_regs_in_use, 0xa5);
    assert_eq!(copy.dtl_idx.get(), 0x0102_0304_0506_0708);
}

#[test]
fn an_lppaca_past_guest_memory_is_refused_with_its_size() {
    let mem = ram();
    // The last address where all 640 bytes fit, and 8 bytes further.
    let last = (1u64 << 20) - LPPACA_BYTES;
    assert!(GuestLppaca::new(&mem, PhysAddr::new(last)).is_ok());
    let e = GuestLppaca::new(&mem, PhysAddr::new(last + 8)).unwrap_err();
    assert_eq!(e.addr, PhysAddr::new(last + 8));
    assert_eq!(e.len.as_u64(), LPPACA_BYTES);
    assert_eq!(
        e.to_string(),
        "a 640-byte lppaca at 0xffd88 is not all guest memory"
    );
    // An address whose end would wrap around is refused, not wrapped.
    assert!(GuestLppaca::new(&mem, PhysAddr::new(u64::MAX - 8)).is_err());
}
