//! Any text as a TOML topology: an error or a well-formed topology, never a panic (see
//! `topology_fuzz::toml`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| topology_fuzz::toml(data));
