//! The guest-side VPA code's remaining edges (docs/MUTATION.md): `register_dtl_buffer`
//! zeroes `dtl_idx` before registering the log, VPHN may read all 8 counters, and the
//! error messages.

mod common;

use common::{cfg, machine, run, GIB};
use papr::hcall::{HcallResult, Hypervisor, Opcode, ReturnCode};
use papr::Lppaca;
use percpu::vpa::{vpa_init, GuestFeatures, LppacaAccess, Paca, VpaError, VphnCounters};
use percpu::Strategy;
use phys::PhysAddr;

struct AlwaysYes;

impl Hypervisor for AlwaysYes {
    fn hcall(&mut self, _: Opcode, _: &[u64]) -> HcallResult {
        HcallResult::status(ReturnCode::H_SUCCESS)
    }
}

/// 6.1 `register_dtl_buffer`: `lppaca_of(cpu).dtl_idx = 0` before `register_dtl`, then
/// `dtl_enable_mask = dtl_mask`; with no mask nothing of the DTL is touched.
#[test]
fn a_registered_dtl_starts_at_index_zero() {
    let topo = machine(2, 2, 4 * GIB, GIB);
    let (_, p) = run(&topo, &cfg(&topo, Strategy::Linux61, false));
    let mut paca = Paca::from_placement(&p, 1, 0x101).unwrap();
    paca.dispatch_log = Some(PhysAddr::new(0x4000_0000));
    for mask in [papr::dtl::DTL_LOG_PREEMPT, 0] {
        let mut lp = Lppaca::linux_init();
        lp.set_dtl_idx(0x1234);
        assert_eq!(lp.dtl_idx.get(), 0x1234);
        let features = GuestFeatures {
            splpar: true,
            radix: false,
            altivec: false,
            arch_207s: false,
            dtl_mask: mask,
        };
        let out = vpa_init(&mut AlwaysYes, &paca, &mut lp, &features).unwrap();
        let registered = mask != 0;
        assert_eq!(out.dtl.is_some(), registered);
        assert_eq!(lp.dtl_idx.get(), if registered { 0 } else { 0x1234 });
        assert_eq!(lp.dtl_enable_mask(), mask);
    }
}

/// The lppaca has 8 VPHN counters: a depth of 8 reads them all, 9 is refused.
#[test]
fn vphn_reads_up_to_all_eight_counters() {
    let mut lp = Lppaca::linux_init();
    lp.vphn_assoc_counts = [1, 2, 3, 4, 5, 6, 7, 8];
    let possible = [true];
    let v = VphnCounters::setup(&possible, 8, 1, |_| Some(&lp)).unwrap();
    assert_eq!(v.saved(0), Some(&[1, 2, 3, 4, 5, 6, 7, 8][..]));
    assert_eq!(
        VphnCounters::setup(&possible, 9, 1, |_| Some(&lp)).unwrap_err(),
        VpaError::TooManyLevels { depth: 9 }
    );
}

#[test]
fn errors_say_what_is_missing() {
    assert_eq!(
        VpaError::NoLppaca { cpu: 3 }.to_string(),
        "CPU 3 has no lppaca (NULL lppaca_ptr)"
    );
    assert_eq!(
        VpaError::NoSlbShadow { cpu: 4 }.to_string(),
        "CPU 4 has no SLB shadow to register"
    );
    assert_eq!(
        VpaError::TooManyLevels { depth: 9 }.to_string(),
        "distance_ref_points_depth 9 exceeds the 8 VPHN counters"
    );
}
