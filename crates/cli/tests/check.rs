//! `numaboot check` end to end: exit 0, exit 1 with reasons, exit 2 on bad input.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/../topology/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn toml(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("m.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn default_machine_and_fixtures_pass() {
    numaboot()
        .arg("check")
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("ok embedded default machine"));
    for f in [
        "qemu/one-node.dtb",
        "qemu/two-node.dtb",
        "qemu/four-node-memoryless.dtb",
        "qemu/cpuless-node.dtb",
        "crafted/powernv.dtb",
        "crafted/form2.dtb",
        "crafted/drmem-v1.dtb",
        "crafted/drmem-v2.dtb",
    ] {
        for strategy in ["linux", "linux-4.15"] {
            numaboot()
                .args(["check", &fixture(f), "--strategy", strategy])
                .assert()
                .code(0)
                .stdout(predicate::str::starts_with("ok "));
        }
    }
}

#[test]
fn rma_too_small_for_all_cpus_fails() {
    // 64 CPUs need more than the 1.5 MiB the default kernel image (Debian 6.1, `_end`
    // 0x2880000) leaves below a 42 MiB RMA; 4 CPUs fit.
    let dir = tempfile::tempdir().unwrap();
    let path = toml(
        &dir,
        "rma_size = \"0x2a00000\"\n[[nodes]]\nid = 0\ncpus = \"0-63\"\nmemory = [\"0x0-0x100000000\"]\n",
    );
    numaboot()
        .args(["check", path.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("FAIL "))
        .stdout(predicate::str::contains(
            "does not fit: cannot allocate the",
        ))
        .stdout(predicate::str::contains("below 0x2a00000"));
    // The same machine with a few CPUs fits.
    numaboot()
        .args(["check", path.to_str().unwrap(), "--possible", "0-3"])
        .assert()
        .code(0);
}

#[test]
fn linux_415_frees_lppacas_of_possible_cpus() {
    // A sparse possible mask: free_lppacas keeps num_possible_cpus() - 1 entries (one
    // 64 KiB page for 65 CPUs) while CPU 127's lppaca sits 126 KiB into the array.
    numaboot()
        .args([
            "check",
            "--strategy",
            "linux-4.15",
            "--possible",
            "0,64-127",
        ])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("CPU 127 lppaca: freed at")
                .or(predicate::str::contains("... and")),
        )
        .stdout(predicate::str::contains("while the CPU is possible"));
    // Linux 6.1 allocates each lppaca on its own: the same mask passes.
    numaboot()
        .args(["check", "--possible", "0,64-127"])
        .assert()
        .code(0);
}

#[test]
fn min_locality() {
    // The default machine's RMA is on node 0 only: of the 8 structures of each CPU of
    // nodes 1-3, only the 2 IRQ stacks are local: (16*8 + 48*2) / 512 = 43.75%.
    numaboot()
        .args(["check", "--min-locality", "90"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("locality 43.8% is below"))
        .stdout(predicate::str::contains("node 1 25.0%"));
    numaboot()
        .args(["check", "--min-locality", "40"])
        .assert()
        .code(0);
    // Radix lifts the RMA limit: everything but the machine-check stacks (below 4 GiB
    // for RTAS, so on node 0) is local.
    numaboot()
        .args(["check", "--radix", "--min-locality", "85"])
        .assert()
        .code(0);
}

#[test]
fn node_memory_above_rma_is_reported_with_min_locality() {
    let dir = tempfile::tempdir().unwrap();
    let path = toml(
        &dir,
        "rma_size = \"0x40000000\"\n\
         [[nodes]]\nid = 0\ncpus = \"0-3\"\nmemory = [\"0x0-0x80000000\"]\n\
         [[nodes]]\nid = 1\ncpus = \"4-7\"\nmemory = [\"0x80000000-0x100000000\"]\n",
    );
    // Fits and is PAPR-correct, so plain check passes ...
    numaboot()
        .args(["check", path.to_str().unwrap()])
        .assert()
        .code(0);
    // ... but node 1 (all memory above the 1 GiB RMA) cannot hold its CPUs' pacas,
    // lppacas, SLB shadows and emergency stacks: 2 of 8 local.
    numaboot()
        .args(["check", path.to_str().unwrap(), "--min-locality", "100"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("node 1 25.0%"));
}

#[test]
fn min_locality_must_be_a_percentage() {
    for bad in ["NaN", "-1", "100.5", "inf"] {
        let out = numaboot()
            .args(["check", "--min-locality", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("--min-locality"), "{err}");
    }
    for good in ["0", "100"] {
        let code = if good == "0" { 0 } else { 1 };
        numaboot()
            .args(["check", "--min-locality", good])
            .assert()
            .code(code);
    }
}

#[test]
fn linux415_keeps_lppacas_when_the_paca_array_does_not_shrink() {
    // nr_cpu_ids 128 with possible {0, 127}: setup_nr_cpu_ids leaves nr_cpu_ids at 128,
    // so 4.15's free_unused_pacas returns before free_lppacas: CPU 127's lppaca stays
    // reserved and nothing is freed while in use.
    numaboot()
        .args([
            "check",
            "--strategy",
            "linux-4.15",
            "--nr-cpus",
            "128",
            "--possible",
            "0,127",
        ])
        .assert()
        .code(0);
}

#[test]
fn strategies_beyond_linux_pass_their_rules() {
    for f in [
        "qemu/two-node.dtb",
        "qemu/four-node-memoryless.dtb",
        "crafted/powernv.dtb",
        "linux-6.1/h84.booted.dtb",
    ] {
        for s in ["packed-vpa", "per-cpu-block", "per-node-block", "rma-split"] {
            for profile in ["kvm", "qemu"] {
                numaboot()
                    .args([
                        "check",
                        &fixture(f),
                        "--strategy",
                        s,
                        "--hv-profile",
                        profile,
                    ])
                    .assert()
                    .code(0)
                    .stdout(predicate::str::starts_with("ok "));
            }
        }
    }
}

#[test]
fn a_640_byte_lppaca_fails_against_pre_414_kvm() {
    for s in ["packed-vpa", "per-cpu-block", "per-node-block", "rma-split"] {
        let out = numaboot()
            .args(["check", "--strategy", s, "--hv-profile", "kvm-pre-4.14"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{s}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&format!("{s}, 64 problems")), "{text}");
        assert!(
            text.contains(
                "kvm-pre-4.14 refuses H_REGISTER_VPA with H_PARAMETER: size field below the \
                 minimum (size field 640, kvm-pre-4.14 minimum 1024)"
            ),
            "{text}"
        );
    }
    // Linux's 1 KiB size field: accepted by every profile.
    for profile in ["kvm", "kvm-pre-4.14", "qemu"] {
        numaboot()
            .args(["check", "--hv-profile", profile])
            .assert()
            .code(0)
            .stdout(predicate::str::contains(format!(
                "every registration accepted by the {profile} model"
            )));
    }
}

#[test]
fn an_unknown_profile_is_refused() {
    numaboot()
        .args(["check", "--hv-profile", "xen"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown profile"));
}
