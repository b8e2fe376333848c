//! Runs every fuzz target of this crate over its checked-in seeds (`seeds/<target>/`),
//! so that the target bodies are built and exercised by a plain `cargo test` on stable
//! Rust; fuzzing itself (`cargo +nightly fuzz run <target> seeds/<target>`) needs
//! nightly. Every `[[bin]]` of Cargo.toml must have a runner here and at least one
//! seed, so a new target cannot go untested.

use std::path::Path;

/// The function each target's `fuzz_target!` calls.
fn runner(target: &str) -> Option<fn(&[u8])> {
    match target {
        "hcalls_kvm" => Some(|d| vpa_hv_fuzz::run(vpa_hv::Profile::Kvm, d)),
        "hcalls_kvm_pre414" => Some(|d| vpa_hv_fuzz::run(vpa_hv::Profile::KvmPre414, d)),
        "hcalls_qemu" => Some(|d| vpa_hv_fuzz::run(vpa_hv::Profile::Qemu, d)),
        _ => None,
    }
}

/// The `name = "..."` of every `[[bin]]` table of the crate's Cargo.toml.
fn targets(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin {
            if let Some(v) = line.strip_prefix("name") {
                let v = v.trim_start().trim_start_matches('=').trim();
                names.push(v.trim_matches('"').to_string());
            }
        }
    }
    names
}

#[test]
fn every_target_runs_its_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let targets = targets(&manifest);
    assert!(!targets.is_empty(), "no [[bin]] in Cargo.toml");
    for target in targets {
        let run = runner(&target).unwrap_or_else(|| panic!("no seed runner for {target}"));
        let dir = root.join("seeds").join(&target);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap();
            // Printed so that a panicking seed is named in the failure output.
            println!("{target}: {}", seed.display());
            run(&data);
            // A few truncations too: a cut-off input must be handled as calmly.
            for cut in [1, 2, 3, 4, data.len() / 2] {
                run(&data[..data.len().saturating_sub(cut)]);
            }
        }
    }
}
