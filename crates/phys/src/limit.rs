//! One idea of "unlimited": an upper bound on physical addresses that may be absent.

use core::fmt;

use crate::{PhysAddr, PhysSize};

/// An upper limit on physical addresses: below an address, or anywhere.
///
/// Linux spells "no limit" as the all-ones address (`ULONG_MAX`,
/// `MEMBLOCK_ALLOC_ANYWHERE`); here it is a variant, so that no report prints
/// `0xffffffffffffffff` for "unlimited". [`Limit::from_raw`] and [`Limit::raw`] convert.
///
/// ```
/// use phys::{Limit, PhysAddr};
///
/// let rma = Limit::from_raw(0x4000_0000);
/// assert_eq!(rma, Limit::Below(PhysAddr::new(0x4000_0000)));
/// assert_eq!(Limit::from_raw(u64::MAX), Limit::Anywhere);
/// assert_eq!(Limit::Anywhere.to_string(), "anywhere");
/// assert!(Limit::Anywhere.allows(PhysAddr::MAX));
/// assert!(!rma.allows(PhysAddr::new(0x4000_0001)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Limit {
    /// Everything must end at or below this address.
    Below(PhysAddr),
    /// No limit (`MEMBLOCK_ALLOC_ANYWHERE`, `ULONG_MAX`).
    Anywhere,
}

impl Limit {
    /// From a raw value where `u64::MAX` means no limit.
    pub const fn from_raw(raw: u64) -> Self {
        if raw == u64::MAX {
            Self::Anywhere
        } else {
            Self::Below(PhysAddr::new(raw))
        }
    }

    /// The raw value (`u64::MAX` for [`Limit::Anywhere`]).
    pub const fn raw(self) -> u64 {
        match self {
            Self::Below(a) => a.as_u64(),
            Self::Anywhere => u64::MAX,
        }
    }

    /// The address, `None` when unlimited.
    pub const fn addr(self) -> Option<PhysAddr> {
        match self {
            Self::Below(a) => Some(a),
            Self::Anywhere => None,
        }
    }

    /// Whether something ending at `end` (exclusive) stays within the limit.
    pub const fn allows(self, end: PhysAddr) -> bool {
        match self {
            Self::Below(a) => end.as_u64() <= a.as_u64(),
            Self::Anywhere => true,
        }
    }

    /// The limit `size` bytes above address 0, where Linux's `ppc64_rma_size` of
    /// `ULONG_MAX` ([`PhysSize::MAX`]) means unlimited.
    pub const fn above_zero(size: PhysSize) -> Self {
        Self::from_raw(size.as_u64())
    }
}

impl fmt::Display for Limit {
    /// The address in hex, or `anywhere`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Below(a) => write!(f, "{a}"),
            Self::Anywhere => f.write_str("anywhere"),
        }
    }
}
