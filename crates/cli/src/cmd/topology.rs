//! `numaboot topology FILE.dtb|FILE.toml|- [--format table|json]`: the NUMA topology
//! Linux would see.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use super::files::{self, Cap};
use super::opts::TableOrJson;
use super::plan::parse_rma_size;
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use phys::{NodeId, PhysSize};
use serde_json::json;
use topology::rma::Mmu;
use topology::{parse_dtb, topology_from_toml, AffinityForm, DtbOptions, DtbReport, Topology};

/// Affinity form choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AffinityArg {
    /// Read it from `/chosen/ibm,architecture-vec-5` (FORM1 if the tree predates CAS).
    Auto,
    /// FORM0.
    Form0,
    /// FORM1.
    Form1,
    /// FORM2.
    Form2,
}

/// MMU choice on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MmuArg {
    /// Hash page table: the RMA is limited.
    Hash,
    /// Radix: real mode is not limited.
    Radix,
}

/// Arguments of `numaboot topology`.
#[derive(Args, Debug)]
pub struct TopologyArgs {
    /// A flattened device tree blob (e.g. from `qemu-system-ppc64 -M pseries,dumpdtb=F`)
    /// or a hand-written TOML topology; `-` reads standard input.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t)]
    pub format: TableOrJson,
    /// The older spelling of `--format json`.
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
    /// Override the RMA size: bytes, `0x` hex, or with a K/M/G/T suffix (as `plan
    /// --rma`).
    #[arg(long, alias = "rma-size", value_name = "SIZE", value_parser = parse_rma)]
    pub rma: Option<PhysSize>,
    /// Affinity form (device tree only; default auto).
    #[arg(long, value_enum)]
    pub affinity: Option<AffinityArg>,
    /// Radix MMU (device tree only): real mode is not limited.
    #[arg(long, conflicts_with = "hash")]
    pub radix: bool,
    /// Hash MMU (device tree only; the default): the RMA is limited.
    #[arg(long)]
    pub hash: bool,
    /// The older spelling of `--radix` / `--hash`.
    #[arg(long, value_enum, hide = true, conflicts_with_all = ["radix", "hash"])]
    pub mmu: Option<MmuArg>,
}

fn parse_rma(s: &str) -> Result<PhysSize, String> {
    parse_rma_size(s).map(PhysSize::new)
}

impl TopologyArgs {
    /// The MMU asked for by `--radix`, `--hash` or the hidden `--mmu`; `None` when not
    /// given.
    fn mmu(&self) -> Option<MmuArg> {
        match (self.radix, self.hash, self.mmu) {
            (true, _, _) => Some(MmuArg::Radix),
            (_, true, _) => Some(MmuArg::Hash),
            (_, _, m) => m,
        }
    }
}

/// Runs `numaboot topology`.
pub fn run(args: TopologyArgs) -> anyhow::Result<ExitCode> {
    let path = &args.file;
    let shown = files::shown(path);
    let bytes = files::read_input(path, Cap::Topology)?;
    let is_dtb = bytes.starts_with(&0xd00d_feedu32.to_be_bytes())
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("dtb"));
    let (topo, report) = if is_dtb {
        let opts = DtbOptions {
            affinity: match args.affinity.unwrap_or(AffinityArg::Auto) {
                AffinityArg::Auto => None,
                AffinityArg::Form0 => Some(AffinityForm::Form0),
                AffinityArg::Form1 => Some(AffinityForm::Form1),
                AffinityArg::Form2 => Some(AffinityForm::Form2),
            },
            rma_override: args.rma,
            mmu: match args.mmu().unwrap_or(MmuArg::Hash) {
                MmuArg::Hash => Mmu::Hash,
                MmuArg::Radix => Mmu::Radix,
            },
            arch_300: None,
        };
        let r = parse_dtb(&bytes, &opts).with_context(|| shown.clone())?;
        (r.topology.clone(), Some(r))
    } else {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            bail!("{shown}: neither a device tree blob (no 0xd00dfeed magic) nor UTF-8 TOML");
        };
        // A TOML topology has no affinity form, and its RMA is either given (`rma_size`)
        // or Linux's hash rule; refuse options that would silently do nothing.
        if args.affinity.is_some() {
            bail!(
                "{shown}: --affinity applies to device trees only (a TOML topology gives its \
                 distances directly)"
            );
        }
        let given = match (args.radix, args.hash, args.mmu) {
            (true, _, _) => Some("--radix"),
            (_, true, _) => Some("--hash"),
            (_, _, Some(_)) => Some("--mmu"),
            _ => None,
        };
        if let Some(opt) = given {
            bail!(
                "{shown}: {opt} applies to device trees only (for a TOML topology, set \
                 rma_size or use --rma)"
            );
        }
        let mut t = topology_from_toml(text)
            .map_err(|e| anyhow::anyhow!("{shown}: {}", files::one_line(&e.to_string())))?;
        if let Some(r) = args.rma {
            t.rma_size = r;
        }
        (t, None)
    };
    let out = match args.format.with_json_alias(args.json) {
        TableOrJson::Json => {
            let mut s = serde_json::to_string_pretty(&to_json(&topo, report.as_ref(), is_dtb))?;
            s.push('\n');
            s
        }
        TableOrJson::Table => to_text(&topo, report.as_ref(), &shown, args.rma.is_some()),
    };
    files::write_stdout(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `0-3,8,10-11` (or `none`): topology's cpulist formatter.
fn id_list(ids: impl IntoIterator<Item = u32>) -> String {
    ::topology::format_id_list(ids)
}

fn human(size: PhysSize) -> String {
    let b = size.as_u64();
    if b == u64::MAX {
        return "unlimited".into();
    }
    if b == 0 {
        return "none".into();
    }
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if b >= 1 << shift && b % (1 << shift) == 0 {
            return format!("{} {unit}", b >> shift);
        }
    }
    format!("{b} bytes")
}

fn form_name(f: AffinityForm) -> &'static str {
    match f {
        AffinityForm::Form0 => "FORM0",
        AffinityForm::Form1 => "FORM1",
        AffinityForm::Form2 => "FORM2",
    }
}

fn to_text(t: &Topology, r: Option<&DtbReport>, source: &str, rma_overridden: bool) -> String {
    let mut o = String::new();
    let kind = if r.is_some() { "device tree" } else { "TOML" };
    let _ = writeln!(o, "source      {source} ({kind})");
    let mode = if t.hypervisor_mode {
        "hypervisor mode (host)"
    } else {
        "LPAR (guest)"
    };
    let _ = writeln!(o, "mode        {mode}");
    if let Some(r) = r {
        let assumed = if r.affinity_assumed {
            " (assumed: no negotiated ibm,architecture-vec-5, tree predates CAS)"
        } else {
            ""
        };
        match r.primary_domain_index {
            Some(i) => {
                let _ = writeln!(
                    o,
                    "affinity    {}{assumed}, primary domain index {i}",
                    form_name(r.affinity)
                );
            }
            None => {
                let _ = writeln!(o, "affinity    NUMA disabled (no usable reference points)");
            }
        }
    }
    let _ = match t.real_mode_limit() {
        phys::Limit::Below(limit) => writeln!(
            o,
            "RMA         {} ({}), real-mode limit {limit}",
            t.rma_size,
            human(t.rma_size)
        ),
        phys::Limit::Anywhere => writeln!(o, "RMA         unlimited, real-mode limit none"),
    };
    if rma_overridden {
        let _ = writeln!(o, "            set by --rma (Linux's rule not applied)");
    }
    if let Some(r) = r {
        let limited = t.real_mode_limit() != phys::Limit::Anywhere && !rma_overridden;
        if let (Some((base, size)), true) = (r.first_memory_block, limited) {
            let clamp = if r.arch_300 {
                "ISA 3.0 clamp 1 TiB"
            } else {
                "pre-ISA-3.0 clamp 1 GiB"
            };
            let _ = writeln!(
                o,
                "            first memory block {base} size {size}, {clamp}"
            );
        }
        if let Some(b) = r.boot_cpu {
            let hw = t.cpus.get(b as usize).map(|c| c.hw_id).unwrap_or(0);
            match r.linux_boot_cpu {
                Some(l) if l != b => {
                    let _ = writeln!(o, "boot CPU    {b} (hw {hw:#x}), Linux logical {l}");
                }
                _ => {
                    let _ = writeln!(o, "boot CPU    {b} (hw {hw:#x})");
                }
            }
        }
        if !r.not_present_cpus.is_empty() {
            let _ = writeln!(
                o,
                "not present Linux logical CPUs {} (hw {}), left out below",
                id_list(r.not_present_cpus.iter().map(|c| c.linux_logical_id)),
                id_list(r.not_present_cpus.iter().map(|c| c.hw_id)),
            );
        }
        if let Some(l) = r.lmb_size {
            let _ = writeln!(o, "LMB size    {l} ({})", human(l));
        }
    }
    let _ = writeln!(o, "CPUs        {}", t.cpus.len());
    let _ = writeln!(o);
    for node in &t.nodes {
        let id = node.id;
        let cpus: Vec<_> = t.cpus_on(id).collect();
        let _ = writeln!(
            o,
            "node {id}: {} CPUs {} (hw {}), memory {}",
            cpus.len(),
            id_list(cpus.iter().map(|c| c.logical_id)),
            id_list(cpus.iter().map(|c| c.hw_id)),
            human(t.memory_size_on(id)),
        );
        for m in t.memory_on(id) {
            let _ = writeln!(o, "    {}-{}", m.base, m.base.saturating_add(m.size));
        }
    }
    let orphans: Vec<_> = t.cpus.iter().filter(|c| c.node.is_none()).collect();
    if !orphans.is_empty() {
        let fallback = t
            .first_online_node()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "no node (NUMA_NO_NODE): CPUs {} (Linux places them on node {fallback})",
            id_list(orphans.iter().map(|c| c.logical_id))
        );
    }
    let orphan_mem: Vec<_> = t.memory.iter().filter(|m| m.node.is_none()).collect();
    if !orphan_mem.is_empty() {
        let _ = writeln!(o, "no node (NUMA_NO_NODE): memory");
        for m in orphan_mem {
            let _ = writeln!(o, "    {}-{}", m.base, m.base.saturating_add(m.size));
        }
    }
    let _ = writeln!(o);
    let _ = write!(o, "{:<14}", "distances");
    for n in &t.nodes {
        let _ = write!(o, "{:>5}", n.id.get());
    }
    let _ = writeln!(o);
    for (i, n) in t.nodes.iter().enumerate() {
        let _ = write!(o, "{:>9}     ", n.id.get());
        for d in t.distances.get(i).map(Vec::as_slice).unwrap_or(&[]) {
            let _ = write!(o, "{d:>5}");
        }
        let _ = writeln!(o);
    }
    if let Some(r) = r {
        for w in &r.warnings {
            let _ = writeln!(o, "warning: {w}");
        }
    }
    o
}

fn to_json(t: &Topology, r: Option<&DtbReport>, is_dtb: bool) -> serde_json::Value {
    let hex = |v: u64| format!("{v:#x}");
    let node_json = |id: NodeId| {
        let cpus: Vec<_> = t.cpus_on(id).collect();
        json!({
            "id": id.get(),
            "cpus": cpus.iter().map(|c| c.logical_id).collect::<Vec<_>>(),
            "hw_ids": cpus.iter().map(|c| c.hw_id).collect::<Vec<_>>(),
            "memory_bytes": t.memory_size_on(id).as_u64(),
            "memory": t.memory_on(id).map(|m| json!({
                "base": hex(m.base.as_u64()), "size": hex(m.size.as_u64()),
            })).collect::<Vec<_>>(),
        })
    };
    let mut v = json!({
        "format": if is_dtb { "dtb" } else { "toml" },
        "hypervisor_mode": t.hypervisor_mode,
        // `null` where there is no limit (hypervisor mode, radix), as in `plan`'s JSON.
        "rma_size": t.real_mode_limit().addr().map(|_| hex(t.rma_size.as_u64())),
        "rma_limit": t.real_mode_limit().addr().map(|a| hex(a.as_u64())),
        "nodes": t.nodes.iter().map(|n| node_json(n.id)).collect::<Vec<_>>(),
        "cpus": t.cpus.iter().map(|c| json!({
            "logical_id": c.logical_id,
            "hw_id": c.hw_id,
            "node": c.node.map(NodeId::get),
            "linux_node": t.cpu_node(c.logical_id).map(NodeId::get),
        })).collect::<Vec<_>>(),
        "memory": t.memory.iter().map(|m| json!({
            "base": hex(m.base.as_u64()),
            "size": hex(m.size.as_u64()),
            "node": m.node.map(NodeId::get),
        })).collect::<Vec<_>>(),
        "distances": t.distances,
    });
    if let (Some(r), Some(obj)) = (r, v.as_object_mut()) {
        obj.insert("affinity".into(), json!(form_name(r.affinity)));
        obj.insert("affinity_assumed".into(), json!(r.affinity_assumed));
        obj.insert("primary_domain_index".into(), json!(r.primary_domain_index));
        obj.insert("boot_cpu".into(), json!(r.boot_cpu));
        obj.insert("linux_boot_cpu".into(), json!(r.linux_boot_cpu));
        obj.insert(
            "not_present_cpus".into(),
            json!(r
                .not_present_cpus
                .iter()
                .map(|c| json!({
                    "linux_logical_id": c.linux_logical_id,
                    "hw_id": c.hw_id,
                    "path": c.path,
                }))
                .collect::<Vec<_>>()),
        );
        obj.insert(
            "lmb_size".into(),
            json!(r.lmb_size.map(|s| hex(s.as_u64()))),
        );
        obj.insert("warnings".into(), json!(r.warnings));
    }
    v
}
