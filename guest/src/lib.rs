//! The numaboot end-to-end guest: a bare-metal ppc64le pSeries program that QEMU boots.
//!
//! It talks to the hypervisor only through hcalls (`sc 1`): the console is
//! H_PUT_TERM_CHAR, RTAS services (power-off, start-cpu) go through QEMU's H_RTAS, and
//! the VPA contract is exercised with H_REGISTER_VPA. Every hcall whose result matters is
//! printed as one `NB ` line, so that `cargo xtask e2e` can replay the same calls against
//! the `vpa-hv` model and compare return codes.
//!
//! Runs in real mode (MMU off): addresses are guest physical addresses.
#![no_std]
#![no_builtins]
#![deny(unsafe_op_in_unsafe_fn)]

#[macro_use]
mod console;
mod hv;
mod mem;
mod rtas;

use core::sync::atomic::{AtomicU32, Ordering};

use papr::hcall::{Hypervisor, Opcode, ReturnCode, VpaSubfunction};
use papr::Lppaca;

use crate::hv::SystemHypervisor;

/// Hardware ids of secondaries that finished their checks.
static SECONDARIES_DONE: AtomicU32 = AtomicU32::new(0);

/// Per-CPU VPAs used until the percpu planner drives placement (1 KiB each, 1 KiB aligned,
/// as Linux allocates them).
#[repr(C, align(4096))]
struct VpaArea([u8; 16 * 1024]);

static mut VPAS: VpaArea = VpaArea([0; 16 * 1024]);
/// A 4 KiB page used for the negative placement cases (crossing, misaligned, small size).
static mut SCRATCH: VpaArea = VpaArea([0; 16 * 1024]);

/// Maximum CPUs the guest handles (its stack area has 16 stacks).
const MAX_CPUS: u64 = 16;

fn vpa_addr(cpu: u64) -> u64 {
    // Only the address is taken; no reference to the mutable static is created.
    let base = core::ptr::addr_of_mut!(VPAS) as u64;
    base + cpu * 0x400
}

fn scratch_addr() -> u64 {
    core::ptr::addr_of_mut!(SCRATCH) as u64
}

/// Writes Linux's initial lppaca image at `addr` with `size` advertised.
fn write_lppaca(addr: u64, size: u16) {
    let mut lp = Lppaca::linux_init();
    lp.size.set(size);
    let bytes = zerocopy::IntoBytes::as_bytes(&lp);
    // SAFETY: `addr` points into one of this guest's static buffers (VPAS or SCRATCH) with
    // at least 640 bytes left, and no Rust reference to those buffers is alive.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
}

/// Performs one H_REGISTER_VPA and prints it as a report line.
fn case(hv: &mut SystemHypervisor, name: &str, sub: VpaSubfunction, proc_no: u64, addr: u64) -> ReturnCode {
    let rc = hv.register_vpa(sub, proc_no, addr);
    let size = if addr != 0 && addr < 0x4000_0000 {
        // SAFETY: real-mode physical address inside guest RAM; reading 2 bytes.
        let p = addr as *const u8;
        unsafe { u16::from_be_bytes([p.add(4).read_volatile(), p.add(5).read_volatile()]) }
    } else {
        0
    };
    nb!("hcall name={name} sub={} proc={proc_no} addr={addr:#x} size={size:#x} rc={}",
        sub.code(),
        rc.raw()
    );
    rc
}

/// Entry point of the boot CPU, called by start.S with firmware's r3/r4.
#[no_mangle]
pub extern "C" fn guest_main(r3: u64, r4: u64) -> ! {
    let mut hv = SystemHypervisor;
    nb!("begin r3={r3:#x} r4={r4:#x}");

    // Count CPUs by asking RTAS which ids exist (query-cpu-stopped-state fails with -3 for
    // an id that does not exist). The boot CPU is hw id 0 on QEMU pseries.
    let mut ncpus = 1;
    while ncpus < MAX_CPUS && rtas::query_cpu_stopped_state(ncpus).is_ok() {
        ncpus += 1;
    }
    nb!("cpus {ncpus}");

    // Positive path: every CPU's VPA registered by the boot CPU, as the hypervisor allows.
    for cpu in 0..ncpus {
        write_lppaca(vpa_addr(cpu), 0x400);
        case(&mut hv, "register", VpaSubfunction::RegisterVpa, cpu, vpa_addr(cpu));
    }

    // Negative cases on CPU 0's VPA state after deregistering it.
    case(&mut hv, "dereg", VpaSubfunction::DeregisterVpa, 0, 0);
    let s = scratch_addr();
    write_lppaca(s, 0x100);
    case(&mut hv, "size_below_640", VpaSubfunction::RegisterVpa, 0, s);
    write_lppaca(s + 3072, 1280);
    case(&mut hv, "crosses_4k", VpaSubfunction::RegisterVpa, 0, s + 3072);
    write_lppaca(s + 3584, 640);
    case(&mut hv, "crosses_4k_128", VpaSubfunction::RegisterVpa, 0, s + 3584);
    write_lppaca(s + 8, 640);
    case(&mut hv, "misaligned", VpaSubfunction::RegisterVpa, 0, s + 8);
    write_lppaca(s + 128, 640);
    case(&mut hv, "unknown_cpu", VpaSubfunction::RegisterVpa, 99, s + 128);
    case(&mut hv, "address_zero", VpaSubfunction::RegisterVpa, 0, 0);
    case(&mut hv, "cacheline_aligned", VpaSubfunction::RegisterVpa, 0, s + 128);
    write_lppaca(vpa_addr(0), 0x400);
    case(&mut hv, "reregister", VpaSubfunction::RegisterVpa, 0, vpa_addr(0));

    // Secondaries check their own VPA and home node.
    for cpu in 1..ncpus {
        let rc = rtas::start_cpu(cpu, hv::secondary_entry(), cpu);
        nb!("start-cpu {cpu} rc={rc}");
    }
    let mut spins: u64 = 0;
    while u64::from(SECONDARIES_DONE.load(Ordering::Acquire)) + 1 < ncpus && spins < 200_000_000 {
        spins += 1;
        core::hint::spin_loop();
    }
    let done = SECONDARIES_DONE.load(Ordering::Acquire);
    nb!("secondaries-done {done}");
    nb!("end");
    rtas::power_off()
}

/// Entry point of each secondary CPU (start.S `_secondary`, r3 = hw id).
#[no_mangle]
pub extern "C" fn secondary_main(cpu: u64) -> ! {
    let mut hv = SystemHypervisor;
    let addr = vpa_addr(cpu);
    // SAFETY: the boot CPU wrote and registered this CPU's VPA before starting it; byte 9 is
    // __old_status, written by the hypervisor, read here volatile.
    let status = unsafe { ((addr + 9) as *const u8).read_volatile() };
    let yc_at = addr + core::mem::offset_of!(Lppaca, yield_count) as u64;
    // SAFETY: yield_count is a be32 inside this CPU's registered VPA, written by the
    // hypervisor, so it is read volatile.
    let yc = unsafe {
        let p = yc_at as *const u8;
        u32::from_be_bytes([
            p.read_volatile(),
            p.add(1).read_volatile(),
            p.add(2).read_volatile(),
            p.add(3).read_volatile(),
        ])
    };
    let home = hv.hcall(Opcode::H_HOME_NODE_ASSOCIATIVITY, &[1, cpu]);
    nb!("cpu {cpu} status={status:#x} yield={yc} home_rc={} home={:#x},{:#x}",
        home.ret.raw(),
        home.out[0],
        home.out[1]
    );
    SECONDARIES_DONE.fetch_add(1, Ordering::Release);
    rtas::stop_self()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    nb!("panic {info}");
    rtas::power_off()
}
