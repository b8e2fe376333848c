//! Plan, write, register: the per-CPU plan of a two-node pSeries guest, each CPU's
//! lppaca and SLB shadow written at its planned address in rust-vmm guest memory, then
//! registered by the guest-side `vpa_init` on the `numaboot-vpa-hv` KVM model sharing
//! that memory, and each vCPU dispatched once.
//!
//! `cargo run -p numaboot-percpu --features vm-memory --example plan_and_register`

use memblock::Memblock;
use papr::hcall::ReturnCode;
use papr::{Lppaca, SlbShadow};
use percpu::vpa::{vpa_init, GuestFeatures, GuestLppaca, Paca};
use percpu::{boot, PlanConfig, Strategy, StructureKind};
use phys::PhysSize;
use topology::{synthetic, SyntheticSpec};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vpa_hv::{Partition, Profile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let topo = synthetic(&SyntheticSpec {
        memory_per_node: PhysSize::new(512 << 20),
        ..SyntheticSpec::default()
    })?;
    let cfg = PlanConfig::for_topology(&topo, Strategy::Linux61);
    let placement = boot(&mut Memblock::new(), &topo, &cfg)?;

    // Guest RAM as the topology describes it. The partition gets a clone: clones of a
    // GuestMemoryMmap share the mapping, so what the guest side writes through `ram`
    // is what the hypervisor model reads (see `Partition::new`).
    let ranges: Vec<_> = topo
        .memory
        .iter()
        .map(|r| {
            Ok((
                GuestAddress(r.base.as_u64()),
                usize::try_from(r.size.as_u64())?,
            ))
        })
        .collect::<Result<_, std::num::TryFromIntError>>()?;
    let ram = GuestMemoryMmap::<()>::from_ranges(&ranges)?;
    let hw_ids: Vec<u32> = topo.cpus.iter().map(|c| c.hw_id).collect();
    let mut hv = Partition::new(Profile::Kvm, ram.clone(), &hw_ids)?;

    let features = GuestFeatures {
        splpar: true,
        radix: cfg.radix,
        altivec: true,
        arch_207s: true,
        dtl_mask: 0,
    };
    for cpu in &topo.cpus {
        let Some(paca) = Paca::from_placement(&placement, cpu.logical_id, cpu.hw_id) else {
            continue;
        };
        // What Linux's allocators write before vpa_init: initialised lppaca and SLB shadow.
        let lp_addr = placement
            .find(cpu.logical_id, StructureKind::Lppaca)
            .ok_or("no lppaca in the plan")?
            .addr;
        let mut lppaca = GuestLppaca::new(&ram, lp_addr)?;
        lppaca.write(&Lppaca::linux_init());
        if let Some(slb) = paca.slb_shadow_ptr {
            ram.write_slice(
                SlbShadow::linux_init().as_bytes(),
                GuestAddress(slb.as_u64()),
            )?;
        }
        let outcome = vpa_init(&mut hv, &paca, &mut lppaca, &features)?;
        // KVM applies a registration when the vCPU next enters the guest.
        hv.dispatch(cpu.hw_id)?;
        println!(
            "cpu {:3} lppaca {} node {:?}: VPA {}, SLB shadow {}, yield_count {:?}",
            cpu.logical_id,
            lp_addr,
            cpu.node.map(|n| n.get()),
            outcome.vpa,
            outcome.slb_shadow.unwrap_or(ReturnCode::H_SUCCESS),
            hv.yield_count(cpu.hw_id),
        );
        if !outcome.vpa.is_success() {
            return Err(format!("cpu {}: VPA refused", cpu.logical_id).into());
        }
    }
    Ok(())
}
