//! Runs every fuzz target of this crate over its checked-in seeds (`fuzz_seeds`
//! explains how and why).

/// The function each target's `fuzz_target!` calls.
fn runner(target: &str) -> Option<fn(&[u8])> {
    match target {
        "dtb" => Some(topology_fuzz::dtb),
        "toml" => Some(topology_fuzz::toml),
        _ => None,
    }
}

#[test]
fn every_target_runs_its_seeds() {
    fuzz_seeds::run_every_target(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), runner);
}
