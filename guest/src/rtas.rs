//! RTAS services through QEMU's H_RTAS hcall (KVMPPC_H_RTAS, 0xf000).
//!
//! Tokens are QEMU's fixed ones (hw/ppc/spapr_rtas.c, RTAS_TOKEN_BASE 0x2000 + index),
//! as listed in the /rtas node of QEMU's device tree.

use crate::sc::hcall_raw;

const H_RTAS: u64 = 0xf000;
const RTAS_POWER_OFF: u32 = 0x2003;
const RTAS_QUERY_CPU_STOPPED_STATE: u32 = 0x2005;
const RTAS_START_CPU: u32 = 0x2006;
const RTAS_STOP_SELF: u32 = 0x2007;

/// The RTAS argument buffer: token, nargs, nret, then args and rets, all big-endian u32.
#[repr(C, align(16))]
struct RtasArgs([u32; 16]);

fn call(token: u32, args: &[u32], nret: usize) -> [u32; 4] {
    let mut buf = RtasArgs([0; 16]);
    buf.0[0] = token.to_be();
    buf.0[1] = (args.len() as u32).to_be();
    buf.0[2] = (nret as u32).to_be();
    for (i, a) in args.iter().enumerate().take(8) {
        buf.0[3 + i] = a.to_be();
    }
    let mut out = [0u64; 6];
    let addr = &mut buf as *mut RtasArgs as u64;
    hcall_raw(&mut out, H_RTAS, [addr, 0, 0, 0, 0, 0]);
    let mut rets = [0u32; 4];
    let first = 3 + args.len().min(8);
    for (i, r) in rets.iter_mut().enumerate().take(nret.min(4)) {
        // SAFETY: volatile read of a field RTAS wrote into our own buffer.
        *r = u32::from_be(unsafe { core::ptr::read_volatile(&buf.0[first + i]) });
    }
    rets
}

/// Starts `cpu` at `entry` with `r3` in its r3; returns the RTAS status.
pub fn start_cpu(cpu: u64, entry: u64, r3: u64) -> i32 {
    call(RTAS_START_CPU, &[cpu as u32, entry as u32, r3 as u32], 1)[0] as i32
}

/// RTAS query-cpu-stopped-state: `(status, state)`, state 0 = stopped, 2 = running.
pub fn query_cpu_stopped_state(cpu: u64) -> (i32, i32) {
    let r = call(RTAS_QUERY_CPU_STOPPED_STATE, &[cpu as u32], 2);
    (r[0] as i32, r[1] as i32)
}

/// Stops the calling CPU; never returns.
pub fn stop_self() -> ! {
    call(RTAS_STOP_SELF, &[], 1);
    loop {
        core::hint::spin_loop();
    }
}

/// Powers the machine off; QEMU exits.
pub fn power_off() -> ! {
    call(RTAS_POWER_OFF, &[0, 0], 1);
    loop {
        core::hint::spin_loop();
    }
}
