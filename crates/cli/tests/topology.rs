//! `numaboot topology` end to end on the committed fixtures.

use assert_cmd::Command;
use predicates::prelude::*;

fn fixture(name: &str) -> String {
    format!("{}/../topology/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

#[test]
fn prints_nodes_cpus_memory_distances_and_rma() {
    // QEMU: -m 1G -smp 4, nodes 0 and 1 with CPUs 0-1 / 2-3 and 512 MiB each.
    numaboot()
        .args(["topology", &fixture("qemu/two-node.dtb")])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "node 0: 2 CPUs 0-1 (hw 0-1), memory 512 MiB",
        ))
        .stdout(predicate::str::contains(
            "node 1: 2 CPUs 2-3 (hw 2-3), memory 512 MiB",
        ))
        .stdout(predicate::str::contains("0x20000000-0x40000000"))
        .stdout(predicate::str::contains("real-mode limit 0x20000000"))
        .stdout(predicate::str::is_match(r"(?m)^\s+1\s+20\s+10$").unwrap());
}

#[test]
fn json_output() {
    let out = numaboot()
        .args([
            "topology",
            &fixture("qemu/four-node-memoryless.dtb"),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "dtb");
    assert_eq!(v["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(v["nodes"][3]["memory_bytes"], 0);
    assert_eq!(v["nodes"][3]["cpus"], serde_json::json!([6, 7]));
    assert_eq!(v["distances"][0][3], 80);
    assert_eq!(v["rma_size"], "0x40000000");
    assert_eq!(v["hypervisor_mode"], false);
}

#[test]
fn toml_input_and_rma_override() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        "[[nodes]]\nid = 0\ncpus = \"0-3\"\nmemory = [\"0x0-0x80000000\"]\n\
         [[nodes]]\nid = 2\nmemory = [\"0x80000000-0x100000000\"]\n",
    )
    .unwrap();
    numaboot()
        .args([
            "topology",
            path.to_str().unwrap(),
            "--rma-size",
            "0x10000000",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("(TOML)"))
        .stdout(predicate::str::contains(
            "node 2: 0 CPUs none (hw none), memory 2 GiB",
        ))
        .stdout(predicate::str::contains("real-mode limit 0x10000000"));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let blob = std::fs::read(fixture("qemu/two-node.dtb")).unwrap();
    let cut = dir.path().join("cut.dtb");
    std::fs::write(&cut, &blob[..blob.len() / 2]).unwrap();
    numaboot()
        .args(["topology", cut.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("truncated"));

    let toml = dir.path().join("bad.toml");
    std::fs::write(&toml, "[[nodes]]\nid = 0\ncpus = \"0-3,3\"\n").unwrap();
    numaboot()
        .args(["topology", toml.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nodes[0].cpus: CPU 3 is listed twice",
        ));

    numaboot()
        .args(["topology", "/nonexistent/x.dtb"])
        .assert()
        .code(2);
}

#[test]
fn property_errors_name_path_and_property() {
    // Corrupt the count cell of CPU 0's ibm,associativity <5 0 0 0 0 0> to 0x50.
    let mut blob = std::fs::read(fixture("qemu/two-node.dtb")).unwrap();
    let needle: Vec<u8> = [5u32, 0, 0, 0, 0, 0]
        .iter()
        .flat_map(|c| c.to_be_bytes())
        .collect();
    let at = blob
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap();
    blob[at + 3] = 0x50;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.dtb");
    std::fs::write(&p, blob).unwrap();
    numaboot()
        .args(["topology", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "/cpus/PowerPC,POWER9@0: property ibm,associativity: count 80",
        ));
}

#[test]
fn dtb_only_options_are_refused_for_toml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        "[[nodes]]\nid = 0\ncpus = \"0-3\"\nmemory = [\"0x0-0x80000000\"]\n",
    )
    .unwrap();
    for args in [
        &["--mmu", "radix"][..],
        &["--affinity", "form2"],
        &["--mmu", "hash"],
        &["--radix"],
        &["--hash"],
    ] {
        let (opt, val) = (args[0], args.get(1).copied().unwrap_or(""));
        let out = numaboot()
            .args(["topology", path.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{opt} {val}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(opt) && err.contains("device trees only"),
            "{err}"
        );
    }
    // Without them it is fine.
    numaboot()
        .args(["topology", path.to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn rma_override_replaces_the_first_block_line() {
    // two-node: first memory block 0x0 size 512 MiB under the ISA 3.0 clamp.
    numaboot()
        .args(["topology", &fixture("qemu/two-node.dtb")])
        .assert()
        .success()
        .stdout(predicate::str::contains("first memory block"))
        .stdout(predicate::str::contains("set by --rma").not());
    // `--rma` as in `plan`, with the older `--rma-size` still accepted.
    for opt in ["--rma", "--rma-size"] {
        numaboot()
            .args(["topology", &fixture("qemu/two-node.dtb"), opt, "0x8000000"])
            .assert()
            .success()
            .stdout(predicate::str::contains("real-mode limit 0x8000000"))
            .stdout(predicate::str::contains("set by --rma"))
            .stdout(predicate::str::contains("first memory block").not());
    }
}
