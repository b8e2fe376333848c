//! Runs every fuzz target of this crate over its checked-in seeds (`fuzz_seeds`
//! explains how and why).

/// The function each target's `fuzz_target!` calls.
fn runner(target: &str) -> Option<fn(&[u8])> {
    match target {
        "hcalls_kvm" => Some(|d| vpa_hv_fuzz::run(vpa_hv::Profile::Kvm, d)),
        "hcalls_kvm_pre414" => Some(|d| vpa_hv_fuzz::run(vpa_hv::Profile::KvmPre414, d)),
        "hcalls_qemu" => Some(|d| vpa_hv_fuzz::run(vpa_hv::Profile::Qemu, d)),
        _ => None,
    }
}

#[test]
fn every_target_runs_its_seeds() {
    fuzz_seeds::run_every_target(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), runner);
}
