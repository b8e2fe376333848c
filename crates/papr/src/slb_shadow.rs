//! The SLB shadow buffer: the bolted SLB entries the hypervisor restores on dispatch.

use zerocopy::byteorder::big_endian::{U32, U64};

use crate::layout::{impl_from_bytes, papr_struct, Zero};
use crate::lppaca::L1_CACHE_BYTES;

/// Number of bolted SLB entries Linux keeps in the shadow (Linux `SLB_NUM_BOLTED`,
/// `asm/book3s/64/mmu-hash.h`): the kernel linear mapping and the kernel stack.
pub const SLB_NUM_BOLTED: usize = 2;

/// One shadowed SLB entry: the ESID word (with its valid bit) then the VSID word.
///
/// Linux declares this as an anonymous struct inside `struct slb_shadow`; it has no C
/// name of its own.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    zerocopy::FromBytes,
    zerocopy::IntoBytes,
    zerocopy::KnownLayout,
    zerocopy::Immutable,
)]
#[repr(C)]
pub struct SlbShadowEntry {
    /// OS: the `slbmte` RB value (ESID, valid bit, index); 0 marks an unused slot.
    pub esid: U64,
    /// OS: the `slbmte` RS value (VSID and flags).
    pub vsid: U64,
}

impl Zero for SlbShadowEntry {
    const ZERO: Self = Self {
        esid: U64::ZERO,
        vsid: U64::ZERO,
    };
}

/// Bytes the fields of `struct slb_shadow` occupy before its cacheline tail padding.
const SLB_SHADOW_FIELDS_SIZE: usize = 16 + 16 * SLB_NUM_BOLTED;
/// `sizeof(struct slb_shadow)`: the fields rounded up to the 128-byte cache line.
pub const SLB_SHADOW_SIZE: usize = SLB_SHADOW_FIELDS_SIZE.next_multiple_of(L1_CACHE_BYTES as usize);

papr_struct! {
    /// Linux 6.1 `struct slb_shadow` (`asm/lppaca.h`), registered with
    /// `H_REGISTER_VPA` subfunction 3 after the VPA.
    ///
    /// Linux marks it `____cacheline_aligned` (128 bytes on PPC64), which pads the
    /// 48 bytes of fields to `sizeof == 128`, and Linux writes that sizeof into
    /// `buffer_length`. This type reproduces both: alignment 128 and an explicit,
    /// private, zero tail so that the value has no implicit padding and its bytes are
    /// exactly the 128 Linux registers. The tail is not a field of the C struct, so it
    /// is not in [`SlbShadow::LAYOUT`]'s field list.
    pub struct SlbShadow: c_name = "slb_shadow", size = SLB_SHADOW_SIZE, align = 128 {
        /// OS: number of valid entries at the start of `save_area` (Linux: SLB_NUM_BOLTED).
        persistent: U32 => Os,
        /// OS: length of the whole buffer, read by the hypervisor at registration.
        buffer_length: U32 => Os,
        /// Reserved.
        reserved: U64 => Reserved,
        /// OS: the shadowed SLB entries, ESID then VSID for each.
        save_area: [SlbShadowEntry; SLB_NUM_BOLTED] => Os,
    }
    tail_padding tail: [u8; SLB_SHADOW_SIZE - SLB_SHADOW_FIELDS_SIZE];
}

impl_from_bytes!(SlbShadow);

impl SlbShadow {
    /// The shadow Linux's `new_slb_shadow` sets up: `persistent` = [`SLB_NUM_BOLTED`],
    /// `buffer_length` = [`SLB_SHADOW_SIZE`] (128), every entry zero.
    pub const fn linux_init() -> Self {
        let mut s = Self::ZEROED;
        s.persistent = U32::new(SLB_NUM_BOLTED as u32);
        s.buffer_length = U32::new(SLB_SHADOW_SIZE as u32);
        s
    }
}
