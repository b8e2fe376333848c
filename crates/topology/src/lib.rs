//! NUMA topology of a POWER machine from its flattened device tree or a TOML description.
//!
//! Not implemented yet: this crate is a placeholder for issue 5 and exports nothing.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
