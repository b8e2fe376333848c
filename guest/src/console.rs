//! The hypervisor console (H_PUT_TERM_CHAR on the default vty).
//!
//! Several CPUs print report lines at once, and H_PUT_TERM_CHAR takes 16 bytes per call,
//! so a line is formatted into a buffer first and written under a spinlock: the host
//! side parses whole lines.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::sc::hcall_raw;

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

/// Longest line printed; a longer one is cut and marked with `~` so that the host sees
/// a malformed line rather than two merged ones.
const LINE_MAX: usize = 511;

/// A line being formatted (one byte is kept for the newline).
struct Line {
    buf: [u8; LINE_MAX + 1],
    len: usize,
    cut: bool,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len < LINE_MAX {
                self.buf[self.len] = b;
                self.len += 1;
            } else {
                self.cut = true;
            }
        }
        Ok(())
    }
}

/// Prints one whole line atomically with respect to other CPUs.
pub fn line(args: fmt::Arguments<'_>) {
    let mut l = Line {
        buf: [0; LINE_MAX + 1],
        len: 0,
        cut: false,
    };
    let _ = l.write_fmt(args);
    if l.cut {
        l.buf[LINE_MAX - 1] = b'~';
    }
    l.buf[l.len] = b'\n';
    l.len += 1;
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    put(&l.buf[..l.len]);
    LOCK.store(false, Ordering::Release);
}

/// Prints `prefix`, `body` and a newline atomically with respect to other CPUs, however
/// long `body` is (a live `read` prints up to 2 MiB of hex on one line).
pub fn long_line(prefix: &str, body: &str) {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    put(prefix.as_bytes());
    put(body.as_bytes());
    put(b"\n");
    LOCK.store(false, Ordering::Release);
}

/// `nb!("...")` prints an `NB ` report line.
#[macro_export]
macro_rules! nb {
    ($($arg:tt)*) => {
        $crate::console::line(format_args!("NB {}", format_args!($($arg)*)))
    };
}
