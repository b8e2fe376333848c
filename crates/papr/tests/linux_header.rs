//! Compiles Linux's own structure definitions and compares them with the Rust tables.
//!
//! Needs a Linux source tree: `NUMABOOT_LINUX_SRC=/path/to/linux`, falling back to
//! `/work/linux/linux-source-6.1` when that exists. Without one the test says so and
//! passes: CI has no kernel tree, and tests/c_layout.rs covers the layout there with
//! an independent C declaration. Nothing from the kernel is copied into this
//! repository; the struct bodies are cut out of the headers at test time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use papr::layout;

fn linux_src() -> Option<PathBuf> {
    let dir = std::env::var_os("NUMABOOT_LINUX_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/linux/linux-source-6.1"));
    dir.join("arch/powerpc/include/asm/lppaca.h")
        .is_file()
        .then_some(dir)
}

/// The text from `struct NAME {` through the `;` that closes it.
fn cut_struct(header: &str, name: &str) -> String {
    let start = header
        .find(&format!("struct {name} {{"))
        .unwrap_or_else(|| panic!("struct {name} not found"));
    let mut depth = 0;
    for (i, c) in header[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ';' if depth == 0 => return header[start..=start + i].to_string(),
            _ => {}
        }
    }
    panic!("struct {name} not terminated")
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        match rest[i..].find("*/") {
            Some(j) => rest = &rest[i + j + 2..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Names of the top-level members, in order (the declarator of each `;` at depth 1).
fn member_names(body: &str) -> Vec<String> {
    let body = strip_comments(body);
    let mut names = Vec::new();
    let mut depth = 0;
    let mut stmt = String::new();
    for c in body.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    stmt.clear();
                    continue;
                }
            }
            '}' => depth -= 1,
            ';' if depth == 1 => {
                let decl = stmt.split('[').next().unwrap_or("");
                let name = decl
                    .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .find(|t| !t.is_empty())
                    .unwrap();
                names.push(name.to_string());
                stmt.clear();
                continue;
            }
            _ => {}
        }
        if depth >= 1 {
            stmt.push(c);
        }
    }
    names
}

#[test]
fn rust_layout_equals_linux_header() {
    let Some(src) = linux_src() else {
        let _ = writeln!(
            std::io::stderr(),
            "linux_header: no Linux tree (set NUMABOOT_LINUX_SRC); comparison skipped"
        );
        return;
    };
    if Command::new("cc").arg("--version").output().is_err() {
        eprintln!("linux_header: no cc; comparison skipped (c_layout.rs reports this loudly)");
        return;
    }
    let asm = src.join("arch/powerpc/include/asm");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let lppaca_h = read(&asm.join("lppaca.h"));
    let dtl_h = read(&asm.join("dtl.h"));
    let mmu_hash = read(&asm.join("book3s/64/mmu-hash.h"));
    let bolted = mmu_hash
        .lines()
        .find(|l| l.starts_with("#define SLB_NUM_BOLTED"))
        .expect("SLB_NUM_BOLTED in mmu-hash.h");

    let bodies = [
        cut_struct(&lppaca_h, "lppaca"),
        cut_struct(&lppaca_h, "slb_shadow"),
        cut_struct(&dtl_h, "dtl_entry"),
    ];
    let mut c = String::from(
        "#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n\
         typedef uint8_t u8;\ntypedef uint16_t __be16;\ntypedef uint32_t __be32;\n\
         typedef uint64_t __be64;\n\
         #define ____cacheline_aligned __attribute__((__aligned__(128)))\n",
    );
    c.push_str(bolted);
    c.push('\n');
    for b in &bodies {
        c.push_str(b);
        c.push('\n');
    }
    c.push_str("int main(void) {\n");
    for l in layout::ALL {
        for f in l.fields {
            c.push_str(&format!(
                "printf(\"{s} {f} %zu %zu\\n\", offsetof(struct {s}, {f}), sizeof(((struct {s} *)0)->{f}));\n",
                s = l.c_name,
                f = f.name
            ));
        }
        c.push_str(&format!(
            "printf(\"{s} total %zu %zu\\n\", sizeof(struct {s}), _Alignof(struct {s}));\n",
            s = l.c_name
        ));
    }
    c.push_str("return 0;\n}\n");

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("papr-linux-header");
    std::fs::create_dir_all(&dir).unwrap();
    let (c_file, exe) = (dir.join("linux_layout.c"), dir.join("linux_layout"));
    std::fs::write(&c_file, &c).unwrap();
    let status = Command::new("cc")
        .args(["-std=gnu11", "-o"])
        .arg(&exe)
        .arg(&c_file)
        .status()
        .unwrap();
    assert!(status.success(), "cc failed on {}", c_file.display());
    let out = Command::new(&exe).output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();

    let mut expected = String::new();
    for l in layout::ALL {
        for f in l.fields {
            expected.push_str(&format!(
                "{} {} {} {}\n",
                l.c_name, f.name, f.offset, f.size
            ));
        }
        expected.push_str(&format!("{} total {} {}\n", l.c_name, l.size, l.align));
    }
    for (got, want) in out.lines().zip(expected.lines()) {
        assert_eq!(got, want, "Linux's header (left) vs the Rust table (right)");
    }
    assert_eq!(out.lines().count(), expected.lines().count());

    // And the converse: Linux declares no member the Rust tables lack.
    for (body, l) in bodies.iter().zip(layout::ALL) {
        let rust: Vec<&str> = l.fields.iter().map(|f| f.name).collect();
        assert_eq!(member_names(body), rust, "members of struct {}", l.c_name);
    }
}
