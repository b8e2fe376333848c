//! `cargo xtask e2e`: build the guest, boot it under QEMU, check its report.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::linux::qmp::Qmp;
use crate::machine::{Layout, Machine};
use crate::report::Report;
use crate::strategy::GuestStrategy;
use crate::{require_tool, workspace_root, E2eArgs};

#[cfg(test)]
mod fixture;
mod host;
mod pacas;
#[cfg(test)]
mod tests;

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
    if args.strategy != GuestStrategy::Linux {
        words.push(format!("numaboot.strategy={}", args.strategy.name()));
    }
    if args.break_lppaca {
        words.push("numaboot.break=lppaca-size".into());
    }
    if args.break_lppaca_cross {
        words.push("numaboot.break=lppaca-cross".into());
    }
    let append = (!words.is_empty()).then(|| words.join(" "));
    // In the temporary directory: a socket path must stay short (108 bytes on Linux).
    let socket = std::env::temp_dir().join(format!("xtask-e2e-{}.qmp", std::process::id()));
    let qmp_arg = format!("unix:{},server=on,wait=off", socket.display());
    // The guest powers off at its end: QEMU pauses instead of exiting, so that the host
    // can still read guest memory.
    let extra = ["-no-reboot", "-action", "shutdown=pause", "-qmp", &qmp_arg];
    let machine = Machine::new(&layout, args.firmware, append, &extra);
    let table = pacas::table_address(&elf)?;
    let dtb = out.join("machine.dtb");
    machine.dump_dtb(&elf, &dtb)?;

    let t = Instant::now();
    let strategy = args.strategy;
    let (console, view) = machine.boot_inspect(
        &elf,
        &dtb,
        &socket,
        Duration::from_secs(args.timeout),
        |console, q| {
            // Without a complete report there is nothing to read; the check says why.
            match Report::parse(console) {
                Ok(r) if r.one("end").is_ok() => {
                    let areas = host::read(&r, strategy, q)?;
                    let pacas = pacas::read(q, table)?;
                    Ok(Some((areas, pacas)))
                }
                _ => Ok(None),
            }
        },
    )?;
    let boot_secs = t.elapsed().as_secs_f64();
    std::fs::write(out.join("console.txt"), &console).context("saving the console log")?;

    let report = Report::parse(&console)?;
    let guest = crate::check::check(&machine, &report, args.strategy);
    let host_fail = match &view {
        Some((areas, found)) => {
            let rma = report.one("topology")?.u64("rma")?;
            let mut fail = host::verify(&machine, args.strategy, rma, areas);
            fail.extend(pacas::compare(&report, table, found));
            fail
        }
        None => vec!["host: the guest's report is incomplete; guest memory was not read".into()],
    };
    let summary = match (guest, host_fail.is_empty()) {
        (Ok(s), true) => s,
        (Ok(_), false) => bail!(
            "{} failures:\n  {}",
            host_fail.len(),
            host_fail.join("\n  ")
        ),
        (Err(e), _) if host_fail.is_empty() => return Err(e),
        (Err(e), _) => bail!(
            "{e:#}\nand {} failures of guest memory:\n  {}",
            host_fail.len(),
            host_fail.join("\n  ")
        ),
    };
    println!(
        "e2e: PASS: {} CPUs on {} nodes ({:?} firmware, {}): {summary}; host read {} CPUs' lppaca, SLB shadow and DTL through QMP: all placed and filled as checked, and {} pacas through the guest's {} at {table:#x}: every pointer as reported; boot-to-report {:.2} s",
        args.smp,
        args.nodes,
        args.firmware,
        args.strategy.name(),
        view.as_ref().map_or(0, |(a, _)| a.len()),
        view.as_ref().map_or(0, |(_, p)| p.len()),
        pacas::TABLE_SYMBOL,
        boot_secs
    );
    Ok(())
}

/// Whether `console` holds the guest's last line (after it, the guest powers off).
fn finished(console: &str) -> bool {
    let complete = console.rfind('\n').map_or("", |i| &console[..i]);
    complete.lines().any(|l| {
        let l = l.trim_end();
        l == "NB end" || l.starts_with("NB error") || l.starts_with("NB panic")
    })
}

/// Kills QEMU (started by us) and collects it.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
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
    /// Starts QEMU on the guest with the device tree as its initrd, console on a pipe.
    fn spawn_guest(&self, elf: &Path, dtb: &Path) -> Result<Child> {
        Command::new("qemu-system-ppc64")
            .args(self.qemu_args(None))
            .arg("-kernel")
            .arg(elf)
            .arg("-initrd")
            .arg(dtb)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting qemu-system-ppc64")
    }

    /// Boots the guest as [`Machine::boot`] does on a machine whose arguments include
    /// `-qmp` at `socket` and `-action shutdown=pause`; once the guest printed its last
    /// line, stops the vCPUs, runs `inspect` with the console so far and the QMP
    /// connection, and quits QEMU.
    pub(crate) fn boot_inspect<T>(
        &self,
        elf: &Path,
        dtb: &Path,
        socket: &Path,
        timeout: Duration,
        inspect: impl FnOnce(&str, &mut Qmp) -> Result<T>,
    ) -> Result<(String, T)> {
        let _ = std::fs::remove_file(socket);
        let mut child = self.spawn_guest(elf, dtb)?;
        let result = self.inspect_running(&mut child, socket, timeout, inspect);
        stop(&mut child);
        let _ = std::fs::remove_file(socket);
        result
    }

    fn inspect_running<T>(
        &self,
        child: &mut Child,
        socket: &Path,
        timeout: Duration,
        inspect: impl FnOnce(&str, &mut Qmp) -> Result<T>,
    ) -> Result<(String, T)> {
        let mut stdout = child.stdout.take().context("QEMU stdout")?;
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let scratch = socket.with_extension("mem");
        let mut qmp = Qmp::connect(socket, scratch, Duration::from_secs(10))?;
        let start = Instant::now();
        let mut bytes = Vec::new();
        loop {
            while let Ok(chunk) = rx.try_recv() {
                bytes.extend_from_slice(&chunk);
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if finished(&text) {
                // The guest is powering off (QEMU then pauses); stopping it here too
                // makes the memory read below independent of that timing.
                qmp.execute("stop", None)?;
                let found = inspect(&text, &mut qmp)?;
                let _ = qmp.quit();
                return Ok((text, found));
            }
            if let Some(status) = child.try_wait().context("waiting for QEMU")? {
                bail!("QEMU exited ({status}) before the guest's last line; console:\n{text}");
            }
            if start.elapsed() > timeout {
                bail!("timeout: the guest did not finish within {timeout:?}; console:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Boots the guest with the device tree as its initrd (VOF and SLOF both pass the
    /// initrd's address and size in r3/r4) and returns everything it printed.
    pub(crate) fn boot(&self, elf: &Path, dtb: &Path, timeout: Duration) -> Result<String> {
        let mut child = self.spawn_guest(elf, dtb)?;
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
