//! Any byte string as a device tree blob: an error or a well-formed topology, never a
//! panic (see `topology_fuzz::dtb`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| topology_fuzz::dtb(data));
