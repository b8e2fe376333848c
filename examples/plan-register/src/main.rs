//! `plan-register [STRATEGY] [FILE.dtb]`: plan, then register.
//!
//! Plans the per-CPU structures of a machine (a device tree, or a generated two-node
//! pSeries guest), writes every lppaca and SLB shadow at its planned address in rust-vmm
//! guest RAM, and runs the guest's `vpa_init` for every CPU against each hypervisor
//! profile of `numaboot-vpa-hv`. Prints, per profile, how many registrations succeeded
//! and the first refusal: with `packed-vpa` (640-byte lppacas) the pre-4.14 KVM profile
//! refuses every VPA, as those kernels did.

use std::process::ExitCode;

use memblock::Memblock;
use papr::{be, Lppaca, SlbShadow};
use percpu::vpa::{vpa_init, GuestFeatures, GuestLppaca, Paca};
use percpu::{boot, PlanConfig, Strategy};
use phys::PhysSize;
use topology::{synthetic, SyntheticSpec, Topology};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vpa_hv::{Partition, Profile};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plan-register: {e}");
            ExitCode::from(2)
        }
    }
}

type Error = Box<dyn std::error::Error>;

fn machine(path: Option<String>) -> Result<Topology, Error> {
    match path {
        Some(p) => {
            let blob = std::fs::read(&p).map_err(|e| format!("{p}: {e}"))?;
            Ok(topology::topology_from_dtb(&blob).map_err(|e| format!("{p}: {e}"))?)
        }
        None => Ok(synthetic(&SyntheticSpec {
            memory_per_node: PhysSize::new(1 << 30),
            ..SyntheticSpec::default()
        })?),
    }
}

fn run() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let strategy = match args.next() {
        Some(name) => Strategy::from_name(&name).ok_or(format!("unknown strategy `{name}`"))?,
        None => Strategy::Linux61,
    };
    let topo = machine(args.next())?;
    let cfg = PlanConfig::for_topology(&topo, strategy);
    let placement = boot(&mut Memblock::new(), &topo, &cfg)?;

    // What the guest writes before registering: Linux's lppaca, with the size field
    // the strategy advertises, and an initialised SLB shadow.
    let mut lppaca = Lppaca::linux_init();
    lppaca.size = be::U16::new(u16::try_from(strategy.lppaca_size_field())?);
    let features = GuestFeatures {
        splpar: true,
        radix: cfg.radix,
        altivec: true,
        arch_207s: true,
        dtl_mask: 0,
    };
    let ranges = topo
        .memory
        .iter()
        .map(|r| {
            Ok((
                GuestAddress(r.base.as_u64()),
                usize::try_from(r.size.as_u64())?,
            ))
        })
        .collect::<Result<Vec<_>, std::num::TryFromIntError>>()?;
    let hw_ids: Vec<u32> = topo.cpus.iter().map(|c| c.hw_id).collect();

    for profile in Profile::ALL {
        // Fresh RAM per profile; the partition shares it through a clone.
        let ram = GuestMemoryMmap::<()>::from_ranges(&ranges)?;
        let mut hv = Partition::new(profile, ram.clone(), &hw_ids)?;
        let (mut ok, mut first_refusal) = (0, None);
        for cpu in &topo.cpus {
            let Some(paca) = Paca::from_placement(&placement, cpu.logical_id, cpu.hw_id) else {
                continue;
            };
            let Some(lp_addr) = paca.lppaca_ptr else {
                continue; // hypervisor mode: no lppaca
            };
            let mut lp = GuestLppaca::new(&ram, lp_addr)?;
            lp.write(&lppaca);
            if let Some(slb) = paca.slb_shadow_ptr {
                ram.write_slice(
                    SlbShadow::linux_init().as_bytes(),
                    GuestAddress(slb.as_u64()),
                )?;
            }
            let outcome = vpa_init(&mut hv, &paca, &mut lp, &features)?;
            if outcome.vpa.is_success() {
                ok += 1;
            } else if first_refusal.is_none() {
                first_refusal = Some((cpu.logical_id, lp_addr, outcome.vpa));
            }
        }
        print!("{profile:>12}: {ok} of {} VPAs registered", topo.cpus.len());
        match first_refusal {
            Some((cpu, addr, code)) => println!("; first refusal: CPU {cpu} at {addr}: {code}"),
            None => println!(),
        }
    }
    Ok(())
}
