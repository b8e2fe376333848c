//! `numaboot check [TOPOLOGY]`: exit 0 when every per-CPU structure fits and is placed
//! per PAPR and the real-mode rules, 1 with the reasons otherwise; for CI pipelines.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use super::plan::{build, check_placement_on, emit, TargetArgs};

const EXAMPLES: &str = "\
Examples:
  numaboot check                                   # the embedded default machine
  numaboot check /sys/firmware/fdt && echo fits
  numaboot check guest.dtb --strategy linux-4.15 --possible 0-3,8-11
  numaboot check machine.toml --min-locality 90    # also demand 90% node-local
  numaboot check --strategy packed-vpa --hv-profile kvm-pre-4.14   # fails: 640 < 1024

Exit status: 0 all rules hold; 1 a structure does not fit or breaks a rule (each
reason on its own line); 2 the input is unusable.";

/// How many problems are listed before the rest are counted.
const MAX_LISTED: usize = 20;

/// Arguments of `numaboot check`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also fail when fewer than PERCENT (0 to 100) of the per-CPU structures are
    /// node-local.
    #[arg(long, value_name = "PERCENT", allow_negative_numbers = true)]
    pub min_locality: Option<f64>,
    /// Also register every VPA and SLB shadow on this hypervisor's `vpa-hv` model and
    /// fail on each refusal: `kvm` (Linux 6.1 KVM, 64 KiB host pages), `kvm-pre-4.14`
    /// (refuses a VPA size field below 1024) or `qemu`.
    #[arg(long, value_name = "PROFILE", value_parser = parse_profile)]
    pub hv_profile: Option<vpa_hv::Profile>,
}

fn parse_profile(s: &str) -> Result<vpa_hv::Profile, String> {
    s.parse()
        .map_err(|e: vpa_hv::UnknownProfile| format!("`{s}`: {e}"))
}

/// Runs `numaboot check`.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if let Some(min) = args.min_locality {
        // `contains` is false for NaN too.
        if !(0.0..=100.0).contains(&min) {
            bail!("--min-locality {min}: must be a percentage from 0 to 100");
        }
    }
    let strategy = args.target.strategy();
    let (m, cfg, planned) = args.target.prepare(percpu::CallLog::Discard)?;
    let (p, mb) = match planned {
        Ok(x) => x,
        Err(e) => {
            emit(
                &format!("FAIL {}: {strategy}\n  does not fit: {e}\n", m.source),
                None,
            )?;
            return Ok(ExitCode::from(1));
        }
    };
    let report = build(&m, &cfg, &p, &mb);
    let mut problems = check_placement_on(&m, &cfg, &p, args.hv_profile);
    let t = &report.totals;
    if let Some(min) = args.min_locality {
        if t.locality_percent() < min {
            let mut worst: Vec<_> = report
                .nodes
                .iter()
                .filter(|n| n.locality.structures > 0 && n.locality_percent() < min)
                .map(|n| {
                    format!(
                        "node {} {:.1}%",
                        n.node.map_or_else(|| "-".into(), |x| x.to_string()),
                        n.locality_percent()
                    )
                })
                .collect();
            worst.truncate(8);
            problems.push(format!(
                "locality {:.1}% is below --min-locality {min}% ({})",
                t.locality_percent(),
                worst.join(", ")
            ));
        }
    }
    // Only a limit that exists can hold.
    let rules = match report.config.real_mode_limit {
        Some(limit) => format!(
            "PAPR placement and real-mode limit {:#x} hold",
            limit.as_u64()
        ),
        None if cfg.hypervisor_mode => {
            "PAPR placement holds (no real-mode limit: hypervisor mode)".to_string()
        }
        None => "PAPR placement holds (no real-mode limit: radix)".to_string(),
    };
    if problems.is_empty() {
        let line = format!(
            "ok {}: {strategy}, {} structures of {} CPUs fit; {rules}; {:.1}% node-local, {} remote ({} fallbacks){}\n",
            m.source,
            t.structures,
            t.cpus,
            t.locality_percent(),
            t.remote(),
            t.fallbacks,
            args.hv_profile
                .map(|h| format!("; every registration accepted by the {h} model"))
                .unwrap_or_default()
        );
        emit(&line, None)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "FAIL {}: {strategy}, {} problem{}",
        m.source,
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for pr in problems.iter().take(MAX_LISTED) {
        let _ = writeln!(o, "  {pr}");
    }
    if problems.len() > MAX_LISTED {
        let _ = writeln!(o, "  ... and {} more", problems.len() - MAX_LISTED);
    }
    emit(&o, None)?;
    Ok(ExitCode::from(1))
}
