//! `cargo xtask linux-boot`: boot a real Debian Linux 6.1 ppc64le kernel under QEMU
//! pseries with `memblock=debug`, keep its console log and both device trees (QEMU's and
//! the one the kernel booted from), check through QMP that the log's paca addresses are
//! the ones the running kernel uses, and have `numaboot verify` compare its plan with
//! the log.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use phys::PhysAddr;

use crate::machine::{Layout, Machine};
use crate::{require_tool, workspace_root, Firmware, LinuxBootArgs, Mmu};

pub mod bootlog;
pub mod kernel;
pub mod qmp;
pub mod symbols;

/// The console line after which nothing more happens: no root device, so the kernel
/// panics, and with `panic=0` and `-action panic=pause` everything stays in place.
const END_MARKER: &str = "Unable to mount root fs";

/// The kernel command line: debug output for every memblock call, and the hash MMU on
/// request. It is spelled byte for byte as the reference boots spelled it (a space, then
/// the optional extra word, so the radix line ends in a space): its length sizes early
/// allocations, and only an identical line reproduces the reference boots' addresses.
pub fn cmdline(mmu: Mmu) -> String {
    let extra = match mmu {
        Mmu::Radix => "",
        Mmu::Hash => "disable_radix",
    };
    format!("console=hvc0 memblock=debug loglevel=8 panic=0 {extra}")
}

/// How far the boot has come, judged from the console so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootState {
    /// Still booting.
    Running,
    /// The kernel reached [`END_MARKER`]: every early allocation is done and logged.
    Done,
    /// The kernel panicked for another reason; the panic line.
    Panicked(String),
}

/// Reads the console so far. A panic names its reason on its own line, so a panic line
/// without the end marker is a boot that went wrong and will never reach it.
pub fn boot_state(console: &str) -> BootState {
    if console.contains(END_MARKER) {
        return BootState::Done;
    }
    match console
        .lines()
        .find(|l| l.contains("Kernel panic - not syncing"))
    {
        Some(l) => BootState::Panicked(l.trim_end().to_string()),
        None => BootState::Running,
    }
}

/// The directory name of a machine shape, e.g. `radix-8cpu-4node-1024mib-memoryless`.
pub fn shape_name(args: &LinuxBootArgs) -> String {
    let mmu = match args.mmu {
        Mmu::Radix => "radix",
        Mmu::Hash => "hash",
    };
    let tail = if args.no_memoryless || args.nodes < 2 {
        ""
    } else {
        "-memoryless"
    };
    format!(
        "linux-{}-{mmu}-{}cpu-{}node-{}mib{tail}",
        args.linux.name(),
        args.smp,
        args.nodes,
        args.node_mib
    )
}

/// The kernel-image facts numaboot plans a Debian kernel with
/// (`percpu::early::KernelImage::debian`, which decides the radix mapping's executable
/// range and where the early allocations may go) against the fetched vmlinux's own
/// symbols.
fn check_image_facts(vmlinux: &std::path::Path, flavour: kernel::Flavour) -> Result<()> {
    let real = symbols::kernel_image(&symbols::nm(vmlinux)?)
        .with_context(|| format!("reading the image facts of {}", vmlinux.display()))?;
    let release = vmlinux
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinux-"))
        .unwrap_or_default();
    if let Some(warning) = image_facts_verdict(flavour, release, real)? {
        println!("linux-boot: warning: {warning}");
    } else {
        println!(
            "linux-boot: image facts match the vmlinux: _end {}, __init_end {}, \
             __srwx_boundary {}, interrupt vectors {}..{}",
            real.end,
            real.init_end,
            real.srwx_boundary,
            real.interrupts.base,
            real.interrupts.end()
        );
    }
    Ok(())
}

/// Compares `real` (read from the vmlinux of `release`) with the facts numaboot plans
/// `flavour` with. A difference is an error for the release the facts were taken from
/// (`KernelImage`'s documentation names it), and only a warning for another one: when
/// Debian publishes a newer build, its layout may move, and the boot's own `numaboot
/// verify` says whether that matters.
fn image_facts_verdict(
    flavour: kernel::Flavour,
    release: &str,
    real: percpu::early::KernelImage,
) -> Result<Option<String>> {
    use percpu::early::KernelImage;
    let (strategy, page_size) = flavour.plan();
    let documented = KernelImage::debian_release(strategy, page_size);
    let planned = KernelImage::debian(strategy, page_size);
    if real == planned {
        return Ok(None);
    }
    let what = format!(
        "numaboot plans Debian {} with the image facts of {documented} ({planned:?}), but \
         {release} has {real:?}",
        flavour.name()
    );
    anyhow::ensure!(
        release != documented,
        "{what}: update percpu::early::KernelImage"
    );
    Ok(Some(what))
}

/// Runs the whole task.
pub fn run(args: &LinuxBootArgs) -> Result<()> {
    let layout = Layout::checked(args.smp, args.nodes, args.node_mib, !args.no_memoryless)?;
    require_tool("qemu-system-ppc64", "qemu-system-ppc")?;
    require_tool("powerpc64le-linux-gnu-nm", "binutils-powerpc64le-linux-gnu")?;

    let root = workspace_root()?;
    println!("== linux-boot step 1: kernel");
    let vmlinux = kernel::vmlinux(&root, args.kernel.as_deref(), args.linux)?;
    println!("linux-boot: kernel {}", vmlinux.display());
    let vars = symbols::KernelVars::from_vmlinux(&vmlinux)?;
    if args.kernel.is_none() {
        check_image_facts(&vmlinux, args.linux)?;
    }

    let out = match &args.keep {
        Some(d) => d.clone(),
        None => root
            .join("target")
            .join("linux-boot")
            .join(shape_name(args)),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let out = out
        .canonicalize()
        .with_context(|| format!("resolving {}", out.display()))?;
    let log_path = out.join("console.log");
    let dumped = out.join("dumped.dtb");
    let booted = out.join("booted.dtb");

    println!(
        "== linux-boot step 2: boot {} CPUs on {} nodes ({:?} MMU) into {}",
        args.smp,
        args.nodes,
        args.mmu,
        out.display()
    );
    let machine = Machine::new(&layout, Firmware::Vof, Some(cmdline(args.mmu)), &[]);
    machine.dump_dtb(&vmlinux, &dumped)?;
    let t = Instant::now();
    boot_and_read(
        &machine,
        &vmlinux,
        &vars,
        &log_path,
        &booted,
        Duration::from_secs(args.timeout),
    )?;
    println!(
        "linux-boot: saved {}, {}, {} ({:.1} s)",
        log_path.display(),
        dumped.display(),
        booted.display(),
        t.elapsed().as_secs_f64()
    );

    if args.no_verify {
        println!("linux-boot: PASS (boot and paca check; --no-verify skips numaboot verify)");
        return Ok(());
    }
    println!("== linux-boot step 3: numaboot verify");
    let numaboot = build_numaboot(&root)?;
    let mmu_flag = match args.mmu {
        Mmu::Radix => "--radix",
        Mmu::Hash => "--hash",
    };
    let mut failures = Vec::new();
    for (what, dtb) in [("dumped", &dumped), ("booted", &booted)] {
        let mut cmd = Command::new(&numaboot);
        let strategy = args.linux.plan().0.name();
        cmd.arg("verify")
            .arg(&log_path)
            .arg(dtb)
            .arg("--kernel")
            .arg(&vmlinux)
            .arg(mmu_flag)
            .args(["--strategy", strategy]);
        println!("linux-boot: {what} tree: {cmd:?}");
        let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
        let meaning = match status.code() {
            Some(0) => continue,
            Some(1) => "a structure differs from the log",
            Some(2) => "unusable input (or a usage error)",
            _ => "unexpected exit",
        };
        failures.push(format!("{what} tree: {meaning} ({status})"));
    }
    ensure!(
        failures.is_empty(),
        "numaboot verify failed: {}",
        failures.join("; ")
    );
    println!("linux-boot: PASS (paca check and numaboot verify on both trees)");
    Ok(())
}

/// Kills QEMU when dropped, so that no error path leaves it running.
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn console_tail(log: &Path) -> String {
    let text = std::fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Boots, waits for the end marker, saves the booted tree and checks `paca_ptrs`.
fn boot_and_read(
    machine: &Machine,
    vmlinux: &Path,
    vars: &symbols::KernelVars,
    log_path: &Path,
    booted: &Path,
    timeout: Duration,
) -> Result<()> {
    // Socket paths are limited to about 100 bytes, so not below a possibly deep --keep.
    let socket = std::env::temp_dir().join(format!("xtask-linux-boot-{}.qmp", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let log = File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let log_err = log.try_clone().context("console log")?;
    let child = Command::new("qemu-system-ppc64")
        .args(machine.qemu_args(None))
        .arg("-kernel")
        .arg(vmlinux)
        .args(["-action", "panic=pause", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .context("starting qemu-system-ppc64")?;
    let mut qemu = Qemu(child);

    let start = Instant::now();
    loop {
        let text = std::fs::read(log_path).unwrap_or_default();
        match boot_state(&String::from_utf8_lossy(&text)) {
            BootState::Done => break,
            BootState::Panicked(line) => bail!(
                "the kernel panicked before \"{END_MARKER}\": {line}; console tail:\n{}",
                console_tail(log_path)
            ),
            BootState::Running => {}
        }
        if let Some(status) = qemu.0.try_wait().context("waiting for QEMU")? {
            bail!(
                "QEMU exited ({status}) before the kernel reached \"{END_MARKER}\"; console tail:\n{}",
                console_tail(log_path)
            );
        }
        if start.elapsed() > timeout {
            bail!(
                "timeout: no \"{END_MARKER}\" within {timeout:?}; console tail:\n{}",
                console_tail(log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "linux-boot: kernel reached \"{END_MARKER}\" after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let log = String::from_utf8_lossy(&std::fs::read(log_path)?).into_owned();
    let scratch = log_path.with_file_name(".qmp-read.bin");
    let mut q = qmp::Qmp::connect(&socket, scratch, Duration::from_secs(10))?;
    let result = read_guest(&mut q, &log, vars, booted);
    let _ = q.quit();
    let quit_by = Instant::now() + Duration::from_secs(10);
    while Instant::now() < quit_by && matches!(qemu.0.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(qemu);
    let _ = std::fs::remove_file(&socket);
    result
}

/// Saves the booted device tree and compares `paca_ptrs` with the log.
fn read_guest(
    q: &mut qmp::Qmp,
    log: &str,
    vars: &symbols::KernelVars,
    booted: &Path,
) -> Result<()> {
    let fdt = bootlog::fdt_range(log)?;
    let _ = std::fs::remove_file(booted);
    q.pmemsave(fdt.base, fdt.size.as_u64(), booted)?;
    let head = std::fs::read(booted).with_context(|| format!("reading {}", booted.display()))?;
    ensure!(
        head.starts_with(&[0xd0, 0x0d, 0xfe, 0xed]),
        "the range {} + {} the log names holds no flattened device tree",
        fdt.base,
        fdt.size
    );
    println!(
        "linux-boot: booted tree at {} ({} bytes)",
        fdt.base,
        fdt.size.as_u64()
    );

    let word = |b: Vec<u8>| -> Result<u32> {
        let w: [u8; 4] = b.as_slice().try_into().context("short read")?;
        Ok(u32::from_le_bytes(w))
    };
    let nr_cpu_ids = word(q.read_phys(vars.nr_cpu_ids, 4)?)?;
    let boot_cpuid = i64::from(word(q.read_phys(vars.boot_cpuid, 4)?)? as i32);
    ensure!(
        (1..=8192).contains(&nr_cpu_ids),
        "the kernel's nr_cpu_ids reads {nr_cpu_ids}"
    );
    let array = symbols::le_u64s(&q.read_phys(vars.paca_ptrs, 8)?)?;
    let array = symbols::linear_to_phys(array.first().copied().unwrap_or(0))
        .context("the kernel's paca_ptrs")?;
    let ptrs = symbols::le_u64s(&q.read_phys(array, u64::from(nr_cpu_ids) * 8)?)?;

    let pacas = bootlog::pacas(&bootlog::paca_data_allocs(log)?)?;
    let expected = bootlog::paca_of_cpu(&pacas, boot_cpuid, nr_cpu_ids)?;
    println!(
        "linux-boot: paca check: nr_cpu_ids {nr_cpu_ids}, boot_cpuid {boot_cpuid}, paca_ptrs array at {array}, paca size {}",
        pacas.first().map(|p| p.range.size.as_u64()).unwrap_or(0)
    );
    let checked = compare_pacas(&ptrs, &expected);
    for c in &checked {
        println!(
            "  cpu {}: paca_ptrs[{}] = {:#018x}, log {} {}",
            c.cpu,
            c.cpu,
            c.pointer,
            c.logged,
            if c.ok { "ok" } else { "MISMATCH" }
        );
    }
    let bad: Vec<u32> = checked.iter().filter(|c| !c.ok).map(|c| c.cpu).collect();
    ensure!(
        bad.is_empty() && checked.len() == expected.len(),
        "paca_ptrs of the running kernel disagrees with the log for CPUs {bad:?} \
         ({} pointers read, {} pacas logged)",
        ptrs.len(),
        expected.len()
    );
    Ok(())
}

/// One CPU's paca as the running kernel and the log give it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PacaCheck {
    /// The CPU.
    pub cpu: u32,
    /// `paca_ptrs[cpu]`, a kernel virtual address.
    pub pointer: u64,
    /// The paca address the log shows for the CPU.
    pub logged: PhysAddr,
    /// Whether the pointer maps to the logged address.
    pub ok: bool,
}

/// Compares the `paca_ptrs` entries with the logged paca addresses, CPU by CPU (as far
/// as both go; the caller compares the lengths).
pub fn compare_pacas(pointers: &[u64], logged: &[PhysAddr]) -> Vec<PacaCheck> {
    pointers
        .iter()
        .zip(logged)
        .zip(0u32..)
        .map(|((&pointer, &logged), cpu)| PacaCheck {
            cpu,
            pointer,
            logged,
            ok: symbols::linear_to_phys(pointer) == Ok(logged),
        })
        .collect()
}

/// Builds the `numaboot` binary and returns its path.
fn build_numaboot(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "numaboot"])
        .current_dir(root)
        .status()
        .context("running cargo build -p numaboot")?;
    ensure!(status.success(), "cargo build --release -p numaboot failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { root.join(d) })
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release").join("numaboot");
    ensure!(bin.is_file(), "no numaboot binary at {}", bin.display());
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Debian images on this development machine (fetched with `apt-get download`),
    /// when present; in CI `linux-boot` runs the same check on the images it fetches.
    #[test]
    fn local_debian_images_match_the_planned_facts() {
        let images = [
            (
                "/work/kernel/x/boot/vmlinux-6.1.0-50-powerpc64le",
                kernel::Flavour::L61,
            ),
            (
                "/work/k612/x-linux-image-6.12.107+deb13-powerpc64le/boot/vmlinux-6.12.107+deb13-powerpc64le",
                kernel::Flavour::L612,
            ),
            (
                "/work/k612/x-linux-image-6.12.107+deb13-powerpc64le-64k/boot/vmlinux-6.12.107+deb13-powerpc64le-64k",
                kernel::Flavour::L612K64,
            ),
        ];
        if require_tool("powerpc64le-linux-gnu-nm", "").is_err() {
            eprintln!("skipping: no powerpc64le-linux-gnu-nm");
            return;
        }
        for (path, flavour) in images {
            let path = std::path::Path::new(path);
            if !path.is_file() {
                eprintln!("skipping: {} not present", path.display());
                continue;
            }
            check_image_facts(path, flavour).unwrap();
            let real = symbols::kernel_image(&symbols::nm(path).unwrap()).unwrap();
            let release = path.file_name().unwrap().to_str().unwrap();
            let release = release.strip_prefix("vmlinux-").unwrap();
            assert_eq!(image_facts_verdict(flavour, release, real).unwrap(), None);
        }
    }

    /// The three images' facts differ from each other: facts compared with another
    /// flavour's fail for the documented release, and only warn for another release.
    #[test]
    fn image_facts_differences() {
        use percpu::early::KernelImage;
        let cases = [
            (
                kernel::Flavour::L61,
                "6.1.0-50-powerpc64le",
                KernelImage::DEBIAN_6_12_4K,
            ),
            (
                kernel::Flavour::L612,
                "6.12.107+deb13-powerpc64le",
                KernelImage::DEBIAN_6_12_64K,
            ),
            (
                kernel::Flavour::L612K64,
                "6.12.107+deb13-powerpc64le-64k",
                KernelImage::DEBIAN_6_1,
            ),
        ];
        for (flavour, release, wrong) in cases {
            let e = image_facts_verdict(flavour, release, wrong).unwrap_err();
            assert!(format!("{e:#}").contains("update percpu"), "{e:#}");
            assert!(format!("{e:#}").contains(release), "{e:#}");
            let newer = release.replace("-50-", "-51-").replace(".107+", ".117+");
            let warning = image_facts_verdict(flavour, &newer, wrong)
                .unwrap()
                .unwrap();
            assert!(warning.contains(&newer), "{warning}");
        }
        assert_eq!(
            image_facts_verdict(
                kernel::Flavour::L61,
                "6.1.0-50-powerpc64le",
                KernelImage::DEBIAN_6_1
            )
            .unwrap(),
            None
        );
    }

    fn args(mmu: Mmu, no_memoryless: bool) -> LinuxBootArgs {
        LinuxBootArgs {
            smp: 8,
            nodes: 4,
            mmu,
            no_memoryless,
            node_mib: 1024,
            linux: kernel::Flavour::L61,
            kernel: None,
            keep: None,
            timeout: 120,
            no_verify: false,
        }
    }

    /// The command lines of the r84 and h84 reference boots (the topology crate's
    /// fixtures), as their logs show them.
    #[test]
    fn command_lines_match_the_reference_boots() {
        for (mmu, name) in [(Mmu::Radix, "r84"), (Mmu::Hash, "h84")] {
            let want = cmdline(mmu);
            let log = std::fs::read_to_string(format!(
                "{}/../crates/topology/fixtures/linux-6.1/{name}.log",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            let line = log
                .lines()
                .find(|l| l.contains("Kernel command line:"))
                .unwrap();
            // The console ends lines with \r\n; the command line itself may end in a space.
            let got = line
                .split_once("Kernel command line: ")
                .unwrap()
                .1
                .trim_end_matches('\r');
            assert_eq!(got, want, "{name}");
        }
    }

    /// The paca_ptrs words of the r84 boot (read through QMP) against its log, then
    /// against a log in which one paca moved: the check must name that CPU only.
    #[test]
    fn paca_pointers_against_the_log() {
        let log = std::fs::read_to_string(format!(
            "{}/../crates/topology/fixtures/linux-6.1/r84.log",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let logged = |log: &str| {
            let p = bootlog::pacas(&bootlog::paca_data_allocs(log).unwrap()).unwrap();
            bootlog::paca_of_cpu(&p, 0, 8).unwrap()
        };
        // paca_ptrs[0..8] as `cargo xtask linux-boot --no-verify` read them through QMP
        // from the running kernel of a boot whose log and booted tree are identical to
        // r84's: real memory, not derived from the log.
        let pointers: Vec<u64> = vec![
            0xc000000002880000,
            0xc00000003ffef300,
            0xc00000007ffff300,
            0xc00000007fffdf00,
            0xc0000000bffff300,
            0xc0000000bfffdf00,
            0xc0000000bfffcb00,
            0xc0000000bfff9300,
        ];
        assert!(compare_pacas(&pointers, &logged(&log)).iter().all(|c| c.ok));

        let moved = log.replace(
            "[0x000000007fffdf00-0x000000007fffebff]",
            "[0x000000007fffde00-0x000000007fffeaff]",
        );
        assert_ne!(moved, log);
        let checks = compare_pacas(&pointers, &logged(&moved));
        let bad: Vec<u32> = checks.iter().filter(|c| !c.ok).map(|c| c.cpu).collect();
        assert_eq!(bad, [3]);
        assert_eq!(checks[3].logged, PhysAddr::new(0x7fff_de00));

        // A pointer that is not a linear-map address never matches.
        let mut zeroed = pointers.clone();
        zeroed[5] = 0x7fff_df00;
        let bad: Vec<u32> = compare_pacas(&zeroed, &logged(&log))
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.cpu)
            .collect();
        assert_eq!(bad, [5]);
    }

    #[test]
    fn boot_states() {
        assert_eq!(boot_state(""), BootState::Running);
        assert_eq!(
            boot_state("[    0.1] Linux version 6.1\r\n"),
            BootState::Running
        );
        let oops = "[    0.2] Kernel panic - not syncing: Attempted to kill init!\r\n";
        assert_eq!(
            boot_state(oops),
            BootState::Panicked(
                "[    0.2] Kernel panic - not syncing: Attempted to kill init!".into()
            )
        );
        let log = std::fs::read_to_string(format!(
            "{}/../crates/topology/fixtures/linux-6.1/h84.log",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(boot_state(&log), BootState::Done);
        let half: String = log.lines().take(100).map(|l| format!("{l}\n")).collect();
        assert_eq!(boot_state(&half), BootState::Running);
    }

    #[test]
    fn shapes() {
        assert_eq!(
            shape_name(&args(Mmu::Radix, false)),
            "linux-6.1-radix-8cpu-4node-1024mib-memoryless"
        );
        let mut a = args(Mmu::Hash, true);
        a.linux = kernel::Flavour::L612K64;
        assert_eq!(shape_name(&a), "linux-6.12-64k-hash-8cpu-4node-1024mib");
    }

    /// The boot arguments of the default shape: those of boot.sh with the 8/4 layout.
    #[test]
    fn qemu_arguments_of_the_default_shape() {
        let a = args(Mmu::Hash, false);
        let layout = Layout::checked(a.smp, a.nodes, a.node_mib, !a.no_memoryless).unwrap();
        let m = Machine::new(&layout, Firmware::Vof, Some(cmdline(a.mmu)), &[]);
        let q = m.qemu_args(None).join(" ");
        for part in [
            "-M pseries,x-vof=on",
            "-nographic",
            "-vga none",
            "-m 3072M",
            "-smp 8",
            "-append console=hvc0 memblock=debug loglevel=8 panic=0 disable_radix",
            "-numa node,nodeid=3,cpus=6-7 ",
        ] {
            assert!(format!("{q} ").contains(part), "{part} not in {q}");
        }
    }
}
