//! The hypervisor console (H_PUT_TERM_CHAR on the default vty).

use core::fmt;

use crate::hv::hcall_raw;

/// Writes to QEMU's first vty, 16 bytes per hcall.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for chunk in s.as_bytes().chunks(16) {
            let mut buf = [0u8; 16];
            buf[..chunk.len()].copy_from_slice(chunk);
            // PAPR packs the characters MSB-first into r6 and r7.
            let hi = u64::from_be_bytes([buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7]]);
            let lo = u64::from_be_bytes([buf[8], buf[9], buf[10], buf[11], buf[12], buf[13], buf[14], buf[15]]);
            let mut out = [0u64; 6];
            // 0 selects the default vty; QEMU accepts it as well as the vty's reg value.
            hcall_raw(&mut out, 0x58, [0, chunk.len() as u64, hi, lo, 0, 0]);
        }
        Ok(())
    }
}
