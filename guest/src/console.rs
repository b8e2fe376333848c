//! The hypervisor console (H_PUT_TERM_CHAR on the default vty).
//!
//! Several CPUs print report lines at once, and H_PUT_TERM_CHAR takes 16 bytes per call,
//! so a line is formatted into a buffer first and written under a spinlock: the host
//! side parses whole lines.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::hv::hcall_raw;

static LOCK: AtomicBool = AtomicBool::new(false);

fn put(bytes: &[u8]) {
    for chunk in bytes.chunks(16) {
        let mut buf = [0u8; 16];
        buf[..chunk.len()].copy_from_slice(chunk);
        // PAPR packs the characters MSB-first into r6 and r7.
        let (hi, lo) = buf.split_at(8);
        let hi = u64::from_be_bytes(hi.try_into().unwrap_or([0; 8]));
        let lo = u64::from_be_bytes(lo.try_into().unwrap_or([0; 8]));
        let mut out = [0u64; 6];
        // 0 selects the default vty; QEMU accepts it as well as the vty's reg value.
        hcall_raw(&mut out, 0x58, [0, chunk.len() as u64, hi, lo, 0, 0]);
    }
}

/// A line being formatted; longer lines are cut at the buffer size.
struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// Prints one whole line atomically with respect to other CPUs.
pub fn line(args: fmt::Arguments<'_>) {
    let mut l = Line {
        buf: [0; 256],
        len: 0,
    };
    let _ = l.write_fmt(args);
    let _ = l.write_str("\n");
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    put(&l.buf[..l.len]);
    LOCK.store(false, Ordering::Release);
}

/// `nb!("...")` prints an `NB ` report line.
#[macro_export]
macro_rules! nb {
    ($($arg:tt)*) => {
        $crate::console::line(format_args!("NB {}", format_args!($($arg)*)))
    };
}
