//! Any bytes as a replay script: parsing and replaying must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let script = String::from_utf8_lossy(data);
    let _ = memblock::replay::run(&script);
    let _ = memblock::replay::run_bytes(data);
});
