//! The sizes and alignments of the PAPR areas as types.
//!
//! A size is a [`PhysSize`]; an alignment or a boundary an area must not cross is an
//! [`Align`], a power of two by construction. The bare-number constants at the crate
//! root ([`LPPACA_ALLOC_SIZE`](crate::LPPACA_ALLOC_SIZE), `L1_CACHE_BYTES`, ...) are
//! the same facts as plain integers for C-style arithmetic and array lengths; they
//! are defined from these (or these from them) so that each value is written once.
//!
//! ```
//! use papr::size::{self, Align};
//! use phys::{PhysAddr, PhysSize};
//!
//! let lppaca = PhysAddr::new(0x3fff_fc00);
//! assert!(size::LPPACA_ALIGN.is_aligned(lppaca));
//! assert!(!size::VPA_BOUNDARY.crosses(lppaca, size::LPPACA_ALLOC));
//! assert!(size::VPA_BOUNDARY.crosses(PhysAddr::new(0xf80), size::VPA_MIN));
//! assert_eq!(Align::new(48), None); // not a power of two
//! ```

use core::fmt;

use phys::{PhysAddr, PhysSize};

/// A power-of-two byte alignment (or boundary).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Align(u64);

impl Align {
    /// `bytes` as an alignment, or `None` unless it is a power of two.
    pub const fn new(bytes: u64) -> Option<Self> {
        if bytes.is_power_of_two() {
            Some(Self(bytes))
        } else {
            None
        }
    }

    /// For constants: a compile-time error if `bytes` is not a power of two.
    const fn must(bytes: u64) -> Self {
        match Self::new(bytes) {
            Some(a) => a,
            None => panic!("alignment must be a power of two"),
        }
    }

    /// The alignment in bytes.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The alignment as a size (for example the 4 KiB window of [`VPA_BOUNDARY`]).
    pub const fn as_size(self) -> PhysSize {
        PhysSize::new(self.0)
    }

    /// Whether `addr` is a multiple of the alignment.
    pub const fn is_aligned(self, addr: PhysAddr) -> bool {
        addr.as_u64() & (self.0 - 1) == 0
    }

    /// Whether `[addr, addr + len)` contains a multiple of the alignment other than at
    /// its first byte, i.e. crosses a boundary. An empty area crosses nothing; an area
    /// running past the top of the address space crosses.
    pub const fn crosses(self, addr: PhysAddr, len: PhysSize) -> bool {
        if len.as_u64() == 0 {
            return false;
        }
        match addr.as_u64().checked_add(len.as_u64() - 1) {
            Some(last) => addr.as_u64() / self.0 != last / self.0,
            None => true,
        }
    }
}

impl fmt::Debug for Align {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Align({:#x})", self.0)
    }
}

impl fmt::Display for Align {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Bytes Linux allocates per lppaca and advertises in its `size` field (Linux
/// `LPPACA_SIZE` in `kernel/paca.c`); KVM before v4.14 rejected a smaller size.
pub const LPPACA_ALLOC: PhysSize = PhysSize::new(0x400);
/// Alignment of Linux's per-CPU lppaca allocation; with [`LPPACA_ALLOC`] it makes the
/// 4 KiB rule hold by construction.
pub const LPPACA_ALIGN: Align = Align::must(0x400);
/// The smallest VPA size PAPR accepts in the `size` field (and `sizeof(struct lppaca)`).
pub const VPA_MIN: PhysSize = PhysSize::new(640);
/// The POWER L1 data cache line (Linux `L1_CACHE_BYTES` on PPC64): the alignment PAPR
/// requires of a VPA and the alignment `____cacheline_aligned` gives the C structs.
pub const L1_CACHE: Align = Align::must(128);
/// A VPA must not cross a boundary of this size.
pub const VPA_BOUNDARY: Align = Align::must(4096);
/// `sizeof(struct slb_shadow)`.
pub const SLB_SHADOW: PhysSize = PhysSize::new(crate::SLB_SHADOW_SIZE as u64);
/// `sizeof(struct dtl_entry)`.
pub const DTL_ENTRY: PhysSize = PhysSize::new(crate::DTL_ENTRY_SIZE as u64);
/// Bytes of DTL buffer Linux registers per CPU (`DISPATCH_LOG_BYTES`).
pub const DISPATCH_LOG: PhysSize = PhysSize::new(crate::dtl::DISPATCH_LOG_BYTES as u64);
