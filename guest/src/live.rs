//! Live `hv replay`: runs `numaboot hv replay` scripts against the real hypervisor.
//!
//! `cargo xtask hv-live`/`hv-diff` boot this guest with an initrd that is not a device
//! tree but a bundle of scripts (format below). The boot CPU (proc-no 0) executes each
//! script with `vpa_hv::script::run`, the very runner `numaboot hv replay` uses, over
//! [`Live`], whose `hcall` is a real `sc 1`, whose memory is the partition's RAM and
//! whose `dispatch`/`preempt` start and stop a real secondary vCPU through RTAS. Every
//! output line is printed as `NB o LINE`, so the host gets exactly what the model run
//! prints. Between scripts it deregisters every DTL, SLB shadow and VPA of every vCPU,
//! stops the secondaries it started and zeroes every byte the script or the hypervisor
//! wrote, so each script starts as a model run does: zeroed memory, nothing registered.
//!
//! Bundle: `NBHVLIVE 1\n`, `cpus N\n`, `mem 0xBYTES\n`, `scripts K\n`, then K times
//! `script LEN\n`, LEN bytes of script text and `\n`.
//!
//! Report lines: `NB live begin ...`, per script `NB s I`, `NB o ...` (output), at most
//! one `NB e line N: ...` (a script error, as the model would report it; a message
//! starting `live:` is something only a live run refuses), `NB d I hcalls=H`, and at
//! the end `NB live end scripts=K hcalls=H`.

use alloc::string::String;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use papr::hcall::{ReturnCode, VpaSubfunction};
use phys::{PhysAddr, PhysSize};
use vpa_hv::script::{self, Output, StateReport};
use vpa_hv::{Area, AreaState, DispatchError, OutOfGuestMemory, Rule};

use crate::rtas;
use crate::sc::hcall_raw;

/// The guest has 16 stacks (guest.ld), indexed by hardware id.
const MAX_CPUS: usize = 16;
const H_REGISTER_VPA: u64 = 0xdc;
/// `lppaca.yield_count` and `__old_status`, the VPA bytes QEMU writes.
const YIELD_COUNT: u64 = 0x100;
const OLD_STATUS: u64 = 9;
/// Timebase ticks per second under QEMU pseries.
const TB_HZ: u64 = 512_000_000;
/// A decrementer this far ahead (about 4 s) never fires during one script, so nothing
/// kicks a vCPU out of QEMU's execution loop behind the script's back.
const DEC_FAR: u64 = 0x7fff_ffff;

extern "C" {
    fn set_dec(ticks: u64);
    fn read_tb() -> u64;
}

fn dec_far() {
    // SAFETY: start.S `set_dec` only moves r3 into the DEC SPR.
    unsafe { set_dec(DEC_FAR) }
}

fn timebase() -> u64 {
    // SAFETY: start.S `read_tb` only reads the timebase SPR into r3.
    unsafe { read_tb() }
}

/// Set by the boot CPU before any secondary starts: secondaries park instead of
/// running the e2e checks.
pub static LIVE: AtomicBool = AtomicBool::new(false);

const IDLE: u32 = 0;
const RUNNING: u32 = 1;
const STOP: u32 = 2;
/// Per hardware id: the parking protocol between the boot CPU and a secondary.
static MAILBOX: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(IDLE) }; MAX_CPUS];

/// A secondary started by `dispatch`: it says it runs, then spins until told to stop,
/// and stops itself through RTAS (QEMU halts it and leaves its execution loop, which
/// is the `preempt`).
pub fn secondary(hw_id: u64) -> ! {
    dec_far();
    let Some(mb) = MAILBOX.get(hw_id as usize) else {
        rtas::stop_self()
    };
    mb.store(RUNNING, Ordering::Release);
    let mut last = timebase();
    while mb.load(Ordering::Acquire) != STOP {
        let now = timebase();
        if now.wrapping_sub(last) > TB_HZ {
            dec_far();
            last = now;
        }
        core::hint::spin_loop();
    }
    rtas::stop_self()
}

/// Most ranges remembered for the reset; beyond that the whole script space is zeroed.
const DIRTY_MAX: usize = 512;

/// What only a live run refuses, or a live run's own failure.
#[derive(Debug)]
pub enum LiveError {
    /// As the model reports it: memory outside RAM.
    Memory(OutOfGuestMemory),
    /// As the model reports it: a dispatch hook out of order.
    Dispatch(DispatchError),
    /// As the model reports it: `state` of an unknown vCPU.
    UnknownProcNo(u32),
    /// The access would touch the live guest's own image, stacks or script bundle.
    Private {
        addr: u64,
        len: u64,
        lo: u64,
        hi: u64,
    },
    /// Proc-no 0 executes the script; it cannot leave the guest.
    PreemptRunner,
    /// A start of a vCPU that has a VPA: its dispatch counter would not be comparable.
    DispatchWithVpa(u32),
    /// An RTAS call failed.
    Rtas {
        what: &'static str,
        cpu: u32,
        rc: i32,
    },
    /// A secondary did not answer in time.
    Timeout { what: &'static str, cpu: u32 },
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory(e) => e.fmt(f),
            Self::Dispatch(e) => e.fmt(f),
            Self::UnknownProcNo(p) => write!(f, "no vCPU has proc-no {p}"),
            Self::Private { addr, len, lo, hi } => write!(
                f,
                "live: {len} bytes at {addr:#x} overlap the live guest's own memory \
                 {lo:#x}..{hi:#x}; scripts must leave it alone"
            ),
            Self::PreemptRunner => write!(
                f,
                "live: proc-no 0 executes the script and is running throughout; it cannot be preempted"
            ),
            Self::DispatchWithVpa(c) => write!(
                f,
                "live: vCPU {c} has a VPA: QEMU's start-cpu enters the vCPU once or enters, \
                 leaves and re-enters it depending on host thread timing, so its dispatch \
                 counter cannot be compared; dispatch it before registering the VPA"
            ),
            Self::Rtas { what, cpu, rc } => write!(f, "live: RTAS {what} of CPU {cpu} returned {rc}"),
            Self::Timeout { what, cpu } => write!(f, "live: CPU {cpu} did not {what} in time"),
        }
    }
}

/// The real partition as a script target.
pub struct Live {
    cpus: u32,
    mem: u64,
    private: (u64, u64),
    /// Per vCPU, VPA/DTL/SLB as the hypervisor accepted them: the address passed and
    /// the length word it read (QEMU offers no way to read its records back).
    areas: [[Option<Area>; 3]; MAX_CPUS],
    running: [bool; MAX_CPUS],
    /// Ranges to zero at the reset, at most [`DIRTY_MAX`] (allocated once, before the
    /// heap mark, and on the heap: the boot CPU has a 16 KiB stack and secondary 1's
    /// stack lies right below it).
    dirty: alloc::vec::Vec<(u64, u64)>,
    overflow: bool,
    /// H_REGISTER_VPA calls of the current script.
    pub hcalls: u64,
}

impl Live {
    fn check(&self, addr: u64, len: u64) -> Result<(), LiveError> {
        let oob = LiveError::Memory(OutOfGuestMemory {
            addr: PhysAddr::new(addr),
            len: PhysSize::new(len),
        });
        match addr.checked_add(len) {
            Some(end) if end <= self.mem => {}
            _ => return Err(oob),
        }
        self.not_private(addr, len)
    }

    fn not_private(&self, addr: u64, len: u64) -> Result<(), LiveError> {
        let (lo, hi) = self.private;
        let end = addr.saturating_add(len);
        if len > 0 && addr < hi && end > lo {
            return Err(LiveError::Private { addr, len, lo, hi });
        }
        Ok(())
    }

    fn dirty(&mut self, addr: u64, len: u64) {
        if self.dirty.len() < DIRTY_MAX {
            self.dirty.push((addr, len));
        } else {
            self.overflow = true;
        }
    }

    fn peek(&self, addr: u64, len: usize) -> u64 {
        let mut v = 0u64;
        for i in 0..len as u64 {
            let Some(a) = addr.checked_add(i) else {
                return 0;
            };
            if a >= self.mem || self.not_private(a, 1).is_err() {
                return 0;
            }
            // SAFETY: real mode, `a` is guest RAM outside the guest's own memory.
            let b = unsafe { core::ptr::read_volatile(a as *const u8) };
            v = (v << 8) | u64::from(b);
        }
        v
    }

    fn yield_count(&self, cpu: usize) -> Option<u32> {
        let vpa = self.areas[cpu][0]?;
        let at = vpa.addr.as_u64().checked_add(YIELD_COUNT)?;
        self.check(at, 4).ok()?;
        Some(self.peek(at, 4) as u32)
    }

    fn query_running(&self, cpu: u32) -> Result<bool, LiveError> {
        let (status, state) = rtas::query_cpu_stopped_state(u64::from(cpu));
        match (status, state) {
            (0, 0) => Ok(false),
            (0, 2) => Ok(true),
            _ => Err(LiveError::Rtas {
                what: "query-cpu-stopped-state",
                cpu,
                rc: if status != 0 { status } else { state },
            }),
        }
    }

    fn stop(&mut self, cpu: u32) -> Result<(), LiveError> {
        let c = cpu as usize;
        let before = self.yield_count(c);
        MAILBOX[c].store(STOP, Ordering::Release);
        let start = timebase();
        while self.query_running(cpu)? {
            if timebase().wrapping_sub(start) > TB_HZ {
                return Err(LiveError::Timeout { what: "stop", cpu });
            }
        }
        // QEMU marks the vCPU halted before its thread leaves the execution loop and
        // bumps the dispatch counter: wait (briefly) for that bump to land.
        if let Some(before) = before {
            let start = timebase();
            while self.yield_count(c) == Some(before) && timebase().wrapping_sub(start) < TB_HZ / 50
            {
                core::hint::spin_loop();
            }
        }
        self.running[c] = false;
        MAILBOX[c].store(IDLE, Ordering::Release);
        Ok(())
    }

    /// Brings the partition back to a model run's start state.
    fn reset(&mut self) -> Result<(), String> {
        for cpu in 0..u64::from(self.cpus) {
            for sub in [
                VpaSubfunction::DeregisterDtl,
                VpaSubfunction::DeregisterSlb,
                VpaSubfunction::DeregisterVpa,
            ] {
                let mut out = [0u64; 6];
                let rc = hcall_raw(&mut out, H_REGISTER_VPA, [sub.to_flags(), cpu, 0, 0, 0, 0]);
                if rc != 0 {
                    return Err(alloc::format!("reset: {sub} of CPU {cpu} returned {rc}"));
                }
            }
        }
        // Nothing is registered any more, so a stop has no counter to wait for.
        self.areas = [[None; 3]; MAX_CPUS];
        for cpu in 1..self.cpus {
            if self.running[cpu as usize] {
                self.stop(cpu).map_err(|e| alloc::format!("reset: {e}"))?;
            }
        }
        if self.overflow {
            self.zero_script_space();
        } else {
            for &(a, n) in &self.dirty {
                zero(a, n);
            }
        }
        self.dirty.clear();
        self.overflow = false;
        self.hcalls = 0;
        Ok(())
    }

    fn zero_script_space(&self) {
        let (lo, hi) = self.private;
        zero(0, lo);
        zero(hi, self.mem - hi);
    }
}

/// Zeroes `[addr, addr + len)`.
fn zero(addr: u64, len: u64) {
    let end = addr + len;
    let mut a = addr;
    while a < end && !a.is_multiple_of(8) {
        // SAFETY: callers pass script-space RAM only (checked when it was dirtied).
        unsafe { core::ptr::write_volatile(a as *mut u8, 0) };
        a += 1;
    }
    while a + 8 <= end {
        // SAFETY: as above; `a` is 8-byte aligned.
        unsafe { core::ptr::write_volatile(a as *mut u64, 0) };
        a += 8;
    }
    while a < end {
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile(a as *mut u8, 0) };
        a += 1;
    }
}

impl script::Target for Live {
    type Error = LiveError;

    fn write(&mut self, addr: PhysAddr, bytes: &[u8]) -> Result<(), LiveError> {
        let (a, n) = (addr.as_u64(), bytes.len() as u64);
        self.check(a, n)?;
        for (i, b) in bytes.iter().enumerate() {
            // SAFETY: checked: guest RAM outside the guest's own memory.
            unsafe { core::ptr::write_volatile((a + i as u64) as *mut u8, *b) };
        }
        self.dirty(a, n);
        Ok(())
    }

    fn read(&mut self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), LiveError> {
        let a = addr.as_u64();
        self.check(a, buf.len() as u64)?;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: checked: guest RAM outside the guest's own memory.
            *b = unsafe { core::ptr::read_volatile((a + i as u64) as *const u8) };
        }
        Ok(())
    }

    fn hcall(
        &mut self,
        flags: u64,
        proc_no: u64,
        addr: u64,
    ) -> Result<(ReturnCode, Option<Rule>), LiveError> {
        let sub = VpaSubfunction::from_flags(flags).ok();
        let registers = sub.is_some_and(|s| s.is_register());
        if registers && addr != 0 {
            // What QEMU may touch: the length word, the status byte, the counter.
            for (off, n) in [(4u64, 6u64), (YIELD_COUNT, 4)] {
                self.not_private(addr.wrapping_add(off), n)?;
            }
        }
        let len = match sub {
            Some(VpaSubfunction::RegisterVpa) => self.peek(addr.wrapping_add(4), 2),
            Some(_) if registers => self.peek(addr.wrapping_add(4), 4),
            _ => 0,
        };
        let mut out = [0u64; 6];
        let rc = ReturnCode::from_raw(hcall_raw(
            &mut out,
            H_REGISTER_VPA,
            [flags, proc_no, addr, 0, 0, 0],
        ));
        self.hcalls += 1;
        let cpu = (proc_no & 0xffff_ffff) as usize;
        if rc.is_success() && cpu < self.cpus as usize {
            let area = Area {
                addr: PhysAddr::new(addr),
                len: PhysSize::new(len),
            };
            match sub {
                Some(VpaSubfunction::RegisterVpa) => {
                    self.areas[cpu][0] = Some(area);
                    self.dirty(addr + OLD_STATUS, 1);
                    self.dirty(addr + YIELD_COUNT, 4);
                }
                Some(VpaSubfunction::RegisterDtl) => self.areas[cpu][1] = Some(area),
                Some(VpaSubfunction::RegisterSlb) => self.areas[cpu][2] = Some(area),
                Some(VpaSubfunction::DeregisterVpa) => self.areas[cpu][0] = None,
                Some(VpaSubfunction::DeregisterDtl) => self.areas[cpu][1] = None,
                Some(VpaSubfunction::DeregisterSlb) => self.areas[cpu][2] = None,
                None => {}
            }
        }
        Ok((rc, None))
    }

    fn dispatch(&mut self, cpu: u32) -> Result<(), LiveError> {
        if cpu >= self.cpus {
            return Err(LiveError::Dispatch(DispatchError::UnknownProcNo(cpu)));
        }
        let c = cpu as usize;
        if cpu == 0 || self.running[c] {
            return Err(LiveError::Dispatch(DispatchError::AlreadyRunning(cpu)));
        }
        if self.areas[c][0].is_some() {
            return Err(LiveError::DispatchWithVpa(cpu));
        }
        MAILBOX[c].store(IDLE, Ordering::Release);
        let rc = rtas::start_cpu(u64::from(cpu), crate::sc::secondary_entry(), u64::from(cpu));
        if rc != 0 {
            return Err(LiveError::Rtas {
                what: "start-cpu",
                cpu,
                rc,
            });
        }
        let start = timebase();
        while MAILBOX[c].load(Ordering::Acquire) != RUNNING {
            if timebase().wrapping_sub(start) > TB_HZ {
                return Err(LiveError::Timeout { what: "start", cpu });
            }
            core::hint::spin_loop();
        }
        self.running[c] = true;
        Ok(())
    }

    fn preempt(&mut self, cpu: u32) -> Result<(), LiveError> {
        if cpu >= self.cpus {
            return Err(LiveError::Dispatch(DispatchError::UnknownProcNo(cpu)));
        }
        if cpu == 0 {
            return Err(LiveError::PreemptRunner);
        }
        if !self.running[cpu as usize] {
            return Err(LiveError::Dispatch(DispatchError::NotRunning(cpu)));
        }
        self.stop(cpu)
    }

    fn state(&mut self, cpu: u32) -> Result<StateReport, LiveError> {
        if cpu >= self.cpus {
            return Err(LiveError::UnknownProcNo(cpu));
        }
        let running = cpu == 0 || self.query_running(cpu)?;
        let c = cpu as usize;
        let st = |a: Option<Area>| AreaState {
            active: a,
            pending: None,
        };
        Ok(StateReport {
            cpu,
            running,
            vpa: st(self.areas[c][0]),
            dtl: st(self.areas[c][1]),
            slb: st(self.areas[c][2]),
            yield_count: self.yield_count(c),
        })
    }
}

/// Output lines go to the console as `NB o LINE`.
struct Console;

impl Output for Console {
    type Error = core::convert::Infallible;
    fn line(&mut self, text: fmt::Arguments<'_>) -> Result<(), Self::Error> {
        let s = alloc::fmt::format(text);
        crate::console::long_line("NB o ", &s);
        Ok(())
    }
}

struct Bundle<'a> {
    cpus: u32,
    mem: u64,
    scripts: u64,
    rest: &'a str,
}

fn header<'a>(text: &mut &'a str, key: &str) -> Result<&'a str, String> {
    let (line, rest) = text
        .split_once('\n')
        .ok_or_else(|| alloc::format!("bundle: missing `{key}`"))?;
    *text = rest;
    line.strip_prefix(key)
        .and_then(|v| v.strip_prefix(' '))
        .ok_or_else(|| alloc::format!("bundle: expected `{key} ...`, found {line:?}"))
}

fn number(s: &str) -> Result<u64, String> {
    phys::parse_u64(s).map_err(|e| alloc::format!("bundle: {s:?}: {e}"))
}

fn parse_bundle(blob: &[u8]) -> Result<Bundle<'_>, String> {
    let mut text = core::str::from_utf8(blob).map_err(|e| alloc::format!("bundle: {e}"))?;
    if header(&mut text, "NBHVLIVE")? != "1" {
        return Err("bundle: unknown version".into());
    }
    let cpus = number(header(&mut text, "cpus")?)?;
    let mem = number(header(&mut text, "mem")?)?;
    let scripts = number(header(&mut text, "scripts")?)?;
    if !(1..=MAX_CPUS as u64).contains(&cpus) {
        return Err(alloc::format!("bundle: cpus {cpus}: 1 to {MAX_CPUS}"));
    }
    Ok(Bundle {
        cpus: cpus as u32,
        mem,
        scripts,
        rest: text,
    })
}

/// Whether the initrd is a script bundle rather than a device tree.
pub fn is_bundle(blob: &[u8]) -> bool {
    blob.starts_with(b"NBHVLIVE ")
}

extern "C" {
    static __image_start: u8;
}

/// Runs every script of the bundle.
pub fn run(blob: &'static [u8]) -> Result<(), String> {
    let b = parse_bundle(blob)?;
    let lo = core::ptr::addr_of!(__image_start) as u64;
    let hi = (blob.as_ptr() as u64 + blob.len() as u64).next_multiple_of(0x1_0000);
    if hi > b.mem {
        return Err(alloc::format!(
            "bundle: mem {:#x} ends below the guest",
            b.mem
        ));
    }
    nb!(
        "live begin cpus={} mem={:#x} private={lo:#x}..{hi:#x} scripts={}",
        b.cpus,
        b.mem,
        b.scripts
    );
    LIVE.store(true, Ordering::Release);
    let mut live = alloc::boxed::Box::new(Live {
        cpus: b.cpus,
        mem: b.mem,
        private: (lo, hi),
        areas: [[None; 3]; MAX_CPUS],
        running: [false; MAX_CPUS],
        dirty: alloc::vec::Vec::with_capacity(DIRTY_MAX),
        overflow: false,
        hcalls: 0,
    });
    // Firmware, its device tree and whatever QEMU loaded lie in script space: zero it
    // all once, as a model run starts from zeroed memory.
    live.zero_script_space();
    let mut rest = b.rest;
    let mut total = 0u64;
    for i in 0..b.scripts {
        let len = number(header(&mut rest, "script")?)? as usize;
        if rest.len() < len || !rest.is_char_boundary(len) {
            return Err(alloc::format!("bundle: script {i} is truncated"));
        }
        let (text, tail) = rest.split_at(len);
        rest = tail.strip_prefix('\n').unwrap_or(tail);
        let mark = crate::heap::mark();
        let t0 = timebase();
        dec_far();
        nb!("s {i}");
        if let Err(e) = script::run(&mut *live, text, &mut Console, false) {
            let msg = alloc::format!("{e}");
            crate::console::long_line("NB e ", &msg);
        }
        let t1 = timebase();
        total += live.hcalls;
        let hcalls = live.hcalls;
        live.reset()?;
        let t2 = timebase();
        nb!(
            "d {i} hcalls={hcalls} run_us={} reset_us={}",
            (t1 - t0) / (TB_HZ / 1_000_000),
            (t2 - t1) / (TB_HZ / 1_000_000)
        );
        // SAFETY: the script's allocations (commands, output strings) are all dropped
        // by now, and secondaries never allocate.
        unsafe { crate::heap::rewind(mark) };
    }
    nb!("live end scripts={} hcalls={total}", b.scripts);
    Ok(())
}
