//! Guest memory as the handler sees it: a small trait of its own, so the crate stays
//! `no_std`, with an adaptor for every `vm_memory::GuestMemory` under the `vm-memory`
//! feature (0.18), a wrapper for the previous release under `vm-memory-0-16`, and a
//! plain [`VecRam`] for `no_std` users, tests and the fuzz target.

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
    use vm_memory::{Bytes, GuestAddress, GuestMemory, Permissions};

    /// Every guest memory of rust-vmm's `vm-memory` 0.18 (`GuestMemoryMmap`, any
    /// `GuestMemoryBackend`, an `IommuMemory`) is [`GuestRam`].
    ///
    /// The whole range is checked with `GuestMemory::check_range` (for reading and
    /// writing, as the hypervisor does both to a registered area) before
    /// `Bytes::read_slice`/`write_slice` runs, so an access falling partly outside
    /// guest memory touches nothing, as [`GuestRam`] requires.
    impl<T: GuestMemory + ?Sized> GuestRam for T {
        fn contains(&self, addr: PhysAddr, len: PhysSize) -> bool {
            checked(addr, len, |a, n| {
                self.check_range(a, n, Permissions::ReadWrite)
            })
        }

        fn read(&self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), OutOfGuestMemory> {
            let len = usize_len(buf.len());
            if !checked(addr, len, |a, n| self.check_range(a, n, Permissions::Read)) {
                return Err(OutOfGuestMemory { addr, len });
            }
            self.read_slice(buf, GuestAddress(addr.as_u64()))
                .map_err(|_| OutOfGuestMemory { addr, len })
        }

        fn write(&mut self, addr: PhysAddr, data: &[u8]) -> Result<(), OutOfGuestMemory> {
            let len = usize_len(data.len());
            if !checked(addr, len, |a, n| self.check_range(a, n, Permissions::Write)) {
                return Err(OutOfGuestMemory { addr, len });
            }
            self.write_slice(data, GuestAddress(addr.as_u64()))
                .map_err(|_| OutOfGuestMemory { addr, len })
        }
    }

    /// An empty range is always inside; a length that does not fit in `usize` never is.
    fn checked(
        addr: PhysAddr,
        len: PhysSize,
        check: impl FnOnce(GuestAddress, usize) -> bool,
    ) -> bool {
        match usize::try_from(len.as_u64()) {
            Ok(0) => true,
            Ok(n) => check(GuestAddress(addr.as_u64()), n),
            Err(_) => false,
        }
    }
}

#[cfg(feature = "vm-memory-0-16")]
pub use vm016::VmMemory016;

#[cfg(feature = "vm-memory-0-16")]
mod vm016 {
    use super::{usize_len, GuestRam, OutOfGuestMemory};
    use phys::{PhysAddr, PhysSize};
    use vm_memory_0_16::{Bytes, GuestAddress, GuestMemory};

    /// A guest memory of rust-vmm's previous `vm-memory` release (0.16) as [`GuestRam`].
    ///
    /// A wrapper rather than a blanket impl: Rust refuses two blanket impls over two
    /// foreign traits (one type could implement both), and the current release keeps
    /// the blanket impl. `VmMemory016(mem.clone())` shares the mapping with `mem` for
    /// `GuestMemoryMmap`, whose clones share their regions.
    ///
    /// ```
    /// # #[cfg(feature = "vm-memory-0-16")] {
    /// use vm_memory_0_16::{GuestAddress, GuestMemoryMmap};
    /// use vpa_hv::{Partition, Profile, VmMemory016};
    ///
    /// let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
    /// let hv = Partition::new(Profile::Kvm, VmMemory016(mem), &[0]).unwrap();
    /// # let _ = hv;
    /// # }
    /// ```
    #[derive(Clone, Debug)]
    pub struct VmMemory016<M>(pub M);

    impl<M: GuestMemory> GuestRam for VmMemory016<M> {
        fn contains(&self, addr: PhysAddr, len: PhysSize) -> bool {
            match usize::try_from(len.as_u64()) {
                Ok(0) => true,
                Ok(n) => self.0.check_range(GuestAddress(addr.as_u64()), n),
                Err(_) => false,
            }
        }

        fn read(&self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), OutOfGuestMemory> {
            let len = usize_len(buf.len());
            if !self.contains(addr, len) {
                return Err(OutOfGuestMemory { addr, len });
            }
            self.0
                .read_slice(buf, GuestAddress(addr.as_u64()))
                .map_err(|_| OutOfGuestMemory { addr, len })
        }

        fn write(&mut self, addr: PhysAddr, data: &[u8]) -> Result<(), OutOfGuestMemory> {
            let len = usize_len(data.len());
            if !self.contains(addr, len) {
                return Err(OutOfGuestMemory { addr, len });
            }
            self.0
                .write_slice(data, GuestAddress(addr.as_u64()))
                .map_err(|_| OutOfGuestMemory { addr, len })
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
