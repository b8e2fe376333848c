//! `numaboot`: the command-line front end of the numaboot crates.
//!
//! Each subcommand lives in its own module under `cmd/` and owns its clap arguments;
//! this file only dispatches. User errors are printed as one line on stderr (no
//! backtrace) and give exit status 2; a command that checks something and finds a
//! problem chooses its own status (1). Output cut short by a closed pipe (`| head`)
//! ends the command quietly with status 0, whichever subcommand was writing.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// NUMA-aware early-boot allocation of POWER per-CPU structures, and the PAPR VPA protocol.
#[derive(Parser)]
#[command(name = "numaboot", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Linux memblock: replay a trace of operations, or benchmark the allocator.
    #[command(subcommand)]
    Memblock(cmd::memblock::MemblockCommand),
    /// Byte layout of a PAPR structure (lppaca, slb-shadow, dtl-entry), Linux's field names.
    Layout(cmd::layout::LayoutArgs),
    /// NUMA topology from a device tree blob or a TOML description.
    Topology(cmd::topology::TopologyArgs),
    /// The hypervisor side of H_REGISTER_VPA: replay a script against a KVM or QEMU model.
    #[command(subcommand)]
    Hv(cmd::hv::HvCommand),
    /// Plan where each CPU's paca, lppaca, SLB shadow and stacks land (table, JSON or SVG).
    Plan(cmd::plan::PlanArgs),
    /// Plan with both strategies (Linux 6.1 and 4.15) and print them side by side.
    Compare(cmd::compare::CompareArgs),
    /// Exit 0 when every per-CPU structure fits and is placed per PAPR, else 1 with reasons.
    Check(cmd::check::CheckArgs),
    /// Read a Linux 6.1 memblock=debug boot log: print its per-CPU placement, or compare a plan with it.
    Verify(cmd::verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Memblock(c) => cmd::memblock::run(c),
        Command::Layout(a) => cmd::layout::run(a),
        Command::Topology(a) => cmd::topology::run(a),
        Command::Hv(c) => cmd::hv::run(c),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Verify(a) => cmd::verify::run(a),
    };
    match result {
        Ok(code) => code,
        Err(err) if cmd::files::is_closed_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Whatever the input held (a newline in a node name), the message is one line.
            eprintln!(
                "numaboot: {}",
                cmd::files::escape_controls(&format!("{err:#}"))
            );
            ExitCode::from(2)
        }
    }
}
