//! `numaboot memblock ...`.

use std::process::ExitCode;

use clap::Subcommand;

/// The `memblock` subcommands.
#[derive(Subcommand)]
pub enum MemblockCommand {}

/// Runs a `memblock` subcommand.
pub fn run(cmd: MemblockCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
