//! Properties over arbitrary hcall arguments and guest memory: no panic, and a call
//! that does not succeed changes nothing.

mod common;

use papr::hcall::{ReturnCode, H_VPA_FUNC_SHIFT};
use phys::PhysAddr;
use proptest::prelude::*;
use vpa_hv::{GuestRam, HostPageSize, Partition, Profile, VecRam};

const MEM: usize = 3 * 4096;

#[derive(Clone, Debug)]
enum Op {
    Hcall { flags: u64, proc_no: u64, addr: u64 },
    Write { addr: u64, bytes: Vec<u8> },
    Dispatch(u32),
    Preempt(u32),
}

fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u64..MEM as u64 + 256),
        (0u64..(MEM as u64 / 128)).prop_map(|l| l * 128),
        any::<u64>(),
    ]
}

fn flags() -> impl Strategy<Value = u64> {
    prop_oneof![(0u64..8).prop_map(|s| s << H_VPA_FUNC_SHIFT), any::<u64>(),]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (flags(), prop_oneof![0u64..3, any::<u64>()], addr())
            .prop_map(|(flags, proc_no, addr)| Op::Hcall { flags, proc_no, addr }),
        2 => (addr(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(addr, bytes)| Op::Write { addr, bytes }),
        1 => (0u32..3).prop_map(Op::Dispatch),
        1 => (0u32..3).prop_map(Op::Preempt),
    ]
}

fn profile() -> impl Strategy<Value = (Profile, HostPageSize)> {
    (
        prop_oneof![
            Just(Profile::Kvm),
            Just(Profile::KvmPre414),
            Just(Profile::Qemu)
        ],
        prop_oneof![Just(HostPageSize::Size4K), Just(HostPageSize::Size64K)],
    )
}

proptest! {
    #[test]
    fn rejected_calls_change_nothing(
        (profile, page) in profile(),
        seed in proptest::collection::vec(any::<u8>(), MEM..=MEM),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut hv = Partition::new(profile, VecRam::from_bytes(seed), &[0, 1]).unwrap();
        hv.set_host_page_size(page);
        for op in ops {
            match op {
                Op::Hcall { flags, proc_no, addr } => {
                    let before = hv.clone();
                    let v = hv.h_register_vpa_explained(flags, proc_no, addr);
                    if v.code != ReturnCode::H_SUCCESS {
                        prop_assert!(hv == before, "{v:?} changed state");
                    }
                }
                Op::Write { addr, bytes } => {
                    let _ = hv.memory_mut().write(PhysAddr::new(addr), &bytes);
                }
                Op::Dispatch(c) => {
                    let before = hv.clone();
                    if hv.dispatch(c).is_err() {
                        prop_assert!(hv == before);
                    }
                }
                Op::Preempt(c) => {
                    let before = hv.clone();
                    if hv.preempt(c).is_err() {
                        prop_assert!(hv == before);
                    }
                }
            }
        }
    }

    /// Without guest writes after registration, the counter's parity tells whether the
    /// vCPU runs (QEMU corrects any value; KVM starts from init_vpa's 1).
    #[test]
    fn yield_parity_tracks_running(
        profile in prop_oneof![Just(Profile::Kvm), Just(Profile::Qemu)],
        junk in any::<u32>(),
        steps in proptest::collection::vec(any::<bool>(), 1..40),
    ) {
        let mut hv = Partition::new(profile, VecRam::new(MEM), &[0]).unwrap();
        let vpa = 0x1000u64;
        hv.memory_mut().write(PhysAddr::new(vpa + 4), &640u16.to_be_bytes()).unwrap();
        hv.memory_mut().write(PhysAddr::new(vpa + 0x100), &junk.to_be_bytes()).unwrap();
        prop_assert_eq!(hv.h_register_vpa(1 << H_VPA_FUNC_SHIFT, 0, vpa), ReturnCode::H_SUCCESS);
        for run in steps {
            let r = if run { hv.dispatch(0) } else { hv.preempt(0) };
            if r.is_ok() {
                let count = hv.yield_count(0).unwrap();
                prop_assert_eq!(count % 2 == 0, run, "count {}", count);
            }
        }
    }
}
