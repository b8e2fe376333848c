//! What the C cross-checks need from the host: a C compiler, a Linux source tree and
//! `readelf`, and the flags that let Linux's `lppaca.h` / `dtl.h` compile in userspace.
//!
//! Each is optional on a developer machine (the test prints a loud notice and checks
//! what it can) and mandatory under CI: with the `CI` environment variable set, a
//! missing tool or tree fails the test instead of letting it pass unchecked.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming the Linux 6.1 source tree (only the files in
/// [`LINUX_FILES`] are read, so a partial extraction is enough).
pub const LINUX_SRC_VAR: &str = "NUMABOOT_LINUX_SRC";

/// The files of the Linux tree the tests read, relative to its root (and `Makefile`,
/// for the version: required under CI, checked when present otherwise).
pub const LINUX_FILES: &[&str] = &[
    "arch/powerpc/include/asm/lppaca.h",
    "arch/powerpc/include/asm/dtl.h",
    "arch/powerpc/include/asm/cache.h",
    "arch/powerpc/include/asm/book3s/64/mmu-hash.h",
    "arch/powerpc/include/asm/hvcall.h",
];

/// Whether this run is CI's, where nothing may be skipped.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Reports a check that cannot run: a failure under CI, a notice otherwise.
pub fn not_run(what: &str, why: &str) {
    assert!(!under_ci(), "CI is set but {what} cannot run: {why}");
    // The stderr handle, not eprintln!, which the harness captures for passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!! {what} NOT RUN: {why} !!!\n!!! (with CI set this is a failure) !!!\n"
    );
}

/// The first working C compiler of `$CC`, `cc`, `gcc`.
pub fn c_compiler() -> Option<String> {
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

/// The Linux tree: `$NUMABOOT_LINUX_SRC`, else `target/linux-source-6.1` of the
/// workspace (where CI extracts it), else `/work/linux/linux-source-6.1`. Under CI the
/// variable, when set, must name a complete tree; without it a fallback must exist.
pub fn linux_src() -> Result<PathBuf, String> {
    let complete = |d: &Path| LINUX_FILES.iter().all(|f| d.join(f).is_file());
    if let Some(dir) = std::env::var_os(LINUX_SRC_VAR).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if complete(&dir) {
            Ok(dir)
        } else {
            let missing: Vec<_> = LINUX_FILES
                .iter()
                .filter(|f| !dir.join(f).is_file())
                .collect();
            Err(format!(
                "{LINUX_SRC_VAR}={} lacks {missing:?}",
                dir.display()
            ))
        };
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [
        workspace.join("target/linux-source-6.1"),
        PathBuf::from("/work/linux/linux-source-6.1"),
    ]
    .into_iter()
    .find(|d| complete(d))
    .ok_or_else(|| format!("no Linux tree ({LINUX_SRC_VAR} unset, no fallback found)"))
}

/// `VERSION.PATCHLEVEL` from the tree's top-level Makefile; `Ok(None)` when a partial
/// tree has no Makefile (an error under CI, which extracts it).
pub fn linux_version(src: &Path) -> Result<Option<String>, String> {
    let path = src.join("Makefile");
    if !path.is_file() && !under_ci() {
        return Ok(None);
    }
    let make = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let var = |name: &str| {
        make.lines()
            .find_map(|l| l.strip_prefix(name)?.trim_start().strip_prefix('='))
            .map(str::trim)
            .ok_or_else(|| format!("no {name} in the Makefile"))
    };
    Ok(Some(format!("{}.{}", var("VERSION")?, var("PATCHLEVEL")?)))
}

/// `SLB_NUM_BOLTED` as the tree's `asm/book3s/64/mmu-hash.h` defines it.
pub fn slb_num_bolted(src: &Path) -> Result<u32, String> {
    let path = src.join("arch/powerpc/include/asm/book3s/64/mmu-hash.h");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("#define") && words.next() == Some("SLB_NUM_BOLTED"))
                .then(|| words.next()?.parse().ok())
                .flatten()
        })
        .ok_or_else(|| format!("no numeric SLB_NUM_BOLTED in {}", path.display()))
}

/// The compiler arguments that make `#include <asm/lppaca.h>` and `<asm/dtl.h>` resolve
/// to the kernel's headers, configured as Book3S-64 (Debian's ppc64le kernel).
pub fn linux_header_args(src: &Path) -> Result<Vec<String>, String> {
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/linux-shim");
    Ok(vec![
        "-D__KERNEL__".into(),
        "-DCONFIG_PPC64".into(),
        "-DCONFIG_PPC_BOOK3S".into(),
        "-DCONFIG_PPC_BOOK3S_64".into(),
        format!("-DSLB_NUM_BOLTED={}", slb_num_bolted(src)?),
        format!("-I{}", shim.display()),
        format!("-I{}", src.join("arch/powerpc/include").display()),
    ])
}

/// Compiles `c_file` with `args` into `exe`, runs it and returns its standard output.
pub fn compile_and_run(cc: &str, args: &[String], c_file: &Path, exe: &Path) -> String {
    let out = Command::new(cc)
        .args(args)
        .arg("-o")
        .arg(exe)
        .arg(c_file)
        .output()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(
        out.status.success(),
        "{cc} {args:?} failed on {}:\n{}",
        c_file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(exe)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    assert!(run.status.success(), "{} failed", exe.display());
    String::from_utf8(run.stdout).expect("ASCII output")
}

/// A scratch directory of the test binary.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
