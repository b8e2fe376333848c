//! PAPR structures shared between a pSeries guest and its hypervisor, and the hcall ABI
//! that registers them.
//!
//! Work in progress: the [`hcall`] module (H_REGISTER_VPA opcode, subfunctions, return
//! codes and the [`hcall::Hypervisor`] trait) is complete; the byte-exact structures are
//! being added by issue 4.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

pub mod hcall;
