//! Why a device tree or a TOML description could not be turned into a [`Topology`].
//!
//! Every error that comes from a property names the node path and the property, so a
//! firmware or QEMU engineer can find the bytes at fault with `dtc -I dtb -O dts`.
//!
//! [`Topology`]: crate::Topology

use alloc::string::String;
use core::fmt;

use crate::rma::RmaError;

/// A structural problem with the blob itself, found before any property is interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    /// Shorter than the 40-byte FDT header.
    TooShort {
        /// Bytes available.
        len: usize,
    },
    /// The first word is not `0xd00dfeed`.
    BadMagic {
        /// The word found.
        found: u32,
    },
    /// The header's `totalsize` is larger than the data given.
    Truncated {
        /// `totalsize` from the header.
        totalsize: u32,
        /// Bytes available.
        len: usize,
    },
    /// A format version this reader does not speak: it reads versions 16 (what Linux's
    /// prom_init writes) and 17, and later ones compatible with 17.
    Version {
        /// `version` from the header.
        version: u32,
        /// `last_comp_version` from the header.
        last_comp: u32,
    },
    /// The structure or strings block lies (partly) outside the blob.
    BlockOutOfBounds {
        /// `"structure"` or `"strings"`.
        block: &'static str,
        /// Offset from the header.
        offset: u32,
        /// Size from the header.
        size: u32,
        /// Blob length.
        total: usize,
    },
    /// The memory reservation block runs past `totalsize` without its terminator (an
    /// entry of size 0).
    MemReserve {
        /// `off_mem_rsvmap` from the header.
        offset: u32,
        /// Complete entries read before the end of the blob.
        entries: usize,
        /// Blob length (`totalsize`).
        total: usize,
    },
    /// The structure block is malformed at this offset.
    Structure {
        /// Byte offset of the offending token within the structure block.
        offset: usize,
        /// Path of the innermost node open at that point (empty before the root).
        node: String,
        /// What is wrong.
        what: &'static str,
    },
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => {
                write!(
                    f,
                    "blob is {len} bytes, shorter than the 40-byte FDT header"
                )
            }
            Self::BadMagic { found } => {
                write!(f, "bad FDT magic {found:#010x} (expected 0xd00dfeed)")
            }
            Self::Truncated { totalsize, len } => write!(
                f,
                "blob is truncated: header totalsize is {totalsize} bytes, only {len} present"
            ),
            Self::Version { version, last_comp } => write!(
                f,
                "unsupported FDT version {version} (last compatible {last_comp}); need 16 or 17"
            ),
            Self::MemReserve {
                offset,
                entries,
                total,
            } => write!(
                f,
                "memory reservation block at offset {offset} has no terminator (an entry of size 0) within \
                 the {total}-byte blob (after {entries} entries)"
            ),
            Self::BlockOutOfBounds {
                block,
                offset,
                size,
                total,
            } => write!(
                f,
                "{block} block at offset {offset} size {size} lies outside the {total}-byte blob"
            ),
            Self::Structure { offset, node, what } if node.is_empty() => {
                write!(f, "malformed structure block at offset {offset}: {what}")
            }
            Self::Structure { offset, node, what } => write!(
                f,
                "malformed structure block at offset {offset} (inside {node}): {what}"
            ),
        }
    }
}

/// What is wrong with one property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropProblem {
    /// A property Linux needs here is absent.
    Missing,
    /// The byte length does not fit the property's layout.
    WrongLength {
        /// Length found, in bytes.
        len: usize,
        /// What the layout needs, in words.
        expected: &'static str,
    },
    /// A count inside the property claims more data than the property holds.
    CountTooLarge {
        /// The count read.
        count: u64,
        /// How many items the property actually has room for.
        room: u64,
    },
    /// More than two 32-bit cells for an address or size (Linux reads at most 64 bits).
    TooManyCells {
        /// The cell count.
        cells: u32,
    },
    /// An address range or size that passes the top of the 64-bit address space.
    Overflow,
    /// A phandle reference chain loops back on itself.
    PhandleCycle {
        /// The phandle that was reached twice.
        phandle: u32,
    },
    /// A table that must describe every node in use omits this one.
    MissingNode {
        /// The online node (one with CPUs or memory) that the table does not list.
        node: u32,
    },
    /// A value that is well-formed but unusable, with the reason.
    Invalid(&'static str),
}

impl fmt::Display for PropProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("missing"),
            Self::WrongLength { len, expected } => {
                write!(f, "wrong length {len} bytes (expected {expected})")
            }
            Self::CountTooLarge { count, room } => write!(
                f,
                "count {count} is larger than the property, which has room for {room}"
            ),
            Self::TooManyCells { cells } => {
                write!(f, "{cells} cells per number, more than the 2 Linux reads")
            }
            Self::Overflow => f.write_str("range passes the top of the 64-bit address space"),
            Self::PhandleCycle { phandle } => {
                write!(
                    f,
                    "phandle chain loops (phandle {phandle:#x} reached twice)"
                )
            }
            Self::MissingNode { node } => {
                write!(
                    f,
                    "does not list node {node}, which Linux brings online (it has CPUs or memory)"
                )
            }
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

/// Why a device tree blob could not be turned into a topology.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DtbError {
    /// The blob's framing is broken.
    Blob(BlobError),
    /// One property is unusable.
    Property {
        /// Full node path, `/` for the root.
        path: String,
        /// Property name.
        property: String,
        /// What is wrong with it.
        problem: PropProblem,
    },
    /// The tree has no CPU node (`device_type = "cpu"`).
    NoCpus,
    /// No memory at all: no `memory` node range and no assigned LMB.
    NoMemory,
    /// Linux could not compute the real-mode area for this layout (give an override).
    Rma(RmaError),
}

impl DtbError {
    pub(crate) fn prop(path: &str, property: &str, problem: PropProblem) -> Self {
        Self::Property {
            path: path.into(),
            property: property.into(),
            problem,
        }
    }
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blob(e) => e.fmt(f),
            Self::Property {
                path,
                property,
                problem,
            } => write!(f, "{path}: property {property}: {problem}"),
            Self::NoCpus => f.write_str("no CPU node (device_type \"cpu\") in the tree"),
            Self::NoMemory => {
                f.write_str("no memory: no memory node range and no assigned, unreserved LMB")
            }
            Self::Rma(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for BlobError {}
impl core::error::Error for DtbError {}

/// Why a hand-written TOML topology was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TomlError {
    /// Not valid TOML, or not the expected shape (the message is the TOML parser's,
    /// with line and column).
    Syntax(String),
    /// A field holds a value numaboot cannot use.
    Field {
        /// Where: `nodes[2].memory[0]`, `distances`, ...
        at: String,
        /// What is wrong.
        why: String,
    },
}

impl fmt::Display for TomlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(msg) => write!(f, "TOML: {}", msg.trim_end()),
            Self::Field { at, why } => write!(f, "{at}: {why}"),
        }
    }
}

impl core::error::Error for TomlError {}

/// Why a synthetic topology could not be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SynthError {
    /// A parameter is out of its range; the message names it.
    Parameter(&'static str),
}

impl fmt::Display for SynthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parameter(why) => write!(f, "synthetic topology: {why}"),
        }
    }
}

impl core::error::Error for SynthError {}

impl fmt::Display for RmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFirstBlock => f.write_str(
                "no memory node range, so Linux has no first memory block to size the RMA \
                 from (give an RMA override)",
            ),
            Self::FirstBlockNotAtZero(base) => write!(
                f,
                "the lowest memory node range starts at {base}, not 0; Linux's hash MMU \
                 setup requires the RMA block at 0 (give an RMA override)"
            ),
        }
    }
}

impl core::error::Error for RmaError {}
