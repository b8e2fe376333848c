//! Properties over arbitrary hcall arguments, dispatch timing values and guest memory:
//! no panic, a call that does not succeed changes nothing, and dispatch and preempt
//! write only inside the vCPU's registered areas (the DTL ring included).

mod common;

use papr::hcall::{ReturnCode, H_VPA_FUNC_SHIFT};
use phys::PhysAddr;
use proptest::prelude::*;
use vpa_hv::{
    Area, AreaKind, DispatchInfo, GuestRam, HostPageSize, KvmHostCpu, Partition, Profile, VecRam,
};

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

/// Two 64 KiB host pages, so a KVM DTL may be as long as a host page allows.
const BIG_MEM: u64 = 2 << 16;

#[derive(Clone, Debug)]
enum RingOp {
    Hcall {
        flags: u64,
        proc_no: u64,
        addr: u64,
    },
    /// A guest that writes the size field, then registers (subfunction 1..=3).
    Register {
        sub: u64,
        cpu: u64,
        addr: u64,
        len: u32,
    },
    /// A VPA size field (be16 at 4) or a DTL / SLB shadow length (be32 at 4).
    Len {
        addr: u64,
        vpa: bool,
        len: u32,
    },
    Write {
        addr: u64,
        bytes: Vec<u8>,
    },
    Dispatch {
        cpu: u32,
        info: DispatchInfo,
    },
    Preempt(u32),
}

/// Area bases the ops keep coming back to, so that size fields, registrations and
/// dispatches meet: page starts, the last lines of a 64 KiB page, the end of memory.
const SLOTS: [u64; 6] = [0x1000, 0x3000, 0x8000, 0xff00, 0x1_0000, BIG_MEM - 0x100];

fn ring_addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => proptest::sample::select(&SLOTS[..]),
        2 => (0u64..BIG_MEM / 128).prop_map(|l| l * 128),
        1 => 0u64..BIG_MEM + 256,
        1 => any::<u64>(),
    ]
}

fn ring_op() -> impl Strategy<Value = RingOp> {
    let len = prop_oneof![
        48u32..300,
        640u32..1100,
        (1u32..=1366).prop_map(|n| n * 48),
        Just(65536u32),
        any::<u32>(),
    ];
    let info = (
        any::<u64>(),
        any::<u64>(),
        any::<u16>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(timebase, stolen, physical_cpu, srr0, srr1)| DispatchInfo {
                timebase,
                stolen,
                physical_cpu,
                srr0,
                srr1,
            },
        );
    prop_oneof![
        4 => (
            prop_oneof![4 => (1u64..7).prop_map(|s| s << H_VPA_FUNC_SHIFT), 1 => flags()],
            prop_oneof![4 => 0u64..2, 1 => any::<u64>()],
            ring_addr(),
        )
            .prop_map(|(flags, proc_no, addr)| RingOp::Hcall { flags, proc_no, addr }),
        6 => (1u64..=3, 0u64..2, ring_addr(), len.clone())
            .prop_map(|(sub, cpu, addr, len)| RingOp::Register { sub, cpu, addr, len }),
        2 => (ring_addr(), any::<bool>(), len)
            .prop_map(|(addr, vpa, len)| RingOp::Len { addr, vpa, len }),
        1 => (ring_addr(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(addr, bytes)| RingOp::Write { addr, bytes }),
        8 => (0u32..3, info).prop_map(|(cpu, info)| RingOp::Dispatch { cpu, info }),
        8 => (0u32..3).prop_map(RingOp::Preempt),
    ]
}

/// Whether every byte that differs between `before` and `after` lies in one of
/// `areas`.
fn changes_within(before: &[u8], after: &[u8], areas: &[Area]) -> Result<(), String> {
    for (i, (a, b)) in before.iter().zip(after).enumerate() {
        if a == b {
            continue;
        }
        let at = i as u64;
        let inside = areas.iter().any(|area| {
            let start = area.addr.as_u64();
            at >= start && at - start < area.len.as_u64()
        });
        if !inside {
            return Err(format!("byte {at:#x} changed outside {areas:?}"));
        }
    }
    Ok(())
}

fn active_areas(hv: &Partition<VecRam>, cpu: u32) -> Vec<Area> {
    let v = hv.vcpu(cpu).unwrap();
    [AreaKind::Vpa, AreaKind::Dtl]
        .into_iter()
        .filter_map(|k| v.area(k).active)
        .collect()
}

proptest! {
    /// Dispatch and preempt with arbitrary timing values (both KVM host CPU paths),
    /// over registrations of any length a profile accepts: no panic, a refused hook
    /// changes nothing, an accepted one writes only inside the vCPU's active VPA and
    /// DTL, and KVM's `dtl_idx` mirrors the ring's entry count.
    #[test]
    fn dispatch_writes_stay_in_the_registered_areas(
        (profile, page) in profile(),
        power8 in any::<bool>(),
        ops in proptest::collection::vec(ring_op(), 1..120),
    ) {
        let mut hv =
            Partition::new(profile, VecRam::new(BIG_MEM as usize), &[0, 1]).unwrap();
        hv.set_host_page_size(page);
        hv.set_kvm_host_cpu(if power8 { KvmHostCpu::Power8 } else { KvmHostCpu::Power9 });
        for op in ops {
            match op {
                RingOp::Hcall { flags, proc_no, addr } => {
                    let before = hv.clone();
                    let v = hv.h_register_vpa_explained(flags, proc_no, addr);
                    if v.code != ReturnCode::H_SUCCESS {
                        prop_assert!(hv == before, "{v:?} changed state");
                    }
                }
                RingOp::Len { addr, vpa, len } => {
                    let at = PhysAddr::new(addr.wrapping_add(4));
                    let _ = if vpa {
                        hv.memory_mut().write(at, &(len as u16).to_be_bytes())
                    } else {
                        hv.memory_mut().write(at, &len.to_be_bytes())
                    };
                }
                RingOp::Register { sub, cpu, addr, len } => {
                    let at = PhysAddr::new(addr.wrapping_add(4));
                    let _ = if sub == 1 {
                        hv.memory_mut().write(at, &(len as u16).to_be_bytes())
                    } else {
                        hv.memory_mut().write(at, &len.to_be_bytes())
                    };
                    let before = hv.clone();
                    let v = hv.h_register_vpa_explained(sub << H_VPA_FUNC_SHIFT, cpu, addr);
                    if v.code != ReturnCode::H_SUCCESS {
                        prop_assert!(hv == before, "{v:?} changed state");
                    }
                }
                RingOp::Write { addr, bytes } => {
                    let _ = hv.memory_mut().write(PhysAddr::new(addr), &bytes);
                }
                RingOp::Dispatch { cpu, info } => {
                    let before = hv.clone();
                    if hv.dispatch_with(cpu, info).is_err() {
                        prop_assert!(hv == before, "refused dispatch changed state");
                        continue;
                    }
                    let areas = active_areas(&hv, cpu);
                    let changed = changes_within(
                        before.memory().as_bytes(),
                        hv.memory().as_bytes(),
                        &areas,
                    );
                    prop_assert!(changed.is_ok(), "dispatch: {changed:?}");
                    let v = hv.vcpu(cpu).unwrap();
                    if profile.is_kvm() {
                        if let (Some(vpa), Some(dtl)) =
                            (v.area(AreaKind::Vpa).active, v.area(AreaKind::Dtl).active)
                        {
                            prop_assert!(dtl.len.as_u64() >= 48 && dtl.len.as_u64() % 48 == 0);
                            let mut idx = [0u8; 8];
                            hv.memory()
                                .read(PhysAddr::new(vpa.addr.as_u64() + 0x218), &mut idx)
                                .unwrap();
                            prop_assert!(v.dtl_index() >= 1);
                            prop_assert_eq!(u64::from_be_bytes(idx), v.dtl_index());
                        }
                    }
                }
                RingOp::Preempt(cpu) => {
                    let before = hv.clone();
                    if hv.preempt(cpu).is_err() {
                        prop_assert!(hv == before, "refused preempt changed state");
                        continue;
                    }
                    let vpa: Vec<Area> =
                        hv.vcpu(cpu).unwrap().area(AreaKind::Vpa).active.into_iter().collect();
                    let changed = changes_within(
                        before.memory().as_bytes(),
                        hv.memory().as_bytes(),
                        &vpa,
                    );
                    prop_assert!(changed.is_ok(), "preempt: {changed:?}");
                }
            }
        }
    }
}
