//! The `qemu` profile against real QEMU 7.2's answers to the scripts in `scripts/`.
//!
//! Each `NAME.hvs` has a `NAME.qemu` beside it: what the script printed when it ran
//! live, inside a pseries guest under QEMU 7.2 (TCG, 4 vCPUs, 256 MiB), recorded with
//! `cargo xtask hv-live --record crates/vpa-hv/tests/scripts`; a script error is its
//! last line, `error: line N: ...`. The live runner executes the script on proc-no 0,
//! so the model run starts with vCPU 0 dispatched, as `cargo xtask hv-diff` does.

use std::path::Path;

use vpa_hv::{Partition, Profile, VecRam};

const CPUS: u32 = 4;
const MEM: usize = 256 << 20;

fn model(text: &str) -> String {
    let ids: Vec<u32> = (0..CPUS).collect();
    let mut hv = Partition::new(Profile::Qemu, VecRam::new(MEM), &ids).unwrap();
    hv.dispatch(0).unwrap();
    let mut out = String::new();
    if let Err(e) = vpa_hv::script::run(&mut hv, text, &mut out, false) {
        out.push_str(&format!("error: {e}\n"));
    }
    out
}

#[test]
fn qemu_profile_answers_as_qemu_did() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hvs"))
        .collect();
    entries.sort();
    for script in entries {
        let recorded = script.with_extension("qemu");
        let want = std::fs::read_to_string(&recorded)
            .unwrap_or_else(|e| panic!("{}: {e}", recorded.display()));
        let text = std::fs::read_to_string(&script).unwrap();
        let got = model(&text);
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(g, w, "{} output line {}", script.display(), i + 1);
        }
        assert_eq!(
            got.lines().count(),
            want.lines().count(),
            "{}",
            script.display()
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} recorded scripts");
}
