//! `numaboot plan` end to end: every format, the embedded default machine, the DTB
//! fixtures, options, and bad input. Expectations about locality and limits come from
//! the topology the test writes (or the fixture's documented layout), not from the
//! plan's own output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde::Deserialize;

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/../topology/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

const GIB: u64 = 1 << 30;

/// Two nodes with 4 GiB each and 8 CPUs each; node 1's hw ids are offset.
const TWO_NODE: &str = r#"
rma_size = "0x40000000"
[[nodes]]
id = 0
memory = ["0x0-0x100000000"]
cpus = "0-7"
[[nodes]]
id = 1
memory = ["0x100000000-0x200000000"]
cpus = "8-15"
hw_ids = "0x100-0x107"
"#;

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

// The documented JSON schema, version 2, mirrored with deny_unknown_fields: a renamed or
// added field fails here until the README and this mirror are updated.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Report {
    schema_version: u32,
    numaboot_version: String,
    machine: Machine,
    config: Config,
    cpus: Vec<CpuRow>,
    shared: Vec<Structure>,
    nodes: Vec<NodeSummary>,
    totals: Totals,
    findings: Vec<String>,
    memblock_reserved: Vec<Region>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Region {
    base: String,
    size: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Machine {
    source: String,
    format: String,
    cpus: u32,
    nodes: Vec<u32>,
    memory_bytes: u64,
    rma_size: Option<String>,
    hypervisor_mode: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Config {
    strategy: String,
    mmu: String,
    hypervisor_mode: bool,
    nr_cpu_ids_initial: u32,
    nr_cpu_ids_final: u32,
    possible: String,
    boot_cpu: u32,
    paca_size: u64,
    thread_size: u64,
    real_mode_limit: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct CpuRow {
    cpu: u32,
    hw_id: Option<u32>,
    node: Option<u32>,
    structures: Vec<Structure>,
    all_local: bool,
    lppaca_in_kernel_image: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Structure {
    kind: String,
    cpu: Option<u32>,
    addr: String,
    size: u64,
    reserved: u64,
    node: Option<u32>,
    home_node: Option<u32>,
    requested_node: Option<u32>,
    local: bool,
    outcome: String,
    reason: Option<String>,
    in_array: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct NodeSummary {
    node: Option<u32>,
    cpus: String,
    memory_bytes: u64,
    structures: u64,
    local: u64,
    locality_percent: f64,
    fallbacks: u64,
    used: u64,
    wasted: u64,
    allocations: u64,
    reserved_regions: u64,
    hosted_remote: u64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Totals {
    cpus: u32,
    structures: u64,
    local: u64,
    locality_percent: f64,
    fallbacks: u64,
    remote: u64,
    used: u64,
    wasted: u64,
    allocations: u64,
    reserved_regions: u64,
    bytes_per_cpu: u64,
    real_mode_highest_end: Option<String>,
}

/// `numaboot plan ARGS --format FORMAT`, which must succeed; its standard output.
fn plan_stdout(args: &[&str], format: &str) -> Vec<u8> {
    let out = numaboot()
        .arg("plan")
        .args(args)
        .args(["--format", format])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn plan_json(args: &[&str]) -> Report {
    serde_json::from_slice(&plan_stdout(args, "json")).unwrap()
}

#[test]
fn default_machine_table_is_readable() {
    let out = numaboot().arg("plan").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // One row per CPU of the 64-CPU default machine, plus a summary: not thousands.
    let lines = text.lines().count();
    assert!((64..120).contains(&lines), "{lines} lines");
    assert!(text.contains("embedded default machine"));
    assert!(text.contains("real-mode limit 0x40000000 (1 GiB)"));
    // CPU 16 is the first CPU of node 1, hw id 0x20 in the asset.
    let row16 = text
        .lines()
        .find(|l| l.trim_start().starts_with("16 "))
        .unwrap();
    assert!(row16.contains("0x20"), "{row16}");
    assert!(row16.contains("fallback"), "{row16}");
    for node in 0..4 {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{node}  "))),
            "no summary row for node {node}"
        );
    }
    assert!(text.contains("totals:"));
    assert!(text.contains("reserved regions"));
}

#[test]
fn default_machine_json_follows_the_rma() {
    let r = plan_json(&[]);
    assert_eq!(r.schema_version, 2);
    assert!(!r.numaboot_version.is_empty());
    assert_eq!(r.machine.format, "embedded");
    assert_eq!(r.machine.cpus, 64);
    assert_eq!(r.machine.nodes, vec![0, 1, 2, 3]);
    assert_eq!(r.machine.memory_bytes, 128 * GIB);
    assert_eq!(r.machine.rma_size.as_deref(), Some("0x40000000"));
    assert!(!r.machine.hypervisor_mode);
    assert_eq!(r.config.strategy, "linux-6.1");
    assert_eq!(r.config.mmu, "hash");
    assert_eq!(r.config.nr_cpu_ids_final, 64);
    assert_eq!(r.config.possible, "0-63");
    assert_eq!(r.cpus.len(), 64);
    // The asset puts 16 CPUs per node, node n's memory at [32n, 32n+32) GiB, and the
    // RMA below 1 GiB, on node 0.
    for row in &r.cpus {
        let home = row.cpu / 16;
        assert_eq!(row.node, Some(home));
        assert_eq!(row.hw_id, Some(home * 0x20 + row.cpu % 16));
        for kind in ["paca", "lppaca", "slb_shadow"] {
            let s = row.structures.iter().find(|s| s.kind == kind).unwrap();
            let addr = hex(&s.addr);
            assert!(
                addr + s.reserved <= GIB,
                "CPU {} {kind} at {addr:#x}",
                row.cpu
            );
            // Below 1 GiB is node 0's memory: local only for node 0's CPUs.
            assert_eq!(s.node, Some(0));
            assert_eq!(s.local, home == 0, "CPU {} {kind}", row.cpu);
            if home != 0 {
                assert_eq!(s.outcome, "fallback");
                assert!(s.reason.as_deref().unwrap().contains("above the limit"));
            }
        }
        // The IRQ stacks are limited by the 1 TiB bolted segment only, which covers all
        // 128 GiB: they are on the CPU's node, in its [32n, 32n+32) GiB.
        for kind in ["softirq_stack", "hardirq_stack"] {
            let s = row.structures.iter().find(|s| s.kind == kind).unwrap();
            let addr = hex(&s.addr);
            assert!(
                (u64::from(home) * 32 * GIB..u64::from(home + 1) * 32 * GIB).contains(&addr),
                "CPU {} {kind} at {addr:#x}",
                row.cpu
            );
            assert!(s.local);
        }
        // The emergency stacks are below the RMA too.
        for kind in [
            "emergency_stack",
            "nmi_emergency_stack",
            "mc_emergency_stack",
        ] {
            let s = row.structures.iter().find(|s| s.kind == kind).unwrap();
            assert!(hex(&s.addr) + s.size <= GIB);
            assert_eq!(s.local, home == 0);
        }
        assert_eq!(row.structures.len(), 8);
        assert_eq!(row.all_local, home == 0);
    }
    assert_eq!(r.totals.structures, 64 * 8);
    assert_eq!(r.totals.local, 16 * 8 + 48 * 2);
    assert_eq!(r.totals.cpus, 64);
    let node0 = r.nodes.iter().find(|n| n.node == Some(0)).unwrap();
    assert_eq!(node0.cpus, "0-15");
    assert_eq!(node0.memory_bytes, 32 * GIB);
    assert_eq!(node0.hosted_remote, 48 * 6);
    assert!(node0.used > 64 * (0xa80 + 0x400 + 128));
    assert!(r.totals.reserved_regions > 0 && r.totals.allocations >= r.totals.reserved_regions);
    assert!(hex(r.totals.real_mode_highest_end.as_deref().unwrap()) <= GIB);
    assert!(r.shared.iter().any(|s| s.kind == "paca_ptrs"));
}

#[test]
fn radix_places_everything_on_the_cpus_node() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "two.toml", TWO_NODE.as_bytes());
    let r = plan_json(&[path.to_str().unwrap(), "--radix"]);
    assert_eq!(r.config.mmu, "radix");
    assert_eq!(r.config.real_mode_limit, None);
    // From the TOML: CPUs 0-7 on node 0 = [0, 4 GiB), 8-15 on node 1 = [4, 8 GiB).
    for row in &r.cpus {
        let home = row.cpu / 8;
        let (lo, hi) = (home as u64 * 4 * GIB, (home as u64 + 1) * 4 * GIB);
        assert_eq!(
            row.hw_id,
            Some(if home == 1 {
                0x100 + row.cpu - 8
            } else {
                row.cpu
            })
        );
        // Radix: no SLB shadow.
        assert!(row.structures.iter().all(|s| s.kind != "slb_shadow"));
        for s in &row.structures {
            let a = hex(&s.addr);
            if s.kind == "mc_emergency_stack" {
                // pseries keeps machine-check stacks below 4 GiB for RTAS: node 0.
                assert!(a + s.size <= 4 * GIB);
                assert_eq!(s.local, home == 0);
                continue;
            }
            assert!(
                lo <= a && a + s.size <= hi,
                "CPU {} {} at {a:#x}",
                row.cpu,
                s.kind
            );
            assert!(s.local);
        }
    }
    assert_eq!(r.totals.fallbacks, 8);
    assert_eq!(r.totals.structures, 16 * 7);
    assert!(r.shared.iter().any(|s| s.kind == "page_table"));
}

#[test]
fn hv_mode_has_no_lppaca_and_possible_limits_cpus() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "two.toml", TWO_NODE.as_bytes());
    let r = plan_json(&[path.to_str().unwrap(), "--hv-mode", "--possible", "0-3,8-9"]);
    assert!(r.config.hypervisor_mode);
    assert_eq!(r.config.possible, "0-3,8-9");
    assert_eq!(r.config.nr_cpu_ids_final, 10);
    let cpus: Vec<u32> = r.cpus.iter().map(|c| c.cpu).collect();
    assert_eq!(cpus, vec![0, 1, 2, 3, 8, 9]);
    for row in &r.cpus {
        assert!(row.structures.iter().all(|s| s.kind != "lppaca"));
        assert!(row.structures.iter().any(|s| s.kind == "slb_shadow"));
    }
    // No real-mode limit in hypervisor mode: node 1's CPUs get node 1 memory.
    let c8 = r.cpus.iter().find(|c| c.cpu == 8).unwrap();
    assert!(c8.structures.iter().all(|s| hex(&s.addr) >= 4 * GIB));
}

#[test]
fn possible_cpus_beyond_the_present_ones() {
    // CPUs 64-65 are possible (hot-pluggable) but not in the 64-CPU default machine.
    let r = plan_json(&["--possible", "0-3,64-65"]);
    let cpus: Vec<u32> = r.cpus.iter().map(|c| c.cpu).collect();
    assert_eq!(cpus, vec![0, 1, 2, 3, 64, 65]);
    let c64 = &r.cpus[4];
    assert_eq!((c64.hw_id, c64.node), (None, None));
    assert_eq!(c64.structures.len(), 8);
    // early_cpu_to_node falls back to node 0 for a CPU never entered in
    // numa_cpu_lookup_table: that is where Linux asks for its structures, so it is
    // the home node the report uses.
    assert!(c64.structures.iter().all(|s| s.home_node == Some(0)));
    assert_eq!(r.config.nr_cpu_ids_final, 66);
    // CPUs 0-3 are on node 0, which holds the whole 1 GiB RMA: everything is local,
    // CPUs 64-65's structures included.
    assert_eq!(r.totals.locality_percent, 100.0);
    assert_eq!(r.totals.remote, 0);
    numaboot()
        .args(["plan", "--possible", "0-3,64-65"])
        .assert()
        .success()
        .stdout(predicate::str::contains("not present: no node"));
}

#[test]
fn every_fixture_strategy_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = [
        "qemu/one-node.dtb",
        "qemu/two-node.dtb",
        "qemu/four-node-memoryless.dtb",
        "qemu/cpuless-node.dtb",
        "crafted/powernv.dtb",
        "crafted/form2.dtb",
        "crafted/drmem-v1.dtb",
        "crafted/drmem-v2.dtb",
    ];
    for f in fixtures {
        for strategy in ["linux", "linux-4.15"] {
            for extra in [None, Some("--radix"), Some("--hv-mode")] {
                let out = dir.path().join("o");
                let mut args = vec![
                    "plan".to_string(),
                    fixture(f),
                    "--strategy".into(),
                    strategy.into(),
                    "-o".into(),
                    out.to_str().unwrap().into(),
                ];
                args.extend(extra.map(String::from));
                for format in ["json", "svg"] {
                    let mut a = args.clone();
                    a.extend(["--format".to_string(), format.to_string()]);
                    numaboot().args(&a).assert().success();
                    let text = std::fs::read_to_string(&out).unwrap();
                    if format == "json" {
                        let r: Report = serde_json::from_str(&text).unwrap();
                        assert_eq!(r.machine.format, "dtb");
                        assert!(r.totals.structures > 0, "{f} {strategy} {extra:?}");
                    } else {
                        parse_svg(&text);
                    }
                }
            }
        }
    }
}

#[test]
fn linux_415_uses_arrays() {
    let r = plan_json(&["--strategy", "linux-4.15"]);
    assert_eq!(r.config.strategy, "linux-4.15");
    let kinds: Vec<&str> = r.shared.iter().map(|s| s.kind.as_str()).collect();
    for k in ["paca_array", "lppaca_array", "slb_shadow_array"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    let p5 = r.cpus[5]
        .structures
        .iter()
        .find(|s| s.kind == "paca")
        .unwrap();
    assert!(p5.in_array);
}

#[test]
fn dtb_fixture_matches_its_layout() {
    // QEMU -m 1G -smp 4: CPUs 0-1 on node 0 [0, 512 MiB), 2-3 on node 1 [512 MiB, 1 GiB);
    // the RMA is the first block, 512 MiB, so node 1's pacas cannot be local.
    let r = plan_json(&[&fixture("qemu/two-node.dtb")]);
    assert_eq!(r.machine.format, "dtb");
    assert_eq!(r.config.real_mode_limit.as_deref(), Some("0x20000000"));
    for row in &r.cpus {
        let paca = row.structures.iter().find(|s| s.kind == "paca").unwrap();
        assert!(hex(&paca.addr) < 512 << 20);
        assert_eq!(paca.local, row.cpu < 2);
    }
}

#[test]
fn output_file_and_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
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
        let out = dir.path().join("out.txt");
        numaboot()
            .args(["plan", &fixture(f), "-o", out.to_str().unwrap()])
            .assert()
            .success()
            .stdout("");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("totals:"), "{f}");
    }
}

#[test]
fn memoryless_node_falls_back_with_its_reason() {
    let r = plan_json(&[&fixture("qemu/four-node-memoryless.dtb"), "--radix"]);
    // The fixture's node 3 has CPUs 6-7 and no memory.
    let node3 = r.nodes.iter().find(|n| n.node == Some(3)).unwrap();
    assert_eq!(node3.memory_bytes, 0);
    assert_eq!(node3.local, 0);
    for cpu in [6, 7] {
        let row = r.cpus.iter().find(|c| c.cpu == cpu).unwrap();
        assert!(row
            .structures
            .iter()
            .all(|s| s.reason.as_deref() == Some("the node has no memory")));
    }
}

#[test]
fn bad_files_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let blob = std::fs::read(fixture("qemu/two-node.dtb")).unwrap();
    let truncated = write(dir.path(), "cut.dtb", &blob[..blob.len() / 2]);
    let bad_toml = write(dir.path(), "bad.toml", b"[[nodes]]\nid = \"zero\"\n");
    let bad_field = write(
        dir.path(),
        "field.toml",
        b"[[nodes]]\nid = 0\ncpus = \"0-3\"\nmemory = [\"0x100-0x0\"]\n",
    );
    let missing = dir.path().join("missing.toml");
    let binary = write(dir.path(), "junk.bin", &[0xff, 0xfe, 0x00, 0x80]);
    for (path, what) in [
        (&truncated, "truncated"),
        (&bad_toml, "TOML"),
        (&bad_field, "nodes[0].memory[0]"),
        (&missing, "cannot read"),
        (&binary, "neither a device tree"),
    ] {
        for cmd in ["plan", "compare", "check"] {
            let out = numaboot()
                .args([cmd, path.to_str().unwrap()])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{cmd} {}", path.display());
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
            assert!(err.starts_with("numaboot: "), "{err}");
            assert!(err.contains(path.to_str().unwrap()), "{err}");
            assert!(err.contains(what), "{cmd}: {err}");
            assert!(!err.contains("panicked") && !err.contains("backtrace"));
            assert!(out.stdout.is_empty());
        }
    }
}

#[test]
fn bad_options_exit_2() {
    numaboot()
        .args(["plan", "--possible", "1-3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "boot CPU 0 is not in the possible mask",
        ));
    numaboot()
        .args(["plan", "--possible", "3-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("runs backwards"));
    numaboot()
        .args(["plan", "--strategy", "linux-2.6"])
        .assert()
        .code(2);
    numaboot().args(["plan", "--rma", "lots"]).assert().code(2);
    numaboot()
        .args(["plan", "--radix", "--hash"])
        .assert()
        .code(2);
}

#[test]
fn plan_that_does_not_fit_exits_1_with_the_reason() {
    // 33 MiB of RMA with 32 MiB of kernel image: the stacks cannot all fit.
    numaboot()
        .args(["plan", "--rma", "33M"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not fit: cannot allocate"))
        .stdout("");
}

#[test]
fn help_has_examples() {
    for cmd in ["plan", "compare", "check"] {
        numaboot()
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"))
            .stdout(predicate::str::contains(format!("numaboot {cmd}")));
    }
}

// --- SVG ---------------------------------------------------------------------------

fn svg_of(args: &[&str]) -> String {
    String::from_utf8(plan_stdout(args, "svg")).unwrap()
}

/// Parses the SVG, checks its structure, and returns the element count and the texts.
fn parse_svg(svg: &str) -> (usize, Vec<String>) {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let texts = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    (root.descendants().filter(|n| n.is_element()).count(), texts)
}

/// Renders with resvg and returns (width, height, non-white pixels, red pixels).
fn render(svg: &str, png: &Path) -> (u32, u32, usize, usize) {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).unwrap();
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    pixmap.save_png(png).unwrap();
    let mut ink = 0;
    let mut red = 0;
    for p in pixmap.pixels() {
        let (r, g, b, a) = (p.red(), p.green(), p.blue(), p.alpha());
        if a > 0 && (r < 240 || g < 240 || b < 240) {
            ink += 1;
        }
        if r > 180 && g < 80 && b < 80 {
            red += 1;
        }
    }
    (size.width(), size.height(), ink, red)
}

#[test]
fn svg_of_default_machine_parses_and_draws() {
    let svg = svg_of(&[]);
    let (elements, texts) = parse_svg(&svg);
    assert!(elements < 3000, "{elements} elements");
    for n in 0..4 {
        assert!(texts.iter().any(|t| t == &format!("node {n}")), "node {n}");
    }
    assert!(texts
        .iter()
        .any(|t| t.contains("real-mode limit 0x40000000")));
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("default.png");
    let (w, h, ink, red) = render(&svg, &png);
    assert!(w >= 800 && h >= 300);
    // Bars, heat strips and the real-mode line are drawn.
    assert!(ink > (w * h / 50) as usize, "only {ink} non-white pixels");
    assert!(
        red > 50,
        "no real-mode line or remote marks ({red} red pixels)"
    );
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    if let Ok(keep) = std::env::var("NUMABOOT_KEEP_PNG") {
        std::fs::copy(&png, keep).unwrap();
    }
}

#[test]
fn svg_escapes_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a&b<c>.toml", TWO_NODE.as_bytes());
    let svg = svg_of(&[path.to_str().unwrap()]);
    let (_, texts) = parse_svg(&svg);
    assert!(texts.iter().any(|t| t.contains("a&b<c>.toml")));
}

/// A TOML machine with `nodes` nodes of 4 GiB and `cpus` CPUs spread evenly.
fn big_machine(nodes: u32, cpus: u32) -> String {
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
    s
}

fn svg_scales(nodes: u32, cpus: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "big.toml", big_machine(nodes, cpus).as_bytes());
    let svg = svg_of(&[path.to_str().unwrap(), "--radix"]);
    let (elements, texts) = parse_svg(&svg);
    // Aggregated per node and per pixel bin: bounded by nodes, not by CPUs.
    assert!(
        elements < 60 + 700 * nodes as usize,
        "{elements} elements for {cpus} CPUs"
    );
    assert!(texts.iter().any(|t| t == &format!("node {}", nodes - 1)));
    let png = dir.path().join("big.png");
    let (w, h, ink, _) = render(&svg, &png);
    assert!(h < 200 + 100 * nodes, "{w}x{h}");
    assert!(ink > (w * h / 50) as usize);
}

#[test]
fn svg_scales_to_many_nodes_and_cpus() {
    // 32 nodes: compact bands. 1024 CPUs keep a debug-build test fast.
    svg_scales(32, 1024);
    svg_scales(2, 8);
}

#[test]
fn svg_scales_to_8192_cpus() {
    // A few seconds in a debug build: the plan itself is most of it.
    svg_scales(256, 8192);
    svg_scales(8, 8192);
}

#[test]
fn json_round_trips_through_the_documented_schema() {
    // Every CPU row's structures are keyed by documented kinds.
    let r = plan_json(&["--strategy", "linux-4.15"]);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for s in r.cpus.iter().flat_map(|c| &c.structures).chain(&r.shared) {
        *kinds.entry(s.kind.clone()).or_default() += 1;
        assert!(["local", "fallback", "no_node_requested"].contains(&s.outcome.as_str()));
        assert!(s.addr.starts_with("0x"));
    }
    for k in kinds.keys() {
        assert!(
            [
                "paca",
                "lppaca",
                "slb_shadow",
                "softirq_stack",
                "hardirq_stack",
                "emergency_stack",
                "nmi_emergency_stack",
                "mc_emergency_stack",
                "paca_ptrs",
                "cpu_to_phys_id",
                "page_table",
                "paca_array",
                "lppaca_array",
                "slb_shadow_array"
            ]
            .contains(&k.as_str()),
            "undocumented kind {k}"
        );
    }
    assert!(r.findings.iter().all(|f| !f.is_empty()));
    assert_eq!(r.machine.source, r.machine.source.trim());
    assert!(r.config.paca_size > 0 && r.config.thread_size == 16384);
    assert_eq!(r.config.boot_cpu, 0);
    assert_eq!(r.config.nr_cpu_ids_initial, 2048);
    assert!(!r.config.hypervisor_mode);
}

#[test]
fn local_and_outcome_agree_in_the_json() {
    // Node 1 has no memory, so its CPUs fall back; CPUs 6-7 are possible but not
    // present: Linux asks for node 0 (early_cpu_to_node's fallback), which is their
    // home node in the report. Wherever a node was requested, `local` must equal
    // outcome `local`.
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "m.toml",
        br#"
rma_size = "0x40000000"
[[nodes]]
id = 0
memory = ["0x0-0x100000000"]
cpus = "0-3"
[[nodes]]
id = 1
cpus = "4-5"
"#,
    );
    let r = plan_json(&[path.to_str().unwrap(), "--radix", "--possible", "0-7"]);
    let mut asked = 0;
    for row in &r.cpus {
        for s in &row.structures {
            if s.requested_node.is_some() {
                asked += 1;
                assert_eq!(s.requested_node, s.home_node, "{s:?}");
                assert_eq!(s.local, s.outcome == "local", "{s:?}");
            }
        }
    }
    assert!(asked > 0);
    let cpu = |n: u32| r.cpus.iter().find(|c| c.cpu == n).unwrap();
    assert!(cpu(4)
        .structures
        .iter()
        .all(|s| s.outcome == "fallback" && !s.local));
    assert!(cpu(7)
        .structures
        .iter()
        .all(|s| s.home_node == Some(0) && s.local));
}

#[test]
fn linux415_cpu0_lppaca_is_the_static_one() {
    // 4.15 new_lppaca(): `if (cpu < NR_LPPACAS) return &lppaca[cpu];` with
    // NR_LPPACAS = 1: CPU 0's lppaca is in the kernel image, not in the array.
    let r = plan_json(&["--strategy", "linux-4.15", "--possible", "0-3"]);
    for row in &r.cpus {
        assert_eq!(row.lppaca_in_kernel_image, row.cpu == 0);
        assert_eq!(
            row.structures.iter().any(|s| s.kind == "lppaca"),
            row.cpu != 0,
            "CPU {}",
            row.cpu
        );
    }
    let r = plan_json(&["--possible", "0-3"]);
    assert!(r.cpus.iter().all(|c| !c.lppaca_in_kernel_image));
    numaboot()
        .args(["plan", "--strategy", "linux-4.15", "--possible", "0-3"])
        .assert()
        .success()
        .stdout(predicate::str::contains("static lppaca[0] (kernel image)"));
}

/// `reserved:` regions of a `numaboot memblock replay` dump, as (base, size).
fn dump_reserved(text: &str) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line == "reserved:" {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.first() == Some(&"total") {
            break;
        }
        out.push((hex(w[0]), hex(w[1])));
    }
    out
}

#[test]
fn replaying_the_plan_reproduces_its_reserved_list() {
    // `plan --format replay` piped through `numaboot memblock replay` (a separate
    // memblock built from the script alone) must end with the reserved list the plan's
    // own memblock had (`memblock_reserved` in the JSON), for both strategies and MMUs.
    for strategy in ["linux", "linux-4.15"] {
        for mmu in ["--hash", "--radix"] {
            let args = ["--strategy", strategy, mmu, "--possible", "0-15,32-47"];
            let script = String::from_utf8(plan_stdout(&args, "replay")).unwrap();
            assert!(script.starts_with("add 0x0 "), "{script}");
            let replayed = numaboot()
                .args(["memblock", "replay", "-"])
                .write_stdin(script)
                .output()
                .unwrap();
            assert!(
                replayed.status.success(),
                "{}",
                String::from_utf8_lossy(&replayed.stderr)
            );
            let replayed = dump_reserved(&String::from_utf8(replayed.stdout).unwrap());
            let r = plan_json(&args);
            let planned: Vec<(u64, u64)> = r
                .memblock_reserved
                .iter()
                .map(|g| (hex(&g.base), hex(&g.size)))
                .collect();
            assert!(planned.len() > 2, "{strategy} {mmu}");
            assert_eq!(replayed, planned, "{strategy} {mmu}");
            // The kernel image comes first (with 6.1's boot-CPU paca data, allocated
            // bottom-up right after it, merged in).
            assert_eq!(planned[0].0, 0);
            assert!(planned[0].1 >= 32 << 20);
        }
    }
}
