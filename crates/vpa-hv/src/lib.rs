//! The hypervisor side of H_REGISTER_VPA over vm-memory guest memory, with KVM and QEMU rule profiles.
//!
//! Not implemented yet: this crate is a placeholder for issue 7 and exports nothing.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
