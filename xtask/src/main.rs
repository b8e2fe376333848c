//! Developer tasks for numaboot.
//!
//! `cargo xtask e2e` builds the bare-metal guest in `guest/` for powerpc64le, boots it on
//! QEMU's pseries machine with a NUMA configuration, reads the guest's `NB ` report lines
//! from the console and checks them: the run must end cleanly, every secondary CPU must
//! report the home node QEMU was configured with, and every hcall's return code must be
//! the one predicted for it.
//!
//! `cargo xtask linux-boot` boots a real Debian Linux 6.1 ppc64le kernel on the same
//! machine shapes with `memblock=debug`, keeps its console log and device trees, checks
//! the log's paca addresses against the running kernel's `paca_ptrs`, and runs
//! `numaboot verify` on the result.
//!
//! `cargo xtask hv-live` runs `numaboot hv replay` scripts inside the same guest
//! against real QEMU; `cargo xtask hv-diff` compares them (and generated ones) with the
//! `vpa-hv` `qemu` profile.
//!
//! `cargo xtask package-check` packages every library crate and tests the packages in
//! isolation (see `package.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

mod check;
mod e2e;
mod hv;
mod linux;
mod machine;
mod package;
mod predict;
mod report;
mod strategy;

use strategy::GuestStrategy;

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
    /// Boot Debian's Linux 6.1 under QEMU with memblock=debug and verify numaboot's plan
    /// against it.
    LinuxBoot(LinuxBootArgs),
    /// Run `numaboot hv replay` scripts against real QEMU (a live guest) and print
    /// their output in `hv replay`'s format.
    HvLive(hv::HvLiveArgs),
    /// Run scripts (and `--random N` generated ones) live and on the vpa-hv `qemu`
    /// profile; exit 1 at any difference.
    HvDiff(hv::HvDiffArgs),
    /// `cargo package` every library crate, then build and test the unpacked packages
    /// on their own (a throw-away workspace patching each to its unpacked sibling).
    PackageCheck(package::PackageCheckArgs),
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
    /// Move the last CPU's lppaca across a 4 KiB boundary (the guest still reports and
    /// registers it): the run must fail, and the host's check of guest memory must name
    /// that CPU.
    #[arg(long, conflicts_with = "break_lppaca")]
    pub break_lppaca_cross: bool,
    /// The allocation strategy the guest plans with (`percpu`'s name): Linux 6.1's, or
    /// one beyond Linux with 640-byte lppacas, which QEMU must accept and the
    /// `kvm-pre-4.14` model must refuse.
    #[arg(long, value_enum, default_value_t = GuestStrategy::Linux)]
    pub strategy: GuestStrategy,
}

/// Options of `cargo xtask linux-boot`.
#[derive(clap::Args, Clone, Debug)]
pub struct LinuxBootArgs {
    /// Number of virtual CPUs.
    #[arg(long, default_value_t = 8)]
    pub smp: u32,
    /// Number of NUMA nodes; CPUs are spread over them in equal consecutive blocks.
    #[arg(long, default_value_t = 4)]
    pub nodes: u32,
    /// MMU the kernel uses: `hash` adds `disable_radix` to the command line.
    #[arg(long, value_enum, default_value_t = Mmu::Radix)]
    pub mmu: Mmu,
    /// Give every node memory (by default the last node of several is memoryless).
    #[arg(long)]
    pub no_memoryless: bool,
    /// MiB of memory per node that has memory.
    #[arg(long, default_value_t = 1024)]
    pub node_mib: u64,
    /// The Debian kernel to fetch: bookworm's 6.1, or trixie's 6.12 with 4 KiB or 64 KiB
    /// pages (`numaboot verify` then plans with `--strategy linux-6.12`).
    #[arg(long, value_enum, default_value_t = linux::kernel::Flavour::L61)]
    pub linux: linux::kernel::Flavour,
    /// The vmlinux to boot instead (default: the newest package of `--linux`, fetched
    /// with apt into target/linux-kernel/).
    #[arg(long, value_name = "VMLINUX")]
    pub kernel: Option<PathBuf>,
    /// Directory for console.log, dumped.dtb and booted.dtb (default
    /// target/linux-boot/SHAPE/).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Seconds to wait for the kernel to reach "Unable to mount root fs".
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Stop after the boot and the paca check; do not run `numaboot verify`.
    #[arg(long)]
    pub no_verify: bool,
}

/// The MMU mode Linux runs the pseries guest in.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mmu {
    /// Radix page tables (the default on POWER9 and QEMU's pseries).
    Radix,
    /// The hashed page table, forced with `disable_radix`.
    Hash,
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
        Command::LinuxBoot(args) => linux::run(&args),
        Command::HvLive(args) => hv::live(&args),
        Command::PackageCheck(args) => package::run(&args),
        Command::HvDiff(args) => match hv::diff(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
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
