//! The lppaca: Linux's name for the PAPR Virtual Processor Area (VPA).

use core::fmt;

use phys::{PhysAddr, PhysSize};
use zerocopy::byteorder::big_endian::{U16, U32, U64};

use crate::layout::{impl_from_bytes, papr_struct};
use crate::size;

/// The lppaca eye catcher, EBCDIC "LpPa" (Linux `init_lppaca`).
pub const LPPACA_DESC: u32 = 0xd397_d781;
/// [`size::LPPACA_ALLOC`] in bytes.
pub const LPPACA_ALLOC_SIZE: u64 = size::LPPACA_ALLOC.as_u64();
/// [`size::LPPACA_ALIGN`] in bytes.
pub const LPPACA_ALLOC_ALIGN: u64 = size::LPPACA_ALIGN.get();
/// [`size::VPA_MIN`] in bytes.
pub const VPA_MIN_SIZE: u64 = size::VPA_MIN.as_u64();
/// [`size::L1_CACHE`] in bytes.
pub const L1_CACHE_BYTES: u64 = size::L1_CACHE.get();
/// [`size::VPA_BOUNDARY`] in bytes.
pub const VPA_BOUNDARY: u64 = size::VPA_BOUNDARY.get();
/// The bit in `__old_status` that hypervisors set for a shared-processor partition
/// (Linux `LPPACA_OLD_SHARED_PROC`; QEMU and KVM OR it in on VPA registration).
pub const LPPACA_OLD_SHARED_PROC: u8 = 0x2;
/// The SLB entry count Linux writes into `slb_count` (`init_lppaca`).
pub const LPPACA_LINUX_SLB_COUNT: u16 = 64;

papr_struct! {
    /// Linux 6.1 `struct lppaca` (`arch/powerpc/include/asm/lppaca.h`): the 640-byte
    /// area a guest registers per virtual CPU with `H_REGISTER_VPA`.
    ///
    /// Every multi-byte field is big-endian regardless of the guest's endianness, as
    /// PAPR defines it; the zerocopy byte-order types make the in-memory bytes exact on
    /// any host. Those types have alignment 1, so the offsets here equal C's only because
    /// Linux's layout has no implicit padding; the tests check that with a C compiler.
    ///
    /// Linux marks the struct `____cacheline_aligned`, i.e. aligned to 128 bytes on
    /// PPC64; `#[repr(align(128))]` reproduces that. 640 is a multiple of 128, so the
    /// attribute adds no tail padding and `size_of::<Lppaca>() == 640`. Alignment only
    /// matters for values placed in memory by Rust; [`Lppaca::from_bytes`] reads from
    /// any byte slice.
    ///
    /// Linux declares most hypervisor-written fields `volatile`; code that shares a live
    /// VPA with a running hypervisor must access those through volatile or atomic
    /// operations, not through a plain copy of this struct.
    pub struct Lppaca: c_name = "lppaca", size = 640, align = 128 {
        /// OS: eye catcher [`LPPACA_DESC`] ("LpPa").
        desc: U32 => Os,
        /// OS: size of the area in bytes, read by the hypervisor at registration (>= 640).
        size: U16 => Os,
        /// Reserved.
        reserved1: [u8; 3] => Reserved,
        /// Hypervisor: old status byte; bit [`LPPACA_OLD_SHARED_PROC`] means shared processor.
        __old_status: u8 => Hypervisor,
        /// Reserved.
        reserved3: [u8; 14] => Reserved,
        /// Hypervisor: dynamic hardware node id of the physical processor.
        dyn_hw_node_id: U32 => Hypervisor,
        /// Hypervisor: dynamic hardware processor id of the physical processor.
        dyn_hw_proc_id: U32 => Hypervisor,
        /// Reserved.
        reserved4: [u8; 56] => Reserved,
        /// Hypervisor: home-node associativity change counters (VPHN), one byte per level.
        vphn_assoc_counts: [u8; 8] => Hypervisor,
        /// Reserved.
        reserved5: [u8; 32] => Reserved,
        /// Reserved.
        reserved6: [u8; 48] => Reserved,
        /// OS: cede latency the OS tolerates when it cedes the processor.
        cede_latency_hint: u8 => Os,
        /// OS: nonzero when the event-based-branch registers hold live state.
        ebb_regs_in_use: u8 => Os,
        /// Reserved.
        reserved7: [u8; 6] => Reserved,
        /// OS: which dispatch events the hypervisor logs to the DTL (`DTL_LOG_*` bits).
        dtl_enable_mask: u8 => Os,
        /// OS: nonzero to donate idle cycles of a dedicated processor.
        donate_dedicated_cpu: u8 => Os,
        /// OS: nonzero when the floating-point registers hold live state.
        fpregs_in_use: u8 => Os,
        /// OS: nonzero when the performance monitor counters are in use.
        pmcregs_in_use: u8 => Os,
        /// Reserved.
        reserved8: [u8; 28] => Reserved,
        /// OS: PURR cycles spent idle; Linux's idle loop accumulates them for the hypervisor.
        wait_state_cycles: U64 => Os,
        /// Reserved.
        reserved9: [u8; 28] => Reserved,
        /// OS: number of SLB entries the hypervisor must preserve across a dispatch.
        slb_count: U16 => Os,
        /// OS: nonzero while the OS idles on this processor.
        idle: u8 => Os,
        /// OS: nonzero when the VMX (AltiVec) registers hold live state.
        vmxregs_in_use: u8 => Os,
        /// Hypervisor: dispatch counter; odd while the virtual processor is not running.
        yield_count: U32 => Hypervisor,
        /// Hypervisor: times a dispatch moved the virtual processor to another physical one.
        dispersion_count: U32 => Hypervisor,
        /// Hypervisor: CMO (cooperative memory overcommit) page fault count.
        cmo_faults: U64 => Hypervisor,
        /// Hypervisor: time spent in CMO page faults, in timebase ticks.
        cmo_fault_time: U64 => Hypervisor,
        /// Reserved (Linux notes: SPURR/PURR expropriated and donated counters).
        reserved10: [u8; 64] => Reserved,
        /// Hypervisor: total timebase ticks from enqueue to dispatch.
        enqueue_dispatch_tb: U64 => Hypervisor,
        /// Hypervisor: total timebase ticks from ready to enqueue.
        ready_enqueue_tb: U64 => Hypervisor,
        /// Hypervisor: total timebase ticks from wait to ready.
        wait_ready_tb: U64 => Hypervisor,
        /// Reserved.
        reserved11: [u8; 16] => Reserved,
        /// OS: CMO hint, the number of page-ins the OS performed.
        page_ins: U32 => Os,
        /// Reserved.
        reserved12: [u8; 148] => Reserved,
        /// Hypervisor: Dispatch Trace Log head index (entries written so far).
        dtl_idx: U64 => Hypervisor,
        /// Reserved.
        reserved13: [u8; 96] => Reserved,
    }
}

impl_from_bytes!(Lppaca);

impl Lppaca {
    /// The lppaca Linux's `init_lppaca` writes before registration: eye catcher,
    /// `size` = [`LPPACA_ALLOC_SIZE`], `fpregs_in_use` = 1, `slb_count` = 64, the rest zero.
    pub const fn linux_init() -> Self {
        let mut lp = Self::ZEROED;
        lp.desc = U32::new(LPPACA_DESC);
        lp.size = U16::new(LPPACA_ALLOC_SIZE as u16);
        lp.fpregs_in_use = 1;
        lp.slb_count = U16::new(LPPACA_LINUX_SLB_COUNT);
        lp
    }

    /// The `size` field: what the hypervisor reads as the registered length.
    pub const fn registered_size(&self) -> u16 {
        self.size.get()
    }

    /// The `yield_count` field.
    pub const fn yield_count(&self) -> u32 {
        self.yield_count.get()
    }

    /// Whether `yield_count` is odd, i.e. the virtual processor is yielded or preempted.
    pub const fn is_yielded(&self) -> bool {
        self.yield_count.get() & 1 == 1
    }

    /// The `dtl_idx` field.
    pub const fn dtl_idx(&self) -> u64 {
        self.dtl_idx.get()
    }

    /// Whether the hypervisor marked the partition shared-processor in `__old_status`.
    pub const fn is_shared_proc(&self) -> bool {
        self.__old_status & LPPACA_OLD_SHARED_PROC != 0
    }
}

/// Why an area cannot be registered as a VPA (PAPR's placement rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VpaPlacementError {
    /// The size is below [`VPA_MIN_SIZE`].
    TooSmall {
        /// The rejected size.
        size: PhysSize,
    },
    /// The address is not a multiple of [`L1_CACHE_BYTES`].
    Misaligned {
        /// The rejected address.
        addr: PhysAddr,
    },
    /// `[addr, addr + size)` crosses a [`VPA_BOUNDARY`] boundary.
    CrossesBoundary {
        /// Start of the area.
        addr: PhysAddr,
        /// Its size.
        size: PhysSize,
    },
    /// `addr + size` does not fit in 64 bits.
    Overflow {
        /// Start of the area.
        addr: PhysAddr,
        /// Its size.
        size: PhysSize,
    },
}

impl fmt::Display for VpaPlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooSmall { size } => write!(
                f,
                "VPA size {:#x} is below the PAPR minimum of {VPA_MIN_SIZE}",
                size.as_u64()
            ),
            Self::Misaligned { addr } => write!(
                f,
                "VPA address {:#x} is not aligned to the {L1_CACHE_BYTES}-byte L1 cache line",
                addr.as_u64()
            ),
            Self::CrossesBoundary { addr, size } => write!(
                f,
                "VPA at {:#x} of size {:#x} crosses a 4 KiB boundary",
                addr.as_u64(),
                size.as_u64()
            ),
            Self::Overflow { addr, size } => write!(
                f,
                "VPA at {:#x} of size {:#x} wraps the address space",
                addr.as_u64(),
                size.as_u64()
            ),
        }
    }
}

impl core::error::Error for VpaPlacementError {}

/// Checks PAPR's placement rules for a VPA of `size` bytes (the value of its `size`
/// field) at `addr`: at least 640 bytes, L1-cache-line aligned, within one 4 KiB block.
///
/// Checks run in that order, so the first broken rule is reported. Hypervisors add
/// rules of their own (QEMU answers `H_HARDWARE` for address 0); those are not PAPR's.
pub const fn vpa_placement_ok(addr: PhysAddr, size: PhysSize) -> Result<(), VpaPlacementError> {
    if size.as_u64() < VPA_MIN_SIZE {
        return Err(VpaPlacementError::TooSmall { size });
    }
    if !addr.is_aligned(L1_CACHE_BYTES) {
        return Err(VpaPlacementError::Misaligned { addr });
    }
    // The last byte, not the end, decides: an area ending exactly on a boundary is fine,
    // and an area ending at 2^64 must not be reported as overflowing.
    let Some(last) = addr.as_u64().checked_add(size.as_u64() - 1) else {
        return Err(VpaPlacementError::Overflow { addr, size });
    };
    if addr.as_u64() / VPA_BOUNDARY != last / VPA_BOUNDARY {
        return Err(VpaPlacementError::CrossesBoundary { addr, size });
    }
    Ok(())
}
