//! Parsing of the numbers people type: decimal or `0x`-prefixed hexadecimal.

use core::fmt;

/// Why a string is not a number [`parse_u64`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseNumberError {
    /// The string was empty (or only `0x`).
    Empty,
    /// A character that is not a digit of the base in use.
    InvalidDigit,
    /// The value does not fit in 64 bits.
    Overflow,
}

impl fmt::Display for ParseNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty number",
            Self::InvalidDigit => "invalid digit in number",
            Self::Overflow => "number does not fit in 64 bits",
        })
    }
}

impl core::error::Error for ParseNumberError {}

/// Parses a `u64` written in decimal or as `0x`/`0X`-prefixed hexadecimal.
///
/// Underscores between digits are accepted (`0x1000_0000`), as engineers write them.
///
/// ```
/// assert_eq!(phys::parse_u64("4096"), Ok(4096));
/// assert_eq!(phys::parse_u64("0x1_000"), Ok(4096));
/// assert!(phys::parse_u64("0x").is_err());
/// ```
pub fn parse_u64(s: &str) -> Result<u64, ParseNumberError> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    let mut seen_digit = false;
    let mut value: u64 = 0;
    for c in digits.chars() {
        if c == '_' && seen_digit {
            continue;
        }
        let d = c.to_digit(radix).ok_or(ParseNumberError::InvalidDigit)?;
        seen_digit = true;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(ParseNumberError::Overflow)?;
    }
    if seen_digit {
        Ok(value)
    } else {
        Err(ParseNumberError::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_hex() {
        assert_eq!(parse_u64("0"), Ok(0));
        assert_eq!(parse_u64("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64("0xffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(parse_u64("0XAbC"), Ok(0xabc));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_u64(""), Err(ParseNumberError::Empty));
        assert_eq!(parse_u64("0x"), Err(ParseNumberError::Empty));
        assert_eq!(parse_u64("_1"), Err(ParseNumberError::InvalidDigit));
        assert_eq!(parse_u64("12a"), Err(ParseNumberError::InvalidDigit));
        assert_eq!(parse_u64("-1"), Err(ParseNumberError::InvalidDigit));
        assert_eq!(
            parse_u64("18446744073709551616"),
            Err(ParseNumberError::Overflow)
        );
        assert_eq!(
            parse_u64("0x10000000000000000"),
            Err(ParseNumberError::Overflow)
        );
    }

    proptest::proptest! {
        #[test]
        fn round_trips(v: u64) {
            let dec = alloc_free_format(v, false);
            let hex = alloc_free_format(v, true);
            proptest::prop_assert_eq!(parse_u64(dec.as_str()), Ok(v));
            proptest::prop_assert_eq!(parse_u64(hex.as_str()), Ok(v));
        }
    }

    /// Formats without `alloc`, so the test runs in this `no_std` crate.
    fn alloc_free_format(v: u64, hex: bool) -> Buf {
        use core::fmt::Write;
        let mut b = Buf::default();
        if hex {
            write!(b, "{v:#x}").unwrap();
        } else {
            write!(b, "{v}").unwrap();
        }
        b
    }

    #[derive(Default)]
    struct Buf {
        bytes: [u8; 32],
        len: usize,
    }

    impl Buf {
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.bytes[..self.len]).unwrap()
        }
    }

    impl core::fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            self.bytes
                .get_mut(self.len..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
}
