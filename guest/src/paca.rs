//! The guest's pacas, in guest memory where the host can read them.
//!
//! Linux keeps one `paca_struct` per CPU at its planned address and an array of pointers
//! to them, `paca_ptrs`. The guest does the same with a record of its own layout
//! ([`GuestPaca`], native little-endian doublewords) at the start of each planned paca,
//! and [`NB_PACA_PTRS`], whose address the host finds in the guest ELF's symbol table.
//! The records are written from the very `Paca` values the registrations use, so the
//! host can compare what the guest registered with what its console report says.

use core::sync::atomic::{AtomicU64, Ordering};

use percpu::vpa::Paca;

use crate::realmem::poke;

/// The guest drives at most this many CPUs (start.S has 16 stacks).
pub const MAX_CPUS: usize = 16;

/// What the guest writes at the start of each planned paca: the fields of Linux's
/// `paca_struct` that the host checks, each a native-endian doubleword; a NULL pointer
/// is 0. xtask's `e2e::pacas` reads the same layout.
#[repr(C)]
pub struct GuestPaca {
    /// `paca_index`: the logical CPU.
    pub paca_index: u64,
    /// `hw_cpu_id`.
    pub hw_cpu_id: u64,
    /// `lppaca_ptr`.
    pub lppaca_ptr: u64,
    /// `slb_shadow_ptr`.
    pub slb_shadow_ptr: u64,
    /// `dispatch_log`.
    pub dispatch_log: u64,
}

impl GuestPaca {
    /// The record as it lies in memory.
    fn to_bytes(&self) -> [u8; core::mem::size_of::<GuestPaca>()] {
        let words = [
            self.paca_index,
            self.hw_cpu_id,
            self.lppaca_ptr,
            self.slb_shadow_ptr,
            self.dispatch_log,
        ];
        let mut bytes = [0u8; core::mem::size_of::<GuestPaca>()];
        for (chunk, v) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        bytes
    }
}

/// The guest's `paca_ptrs`: how many pacas were published, then each one's address by
/// logical CPU (0: none).
#[repr(C)]
pub struct PacaPtrs {
    /// Number of entries of `ptrs` in use.
    pub count: AtomicU64,
    /// Physical address of each logical CPU's paca.
    pub ptrs: [AtomicU64; MAX_CPUS],
}

/// The table the host reads after the run (by this symbol name).
#[no_mangle]
pub static NB_PACA_PTRS: PacaPtrs = PacaPtrs {
    count: AtomicU64::new(0),
    ptrs: [const { AtomicU64::new(0) }; MAX_CPUS],
};

/// Writes `paca`'s record at `at` (its planned address) and enters it in
/// [`NB_PACA_PTRS`]; CPUs beyond [`MAX_CPUS`] are refused.
///
/// # Safety
/// `at` must be the planned paca of `paca.paca_index`: at least
/// `size_of::<GuestPaca>()` bytes reserved in memblock for it, below the RMA.
pub unsafe fn publish(at: u64, paca: &Paca) -> Result<(), alloc::string::String> {
    let index = paca.paca_index as usize;
    let slot = NB_PACA_PTRS
        .ptrs
        .get(index)
        .ok_or(alloc::format!("CPU {index}: no room in NB_PACA_PTRS"))?;
    let ptr = |p: Option<phys::PhysAddr>| p.map_or(0, |a| a.as_u64());
    let record = GuestPaca {
        paca_index: u64::from(paca.paca_index),
        hw_cpu_id: u64::from(paca.hw_cpu_id),
        lppaca_ptr: ptr(paca.lppaca_ptr),
        slb_shadow_ptr: ptr(paca.slb_shadow_ptr),
        dispatch_log: ptr(paca.dispatch_log),
    };
    // SAFETY: per the caller.
    unsafe { poke(at, &record.to_bytes()) };
    slot.store(at, Ordering::Release);
    NB_PACA_PTRS
        .count
        .fetch_max(index as u64 + 1, Ordering::AcqRel);
    Ok(())
}

/// The address of [`NB_PACA_PTRS`], for the report.
pub fn table_address() -> u64 {
    core::ptr::addr_of!(NB_PACA_PTRS) as u64
}
