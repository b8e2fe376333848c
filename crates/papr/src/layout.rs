//! Layout tables: the name, offset and size of every field of the PAPR structures.
//!
//! The tables are generated from the Rust definitions themselves (`offset_of!` and
//! `size_of` of each declared field type), so they cannot drift from the structs. They
//! drive `numaboot layout`, and the crate's tests compare them against offsets derived
//! by hand from Linux's headers and against a C compiler's `offsetof`.

use core::fmt;

/// Who writes a field while the structure is registered with the hypervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Writer {
    /// The guest operating system writes it; the hypervisor only reads it.
    Os,
    /// The hypervisor writes it; the operating system only reads it.
    Hypervisor,
    /// A reserved range: neither side may rely on its contents.
    Reserved,
}

impl Writer {
    /// A lower-case name: `os`, `hypervisor` or `reserved`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Os => "os",
            Self::Hypervisor => "hypervisor",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field of a structure: Linux's field name, its byte offset and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldLayout {
    /// Linux's name of the field (`yield_count`, `reserved1`, `__old_status`).
    pub name: &'static str,
    /// Byte offset from the start of the structure.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Who writes the field.
    pub writer: Writer,
}

impl FieldLayout {
    /// One past the last byte of the field.
    pub const fn end(&self) -> usize {
        self.offset + self.size
    }
}

/// The layout of a whole structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StructLayout {
    /// Linux's C name without `struct` (`lppaca`, `slb_shadow`, `dtl_entry`).
    pub c_name: &'static str,
    /// `sizeof` of the C structure, including the tail padding a cacheline alignment
    /// attribute adds.
    pub size: usize,
    /// `_Alignof` of the C structure.
    pub align: usize,
    /// Every field, in declaration order, gap-free.
    pub fields: &'static [FieldLayout],
}

impl StructLayout {
    /// Looks a field up by Linux's name.
    pub fn field(&self, name: &str) -> Option<&'static FieldLayout> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether the fields follow each other without gaps from offset 0 and end at or
    /// before `size` (anything after the last field is tail padding).
    pub const fn is_contiguous(&self) -> bool {
        let mut next = 0;
        let mut i = 0;
        while i < self.fields.len() {
            if self.fields[i].offset != next {
                return false;
            }
            next = self.fields[i].end();
            i += 1;
        }
        next <= self.size
    }
}

/// The three structures, in the order `numaboot layout` lists them.
pub const ALL: [&StructLayout; 3] = [
    &crate::Lppaca::LAYOUT,
    &crate::SlbShadow::LAYOUT,
    &crate::DtlEntry::LAYOUT,
];

/// Values that have an all-zero constant, so that the generated `ZEROED` constants can
/// be built in `const` context (zerocopy's `new_zeroed` is not `const`).
pub(crate) trait Zero {
    const ZERO: Self;
}

impl Zero for u8 {
    const ZERO: Self = 0;
}

impl Zero for zerocopy::byteorder::big_endian::U16 {
    const ZERO: Self = Self::ZERO;
}

impl Zero for zerocopy::byteorder::big_endian::U32 {
    const ZERO: Self = Self::ZERO;
}

impl Zero for zerocopy::byteorder::big_endian::U64 {
    const ZERO: Self = Self::ZERO;
}

impl<T: Zero, const N: usize> Zero for [T; N] {
    const ZERO: Self = [T::ZERO; N];
}

/// Declares a byte-exact structure once and derives from that single list: the struct
/// with public fields, its `LAYOUT` table, a `ZEROED` constant, and compile-time checks
/// that the fields are gap-free and the size is what the caller states.
macro_rules! papr_struct {
    (
        $(#[$smeta:meta])*
        pub struct $name:ident : c_name = $c_name:literal, size = $size:expr, align = $align:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty => $writer:ident, )*
        }
        $( tail_padding $pad:ident : $padty:ty; )?
    ) => {
        $(#[$smeta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq,
            zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout, zerocopy::Immutable,
        )]
        #[repr(C, align($align))]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            $( $pad: $padty, )?
        }

        impl $name {
            /// Field offsets and sizes, in declaration order, with Linux's names.
            pub const LAYOUT: $crate::layout::StructLayout = $crate::layout::StructLayout {
                c_name: $c_name,
                size: core::mem::size_of::<Self>(),
                align: core::mem::align_of::<Self>(),
                fields: &[
                    $( $crate::layout::FieldLayout {
                        name: stringify!($field),
                        offset: core::mem::offset_of!($name, $field),
                        size: core::mem::size_of::<$ty>(),
                        writer: $crate::layout::Writer::$writer,
                    }, )*
                ],
            };

            /// Every byte zero.
            pub const ZEROED: Self = Self {
                $( $field: <$ty as $crate::layout::Zero>::ZERO, )*
                $( $pad: <$padty as $crate::layout::Zero>::ZERO, )?
            };
        }

        impl Default for $name {
            /// Every byte zero.
            fn default() -> Self {
                Self::ZEROED
            }
        }

        const _: () = assert!(core::mem::size_of::<$name>() == $size);
        const _: () = assert!($name::LAYOUT.is_contiguous());
    };
}

pub(crate) use papr_struct;

/// A byte buffer too short to hold the structure being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferTooShort {
    /// Linux's name of the structure.
    pub c_name: &'static str,
    /// Bytes the structure needs.
    pub needed: usize,
    /// Bytes that were given.
    pub got: usize,
}

impl fmt::Display for BufferTooShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "struct {} needs {} bytes, only {} given",
            self.c_name, self.needed, self.got
        )
    }
}

impl core::error::Error for BufferTooShort {}

/// Implements `from_bytes` (copying, any alignment) for a generated struct.
macro_rules! impl_from_bytes {
    ($name:ident) => {
        impl $name {
            /// Reads the structure from the start of `bytes` (any alignment; extra bytes
            /// are ignored). Every bit pattern is a valid value, so only length can fail.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, $crate::layout::BufferTooShort> {
                match <Self as zerocopy::FromBytes>::read_from_prefix(bytes) {
                    Ok((value, _rest)) => Ok(value),
                    Err(_) => Err($crate::layout::BufferTooShort {
                        c_name: Self::LAYOUT.c_name,
                        needed: core::mem::size_of::<Self>(),
                        got: bytes.len(),
                    }),
                }
            }

            /// The structure's bytes, exactly as the other side of the interface sees them.
            pub fn as_bytes(&self) -> &[u8] {
                zerocopy::IntoBytes::as_bytes(self)
            }
        }
    };
}

pub(crate) use impl_from_bytes;
