//! `crashkernel=` from the kernel command line, as Linux 6.1's `parse_crashkernel`
//! (kernel/crash_core.c) reads it: the last `crashkernel=` without a `,high`/`,low`
//! suffix; if a `:` comes before the next space it is the range form
//! `start-[end]:size[,start-[end]:size...][@offset]`, else `size[@offset]`. Numbers are
//! `memparse`d: C integer syntax (`0x` hex, leading `0` octal) with an optional
//! K/M/G/T/P/E suffix.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use phys::{PhysAddr, PhysSize};

/// One `start-[end]:size` entry of the range form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashRange {
    /// Applies when system RAM is at least this.
    pub start: PhysSize,
    /// ... and below this (`None`: no upper bound).
    pub end: Option<PhysSize>,
    /// Bytes to reserve.
    pub size: PhysSize,
}

/// A parsed `crashkernel=` option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrashKernel {
    /// `crashkernel=size[@offset]`.
    Fixed {
        /// Bytes to reserve.
        size: PhysSize,
        /// Requested base (`@offset`), if any.
        offset: Option<PhysAddr>,
    },
    /// `crashkernel=range:size[,range:size...][@offset]`; the size depends on the
    /// system RAM, see [`CrashKernel::reservation`].
    Ranges {
        /// The entries in order.
        ranges: Vec<CrashRange>,
        /// Requested base (`@offset`), if any.
        offset: Option<PhysAddr>,
    },
}

impl CrashKernel {
    /// The `(size, offset)` `parse_crashkernel` yields for a machine with `system_ram`
    /// bytes of RAM (powerpc passes `memblock_phys_mem_size()`), or `None` when
    /// nothing is reserved: no range matches, the size is 0, or (as
    /// `parse_crashkernel_mem` checks each entry up to the match) an entry's size is
    /// not below the RAM size.
    pub fn reservation(&self, system_ram: PhysSize) -> Option<(PhysSize, Option<PhysAddr>)> {
        match self {
            Self::Fixed { size, offset } => (!size.is_zero()).then_some((*size, *offset)),
            Self::Ranges { ranges, offset } => {
                for r in ranges {
                    if r.size >= system_ram {
                        return None;
                    }
                    let below_end = r.end.is_none_or(|e| system_ram < e);
                    if system_ram >= r.start && below_end {
                        return (!r.size.is_zero()).then_some((r.size, *offset));
                    }
                }
                None
            }
        }
    }
}

/// `memparse`: the number and the rest of the text, `None` when no digit is there.
fn memparse(s: &str) -> Result<(u64, &str), String> {
    let b = s.as_bytes();
    let (radix, skip) = match b {
        [b'0', b'x' | b'X', c, ..] if c.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let digits = b
        .iter()
        .skip(skip)
        .take_while(|c| char::from(**c).is_digit(radix))
        .count();
    if digits == 0 {
        return Err(format!("memory value expected at {s:?}"));
    }
    let text = s.get(skip..skip + digits).unwrap_or("");
    let mut v = u64::from_str_radix(text, radix).map_err(|_| format!("{text:?} overflows"))?;
    let mut rest = s.get(skip + digits..).unwrap_or("");
    let shift = match rest.chars().next() {
        Some('K' | 'k') => 10,
        Some('M' | 'm') => 20,
        Some('G' | 'g') => 30,
        Some('T' | 't') => 40,
        Some('P' | 'p') => 50,
        Some('E' | 'e') => 60,
        _ => 0,
    };
    if shift > 0 {
        v = v
            .checked_mul(1 << shift)
            .ok_or_else(|| format!("{s:?} overflows"))?;
        rest = rest.get(1..).unwrap_or("");
    }
    Ok((v, rest))
}

/// `get_last_crashkernel`: the text after the last `crashkernel=` whose word does not
/// end in `,high` or `,low`.
fn last_option(cmdline: &str) -> Option<&str> {
    let mut found = None;
    let mut from = 0;
    while let Some(at) = cmdline.get(from..).and_then(|s| s.find("crashkernel=")) {
        let start = from + at;
        let word = cmdline.get(start..).unwrap_or("");
        let word = word.split(' ').next().unwrap_or(word);
        if !word.ends_with(",high") && !word.ends_with(",low") {
            found = cmdline.get(start + "crashkernel=".len()..);
        }
        from = start + 1;
    }
    found
}

/// Parses the `crashkernel=` option of a command line: `Ok(None)` when there is none,
/// an error (what Linux warns about) when it is malformed.
pub fn parse_crashkernel(cmdline: &str) -> Result<Option<CrashKernel>, String> {
    let Some(arg) = last_option(cmdline) else {
        return Ok(None);
    };
    let colon = arg.find(':');
    let space = arg.find(' ');
    let ranged = match (colon, space) {
        (Some(c), Some(s)) => c < s,
        (Some(_), None) => true,
        _ => false,
    };
    if !ranged {
        let (size, rest) = memparse(arg)?;
        let offset = match rest.chars().next() {
            Some('@') => Some(PhysAddr::new(memparse(rest.get(1..).unwrap_or(""))?.0)),
            None | Some(' ') => None,
            Some(c) => return Err(format!("crashkernel: unrecognized char {c:?}")),
        };
        return Ok(Some(CrashKernel::Fixed {
            size: PhysSize::new(size),
            offset,
        }));
    }
    let mut ranges = Vec::new();
    let mut cur = arg;
    loop {
        let (start, rest) = memparse(cur)?;
        let rest = rest.strip_prefix('-').ok_or("crashkernel: '-' expected")?;
        let (end, rest) = if rest.starts_with(':') {
            (None, rest)
        } else {
            let (end, rest) = memparse(rest)?;
            if end <= start {
                return Err("crashkernel: end <= start".into());
            }
            (Some(PhysSize::new(end)), rest)
        };
        let rest = rest.strip_prefix(':').ok_or("crashkernel: ':' expected")?;
        let (size, rest) = memparse(rest)?;
        ranges.push(CrashRange {
            start: PhysSize::new(start),
            end,
            size: PhysSize::new(size),
        });
        match rest.strip_prefix(',') {
            Some(next) => cur = next,
            None => {
                cur = rest;
                break;
            }
        }
    }
    let offset = match cur.chars().next() {
        Some('@') => Some(PhysAddr::new(memparse(cur.get(1..).unwrap_or(""))?.0)),
        None | Some(' ') => None,
        Some(c) => return Err(format!("crashkernel: unexpected {c:?} after the ranges")),
    };
    Ok(Some(CrashKernel::Ranges { ranges, offset }))
}
