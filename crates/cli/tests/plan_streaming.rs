//! `numaboot plan` writes its table, JSON and SVG as it goes: the same bytes to a file
//! as to standard output, a reader may stop early, and `--timings` reports on standard
//! error only. The machines are written here, so the expected row counts come from
//! the topology, not from the output.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use assert_cmd::Command;

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/../topology/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

const GIB: u64 = 1 << 30;

/// `nodes` nodes of 4 GiB, `cpus` CPUs spread evenly, a 1 GiB RMA.
fn machine(dir: &Path, nodes: u32, cpus: u32) -> PathBuf {
    let per = cpus / nodes;
    let mut s = String::from("rma_size = \"0x40000000\"\n");
    for n in 0..nodes {
        let base = u64::from(n) * 4 * GIB;
        s += &format!(
            "[[nodes]]\nid = {n}\nmemory = [\"{base:#x}-{:#x}\"]\ncpus = \"{}-{}\"\n",
            base + 4 * GIB,
            n * per,
            (n + 1) * per - 1
        );
    }
    let p = dir.join(format!("m{nodes}x{cpus}.toml"));
    std::fs::write(&p, s).unwrap();
    p
}

fn stdout_of(args: &[&str]) -> Vec<u8> {
    let out = numaboot().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_file_gets_the_bytes_standard_output_gets() {
    let dir = tempfile::tempdir().unwrap();
    let big = machine(dir.path(), 32, 256);
    let big = big.to_str().unwrap();
    let log = fixture("linux-6.1/h84.log");
    let runs: Vec<Vec<&str>> = vec![
        vec!["plan"],
        vec!["plan", "--summary"],
        vec!["plan", "--strategy", "linux-4.15", "--possible", "0-70"],
        vec!["plan", big, "--radix"],
        vec!["plan", "--hv-mode", "--strategy", "per-node-block"],
        vec!["verify", &log],
    ];
    let file = dir.path().join("out");
    let file_arg = file.to_str().unwrap();
    for run in runs {
        let formats: &[&str] = if run[0] == "verify" {
            &["table", "json"]
        } else if run.contains(&"--summary") {
            &["table"]
        } else {
            &["table", "json", "svg", "replay"]
        };
        for format in formats {
            let mut args = run.clone();
            args.extend(["--format", format]);
            let shown = stdout_of(&args);
            args.extend(["-o", file_arg]);
            assert!(stdout_of(&args).is_empty(), "{args:?}");
            let written = std::fs::read(&file).unwrap();
            assert!(!written.is_empty() && written.ends_with(b"\n"), "{args:?}");
            assert!(
                written == shown,
                "{args:?}: file and standard output differ"
            );
        }
    }
}

#[test]
fn timings_go_to_standard_error_only() {
    let plain = stdout_of(&["plan", "--format", "json"]);
    let out = numaboot()
        .args(["plan", "--format", "json", "--timings"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, plain);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("numaboot: timings: load and plan ") && err.contains(" ms, report "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn large_outputs_stream_to_a_reader_that_stops_early() {
    // 1024 CPUs on 32 nodes: a JSON document of megabytes. The reader takes its first
    // 64 KiB and goes away; numaboot meets the closed pipe in the middle of the
    // document and ends quietly, and what the reader got is the document's beginning.
    let dir = tempfile::tempdir().unwrap();
    let m = machine(dir.path(), 32, 1024);
    let m = m.to_str().unwrap();
    for format in ["json", "table"] {
        let args = ["plan", m, "--nr-cpus", "1024", "--format", format];
        let whole = stdout_of(&args);
        assert!(whole.len() > 128 << 10, "{format}: {} bytes", whole.len());
        let mut child = Process::new(assert_cmd::cargo::cargo_bin("numaboot"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = vec![0u8; 64 << 10];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        // The read end is closed here, when the pipe is dropped.
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{format}: {:?}", out.status);
        assert!(
            out.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(whole.starts_with(&head), "{format}");
    }
}

#[test]
fn every_possible_cpu_gets_a_row_at_scale() {
    // 2048 CPUs on 64 nodes, hash LPAR with Linux 6.1: every CPU has its paca, lppaca,
    // SLB shadow and five stacks, one table row and one JSON entry each.
    let dir = tempfile::tempdir().unwrap();
    let m = machine(dir.path(), 64, 2048);
    let m = m.to_str().unwrap();
    let base = ["plan", m, "--nr-cpus", "2048"];
    let json = stdout_of(&[&base[..], &["--format", "json"]].concat());
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let cpus = v["cpus"].as_array().unwrap();
    assert_eq!(cpus.len(), 2048);
    for (i, row) in cpus.iter().enumerate() {
        assert_eq!(row["cpu"], i);
        assert_eq!(row["node"], i / 32);
        assert_eq!(row["structures"].as_array().unwrap().len(), 8, "CPU {i}");
    }
    assert_eq!(v["nodes"].as_array().unwrap().len(), 64);
    let table =
        String::from_utf8(stdout_of(&[&base[..], &["--format", "table"]].concat())).unwrap();
    let header = table
        .lines()
        .find(|l| l.trim_start().starts_with("cpu "))
        .unwrap();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        [
            "cpu",
            "hw",
            "node",
            "paca",
            "lppaca",
            "slb_shadow",
            "softirq",
            "hardirq",
            "emergency",
            "nmi",
            "mce",
            "placement"
        ]
    );
    let rows = table
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u32>().is_ok())
        })
        .filter(|l| l.contains(" 0x"))
        .count();
    assert_eq!(rows, 2048);
    assert!(table.lines().all(|l| l == l.trim_end()));
}
