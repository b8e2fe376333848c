//! `numaboot verify` end to end: the two real boots (with and without a topology), logs
//! synthesised from plans of the same machines (identical, then with structures moved),
//! and unusable input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use memblock::Memblock;
use percpu::{Placement, PlanConfig, Strategy};
use phys::PhysSize;
use topology::Topology;

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

fn data(name: &str) -> String {
    format!(
        "{}/../bootlog/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = numaboot().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `verify: A of B per-CPU structures and C of D shared structures identical`.
fn summary(stdout: &str) -> [u32; 4] {
    let last = stdout.lines().last().unwrap();
    let n: Vec<u32> = last
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(last.starts_with("verify: ") && n.len() == 4, "{last}");
    [n[0], n[1], n[2], n[3]]
}

#[test]
fn a_real_boot_without_topology_prints_the_placement_the_log_shows() {
    for (log, slb) in [("r84.log", false), ("h84.log", true)] {
        let text = std::fs::read_to_string(data(log)).unwrap();
        let (code, out, err) = run(&["verify", &data(log), "--format", "json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let cpus = v["cpus"].as_array().unwrap();
        assert_eq!(cpus.len(), 8);
        assert_eq!(v["config"]["mmu"], if slb { "hash" } else { "radix" });
        // Every structure address is the start of a range the kernel reserved, and
        // the node is the kernel's own: the log's `numa: Node N CPUs` lines.
        for row in cpus {
            let cpu = row["cpu"].as_u64().unwrap();
            let node = text
                .lines()
                .filter_map(|l| l.split_once("numa: Node ").map(|x| x.1))
                .find(|l| {
                    let list = l.split_once(" CPUs: ").unwrap().1.trim();
                    topology::parse_id_list(list, 64)
                        .unwrap()
                        .contains(&(cpu as u32))
                })
                .map(|l| l.split_whitespace().next().unwrap().parse::<u64>().unwrap());
            assert_eq!(row["node"].as_u64(), node, "{log} CPU {cpu}");
            let structures = row["structures"].as_array().unwrap();
            assert_eq!(structures.len(), if slb { 8 } else { 7 }, "{log} CPU {cpu}");
            for s in structures {
                let addr =
                    u64::from_str_radix(s["addr"].as_str().unwrap().trim_start_matches("0x"), 16)
                        .unwrap();
                let start = format!("memblock_reserve: [{addr:#018x}-");
                assert!(text.contains(&start), "{log}: {start}");
            }
        }
        let (code, table, _) = run(&["verify", &data(log)]);
        assert_eq!(code, 0);
        assert!(table.starts_with("numaboot verify: "), "{table}");
        assert!(table.contains("nodes from the log"));
        assert_eq!(table.contains("slb_shadow"), slb);
    }
}

#[test]
fn real_boots_match_the_plan_from_the_dumped_and_the_booted_tree() {
    // Debian's 6.1.0-50 kernel under QEMU pseries (8 CPUs, 4 nodes, the last
    // memoryless), radix and hash: every structure the plan makes from QEMU's dump (or
    // from the tree the kernel really booted from, read out of guest memory) and the
    // default kernel facts (that kernel's symbols) is where the boot put it.
    let fixture = |name: &str| {
        format!(
            "{}/../topology/fixtures/linux-6.1/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    for (log, trees, per_cpu, shared) in [
        (
            "r84.log",
            [data("r84.dtb"), fixture("r84.booted.dtb")],
            56,
            9,
        ),
        (
            "h84.log",
            [data("h84.dtb"), fixture("h84.booted.dtb")],
            64,
            4,
        ),
    ] {
        for dtb in &trees {
            let (code, out, err) = run(&["verify", &data(log), dtb]);
            assert_eq!(code, 0, "{log} {dtb}: {out}{err}");
            assert_eq!(summary(&out), [per_cpu, per_cpu, shared, shared], "{out}");
            assert!(out.contains("from the log:"), "{out}");
            // JSON says the same, entry by entry.
            let (_, json, _) = run(&["verify", &data(log), dtb, "-f", "json"]);
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["summary"]["per_cpu"]["total"], per_cpu);
            assert_eq!(v["summary"]["per_cpu"]["identical"], per_cpu);
            let entries = v["entries"].as_array().unwrap();
            assert_eq!(entries.len() as u32, per_cpu + shared);
            assert!(
                entries.iter().all(|e| e["verdict"] == "identical"),
                "{json}"
            );
        }
    }
}

/// Verifies every boot of a fixture directory (log, dumped and booted tree) and returns
/// how many there were.
fn verify_fixture_dir(version: &str) -> usize {
    let dir = format!(
        "{}/../topology/fixtures/{version}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut boots = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.to_str().and_then(|p| p.strip_suffix(".log")) else {
            continue;
        };
        for tree in ["dumped", "booted"] {
            let dtb = format!("{name}.{tree}.dtb");
            // The SLOF boot has only its booted tree: QEMU's dump is not predicted for
            // SLOF, which builds a device tree of its own.
            if !Path::new(&dtb).exists() {
                continue;
            }
            // No option: the kernel version, MMU, page size and paca size come from
            // the log, the kernel symbols are the defaults of Debian's build.
            let (code, out, err) = run(&["verify", path.to_str().unwrap(), &dtb]);
            assert_eq!(code, 0, "{dtb}: {out}{err}");
            let [a, b, c, d] = summary(&out);
            assert!(a == b && c == d && b > 0, "{dtb}: {out}");
        }
        boots += 1;
    }
    boots
}

#[test]
fn every_real_6_1_boot_fixture_matches_its_plan() {
    // The fifteen boots of crates/topology/fixtures/linux-6.1 (README there): radix and
    // hash, VOF and SLOF, 2 to 16 CPUs, 1 to 4 nodes, memoryless and CPU-only nodes,
    // maxcpus above the present CPUs, RMAs of 512 MiB and 1 GiB, crash kernels, a XIVE-only
    // interrupt controller.
    assert_eq!(verify_fixture_dir("linux-6.1"), 15);
}

#[test]
fn every_real_6_12_boot_fixture_matches_its_plan() {
    // Debian 13's 6.12 with 4 KiB and 64 KiB pages, radix and hash, XICS, 3 to 16 CPUs
    // (crates/topology/fixtures/linux-6.12).
    assert_eq!(verify_fixture_dir("linux-6.12"), 10);
}

#[test]
fn a_real_boot_differs_from_a_plan_with_other_kernel_facts() {
    // The same boot against a plan that assumes a 32 MiB kernel and a 0xa80 paca: the
    // boot CPU's pacas and the stacks move, and each difference is one line.
    let (code, out, _) = run(&[
        "verify",
        &data("r84.log"),
        &data("r84.dtb"),
        "--kernel-end",
        "0x2000000",
        "--paca-size",
        "0xa80",
    ]);
    assert_eq!(code, 1, "{out}");
    let [a, b, c, d] = summary(&out);
    let differing = out
        .lines()
        .filter(|l| {
            [
                "size differs",
                "moved, same node",
                "other node",
                "missing in log",
                "missing in plan",
            ]
            .iter()
            .any(|v| l.ends_with(v))
        })
        .count() as u32;
    assert!(differing > 0);
    assert_eq!(differing, (b - a) + (d - c), "{out}");
    assert!(out.contains("paca") && out.contains("0x2000000"), "{out}");
}

fn plan(topo: &Topology, radix: bool) -> (Placement, PlanConfig) {
    let mut cfg = PlanConfig::for_topology(topo, Strategy::Linux61);
    cfg.radix = radix;
    cfg.paca_size = PhysSize::new(3328);
    (percpu::boot(&mut Memblock::new(), topo, &cfg).unwrap(), cfg)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_log_rendered_from_a_plan_verifies_identical_and_moves_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let default_toml = include_str!("../assets/default-machine.toml");
    let default_path = write(dir.path(), "default.toml", default_toml);
    // TOML machines: a device tree would bring boot facts (its own size, RTAS, the
    // unflattened tree) that this library-level plan does not set.
    let machines: Vec<(String, Topology)> = vec![(
        default_path.display().to_string(),
        topology::topology_from_toml(default_toml).unwrap(),
    )];
    for (path, topo) in &machines {
        for radix in [false, true] {
            let (p, _) = plan(topo, radix);
            let text = bootlog::render_log(&p, bootlog::Prefix::Timestamp).unwrap();
            let log = write(dir.path(), "plan.log", &text);
            let log = log.to_str().unwrap();
            let (code, out, err) = run(&["verify", log, path]);
            assert_eq!(code, 0, "{path} radix={radix}: {out}{err}");
            let [a, b, c, d] = summary(&out);
            let per_cpu = p.live().filter(|x| x.kind.is_per_cpu()).count() as u32;
            let shared = p.live().count() as u32 - per_cpu;
            assert_eq!([a, b, c, d], [per_cpu, per_cpu, shared, shared], "{out}");

            // Swap the results of the first two stacks (CPU 0's soft and hard IRQ
            // stacks): two structures moved, on the same node.
            let lines: Vec<&str> = text.lines().collect();
            let stack: Vec<usize> = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.ends_with("alloc_stack+0x50/0x7c"))
                .map(|(i, _)| i + 1)
                .take(2)
                .collect();
            let mut swapped: Vec<&str> = lines.clone();
            swapped.swap(stack[0], stack[1]);
            let log = write(dir.path(), "swapped.log", &(swapped.join("\n") + "\n"));
            let (code, out, _) = run(&["verify", log.to_str().unwrap(), path]);
            assert_eq!(code, 1, "{out}");
            let diff: Vec<&str> = out
                .lines()
                .filter(|l| l.ends_with("moved, same node"))
                .collect();
            assert_eq!(diff.len(), 2, "{out}");
            assert!(diff[0].starts_with("softirq stack") && diff[1].starts_with("hardirq stack"));
            assert!(diff
                .iter()
                .all(|l| l.split_whitespace().nth(2) == Some("0")));
            assert_eq!(summary(&out), [per_cpu - 2, per_cpu, shared, shared]);
        }
    }
}

#[test]
fn unusable_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.log",
        "[    0.000000] hello\n[    0.000000] memblock_reserve: [0x0-0xfff] early_init_devtree+0x164/0x490\n[    0.000000] memblock_alloc_try_nid: 12 bytes align=0x8 nid=x from=0x0 max_addr=0x0 f+0x1/0x2\n",
    );
    let (code, out, err) = run(&["verify", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "numaboot: {}: line 3: bad number in nid=",
            bad.display()
        )),
        "{err}"
    );

    let empty = write(dir.path(), "empty.log", "no memblock here\n");
    let (code, _, err) = run(&["verify", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("memblock=debug"), "{err}");

    let (code, _, err) = run(&["verify", &data("missing.log")]);
    assert_eq!(code, 2);
    // The file first, as in every other error.
    assert!(
        err.starts_with(&format!("numaboot: {}: cannot read: ", data("missing.log"))),
        "{err}"
    );

    let (code, _, err) = run(&[
        "verify",
        &data("r84.log"),
        &data("r84.dtb"),
        "--possible",
        "0-3",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("8 CPUs but 4 CPUs are possible"), "{err}");
}

#[test]
fn a_reservation_the_log_lacks_fails_even_when_no_structure_moves() {
    // The crash kernel (512 MiB, below every per-CPU structure's search range) moves
    // nothing; dropping its reservation from the log must still fail the verify.
    let dir = tempfile::tempdir().unwrap();
    let fixtures = format!(
        "{}/../topology/fixtures/linux-6.1",
        env!("CARGO_MANIFEST_DIR")
    );
    let log = std::fs::read_to_string(format!("{fixtures}/ck.log")).unwrap();
    let cut: String = log
        .lines()
        .filter(|l| !l.contains("reserve_crashkernel"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(cut.len(), log.len());
    let path = write(dir.path(), "ck.log", &cut);
    let dtb = format!("{fixtures}/ck.dumped.dtb");
    let (code, out, _) = run(&["verify", path.to_str().unwrap(), &dtb]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("reserved only in the plan: [0x20000000-0x2fffffff]"),
        "{out}"
    );
    let [a, b, c, d] = summary(&out);
    assert!(a == b && c == d, "{out}");
}
