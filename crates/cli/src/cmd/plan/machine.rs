//! The machine a plan runs on: a DTB or TOML file, or the embedded default, plus the
//! command-line overrides shared by `plan`, `compare` and `check`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use memblock::Memblock;
use percpu::{CallLog, Placement, PlanConfig, PlanError, Strategy};
use phys::PhysSize;
use topology::rma::Mmu;
use topology::{parse_dtb, topology_from_toml, DtbOptions, Topology};

use super::boot;
pub use crate::cmd::files::one_line;
use crate::cmd::files::{self, Cap};

/// The embedded default machine (a 2-socket, 4-node POWER10 LPAR with a 1 GiB RMA); the
/// file explains why it is realistic.
pub const DEFAULT_MACHINE: &str = include_str!("../../../assets/default-machine.toml");

/// How the default machine is named in reports.
pub const DEFAULT_SOURCE: &str = "embedded default machine (2-socket POWER10 LPAR, 4 nodes)";

/// The highest logical CPU id `--possible` accepts plus one (Linux's `NR_CPUS` limit).
const MAX_CPUS: u32 = 8192;

/// `PAGE_SIZE` of the kernel build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PageSizeArg {
    /// 4 KiB pages (`CONFIG_PPC_4K_PAGES`, Debian 13's default flavour).
    #[value(name = "4k")]
    K4,
    /// 64 KiB pages (`CONFIG_PPC_64K_PAGES`, Debian 12's and the `-64k` flavour).
    #[value(name = "64k")]
    K64,
}

impl PageSizeArg {
    /// Bytes.
    pub fn bytes(self) -> u64 {
        match self {
            Self::K4 => 0x1000,
            Self::K64 => 0x1_0000,
        }
    }
}

/// The machine and kernel options common to `plan`, `compare` and `check`. The default
/// is the embedded machine with no option given.
#[derive(Args, Debug, Clone, Default)]
pub struct MachineArgs {
    /// A flattened device tree (`/sys/firmware/fdt`, `qemu-system-ppc64 -M
    /// pseries,dumpdtb=F`) or a TOML topology (see `numaboot topology`); `-` reads
    /// standard input. Without it, the embedded default machine: a 2-socket POWER10
    /// LPAR with 4 nodes, 64 CPUs and a 1 GiB RMA.
    #[arg(value_name = "TOPOLOGY")]
    pub topology: Option<PathBuf>,
    /// Hypervisor mode (PowerNV or a KVM host). Linux 6.1: no lppaca and no real-mode
    /// limit. Linux 4.15: lppacas are still allocated, and the arrays stay below
    /// min(256 MiB, first memory block, 1 GiB) as in a guest.
    #[arg(long)]
    pub hv_mode: bool,
    /// The possible CPUs, a Linux cpulist such as `0-15,32-47` (default: every present
    /// CPU). Present CPUs outside it are not planned; a shorter list makes Linux free
    /// the unused tail of its tables (`free_unused_pacas`).
    #[arg(long, value_name = "CPUS", value_parser = parse_cpulist)]
    pub possible: Option<CpuList>,
    /// Radix MMU: no SLB shadows (kept), radix page tables. Linux 6.1: no real-mode
    /// limit. Linux 4.15: ppc64_rma_size is still min(first memory block, 1 GiB), so the
    /// arrays stay below 256 MiB and the emergency stacks below that size.
    #[arg(long, conflicts_with = "hash")]
    pub radix: bool,
    /// Hash MMU (the default): pacas, lppacas and SLB shadows below the RMA (Linux 6.1:
    /// and below the first segment; Linux 4.15: below min(256 MiB, RMA)).
    #[arg(long)]
    pub hash: bool,
    /// Override the real-mode area size: bytes, `0x` hex, or with a K/M/G/T suffix.
    #[arg(long, value_name = "SIZE", value_parser = parse_rma_size)]
    pub rma: Option<u64>,
    /// `NR_CPUS` of the kernel build (the first `nr_cpu_ids`; default 2048).
    #[arg(long, value_name = "N")]
    pub nr_cpus: Option<u32>,
    /// `sizeof(struct paca_struct)` of the kernel build (default: 0xd00, Debian's 6.1
    /// build, for `linux`; 0xa80 for `linux-4.15`).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub paca_size: Option<u64>,
    /// The kernel image (an unstripped `vmlinux`): its `_end` (Linux reserves
    /// `[0, _end)`), text and RWX boundaries (they split the radix linear mapping).
    /// Default: Debian's `linux-image-6.1.0-50-powerpc64le`.
    #[arg(long, value_name = "VMLINUX", conflicts_with = "kernel_end")]
    pub kernel: Option<PathBuf>,
    /// The kernel build's configuration (`.config`), when it does not lie beside
    /// `--kernel` as Debian's `config-VERSION` does.
    #[arg(long, value_name = "CONFIG")]
    pub kernel_config: Option<PathBuf>,
    /// The kernel image's physical end (`_end`), when no `vmlinux` is at hand.
    #[arg(long, value_name = "ADDR", value_parser = parse_size)]
    pub kernel_end: Option<u64>,
    /// Where firmware loaded the kernel before `prom_init` ran (default: QEMU pseries'
    /// 0x400000); it decides where `prom_init` puts the flattened tree.
    #[arg(long, value_name = "ADDR", value_parser = parse_size)]
    pub load_addr: Option<u64>,
    /// The flattened tree's physical address, instead of `prom_init`'s placement.
    #[arg(long, value_name = "ADDR", value_parser = parse_size)]
    pub fdt_addr: Option<u64>,
    /// `PAGE_SIZE` of the kernel build (default 64k, or the `--kernel`'s configuration):
    /// the paca size, page tables, `prom_init`'s alignment and the kernel image change
    /// with it.
    #[arg(long, value_enum, value_name = "SIZE")]
    pub page_size: Option<PageSizeArg>,
    /// Take the boot facts from a Linux 6.1 console log taken with `memblock=debug`:
    /// the kernel's end, the tree's place and size, the firmware reservations, the
    /// unflattened tree, RTAS, the paca size and the MMU (unless given here).
    #[arg(long, value_name = "LOG")]
    pub facts_from: Option<PathBuf>,
}

/// The options `plan` and `check` share: the machine and kernel options, and the
/// strategy.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    #[command(flatten)]
    pub machine: MachineArgs,
    /// The kernel whose early-boot allocation sequence is modelled (default `linux`,
    /// i.e. 6.1; `verify` defaults to the version the log's banner names).
    #[arg(long, value_parser = crate::cmd::opts::strategy_parser())]
    pub strategy: Option<Strategy>,
}

impl TargetArgs {
    /// The strategy asked for; else the version `--kernel`'s banner names (6.12 and
    /// later: `linux-6.12`); else Linux 6.1.
    pub fn strategy(&self) -> Strategy {
        if let Some(s) = self.strategy {
            return s;
        }
        let from_image = self
            .machine
            .kernel
            .as_ref()
            .and_then(|p| files::read_input(p, Cap::Kernel).ok())
            .and_then(|b| super::kernel::banner_version(&b));
        from_image.map_or(Strategy::Linux61, |(major, minor)| {
            Strategy::for_linux_version(major, minor)
        })
    }

    /// [`prepare`] with these options.
    pub fn prepare(&self, log: CallLog) -> anyhow::Result<(Machine, PlanConfig, Planned)> {
        prepare(&self.machine, self.strategy(), log)
    }
}

/// A loaded machine.
#[derive(Clone, Debug)]
pub struct Machine {
    /// The topology, with the command-line overrides applied.
    pub topo: Topology,
    /// Where it came from (a path, or the default's description).
    pub source: String,
    /// `"dtb"`, `"toml"` or `"embedded"`.
    pub format: &'static str,
    /// The boot CPU (from `/chosen` of a device tree; else 0).
    pub boot_cpu: u32,
    /// What a device tree says beyond the topology (`None` for TOML and the default).
    pub tree: Option<boot::TreeInfo>,
}

/// A parsed cpulist, ascending, without duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(pub Vec<u32>);

/// Parses a cpulist (`0-15,32-47`, `7`, `0-3,8`) with topology's parser, shared with
/// the TOML topology format; an empty entry (`0,,1`) and ids at or above `NR_CPUS`
/// (8192) are refused.
pub fn parse_cpulist(s: &str) -> Result<CpuList, String> {
    if s.split(',').any(|p| p.trim().is_empty()) {
        return Err(format!("empty entry in cpulist `{s}`"));
    }
    let mut out = topology::parse_id_list(s, MAX_CPUS as usize)?;
    if let Some(&v) = out.iter().find(|&&v| v >= MAX_CPUS) {
        return Err(format!("CPU {v} is not below NR_CPUS ({MAX_CPUS})"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(CpuList(out))
}

/// Parses a size, the one parser of every size and address option: decimal or `0x`
/// hex, optionally with a binary unit K, M, G or T (also written `KiB`/`KB`); a decimal
/// number may end in `B`. `1G`, `512MiB`, `0x40000000`, `0x100k`, `4096`, `100B`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let hex = lower.starts_with("0x");
    let mut num = lower.as_str();
    let mut shift = 0;
    for (unit, sh) in [('k', 10), ('m', 20), ('g', 30), ('t', 40)] {
        let stripped = num
            .strip_suffix("ib")
            .or_else(|| num.strip_suffix('b'))
            .unwrap_or(num);
        if let Some(rest) = stripped.strip_suffix(unit) {
            num = rest;
            shift = sh;
            break;
        }
    }
    // `b` is a hex digit: only a decimal number may name its unit as bytes.
    if shift == 0 && !hex {
        num = num.strip_suffix('b').unwrap_or(num);
    }
    let num = num.trim();
    if num.is_empty() || num == "0x" {
        return Err(format!("`{t}`: no number"));
    }
    let v = phys::parse_u64(num).map_err(|e| format!("`{t}`: {e}"))?;
    v.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{t}` does not fit in 64 bits"))
}

/// [`parse_size`] for an RMA size, which cannot be 0: Linux allocates the boot CPU's
/// paca in it (as the TOML `rma_size` check says too).
pub fn parse_rma_size(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        0 => Err("the real-mode area cannot be empty".into()),
        v => Ok(v),
    }
}

/// Whether `bytes` look like a flattened device tree.
fn is_dtb(bytes: &[u8], path: &std::path::Path) -> bool {
    bytes.starts_with(&0xd00d_feedu32.to_be_bytes())
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("dtb"))
}

/// Loads the machine and applies `--hv-mode` and `--rma`.
pub fn load(args: &MachineArgs) -> anyhow::Result<Machine> {
    let mut m = match &args.topology {
        None => Machine {
            topo: topology_from_toml(DEFAULT_MACHINE).context("embedded default machine")?,
            source: DEFAULT_SOURCE.into(),
            format: "embedded",
            boot_cpu: 0,
            tree: None,
        },
        Some(path) => {
            let shown = files::shown(path);
            let bytes = files::read_input(path, Cap::Topology)?;
            if is_dtb(&bytes, path) {
                let opts = DtbOptions {
                    affinity: None,
                    rma_override: args.rma.map(PhysSize::new),
                    mmu: Mmu::Hash,
                    arch_300: None,
                };
                let r = parse_dtb(&bytes, &opts).with_context(|| shown.clone())?;
                let tree = boot::TreeInfo::new(&r, &bytes).with_context(|| shown.clone())?;
                Machine {
                    boot_cpu: r.boot_cpu.unwrap_or(0),
                    topo: r.topology,
                    source: shown,
                    format: "dtb",
                    tree: Some(tree),
                }
            } else {
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    bail!(
                        "{shown}: neither a device tree blob (no 0xd00dfeed magic) nor UTF-8 TOML"
                    );
                };
                let topo = topology_from_toml(text)
                    .map_err(|e| anyhow::anyhow!("{shown}: {}", one_line(&e.to_string())))?;
                Machine {
                    topo,
                    source: shown,
                    format: "toml",
                    boot_cpu: 0,
                    tree: None,
                }
            }
        }
    };
    if let Some(rma) = args.rma {
        m.topo.rma_size = PhysSize::new(rma);
    }
    if args.hv_mode {
        m.topo.hypervisor_mode = true;
    }
    if m.topo.cpus.is_empty() {
        bail!("{}: the machine has no CPUs", m.source);
    }
    for note in boot::notes(&m, args) {
        let line = format!("{}: {note}", m.source);
        eprintln!("numaboot: note: {}", files::escape_controls(&line));
    }
    Ok(m)
}

/// The plan configuration for `m` with the command-line options.
pub fn config(m: &Machine, args: &MachineArgs, strategy: Strategy) -> anyhow::Result<PlanConfig> {
    let mut cfg = PlanConfig::for_topology(&m.topo, strategy);
    cfg.hypervisor_mode = m.topo.hypervisor_mode;
    cfg.radix = args.radix;
    cfg.boot_cpu = m.boot_cpu;
    if let Some(n) = args.nr_cpus {
        if n == 0 || n > MAX_CPUS {
            bail!("--nr-cpus {n}: must be 1 to {MAX_CPUS}");
        }
        cfg.nr_cpu_ids = n;
    }
    if let Some(ps) = args.paca_size {
        cfg.paca_size = PhysSize::new(ps);
    }
    boot::apply(m, args, &mut cfg)?;
    if let Some(CpuList(list)) = &args.possible {
        let len = list
            .iter()
            .map(|&c| c as usize + 1)
            .max()
            .unwrap_or(0)
            .max(m.topo.cpus.len());
        let mut possible = vec![false; len];
        for &c in list {
            possible[c as usize] = true;
        }
        cfg.possible = possible;
    }
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", m.source))?;
    Ok(cfg)
}

/// A plan's placement and the memblock state it left, or why it does not fit.
pub type Planned = Result<(Placement, Memblock), PlanError>;

/// Says on stderr that the `strategy` plan of `m` does not fit (Linux would panic) and
/// gives the exit status for it, 1: the one message `plan` and `verify` print.
pub fn no_fit(m: &Machine, strategy: Strategy, e: &PlanError) -> std::process::ExitCode {
    eprintln!(
        "numaboot: {}: the {strategy} plan does not fit: {e} (Linux would panic here)",
        m.source
    );
    std::process::ExitCode::from(1)
}

/// Plans `cfg` on a fresh memblock holding `m`'s memory; returns the placement and the
/// memblock state it left.
///
/// The memblock calls are kept in the placement or not (`log`): only a replay script
/// and `compare`'s call counts read them, and at 8192 CPUs they are
/// megabytes.
pub fn plan(m: &Machine, cfg: &PlanConfig, log: CallLog) -> Planned {
    let mut mb = Memblock::new();
    let p = percpu::boot_with(&mut mb, &m.topo, cfg, log)?;
    Ok((p, mb))
}

/// What `plan`, `check` and `compare` share: load the machine, build the configuration
/// for `strategy` and plan it. An unusable input or configuration is an error (exit
/// 2); a plan that does not fit is the inner `Err` for the caller to report.
pub fn prepare(
    args: &MachineArgs,
    strategy: Strategy,
    log: CallLog,
) -> anyhow::Result<(Machine, PlanConfig, Planned)> {
    let m = load(args)?;
    let (cfg, planned) = prepare_on(&m, args, strategy, log)?;
    Ok((m, cfg, planned))
}

/// [`prepare`] on an already loaded machine (for `compare`, which plans it twice).
pub fn prepare_on(
    m: &Machine,
    args: &MachineArgs,
    strategy: Strategy,
    log: CallLog,
) -> anyhow::Result<(PlanConfig, Planned)> {
    let cfg = config(m, args, strategy)?;
    match plan(m, &cfg, log) {
        Err(PlanError::Config(e)) => bail!("{}: {e}", m.source),
        planned => Ok((cfg, planned)),
    }
}

/// `0-3,8,10-11` (or `none`): topology's cpulist formatter, shared with `numaboot
/// topology`.
pub fn id_list(ids: impl IntoIterator<Item = u32>) -> String {
    topology::format_id_list(ids)
}

/// Bytes for people: `1 GiB`, `2.6 KiB`, `640 B`; `unlimited` for `u64::MAX`.
pub fn human(b: u64) -> String {
    if b == u64::MAX {
        return "unlimited".into();
    }
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        let one = 1u64 << shift;
        if b >= one {
            if b % one == 0 {
                return format!("{} {unit}", b >> shift);
            }
            return format!("{:.1} {unit}", b as f64 / one as f64);
        }
    }
    format!("{b} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpulists() {
        assert_eq!(parse_cpulist("0-3,8"), Ok(CpuList(vec![0, 1, 2, 3, 8])));
        assert_eq!(parse_cpulist("5,5"), Ok(CpuList(vec![5])));
        assert!(parse_cpulist("3-1").is_err());
        assert!(parse_cpulist("0,,1").is_err());
        assert!(parse_cpulist("9000").is_err());
        assert!(parse_cpulist("x").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("0x40000000"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("0xab"), Ok(0xab));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("0x100k"), Ok(0x100 << 10));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("2 KiB"), Ok(2048));
        assert_eq!(parse_size("0x1b"), Ok(0x1b));
        assert!(parse_size("G").is_err());
        assert!(parse_size("0xk").is_err());
        assert!(parse_size("1Q").is_err());
        assert!(parse_size("99999999T").is_err());
    }

    #[test]
    fn default_machine_parses() {
        let t = topology_from_toml(DEFAULT_MACHINE).unwrap();
        assert_eq!(t.cpus.len(), 64);
        assert_eq!(t.nodes.len(), 4);
        assert_eq!(t.rma_size.as_u64(), 1 << 30);
        assert_eq!(t.cpus[16].hw_id, 0x20);
    }

    #[test]
    fn parser_messages_become_one_line() {
        let e = topology_from_toml("[[nodes]]\nid = \"zero\"\n").unwrap_err();
        let line = one_line(&e.to_string());
        assert!(!line.contains('\n'));
        assert!(line.contains("line 2, column 6"), "{line}");
        assert!(line.contains("expected u32"), "{line}");
        assert!(!line.contains("^"), "{line}");
    }

    #[test]
    fn ids_and_sizes_for_people() {
        assert_eq!(id_list([3, 0, 1, 2, 8]), "0-3,8");
        assert_eq!(id_list([]), "none");
        assert_eq!(human(1 << 30), "1 GiB");
        assert_eq!(human(2688), "2.6 KiB");
        assert_eq!(human(640), "640 B");
    }
}
