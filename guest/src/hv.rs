//! `sc 1` as the real [`papr::hcall::Hypervisor`], with every H_REGISTER_VPA printed.

use papr::hcall::{HcallResult, Hypervisor, Opcode, ReturnCode};

use crate::realmem::peek_len_word;
use crate::sc::hcall_raw;

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
            peek_len_word(a[2], self.readable_below)
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
