//! The numaboot end-to-end guest: a bare-metal ppc64le pSeries program that QEMU boots.
//!
//! It runs the same crates as the planner, inside a real partition: `topology` parses the
//! device tree QEMU built for this machine (handed over as the initrd), `percpu` plans
//! every CPU's paca, lppaca, SLB shadow and stacks through `memblock` exactly as Linux 6.1
//! does (or, with `numaboot.strategy=NAME` on the command line, as one of `percpu`'s
//! strategies beyond Linux does), and the guest then writes the lppacas (with the size
//! field the strategy advertises) and SLB shadows at the planned addresses and registers
//! VPA, SLB shadow and DTL for every CPU with real `sc 1` hcalls, in Linux's order
//! (`percpu::vpa_init`). Secondaries, started through RTAS, check their own VPA.
//! Then come the negative cases and the kexec shutdown path (`percpu::kexec_cpu_down`).
//!
//! Booted with a script bundle instead of a device tree, it runs `hv replay` scripts
//! against the real hypervisor instead (`live`, for `cargo xtask hv-diff`).
//!
//! Everything that matters is printed as one `NB ` line; `cargo xtask e2e` checks the
//! lines against QEMU's configuration and replays every hcall on the `vpa-hv` model.
//! The guest runs in real mode (MMU off, hash partition): addresses are guest physical,
//! and only memory below the RMA may be touched.
#![no_std]
#![no_builtins]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

#[macro_use]
mod console;
mod heap;
mod hv;
mod live;
mod lppaca;
mod mem;
mod paca;
mod realmem;
mod rtas;
mod run;
mod sc;

#[global_allocator]
static GLOBAL: heap::Bump = heap::Bump;

/// Entry point of the boot CPU, called by start.S with firmware's r3/r4: the initrd's
/// address and size. The initrd is the flattened device tree `cargo xtask e2e` passes,
/// or the script bundle of `cargo xtask hv-live`/`hv-diff` (see `live`).
#[no_mangle]
pub extern "C" fn guest_main(initrd: u64, initrd_size: u64) -> ! {
    nb!("begin initrd={initrd:#x} size={initrd_size:#x}");
    let blob: &'static [u8] = if initrd == 0 {
        &[]
    } else {
        // SAFETY: firmware loaded the initrd there, below the RMA, and nothing writes
        // it; it is only read.
        unsafe { core::slice::from_raw_parts(initrd as *const u8, initrd_size as usize) }
    };
    let result = if live::is_bundle(blob) {
        live::run(blob)
    } else {
        run::boot_cpu(initrd, initrd_size)
    };
    match result {
        Ok(()) => nb!("end"),
        Err(e) => nb!("error {e}"),
    }
    rtas::power_off()
}

/// Entry point of each secondary CPU (start.S `_secondary`, r3 = its hardware id).
#[no_mangle]
pub extern "C" fn secondary_main(hw_id: u64) -> ! {
    if live::LIVE.load(core::sync::atomic::Ordering::Acquire) {
        live::secondary(hw_id);
    }
    run::secondary(hw_id);
    rtas::stop_self()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    nb!("panic {info}");
    rtas::power_off()
}
