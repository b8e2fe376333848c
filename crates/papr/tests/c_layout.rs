//! Cross-check against a C compiler: compiles tests/c/papr_layout.c (an independent C
//! declaration of the structures from the published layout), runs it, and compares its
//! `offsetof`/`sizeof` output with the Rust layout tables, field by field.
//!
//! Without a C compiler the test prints a loud notice and passes, except under CI (the
//! `CI` environment variable set), where it fails: CI must install gcc.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use papr::layout;
use papr::{SlbShadow, SlbShadowEntry};

fn c_compiler() -> Option<String> {
    let mut candidates = std::env::var("CC")
        .into_iter()
        .chain(["cc".into(), "gcc".into()]);
    candidates.find(|cc| {
        Command::new(cc)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Compiles and runs the C program; `None` when there is no compiler.
fn c_output() -> Option<String> {
    let Some(cc) = c_compiler() else {
        let msg = "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                   !!! papr C layout cross-check NOT RUN: no C compiler (cc/gcc/$CC) !!!\n\
                   !!! install gcc to compare the Rust structs with C's offsetof.   !!!\n\
                   !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n";
        // Written to the stderr handle, not with eprintln!, which the test harness
        // captures and hides for a passing test.
        let _ = writeln!(std::io::stderr(), "{msg}");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no C compiler was found"
        );
        return None;
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/papr_layout.c");
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("papr-c-layout");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join("papr_layout");
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success(), "{cc} failed on {}", src.display());
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success(), "{} failed", exe.display());
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn rust_layout_equals_c_offsetof() {
    let Some(out) = c_output() else { return };
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
