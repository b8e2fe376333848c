//! The body of the fuzz targets: decode a byte string into guest-memory writes,
//! H_REGISTER_VPA calls (bare and through `papr::hcall::Hypervisor`), dispatches and
//! preemptions, run them against a `Partition`, and check what must always hold:
//!
//! * nothing panics (libFuzzer reports any panic as a crash);
//! * a call that does not return `H_SUCCESS`, and a dispatch hook that returns an
//!   error, leave the partition (registrations and guest memory) unchanged;
//! * under QEMU the dispatch counter is even right after a dispatch and odd right after
//!   a preemption, whatever the guest wrote, because QEMU corrects its parity.
//!
//! Input: byte 0 picks the KVM host page (bit 0), the memory size (bits 1..2) and the
//! KVM host CPU path (bit 3: POWER8, else POWER9);
//! then a stream of operations, each a tag byte and its operands. Missing bytes read
//! as zero, so every input is valid.

use papr::hcall::{Hypervisor, Opcode, ReturnCode, H_VPA_FUNC_SHIFT};
use phys::PhysAddr;
use vpa_hv::{DispatchInfo, GuestRam, HostPageSize, KvmHostCpu, Partition, Profile, VecRam};

const SIZES: [usize; 4] = [8192, 12288, 65536 + 128, 16384 + 100];
const CPUS: [u32; 3] = [0, 1, 5];

struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_be_bytes(b)
    }
    fn addr(&mut self, mem: u64) -> u64 {
        match self.u8() % 5 {
            0 => u64::from(self.u16()) * 128 % (mem + 256),
            1 => u64::from(self.u16()) % (mem + 256),
            2 => self.u64(),
            3 => {
                let table = [0, 4096 - 128, 65536 - 128, mem - 128, mem, u64::MAX - 127];
                table[usize::from(self.u8()) % table.len()]
            }
            _ => 0x1000 + u64::from(self.u8() % 8) * 0x400,
        }
    }
    fn proc_no(&mut self) -> u64 {
        match self.u8() {
            b @ 0..=0xef => u64::from(CPUS[usize::from(b) % CPUS.len()]),
            _ => self.u64(),
        }
    }
    fn cpu(&mut self) -> u32 {
        CPUS[usize::from(self.u8()) % CPUS.len()]
    }
}

/// Runs one input under `profile`.
pub fn run(profile: Profile, data: &[u8]) {
    let mut input = Input { data };
    let head = input.u8();
    let size = SIZES[usize::from(head >> 1) % SIZES.len()];
    let mem = size as u64;
    let mut hv = Partition::new(profile, VecRam::new(size), &CPUS).expect("valid vCPU ids");
    hv.set_host_page_size(if head & 1 == 0 {
        HostPageSize::Size64K
    } else {
        HostPageSize::Size4K
    });
    hv.set_kvm_host_cpu(if head & 8 == 0 {
        KvmHostCpu::Power9
    } else {
        KvmHostCpu::Power8
    });
    let mut steps = 0;
    while !input.data.is_empty() && steps < 512 {
        steps += 1;
        match input.u8() % 9 {
            0..=2 => {
                let s = input.u8();
                let mut flags = u64::from(s & 7) << H_VPA_FUNC_SHIFT;
                if s & 0x80 != 0 {
                    flags ^= input.u64();
                }
                let proc_no = input.proc_no();
                let addr = input.addr(mem);
                let before = hv.clone();
                let v = hv.h_register_vpa_explained(flags, proc_no, addr);
                if v.code != ReturnCode::H_SUCCESS {
                    assert!(hv == before, "{v:?} changed the partition");
                }
            }
            3 => {
                let addr = input.addr(mem);
                let len = usize::from(input.u8() % 16);
                let bytes: Vec<u8> = (0..len).map(|_| input.u8()).collect();
                let _ = hv.memory_mut().write(PhysAddr::new(addr), &bytes);
            }
            4 => {
                // A VPA size field (be16 at 4).
                let addr = input.addr(mem).wrapping_add(4);
                let v = input.u16();
                let _ = hv.memory_mut().write(PhysAddr::new(addr), &v.to_be_bytes());
            }
            5 => {
                // A DTL / SLB shadow length (be32 at 4).
                let addr = input.addr(mem).wrapping_add(4);
                let v = u32::from(input.u16()) << (input.u8() % 17);
                let _ = hv.memory_mut().write(PhysAddr::new(addr), &v.to_be_bytes());
            }
            6 => {
                let cpu = input.cpu();
                let info = DispatchInfo {
                    timebase: input.u64(),
                    stolen: input.u64(),
                    physical_cpu: input.u16(),
                    srr0: input.u64(),
                    srr1: 0,
                };
                let before = hv.clone();
                match hv.dispatch_with(cpu, info) {
                    Err(_) => assert!(hv == before, "failed dispatch changed the partition"),
                    Ok(()) => {
                        if profile == Profile::Qemu {
                            if let Some(c) = hv.yield_count(cpu) {
                                assert_eq!(c % 2, 0, "QEMU: even while running");
                            }
                        }
                    }
                }
            }
            7 => {
                let cpu = input.cpu();
                let before = hv.clone();
                match hv.preempt(cpu) {
                    Err(_) => assert!(hv == before, "failed preempt changed the partition"),
                    Ok(()) => {
                        if profile == Profile::Qemu {
                            if let Some(c) = hv.yield_count(cpu) {
                                assert_eq!(c % 2, 1, "QEMU: odd while preempted");
                            }
                        }
                    }
                }
            }
            _ => {
                // Through the papr::Hypervisor trait, from a (maybe running) caller.
                let caller = input.cpu();
                hv.set_caller(Some(caller));
                let opcode = match input.u8() % 3 {
                    0 => Opcode::H_REGISTER_VPA,
                    1 => Opcode::H_HOME_NODE_ASSOCIATIVITY,
                    _ => Opcode(input.u64()),
                };
                let n = usize::from(input.u8() % 5);
                let args: Vec<u64> = (0..n).map(|_| input.u64()).collect();
                let _ = hv.hcall(opcode, &args);
            }
        }
    }
}
