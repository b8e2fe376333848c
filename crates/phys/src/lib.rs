//! The physical-memory vocabulary of numaboot: [`PhysAddr`], [`PhysSize`] and [`NodeId`].
//!
//! Early-boot code juggles three kinds of 64-bit number that must never be confused:
//! a physical address, a length in bytes, and a NUMA node id. Linux keeps them all in
//! `phys_addr_t`/`int`; here each is a newtype, so that `base + size` is typed
//! (`PhysAddr + PhysSize -> Option<PhysAddr>`) and every overflow is a visible `None`
//! instead of a silent wrap. The crate is `no_std` and has no dependencies beyond an
//! optional `serde` feature.
//!
//! ```
//! use phys::{NodeId, PhysAddr, PhysSize};
//!
//! let base = PhysAddr::new(0x1000_0400);
//! let lppaca = PhysSize::new(0x400);
//! assert_eq!(base.checked_add(lppaca), Some(PhysAddr::new(0x1000_0800)));
//! assert_eq!(PhysAddr::MAX.checked_add(PhysSize::new(1)), None);
//! assert_eq!(base.align_down(0x1000), Some(PhysAddr::new(0x1000_0000)));
//! assert!(NodeId::new(3).is_some());
//! assert!(NodeId::new(NodeId::MAX_NUMNODES).is_none());
//! assert_eq!("0x400".parse::<PhysSize>().unwrap(), lppaca);
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod addr;
mod limit;
mod node;
mod parse;

pub use addr::{PhysAddr, PhysSize};
pub use limit::Limit;
pub use node::{NodeId, NodeIdOutOfRange};
pub use parse::{parse_u64, ParseNumberError};
