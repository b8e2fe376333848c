//! PAPR structures shared between a pSeries guest and its hypervisor, and the hcall ABI
//! that registers them.
//!
//! A guest gives the hypervisor three kinds of per-CPU memory with `H_REGISTER_VPA`:
//! the Virtual Processor Area ([`Lppaca`], Linux's name), the SLB shadow buffer
//! ([`SlbShadow`]) and the Dispatch Trace Log ([`DtlEntry`] records). Both sides then
//! read and write the same bytes, so each type here is a byte-for-byte copy of Linux
//! 6.1's C structure: same field names, same offsets, big-endian multi-byte fields
//! (zerocopy's byte-order types), same size and alignment. Each type carries a layout
//! table ([`layout::StructLayout`]) generated from its own definition; the tests
//! compare those tables with offsets derived by hand from Linux's headers and with a C
//! compiler's `offsetof`. Every bit pattern is a valid value of every type, so reading
//! bytes can only fail on length, and nothing here panics or uses `unsafe`.
//!
//! The [`hcall`] module holds the calling convention: opcodes, the subfunction
//! encoding of the flags word, return codes and the [`hcall::Hypervisor`] trait.
//! The [`size`] module gives the areas' sizes as [`phys::PhysSize`] and their
//! alignments and boundaries as [`size::Align`].
//!
//! ```
//! use papr::{vpa_placement_ok, Lppaca, LPPACA_ALLOC_SIZE};
//! use phys::{PhysAddr, PhysSize};
//!
//! let lp = Lppaca::linux_init();
//! let bytes = lp.as_bytes();
//! assert_eq!(bytes.len(), 640);
//! assert_eq!(&bytes[0..4], b"\xd3\x97\xd7\x81"); // "LpPa" in EBCDIC
//! assert_eq!(&bytes[4..6], &[0x04, 0x00]); // size 0x400, big-endian
//! assert_eq!(Lppaca::from_bytes(bytes), Ok(lp));
//!
//! let field = Lppaca::LAYOUT.field("yield_count").unwrap();
//! assert_eq!((field.offset, field.size), (256, 4));
//!
//! // Linux's 1 KiB-aligned 1 KiB allocation never crosses 4 KiB; 128-byte alignment can.
//! let size = PhysSize::new(LPPACA_ALLOC_SIZE);
//! assert!(vpa_placement_ok(PhysAddr::new(0x1_0c00), size).is_ok());
//! assert!(vpa_placement_ok(PhysAddr::new(0x1_0c80), size).is_err());
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

use core::fmt;

/// The big-endian field types the structures use (zerocopy's), re-exported so that
/// users can build field values without naming zerocopy: `be::U32::new(x)`, `.get()`.
pub mod be {
    pub use zerocopy::byteorder::big_endian::{U16, U32, U64};
}

pub mod dtl;
pub mod hcall;
pub mod layout;
pub mod lppaca;
pub mod size;
pub mod slb_shadow;

pub use dtl::{DtlEntry, DTL_ENTRY_SIZE};
pub use hcall::{HcallResult, Hypervisor, Opcode, ReturnCode, VpaSubfunction};
pub use layout::{BufferTooShort, FieldLayout, StructLayout, Writer};
pub use lppaca::{
    vpa_placement_ok, Lppaca, VpaPlacementError, L1_CACHE_BYTES, LPPACA_ALLOC_ALIGN,
    LPPACA_ALLOC_SIZE, LPPACA_DESC, LPPACA_LINUX_SLB_COUNT, LPPACA_OLD_SHARED_PROC, VPA_BOUNDARY,
    VPA_MIN_SIZE,
};
pub use slb_shadow::{SlbShadow, SlbShadowEntry, SLB_NUM_BOLTED, SLB_SHADOW_SIZE};

/// Byte offset, in every registered area, of the length the hypervisor reads.
///
/// For a VPA it is the big-endian 16-bit `size` field; for a DTL buffer or an SLB
/// shadow it is a big-endian 32-bit word (`buffer_length` of the shadow; for the DTL,
/// a word Linux writes over the first entry). KVM reads it through its `struct
/// reg_vpa`; QEMU through `lduw_be`/`ldl_be` at `addr + 4`.
pub const REGISTRATION_LENGTH_OFFSET: usize = 4;

/// Why a registration length could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationLengthError {
    /// The subfunction deregisters; it has no area and no length.
    NotARegistration(VpaSubfunction),
    /// The buffer ends before the length field does.
    BufferTooShort {
        /// Bytes needed to reach the end of the length field.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// The length does not fit the VPA's 16-bit `size` field.
    TooLarge {
        /// The rejected length.
        length: u32,
    },
}

impl fmt::Display for RegistrationLengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotARegistration(sub) => write!(f, "{sub} registers no area"),
            Self::BufferTooShort { needed, got } => write!(
                f,
                "the registration length needs {needed} bytes of area, only {got} given"
            ),
            Self::TooLarge { length } => {
                write!(f, "VPA length {length} does not fit the 16-bit size field")
            }
        }
    }
}

impl core::error::Error for RegistrationLengthError {}

/// The width in bytes of the length field that `sub` makes the hypervisor read.
pub const fn registration_length_width(sub: VpaSubfunction) -> Option<usize> {
    match sub {
        VpaSubfunction::RegisterVpa => Some(2),
        VpaSubfunction::RegisterDtl | VpaSubfunction::RegisterSlb => Some(4),
        _ => None,
    }
}

/// Reads the length a hypervisor takes from the first bytes of an area registered with
/// `sub`, as KVM and QEMU do.
pub fn registration_length(
    sub: VpaSubfunction,
    area: &[u8],
) -> Result<u32, RegistrationLengthError> {
    let field = length_field(sub, area.len())?;
    let mut value = 0u32;
    for &byte in area.get(field.clone()).unwrap_or(&[]) {
        value = (value << 8) | u32::from(byte);
    }
    Ok(value)
}

/// Writes `length` where a hypervisor will read it for an area registered with `sub`
/// (what Linux does before registering a DTL buffer).
pub fn write_registration_length(
    sub: VpaSubfunction,
    area: &mut [u8],
    length: u32,
) -> Result<(), RegistrationLengthError> {
    let field = length_field(sub, area.len())?;
    let width = field.len();
    if width == 2 && length > u32::from(u16::MAX) {
        return Err(RegistrationLengthError::TooLarge { length });
    }
    let be = length.to_be_bytes();
    let src = be.iter().skip(4 - width);
    for (dst, &byte) in area.iter_mut().skip(field.start).zip(src) {
        *dst = byte;
    }
    Ok(())
}

fn length_field(
    sub: VpaSubfunction,
    len: usize,
) -> Result<core::ops::Range<usize>, RegistrationLengthError> {
    let Some(width) = registration_length_width(sub) else {
        return Err(RegistrationLengthError::NotARegistration(sub));
    };
    let end = REGISTRATION_LENGTH_OFFSET + width;
    if len < end {
        return Err(RegistrationLengthError::BufferTooShort {
            needed: end,
            got: len,
        });
    }
    Ok(REGISTRATION_LENGTH_OFFSET..end)
}
