//! Why a plan failed.

use core::fmt;

use phys::{PhysAddr, PhysSize};

use crate::config::{ConfigError, Limit};
use crate::report::StructureKind;

/// Why [`crate::plan`] failed. memblock is restored to its state before the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// The configuration is not one Linux could run with.
    Config(ConfigError),
    /// A structure does not fit: memblock found no free range of its size and alignment
    /// below the limit on any node. Linux panics here ("cannot allocate paca data",
    /// "cannot allocate stacks").
    CannotFit {
        /// The structure.
        kind: StructureKind,
        /// Its CPU, for per-CPU structures.
        cpu: Option<u32>,
        /// Bytes asked for.
        size: PhysSize,
        /// Alignment asked for.
        align: u64,
        /// The limit it had to be below.
        limit: Limit,
    },
    /// [`crate::plan`] was given a memblock with no memory: it runs on the state
    /// [`crate::init_memblock`] sets up. [`crate::boot`] does both from an empty
    /// memblock.
    EmptyMemblock,
    /// A region operation failed because memblock's region array was full and could not
    /// grow (Linux's `-ENOMEM` from `memblock_add_range`).
    Memblock {
        /// The operation, as the replay language names it.
        op: &'static str,
        /// Its base.
        base: PhysAddr,
        /// Its size.
        size: PhysSize,
        /// memblock's error.
        error: memblock::Error,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Config(e) => write!(f, "invalid plan configuration: {e}"),
            Self::CannotFit {
                kind,
                cpu,
                size,
                align,
                limit,
            } => {
                write!(f, "cannot allocate the {kind}")?;
                if let Some(cpu) = cpu {
                    write!(f, " of CPU {cpu}")?;
                }
                write!(f, ": {size} bytes aligned to {align:#x} ")?;
                match limit {
                    Limit::Anywhere => f.write_str("anywhere")?,
                    Limit::Below(a) => write!(f, "below {a}")?,
                }
                f.write_str(" on any node")
            }
            Self::Memblock {
                op,
                base,
                size,
                error,
            } => write!(f, "memblock {op} {base} {size} failed: {error}"),
            Self::EmptyMemblock => f.write_str(
                "memblock holds no memory: plan() needs the state init_memblock() sets up \
                 (percpu::boot does both from an empty memblock)",
            ),
        }
    }
}

impl core::error::Error for PlanError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Memblock { error, .. } => Some(error),
            Self::CannotFit { .. } | Self::EmptyMemblock => None,
        }
    }
}

impl From<ConfigError> for PlanError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}
