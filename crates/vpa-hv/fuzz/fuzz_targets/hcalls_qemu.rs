//! Arbitrary H_REGISTER_VPA sequences, dispatches and guest writes under the
//! `Qemu` profile; see `vpa_hv_fuzz::run` for the input format and the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vpa_hv_fuzz::run(vpa_hv::Profile::Qemu, data);
});
