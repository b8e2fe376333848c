//! Arbitrary H_REGISTER_VPA sequences, dispatches and guest writes under the
//! `KvmPre414` profile; see `vpa_hv_fuzz::run` for the input format and the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vpa_hv_fuzz::run(vpa_hv::Profile::KvmPre414, data);
});
