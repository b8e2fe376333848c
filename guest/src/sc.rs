//! The one `sc 1` of the guest (start.S `hcall_out`) and the entry point secondaries are
//! started at: the lowest layer, which the console, RTAS, the hypervisor wrapper and the
//! script runner all stand on.

use core::sync::atomic::{AtomicU64, Ordering};

extern "C" {
    fn hcall_out(
        out: *mut [u64; 6],
        opcode: u64,
        a1: u64,
        a2: u64,
        a3: u64,
        a4: u64,
        a5: u64,
        a6: u64,
    ) -> i64;
    fn _secondary();
}

/// Every `sc 1` the guest has executed, counted by start.S's `hcall_out` before the
/// instruction itself (the only `sc 1` in the guest).
#[no_mangle]
pub static SC1_CALLS: AtomicU64 = AtomicU64::new(0);

/// The number of `sc 1` instructions executed so far, by all CPUs.
pub fn sc1_calls() -> u64 {
    SC1_CALLS.load(Ordering::Acquire)
}

/// Issues hcall `opcode` with six arguments; returns r3 and fills `out` with r4..r9.
pub fn hcall_raw(out: &mut [u64; 6], opcode: u64, a: [u64; 6]) -> i64 {
    // SAFETY: hcall_out (start.S) follows the ELFv2 ABI (it preserves CR and every
    // non-volatile register), performs `sc 1` and stores six doublewords through `out`,
    // a valid exclusive reference. During the hcall the hypervisor may write guest memory
    // the arguments name (the RTAS buffer, a VPA); the callers pass only addresses of
    // memory no Rust reference points into, and read it back with volatile accesses.
    unsafe { hcall_out(out, opcode, a[0], a[1], a[2], a[3], a[4], a[5]) }
}

/// The address RTAS start-cpu should start secondaries at.
pub fn secondary_entry() -> u64 {
    _secondary as *const () as u64
}
