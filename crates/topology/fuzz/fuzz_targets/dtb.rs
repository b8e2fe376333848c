//! Any byte string as a device tree blob: an error or a well-formed topology, never a
//! panic. The options vary with the input length so that seeds (real DTBs) stay
//! valid blobs while FORM0/FORM2 and radix paths are exercised too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use topology::rma::Mmu;
use topology::{parse_dtb, predict_booted, unflatten_allocations, AffinityForm, DtbOptions};

#[path = "check.rs"]
mod check;

fuzz_target!(|data: &[u8]| {
    let opts = match data.len() % 5 {
        0 => DtbOptions::default(),
        1 => DtbOptions {
            affinity: Some(AffinityForm::Form0),
            ..Default::default()
        },
        2 => DtbOptions {
            affinity: Some(AffinityForm::Form2),
            ..Default::default()
        },
        3 => DtbOptions {
            mmu: Mmu::Radix,
            arch_300: Some(false),
            ..Default::default()
        },
        _ => DtbOptions {
            affinity: Some(AffinityForm::Form1),
            ..Default::default()
        },
    };
    match parse_dtb(data, &opts) {
        Ok(r) => {
            check::check(&r.topology);
            let _ = r.facts.possible_cpus(2048);
        }
        // Display must not panic either.
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // The size models and the booted-tree prediction take the same untrusted input.
    let _ = unflatten_allocations(data);
    if let Err(e) = predict_booted(data) {
        let _ = e.to_string();
    }
});
