//! Any text as a TOML topology: an error or a well-formed topology, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "check.rs"]
mod check;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match topology::topology_from_toml(text) {
        Ok(t) => check::check(&t),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
