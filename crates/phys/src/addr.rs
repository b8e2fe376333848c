//! Physical addresses and byte counts.

use core::fmt;
use core::str::FromStr;

use crate::parse::{parse_u64, ParseNumberError};

/// A physical (real) address, as Linux's `phys_addr_t` on a 64-bit machine.
///
/// Arithmetic that can overflow returns `Option`; use the `saturating_*` forms where
/// Linux clamps (for example a range that would run past the top of the address space).
/// `Debug` prints hex, as kernel logs and `Display` do: `PhysAddr(0x1000)`.
///
/// ```
/// use phys::{PhysAddr, PhysSize};
///
/// let a = PhysAddr::new(0x1000_0400);
/// assert_eq!(a.checked_add(PhysSize::new(0x400)), Some(PhysAddr::new(0x1000_0800)));
/// assert_eq!(format!("{a} {a:?}"), "0x10000400 PhysAddr(0x10000400)");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct PhysAddr(u64);

/// A length in bytes of physical memory. `Debug` prints hex: `PhysSize(0x400)`.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct PhysSize(u64);

impl PhysAddr {
    /// Address zero.
    pub const ZERO: Self = Self(0);
    /// The highest address, Linux's `PHYS_ADDR_MAX` (`~(phys_addr_t)0`).
    pub const MAX: Self = Self(u64::MAX);

    /// Wraps a raw address.
    pub const fn new(addr: u64) -> Self {
        Self(addr)
    }

    /// The raw address.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// `self + size`, or `None` if it would pass the top of the 64-bit space.
    pub const fn checked_add(self, size: PhysSize) -> Option<Self> {
        match self.0.checked_add(size.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self + size`, clamped to [`PhysAddr::MAX`] as Linux's `memblock_cap_size` clamps.
    pub const fn saturating_add(self, size: PhysSize) -> Self {
        Self(self.0.saturating_add(size.0))
    }

    /// `self - size`, or `None` below zero.
    pub const fn checked_sub(self, size: PhysSize) -> Option<Self> {
        match self.0.checked_sub(size.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The distance from `lower` up to `self`, or `None` if `lower > self`.
    pub const fn checked_offset_from(self, lower: PhysAddr) -> Option<PhysSize> {
        match self.0.checked_sub(lower.0) {
            Some(v) => Some(PhysSize(v)),
            None => None,
        }
    }

    /// Rounds down to a multiple of `align`; `None` unless `align` is a power of two.
    pub const fn align_down(self, align: u64) -> Option<Self> {
        if !align.is_power_of_two() {
            return None;
        }
        Some(Self(self.0 & !(align - 1)))
    }

    /// Rounds up to a multiple of `align`; `None` unless `align` is a power of two or if
    /// rounding up passes the top of the address space.
    pub const fn align_up(self, align: u64) -> Option<Self> {
        if !align.is_power_of_two() {
            return None;
        }
        match self.0.checked_add(align - 1) {
            Some(v) => Some(Self(v & !(align - 1))),
            None => None,
        }
    }

    /// Whether the address is a multiple of `align` (which must be a power of two; any
    /// other `align` gives `false`).
    pub const fn is_aligned(self, align: u64) -> bool {
        align.is_power_of_two() && self.0 & (align - 1) == 0
    }
}

impl PhysSize {
    /// Zero bytes.
    pub const ZERO: Self = Self(0);
    /// The largest size.
    pub const MAX: Self = Self(u64::MAX);

    /// Wraps a raw byte count.
    pub const fn new(bytes: u64) -> Self {
        Self(bytes)
    }

    /// The raw byte count.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Whether this is zero bytes.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or `None` on overflow.
    pub const fn checked_add(self, other: PhysSize) -> Option<Self> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self - other`, or `None` below zero.
    pub const fn checked_sub(self, other: PhysSize) -> Option<Self> {
        match self.0.checked_sub(other.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self + other`, clamped at [`PhysSize::MAX`].
    pub const fn saturating_add(self, other: PhysSize) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// Rounds up to a multiple of `align`; `None` unless `align` is a power of two or on
    /// overflow.
    pub const fn align_up(self, align: u64) -> Option<Self> {
        if !align.is_power_of_two() {
            return None;
        }
        match self.0.checked_add(align - 1) {
            Some(v) => Some(Self(v & !(align - 1))),
            None => None,
        }
    }
}

impl fmt::Display for PhysAddr {
    /// Lowercase `0x`-prefixed hex, as kernel logs print addresses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for PhysSize {
    /// Lowercase `0x`-prefixed hex, as memblock's debug output prints sizes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}

impl fmt::Debug for PhysSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysSize({:#x})", self.0)
    }
}

impl fmt::LowerHex for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl fmt::LowerHex for PhysSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl FromStr for PhysAddr {
    type Err = ParseNumberError;

    /// Decimal or `0x` hex.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_u64(s).map(Self)
    }
}

impl FromStr for PhysSize {
    type Err = ParseNumberError;

    /// Decimal or `0x` hex.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_u64(s).map(Self)
    }
}

impl From<PhysSize> for u64 {
    fn from(s: PhysSize) -> u64 {
        s.0
    }
}

impl From<PhysAddr> for u64 {
    fn from(a: PhysAddr) -> u64 {
        a.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_visible() {
        assert_eq!(PhysAddr::MAX.checked_add(PhysSize::new(1)), None);
        assert_eq!(
            PhysAddr::MAX.saturating_add(PhysSize::new(5)),
            PhysAddr::MAX
        );
        assert_eq!(PhysAddr::ZERO.checked_sub(PhysSize::new(1)), None);
        assert_eq!(PhysAddr::new(u64::MAX - 3).align_up(16), None);
        assert_eq!(PhysSize::MAX.checked_add(PhysSize::new(1)), None);
        assert_eq!(PhysAddr::new(5).checked_offset_from(PhysAddr::new(6)), None);
    }

    #[test]
    fn alignment() {
        let a = PhysAddr::new(0x1234);
        assert_eq!(a.align_down(0x1000), Some(PhysAddr::new(0x1000)));
        assert_eq!(a.align_up(0x1000), Some(PhysAddr::new(0x2000)));
        assert_eq!(a.align_up(3), None);
        assert_eq!(a.align_down(0), None);
        assert!(PhysAddr::new(0x400).is_aligned(0x400));
        assert!(!PhysAddr::new(0x480).is_aligned(0x400));
        assert!(!PhysAddr::new(0x480).is_aligned(0));
        assert_eq!(
            PhysSize::new(640).align_up(0x400),
            Some(PhysSize::new(0x400))
        );
    }

    proptest::proptest! {
        #[test]
        fn align_brackets_the_address(a: u64, shift in 0u32..63) {
            let align = 1u64 << shift;
            let addr = PhysAddr::new(a);
            let down = addr.align_down(align).unwrap();
            proptest::prop_assert!(down <= addr && down.is_aligned(align));
            proptest::prop_assert!(addr.as_u64() - down.as_u64() < align);
            if let Some(up) = addr.align_up(align) {
                proptest::prop_assert!(up >= addr && up.is_aligned(align));
                proptest::prop_assert!(up.as_u64() - addr.as_u64() < align);
            }
        }
    }
}
