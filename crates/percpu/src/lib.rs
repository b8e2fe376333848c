//! NUMA-aware placement of POWER per-CPU structures (paca, lppaca, SLB shadow, stacks) through memblock.
//!
//! Not implemented yet: this crate is a placeholder for issue 6 and exports nothing.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
