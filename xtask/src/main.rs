//! Developer tasks for numaboot.
//!
//! `cargo xtask e2e` builds the bare-metal guest in `guest/` for powerpc64le, boots it on
//! QEMU's pseries machine with a NUMA configuration, reads the guest's `NB ` report lines
//! from the console and checks them: the run must end cleanly, every secondary CPU must
//! report the home node QEMU was configured with, and every hcall's return code must be
//! the one predicted for it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

mod check;
mod e2e;
mod predict;
mod report;

#[derive(Parser)]
#[command(name = "xtask", about = "numaboot developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot the pseries guest under QEMU and check its report.
    E2e(E2eArgs),
}

/// Options of `cargo xtask e2e`.
#[derive(clap::Args, Clone, Debug)]
pub struct E2eArgs {
    /// Number of virtual CPUs (at most 16: the guest has 16 stacks).
    #[arg(long, default_value_t = 8)]
    pub smp: u32,
    /// Number of NUMA nodes; CPUs are spread over them in equal consecutive blocks.
    #[arg(long, default_value_t = 4)]
    pub nodes: u32,
    /// Firmware: VOF boots in a fraction of a second, SLOF in about five.
    #[arg(long, value_enum, default_value_t = Firmware::Vof)]
    pub firmware: Firmware,
    /// Give every node memory (by default the last node of several is memoryless).
    #[arg(long)]
    pub no_memoryless: bool,
    /// MiB of memory per node that has memory.
    #[arg(long, default_value_t = 256)]
    pub node_mib: u64,
    /// Seconds before the QEMU run counts as hung.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Make the guest advertise a 256-byte lppaca (below PAPR's 640): the run must fail,
    /// which shows that the check catches a broken VPA.
    #[arg(long)]
    pub break_lppaca: bool,
}

/// The pseries firmware QEMU runs before the guest.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Firmware {
    /// QEMU's Virtual Open Firmware (`-M pseries,x-vof=on`).
    Vof,
    /// SLOF, QEMU's default pseries firmware.
    Slof,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::E2e(args) => e2e::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> Result<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

/// Fails with an install hint unless `program` is on PATH.
pub fn require_tool(program: &str, package: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        bail!("`{program}` not found: install the Debian package `{package}` (bash .ci/run does)");
    }
    Ok(())
}
