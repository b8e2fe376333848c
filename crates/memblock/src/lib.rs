//! Linux-compatible memblock early allocator (mm/memblock.c semantics).
//!
//! Not implemented yet: this crate is a placeholder for issue 3 and exports nothing.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
