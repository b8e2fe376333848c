//! Any bytes as a replay script: parsing and replaying must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| memblock_fuzz::replay(data));
