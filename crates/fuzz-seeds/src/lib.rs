//! Runs every fuzz target of a cargo-fuzz crate over its checked-in seeds
//! (`seeds/<target>/`), so that the target bodies are built and exercised by a plain
//! `cargo test` on stable Rust; fuzzing itself (`cargo +nightly fuzz run <target>
//! seeds/<target>`) needs nightly.
//!
//! Each fuzz crate (`crates/*/fuzz`) has one test that names the function each
//! `fuzz_target!` calls and hands it to [`run_every_target`]. Every `[[bin]]` of the
//! fuzz crate's Cargo.toml must have a runner and at least one seed, so a new target
//! cannot go untested.
//!
//! ```no_run
//! fn runner(target: &str) -> Option<fn(&[u8])> {
//!     match target {
//!         "parse" => Some(|data| drop(core::str::from_utf8(data))),
//!         _ => None,
//!     }
//! }
//! fuzz_seeds::run_every_target(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), runner);
//! ```
//!
//! Test support only: it panics (fails the test) on anything missing.

use std::path::Path;

/// One fuzz target's body: what its `fuzz_target!` calls with the input.
pub type Target = fn(&[u8]);

/// The `name = "..."` of every `[[bin]]` table of a Cargo.toml.
pub fn targets(manifest: &str) -> Vec<String> {
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

/// Runs, for every `[[bin]]` target of `crate_root/Cargo.toml`, the function `runner`
/// gives for it over every file of `crate_root/seeds/<target>/`, and over a few
/// truncations of each (a cut-off input must be handled as calmly). Panics, failing the
/// calling test, when the manifest has no target, a target has no runner or no seed, or
/// a run panics (the seed is printed first so the failure names it).
pub fn run_every_target(crate_root: &Path, runner: fn(&str) -> Option<Target>) {
    let manifest = std::fs::read_to_string(crate_root.join("Cargo.toml"))
        .unwrap_or_else(|e| panic!("{}/Cargo.toml: {e}", crate_root.display()));
    let targets = targets(&manifest);
    assert!(!targets.is_empty(), "no [[bin]] in Cargo.toml");
    for target in targets {
        let run = runner(&target).unwrap_or_else(|| panic!("no seed runner for {target}"));
        let dir = crate_root.join("seeds").join(&target);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("seed directory entry").path())
            .filter(|p| p.is_file())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        for seed in seeds {
            let data = std::fs::read(&seed).unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
            println!("{target}: {}", seed.display());
            run(&data);
            for cut in [1, 2, 3, 4, data.len() / 2] {
                run(&data[..data.len().saturating_sub(cut)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::targets;

    #[test]
    fn bin_names_only_from_bin_tables() {
        let manifest = "[package]\nname = \"x-fuzz\"\n\n[[bin]]\nname = \"a\"\npath = \"a.rs\"\n\n[dependencies]\nname = \"not-a-bin\"\n\n[[bin]]\nname=\"b\"\n";
        assert_eq!(targets(manifest), ["a", "b"]);
    }
}
