//! Byte offsets and sizes in the guest structures the handler touches, taken from the
//! `papr` crate's byte-exact copies of Linux 6.1's `struct lppaca` and
//! `struct dtl_entry` (`offset_of!`), plus the few numbers that belong to a
//! hypervisor rather than to a structure.

use core::mem::offset_of;

use papr::{DtlEntry, Lppaca};

/// `lppaca.size`: the be16 length the guest advertises; both hypervisors read it at 4.
pub const VPA_SIZE: u64 = offset_of!(Lppaca, size) as u64;
/// The be32 length at offset 4 of a DTL or SLB shadow buffer (`struct reg_vpa`'s
/// `length.word` in KVM, `ldl_be_phys(addr + 0x4)` in QEMU). It overlaps
/// `slb_shadow.buffer_length` and the first entry's `enqueue_to_dispatch_time`.
pub const AREA_LENGTH: u64 = 4;
/// `lppaca.__old_status`; bit [`SHARED_PROC`] says "shared processor partition".
pub const VPA_OLD_STATUS: u64 = offset_of!(Lppaca, __old_status) as u64;
/// `LPPACA_OLD_SHARED_PROC` (QEMU: `VPA_SHARED_PROC_VAL`).
pub const SHARED_PROC: u8 = papr::LPPACA_OLD_SHARED_PROC;
/// `lppaca.yield_count` (QEMU: `VPA_DISPATCH_COUNTER`, 0x100), be32.
pub const VPA_YIELD_COUNT: u64 = offset_of!(Lppaca, yield_count) as u64;
/// `lppaca.enqueue_dispatch_tb`, be64.
pub const VPA_ENQUEUE_DISPATCH_TB: u64 = offset_of!(Lppaca, enqueue_dispatch_tb) as u64;
/// `lppaca.dtl_idx`, be64: the number of DTL entries the hypervisor has written.
pub const VPA_DTL_IDX: u64 = offset_of!(Lppaca, dtl_idx) as u64;
/// `sizeof(struct lppaca)` since Linux 4.14 (the PAPR VPA size; QEMU `VPA_MIN_SIZE`).
pub const LPPACA_SIZE: u64 = papr::VPA_MIN_SIZE;
/// `sizeof(struct lppaca)` before the 4.14-era change: the structure was
/// `__aligned(0x400)`, so KVM's `len < sizeof(struct lppaca)` demanded 1 KiB.
pub const LPPACA_SIZE_PRE_414: u64 = 1024;
/// `sizeof(struct dtl_entry)`.
pub const DTL_ENTRY_SIZE: u64 = papr::DTL_ENTRY_SIZE as u64;
/// `sizeof(struct reg_vpa)` in `book3s_hv.c`: KVM's minimum for any area, and QEMU's
/// minimum SLB shadow (`size < 0x8`).
pub const REG_VPA_HEADER: u64 = 8;
/// The L1 cache line of 64-bit Book3S (`L1_CACHE_BYTES`) and QEMU's
/// `env->dcache_line_size` for POWER7 and later.
pub const CACHE_LINE: u64 = papr::L1_CACHE_BYTES;
/// QEMU's fixed page for the "must not cross a page" checks (`/ 4096`).
pub const QEMU_PAGE: u64 = papr::VPA_BOUNDARY;

/// The reason code KVM writes in every DTL entry (`dt->dispatch_reason = 7`).
pub const KVM_DTL_DISPATCH_REASON: u8 = 7;

const _: () = assert!(core::mem::size_of::<Lppaca>() as u64 == LPPACA_SIZE);
const _: () = assert!(core::mem::size_of::<DtlEntry>() as u64 == DTL_ENTRY_SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets computed by hand from Linux 6.1 `arch/powerpc/include/asm/lppaca.h`:
    /// cache line 1 is 0..0x80, line 2 0x80..0x100, `yield_count` opens line 3, and
    /// `dtl_idx` follows `page_ins` (4) and `reserved12[148]` at the start of line 4.
    #[test]
    fn offsets_match_linux_header() {
        assert_eq!(VPA_SIZE, 4);
        assert_eq!(VPA_OLD_STATUS, 9);
        assert_eq!(VPA_YIELD_COUNT, 0x100);
        assert_eq!(VPA_ENQUEUE_DISPATCH_TB, 0x100 + 4 + 4 + 8 + 8 + 64);
        assert_eq!(VPA_DTL_IDX, 0x180 + 4 + 148);
        assert_eq!(DTL_ENTRY_SIZE, 48);
        assert_eq!(SHARED_PROC, 2);
        assert_eq!(offset_of!(DtlEntry, timebase), 16);
        assert_eq!(offset_of!(DtlEntry, srr1), 40);
    }
}
