//! The planned areas registered with the KVM and QEMU models of `vpa-hv`: every lppaca
//! and SLB shadow a plan places is accepted, and Linux's deregistration order succeeds
//! where the reverse order would not.

mod common;

use common::*;
use papr::hcall::{ReturnCode, VpaSubfunction as Sub};
use papr::{Lppaca, SlbShadow};
use percpu::vpa::{kexec_cpu_down, vpa_init, CrashPolicy, GuestFeatures, Paca};
use percpu::{Strategy, StructureKind as K};
use phys::{PhysAddr, PhysSize};
use vpa_hv::{GuestRam, Partition, Profile, VecRam};

const PROFILES: [Profile; 3] = [Profile::Kvm, Profile::KvmPre414, Profile::Qemu];

#[test]
fn planned_areas_register_and_deregister_under_every_profile() {
    // 256 MiB of guest memory in two nodes, four CPUs, 256 MiB RMA.
    let topo = machine(2, 2, 128 * MIB, 256 * MIB);
    for strategy in Strategy::ALL {
        let (mut mb, p) = run(&topo, &cfg(&topo, strategy, false));
        for profile in PROFILES {
            let hw: Vec<u32> = (0..4).map(|c| 0x20 + c).collect();
            let mut hv = Partition::new(profile, VecRam::new(256 * MIB as usize), &hw).unwrap();
            let mut lppacas = Vec::new();
            for cpu in 0..4u32 {
                let mut paca = Paca::from_placement(&p, cpu, hw[cpu as usize]).unwrap();
                // Linux 4.15's CPU 0 uses the static lppaca in the kernel image: give it
                // a 1 KiB-aligned home inside the reserved kernel area.
                let lp_addr = paca.lppaca_ptr.unwrap_or(PhysAddr::new(0x10_0000));
                paca.lppaca_ptr = Some(lp_addr);
                // The DTL comes from a kmem cache later in boot; take 4 KiB from memblock.
                let dtl = mb
                    .alloc_try_nid(
                        PhysSize::new(4096),
                        4096,
                        PhysAddr::ZERO,
                        memblock::AllocLimit::Accessible,
                        None,
                    )
                    .unwrap();
                paca.dispatch_log = Some(dtl);
                // What init_lppaca / new_slb_shadow / register_dtl_buffer leave in memory.
                let lp = Lppaca::linux_init();
                hv.memory_mut().write(lp_addr, lp.as_bytes()).unwrap();
                let slb = paca.slb_shadow_ptr.unwrap();
                assert!(p.find(cpu, K::SlbShadow).is_some());
                hv.memory_mut()
                    .write(slb, SlbShadow::linux_init().as_bytes())
                    .unwrap();
                hv.memory_mut()
                    .write(dtl.saturating_add(PhysSize::new(4)), &4096u32.to_be_bytes())
                    .unwrap();
                hv.set_caller(Some(hw[cpu as usize]));
                let mut lp = lp;
                let features = GuestFeatures {
                    splpar: true,
                    radix: false,
                    altivec: true,
                    arch_207s: true,
                    dtl_mask: 2,
                };
                let out = vpa_init(&mut hv, &paca, &mut lp, &features).unwrap();
                assert_eq!(
                    out.vpa,
                    ReturnCode::H_SUCCESS,
                    "{strategy} {profile:?} CPU {cpu}"
                );
                assert_eq!(out.slb_shadow, Some(ReturnCode::H_SUCCESS));
                assert_eq!(out.dtl, Some(ReturnCode::H_SUCCESS));
                lppacas.push((paca, lp));
            }
            for (paca, lp) in &lppacas {
                hv.set_caller(Some(paca.hw_cpu_id));
                let calls = kexec_cpu_down(&mut hv, paca, lp, true, false, CrashPolicy::Deregister);
                assert_eq!(calls.len(), 3);
                for (sub, rc) in calls {
                    assert_eq!(rc, ReturnCode::H_SUCCESS, "{strategy} {profile:?} {sub}");
                }
            }
        }
    }
}

#[test]
fn deregistering_the_vpa_first_is_refused() {
    // Why Linux deregisters DTL and SLB shadow before the VPA: both hypervisors refuse
    // to drop a VPA that still has a DTL or SLB shadow registered.
    let topo = machine(1, 1, 64 * MIB, 64 * MIB);
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    for profile in PROFILES {
        let mut hv = Partition::new(profile, VecRam::new(64 * MIB as usize), &[0]).unwrap();
        let paca = Paca::from_placement(&p, 0, 0).unwrap();
        let lp = Lppaca::linux_init();
        hv.memory_mut()
            .write(paca.lppaca_ptr.unwrap(), lp.as_bytes())
            .unwrap();
        let slb = paca.slb_shadow_ptr.unwrap();
        hv.memory_mut()
            .write(slb, SlbShadow::linux_init().as_bytes())
            .unwrap();
        hv.set_caller(Some(0));
        let features = GuestFeatures {
            splpar: true,
            radix: false,
            altivec: false,
            arch_207s: false,
            dtl_mask: 0,
        };
        let mut lp = lp;
        vpa_init(&mut hv, &paca, &mut lp, &features).unwrap();
        use papr::hcall::Hypervisor;
        assert_eq!(
            hv.register_vpa(Sub::DeregisterVpa, 0, 0),
            ReturnCode::H_RESOURCE,
            "{profile:?}"
        );
    }
}
