//! The Dispatch Trace Log: a ring of entries the hypervisor appends on each dispatch.

use zerocopy::byteorder::big_endian::{U16, U32, U64};

use crate::layout::{impl_from_bytes, papr_struct};

/// `sizeof(struct dtl_entry)`: 48 bytes in Linux 6.1 (and in KVM, which writes them).
pub const DTL_ENTRY_SIZE: usize = 48;
/// Bytes of DTL buffer Linux registers per CPU (Linux `DISPATCH_LOG_BYTES`).
pub const DISPATCH_LOG_BYTES: usize = 4096;
/// Entries in Linux's per-CPU DTL buffer (Linux `N_DISPATCH_LOG`).
pub const N_DISPATCH_LOG: usize = DISPATCH_LOG_BYTES / DTL_ENTRY_SIZE;
/// `dtl_enable_mask` bit: log voluntary waits (cedes).
pub const DTL_LOG_CEDE: u8 = 0x1;
/// `dtl_enable_mask` bit: log time-slice preempts.
pub const DTL_LOG_PREEMPT: u8 = 0x2;
/// `dtl_enable_mask` bit: log partition memory page faults.
pub const DTL_LOG_FAULT: u8 = 0x4;
/// `dtl_enable_mask`: every event.
pub const DTL_LOG_ALL: u8 = DTL_LOG_CEDE | DTL_LOG_PREEMPT | DTL_LOG_FAULT;

papr_struct! {
    /// Linux 6.1 `struct dtl_entry` (`asm/dtl.h`): one record of the Dispatch Trace Log,
    /// registered with `H_REGISTER_VPA` subfunction 2.
    ///
    /// The hypervisor writes every field. The C struct has no alignment attribute; its
    /// natural alignment is 8 (from the `__be64` fields), reproduced with `align(8)`.
    ///
    /// At registration the hypervisor reads the buffer length as a big-endian 32-bit
    /// word at byte 4 of the buffer, which overlaps `enqueue_to_dispatch_time` of the
    /// first entry (Linux `register_dtl_buffer`); see [`crate::write_registration_length`].
    pub struct DtlEntry: c_name = "dtl_entry", size = DTL_ENTRY_SIZE, align = 8 {
        /// Hypervisor: why the virtual processor was dispatched.
        dispatch_reason: u8 => Hypervisor,
        /// Hypervisor: why it was preempted before this dispatch.
        preempt_reason: u8 => Hypervisor,
        /// Hypervisor: the physical processor it was dispatched on.
        processor_id: U16 => Hypervisor,
        /// Hypervisor: timebase ticks from enqueue to dispatch.
        enqueue_to_dispatch_time: U32 => Hypervisor,
        /// Hypervisor: timebase ticks from ready to enqueue.
        ready_to_enqueue_time: U32 => Hypervisor,
        /// Hypervisor: timebase ticks from waiting to ready.
        waiting_to_ready_time: U32 => Hypervisor,
        /// Hypervisor: timebase value at dispatch.
        timebase: U64 => Hypervisor,
        /// Hypervisor: faulting address when the preempt was a memory page fault.
        fault_addr: U64 => Hypervisor,
        /// Hypervisor: the guest's SRR0 (interrupted instruction address) at preemption.
        srr0: U64 => Hypervisor,
        /// Hypervisor: the guest's SRR1 (interrupted MSR) at preemption.
        srr1: U64 => Hypervisor,
    }
}

impl_from_bytes!(DtlEntry);
