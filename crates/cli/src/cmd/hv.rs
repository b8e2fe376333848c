//! `numaboot hv replay`: drive the `vpa-hv` hypervisor model from a script.
//!
//! The script is one command per line (`#` starts a comment):
//!
//! ```text
//! write ADDR HEXBYTES     store bytes in guest memory
//! write16 ADDR VALUE      store a big-endian 16-bit value (a VPA size field)
//! hcall FLAGS PROC ADDR   H_REGISTER_VPA; prints the return code name
//! dispatch CPU            the vCPU enters the guest
//! preempt CPU             the vCPU leaves the guest
//! read ADDR LEN           prints LEN bytes of guest memory in hex
//! state CPU               prints what the vCPU has registered
//! ```
//!
//! Numbers are decimal or `0x` hex. A malformed line, or a dispatch hook called out of
//! order, stops the replay with `line N: ...` and exit status 2. Failing to write the
//! output is not a script error: a closed pipe (`... | head -1`) ends the replay
//! quietly with status 0, as `numaboot layout` does, and any other write error is
//! reported as `writing output: ...` with status 2.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use vm_memory::{GuestAddress, GuestMemoryMmap};
use vpa_hv::script::{self, Output, ScriptError};

use super::files::{self, Cap};
use super::opts::parse_size;
use vpa_hv::{GuestRam, HostPageSize, Partition, Profile};

/// The `hv` subcommands.
#[derive(Subcommand)]
pub enum HvCommand {
    /// Replay a script of guest-memory writes, H_REGISTER_VPA calls and dispatches.
    #[command(after_help = script_help())]
    Replay(ReplayArgs),
}

/// Arguments of `numaboot hv replay`.
#[derive(Args)]
pub struct ReplayArgs {
    /// Whose H_REGISTER_VPA rules to follow.
    #[arg(long, value_enum)]
    pub profile: Profile,
    /// Guest memory size from address 0: bytes, `0x` hex, or with a K/M/G/T suffix.
    #[arg(long, default_value = "1G", value_name = "SIZE", value_parser = parse_size)]
    pub mem: u64,
    /// Number of vCPUs; their proc-nos (hardware ids) are 0..N-1.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub cpus: u32,
    /// KVM host page size, the page a KVM registration must not cross (QEMU: always 4k).
    #[arg(long, value_enum, default_value = "64k")]
    pub host_page: HostPageSize,
    /// After each hcall's return code, print the rule that decided it.
    #[arg(long)]
    pub explain: bool,
    /// The script (`-` for standard input); `crates/cli/examples/hv/` has examples.
    pub file: PathBuf,
}

const SCRIPT_HELP: &str = "\
Script lines (numbers decimal or 0x hex, # starts a comment):
  write ADDR HEXBYTES     store bytes in guest memory
  write16 ADDR VALUE      store a big-endian 16-bit value (a VPA size field)
  hcall FLAGS PROC ADDR   H_REGISTER_VPA (FLAGS = subfunction << 45); prints the code
  dispatch CPU            the vCPU enters the guest
  preempt CPU             the vCPU leaves the guest
  read ADDR LEN           print LEN bytes of guest memory in hex
  state CPU               print what the vCPU has registered
`hcall` is the bare handler: no guest exit is implied. Under the KVM profiles a
registration takes effect at the vCPU's next `dispatch`, as in KVM.
Script errors print `line N: ...` and exit with status 2; a closed output pipe
ends the replay quietly. Examples: crates/cli/examples/hv/*.hvs, e.g.
  numaboot hv replay --profile kvm crates/cli/examples/hv/register-vpa.hvs";

/// The help after the options: the script language and the subfunction table, made
/// from `papr`'s own list so that it cannot drift from what the model accepts.
fn script_help() -> String {
    let mut s = String::from(SCRIPT_HELP);
    s.push_str("\n\nH_REGISTER_VPA subfunctions (FLAGS; 0 and 4 are reserved):\n");
    for sub in papr::hcall::VpaSubfunction::ALL {
        s.push_str(&format!(
            "  {}  {:#x}  {}\n",
            sub.code(),
            sub.to_flags(),
            sub.name()
        ));
    }
    s
}

/// Most vCPUs a replay may have.
const MAX_CPUS: u32 = 65_536;

/// Runs an `hv` subcommand.
pub fn run(cmd: HvCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        HvCommand::Replay(args) => replay_cmd(args),
    }
}

fn replay_cmd(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let mem = args.mem;
    if mem == 0 {
        bail!("--mem must be at least one byte");
    }
    if args.cpus == 0 || args.cpus > MAX_CPUS {
        bail!("--cpus must be between 1 and {MAX_CPUS}");
    }
    let script = files::read_text(&args.file, Cap::Script)?;
    let len = usize::try_from(mem).context("--mem does not fit in this host's address space")?;
    let memory = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), len)])
        .map_err(|e| anyhow!("cannot map {mem} bytes of guest memory: {e}"))?;
    let ids: Vec<u32> = (0..args.cpus).collect();
    let mut hv = Partition::new(args.profile, memory, &ids)?;
    hv.set_host_page_size(args.host_page);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = replay(&mut hv, &script, &mut out, args.explain);
    // What the script printed before an error is still wanted; a script error wins
    // over a failure to write that output.
    let flushed = out.flush();
    let result = result.and_then(|()| flushed.map_err(|e| OutputError(e).into()));
    match result {
        Err(err) if is_broken_pipe(&err) => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS),
    }
}

/// Writing the replay's output failed: an I/O error of the output, not of the script,
/// so it carries no line number.
#[derive(Debug)]
pub struct OutputError(pub io::Error);

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing output: {}", self.0)
    }
}

impl std::error::Error for OutputError {}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.downcast_ref::<OutputError>()
        .is_some_and(|e| e.0.kind() == io::ErrorKind::BrokenPipe)
}

/// `io::Write` as the script runner's line sink.
struct Lines<'a, W>(&'a mut W);

impl<W: Write> Output for Lines<'_, W> {
    type Error = io::Error;
    fn line(&mut self, text: std::fmt::Arguments<'_>) -> io::Result<()> {
        self.0.write_fmt(text)?;
        self.0.write_all(b"\n")
    }
}

/// Executes `script` against `hv`, writing what `hcall`, `read` and `state` print.
///
/// The language, its parser and its printer are `vpa_hv::script`'s, shared with the
/// live runs of `cargo xtask hv-diff`. A script error is reported as `line N: ...`; a
/// failure to write to `out` is an [`OutputError`], without a line number.
pub fn replay<M: GuestRam, W: Write>(
    hv: &mut Partition<M>,
    script: &str,
    out: &mut W,
    explain: bool,
) -> anyhow::Result<()> {
    script::run(hv, script, &mut Lines(out), explain).map_err(|e| match e {
        ScriptError::Output(o) => anyhow::Error::new(OutputError(o)),
        other => anyhow!("{other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpa_hv::VecRam;

    fn run(profile: Profile, script: &str) -> anyhow::Result<String> {
        let mut hv = Partition::new(profile, VecRam::new(1 << 20), &[0, 1]).unwrap();
        let mut out = Vec::new();
        replay(&mut hv, script, &mut out, false)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// A writer whose every write fails with `kind`.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_errors_are_not_script_errors() {
        let mut hv = Partition::new(Profile::Kvm, VecRam::new(1 << 20), &[0]).unwrap();
        let mut out = Failing(io::ErrorKind::BrokenPipe);
        let err = replay(&mut hv, "\nread 0 1\n", &mut out, false).unwrap_err();
        assert!(is_broken_pipe(&err), "{err:#}");
        assert!(!err.to_string().contains("line"), "{err:#}");
        let mut out = Failing(io::ErrorKind::PermissionDenied);
        let err = replay(&mut hv, "state 0\n", &mut out, false).unwrap_err();
        assert!(!is_broken_pipe(&err));
        assert_eq!(err.to_string(), "writing output: permission denied");
        // A script error is still one, whatever the writer.
        let err = replay(&mut hv, "state 9\n", &mut out, false).unwrap_err();
        assert_eq!(err.to_string(), "line 1: no vCPU has proc-no 9");
        assert!(!is_broken_pipe(&err));
    }

    #[test]
    fn help_lists_every_subfunction() {
        let h = script_help();
        for (code, flags) in [
            (1, 0x2000_0000_0000u64),
            (3, 0x6000_0000_0000),
            (7, 0xe000_0000_0000),
        ] {
            assert!(h.contains(&format!("  {code}  {flags:#x}  H_VPA_")), "{h}");
        }
    }

    #[test]
    fn register_read_state() {
        let out = run(
            Profile::Qemu,
            "write16 0x1004 640\nhcall 0x200000000000 0 0x1000\nread 0x1009 1\nstate 0\n",
        )
        .unwrap();
        assert_eq!(
            out,
            "H_SUCCESS\n02\ncpu 0: not running; vpa 0x1000 len 640; dtl none; slb none; yield_count 0\n"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = run(Profile::Kvm, "# comment\n\nhcall 1 2\n").unwrap_err();
        assert_eq!(err.to_string(), "line 3: missing ADDR");
        let err = run(Profile::Kvm, "preempt 0").unwrap_err();
        assert_eq!(err.to_string(), "line 1: vCPU 0 is not running");
        let err = run(Profile::Kvm, "write 0 abc").unwrap_err();
        assert!(err.to_string().starts_with("line 1: HEXBYTES"));
        let err = run(Profile::Kvm, "write 0xfffff 0102").unwrap_err();
        assert!(err.to_string().starts_with("line 1: "), "{err}");
        let err = run(Profile::Kvm, "jump 1").unwrap_err();
        assert_eq!(err.to_string(), "line 1: unknown command \"jump\"");
        let err = run(Profile::Kvm, "write16 0 0x10000").unwrap_err();
        assert_eq!(err.to_string(), "line 1: VALUE 0x10000 exceeds 16 bits");
    }
}
