//! What the boot CPU and the secondaries do.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use memblock::{AllocLimit, Memblock};
use papr::hcall::{Hypervisor, Opcode, VpaSubfunction};
use papr::{Lppaca, SlbShadow};
use percpu::vpa::{kexec_cpu_down, vpa_init, CrashPolicy, GuestFeatures, Paca};
use percpu::{boot, PlanConfig, Strategy, StructureKind};
use phys::{PhysAddr, PhysSize};

use crate::hv::SystemHypervisor;
use crate::lppaca::LiveLppaca;
use crate::paca::MAX_CPUS;
use crate::realmem::poke;
use crate::rtas;

/// Linux's `DISPATCH_LOG_BYTES`: one DTL buffer per CPU.
const DTL_BYTES: u64 = 4096;
/// `DTL_LOG_PREEMPT | DTL_LOG_CEDE` style mask; any nonzero value enables the DTL.
const DTL_MASK: u8 = 0x2;

/// Per hardware id: the lppaca address the boot CPU registered (0: none).
static LPPACA_OF: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// Secondaries that finished their checks.
static SECONDARIES_DONE: AtomicU32 = AtomicU32::new(0);
/// Below this address the guest may read (the RMA limit), for secondaries.
static READABLE_BELOW: AtomicU64 = AtomicU64::new(0);

/// A static scratch page set for the negative placement cases (never registered long).
#[repr(C, align(4096))]
struct Scratch([u8; 8192]);
static mut SCRATCH: Scratch = Scratch([0; 8192]);
/// Where `numaboot.break=lppaca-cross` puts the last CPU's lppaca instead of its planned
/// place: a page set of its own, because the negative cases rewrite `SCRATCH`.
static mut CROSSING: Scratch = Scratch([0; 8192]);
/// The offset in `CROSSING` of that lppaca: cache-line aligned, so that only PAPR's
/// 4 KiB rule is broken (3200 + 640 or 1024 bytes run past 4096).
const CROSSING_OFFSET: u64 = 0xc80;

fn write_lppaca(addr: u64, size: u16) {
    let mut lp = Lppaca::linux_init();
    lp.size.set(size);
    // SAFETY: addr is a planned lppaca (at least its 640 bytes reserved in memblock,
    // below the RMA) or the scratch page.
    unsafe { poke(addr, zerocopy::IntoBytes::as_bytes(&lp)) };
}

/// The strategy named by `numaboot.strategy=NAME` on the command line (default: Linux
/// 6.1's).
fn strategy_of(args: &str) -> Result<Strategy, String> {
    match args
        .split_whitespace()
        .find_map(|a| a.strip_prefix("numaboot.strategy="))
    {
        None => Ok(Strategy::Linux61),
        Some(name) => Strategy::from_name(name).ok_or(alloc::format!("unknown strategy `{name}`")),
    }
}

fn bootargs(blob: &[u8]) -> String {
    fdt::Fdt::new(blob)
        .ok()
        .and_then(|f| f.chosen().bootargs().map(String::from))
        .unwrap_or_default()
}

/// What the boot CPU read from the device tree and the command line.
struct Machine {
    topo: topology::Topology,
    strategy: Strategy,
    /// `numaboot.break=lppaca-size`: advertise 0x100 bytes.
    broken_lppaca: bool,
    /// `numaboot.break=lppaca-cross`: the last CPU's lppaca moved across a 4 KiB
    /// boundary, and reported there: a guest whose report and memory agree on a wrong
    /// placement, for the host's checks to catch.
    crossing_lppaca: bool,
}

/// A CPU's structures as planned (and, for its lppaca, possibly moved by
/// `numaboot.break=lppaca-cross`), with its DTL buffer.
struct CpuSetup {
    paca: Paca,
    /// Where its paca was planned: the guest writes its [`crate::paca::GuestPaca`] there.
    paca_at: u64,
}

/// The boot CPU's whole run.
pub fn boot_cpu(initrd: u64, initrd_size: u64) -> Result<(), String> {
    let machine = read_machine(initrd, initrd_size)?;
    let topo = &machine.topo;

    // Linux reserves its image from 0; the guest's image, heap, stacks and the device
    // tree right after it all lie below the end of the initrd.
    let mut cfg = PlanConfig::for_topology(topo, machine.strategy);
    cfg.nr_cpu_ids = topo.cpus.len() as u32;
    let image_end = (initrd + initrd_size).next_multiple_of(0x1_0000);
    cfg.kernel = percpu::early::KernelImage::ending_at(PhysAddr::new(image_end));
    let limit = topo.rma_limit().as_u64();
    READABLE_BELOW.store(limit, Ordering::Relaxed);
    let mut mb = Memblock::new();
    let placement = boot(&mut mb, topo, &cfg).map_err(|e| format!("plan: {e}"))?;
    nb!(
        "plan strategy={} paca_limit={} allocations={} heap={}",
        machine.strategy.name(),
        placement.paca_limit,
        placement.allocations.len(),
        crate::heap::used()
    );

    let mut hv = SystemHypervisor {
        case: "init",
        readable_below: limit,
        vpa_calls: 0,
    };
    let features = GuestFeatures {
        splpar: true,
        radix: false,
        altivec: true,
        arch_207s: true,
        dtl_mask: DTL_MASK,
    };
    let mut cpus = Vec::new();
    for cpu in &topo.cpus {
        cpus.push(set_up_cpu(&machine, &placement, &mut mb, limit, cpu)?);
    }
    register_all(&mut hv, &cpus, &features)?;
    let pacas: Vec<Paca> = cpus.into_iter().map(|c| c.paca).collect();
    negative_cases(&mut hv, &pacas, &features)?;
    run_secondaries(topo, cfg.boot_cpu);
    crash_shutdown(&mut hv, &pacas, &features)?;
    kexec_shutdown(&mut hv, &pacas, &features)?;
    Ok(())
}

/// The device tree (the initrd), its topology and the `numaboot.*` words of its
/// command line; prints the `topology` and `memory` lines.
fn read_machine(initrd: u64, initrd_size: u64) -> Result<Machine, String> {
    if initrd == 0 || initrd_size == 0 {
        return Err("no device tree: boot with -initrd machine.dtb".into());
    }
    // SAFETY: firmware loaded the initrd (our device tree) there, below the RMA; it is
    // only read.
    let blob = unsafe { core::slice::from_raw_parts(initrd as *const u8, initrd_size as usize) };
    let args = bootargs(blob);
    let has = |word: &str| args.split_whitespace().any(|a| a == word);
    let broken_lppaca = has("numaboot.break=lppaca-size");
    let crossing_lppaca = has("numaboot.break=lppaca-cross");
    let strategy = strategy_of(&args)?;
    let topo = topology::topology_from_dtb(blob).map_err(|e| format!("device tree: {e}"))?;
    nb!(
        "topology cpus={} nodes={} memory_ranges={} rma={:#x} bootargs=\"{args}\"",
        topo.cpus.len(),
        topo.nodes.len(),
        topo.memory.len(),
        topo.rma_size.as_u64()
    );
    if let Some(c) = topo.cpus.iter().find(|c| c.hw_id as usize >= MAX_CPUS) {
        // start.S indexes the secondaries' stacks by hardware id.
        return Err(format!(
            "CPU {} has hardware id {}; the guest has stacks for ids below {MAX_CPUS}",
            c.logical_id, c.hw_id
        ));
    }
    if topo.cpus.len() > MAX_CPUS {
        return Err(format!(
            "{} CPUs; the guest drives at most {MAX_CPUS}",
            topo.cpus.len()
        ));
    }
    for r in &topo.memory {
        nb!(
            "memory base={:#x} size={:#x} node={}",
            r.base.as_u64(),
            r.size.as_u64(),
            r.node.map_or(-1, |n| i64::from(n.get()))
        );
    }
    Ok(Machine {
        topo,
        strategy,
        broken_lppaca,
        crossing_lppaca,
    })
}

/// One CPU's paca as the plan left it, its DTL buffer, its `plan` line, and its lppaca,
/// SLB shadow and DTL length word written in memory.
fn set_up_cpu(
    machine: &Machine,
    placement: &percpu::Placement,
    mb: &mut Memblock,
    limit: u64,
    cpu: &topology::Cpu,
) -> Result<CpuSetup, String> {
    let (topo, strategy) = (&machine.topo, machine.strategy);
    let id = cpu.logical_id;
    let Some(mut paca) = Paca::from_placement(placement, id, cpu.hw_id) else {
        return Err(format!("CPU {id} has no paca in the plan"));
    };
    let mut lp = placement
        .find(id, StructureKind::Lppaca)
        .copied()
        .ok_or(format!("CPU {id}: no lppaca planned"))?;
    if machine.crossing_lppaca && Some(cpu) == topo.cpus.last() {
        lp.addr = PhysAddr::new(core::ptr::addr_of_mut!(CROSSING) as u64 + CROSSING_OFFSET);
        paca.lppaca_ptr = Some(lp.addr);
    }
    let slb = placement
        .find(id, StructureKind::SlbShadow)
        .ok_or(format!("CPU {id}: no SLB shadow planned"))?;
    let paca_a = placement
        .find(id, StructureKind::Paca)
        .ok_or(format!("CPU {id}: no paca"))?;
    // Linux allocates DTL buffers later from a kmem cache; the guest takes them
    // node-locally from memblock, but below the RMA (percpu has lifted memblock's
    // limit by now, as htab_initialize does) because it runs in real mode.
    let dtl = mb
        .alloc_try_nid(
            PhysSize::new(DTL_BYTES),
            DTL_BYTES,
            PhysAddr::ZERO,
            AllocLimit::Addr(PhysAddr::new(limit)),
            cpu.node,
        )
        .map_err(|e| format!("CPU {id}: DTL buffer: {e}"))?;
    paca.dispatch_log = Some(dtl);
    // The IRQ stacks are the structures the series made node-local that are not
    // bound by the RMA (only by the bolted segment), so they show locality on QEMU,
    // whose RMA is node 0's memory.
    let stack = |kind| {
        placement
            .find(id, kind)
            .map(|a| a.addr.as_u64())
            .ok_or(format!("CPU {id}: no {kind:?} planned"))
    };
    nb!(
        "plan cpu={id} hw={} node={} paca={:#x} paca_node={} lppaca={:#x} lppaca_node={} lppaca_outcome=\"{}\" slb={:#x} slb_node={} dtl={:#x} hardirq={:#x} softirq={:#x}",
        cpu.hw_id,
        // Linux's numa_setup_cpu maps a CPU without valid associativity to the
        // first online node; percpu places by that mapping.
        percpu::early_cpu_to_node(topo, id).get(),
        paca_a.addr.as_u64(),
        paca_a.memory_node.map_or(-1, |n| i64::from(n.get())),
        lp.addr.as_u64(),
        lp.memory_node.map_or(-1, |n| i64::from(n.get())),
        lp.outcome,
        slb.addr.as_u64(),
        slb.memory_node.map_or(-1, |n| i64::from(n.get())),
        dtl.as_u64(),
        stack(StructureKind::HardirqStack)?,
        stack(StructureKind::SoftirqStack)?
    );
    // The guest runs in real mode: it can write nothing above the RMA (rma-split
    // puts lppacas there on purpose; Linux itself only touches them translated).
    for (what, a) in [("lppaca", &lp), ("slb_shadow", slb), ("paca", paca_a)] {
        if a.end().as_u64() > limit {
            return Err(format!(
                "CPU {id}: {what} at {} is above the RMA {limit:#x}; this guest runs in real mode",
                a.addr
            ));
        }
    }
    if paca_a.size.as_u64() < core::mem::size_of::<crate::paca::GuestPaca>() as u64 {
        return Err(format!(
            "CPU {id}: the planned paca ({}) is smaller than the guest's paca record",
            paca_a.size
        ));
    }
    // init_lppaca's size field: what the strategy advertises (1 KiB or 640).
    let size = u16::try_from(strategy.lppaca_size_field()).unwrap_or(u16::MAX);
    write_lppaca(
        lp.addr.as_u64(),
        if machine.broken_lppaca { 0x100 } else { size },
    );
    // SAFETY: planned SLB shadow (reserved in memblock, below the RMA).
    unsafe {
        poke(
            slb.addr.as_u64(),
            zerocopy::IntoBytes::as_bytes(&SlbShadow::linux_init()),
        )
    };
    // Linux's alloc_dtl_buffers: the buffer length goes into the first entry's
    // enqueue_to_dispatch_time, where the hypervisor reads it.
    // SAFETY: the DTL buffer was just reserved in memblock, below the RMA.
    unsafe { poke(dtl.as_u64() + 4, &(DTL_BYTES as u32).to_be_bytes()) };
    Ok(CpuSetup {
        paca,
        paca_at: paca_a.addr.as_u64(),
    })
}

/// Registration, boot CPU on behalf of every CPU, in Linux's order per CPU; each paca
/// is published in guest memory first, from the same value the registration uses.
fn register_all(
    hv: &mut SystemHypervisor,
    cpus: &[CpuSetup],
    features: &GuestFeatures,
) -> Result<(), String> {
    for c in cpus {
        let paca = &c.paca;
        // SAFETY: the planned paca of this CPU, below the RMA (checked in set_up_cpu,
        // as is its size).
        unsafe { crate::paca::publish(c.paca_at, paca)? };
        let addr = paca.lppaca_ptr.ok_or("no lppaca")?.as_u64();
        // SAFETY: the planned lppaca: reserved in memblock for it, below the RMA,
        // never referenced by a Rust reference.
        let mut lppaca = unsafe { LiveLppaca::new(addr) };
        let out =
            vpa_init(hv, paca, &mut lppaca, features).map_err(|e| format!("vpa_init: {e}"))?;
        if out.vpa.is_success() {
            if let Some(slot) = LPPACA_OF.get(paca.hw_cpu_id as usize) {
                slot.store(addr, Ordering::Release);
            }
        }
    }
    nb!(
        "pacas table={:#x} count={}",
        crate::paca::table_address(),
        crate::paca::NB_PACA_PTRS.count.load(Ordering::Acquire)
    );
    Ok(())
}

/// Starts every secondary, which checks its own VPA, and waits until all have reported
/// and stopped.
fn run_secondaries(topo: &topology::Topology, boot_cpu: u32) {
    let others = || topo.cpus.iter().filter(move |c| c.logical_id != boot_cpu);
    let secondaries = others().count() as u32;
    for c in others() {
        let rc = rtas::start_cpu(
            u64::from(c.hw_id),
            crate::sc::secondary_entry(),
            u64::from(c.hw_id),
        );
        nb!("start-cpu hw={} rc={rc}", c.hw_id);
    }
    let mut spins: u64 = 0;
    while SECONDARIES_DONE.load(Ordering::Acquire) < secondaries && spins < 500_000_000 {
        spins += 1;
        core::hint::spin_loop();
    }
    nb!(
        "secondaries-done {}",
        SECONDARIES_DONE.load(Ordering::Acquire)
    );

    // Stopped secondaries make no more hcalls (stop-self is one): only then does the
    // count of `sc 1` instructions in the crash path belong to it alone.
    for c in others() {
        let mut tries: u32 = 0;
        while rtas::query_cpu_stopped_state(u64::from(c.hw_id)) != (0, 0) && tries < 100_000 {
            tries += 1;
            core::hint::spin_loop();
        }
    }
}

/// A crash shutdown as Linux 4.15..5.x did it: no hcall at all, counted both by the
/// wrapper and at start.S's `sc 1`.
fn crash_shutdown(
    hv: &mut SystemHypervisor,
    pacas: &[Paca],
    features: &GuestFeatures,
) -> Result<(), String> {
    hv.case = "crash";
    let before = hv.vpa_calls;
    let sc1_before = crate::sc::sc1_calls();
    for paca in pacas {
        let addr = paca.lppaca_ptr.ok_or("no lppaca")?.as_u64();
        // SAFETY: the planned lppaca of this CPU, as in register_all.
        let lppaca = unsafe { LiveLppaca::new(addr) };
        kexec_cpu_down(
            hv,
            &paca.kexec_copy(),
            &lppaca,
            features.splpar,
            true,
            CrashPolicy::NoHcalls,
        );
    }
    let sc1 = crate::sc::sc1_calls() - sc1_before;
    nb!("crash-shutdown hcalls={} sc1={sc1}", hv.vpa_calls - before);
    Ok(())
}

/// The kexec shutdown path: each CPU deregisters DTL, SLB shadow, VPA.
fn kexec_shutdown(
    hv: &mut SystemHypervisor,
    pacas: &[Paca],
    features: &GuestFeatures,
) -> Result<(), String> {
    hv.case = "kexec";
    for paca in pacas {
        let addr = paca.lppaca_ptr.ok_or("no lppaca")?.as_u64();
        // SAFETY: the planned lppaca of this CPU, as in register_all.
        let lppaca = unsafe { LiveLppaca::new(addr) };
        let calls = kexec_cpu_down(
            hv,
            &paca.kexec_copy(),
            &lppaca,
            features.splpar,
            false,
            CrashPolicy::Deregister,
        );
        nb!("kexec-down cpu={} calls={}", paca.paca_index, calls.len());
    }
    Ok(())
}

/// The cases a hypervisor must refuse, plus the ordering rules around DTL/SLB.
fn negative_cases(
    hv: &mut SystemHypervisor,
    pacas: &[Paca],
    features: &GuestFeatures,
) -> Result<(), String> {
    let s = core::ptr::addr_of_mut!(SCRATCH) as u64;
    let reg = |hv: &mut SystemHypervisor,
               case: &'static str,
               sub: VpaSubfunction,
               proc_no: u64,
               addr: u64| {
        hv.case = case;
        hv.register_vpa(sub, proc_no, addr)
    };
    write_lppaca(s, 0x100);
    reg(hv, "size_below_640", VpaSubfunction::RegisterVpa, 0, s);
    write_lppaca(s + 3072, 1280);
    reg(hv, "crosses_4k", VpaSubfunction::RegisterVpa, 0, s + 3072);
    write_lppaca(s + 8, 640);
    reg(hv, "misaligned", VpaSubfunction::RegisterVpa, 0, s + 8);
    write_lppaca(s + 1024, 640);
    reg(
        hv,
        "unknown_cpu",
        VpaSubfunction::RegisterVpa,
        9999,
        s + 1024,
    );
    reg(hv, "address_zero", VpaSubfunction::RegisterVpa, 0, 0);

    // Ordering rules on the last CPU: VPA deregistration while SLB/DTL registered, then
    // DTL and SLB registration without a VPA; then everything is registered again.
    let Some(last) = pacas.last() else {
        return Ok(());
    };
    let p = u64::from(last.hw_cpu_id);
    reg(hv, "dereg_vpa_busy", VpaSubfunction::DeregisterVpa, p, 0);
    reg(hv, "dereg_dtl", VpaSubfunction::DeregisterDtl, p, 0);
    reg(hv, "dereg_slb", VpaSubfunction::DeregisterSlb, p, 0);
    reg(hv, "dereg_vpa", VpaSubfunction::DeregisterVpa, p, 0);
    reg(hv, "dereg_vpa_again", VpaSubfunction::DeregisterVpa, p, 0);
    let dtl = last.dispatch_log.ok_or("no DTL")?.as_u64();
    let slb = last.slb_shadow_ptr.ok_or("no SLB shadow")?.as_u64();
    reg(hv, "dtl_before_vpa", VpaSubfunction::RegisterDtl, p, dtl);
    reg(hv, "slb_before_vpa", VpaSubfunction::RegisterSlb, p, slb);
    let addr = last.lppaca_ptr.ok_or("no lppaca")?.as_u64();
    // SAFETY: the planned lppaca of this CPU, as in boot_cpu.
    let mut lppaca = unsafe { LiveLppaca::new(addr) };
    hv.case = "reinit";
    // Registering the DTL again needs its length word again (entries overwrite it).
    // SAFETY: the planned DTL buffer, below the RMA.
    unsafe { poke(dtl + 4, &(DTL_BYTES as u32).to_be_bytes()) };
    vpa_init(hv, last, &mut lppaca, features).map_err(|e| alloc::format!("vpa_init: {e}"))?;
    Ok(())
}

/// A secondary: reads its VPA's status byte and yield_count, asks the hypervisor for its
/// home node, and reports.
pub fn secondary(hw_id: u64) {
    let addr = LPPACA_OF
        .get(hw_id as usize)
        .map_or(0, |a| a.load(Ordering::Acquire));
    let mut hv = SystemHypervisor {
        case: "secondary",
        readable_below: READABLE_BELOW.load(Ordering::Relaxed),
        vpa_calls: 0,
    };
    if addr == 0 {
        nb!("cpu {hw_id} no-vpa");
    } else {
        // SAFETY: this CPU's registered lppaca, below the RMA, never referenced.
        let lp = unsafe { LiveLppaca::new(addr) };
        let (status, yc) = (lp.old_status(), lp.yield_count());
        let home = hv.hcall(Opcode::H_HOME_NODE_ASSOCIATIVITY, &[1, hw_id]);
        nb!(
            "cpu {hw_id} lppaca={addr:#x} status={status:#x} yield={yc} home_rc={} home={:#x},{:#x}",
            home.ret.raw(),
            home.out[0],
            home.out[1]
        );
    }
    SECONDARIES_DONE.fetch_add(1, Ordering::Release);
}
