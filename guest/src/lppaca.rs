//! Access to a live, registered lppaca through volatile operations.
//!
//! QEMU writes `__old_status` during H_REGISTER_VPA and `yield_count` whenever a vCPU
//! enters or leaves the guest, possibly from another host thread. A Rust reference to
//! the VPA would tell the compiler nobody else writes it, so the guest never creates one:
//! it keeps the address and reads or writes single fields with volatile accesses at
//! `papr::Lppaca`'s field offsets.

use core::mem::offset_of;

use papr::Lppaca;
use percpu::vpa::LppacaAccess;

/// A registered (or about to be registered) lppaca at a guest physical address.
pub struct LiveLppaca {
    addr: u64,
}

impl LiveLppaca {
    /// The lppaca at `addr`.
    ///
    /// # Safety
    /// `addr` must be the start of a 640-byte area of guest RAM below the RMA that is
    /// reserved for this lppaca and that no Rust reference points into.
    pub unsafe fn new(addr: u64) -> Self {
        Self { addr }
    }

    fn field(&self, offset: usize) -> *mut u8 {
        (self.addr + offset as u64) as *mut u8
    }

    fn read<const N: usize>(&self, offset: usize) -> [u8; N] {
        // SAFETY: `new`'s contract: the area is valid guest RAM; N bytes at a field offset
        // stay inside the 640-byte lppaca; volatile because the hypervisor writes it.
        unsafe { core::ptr::read_volatile(self.field(offset) as *const [u8; N]) }
    }

    fn write<const N: usize>(&mut self, offset: usize, bytes: [u8; N]) {
        // SAFETY: as in `read`; only OS-owned fields are written through this.
        unsafe { core::ptr::write_volatile(self.field(offset) as *mut [u8; N], bytes) }
    }

    /// `__old_status` (hypervisor-written).
    pub fn old_status(&self) -> u8 {
        self.read::<1>(offset_of!(Lppaca, __old_status))[0]
    }

    /// `yield_count` (hypervisor-written).
    pub fn yield_count(&self) -> u32 {
        u32::from_be_bytes(self.read(offset_of!(Lppaca, yield_count)))
    }
}

impl LppacaAccess for LiveLppaca {
    fn set_vmxregs_in_use(&mut self, value: u8) {
        self.write(offset_of!(Lppaca, vmxregs_in_use), [value]);
    }
    fn set_ebb_regs_in_use(&mut self, value: u8) {
        self.write(offset_of!(Lppaca, ebb_regs_in_use), [value]);
    }
    fn set_dtl_idx(&mut self, value: u64) {
        self.write(offset_of!(Lppaca, dtl_idx), value.to_be_bytes());
    }
    fn set_dtl_enable_mask(&mut self, value: u8) {
        self.write(offset_of!(Lppaca, dtl_enable_mask), [value]);
    }
    fn dtl_enable_mask(&self) -> u8 {
        self.read::<1>(offset_of!(Lppaca, dtl_enable_mask))[0]
    }
    fn vphn_assoc_counts(&self) -> [u8; 8] {
        self.read(offset_of!(Lppaca, vphn_assoc_counts))
    }
}
