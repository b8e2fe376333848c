//! [`LppacaAccess`] over rust-vmm guest memory (the `vm-memory` feature).

use core::fmt;
use core::mem::offset_of;

use papr::Lppaca;
use phys::{PhysAddr, PhysSize};
use vm_memory::{Bytes, GuestAddress, GuestMemory, Permissions};

use super::LppacaAccess;

/// An lppaca in guest memory (rust-vmm `vm-memory` 0.18), reached through `Bytes`.
///
/// The lppaca is shared with the hypervisor, which writes its own fields at any time;
/// `vm-memory` copies with volatile accesses, so no Rust reference to the live bytes
/// exists, which is what [`LppacaAccess`] asks of a guest-side implementation. The
/// handle borrows the memory immutably (`vm-memory` writes through `&self`), so a VMM
/// can hold it while the same mapping sits in a `vpa_hv::Partition` as a clone.
///
/// [`GuestLppaca::new`] checks once that the whole lppaca is guest memory, readable
/// and writable; the accessors then cannot fail on a memory whose regions do not
/// change (`GuestMemoryMmap`). If the regions do change under the handle, a write
/// that no longer lands is dropped and a read gives zeros, the behaviour of memory
/// that is not there.
///
/// ```
/// use papr::Lppaca;
/// use percpu::vpa::{GuestLppaca, LppacaAccess};
/// use phys::PhysAddr;
/// use vm_memory::{GuestAddress, GuestMemoryMmap};
///
/// let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
/// let mut lp = GuestLppaca::new(&mem, PhysAddr::new(0x1_0000)).unwrap();
/// lp.write(&Lppaca::linux_init());
/// lp.set_dtl_enable_mask(0x2);
/// assert_eq!(lp.read().dtl_enable_mask, 0x2);
/// // An lppaca hanging over the end of guest memory is refused up front.
/// assert!(GuestLppaca::new(&mem, PhysAddr::new((1 << 20) - 0x100)).is_err());
/// ```
#[derive(Debug)]
pub struct GuestLppaca<'m, M: ?Sized> {
    memory: &'m M,
    addr: PhysAddr,
}

/// The lppaca would not lie entirely in readable and writable guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LppacaOutsideGuestMemory {
    /// Where the lppaca was to start.
    pub addr: PhysAddr,
    /// Its size (`size_of::<Lppaca>()`, 640 bytes).
    pub len: PhysSize,
}

impl fmt::Display for LppacaOutsideGuestMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {}-byte lppaca at {} is not all guest memory",
            self.len.as_u64(),
            self.addr
        )
    }
}

impl core::error::Error for LppacaOutsideGuestMemory {}

const LPPACA_LEN: usize = core::mem::size_of::<Lppaca>();

impl<'m, M: GuestMemory + ?Sized> GuestLppaca<'m, M> {
    /// The lppaca at guest address `addr`, if all of its bytes are guest memory that
    /// can be read and written.
    pub fn new(memory: &'m M, addr: PhysAddr) -> Result<Self, LppacaOutsideGuestMemory> {
        let inside = addr.as_u64().checked_add(LPPACA_LEN as u64).is_some()
            && memory.check_range(
                GuestAddress(addr.as_u64()),
                LPPACA_LEN,
                Permissions::ReadWrite,
            );
        if inside {
            Ok(Self { memory, addr })
        } else {
            Err(LppacaOutsideGuestMemory {
                addr,
                len: PhysSize::new(LPPACA_LEN as u64),
            })
        }
    }

    /// Where the lppaca is.
    pub const fn addr(&self) -> PhysAddr {
        self.addr
    }

    /// Writes a whole lppaca, as the guest does before registering it
    /// ([`Lppaca::linux_init`] is what Linux writes).
    pub fn write(&mut self, lppaca: &Lppaca) {
        self.store(0, lppaca.as_bytes());
    }

    /// Reads the whole lppaca (a snapshot: the hypervisor may change it right after).
    pub fn read(&self) -> Lppaca {
        let mut bytes = [0u8; LPPACA_LEN];
        self.load(0, &mut bytes);
        Lppaca::from_bytes(&bytes).unwrap_or(Lppaca::ZEROED)
    }

    fn store(&self, offset: usize, bytes: &[u8]) {
        let at = GuestAddress(self.addr.as_u64().wrapping_add(offset as u64));
        // Checked in `new`; see the type's documentation for memory that changes.
        let _ = self.memory.write_slice(bytes, at);
    }

    fn load(&self, offset: usize, bytes: &mut [u8]) {
        let at = GuestAddress(self.addr.as_u64().wrapping_add(offset as u64));
        if self.memory.read_slice(bytes, at).is_err() {
            bytes.fill(0);
        }
    }
}

impl<M: GuestMemory + ?Sized> LppacaAccess for GuestLppaca<'_, M> {
    fn set_vmxregs_in_use(&mut self, value: u8) {
        self.store(offset_of!(Lppaca, vmxregs_in_use), &[value]);
    }
    fn set_ebb_regs_in_use(&mut self, value: u8) {
        self.store(offset_of!(Lppaca, ebb_regs_in_use), &[value]);
    }
    fn set_dtl_idx(&mut self, value: u64) {
        self.store(offset_of!(Lppaca, dtl_idx), &value.to_be_bytes());
    }
    fn set_dtl_enable_mask(&mut self, value: u8) {
        self.store(offset_of!(Lppaca, dtl_enable_mask), &[value]);
    }
    fn dtl_enable_mask(&self) -> u8 {
        let mut b = [0u8];
        self.load(offset_of!(Lppaca, dtl_enable_mask), &mut b);
        b[0]
    }
    fn vphn_assoc_counts(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        self.load(offset_of!(Lppaca, vphn_assoc_counts), &mut b);
        b
    }
}
