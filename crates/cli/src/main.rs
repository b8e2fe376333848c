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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
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

/// A command-line error as one line like every other error (`numaboot: invalid value
/// ...`, with clap's tips), exit status 2; help and version go to standard output as
/// clap prints them, and a bare `numaboot` still shows the whole help.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if !e.use_stderr() {
        // `--help`, `--version`; a closed pipe is no reason to fail.
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return ExitCode::from(2);
    }
    let text = e.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let mut msg = first.strip_prefix("error: ").unwrap_or(first).to_string();
    // Keep what helps (`tip: a similar argument exists`, `[possible values: ...]`,
    // the missing arguments), drop the usage line and the pointer to --help.
    for extra in
        lines.filter(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
    {
        match extra.strip_prefix("tip: ") {
            Some(tip) => {
                msg.push_str("; ");
                msg.push_str(tip);
            }
            None => {
                msg.push(' ');
                msg.push_str(extra);
            }
        }
    }
    eprintln!("numaboot: {}", cmd::files::escape_controls(&msg));
    ExitCode::from(2)
}
