//! Byte offsets in the guest structures the handler touches.
//!
//! Each value is Linux 6.1's (`arch/powerpc/include/asm/lppaca.h`, `asm/dtl.h`) and is
//! cross-checked against the `papr` crate's structures in the tests.
// TODO(papr): switch to offset_of! on papr::Lppaca/DtlEntry once that branch lands.

/// `lppaca.size`: the be16 length the guest advertises; both hypervisors read it at 4.
pub const VPA_SIZE: u64 = 4;
/// The be32 length at offset 4 of a DTL or SLB shadow buffer (`struct reg_vpa`'s
/// `length.word` in KVM, `ldl_be_phys(addr + 0x4)` in QEMU).
pub const AREA_LENGTH: u64 = 4;
/// `lppaca.__old_status`; bit [`SHARED_PROC`] says "shared processor partition".
pub const VPA_OLD_STATUS: u64 = 9;
/// `LPPACA_OLD_SHARED_PROC` (QEMU: `VPA_SHARED_PROC_VAL`).
pub const SHARED_PROC: u8 = 0x2;
/// `lppaca.yield_count` (QEMU: `VPA_DISPATCH_COUNTER`), be32.
pub const VPA_YIELD_COUNT: u64 = 0x100;
/// `lppaca.enqueue_dispatch_tb`, be64.
pub const VPA_ENQUEUE_DISPATCH_TB: u64 = 0x158;
/// `lppaca.dtl_idx`, be64: the number of DTL entries the hypervisor has written.
pub const VPA_DTL_IDX: u64 = 0x218;
/// `sizeof(struct lppaca)` since Linux 4.14 (the PAPR VPA size).
pub const LPPACA_SIZE: u64 = 640;
/// `sizeof(struct lppaca)` before the 4.14-era change: the structure was
/// `__aligned(0x400)`, so KVM's `len < sizeof(struct lppaca)` demanded 1 KiB.
pub const LPPACA_SIZE_PRE_414: u64 = 1024;
/// `sizeof(struct dtl_entry)`.
pub const DTL_ENTRY_SIZE: u64 = 48;
/// `sizeof(struct reg_vpa)` in `book3s_hv.c`: KVM's minimum for any area.
pub const REG_VPA_HEADER: u64 = 8;
/// The L1 cache line of 64-bit Book3S (`L1_CACHE_BYTES`) and QEMU's
/// `env->dcache_line_size` for POWER7 and later.
pub const CACHE_LINE: u64 = 128;
/// QEMU's fixed page for the "must not cross a page" checks.
pub const QEMU_PAGE: u64 = 4096;

/// DTL entry fields (`struct dtl_entry`).
pub mod dtl {
    /// `dispatch_reason`, u8.
    pub const DISPATCH_REASON: usize = 0;
    /// `preempt_reason`, u8.
    pub const PREEMPT_REASON: usize = 1;
    /// `processor_id`, be16.
    pub const PROCESSOR_ID: usize = 2;
    /// `enqueue_to_dispatch_time`, be32.
    pub const ENQUEUE_TO_DISPATCH_TIME: usize = 4;
    /// `timebase`, be64.
    pub const TIMEBASE: usize = 16;
    /// `srr0`, be64.
    pub const SRR0: usize = 32;
    /// `srr1`, be64.
    pub const SRR1: usize = 40;
}
