//! `tiny-vmm [PROFILE]`: the hcall side of a small VMM.
//!
//! A real VMM gets `KVM_EXIT_PAPR_HCALL` (or decodes `sc 1` under emulation) with the
//! opcode in r3 and the arguments in r4..r12. This one plays back the exits a 4-vCPU
//! Linux guest makes while bringing up its CPUs: each vCPU writes its lppaca (Linux's
//! initial contents, whose `size` field the hypervisor reads) into guest RAM, then
//! issues H_REGISTER_VPA; the VMM hands every exit to `vpa_hv::Partition`, whose
//! `Hypervisor::hcall` applies the chosen hypervisor's rules, and puts the return code
//! back in r3. Then it runs each vCPU once (dispatch, preempt) and reads the dispatch
//! counter the hypervisor keeps in each VPA.

use std::process::ExitCode;

use papr::hcall::{Hypervisor, Opcode, VpaSubfunction};
use papr::Lppaca;
use phys::PhysAddr;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vpa_hv::{Partition, Profile};

/// One vCPU's hcall exit: who, and the registers.
struct Exit {
    vcpu: u32,
    r3: u64,
    args: [u64; 3],
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tiny-vmm: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let profile: Profile = match std::env::args().nth(1) {
        Some(name) => name.parse().map_err(|e| format!("`{name}`: {e}"))?,
        None => Profile::Kvm,
    };
    // 64 MiB of guest RAM. The partition gets a clone: GuestMemoryMmap clones share
    // the mapping, so the vCPU side (`ram`) and the hypervisor model see the same bytes.
    let ram = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 64 << 20)])?;
    let vcpus = [0u32, 1, 2, 3];
    let mut hv = Partition::new(profile, ram.clone(), &vcpus)?;

    // The guest: one 1 KiB-aligned lppaca per CPU in one page, as Linux 6.1 allocates
    // them, then an H_REGISTER_VPA exit per CPU.
    let lppaca_base = 0x20_0000u64;
    let mut exits = Vec::new();
    for &cpu in &vcpus {
        let addr = lppaca_base + u64::from(cpu) * papr::LPPACA_ALLOC_SIZE;
        ram.write_slice(Lppaca::linux_init().as_bytes(), GuestAddress(addr))?;
        exits.push(Exit {
            vcpu: cpu,
            r3: Opcode::H_REGISTER_VPA.0,
            args: [VpaSubfunction::RegisterVpa.to_flags(), u64::from(cpu), addr],
        });
    }
    // A buggy guest: a misaligned VPA for vCPU 3, which every profile refuses.
    exits.push(Exit {
        vcpu: 3,
        r3: Opcode::H_REGISTER_VPA.0,
        args: [VpaSubfunction::RegisterVpa.to_flags(), 3, lppaca_base + 8],
    });

    for exit in &exits {
        // The exit handler: the vCPU is out of the guest while its hcall is served.
        hv.set_caller(Some(exit.vcpu));
        let ret = hv.hcall(Opcode(exit.r3), &exit.args);
        println!(
            "vCPU {} {} {:#x} {} {:#x} -> r3 = {}",
            exit.vcpu,
            Opcode(exit.r3),
            exit.args[0],
            exit.args[1],
            exit.args[2],
            ret.ret
        );
    }
    for &cpu in &vcpus {
        hv.dispatch(cpu)?;
        hv.preempt(cpu)?;
        let vpa = hv
            .vcpu(cpu)
            .and_then(|v| v.area(vpa_hv::AreaKind::Vpa).active)
            .map(|a| a.addr);
        println!(
            "vCPU {cpu}: VPA {} yield_count {:?}",
            vpa.map_or("none".to_string(), |a: PhysAddr| a.to_string()),
            hv.yield_count(cpu)
        );
    }
    Ok(())
}
