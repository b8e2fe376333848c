//! `numaboot compare` end to end.

use assert_cmd::Command;
use predicates::prelude::*;

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/../topology/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn default_machine_side_by_side() {
    let out = numaboot().arg("compare").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text
        .lines()
        .find(|l| l.contains("linux-6.1 "))
        .expect("a header naming every strategy");
    assert!(header.find("linux-6.12") < header.find("linux-6.1 "));
    assert!(header.find("linux-6.1 ") < header.find("linux-4.15"));
    for row in [
        "node-local",
        "remote (off CPU's node)",
        "fallbacks (node not got)",
        "bytes used",
        "bytes wasted",
        "reserved regions",
        "node 3 local",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(row)),
            "no row {row}:\n{text}"
        );
    }
    // 6.12 and 6.1 allocate each structure on its own (many regions); 4.15 uses a few
    // arrays.
    let regions: Vec<u64> = text
        .lines()
        .find(|l| l.starts_with("reserved regions"))
        .unwrap()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(regions.len(), 3);
    assert!(regions[1] > regions[2], "{regions:?}");
    assert!(regions[0] > regions[2], "{regions:?}");
}

#[test]
fn json_and_fixtures() {
    for f in [
        "qemu/two-node.dtb",
        "qemu/four-node-memoryless.dtb",
        "crafted/powernv.dtb",
    ] {
        let out = numaboot()
            .args(["compare", &fixture(f), "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{f}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["schema"], "numaboot-compare");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["machine"]["format"], "dtb");
        let s = v["strategies"].as_array().unwrap();
        let names: Vec<&str> = s.iter().map(|x| x["strategy"].as_str().unwrap()).collect();
        assert_eq!(names, ["linux-6.12", "linux-6.1", "linux-4.15"]);
        for x in s {
            assert!(x["error"].is_null(), "{f}: {x}");
            assert!(x["totals"]["structures"].as_u64().unwrap() > 0);
        }
    }
    // QEMU two-node: the RMA is node 0's 512 MiB, so in both kernels node 1's
    // real-mode structures are remote; 6.1 still keeps node 0's CPUs fully local.
    let out = numaboot()
        .args(["compare", &fixture("qemu/two-node.dtb"), "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node0 = &v["strategies"][1]["nodes"][0];
    assert_eq!(v["strategies"][1]["strategy"], "linux-6.1");
    assert_eq!(node0["node"], 0);
    assert_eq!(node0["locality_percent"], 100.0);
}

#[test]
fn a_strategy_that_does_not_fit_is_shown() {
    numaboot()
        .args(["compare", "--rma", "33M"])
        .assert()
        .success()
        .stdout(predicate::str::contains("does not fit"));
}

#[test]
fn remote_counts_what_fallbacks_miss() {
    // The default machine: a 1 GiB RMA in node 0, 16 CPUs per node, hash.
    // 6.1: each CPU of nodes 1-3 asks for its node for its paca, lppaca, SLB shadow and
    // 3 emergency stacks, which must be below the RMA: 48 * 6 = 288 fallbacks, and those
    // are all its remote structures (IRQ stacks are local).
    // 4.15 asks for no node at all: 0 fallbacks, yet the arrays are below 256 MiB (node
    // 0) and the emergency stacks below the 1 GiB RMA (node 0), IRQ stacks top-down in
    // node 3: nodes 1-2's CPUs have all 8 (32 * 8 = 256) remote, node 3's CPUs 6
    // (16 * 6 = 96), node 0's CPUs their 2 IRQ stacks (16 * 2 = 32): 384.
    let out = numaboot().args(["compare", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let totals = |i: usize| &v["strategies"][i]["totals"];
    assert_eq!(v["strategies"][1]["strategy"], "linux-6.1");
    assert_eq!(totals(1)["fallbacks"], 288);
    assert_eq!(totals(1)["remote"], 288);
    assert_eq!(totals(2)["fallbacks"], 0);
    assert_eq!(totals(2)["remote"], 384);
    // 6.12 places the same structures the same way (bigger stacks, same nodes).
    assert_eq!(totals(0)["fallbacks"], 288);
}
