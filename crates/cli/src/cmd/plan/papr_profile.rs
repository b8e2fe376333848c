//! PAPR per hypervisor profile: `numaboot check --hv-profile kvm|kvm-pre-4.14|qemu`.
//!
//! Instead of restating each hypervisor's rules, the placement is registered, CPU by
//! CPU, on the `vpa-hv` model of that hypervisor ([`vpa_hv::Partition`]) over a sparse
//! copy of the machine's memory: the guest writes the lppaca's `size` field (the value
//! the strategy advertises, [`percpu::Strategy::lppaca_size_field`]) and the SLB
//! shadow's length word as Linux does, then issues `H_REGISTER_VPA` for the VPA and,
//! under hash, the SLB shadow, in `vpa_init`'s order. Every call the model refuses is a
//! problem naming the CPU, the area, the return code and the rule
//! ([`vpa_hv::Rule`]): a 640-byte lppaca on `kvm-pre-4.14` is refused because its size
//! field is below 1024 ([`vpa_hv::Profile::vpa_min_size`]); KVM's page-crossing rule
//! uses the 64 KiB host page of the usual ppc64le hosts ([`vpa_hv::HostPageSize`]).

use std::collections::BTreeMap;

use papr::hcall::VpaSubfunction;
use percpu::{Placement, PlanConfig, StructureKind};
use phys::{PhysAddr, PhysSize};
use vpa_hv::{GuestRam, OutOfGuestMemory, Partition, Profile};

use super::super::machine::Machine;

/// Guest memory that holds only the bytes written to it, over the machine's memory
/// ranges (terabytes of memory cost nothing).
struct SparseRam {
    /// `(base, end)` of each memory range, ascending.
    ranges: Vec<(u64, u64)>,
    bytes: BTreeMap<u64, u8>,
}

impl SparseRam {
    fn new(m: &Machine) -> Self {
        let mut ranges: Vec<(u64, u64)> = m
            .topo
            .memory
            .iter()
            .map(|r| {
                let b = r.base.as_u64();
                (b, b.saturating_add(r.size.as_u64()))
            })
            .collect();
        ranges.sort_unstable();
        Self {
            ranges,
            bytes: BTreeMap::new(),
        }
    }
}

impl GuestRam for SparseRam {
    fn contains(&self, addr: PhysAddr, len: PhysSize) -> bool {
        let Some(end) = addr.as_u64().checked_add(len.as_u64()) else {
            return false;
        };
        // Adjacent ranges (two nodes' memory back to back) form one guest range.
        let mut at = addr.as_u64();
        for &(b, e) in &self.ranges {
            if b <= at && at < e {
                at = e;
            }
            if at >= end {
                return true;
            }
        }
        at >= end && len.as_u64() == 0
    }

    fn read(&self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), OutOfGuestMemory> {
        let len = PhysSize::new(buf.len() as u64);
        if !self.contains(addr, len) {
            return Err(OutOfGuestMemory { addr, len });
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self
                .bytes
                .get(&(addr.as_u64() + i as u64))
                .copied()
                .unwrap_or(0);
        }
        Ok(())
    }

    fn write(&mut self, addr: PhysAddr, data: &[u8]) -> Result<(), OutOfGuestMemory> {
        let len = PhysSize::new(data.len() as u64);
        if !self.contains(addr, len) {
            return Err(OutOfGuestMemory { addr, len });
        }
        for (i, b) in data.iter().enumerate() {
            self.bytes.insert(addr.as_u64() + i as u64, *b);
        }
        Ok(())
    }
}

/// Registers every possible CPU's VPA (and, under hash, SLB shadow) on `profile`'s
/// model and returns one sentence per refused call. A possible CPU that is not present
/// has no hardware id in the tree: it is registered under an id above every present
/// one, as a hot-added CPU would get.
pub fn check_profile(
    m: &Machine,
    cfg: &PlanConfig,
    p: &Placement,
    profile: Profile,
) -> Vec<String> {
    let mut out = Vec::new();
    let cpus: Vec<u32> = cfg.possible_cpus().collect();
    let next_id = m
        .topo
        .cpus
        .iter()
        .map(|c| c.hw_id)
        .max()
        .map_or(0, |h| h + 1);
    let hw = |cpu: u32| match m.topo.cpus.get(cpu as usize) {
        Some(c) => c.hw_id,
        None => next_id.saturating_add(cpu),
    };
    let ids: Vec<u32> = cpus.iter().map(|&c| hw(c)).collect();
    let mut hv = match Partition::new(profile, SparseRam::new(m), &ids) {
        Ok(hv) => hv,
        Err(e) => {
            out.push(format!("{profile}: cannot model the partition: {e}"));
            return out;
        }
    };
    let size_field = cfg.strategy.lppaca_size_field();
    for &cpu in &cpus {
        let proc_no = u64::from(hw(cpu));
        let Some(lp) = p.find(cpu, StructureKind::Lppaca) else {
            continue;
        };
        // init_lppaca: the be16 size at offset 4. Outside memory the write is dropped
        // and the model refuses the area by its own rule.
        let field = u16::try_from(size_field).unwrap_or(u16::MAX);
        let _ = hv.memory_mut().write(
            lp.addr.saturating_add(PhysSize::new(4)),
            &field.to_be_bytes(),
        );
        let flags = VpaSubfunction::RegisterVpa.to_flags();
        let v = hv.h_register_vpa_explained(flags, proc_no, lp.addr.as_u64());
        if !v.code.is_success() {
            out.push(format!(
                "CPU {cpu} lppaca at {}: {profile} refuses H_REGISTER_VPA with {}: {} \
                 (size field {size_field}, {profile} minimum {})",
                lp.addr,
                v.code,
                v.rule,
                profile.vpa_min_size()
            ));
            continue;
        }
        let Some(slb) = p.find(cpu, StructureKind::SlbShadow) else {
            continue;
        };
        if cfg.radix {
            continue;
        }
        // new_slb_shadow: buffer_length, be32 at offset 4.
        let len = papr::SLB_SHADOW_SIZE as u32;
        let _ = hv.memory_mut().write(
            slb.addr.saturating_add(PhysSize::new(4)),
            &len.to_be_bytes(),
        );
        let flags = VpaSubfunction::RegisterSlb.to_flags();
        let v = hv.h_register_vpa_explained(flags, proc_no, slb.addr.as_u64());
        if !v.code.is_success() {
            out.push(format!(
                "CPU {cpu} slb_shadow at {}: {profile} refuses H_REGISTER_VPA with {}: {}",
                slb.addr, v.code, v.rule
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::machine::{config, load, plan, MachineArgs};
    use super::*;
    use percpu::Strategy;

    #[test]
    fn the_models_judge_a_moved_lppaca_by_their_own_page() {
        let args = MachineArgs::default();
        let m = load(&args).unwrap();
        let cfg = config(&m, &args, Strategy::PackedVpa).unwrap();
        let (mut p, _) = plan(&m, &cfg, percpu::CallLog::Keep).unwrap();
        for profile in Profile::ALL {
            let ok = profile != Profile::KvmPre414;
            assert_eq!(check_profile(&m, &cfg, &p, profile).is_empty(), ok);
        }
        // CPU 5's lppaca moved to end 128 bytes into the next 4 KiB page: QEMU refuses
        // it (4 KiB rule), KVM with 64 KiB host pages takes it.
        let i = p
            .allocations
            .iter()
            .position(|a| a.cpu == Some(5) && a.kind == StructureKind::Lppaca)
            .unwrap();
        p.allocations[i].addr = PhysAddr::new(0x1000_0e00);
        let qemu = check_profile(&m, &cfg, &p, Profile::Qemu);
        assert_eq!(qemu.len(), 1, "{qemu:?}");
        assert!(
            qemu[0].starts_with("CPU 5 lppaca at 0x10000e00: qemu refuses"),
            "{qemu:?}"
        );
        assert!(qemu[0].contains("crosses a page boundary"), "{qemu:?}");
        assert!(check_profile(&m, &cfg, &p, Profile::Kvm).is_empty());
        // Below the cache line: both refuse.
        p.allocations[i].addr = PhysAddr::new(0x1000_0040);
        for profile in [Profile::Qemu, Profile::Kvm] {
            let v = check_profile(&m, &cfg, &p, profile);
            assert!(
                v.len() == 1 && v[0].contains("not cache-line"),
                "{profile}: {v:?}"
            );
        }
        // Real mode: rma-split's lppacas are exempt, its pacas are not; the emergency
        // stacks are real-mode structures for every strategy.
        assert!(!Strategy::RmaSplit.keeps_in_real_mode(StructureKind::Lppaca));
        assert!(cfg.strategy.keeps_in_real_mode(StructureKind::Lppaca));
        assert!(Strategy::RmaSplit.keeps_in_real_mode(StructureKind::Paca));
        assert!(Strategy::Linux61.keeps_in_real_mode(StructureKind::McEmergencyStack));
        assert!(!Strategy::Linux61.keeps_in_real_mode(StructureKind::SoftirqStack));
    }
}
