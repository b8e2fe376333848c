//! The guest side of the VPA contract against a recording hypervisor.

mod common;

use common::*;
use papr::hcall::{HcallResult, Hypervisor, Opcode, ReturnCode, VpaSubfunction as Sub};
use papr::Lppaca;
use percpu::vpa::{
    kexec_cpu_down, vpa_init, CrashPolicy, GuestFeatures, Paca, VpaError, VphnCounters,
    KEXEC_DATA_OFFSET_POISON,
};
use percpu::{Strategy, StructureKind as K};
use phys::PhysAddr;

/// Records every hcall; answers H_SUCCESS unless told to fail a subfunction.
#[derive(Default)]
struct Recorder {
    calls: Vec<(Opcode, Vec<u64>)>,
    fail: Option<(Sub, ReturnCode)>,
}

impl Hypervisor for Recorder {
    fn hcall(&mut self, opcode: Opcode, args: &[u64]) -> HcallResult {
        self.calls.push((opcode, args.to_vec()));
        let sub = Sub::from_flags(args.first().copied().unwrap_or(0)).ok();
        match self.fail {
            Some((s, rc)) if Some(s) == sub => HcallResult::status(rc),
            _ => HcallResult::status(ReturnCode::H_SUCCESS),
        }
    }
}

impl Recorder {
    /// The H_REGISTER_VPA calls as (subfunction, proc_no, addr), as Linux's `vpa_call`
    /// encodes them: flags = sub << 45.
    fn vpa_calls(&self) -> Vec<(Sub, u64, u64)> {
        self.calls
            .iter()
            .map(|(op, a)| {
                assert_eq!(*op, Opcode::H_REGISTER_VPA);
                assert_eq!(a.len(), 3);
                assert_eq!(a[0] & !(7 << 45), 0, "only the subfunction bits are set");
                (Sub::from_flags(a[0]).unwrap(), a[1], a[2])
            })
            .collect()
    }
}

const SPLPAR_HASH: GuestFeatures = GuestFeatures {
    splpar: true,
    radix: false,
    altivec: true,
    arch_207s: true,
    dtl_mask: papr::dtl::DTL_LOG_PREEMPT,
};

fn planned_paca(radix: bool, cpu: u32) -> Paca {
    let topo = machine(2, 2, 4 * GIB, GIB);
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, radix));
    let mut paca = Paca::from_placement(&p, cpu, 0x100 + cpu).unwrap();
    assert_eq!(paca.lppaca_ptr, Some(p.find(cpu, K::Lppaca).unwrap().addr));
    paca.dispatch_log = Some(PhysAddr::new(0x4000_0000));
    paca
}

#[test]
fn registration_is_vpa_then_slb_shadow_then_dtl() {
    let paca = planned_paca(false, 2);
    let mut lp = Lppaca::linux_init();
    let mut hv = Recorder::default();
    let out = vpa_init(&mut hv, &paca, &mut lp, &SPLPAR_HASH).unwrap();
    assert_eq!(
        hv.vpa_calls(),
        vec![
            (Sub::RegisterVpa, 0x102, paca.lppaca_ptr.unwrap().as_u64()),
            (
                Sub::RegisterSlb,
                0x102,
                paca.slb_shadow_ptr.unwrap().as_u64()
            ),
            (Sub::RegisterDtl, 0x102, 0x4000_0000),
        ]
    );
    assert_eq!(out.slb_shadow, Some(ReturnCode::H_SUCCESS));
    assert_eq!((lp.vmxregs_in_use, lp.ebb_regs_in_use), (1, 1));
    assert_eq!(lp.dtl_enable_mask, papr::dtl::DTL_LOG_PREEMPT);
}

#[test]
fn radix_registers_no_slb_shadow_and_a_failed_vpa_stops_everything() {
    let paca = planned_paca(true, 1);
    assert_eq!(paca.slb_shadow_ptr, None);
    let features = GuestFeatures {
        radix: true,
        ..SPLPAR_HASH
    };
    let mut hv = Recorder::default();
    vpa_init(&mut hv, &paca, &mut Lppaca::linux_init(), &features).unwrap();
    let subs: Vec<_> = hv.vpa_calls().into_iter().map(|c| c.0).collect();
    assert_eq!(subs, vec![Sub::RegisterVpa, Sub::RegisterDtl]);

    let mut hv = Recorder {
        fail: Some((Sub::RegisterVpa, ReturnCode::H_PARAMETER)),
        ..Recorder::default()
    };
    let mut lp = Lppaca::linux_init();
    let out = vpa_init(&mut hv, &planned_paca(false, 1), &mut lp, &SPLPAR_HASH).unwrap();
    assert_eq!(out.vpa, ReturnCode::H_PARAMETER);
    assert_eq!(hv.calls.len(), 1);
    assert_eq!(lp.dtl_enable_mask, 0);
}

#[test]
fn a_refused_dtl_still_sets_the_enable_mask_as_linux_does() {
    let mut hv = Recorder {
        fail: Some((Sub::RegisterDtl, ReturnCode::H_RESOURCE)),
        ..Recorder::default()
    };
    let mut lp = Lppaca::linux_init();
    let out = vpa_init(&mut hv, &planned_paca(false, 0), &mut lp, &SPLPAR_HASH).unwrap();
    assert_eq!(out.dtl, Some(ReturnCode::H_RESOURCE));
    assert_eq!(lp.dtl_enable_mask, papr::dtl::DTL_LOG_PREEMPT);
}

#[test]
fn hypervisor_mode_paca_has_no_vpa_to_register() {
    let mut topo = machine(1, 2, 4 * GIB, GIB);
    topo.hypervisor_mode = true;
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    let paca = Paca::from_placement(&p, 1, 1).unwrap();
    assert_eq!(paca.lppaca_ptr, None);
    let mut hv = Recorder::default();
    let err = vpa_init(&mut hv, &paca, &mut Lppaca::linux_init(), &SPLPAR_HASH).unwrap_err();
    assert_eq!(err, VpaError::NoLppaca { cpu: 1 });
    assert!(hv.calls.is_empty());
}

#[test]
fn kexec_deregisters_dtl_slb_vpa_in_that_order() {
    let paca = planned_paca(false, 3);
    let mut lp = Lppaca::linux_init();
    let mut hv = Recorder::default();
    vpa_init(&mut hv, &paca, &mut lp, &SPLPAR_HASH).unwrap();
    let mut hv = Recorder::default();
    let calls = kexec_cpu_down(&mut hv, &paca, &lp, true, false, CrashPolicy::NoHcalls);
    assert_eq!(
        hv.vpa_calls(),
        vec![
            (Sub::DeregisterDtl, 0x103, 0),
            (Sub::DeregisterSlb, 0x103, 0),
            (Sub::DeregisterVpa, 0x103, 0),
        ]
    );
    assert_eq!(calls.len(), 3);
    // Without a DTL enabled, only SLB shadow and VPA (unregister_slb_shadow is called
    // unconditionally, even under radix).
    let mut hv = Recorder::default();
    kexec_cpu_down(
        &mut hv,
        &paca,
        &Lppaca::linux_init(),
        true,
        false,
        CrashPolicy::Deregister,
    );
    let subs: Vec<_> = hv.vpa_calls().into_iter().map(|c| c.0).collect();
    assert_eq!(subs, vec![Sub::DeregisterSlb, Sub::DeregisterVpa]);
}

#[test]
fn crash_shutdown_makes_no_hcall_before_61_and_deregisters_in_61() {
    let paca = planned_paca(false, 1);
    let mut lp = Lppaca::linux_init();
    lp.dtl_enable_mask = 2;
    let mut hv = Recorder::default();
    let calls = kexec_cpu_down(
        &mut hv,
        &paca,
        &lp,
        true,
        true,
        CrashPolicy::of(Strategy::Linux415),
    );
    assert!(calls.is_empty() && hv.calls.is_empty());
    let mut hv = Recorder::default();
    kexec_cpu_down(
        &mut hv,
        &paca,
        &lp,
        true,
        true,
        CrashPolicy::of(Strategy::Linux61),
    );
    assert_eq!(hv.calls.len(), 3);
    // No SPLPAR: nothing at all.
    let mut hv = Recorder::default();
    kexec_cpu_down(&mut hv, &paca, &lp, false, false, CrashPolicy::Deregister);
    assert!(hv.calls.is_empty());
}

#[test]
fn failed_deregistrations_do_not_stop_the_sequence() {
    let paca = planned_paca(false, 1);
    let mut hv = Recorder {
        fail: Some((Sub::DeregisterSlb, ReturnCode::H_PARAMETER)),
        ..Recorder::default()
    };
    let calls = kexec_cpu_down(
        &mut hv,
        &paca,
        &Lppaca::linux_init(),
        true,
        false,
        CrashPolicy::Deregister,
    );
    assert_eq!(
        calls,
        vec![
            (Sub::DeregisterSlb, ReturnCode::H_PARAMETER),
            (Sub::DeregisterVpa, ReturnCode::H_SUCCESS)
        ]
    );
}

#[test]
fn kexec_paca_copy_has_a_null_lppaca() {
    let paca = planned_paca(false, 2);
    let k = paca.kexec_copy();
    assert_eq!(k.lppaca_ptr, None);
    assert_eq!(k.data_offset, KEXEC_DATA_OFFSET_POISON);
    assert_eq!(k.data_offset, 0xedeaddeadeeeeeee);
    assert_eq!(
        (k.paca_index, k.hw_cpu_id, k.slb_shadow_ptr),
        (2, 0x102, paca.slb_shadow_ptr)
    );
}

#[test]
fn vphn_marks_whole_cores_whose_counters_moved() {
    // 16 possible CPUs, SMT4, 2 associativity levels; CPU 13 is not possible.
    let mut possible = vec![true; 16];
    possible[13] = false;
    let mut lps: Vec<Lppaca> = (0..16).map(|_| Lppaca::linux_init()).collect();
    let mut v = VphnCounters::setup(&possible, 2, 4, |c| lps.get(c as usize)).unwrap();
    assert_eq!(v.update(|c| lps.get(c as usize)).unwrap(), 0);
    // CPU 5's level-1 counter moves: CPUs 4..7 (its core) change.
    lps[5].vphn_assoc_counts[1] = 1;
    // A counter beyond distance_ref_points_depth is ignored.
    lps[9].vphn_assoc_counts[2] = 7;
    // CPU 12 moves; CPU 13 is not possible, so the mask holds 12, 14, 15.
    lps[12].vphn_assoc_counts[0] = 3;
    assert_eq!(v.update(|c| lps.get(c as usize)).unwrap(), 7);
    let changed: Vec<u32> = v.changed_cpus().collect();
    assert_eq!(changed, vec![4, 5, 6, 7, 12, 14, 15]);
    assert_eq!(v.saved(5).unwrap(), &[0, 1]);
    // The mask accumulates until cleared; unchanged counters add nothing.
    v.clear_changes();
    assert_eq!(v.update(|c| lps.get(c as usize)).unwrap(), 0);
    // Siblings after a changed CPU in the same core are skipped for this round (Linux
    // jumps to cpu_last_thread_sibling), so a change on CPU 6 made together with CPU 5
    // is only seen on the next update.
    lps[5].vphn_assoc_counts[0] = 9;
    lps[6].vphn_assoc_counts[0] = 9;
    assert_eq!(v.update(|c| lps.get(c as usize)).unwrap(), 4);
    v.clear_changes();
    assert_eq!(
        v.update(|c| lps.get(c as usize)).unwrap(),
        4,
        "CPU 6's change seen now"
    );
}

#[test]
fn vphn_rejects_missing_lppacas_and_deep_levels() {
    let possible = vec![true; 2];
    let lp = Lppaca::linux_init();
    let err = VphnCounters::setup(&possible, 2, 1, |c| (c == 0).then_some(&lp)).unwrap_err();
    assert_eq!(err, VpaError::NoLppaca { cpu: 1 });
    let err = VphnCounters::setup(&possible, 9, 1, |_| Some(&lp)).unwrap_err();
    assert_eq!(err, VpaError::TooManyLevels { depth: 9 });
}

#[test]
fn machine_wide_kexec_downs_secondaries_then_the_kexecing_cpu() {
    let topo = machine(2, 2, 4 * GIB, GIB);
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    let cpus: Vec<(Paca, Lppaca)> = (0..4)
        .map(|c| {
            (
                Paca::from_placement(&p, c, 0x100 + c).unwrap(),
                Lppaca::linux_init(),
            )
        })
        .collect();
    let mut hv = Recorder::default();
    let k = percpu::vpa::kexec_shutdown(&mut hv, &cpus, 2, true, false, CrashPolicy::Deregister)
        .unwrap();
    let order: Vec<u32> = k.calls.iter().map(|c| c.0).collect();
    assert_eq!(order, vec![0, 1, 3, 2]);
    // Each CPU deregisters its own SLB shadow then VPA (no DTL was enabled).
    let procs: Vec<(Sub, u64)> = hv.vpa_calls().into_iter().map(|c| (c.0, c.1)).collect();
    let mut expect = Vec::new();
    for cpu in [0u64, 1, 3, 2] {
        expect.push((Sub::DeregisterSlb, 0x100 + cpu));
        expect.push((Sub::DeregisterVpa, 0x100 + cpu));
    }
    assert_eq!(procs, expect);
    assert_eq!(k.kexec_paca.paca_index, 2);
    assert_eq!(k.kexec_paca.lppaca_ptr, None);
    // Crash under the pre-6.1 policy: no hcall from any CPU, the copy is still made.
    let mut hv = Recorder::default();
    let k =
        percpu::vpa::kexec_shutdown(&mut hv, &cpus, 0, true, true, CrashPolicy::NoHcalls).unwrap();
    assert!(hv.calls.is_empty());
    assert!(k.calls.iter().all(|c| c.1.is_empty()));
    assert_eq!(k.kexec_paca.lppaca_ptr, None);
    assert!(
        percpu::vpa::kexec_shutdown(&mut hv, &cpus, 9, true, true, CrashPolicy::NoHcalls).is_none()
    );
}
