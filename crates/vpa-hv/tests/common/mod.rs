//! Helpers shared by the integration tests: a guest that writes its areas' size
//! fields, and readers for what the hypervisor wrote.
#![allow(dead_code)]

use papr::hcall::VpaSubfunction;
use phys::PhysAddr;
use vpa_hv::{GuestRam, HostPageSize, Partition, Profile, VecRam};

/// Guest memory used by most tests: 1 MiB, so "outside guest memory" is 0x10_0000.
pub const MEM: u64 = 1 << 20;

pub const REG_VPA: u64 = VpaSubfunction::RegisterVpa.to_flags();
pub const REG_DTL: u64 = VpaSubfunction::RegisterDtl.to_flags();
pub const REG_SLB: u64 = VpaSubfunction::RegisterSlb.to_flags();
pub const DEREG_VPA: u64 = VpaSubfunction::DeregisterVpa.to_flags();
pub const DEREG_DTL: u64 = VpaSubfunction::DeregisterDtl.to_flags();
pub const DEREG_SLB: u64 = VpaSubfunction::DeregisterSlb.to_flags();

pub fn partition(profile: Profile, cpus: u32) -> Partition<VecRam> {
    let ids: Vec<u32> = (0..cpus).collect();
    Partition::new(profile, VecRam::new(MEM as usize), &ids).unwrap()
}

pub fn partition_with_page(profile: Profile, page: HostPageSize) -> Partition<VecRam> {
    let mut hv = partition(profile, 2);
    hv.set_host_page_size(page);
    hv
}

/// The VPA size field: be16 at offset 4.
pub fn set_vpa_size<M: GuestRam>(hv: &mut Partition<M>, addr: u64, size: u16) {
    hv.memory_mut()
        .write(PhysAddr::new(addr + 4), &size.to_be_bytes())
        .unwrap();
}

/// The DTL / SLB shadow length: be32 at offset 4.
pub fn set_buf_len<M: GuestRam>(hv: &mut Partition<M>, addr: u64, len: u32) {
    hv.memory_mut()
        .write(PhysAddr::new(addr + 4), &len.to_be_bytes())
        .unwrap();
}

pub fn read_u8<M: GuestRam>(hv: &Partition<M>, addr: u64) -> u8 {
    let mut b = [0u8; 1];
    hv.memory().read(PhysAddr::new(addr), &mut b).unwrap();
    b[0]
}

pub fn read_be32<M: GuestRam>(hv: &Partition<M>, addr: u64) -> u32 {
    let mut b = [0u8; 4];
    hv.memory().read(PhysAddr::new(addr), &mut b).unwrap();
    u32::from_be_bytes(b)
}

pub fn read_be64<M: GuestRam>(hv: &Partition<M>, addr: u64) -> u64 {
    let mut b = [0u8; 8];
    hv.memory().read(PhysAddr::new(addr), &mut b).unwrap();
    u64::from_be_bytes(b)
}

/// The VPA's yield_count read straight from guest memory (works after deregistration).
pub fn yield_at<M: GuestRam>(hv: &Partition<M>, vpa: u64) -> u32 {
    read_be32(hv, vpa + 0x100)
}
