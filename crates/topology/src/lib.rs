//! NUMA topology of a POWER machine from its flattened device tree or a TOML description.
//!
//! Work in progress (issue 5): the [`Topology`] model is defined; parsers are being added.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

extern crate alloc;

mod model;

pub use model::{Cpu, MemoryRange, Node, Topology};
