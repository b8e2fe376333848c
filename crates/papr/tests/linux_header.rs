//! Compiles Linux 6.1's own `asm/lppaca.h` and `asm/dtl.h` and compares
//! `struct lppaca`, `struct slb_shadow` and `struct dtl_entry` with the Rust layout
//! tables in both directions:
//!
//! * Rust -> C: a program generated from the Rust tables prints `offsetof` and the
//!   member size of every Rust field, and `sizeof`/`_Alignof` of every structure; it
//!   does not compile if Linux lacks a field of that name.
//! * C -> Rust: the compiler's debug information (DWARF, read with `readelf`) lists
//!   every member Linux declares, in order, with its offset; that list must equal the
//!   Rust table's names and offsets.
//!
//! The tree comes from `NUMABOOT_LINUX_SRC` (see tests/common/mod.rs for the fallbacks
//! and the files read). Nothing from the kernel is copied into this repository: the
//! headers are included as they are, behind the userspace stand-ins in
//! tests/c/linux-shim/. Without a tree, compiler or `readelf` the test prints a notice
//! and passes, except under CI (`CI` set), where it fails.

mod common;

use std::fmt::Write as _;
use std::process::Command;

use papr::dtl::{
    DISPATCH_LOG_BYTES, DTL_LOG_ALL, DTL_LOG_CEDE, DTL_LOG_FAULT, DTL_LOG_PREEMPT, N_DISPATCH_LOG,
};
use papr::hcall::{H_VPA_FUNC_MASK, H_VPA_FUNC_SHIFT};
use papr::layout::{self, StructLayout};
use papr::{
    Opcode, ReturnCode, VpaSubfunction, DTL_ENTRY_SIZE, L1_CACHE_BYTES, LPPACA_OLD_SHARED_PROC,
    SLB_NUM_BOLTED, SLB_SHADOW_SIZE,
};

/// The Rust -> C program: every Rust field through the real headers.
fn c_program() -> String {
    let mut c = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n\
         #include <asm/lppaca.h>\n#include <asm/dtl.h>\n\
         int main(void) {\n",
    );
    for l in layout::ALL {
        for f in l.fields {
            let _ = writeln!(
                c,
                "printf(\"{s} {f} %zu %zu\\n\", offsetof(struct {s}, {f}), \
                 sizeof(((struct {s} *)0)->{f}));",
                s = l.c_name,
                f = f.name
            );
        }
        let _ = writeln!(
            c,
            "printf(\"{s} total %zu %zu\\n\", sizeof(struct {s}), \
             (size_t)_Alignof(struct {s}));",
            s = l.c_name
        );
    }
    c.push_str("return 0;\n}\n");
    c
}

fn rust_expectation() -> String {
    let mut expected = String::new();
    for l in layout::ALL {
        for f in l.fields {
            let _ = writeln!(expected, "{} {} {} {}", l.c_name, f.name, f.offset, f.size);
        }
        let _ = writeln!(expected, "{} total {} {}", l.c_name, l.size, l.align);
    }
    expected
}

/// One structure as the DWARF describes it.
#[derive(Debug, Default, PartialEq)]
struct DwarfStruct {
    byte_size: Option<usize>,
    /// Direct members in order: name and `DW_AT_data_member_location`.
    members: Vec<(String, Option<usize>)>,
}

/// The value of an attribute line: after the attribute's `:`, without the parenthesised
/// form and string-table notes readelf puts first (`(data1) 16`, `(string) a`,
/// `(strp) (offset: 0x12): lppaca`).
fn attr_value(line: &str) -> &str {
    let mut v = line.split_once(':').map_or("", |(_, v)| v).trim();
    while let Some(rest) = v.strip_prefix('(') {
        v = rest.split_once(')').map_or("", |(_, r)| r).trim_start();
        v = v.strip_prefix(':').unwrap_or(v).trim_start();
    }
    v.trim()
}

/// The named structure types of `readelf --debug-dump=info` output and their direct
/// members (members of nested anonymous structures are not the outer one's).
fn dwarf_structs(dump: &str, names: &[&str]) -> Vec<(String, DwarfStruct)> {
    let mut found: Vec<(String, DwarfStruct)> = Vec::new();
    // (depth of the DIE being read, its tag)
    let mut current: Option<(usize, String)> = None;
    // (depth of the structure whose members are collected, index in `found`)
    let mut open: Option<(usize, usize)> = None;
    for line in dump.lines() {
        let t = line.trim_start();
        // A DIE header: " <depth><offset>: Abbrev Number: N (DW_TAG_x)".
        if let Some(rest) = t.strip_prefix('<') {
            if let Some((depth, tail)) = rest.split_once('>') {
                if let (Ok(depth), true) = (depth.parse::<usize>(), tail.starts_with('<')) {
                    let tag = tail
                        .split_once('(')
                        .map_or("", |(_, tg)| tg.trim_end_matches(')'));
                    if open.is_some_and(|(d, _)| depth <= d) {
                        open = None;
                    }
                    current = Some((depth, tag.to_string()));
                    continue;
                }
            }
        }
        let Some((depth, tag)) = &current else {
            continue;
        };
        let attr = t
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .trim_end_matches(':');
        match (tag.as_str(), attr) {
            ("DW_TAG_structure_type", "DW_AT_name") if open.is_none() => {
                let name = attr_value(t);
                if names.contains(&name) {
                    found.push((name.to_string(), DwarfStruct::default()));
                    open = Some((*depth, found.len() - 1));
                }
            }
            ("DW_TAG_structure_type", "DW_AT_byte_size") => {
                if let Some((d, i)) = open {
                    if d == *depth {
                        found[i].1.byte_size = attr_value(t).parse().ok();
                    }
                }
            }
            ("DW_TAG_member", "DW_AT_name" | "DW_AT_data_member_location") => {
                let Some((d, i)) = open else { continue };
                if *depth != d + 1 {
                    continue;
                }
                let members = &mut found[i].1.members;
                if attr == "DW_AT_name" {
                    members.push((attr_value(t).to_string(), None));
                } else if let Some(last) = members.last_mut() {
                    last.1 = attr_value(t).parse().ok();
                }
            }
            _ => {}
        }
    }
    found
}

fn dwarf_expectation(l: &StructLayout) -> DwarfStruct {
    DwarfStruct {
        byte_size: Some(l.size),
        members: l
            .fields
            .iter()
            .map(|f| (f.name.to_string(), Some(f.offset)))
            .collect(),
    }
}

#[test]
fn rust_layout_equals_linux_header() {
    let src = match common::linux_src() {
        Ok(s) => s,
        Err(why) => return common::not_run("papr layout against Linux's lppaca.h", &why),
    };
    if let Some(version) = common::linux_version(&src).unwrap() {
        assert_eq!(version, "6.1", "{} is not a Linux 6.1 tree", src.display());
    }
    let Some(cc) = common::c_compiler() else {
        return common::not_run("papr layout against Linux's lppaca.h", "no C compiler");
    };
    let dir = common::scratch("papr-linux-header");
    let (c_file, exe) = (dir.join("linux_layout.c"), dir.join("linux_layout"));
    std::fs::write(&c_file, c_program()).unwrap();
    let mut args = common::linux_header_args(&src).unwrap();
    // Debug information for the C -> Rust direction; keep every type, used or not.
    args.extend(
        [
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-O0",
            "-fno-eliminate-unused-debug-types",
        ]
        .map(String::from),
    );
    let out = common::compile_and_run(&cc, &args, &c_file, &exe);

    // Rust -> C.
    let expected = rust_expectation();
    for (got, want) in out.lines().zip(expected.lines()) {
        assert_eq!(got, want, "Linux's header (left) vs the Rust table (right)");
    }
    assert_eq!(out.lines().count(), expected.lines().count());

    // C -> Rust.
    let dump = match Command::new("readelf")
        .args(["--debug-dump=info", "--wide"])
        .arg(&exe)
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        other => {
            return common::not_run(
                "the C -> Rust member comparison",
                &format!("readelf (binutils) failed: {other:?}"),
            )
        }
    };
    let names: Vec<&str> = layout::ALL.iter().map(|l| l.c_name).collect();
    let structs = dwarf_structs(&dump, &names);
    for l in layout::ALL {
        let mut defs = structs.iter().filter(|(n, _)| n == l.c_name);
        let (_, got) = defs
            .next()
            .unwrap_or_else(|| panic!("struct {} not in the debug information", l.c_name));
        assert_eq!(
            got,
            &dwarf_expectation(l),
            "struct {}: Linux's members (left) vs the Rust table (right)",
            l.c_name
        );
    }
}

/// The object-like `#define NAME VALUE` of `header` for each of `names`, without the
/// trailing comment; `None` for a name the header does not define that way.
fn macro_definition(header: &str, name: &str) -> Option<String> {
    header.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix("#define")?;
        let rest = rest.trim_start().strip_prefix(name)?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let value = rest.split("/*").next()?.trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// Every constant the crate shares with Linux, against the value Linux's headers
/// give it: the hcall numbers, subfunction codes and return codes of `hvcall.h`
/// (definitions cut out at test time and evaluated by the compiler, since the header
/// itself drags in most of the kernel), and the macros and `sizeof`s of `lppaca.h`,
/// `dtl.h` and `asm/cache.h` through the real headers.
#[test]
fn rust_constants_equal_linux_macros() {
    let src = match common::linux_src() {
        Ok(s) => s,
        Err(why) => return common::not_run("papr constants against Linux's headers", &why),
    };
    let Some(cc) = common::c_compiler() else {
        return common::not_run("papr constants against Linux's headers", "no C compiler");
    };
    let hvcall = std::fs::read_to_string(src.join("arch/powerpc/include/asm/hvcall.h")).unwrap();

    // (Linux's name, the Rust value)
    let mut want: Vec<(String, i128)> = vec![
        ("H_PUT_TERM_CHAR".into(), Opcode::H_PUT_TERM_CHAR.0.into()),
        ("H_REGISTER_VPA".into(), Opcode::H_REGISTER_VPA.0.into()),
        (
            "H_HOME_NODE_ASSOCIATIVITY".into(),
            Opcode::H_HOME_NODE_ASSOCIATIVITY.0.into(),
        ),
        ("H_VPA_FUNC_SHIFT".into(), H_VPA_FUNC_SHIFT.into()),
        ("H_VPA_FUNC_MASK".into(), H_VPA_FUNC_MASK.into()),
    ];
    for sub in VpaSubfunction::ALL {
        want.push((sub.name().into(), sub.code().into()));
    }
    // Every return code the crate names (they are small; scan the raw values).
    let named: Vec<ReturnCode> = (-1000..=10_000)
        .map(ReturnCode::from_raw)
        .filter(|c| c.name().is_some())
        .collect();
    assert!(named.len() > 10, "ReturnCode names: {named:?}");
    for code in named {
        want.push((code.name().unwrap().into(), code.raw().into()));
    }
    let mut c = String::from("#include <stdio.h>\n#include <asm/lppaca.h>\n#include <asm/dtl.h>\n");
    for (name, _) in &want {
        let value = macro_definition(&hvcall, name)
            .unwrap_or_else(|| panic!("hvcall.h does not #define {name}"));
        let _ = writeln!(c, "#define {name} {value}");
    }
    let header_macros: [(&str, i128); 11] = [
        ("DTL_LOG_CEDE", DTL_LOG_CEDE.into()),
        ("DTL_LOG_PREEMPT", DTL_LOG_PREEMPT.into()),
        ("DTL_LOG_FAULT", DTL_LOG_FAULT.into()),
        ("DTL_LOG_ALL", DTL_LOG_ALL.into()),
        ("DISPATCH_LOG_BYTES", DISPATCH_LOG_BYTES as i128),
        ("N_DISPATCH_LOG", N_DISPATCH_LOG as i128),
        ("LPPACA_OLD_SHARED_PROC", LPPACA_OLD_SHARED_PROC.into()),
        ("SLB_NUM_BOLTED", SLB_NUM_BOLTED as i128),
        ("L1_CACHE_BYTES", L1_CACHE_BYTES.into()),
        ("sizeof(struct dtl_entry)", DTL_ENTRY_SIZE as i128),
        ("sizeof(struct slb_shadow)", SLB_SHADOW_SIZE as i128),
    ];
    want.extend(header_macros.iter().map(|(n, v)| (n.to_string(), *v)));
    c.push_str("int main(void) {\n");
    for (name, _) in &want {
        let _ = writeln!(
            c,
            "printf(\"%s %lld\\n\", \"{name}\", (long long)({name}));"
        );
    }
    c.push_str("return 0;\n}\n");

    let dir = common::scratch("papr-linux-header");
    let (c_file, exe) = (dir.join("linux_constants.c"), dir.join("linux_constants"));
    std::fs::write(&c_file, c).unwrap();
    let mut args = common::linux_header_args(&src).unwrap();
    args.extend(["-std=gnu11", "-Wall", "-Wextra", "-Werror"].map(String::from));
    let out = common::compile_and_run(&cc, &args, &c_file, &exe);
    let expected: String = want.iter().map(|(n, v)| format!("{n} {v}\n")).collect();
    for (got, want) in out.lines().zip(expected.lines()) {
        assert_eq!(got, want, "Linux (left) vs Rust (right)");
    }
    assert_eq!(out.lines().count(), expected.lines().count());
}

/// The DWARF reader itself, on a structure with a member the Rust tables lack and a
/// nested anonymous structure, so that a reader returning nothing cannot pass.
#[test]
fn dwarf_reader_sees_every_member() {
    let Some(cc) = common::c_compiler() else {
        return common::not_run("the DWARF reader check", "no C compiler");
    };
    let dir = common::scratch("papr-linux-header");
    let (c_file, exe) = (dir.join("dwarf_probe.c"), dir.join("dwarf_probe"));
    std::fs::write(
        &c_file,
        "struct probe { int a; struct { long x; long y; } pair[2]; char extra_member; };\n\
         struct probe p;\nint main(void) { return 0; }\n",
    )
    .unwrap();
    let args = ["-g", "-O0"].map(String::from);
    common::compile_and_run(&cc, &args, &c_file, &exe);
    let Ok(o) = Command::new("readelf")
        .args(["--debug-dump=info", "--wide"])
        .arg(&exe)
        .output()
    else {
        return common::not_run("the DWARF reader check", "no readelf");
    };
    let dump = String::from_utf8_lossy(&o.stdout);
    let got = dwarf_structs(&dump, &["probe"]);
    let want = DwarfStruct {
        byte_size: Some(48),
        members: vec![
            ("a".into(), Some(0)),
            ("pair".into(), Some(8)),
            ("extra_member".into(), Some(40)),
        ],
    };
    assert_eq!(got, vec![("probe".to_string(), want)]);
}
