//! Where the Linux memblock oracle is (shared by the test files that run it).

use std::path::PathBuf;

pub const ORACLE_ENV: &str = "NUMABOOT_LINUX_MEMBLOCK";

/// The oracle binary, or `None` (with a notice naming `test`) when it is not there
/// outside CI; under `CI` a missing oracle fails the test.
pub fn oracle(test: &str) -> Option<PathBuf> {
    let why = match std::env::var_os(ORACLE_ENV) {
        Some(p) if PathBuf::from(&p).is_file() => return Some(PathBuf::from(p)),
        Some(p) => format!("{ORACLE_ENV}={} is not a file", PathBuf::from(p).display()),
        None => format!("{ORACLE_ENV} is not set"),
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "the Linux memblock oracle is required under CI: {why}; build it with \
         tools/memblock-oracle/build.sh and set {ORACLE_ENV} to the path it prints"
    );
    eprintln!(
        "{test}: SKIPPED, {why} (build it with tools/memblock-oracle/build.sh and \
         set {ORACLE_ENV} to the path it prints)"
    );
    None
}
