//! `cargo xtask e2e`: build the guest, boot it under QEMU, check its report.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::machine::{Layout, Machine};
use crate::report::Report;
use crate::{require_tool, workspace_root, E2eArgs};

const GUEST_TARGET: &str = "powerpc64le-unknown-linux-gnu";

/// Runs the whole end-to-end check.
pub fn run(args: &E2eArgs) -> Result<()> {
    ensure!(
        (1..=16).contains(&args.smp),
        "--smp must be 1..=16 (the guest has 16 stacks)"
    );
    let layout = Layout::checked(args.smp, args.nodes, args.node_mib, !args.no_memoryless)?;
    require_tool("qemu-system-ppc64", "qemu-system-ppc")?;
    require_tool("powerpc64le-linux-gnu-as", "binutils-powerpc64le-linux-gnu")?;
    require_tool("powerpc64le-linux-gnu-ld", "binutils-powerpc64le-linux-gnu")?;

    let root = workspace_root()?;
    let out = root.join("target").join("e2e");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let t = Instant::now();
    let elf = build_guest(&root, &out)?;
    println!(
        "e2e: guest built in {:.1} s: {}",
        t.elapsed().as_secs_f64(),
        elf.display()
    );

    let mut words: Vec<String> = Vec::new();
    if args.strategy != crate::GuestStrategy::Linux {
        words.push(format!("numaboot.strategy={}", args.strategy.name()));
    }
    if args.break_lppaca {
        words.push("numaboot.break=lppaca-size".into());
    }
    let append = (!words.is_empty()).then(|| words.join(" "));
    let machine = Machine::new(&layout, args.firmware, append, &["-no-reboot"]);
    let dtb = out.join("machine.dtb");
    machine.dump_dtb(&elf, &dtb)?;

    let t = Instant::now();
    let console = machine.boot(&elf, &dtb, Duration::from_secs(args.timeout))?;
    let boot_secs = t.elapsed().as_secs_f64();
    std::fs::write(out.join("console.txt"), &console).context("saving the console log")?;

    let report = Report::parse(&console)?;
    let summary = crate::check::check(&machine, &report, args.strategy)?;
    println!(
        "e2e: PASS: {} CPUs on {} nodes ({:?} firmware, {}): {summary}; boot-to-report {:.2} s",
        args.smp,
        args.nodes,
        args.firmware,
        args.strategy.name(),
        boot_secs
    );
    Ok(())
}

fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} failed with {status}");
    Ok(())
}

fn ensure_rust_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup (the guest needs the powerpc64le target)")?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == GUEST_TARGET)
    {
        run_checked(Command::new("rustup").args(["target", "add", GUEST_TARGET]))?;
    }
    Ok(())
}

fn build_guest(root: &Path, out: &Path) -> Result<PathBuf> {
    build_guest_at(root, out, None)
}

/// Builds the guest and links it at `base` (default: 0x400000, QEMU's default
/// `kernel-addr`) as `out/guest.elf`, or `out/guest-BASE.elf` for another base.
pub fn build_guest_at(root: &Path, out: &Path, base: Option<u64>) -> Result<PathBuf> {
    ensure_rust_target()?;
    let guest = root.join("guest");
    let target_dir = root.join("target").join("guest");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run_checked(
        Command::new(cargo)
            .args(["build", "--release", "--quiet", "--target", GUEST_TARGET])
            .arg("--manifest-path")
            .arg(guest.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target_dir),
    )?;
    let lib = target_dir
        .join(GUEST_TARGET)
        .join("release")
        .join("libnumaboot_guest.a");
    let start_o = out.join("start.o");
    let elf = match base {
        None => out.join("guest.elf"),
        Some(b) => out.join(format!("guest-{b:#x}.elf")),
    };
    run_checked(
        Command::new("powerpc64le-linux-gnu-as")
            .arg("-mregnames")
            .arg("-o")
            .arg(&start_o)
            .arg(guest.join("start.S")),
    )?;
    run_checked(
        Command::new("powerpc64le-linux-gnu-ld")
            .arg("-T")
            .arg(guest.join("guest.ld"))
            .args(["--gc-sections", "--no-warn-rwx-segments"])
            .arg(format!(
                "--defsym=__image_base={:#x}",
                base.unwrap_or(0x40_0000)
            ))
            .arg("-o")
            .arg(&elf)
            .arg(&start_o)
            .arg(&lib),
    )?;
    Ok(elf)
}

impl Machine {
    /// Boots the guest with the device tree as its initrd (VOF and SLOF both pass the
    /// initrd's address and size in r3/r4) and returns everything it printed.
    pub(crate) fn boot(&self, elf: &Path, dtb: &Path, timeout: Duration) -> Result<String> {
        let mut child = Command::new("qemu-system-ppc64")
            .args(self.qemu_args(None))
            .arg("-kernel")
            .arg(elf)
            .arg("-initrd")
            .arg(dtb)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting qemu-system-ppc64")?;
        let mut stdout = child.stdout.take().context("QEMU stdout")?;
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().context("waiting for QEMU")? {
                let text = reader.join().unwrap_or_default();
                ensure!(
                    status.success(),
                    "QEMU exited with {status}; console:\n{text}"
                );
                return Ok(text);
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                let text = reader.join().unwrap_or_default();
                bail!("timeout: the guest did not power off within {timeout:?}; console:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
