//! Guest memory as the handler sees it: a small trait of its own, so the crate stays
//! `no_std`, with an adaptor for every `vm_memory::GuestMemory` under the `vm-memory`
//! feature and a plain [`VecRam`] for `no_std` users, tests and the fuzz target.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use phys::{PhysAddr, PhysSize};

/// A guest-physical range that is not (entirely) backed by guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfGuestMemory {
    /// First byte of the access.
    pub addr: PhysAddr,
    /// Length of the access in bytes.
    pub len: PhysSize,
}

impl fmt::Display for OutOfGuestMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes at {} are not all guest memory",
            self.len.as_u64(),
            self.addr
        )
    }
}

impl core::error::Error for OutOfGuestMemory {}

/// Guest-physical memory that the hypervisor model reads and writes.
///
/// Contract, relied on for "a rejected hcall changes no state": an access either
/// succeeds completely or fails without touching memory (a write that would run past
/// the end of memory writes nothing).
pub trait GuestRam {
    /// Whether every byte of `[addr, addr + len)` is backed by guest memory. A range
    /// that would wrap past the top of the address space is not.
    fn contains(&self, addr: PhysAddr, len: PhysSize) -> bool;

    /// Copies `buf.len()` bytes at `addr` into `buf`.
    fn read(&self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), OutOfGuestMemory>;

    /// Copies `data` to guest memory at `addr`.
    fn write(&mut self, addr: PhysAddr, data: &[u8]) -> Result<(), OutOfGuestMemory>;
}

fn usize_len(len: usize) -> PhysSize {
    // usize is at most 64 bits on every target this crate supports.
    PhysSize::new(u64::try_from(len).unwrap_or(u64::MAX))
}

/// Guest memory that is one `Vec<u8>` starting at guest address 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecRam {
    bytes: Vec<u8>,
}

impl VecRam {
    /// `size` zeroed bytes at guest addresses `0..size`.
    pub fn new(size: usize) -> Self {
        Self {
            bytes: vec![0; size],
        }
    }

    /// Guest memory holding `bytes` from address 0.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The whole memory.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The memory size in bytes.
    pub fn size(&self) -> PhysSize {
        usize_len(self.bytes.len())
    }

    fn range(&self, addr: PhysAddr, len: usize) -> Option<core::ops::Range<usize>> {
        let start = usize::try_from(addr.as_u64()).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.len()).then_some(start..end)
    }
}

impl GuestRam for VecRam {
    fn contains(&self, addr: PhysAddr, len: PhysSize) -> bool {
        usize::try_from(len.as_u64())
            .ok()
            .and_then(|len| self.range(addr, len))
            .is_some()
    }

    fn read(&self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), OutOfGuestMemory> {
        let range = self.range(addr, buf.len()).ok_or(OutOfGuestMemory {
            addr,
            len: usize_len(buf.len()),
        })?;
        buf.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn write(&mut self, addr: PhysAddr, data: &[u8]) -> Result<(), OutOfGuestMemory> {
        let range = self.range(addr, data.len()).ok_or(OutOfGuestMemory {
            addr,
            len: usize_len(data.len()),
        })?;
        self.bytes[range].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(feature = "vm-memory")]
mod vm {
    use super::{usize_len, GuestRam, OutOfGuestMemory};
    use phys::{PhysAddr, PhysSize};
    use vm_memory::{Bytes, GuestAddress, GuestMemory};

    /// Every rust-vmm guest memory (for example `GuestMemoryMmap`) is [`GuestRam`].
    ///
    /// Writes go through `vm-memory`'s `Bytes::write_slice` only after
    /// `GuestMemory::check_range` has accepted the whole range, so a write that would
    /// fall partly outside guest memory writes nothing, as [`GuestRam`] requires.
    impl<T: GuestMemory> GuestRam for T {
        fn contains(&self, addr: PhysAddr, len: PhysSize) -> bool {
            match usize::try_from(len.as_u64()) {
                Ok(0) => true,
                Ok(len) => self.check_range(GuestAddress(addr.as_u64()), len),
                Err(_) => false,
            }
        }

        fn read(&self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), OutOfGuestMemory> {
            let err = OutOfGuestMemory {
                addr,
                len: usize_len(buf.len()),
            };
            if !GuestRam::contains(self, addr, err.len) {
                return Err(err);
            }
            self.read_slice(buf, GuestAddress(addr.as_u64()))
                .map_err(|_| err)
        }

        fn write(&mut self, addr: PhysAddr, data: &[u8]) -> Result<(), OutOfGuestMemory> {
            let err = OutOfGuestMemory {
                addr,
                len: usize_len(data.len()),
            };
            if !GuestRam::contains(self, addr, err.len) {
                return Err(err);
            }
            self.write_slice(data, GuestAddress(addr.as_u64()))
                .map_err(|_| err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_ram_bounds() {
        let mut ram = VecRam::new(16);
        assert!(ram.contains(PhysAddr::new(0), PhysSize::new(16)));
        assert!(!ram.contains(PhysAddr::new(1), PhysSize::new(16)));
        assert!(!ram.contains(PhysAddr::MAX, PhysSize::new(2)));
        assert!(!ram.contains(PhysAddr::new(0), PhysSize::MAX));
        assert!(ram.write(PhysAddr::new(14), &[1, 2, 3]).is_err());
        assert_eq!(ram.as_bytes(), &[0; 16], "a failed write writes nothing");
        ram.write(PhysAddr::new(14), &[1, 2]).unwrap();
        let mut b = [0; 2];
        ram.read(PhysAddr::new(14), &mut b).unwrap();
        assert_eq!(b, [1, 2]);
        assert!(ram.read(PhysAddr::new(u64::MAX), &mut b).is_err());
    }
}
