//! Cross-check against a C compiler: compiles tests/c/papr_layout.c, runs it, and
//! compares its `offsetof`/`sizeof` output with the Rust layout tables, field by field.
//!
//! The program is built twice: once with its own independent C declaration of the
//! structures, and once with Linux's real `asm/lppaca.h` and `asm/dtl.h` included in its
//! place (tree from `NUMABOOT_LINUX_SRC`, see tests/common/mod.rs). Without a C compiler
//! or a Linux tree the affected test prints a loud notice and passes, except under CI
//! (the `CI` environment variable set), where it fails.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use papr::layout;
use papr::{SlbShadow, SlbShadowEntry};

/// Compiles and runs the C program with `extra` arguments; `None` when a prerequisite
/// is missing outside CI.
fn c_output(variant: &str, extra: &[String]) -> Option<String> {
    let Some(cc) = common::c_compiler() else {
        common::not_run("papr C layout cross-check", "no C compiler (cc/gcc/$CC)");
        return None;
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/papr_layout.c");
    let exe = common::scratch("papr-c-layout").join(variant);
    let mut args: Vec<String> = ["-std=gnu11", "-Wall", "-Wextra", "-Werror"]
        .map(String::from)
        .to_vec();
    args.extend_from_slice(extra);
    Some(common::compile_and_run(&cc, &args, &src, &exe))
}

#[test]
fn hand_written_declaration_equals_rust_layout() {
    if let Some(out) = c_output("hand-written", &[]) {
        compare(&out);
    }
}

#[test]
fn linux_headers_equal_rust_layout() {
    let src = match common::linux_src() {
        Ok(s) => s,
        Err(why) => return common::not_run("papr layout against Linux's lppaca.h", &why),
    };
    let mut args = common::linux_header_args(&src).unwrap();
    args.push("-DNUMABOOT_LINUX_HEADERS".into());
    if let Some(out) = c_output("linux", &args) {
        compare(&out);
    }
}

/// Checks the program's output against the Rust tables.
fn compare(out: &str) {
    // struct -> (field list in order, (sizeof, alignof))
    let mut fields: BTreeMap<&str, Vec<(&str, usize, usize)>> = BTreeMap::new();
    let mut totals: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for line in out.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [s, f, a, b] = parts[..] else {
            panic!("unexpected C output line {line:?}")
        };
        let (a, b) = (a.parse().unwrap(), b.parse().unwrap());
        if f == "-" {
            totals.insert(s, (a, b));
        } else if !f.contains('[') {
            fields.entry(s).or_default().push((f, a, b));
        }
    }

    assert_eq!(totals.len(), layout::ALL.len());
    for l in layout::ALL {
        let c_fields = &fields[l.c_name];
        let rust_fields: Vec<(&str, usize, usize)> = l
            .fields
            .iter()
            .map(|f| (f.name, f.offset, f.size))
            .collect();
        for (r, c) in rust_fields.iter().zip(c_fields) {
            assert_eq!(r, c, "struct {}: Rust vs C", l.c_name);
        }
        assert_eq!(
            rust_fields.len(),
            c_fields.len(),
            "struct {} field count",
            l.c_name
        );
        assert_eq!(
            (l.size, l.align),
            totals[l.c_name],
            "struct {} sizeof/alignof",
            l.c_name
        );
    }

    // The anonymous save_area element, which has no table of its own.
    let inner: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("save_area[0]."))
        .collect();
    let base = std::mem::offset_of!(SlbShadow, save_area);
    assert_eq!(
        inner,
        [
            format!(
                "slb_shadow save_area[0].esid {} 8",
                base + std::mem::offset_of!(SlbShadowEntry, esid)
            ),
            format!(
                "slb_shadow save_area[0].vsid {} 8",
                base + std::mem::offset_of!(SlbShadowEntry, vsid)
            ),
        ]
    );
}
