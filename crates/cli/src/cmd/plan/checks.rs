//! The rules `numaboot check` holds a placement to.
//!
//! * PAPR (`H_REGISTER_VPA`): an lppaca of the size Linux advertises (1 KiB) is at least
//!   640 bytes, aligned to the 128-byte cache line and inside one 4 KiB block
//!   ([`papr::vpa_placement_ok`]); an SLB shadow does not cross a 4 KiB boundary (the
//!   rule QEMU and KVM apply to every registered area).
//! * Real mode: in a hash-MMU guest the pacas, lppacas and SLB shadows, `paca_ptrs`
//!   (a secondary CPU looks its paca up there with the MMU off:
//!   `generic_secondary_common_init` in Linux 6.1 `head_64.S`), and the emergency
//!   stacks, lie below the RMA (`ppc64_rma_size`) of the machine, and pseries
//!   machine-check stacks below 4 GiB (RTAS).
//! * Linux 4.15 frees no lppaca of a possible CPU (`Finding::FreedWhileInUse`).
//!
//! The limits are taken from the topology and the configuration, not from the
//! placement, so a planner that ignored them would be caught.

use percpu::{Finding, Placement, PlanConfig, StructureKind};
use phys::PhysSize;

use super::machine::Machine;

#[path = "papr_profile.rs"]
mod papr_profile;

/// One broken rule, as a sentence naming the CPU and structure.
pub type Problem = String;

/// Checks `p` (planned for `m` with `cfg`). An empty result means it passes.
pub fn check_placement(m: &Machine, cfg: &PlanConfig, p: &Placement) -> Vec<Problem> {
    let mut out = Vec::new();
    let hash_guest = !cfg.hypervisor_mode && !cfg.radix;
    let rma = if hash_guest {
        // The machine's RMA (or the --rma override), not the limit the plan recorded.
        let r = m.topo.rma_size.as_u64();
        let limit = cfg.rma_limit_override.map_or(r, |a| a.as_u64());
        Some(limit.min(cfg.segment_size()))
    } else {
        None
    };
    let who = |cpu: Option<u32>, kind: StructureKind| match cpu {
        Some(c) => format!("CPU {c} {}", kind.key()),
        None => kind.key().to_string(),
    };
    for a in p.live() {
        let end = a.addr.as_u64().saturating_add(a.reserved.as_u64());
        match a.kind {
            StructureKind::Lppaca => {
                // The size the strategy advertises (Linux: 1 KiB; beyond Linux: 640).
                let size = PhysSize::new(cfg.strategy.lppaca_size_field());
                if let Err(e) = papr::vpa_placement_ok(a.addr, size) {
                    out.push(format!("{} at {}: PAPR: {e}", who(a.cpu, a.kind), a.addr));
                }
            }
            StructureKind::SlbShadow => {
                let last = end.saturating_sub(1);
                if a.addr.as_u64() / papr::VPA_BOUNDARY != last / papr::VPA_BOUNDARY {
                    out.push(format!(
                        "{} at {} of {} bytes: PAPR: crosses a 4 KiB boundary",
                        who(a.cpu, a.kind),
                        a.addr,
                        a.reserved.as_u64()
                    ));
                }
            }
            _ => {}
        }
        let real_mode = cfg.strategy.keeps_in_real_mode(a.kind);
        if let (Some(limit), true) = (rma, real_mode) {
            if end > limit {
                out.push(format!(
                    "{} at {}-{end:#x}: above the real-mode limit {limit:#x}",
                    who(a.cpu, a.kind),
                    a.addr
                ));
            }
        }
        if a.kind == StructureKind::McEmergencyStack
            && !cfg.hypervisor_mode
            && end > percpu::consts::SZ_4G
        {
            out.push(format!(
                "{} at {}: machine-check stack above 4 GiB (RTAS cannot reach it)",
                who(a.cpu, a.kind),
                a.addr
            ));
        }
    }
    for f in &p.findings {
        if let Finding::FreedWhileInUse { kind, cpu, addr } = *f {
            out.push(format!(
                "CPU {cpu} {}: freed at {addr} while the CPU is possible (Linux 4.15 \
                 free_lppacas sizes by num_possible_cpus)",
                kind.key()
            ));
        }
    }
    out
}

/// [`check_placement`], then, with a hypervisor profile, every registration on that
/// hypervisor's `vpa-hv` model (see `papr_profile`).
pub fn check_placement_on(
    m: &Machine,
    cfg: &PlanConfig,
    p: &Placement,
    profile: Option<vpa_hv::Profile>,
) -> Vec<Problem> {
    let mut out = check_placement(m, cfg, p);
    if let Some(profile) = profile {
        out.extend(papr_profile::check_profile(m, cfg, p, profile));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::machine::{config, load, plan, MachineArgs};
    use super::*;
    use phys::PhysAddr;

    fn default_plan() -> (Machine, PlanConfig, Placement) {
        let args = MachineArgs::default();
        let m = load(&args).unwrap();
        let cfg = config(&m, &args, percpu::Strategy::Linux61).unwrap();
        let (p, _) = plan(&m, &cfg, percpu::CallLog::Keep).unwrap();
        (m, cfg, p)
    }

    #[test]
    fn a_real_plan_passes() {
        let (m, cfg, p) = default_plan();
        assert_eq!(check_placement(&m, &cfg, &p), Vec::<String>::new());
    }

    #[test]
    fn misplaced_structures_are_caught() {
        let (m, cfg, mut p) = default_plan();
        let idx = |p: &Placement, cpu, kind| {
            p.allocations
                .iter()
                .position(|a| a.cpu == Some(cpu) && a.kind == kind && !a.freed)
                .unwrap()
        };
        // An lppaca crossing a 4 KiB boundary, an SLB shadow crossing one, a paca above
        // the 1 GiB RMA, a machine-check stack above 4 GiB.
        let i = idx(&p, 5, StructureKind::Lppaca);
        p.allocations[i].addr = PhysAddr::new(0x1000_0c80);
        let i = idx(&p, 6, StructureKind::SlbShadow);
        p.allocations[i].addr = PhysAddr::new(0x1000_0fc0);
        let i = idx(&p, 7, StructureKind::Paca);
        p.allocations[i].addr = PhysAddr::new(0x4000_0000);
        let i = idx(&p, 8, StructureKind::McEmergencyStack);
        p.allocations[i].addr = PhysAddr::new(0x1_0000_0000);
        // paca_ptrs above the RMA: secondaries could not find their paca in real mode.
        let i = p
            .allocations
            .iter()
            .position(|a| a.kind == StructureKind::PacaPtrs && !a.freed)
            .unwrap();
        p.allocations[i].addr = PhysAddr::new(0x4000_0000);
        let problems = check_placement(&m, &cfg, &p);
        let has = |s: &str| problems.iter().any(|x| x.contains(s));
        assert!(has("CPU 5 lppaca at 0x10000c80: PAPR"), "{problems:?}");
        assert!(has("CPU 6 slb_shadow at 0x10000fc0"), "{problems:?}");
        assert!(has("CPU 7 paca at 0x40000000"), "{problems:?}");
        assert!(has(
            "CPU 8 mc_emergency_stack at 0x100000000: machine-check"
        ));
        assert!(has(
            "CPU 8 mc_emergency_stack at 0x100000000-0x100004000: above"
        ));
        assert!(has("paca_ptrs at 0x40000000-"), "{problems:?}");
        assert_eq!(problems.len(), 6, "{problems:?}");
    }
}
