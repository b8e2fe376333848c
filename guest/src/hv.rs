//! `sc 1`: the real [`papr::hcall::Hypervisor`].

use core::sync::atomic::{AtomicU64, Ordering};

use papr::hcall::{HcallResult, Hypervisor, Opcode, ReturnCode};

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

/// The hypervisor this guest runs under, reached with `sc 1`. Every H_REGISTER_VPA is
/// printed as an `NB hcall` line with the 4 bytes at `addr + 4` (the length word VPA,
/// DTL and SLB-shadow registrations read), so the host can replay it on its model.
pub struct SystemHypervisor {
    /// Name printed with the next calls.
    pub case: &'static str,
    /// Highest address (exclusive) the guest may read in real mode.
    pub readable_below: u64,
    /// H_REGISTER_VPA calls made so far.
    pub vpa_calls: u64,
}

impl Hypervisor for SystemHypervisor {
    fn hcall(&mut self, opcode: Opcode, args: &[u64]) -> HcallResult {
        let mut a = [0u64; 6];
        for (slot, v) in a.iter_mut().zip(args) {
            *slot = *v;
        }
        let mut out6 = [0u64; 6];
        let len_word = if opcode == Opcode::H_REGISTER_VPA {
            crate::run::peek_len_word(a[2], self.readable_below)
        } else {
            0
        };
        let ret = hcall_raw(&mut out6, opcode.0, a);
        if opcode == Opcode::H_REGISTER_VPA {
            self.vpa_calls += 1;
            nb!(
                "hcall name={} flags={:#x} proc={} addr={:#x} len={:#010x} rc={}",
                self.case,
                a[0],
                a[1],
                a[2],
                len_word,
                ret
            );
        }
        let mut out = [0u64; 9];
        out[..6].copy_from_slice(&out6);
        HcallResult {
            ret: ReturnCode::from_raw(ret),
            out,
        }
    }
}
