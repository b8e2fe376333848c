//! `cargo xtask e2e`: build the guest, boot it under QEMU, check its report.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::report::Report;
use crate::{require_tool, workspace_root, E2eArgs, Firmware};

const GUEST_TARGET: &str = "powerpc64le-unknown-linux-gnu";

/// Runs the whole end-to-end check.
pub fn run(args: &E2eArgs) -> Result<()> {
    ensure!(
        (1..=16).contains(&args.smp),
        "--smp must be 1..=16 (the guest has 16 stacks)"
    );
    ensure!(
        args.nodes >= 1 && args.nodes <= args.smp,
        "--nodes must be between 1 and --smp"
    );
    ensure!(args.node_mib >= 64, "--node-mib must be at least 64");
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

    let machine = Machine::new(args);
    let dtb = out.join("machine.dtb");
    machine.dump_dtb(&elf, &dtb)?;

    let t = Instant::now();
    let console = machine.boot(&elf, &dtb, Duration::from_secs(args.timeout))?;
    let boot_secs = t.elapsed().as_secs_f64();
    std::fs::write(out.join("console.txt"), &console).context("saving the console log")?;

    let report = Report::parse(&console)?;
    let summary = crate::check::check(&machine, &report)?;
    println!(
        "e2e: PASS: {} CPUs on {} nodes ({:?} firmware): {summary}; boot-to-report {:.2} s",
        args.smp, args.nodes, args.firmware, boot_secs
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
    let elf = out.join("guest.elf");
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
            .args(["--gc-sections", "--no-warn-rwx-segments", "-o"])
            .arg(&elf)
            .arg(&start_o)
            .arg(&lib),
    )?;
    Ok(elf)
}

/// The QEMU machine: CPUs in equal consecutive blocks per node, the last node memoryless
/// unless told otherwise.
pub struct Machine {
    firmware: Firmware,
    smp: u32,
    append: Option<String>,
    /// Node of each CPU, by CPU index.
    pub cpu_node: Vec<u32>,
    /// MiB of memory of each node.
    pub node_mib: Vec<u64>,
}

impl Machine {
    fn new(args: &E2eArgs) -> Self {
        let per = args.smp.div_ceil(args.nodes);
        let cpu_node = (0..args.smp)
            .map(|c| (c / per).min(args.nodes - 1))
            .collect();
        let node_mib = (0..args.nodes)
            .map(|n| {
                if args.nodes > 1 && n == args.nodes - 1 && !args.no_memoryless {
                    0
                } else {
                    args.node_mib
                }
            })
            .collect();
        Machine {
            firmware: args.firmware,
            smp: args.smp,
            append: args
                .break_lppaca
                .then(|| "numaboot.break=lppaca-size".to_string()),
            cpu_node,
            node_mib,
        }
    }

    fn qemu_args(&self, dumpdtb: Option<&Path>) -> Vec<String> {
        let mut machine = String::from("pseries");
        if self.firmware == Firmware::Vof {
            machine.push_str(",x-vof=on");
        }
        if let Some(p) = dumpdtb {
            machine.push_str(&format!(",dumpdtb={}", p.display()));
        }
        let total: u64 = self.node_mib.iter().sum();
        let mut a = vec![
            "-M".into(),
            machine,
            "-nographic".into(),
            "-no-reboot".into(),
            "-m".into(),
            format!("{total}M"),
            "-smp".into(),
            self.smp.to_string(),
        ];
        if let Some(cmdline) = &self.append {
            // Ends up in /chosen/bootargs of the device tree the guest reads.
            a.push("-append".into());
            a.push(cmdline.clone());
        }
        for (n, mib) in self.node_mib.iter().enumerate() {
            let cpus: Vec<usize> = (0..self.cpu_node.len())
                .filter(|&c| self.cpu_node[c] as usize == n)
                .collect();
            let mut node = format!("node,nodeid={n}");
            if let (Some(first), Some(last)) = (cpus.first(), cpus.last()) {
                node.push_str(&format!(",cpus={first}-{last}"));
            }
            if *mib > 0 {
                a.push("-object".into());
                a.push(format!("memory-backend-ram,id=m{n},size={mib}M"));
                node.push_str(&format!(",memdev=m{n}"));
            }
            a.push("-numa".into());
            a.push(node);
        }
        a
    }

    /// Dumps the device tree QEMU builds for this machine. The kernel is named too, as
    /// QEMU only puts `-append` into /chosen/bootargs when it loads one.
    fn dump_dtb(&self, elf: &Path, path: &Path) -> Result<()> {
        let _ = std::fs::remove_file(path);
        let output = Command::new("qemu-system-ppc64")
            .args(self.qemu_args(Some(path)))
            .arg("-kernel")
            .arg(elf)
            .output()
            .context("running qemu-system-ppc64 to dump the device tree")?;
        ensure!(
            path.is_file(),
            "QEMU did not dump the device tree: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Boots the guest with the device tree as its initrd (VOF and SLOF both pass the
    /// initrd's address and size in r3/r4) and returns everything it printed.
    fn boot(&self, elf: &Path, dtb: &Path, timeout: Duration) -> Result<String> {
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
