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
            .args(["compare", &fixture(f), "--format", "json"])
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

const EVERY: &str = "linux-6.12,linux,linux-4.15,packed-vpa,per-cpu-block,per-node-block,rma-split";

fn every_fixture() -> Vec<String> {
    let root = format!("{}/../topology/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["qemu", "crafted", "linux-6.1", "linux-6.12"] {
        let mut names: Vec<String> = std::fs::read_dir(format!("{root}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".dtb"))
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| format!("{root}/{dir}/{n}")));
    }
    assert!(out.len() > 30, "{}", out.len());
    out
}

fn compare_json(args: &[&str]) -> serde_json::Value {
    let out = numaboot().arg("compare").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_strategy_on_every_fixture() {
    for f in every_fixture() {
        let v = compare_json(&[&f, "--json", "--strategy", EVERY]);
        let s = v["strategies"].as_array().unwrap();
        let names: Vec<&str> = s.iter().map(|x| x["strategy"].as_str().unwrap()).collect();
        assert_eq!(
            names.join(","),
            EVERY.replace("linux,", "linux-6.1,"),
            "{f}"
        );
        let by = |n: &str| s.iter().find(|x| x["strategy"] == n).unwrap();
        for x in s {
            assert!(x["error"].is_null(), "{f}: {x}");
            let c = &x["costs"];
            assert!(c["paca_data_reserved"].as_u64().unwrap() > 0, "{f}");
            assert_eq!(
                c["paca_data_wasted"].as_u64().unwrap(),
                c["paca_data_reserved"].as_u64().unwrap() - c["paca_data_used"].as_u64().unwrap()
            );
        }
        let linux = &by("linux-6.1")["costs"];
        let hv = by("linux-6.1")["config"]["hypervisor_mode"] == true;
        for n in ["packed-vpa", "per-cpu-block", "per-node-block", "rma-split"] {
            let x = by(n);
            // Never more paca data than Linux; strictly less with lppacas (not in
            // hypervisor mode) for the blocks, which waste nothing on a 3328-byte paca.
            let (mine, theirs) = (
                x["costs"]["paca_data_reserved"].as_u64().unwrap(),
                linux["paca_data_reserved"].as_u64().unwrap(),
            );
            if n.ends_with("block") && !hv {
                assert!(mine < theirs, "{f} {n}: {mine} >= {theirs}");
                assert_eq!(x["costs"]["paca_data_wasted"], 0, "{f} {n}");
            }
            assert!(
                x["totals"]["reserved_regions"].as_u64()
                    <= by("linux-6.1")["totals"]["reserved_regions"].as_u64(),
                "{f} {n}"
            );
            // The same structures, as many local at least.
            assert_eq!(
                x["totals"]["structures"],
                by("linux-6.1")["totals"]["structures"]
            );
            assert!(x["totals"]["local"].as_u64() >= by("linux-6.1")["totals"]["local"].as_u64());
        }
    }
}

#[test]
fn strategies_side_by_side_with_savings() {
    let out = numaboot()
        .args(["compare", "--strategy", "linux,packed-vpa,per-node-block"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().find(|l| l.contains("packed-vpa")).unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(cols, ["linux-6.1", "packed-vpa", "per-node-block"]);
    for row in [
        "paca data reserved",
        "paca data per CPU",
        "paca data wasted",
        "paca data node-local",
        "memblock calls",
        "RMA headroom",
        "plan time",
        "paca data saved vs 6.1",
        "regions saved vs 6.1",
        "RMA headroom gained vs 6.1",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(row)),
            "no row {row}:\n{text}"
        );
    }
    // The default machine: 64 CPUs, 16 per node, Debian's 3328-byte paca. Linux
    // reserves 3328 + 1024 + 128 bytes per CPU; per-node-block 640 + 3328 + 128 = 4096:
    // 384 bytes (24 KiB) less, and packed-vpa 384 per CPU less 256 per used page of six.
    let v = compare_json(&["--json", "--strategy", "linux,packed-vpa,per-node-block"]);
    let c = |i: usize, k: &str| v["strategies"][i]["costs"][k].as_u64().unwrap();
    assert_eq!(c(0, "paca_data_reserved"), 64 * (3328 + 1024 + 128));
    assert_eq!(c(2, "paca_data_reserved"), 64 * 4096);
    // Pages: the boot CPU's, then ceil(15/6) + 3 * ceil(16/6) = 3 + 9.
    assert_eq!(c(1, "paca_data_reserved"), 64 * (3328 + 128) + 13 * 4096);
    assert!(c(1, "rma_headroom") > c(0, "rma_headroom"));
    assert!(c(2, "memblock_calls") < c(1, "memblock_calls"));
    assert!(c(1, "memblock_calls") < c(0, "memblock_calls"));
}

#[test]
fn rma_split_shows_node_local_lppacas() {
    let v = compare_json(&["--json", "--strategy", "linux,rma-split"]);
    let c = |i: usize, k: &str| v["strategies"][i]["costs"][k].as_u64().unwrap();
    // Default machine, hash, RMA in node 0: Linux keeps 16 + 16 + 16 of the 192 paca
    // data structures local (node 0's CPUs); rma-split adds the 48 lppacas of nodes 1-3.
    assert_eq!(c(0, "paca_data_local"), 48);
    assert_eq!(c(1, "paca_data_local"), 96);
    // Its real-mode structures (pacas, SLB shadows) still end below the RMA.
    let end = v["strategies"][1]["costs"]["real_mode_end"]
        .as_str()
        .unwrap();
    assert!(u64::from_str_radix(end.trim_start_matches("0x"), 16).unwrap() <= 1 << 30);
}

#[test]
fn an_unknown_strategy_is_refused() {
    numaboot()
        .args(["compare", "--strategy", "linux,packed"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown strategy `packed`"));
}

#[test]
fn format_json_is_the_json_of_the_old_spelling() {
    let new = numaboot()
        .args(["compare", "--format", "json"])
        .output()
        .unwrap();
    let old = numaboot().args(["compare", "--json"]).output().unwrap();
    assert!(new.status.success() && old.status.success());
    let strip = |o: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(o).unwrap();
        // Plan times differ from run to run.
        for s in v["strategies"].as_array_mut().unwrap() {
            if let Some(c) = s.get_mut("costs").and_then(|c| c.as_object_mut()) {
                c.retain(|k, _| !k.contains("time"));
            }
        }
        v
    };
    assert_eq!(strip(&new.stdout), strip(&old.stdout));
    let help = numaboot().args(["compare", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("--format"), "{help}");
    assert!(!help.contains("--json"), "{help}");
}
