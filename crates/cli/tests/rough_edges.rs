//! The rough edges of issue 14, one test (or a few) per numbered point: closed pipes,
//! input size caps, one-line errors, the real-mode limit where there is none, the
//! possible-CPU wording, one option vocabulary, TOML validation, `plan --summary`, and
//! the `hv replay` help and examples. Expectations come from the inputs the tests
//! write, the fixtures' documented layouts and real QEMU recordings, not from the
//! commands' own output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

// The FDT writer of topology's tests: bad trees built here, no dtc needed.
#[path = "../../topology/tests/common/mod.rs"]
mod fdt;

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("numaboot")
}

fn fixture(name: &str) -> String {
    format!("{}/../topology/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hv")
}

/// A TOML machine with `nodes` nodes of `per_node` CPUs and 4 GiB each.
fn machine(nodes: u32, per_node: u32) -> String {
    let mut s = String::from("rma_size = \"0x40000000\"\n");
    for n in 0..nodes {
        let base = u64::from(n) << 32;
        s.push_str(&format!(
            "[[nodes]]\nid = {n}\nmemory = [\"{:#x}-{:#x}\"]\ncpus = \"{}-{}\"\n",
            base,
            base + (1 << 32),
            n * per_node,
            (n + 1) * per_node - 1
        ));
    }
    s
}

/// Runs numaboot with `args`, its standard output a pipe whose reading end is closed
/// before the command can write: the command reads `stdin` (its input, given as `-`)
/// only after the close, so the first write meets a closed pipe every time.
fn run_into_closed_pipe(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = StdCommand::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    if let Some(mut input) = child.stdin.take() {
        // The command may stop reading early (an option error); that is its answer.
        let _ = input.write_all(stdin);
    }
    child.wait_with_output().unwrap()
}

// 1. A closed pipe ends every command quietly with status 0.
#[test]
fn closed_pipe_is_quiet_everywhere() {
    let dtb = std::fs::read(fixture("qemu/two-node.dtb")).unwrap();
    let toml = machine(2, 4);
    let log = std::fs::read(fixture("linux-6.1/r84.log")).unwrap();
    let replay = b"add 0 0x10000000 0\nreserve 0 0x1000\nalloc 0x100 0x100 0 anywhere 0 0\n";
    let hv = std::fs::read(examples().join("register-vpa.hvs")).unwrap();
    let cases: Vec<(Vec<&str>, &[u8])> = vec![
        (vec!["topology", "-"], &dtb),
        (vec!["topology", "-", "--json"], &dtb),
        (vec!["topology", "-", "--format", "json"], toml.as_bytes()),
        (vec!["plan", "-"], toml.as_bytes()),
        (vec!["plan", "-", "--summary"], &dtb),
        (vec!["plan", "-", "--format", "json"], &dtb),
        (vec!["check", "-"], toml.as_bytes()),
        (vec!["compare", "-"], toml.as_bytes()),
        (vec!["verify", "-"], &log),
        (vec!["memblock", "replay", "-"], replay),
        (vec!["hv", "replay", "--profile", "qemu", "-"], &hv),
    ];
    for (args, input) in cases {
        let out = run_into_closed_pipe(&args, input);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Notes about the input (a dumped tree's booted tree not predicted) are fine;
        // nothing about the output is.
        let complaints: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("numaboot: note: "))
            .collect();
        assert_eq!(
            (out.status.code(), complaints),
            (Some(0), Vec::<&str>::new()),
            "numaboot {}",
            args.join(" ")
        );
    }
    // Commands with no input to wait for: the close comes while the process starts
    // (were it ever later, the write would land in the pipe buffer and pass).
    let two_node = fixture("qemu/two-node.dtb");
    for args in [
        &["layout", "lppaca"][..],
        &["layout", "lppaca", "--format", "json"],
        &["topology", &two_node],
        &["topology", &two_node, "--json"],
    ] {
        let out = run_into_closed_pipe(args, b"");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
    }
}

/// The one line numaboot prints for an input over its cap.
fn cap_line(file: &str, cap: &str, what: &str) -> String {
    format!("numaboot: {file}: larger than {cap}, the most numaboot reads for {what}\n")
}

// 2. Every input has a size cap; /dev/zero is refused at once with one line.
#[test]
fn endless_inputs_are_refused_at_their_cap() {
    let topo = "a topology (device tree or TOML)";
    let cases: [(&[&str], &str, &str, &str); 5] = [
        (&["plan", "/dev/zero"], "/dev/zero", "64 MiB", topo),
        (&["topology", "/dev/zero"], "/dev/zero", "64 MiB", topo),
        (&["check", "/dev/zero"], "/dev/zero", "64 MiB", topo),
        (
            &["verify", "/dev/zero"],
            "/dev/zero",
            "256 MiB",
            "a boot log",
        ),
        (
            &["hv", "replay", "--profile", "kvm", "/dev/zero"],
            "/dev/zero",
            "256 MiB",
            "a replay script",
        ),
    ];
    for (args, file, cap, what) in cases {
        numaboot()
            .args(args)
            .timeout(Duration::from_secs(60))
            .assert()
            .code(2)
            .stdout("")
            .stderr(cap_line(file, cap, what));
    }
    // Standard input too.
    let out = StdCommand::new(bin())
        .args(["plan", "-"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        cap_line("standard input", "64 MiB", topo)
    );
    // A regular file is refused by its length, before it is read: a sparse 1 GiB + 1
    // kernel image costs nothing here.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("vmlinux");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((1 << 30) + 1)
        .unwrap();
    let shown = big.display().to_string();
    numaboot()
        .args(["plan", "--kernel", &shown])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(cap_line(&shown, "1 GiB", "a kernel image"));
}

// `memblock replay` reads through the same cap once memblock.rs calls
// `files::read_input(&file, Cap::Script)`; until then this would read /dev/zero
// without end, so it is not run.
#[test]
fn memblock_replay_refuses_dev_zero() {
    numaboot()
        .args(["memblock", "replay", "/dev/zero"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(cap_line("/dev/zero", "256 MiB", "a replay script"));
}

/// Asserts a failed command's standard error is exactly one `numaboot: ` line, and
/// returns it.
fn one_error_line(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("numaboot: ") && err.ends_with('\n'),
        "{err}"
    );
    err
}

// 3. Errors are one line naming the file, whatever the input holds.
#[test]
fn errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // A memory node whose name holds a newline, and whose associativity is shorter
    // than its own count.
    let mut tree = fdt::guest();
    tree.at("memory@0").name = "memory\n@0".into();
    tree.set("memory\n@0", "ibm,associativity", fdt::cells(&[9, 0, 0]));
    let bad = dir.path().join("newline.dtb");
    std::fs::write(&bad, fdt::blob(&tree, 0)).unwrap();
    let shown = bad.display().to_string();
    for cmd in ["topology", "plan", "check", "compare"] {
        let err = one_error_line(numaboot().args([cmd, &shown]));
        assert!(err.contains(&format!("{shown}: ")), "{cmd}: {err}");
        // The node name is shown, its newline escaped.
        assert!(err.contains("/memory\\n@0"), "{cmd}: {err}");
    }
    // Bad options too, with clap's hint kept.
    let err = one_error_line(numaboot().args(["plan", "--format", "xml"]));
    assert!(
        err.contains("'xml'") && err.contains("possible values: table, json"),
        "{err}"
    );
    let err = one_error_line(numaboot().args(["plan", "--radx"]));
    assert!(err.contains("similar argument exists: '--radix'"), "{err}");
    // A TOML type error: one line with its place and the field, in `topology` as in
    // `plan` (the parser's caret diagram is not printed).
    let toml = dir.path().join("bad.toml");
    std::fs::write(&toml, "[[nodes]]\nid = \"zero\"\ncpus = \"0\"\n").unwrap();
    let shown = toml.display().to_string();
    for cmd in ["topology", "plan"] {
        let err = one_error_line(numaboot().args([cmd, &shown]));
        assert!(err.starts_with(&format!("numaboot: {shown}: ")), "{err}");
        assert!(err.contains("line 2, column 6: nodes[0].id: "), "{err}");
        assert!(!err.contains('^'), "{err}");
    }
}

fn plan_json(args: &[&str]) -> serde_json::Value {
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
    serde_json::from_slice(&out.stdout).unwrap()
}

// 4. Where Linux 6.1 has no real-mode limit (hypervisor mode, radix), every command
// says "none" and compares nothing with it; where it has one, it is compared.
#[test]
fn no_real_mode_limit_is_none_everywhere() {
    // crafted/powernv.dtb: a PowerNV host (no `ibm,partition-no`), so hypervisor mode.
    let pnv = fixture("crafted/powernv.dtb");
    let out = numaboot().args(["plan", &pnv]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("hypervisor mode"), "{text}");
    assert!(
        text.contains("real-mode limit none (hypervisor mode: no RMA)"),
        "{text}"
    );
    let end_line = text
        .lines()
        .find(|l| l.starts_with("real-mode structures end at"))
        .unwrap();
    assert!(!end_line.contains(", limit 0x"), "{end_line}");
    assert_eq!(
        plan_json(&[&pnv])["config"]["real_mode_limit"],
        serde_json::Value::Null
    );
    numaboot()
        .args(["check", &pnv])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "no real-mode limit: hypervisor mode",
        ))
        .stdout(predicate::str::contains("limit none").not());
    numaboot()
        .args(["topology", &pnv])
        .assert()
        .success()
        .stdout(predicate::str::contains("real-mode limit none"));
    let topo: serde_json::Value = serde_json::from_slice(
        &numaboot()
            .args(["topology", &pnv, "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(topo["rma_limit"], serde_json::Value::Null);
    numaboot()
        .args(["compare", &pnv])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"real-mode limit +none +none +0x").unwrap());
    // Radix 6.1 on the default LPAR.
    numaboot()
        .args(["check", "--radix"])
        .assert()
        .success()
        .stdout(predicate::str::contains("no real-mode limit: radix"))
        .stdout(predicate::str::contains("limit none hold").not());
    numaboot()
        .args(["plan", "--radix", "--summary"])
        .assert()
        .success()
        .stdout(predicate::str::contains("real-mode limit none (radix)"));
    // The default LPAR (hash, 1 GiB RMA) has one, and it is compared.
    numaboot()
        .args(["plan", "--summary"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "real-mode limit 0x40000000 (1 GiB); ",
        ))
        .stdout(predicate::str::contains(", limit 0x40000000 (1 GiB)"));
    // Linux 4.15 keeps its arrays below 256 MiB even in hypervisor mode.
    assert_eq!(
        plan_json(&[&pnv, "--strategy", "linux-4.15"])["config"]["real_mode_limit"],
        "0x10000000"
    );
}

// 5. The possible-CPU count is not "16 of 4", and a node whose CPUs own no structure
// has no locality percentage.
#[test]
fn possible_beyond_present_is_worded_as_such() {
    // two-node.dtb: 4 CPUs (`-smp 4`), so 12 of 0-15 are not present.
    numaboot()
        .args(["plan", &fixture("qemu/two-node.dtb"), "--possible", "0-15"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "16 CPUs possible (0-15): 4 of the 4 present and 12 not present",
        ))
        .stdout(predicate::str::contains(" of 4 CPUs").not());
    numaboot()
        .args(["plan", "--possible", "0-64", "--summary"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "65 CPUs possible (0-64): 64 of the 64 present and 1 not present",
        ));
    // All possible CPUs present: as before.
    numaboot()
        .args(["plan", "--possible", "0-15", "--summary"])
        .assert()
        .success()
        .stdout(predicate::str::contains("16 of 64 CPUs possible (0-15)"));
    // cpuless-node.dtb: node 1 has memory and no CPUs (`-numa node,nodeid=1,memdev=m1`).
    let out = numaboot()
        .args(["plan", &fixture("qemu/cpuless-node.dtb"), "--summary"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.trim_start().starts_with("1  "))
        .unwrap()
        .split_whitespace()
        .collect();
    // node, cpus (none), memory (2 words), structures, local, locality.
    assert_eq!(
        &row[..7],
        ["1", "none", "512", "MiB", "0", "0", "-"],
        "{text}"
    );
}

// 6. One option vocabulary: one size parser, `-` for standard input, `--format`, the
// MMU as `--radix`/`--hash`; the old spellings still work and are hidden.
#[test]
fn one_option_vocabulary() {
    let dtb = fixture("qemu/two-node.dtb");
    let stdout = |args: &[&str]| {
        let out = numaboot().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Sizes: `topology --rma` (and the older `--rma-size`) take what `plan --rma` takes.
    let a = stdout(&["topology", &dtb, "--rma", "128M"]);
    assert!(a.contains("RMA         0x8000000 (128 MiB)"), "{a}");
    assert_eq!(a, stdout(&["topology", &dtb, "--rma-size", "128M"]));
    assert_eq!(a, stdout(&["topology", &dtb, "--rma", "0x8000000"]));
    // `hv replay --mem` takes T (and the model maps it lazily).
    numaboot()
        .args(["hv", "replay", "--profile", "qemu", "--mem", "1T", "-"])
        .write_stdin("write16 0xfffffff004 640\nhcall 0x200000000000 0 0xfffffff000\n")
        .assert()
        .success()
        .stdout("H_SUCCESS\n");
    // The MMU: `--radix` as in plan; `--mmu radix` still accepted.
    let r = stdout(&["topology", &dtb, "--radix"]);
    assert!(r.contains("real-mode limit none"), "{r}");
    assert_eq!(r, stdout(&["topology", &dtb, "--mmu", "radix"]));
    assert_eq!(
        stdout(&["topology", &dtb, "--hash"]),
        stdout(&["topology", &dtb])
    );
    // Formats: `--format json` / `-f json`, and the older `--json`.
    let j = stdout(&["topology", &dtb, "--format", "json"]);
    assert!(serde_json::from_str::<serde_json::Value>(&j).is_ok());
    assert_eq!(j, stdout(&["topology", &dtb, "--json"]));
    assert_eq!(j, stdout(&["topology", &dtb, "-f", "json"]));
    let l = stdout(&["layout", "lppaca", "--format", "json"]);
    assert_eq!(l, stdout(&["layout", "lppaca", "--json"]));
    // `-` is standard input for plan, check, topology and verify as for the replays.
    let bytes = std::fs::read(&dtb).unwrap();
    for cmd in ["plan", "topology", "check"] {
        let from_file = stdout(&[cmd, &dtb]);
        let out = numaboot()
            .args([cmd, "-"])
            .write_stdin(bytes.clone())
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            from_file.replace(&dtb, "standard input"),
            "{cmd}"
        );
    }
    let log = fixture("linux-6.1/r84.log");
    let out = numaboot()
        .args(["verify", "-"])
        .write_stdin(std::fs::read(&log).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        stdout(&["verify", &log]).replace(&log, "standard input")
    );
    // The old spellings work but are not advertised.
    let help = stdout(&["topology", "--help"]);
    for shown in ["--format", "--rma ", "--radix", "--hash"] {
        assert!(help.contains(shown), "{help}");
    }
    for hidden in ["--json", "--rma-size", "--mmu"] {
        assert!(!help.contains(hidden), "{help}");
    }
    assert!(!stdout(&["layout", "--help"]).contains("--json"));
}

// 7. TOML values numaboot cannot use are refused, the field named.
#[test]
fn toml_nonsense_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = "[[nodes]]\nid = 0\ncpus = \"0-1\"\nmemory = [\"0x0-0x40000000\"]\n";
    for (head, field) in [
        ("page_size = 3\n", "page_size"),
        ("rma_size = 0\n", "rma_size: 0"),
        ("rma_size = \"0\"\n", "rma_size: 0"),
        // The only memory range is 1 GiB.
        (
            "rma_size = \"0x80000000\"\n",
            "rma_size: 0x80000000 is larger",
        ),
        ("rma_size = -1\n", "rma_size: "),
        ("hypervisor_mode = 1\n", "hypervisor_mode: "),
    ] {
        let p = dir.path().join("m.toml");
        std::fs::write(&p, format!("{head}{nodes}")).unwrap();
        for cmd in ["topology", "plan"] {
            let err = one_error_line(numaboot().args([cmd, p.to_str().unwrap()]));
            assert!(err.contains(field), "{head}: {err}");
        }
    }
    // The command-line override cannot be empty either.
    for cmd in ["plan", "topology"] {
        let mut c = numaboot();
        c.args([cmd, &fixture("qemu/two-node.dtb"), "--rma", "0"]);
        let err = one_error_line(&mut c);
        assert!(
            err.contains("--rma") && err.contains("cannot be empty"),
            "{err}"
        );
    }
    // At the limit: the whole first range is fine.
    let p = dir.path().join("ok.toml");
    std::fs::write(&p, format!("rma_size = \"0x40000000\"\n{nodes}")).unwrap();
    numaboot()
        .args(["check", p.to_str().unwrap()])
        .assert()
        .success();
}

// 8. `plan --summary`: the header, shared structures, per-node table, totals and
// findings, and nothing per CPU, however many CPUs there are.
#[test]
fn plan_summary_leaves_out_the_cpu_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.toml");
    // 16 nodes of 128 CPUs: 2048 CPUs, NR_CPUS.
    std::fs::write(&p, machine(16, 128)).unwrap();
    let path = p.to_str().unwrap();
    let full = String::from_utf8(numaboot().args(["plan", path]).output().unwrap().stdout).unwrap();
    let out = numaboot()
        .args(["plan", path, "--summary"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(full.lines().count() > 2048, "{}", full.lines().count());
    // 3 header lines, shared structures, 16 nodes, totals: well under 60 lines.
    assert!(summary.lines().count() < 60, "{summary}");
    assert!(summary.starts_with(&format!("numaboot plan: {path}\nstrategy linux-6.1")));
    for part in [
        "\nshared structures\n",
        "\nnode  cpus",
        "\n all  2048 CPUs",
        "\ntotals: ",
    ] {
        assert!(summary.contains(part), "{part}: {summary}");
    }
    assert!(!summary.contains("placement"), "{summary}");
    // Every line of the summary is the full table's, in the same order: it is the
    // table with the per-CPU block left out.
    let mut rest = full.lines();
    for line in summary.lines() {
        assert!(
            rest.any(|l| l == line),
            "{line:?} not in the full table in order"
        );
    }
    let per_node = summary
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u32>().is_ok())
        })
        .count();
    assert_eq!(per_node, 16, "{summary}");
    // Other formats carry every CPU: --summary is refused there.
    let err = one_error_line(numaboot().args(["plan", path, "--summary", "--format", "json"]));
    assert!(err.contains("--summary"), "{err}");
}

// 9. `hv replay --help` lists the subfunction numbers; every example script runs, on
// every profile, and on the `qemu` profile prints what real QEMU printed (the
// `# expect:` lines).
#[test]
fn hv_help_lists_subfunctions() {
    let out = numaboot()
        .args(["hv", "replay", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    // PAPR: FLAGS = subfunction << 45, 1-3 register, 5-7 deregister.
    for (code, name) in [
        (1u64, "H_VPA_REG_VPA"),
        (2, "H_VPA_REG_DTL"),
        (3, "H_VPA_REG_SLB"),
        (5, "H_VPA_DEREG_VPA"),
        (6, "H_VPA_DEREG_DTL"),
        (7, "H_VPA_DEREG_SLB"),
    ] {
        let row = format!("  {code}  {:#x}  {name}", code << 45);
        assert!(help.contains(&row), "{row}\n{help}");
    }
    assert!(help.contains("examples/hv"), "{help}");
}

#[test]
fn hv_examples_run() {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hvs"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 3, "{scripts:?}");
    for script in &scripts {
        let text = std::fs::read_to_string(script).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        let printing = text
            .lines()
            .filter(|l| {
                ["hcall ", "read ", "state "]
                    .iter()
                    .any(|c| l.starts_with(c))
            })
            .count();
        assert_eq!(expected.len(), printing, "{}", script.display());
        for profile in ["kvm", "kvm-pre-4.14", "qemu"] {
            let out = numaboot()
                .args(["hv", "replay", "--profile", profile])
                .arg(script)
                .output()
                .unwrap();
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert!(out.status.success(), "{profile} {}", script.display());
            assert!(out.stderr.is_empty(), "{profile} {}", script.display());
            assert_eq!(
                stdout.lines().count(),
                printing,
                "{profile} {}",
                script.display()
            );
            if profile == "qemu" {
                assert_eq!(
                    stdout.lines().collect::<Vec<_>>(),
                    expected,
                    "{}",
                    script.display()
                );
            }
        }
    }
}
