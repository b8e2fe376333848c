//! Checks the guest's report against the QEMU configuration and the `vpa-hv` model.
//!
//! Every expectation comes from outside the guest: node of each CPU and of each address
//! from the `-numa` options xtask gave QEMU, PAPR's placement rules from `papr`, QEMU's
//! answers from the `vpa-hv` Qemu profile, and Linux's call order from its sources
//! (`vpa_init`: VPA, SLB shadow, DTL; `pseries_kexec_cpu_down`: DTL, SLB shadow, VPA).
//! The strategy decides the lppaca's alignment and advertised size (Linux: 1 KiB and
//! 1 KiB; beyond Linux: 128 and 640); the same registrations replayed on the
//! `kvm-pre-4.14` model must be refused exactly when the size is below its 1024.

use anyhow::{bail, Result};
use papr::hcall::{ReturnCode, VpaSubfunction};
use phys::{PhysAddr, PhysSize};

use crate::machine::Machine;
use crate::report::{Line, Report};
use crate::strategy::GuestStrategy;

fn sub_of(line: &Line) -> Result<VpaSubfunction> {
    Ok(VpaSubfunction::from_flags(line.u64("flags")?)?)
}

fn rc_of(line: &Line) -> Result<ReturnCode> {
    Ok(ReturnCode::from_raw(i64::try_from(line.num("rc")?)?))
}

/// What every part of the check reads: QEMU's machine, the guest's report and the lines
/// several parts share.
struct Ctx<'a> {
    m: &'a Machine,
    r: &'a Report,
    strategy: GuestStrategy,
    /// QEMU's number of CPUs.
    smp: usize,
    /// QEMU's node memory, `(node, start, end)`.
    mem: Vec<(u32, u64, u64)>,
    /// QEMU's memory size in bytes, for the models.
    mem_bytes: u64,
    /// The hardware ids of QEMU's CPUs, for the models.
    hw_ids: Vec<u32>,
    /// The per-CPU `plan` lines.
    plans: Vec<&'a Line>,
    /// Every `hcall` line, in order.
    hcalls: Vec<&'a Line>,
    /// The boot-time registrations (`hcall name=init`).
    init: Vec<&'a Line>,
}

/// Runs every check; returns a one-line summary or every failure found.
pub fn check(m: &Machine, r: &Report, strategy: GuestStrategy) -> Result<String> {
    if let Some(p) = r.of("panic").next() {
        bail!("the guest panicked (console line {})", p.lineno);
    }
    if let Some(e) = r.of("error").next() {
        bail!("the guest stopped with an error: {}", e.words.join(" "));
    }
    r.one("end")?;
    let smp = m.cpu_node.len();
    let hcalls: Vec<&Line> = r.of("hcall").collect();
    let c = Ctx {
        m,
        r,
        strategy,
        smp,
        mem: m.node_ranges(),
        mem_bytes: m.node_mib.iter().sum::<u64>() << 20,
        hw_ids: (0..smp as u32).collect(),
        plans: r
            .of("plan")
            .filter(|l| l.fields.contains_key("cpu"))
            .collect(),
        init: hcalls
            .iter()
            .copied()
            .filter(|h| h.get("name").ok() == Some("init"))
            .collect(),
        hcalls,
    };
    let mut fail: Vec<String> = Vec::new();
    let rma = topology(&c, &mut fail)?;
    let (local, local_stacks) = plan(&c, rma, &mut fail)?;
    registrations(&c, &mut fail)?;
    negative_cases(&c, &mut fail)?;
    secondaries(&c, &mut fail)?;
    shutdown(&c, &mut fail)?;
    model(&c, &mut fail)?;
    let pre414_line = pre414(&c, &mut fail)?;

    if !fail.is_empty() {
        bail!("{} failures:\n  {}", fail.len(), fail.join("\n  "));
    }
    Ok(format!(
        "{} hcalls match the vpa-hv Qemu model; {pre414_line}; {local}/{smp} lppacas on their CPU's node (the rest: node without memory below the {} MiB RMA); {local_stacks} IRQ stacks node-local",
        c.hcalls.len(),
        rma >> 20
    ))
}

/// Topology the guest parsed from QEMU's device tree.
fn topology(c: &Ctx<'_>, fail: &mut Vec<String>) -> Result<u64> {
    let (m, r, smp, expected_mem) = (c.m, c.r, c.smp, &c.mem);
    let topo = r.one("topology")?;
    let rma = topo.u64("rma")?;
    if topo.u64("cpus")? != smp as u64 {
        fail.push(format!(
            "the guest's topology has {} CPUs, QEMU has {smp}",
            topo.u64("cpus")?
        ));
    }
    if topo.u64("nodes")? != m.node_mib.len() as u64 {
        fail.push(format!(
            "the guest's topology has {} nodes, QEMU has {}",
            topo.u64("nodes")?,
            m.node_mib.len()
        ));
    }
    let got_mem: Vec<(i128, u64, u64)> = r
        .of("memory")
        .map(|l| Ok((l.num("node")?, l.u64("base")?, l.u64("size")?)))
        .collect::<Result<_>>()?;
    let want_mem: Vec<(i128, u64, u64)> = expected_mem
        .iter()
        .map(|&(n, lo, hi)| (i128::from(n), lo, hi - lo))
        .collect();
    if got_mem != want_mem {
        fail.push(format!(
            "memory ranges (node, base, size) {got_mem:x?}, QEMU has {want_mem:x?}"
        ));
    }
    let node0_bytes = expected_mem.first().map_or(0, |&(_, lo, hi)| hi - lo);
    if rma == 0 || rma > node0_bytes {
        fail.push(format!(
            "RMA {rma:#x} is not within the first memory block ({node0_bytes:#x})"
        ));
    }
    Ok(rma)
}

/// The plan: the strategy asked for, node of every CPU and structure, PAPR placement of
/// every lppaca.
fn plan(c: &Ctx<'_>, rma: u64, fail: &mut Vec<String>) -> Result<(usize, usize)> {
    let (m, r, strategy, smp, expected_mem, plans) =
        (c.m, c.r, c.strategy, c.smp, &c.mem, &c.plans);
    let planned_with = r
        .of("plan")
        .find(|l| !l.fields.contains_key("cpu"))
        .map(|l| l.get("strategy").map(str::to_string))
        .transpose()?;
    if planned_with.as_deref() != Some(strategy.name()) {
        fail.push(format!(
            "the guest planned with {planned_with:?}, asked for {}",
            strategy.name()
        ));
    }
    if plans.len() != smp {
        fail.push(format!("{} CPUs planned, QEMU has {smp}", plans.len()));
    }
    let mut local = 0;
    let mut local_stacks = 0;
    for p in plans {
        let cpu = p.u64("cpu")?;
        let want_node = m.cpu_node.get(cpu as usize).copied();
        if p.num("node")? != want_node.map_or(-1, i128::from) {
            fail.push(format!(
                "CPU {cpu}: topology node {}, QEMU configured {want_node:?}",
                p.num("node")?
            ));
        }
        let lp = p.u64("lppaca")?;
        if lp % strategy.lppaca_align() != 0 {
            fail.push(format!(
                "CPU {cpu}: lppaca {lp:#x} is not {}-byte aligned as {} allocates it",
                strategy.lppaca_align(),
                strategy.name()
            ));
        }
        if let Err(e) = papr::vpa_placement_ok(
            PhysAddr::new(lp),
            PhysSize::new(strategy.lppaca_size_field()),
        ) {
            fail.push(format!("CPU {cpu}: lppaca {lp:#x}: {e}"));
        }
        for key in ["paca", "lppaca", "slb", "dtl"] {
            let a = p.u64(key)?;
            if a >= rma {
                fail.push(format!("CPU {cpu}: {key} {a:#x} is above the RMA {rma:#x}"));
            }
        }
        let lp_node = m.node_of(lp);
        if p.num("lppaca_node")? != lp_node.map_or(-1, i128::from) {
            fail.push(format!(
                "CPU {cpu}: plan says lppaca node {}, QEMU's layout puts {lp:#x} on {lp_node:?}",
                p.num("lppaca_node")?
            ));
        }
        // The CPU's node has memory below the RMA: then Linux's node-local allocation
        // must have put the lppaca there (the issue's "home node equals the node of its
        // lppaca"). Otherwise Linux falls back, and the lppaca is on another node.
        let node_has_rma_memory =
            want_node.is_some_and(|n| expected_mem.iter().any(|&(mn, lo, _)| mn == n && lo < rma));
        if lp_node == want_node {
            local += 1;
        } else if node_has_rma_memory {
            fail.push(format!(
                "CPU {cpu}: lppaca {lp:#x} is on node {lp_node:?} although node {want_node:?} has memory below the RMA"
            ));
        }
        // IRQ stacks are node-local up to the bolted segment (1 TiB), not the RMA: every
        // CPU whose node has memory must get them there.
        let node_has_memory =
            want_node.is_some_and(|n| expected_mem.iter().any(|&(mn, _, _)| mn == n));
        for key in ["hardirq", "softirq"] {
            let a = p.u64(key)?;
            let got = m.node_of(a);
            if node_has_memory && got != want_node {
                fail.push(format!(
                    "CPU {cpu}: {key} stack {a:#x} is on node {got:?}, not on its node {want_node:?}"
                ));
            }
            if node_has_memory && got == want_node {
                local_stacks += 1;
            }
        }
    }
    Ok((local, local_stacks))
}

/// Registration: per CPU VPA, SLB shadow, DTL, in that order, all accepted.
fn registrations(c: &Ctx<'_>, fail: &mut Vec<String>) -> Result<()> {
    let (m, plans, init) = (c.m, &c.plans, &c.init);
    for p in plans {
        let cpu = p.u64("cpu")?;
        let hw = p.u64("hw")?;
        let mine: Vec<&&Line> = init
            .iter()
            .filter(|h| h.u64("proc").ok() == Some(hw))
            .collect();
        let want = [
            (VpaSubfunction::RegisterVpa, p.u64("lppaca")?),
            (VpaSubfunction::RegisterSlb, p.u64("slb")?),
            (VpaSubfunction::RegisterDtl, p.u64("dtl")?),
        ];
        let got: Vec<(VpaSubfunction, u64)> = mine
            .iter()
            .map(|h| Ok((sub_of(h)?, h.u64("addr")?)))
            .collect::<Result<_>>()?;
        if got != want {
            fail.push(format!(
                "CPU {cpu}: registrations {got:x?}, Linux's vpa_init order is {want:x?}"
            ));
        }
        let results: Vec<String> = mine
            .iter()
            .map(|h| {
                let short = match sub_of(h)? {
                    VpaSubfunction::RegisterVpa => "VPA",
                    VpaSubfunction::RegisterSlb => "SLB",
                    VpaSubfunction::RegisterDtl => "DTL",
                    other => other.name(),
                };
                Ok(format!("{short}@{:#x} {}", h.u64("addr")?, rc_of(h)?))
            })
            .collect::<Result<_>>()?;
        let lp = p.u64("lppaca")?;
        println!(
            "e2e: cpu {cpu} hw {hw} node {}: {}; lppaca on node {}",
            p.num("node")?,
            results.join(", "),
            m.node_of(lp).map_or("none".to_string(), |n| n.to_string())
        );
        for h in &mine {
            let rc = rc_of(h)?;
            if !rc.is_success() {
                let len = h.u64("len")?;
                let detail = match sub_of(h)? {
                    VpaSubfunction::RegisterVpa => format!(
                        "; the lppaca advertises size {:#x} (PAPR minimum {})",
                        len >> 16,
                        papr::VPA_MIN_SIZE
                    ),
                    _ => format!("; length word {len:#x}"),
                };
                fail.push(format!(
                    "CPU {cpu}: {} at {:#x} returned {rc}{detail}",
                    sub_of(h)?,
                    h.u64("addr")?
                ));
            }
        }
    }
    Ok(())
}

/// Negative cases: each must appear exactly once and be refused.
fn negative_cases(c: &Ctx<'_>, fail: &mut Vec<String>) -> Result<()> {
    let hcalls = &c.hcalls;
    let refused = [
        "size_below_640",
        "crosses_4k",
        "misaligned",
        "unknown_cpu",
        "address_zero",
        "dereg_vpa_busy",
        "dtl_before_vpa",
        "slb_before_vpa",
    ];
    for name in refused {
        let seen: Vec<&&Line> = hcalls
            .iter()
            .filter(|h| h.get("name").ok() == Some(name))
            .collect();
        match seen.as_slice() {
            [h] => {
                if rc_of(h)?.is_success() {
                    fail.push(format!("case {name} was accepted by QEMU"));
                }
            }
            other => fail.push(format!(
                "case {name} ran {} times, expected once",
                other.len()
            )),
        }
    }
    Ok(())
}

/// Secondaries: VPHN home node, shared-processor bit, yield_count parity.
fn secondaries(c: &Ctx<'_>, fail: &mut Vec<String>) -> Result<()> {
    let (m, r, smp, plans) = (c.m, c.r, c.smp, &c.plans);
    for line in r.of("cpu") {
        let hw: u64 = line
            .words
            .first()
            .and_then(|w| w.parse().ok())
            .unwrap_or(u64::MAX);
        let want_node = m.cpu_node.get(hw as usize).copied();
        if line.words.iter().any(|w| w == "no-vpa") {
            fail.push(format!("CPU {hw}: started without a registered VPA"));
            continue;
        }
        let home = line.get("home")?;
        let node = home
            .split_once(',')
            .and_then(|(_, b)| u64::from_str_radix(b.trim_start_matches("0x"), 16).ok())
            .map(|v| v & 0xffff_ffff);
        if line.num("home_rc")? != 0 || node != want_node.map(u64::from) {
            fail.push(format!(
                "CPU {hw}: H_HOME_NODE_ASSOCIATIVITY node {node:?}, QEMU configured {want_node:?}"
            ));
        }
        if line.u64("status")? & u64::from(papr::LPPACA_OLD_SHARED_PROC) == 0 {
            fail.push(format!(
                "CPU {hw}: QEMU did not mark its VPA shared-processor"
            ));
        }
        if line.u64("yield")? % 2 != 0 {
            fail.push(format!(
                "CPU {hw}: yield_count {} is odd while it runs",
                line.u64("yield")?
            ));
        }
        let planned = plans
            .iter()
            .find(|p| p.u64("hw").ok() == Some(hw))
            .map(|p| p.u64("lppaca"))
            .transpose()?;
        if planned != Some(line.u64("lppaca")?) {
            fail.push(format!(
                "CPU {hw}: reads its VPA at {:#x}, planned {planned:x?}",
                line.u64("lppaca")?
            ));
        }
    }
    let reported = r.of("cpu").count();
    if reported + 1 != smp {
        fail.push(format!(
            "{reported} secondaries reported, expected {}",
            smp - 1
        ));
    }
    Ok(())
}

/// Shutdown: nothing on a crash; DTL, SLB shadow, VPA per CPU on kexec.
fn shutdown(c: &Ctx<'_>, fail: &mut Vec<String>) -> Result<()> {
    let (r, plans, hcalls) = (c.r, &c.plans, &c.hcalls);
    let crash = r.one("crash-shutdown")?;
    if crash.u64("hcalls")? != 0 {
        fail.push("the crash shutdown made hcalls".into());
    }
    // Counted at start.S's `sc 1` itself, so no hcall can bypass the count.
    if crash.u64("sc1")? != 0 {
        fail.push(format!(
            "the crash shutdown executed sc 1 {} times",
            crash.u64("sc1")?
        ));
    }
    let kexec: Vec<&Line> = hcalls
        .iter()
        .copied()
        .filter(|h| h.get("name").ok() == Some("kexec"))
        .collect();
    for p in plans {
        let hw = p.u64("hw")?;
        let got: Vec<(VpaSubfunction, ReturnCode)> = kexec
            .iter()
            .filter(|h| h.u64("proc").ok() == Some(hw))
            .map(|h| Ok((sub_of(h)?, rc_of(h)?)))
            .collect::<Result<_>>()?;
        let want = vec![
            (VpaSubfunction::DeregisterDtl, ReturnCode::H_SUCCESS),
            (VpaSubfunction::DeregisterSlb, ReturnCode::H_SUCCESS),
            (VpaSubfunction::DeregisterVpa, ReturnCode::H_SUCCESS),
        ];
        if got != want {
            fail.push(format!(
                "CPU {hw}: kexec deregistrations {got:?}, expected {want:?}"
            ));
        }
    }
    Ok(())
}

/// Every hcall against the model.
fn model(c: &Ctx<'_>, fail: &mut Vec<String>) -> Result<()> {
    for x in crate::predict::compare(c.mem_bytes, &c.hw_ids, &c.hcalls)? {
        fail.push(format!(
            "console line {}: {}: QEMU returned {}, the vpa-hv Qemu model predicts {} ({})",
            x.lineno, x.name, x.actual, x.predicted, x.rule
        ));
    }
    Ok(())
}

/// The same boot-time registrations on pre-4.14 KVM: every VPA whose size field is
/// below its minimum is refused (and then the CPU's SLB shadow and DTL, which need a
/// VPA); the rest are accepted.
fn pre414(c: &Ctx<'_>, fail: &mut Vec<String>) -> Result<String> {
    let (strategy, size_field) = (c.strategy, c.strategy.lppaca_size_field());
    let pre414 = vpa_hv::Profile::KvmPre414;
    let verdicts = crate::predict::replay(pre414, c.mem_bytes, &c.hw_ids, &c.init)?;
    let mut vpa_refused = 0;
    let mut vpas = 0;
    for (h, v) in c.init.iter().zip(&verdicts) {
        let is_vpa = sub_of(h)? == VpaSubfunction::RegisterVpa;
        let advertised = h.u64("len")? >> 16;
        if is_vpa {
            vpas += 1;
            let want_refused = advertised < pre414.vpa_min_size();
            let refused = !v.code.is_success();
            if refused {
                vpa_refused += 1;
            }
            if refused != want_refused || (refused && v.rule != vpa_hv::Rule::SizeTooSmall) {
                fail.push(format!(
                    "console line {}: the {pre414} model answers {} ({}) to a VPA advertising {advertised} bytes",
                    h.lineno, v.code, v.rule
                ));
            }
            if advertised != size_field {
                fail.push(format!(
                    "console line {}: the lppaca advertises size {advertised:#x}, {} advertises {size_field:#x}",
                    h.lineno,
                    strategy.name()
                ));
            }
        }
    }
    Ok(format!(
        "the {pre414} model refuses {vpa_refused}/{vpas} of these VPAs (size field {size_field}, its minimum {})",
        pre414.vpa_min_size()
    ))
}
