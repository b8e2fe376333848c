//! The boot facts `plan` takes from a device tree, a kernel image or a boot log.

use assert_cmd::Command;

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

fn fixture(name: &str) -> String {
    format!(
        "{}/../topology/fixtures/linux-6.1/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `(kind, cpu, addr)` of every structure of `plan ARGS --format json`.
fn structures(args: &[&str]) -> Vec<(String, Option<u64>, String)> {
    let out = numaboot()
        .arg("plan")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut all = Vec::new();
    for c in v["cpus"].as_array().unwrap() {
        for s in c["structures"].as_array().unwrap() {
            all.push((
                s["kind"].as_str().unwrap().to_string(),
                s["cpu"].as_u64(),
                s["addr"].as_str().unwrap().to_string(),
            ));
        }
    }
    for s in v["shared"].as_array().unwrap() {
        all.push((
            s["kind"].as_str().unwrap().to_string(),
            None,
            s["addr"].as_str().unwrap().to_string(),
        ));
    }
    all
}

/// Every `memblock_reserve` start address of a log.
fn reserved_in_log(name: &str) -> Vec<String> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once("memblock_reserve: [").map(|x| x.1))
        .filter_map(|r| r.split_once('-').map(|x| x.0))
        .map(|a| format!("{:#x}", u64::from_str_radix(&a[2..], 16).unwrap()))
        .collect()
}

#[test]
fn facts_from_a_log_give_the_same_plan_as_the_tree() {
    for (boot, mmu) in [("r84", "--radix"), ("h84", "--hash"), ("m", "--radix")] {
        let tree = fixture(&format!("{boot}.dumped.dtb"));
        let log = fixture(&format!("{boot}.log"));
        // The tree does not say which MMU the kernel chose; the log does.
        let from_tree = structures(&[&tree, mmu]);
        let from_log = structures(&[&tree, "--facts-from", &log]);
        assert_eq!(from_tree, from_log, "{boot}");
        // And each address is one the kernel reserved (cpu_to_phys_id is listed by
        // its leaked tail, which starts inside the table).
        let reserved = reserved_in_log(&format!("{boot}.log"));
        for (kind, cpu, addr) in from_log.iter().filter(|s| s.0 != "cpu_to_phys_id") {
            assert!(reserved.contains(addr), "{boot}: {kind} {cpu:?} at {addr}");
        }
    }
}

#[test]
fn facts_from_a_log_move_the_boot_cpu_to_the_logged_kernel_end() {
    // The embedded machine with r84's facts: radix (from the log), the boot CPU's paca
    // right after the logged _end (0x2880000), bottom-up.
    let all = structures(&["--facts-from", &fixture("r84.log")]);
    let paca0 = all
        .iter()
        .find(|(k, c, _)| k == "paca" && *c == Some(0))
        .unwrap();
    assert_eq!(paca0.2, "0x2880000");
    assert!(all.iter().any(|(k, _, _)| k == "process_table"), "radix");
    assert!(all.iter().any(|(k, _, _)| k == "rtas_buffer"));
    assert!(all.iter().any(|(k, _, _)| k == "device_tree"));
}

#[test]
fn a_kernel_end_moves_the_boot_cpu() {
    let all = structures(&["--kernel-end", "0x3000000"]);
    let paca0 = all
        .iter()
        .find(|(k, c, _)| k == "paca" && *c == Some(0))
        .unwrap();
    assert_eq!(paca0.2, "0x3000000");
}

#[test]
fn unusable_boot_facts_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("empty.log");
    std::fs::write(&log, "[    0.000000] hello\n").unwrap();
    let out = numaboot()
        .args(["plan", "--facts-from", log.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("empty.log") && err.contains("early_init_devtree"),
        "{err}"
    );

    let bad = dir.path().join("bad.log");
    std::fs::write(&bad, "memblock_reserve: [0x10-zz] x+0x1/0x2\n").unwrap();
    let out = numaboot()
        .args(["plan", "--facts-from", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 1"), "{err}");

    let not_elf = dir.path().join("vmlinux");
    std::fs::write(&not_elf, b"not an elf").unwrap();
    let out = numaboot()
        .args(["plan", "--kernel", not_elf.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ELF"), "{err}");
}
