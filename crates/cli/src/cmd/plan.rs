//! `numaboot plan [TOPOLOGY]`: where each CPU's paca, lppaca, SLB shadow and stacks land
//! on a machine, whether they are node-local, what they cost, and whether they fit below
//! the real-mode limit.
//!
//! The machine is a device tree blob, a TOML topology, or (without an argument) the
//! embedded default machine in `crates/cli/assets/default-machine.toml`. The plan is
//! [`percpu::boot`] on a fresh memblock: Linux's own early-boot allocation sequence.
//!
//! # Formats
//!
//! * `table` (default): one row per possible CPU, each structure's address and the node
//!   of its memory (`!` when that is not the CPU's node), then the shared structures, a
//!   per-node summary and totals. `--summary` leaves the per-CPU rows out: the header,
//!   the shared structures, the per-node table, the totals and the findings, a few
//!   dozen lines whatever the number of CPUs.
//! * `json`: the same data as one JSON document, schema below.
//! * `svg`: a per-node memory map (see the `svg` module): the whole address space with
//!   the real-mode limit, and a heat strip of the ranges holding structures.
//! * `replay`: every memblock call of the plan ([`percpu::Placement::replay_script`]),
//!   from the empty memblock on; `numaboot memblock replay` rebuilds from it the
//!   reserved list the JSON's `memblock_reserved` shows.
//!
//! # JSON schema, version 2
//!
//! The root object (written by the `json` module from the typed `model::PlanReport`):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `schema_version` | integer | `2` (version 1 had `home_node` from the topology, `null` for CPUs without a node); bumped on any incompatible change |
//! | `numaboot_version` | string | the writer's version |
//! | `machine` | object | `source`, `format` (`dtb`/`toml`/`embedded`), `cpus` (present), `nodes` (ids), `memory_bytes`, `rma_size` (hex or null = unlimited), `hypervisor_mode` |
//! | `config` | object | `strategy` (`linux-6.1`/`linux-4.15`), `mmu` (`hash`/`radix`), `hypervisor_mode`, `nr_cpu_ids_initial`, `nr_cpu_ids_final`, `possible` (cpulist), `boot_cpu`, `paca_size`, `thread_size`, `real_mode_limit` (hex or null) |
//! | `cpus[]` | array | per possible CPU: `cpu`, `hw_id`, `node`, `all_local`, `structures[]`, `lppaca_in_kernel_image` (Linux 4.15 CPU 0: the static `lppaca[0]`, not listed in `structures`) |
//! | `shared[]` | array | structures of no single CPU (`paca_ptrs`, `cpu_to_phys_id`, Linux 4.15 arrays, radix `page_table`s, `process_table` and `partition_table`, `device_tree`, `rtas_buffer`) |
//! | `nodes[]` | array | per node: `node`, `cpus` (cpulist), `memory_bytes`, `structures`, `local`, `locality_percent`, `fallbacks` (of the node's CPUs), `used`, `wasted`, `allocations`, `reserved_regions`, `hosted_remote` (in the node's memory) |
//! | `totals` | object | `cpus`, `structures`, `local`, `locality_percent`, `fallbacks` (a node was asked and another given), `remote` (off the CPU's home node for any reason), `used`, `wasted`, `allocations`, `reserved_regions`, `bytes_per_cpu`, `real_mode_highest_end` (hex or null) |
//! | `findings[]` | array of strings | notable Linux behaviour (leaks, capped CPUs, 4.15 frees) |
//! | `memblock_reserved[]` | array | memblock's reserved regions at the end, `base` and `size` (hex), ascending |
//!
//! A structure: `kind` (`paca`, `lppaca`, `slb_shadow`, `softirq_stack`,
//! `hardirq_stack`, `emergency_stack`, `nmi_emergency_stack`, `mc_emergency_stack`, or a
//! shared kind), `cpu`, `addr` (hex string: JSON numbers lose bits above 2^53), `size`
//! and `reserved` (bytes), `node` (of its memory), `home_node` (for a per-CPU structure
//! `early_cpu_to_node(cpu)`: the first online node for a present CPU without one, node 0
//! for a possible CPU that is not present), `requested_node` (null: `NUMA_NO_NODE`),
//! `local` (`node == home_node`), `outcome` (`local`: the requested node was given,
//! `fallback`, `no_node_requested`; where a node was requested it is the home node, so
//! `local` and outcome `local` agree), `reason` (why it fell back or asked for no node),
//! `in_array`.
//! Node ids are integers or null (no node). Byte counts are integers.

mod boot;
mod checks;
mod json;
mod kernel;
mod machine;
mod model;
mod svg;
mod table;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use percpu::CallLog;

pub use checks::check_placement_on;
pub use json::{write as write_json, Findings};
pub use machine::{
    human, load, no_fit, parse_rma_size, parse_size, prepare_on, MachineArgs, PageSizeArg,
    TargetArgs,
};
pub use model::{build, finding_text, PlanReport};
// For `numaboot verify`, which renders an observed placement like a plan.
pub use machine::Machine;
pub use table::{write as write_table, TableOptions};

/// Output format of `numaboot plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One row per CPU, then per-node totals.
    Table,
    /// The report as JSON (schema version 2).
    Json,
    /// A per-node memory map.
    Svg,
    /// The memblock calls the plan made, as a `numaboot memblock replay` script.
    Replay,
}

const EXAMPLES: &str = "\
Examples:
  numaboot plan                                  # the embedded 4-node POWER10 LPAR
  numaboot plan /sys/firmware/fdt                # this machine's device tree
  numaboot plan guest.dtb --strategy linux-4.15  # before the 2018 series
  numaboot plan machine.toml --possible 0-15,32-47 --format json -o plan.json
  numaboot plan --radix --format svg -o map.svg
  numaboot plan big.dtb --summary                # per-node totals, no per-CPU rows
  qemu-system-ppc64 ... -M pseries,dumpdtb=/dev/stdout | numaboot plan -
  numaboot plan --format replay | numaboot memblock replay -   # memblock's final state";

/// Arguments of `numaboot plan`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the output to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Table without the per-CPU rows: the header, the shared structures, the per-node
    /// table, the totals and the findings.
    #[arg(long)]
    pub summary: bool,
    /// Print to standard error how long loading and planning, building the report and
    /// writing it took (for the output benchmarks in BENCHMARKS.md).
    #[arg(long)]
    pub timings: bool,
}

/// Writes `text` to `path`, or to standard output (`-` or none); a closed pipe (`|
/// head`) ends the output quietly.
pub fn emit(text: &str, path: Option<&PathBuf>) -> anyhow::Result<()> {
    emit_with(path, |w| w.write_all(text.as_bytes()))
}

/// Where [`emit_with`] streams to: a file or standard output behind one buffer, so the
/// many small writes of a formatter stay cheap calls into the buffer.
pub type Output = io::BufWriter<Box<dyn Write>>;

/// Lets `write` stream its output, buffered, to `path` or to standard output (`-` or
/// none), and flushes it; a closed pipe (`| head`) ends the output quietly. Nothing is
/// held whole in memory, whatever the size of the document.
pub fn emit_with(
    path: Option<&PathBuf>,
    write: impl FnOnce(&mut Output) -> io::Result<()>,
) -> anyhow::Result<()> {
    const BUFFER: usize = 64 << 10;
    match path {
        Some(p) if !super::files::is_stdin(p) => {
            let file = std::fs::File::create(p)
                .with_context(|| format!("{}: cannot write", p.display()))?;
            let mut out: Output = io::BufWriter::with_capacity(BUFFER, Box::new(file));
            write(&mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("{}: cannot write", p.display()))
        }
        _ => {
            let mut out: Output =
                io::BufWriter::with_capacity(BUFFER, Box::new(io::stdout().lock()));
            match write(&mut out).and_then(|()| out.flush()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    Err(super::files::OutputError(e).into())
                }
                _ => Ok(()),
            }
        }
    }
}

/// Runs `numaboot plan`.
pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    if args.summary && args.format != Format::Table {
        anyhow::bail!("--summary applies to --format table only");
    }
    let strategy = args.target.strategy();
    let started = Instant::now();
    // Only the replay script reads the memblock calls.
    let log = if args.format == Format::Replay {
        CallLog::Keep
    } else {
        CallLog::Discard
    };
    let (m, cfg, planned) = args.target.prepare(log)?;
    let planned_at = Instant::now();
    let (p, mb) = match planned {
        Ok(x) => x,
        Err(e) => return Ok(machine::no_fit(&m, strategy, &e)),
    };
    let out = args.output.as_ref();
    let built_at = if args.format == Format::Replay {
        let built_at = Instant::now();
        emit_with(out, |w| {
            p.memblock_trace()
                .iter()
                .try_for_each(|op| writeln!(w, "{op}"))
        })?;
        built_at
    } else {
        let report = build(&m, &cfg, &p, &mb);
        let built_at = Instant::now();
        emit_with(out, |w| match args.format {
            Format::Json => json::write(w, &report),
            Format::Svg => svg::write(w, &m, &p, &report),
            Format::Table | Format::Replay => table::write(
                w,
                &report,
                TableOptions {
                    command: "numaboot plan",
                    summary: args.summary,
                },
            ),
        })?;
        built_at
    };
    if args.timings {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        eprintln!(
            "numaboot: timings: load and plan {:.1} ms, report {:.1} ms, output {:.1} ms",
            ms(planned_at - started),
            ms(built_at - planned_at),
            ms(built_at.elapsed())
        );
    }
    Ok(ExitCode::SUCCESS)
}
