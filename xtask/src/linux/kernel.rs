//! The kernel to boot: given with `--kernel`, or Debian bookworm's newest ppc64el 6.1
//! image, fetched with apt into `target/linux-kernel/` and reused from there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, ensure, Context, Result};

use crate::require_tool;

/// The package name's parts around the ABI number: `linux-image-6.1.0-NN-powerpc64le`.
const PREFIX: &str = "linux-image-6.1.0-";
const SUFFIX: &str = "-powerpc64le";
const ARCH: &str = "ppc64el";

/// A Debian ppc64el Linux 6.1 image package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelPackage {
    /// The ABI number `NN` (newer kernels have higher numbers).
    pub abi: u32,
    /// The package name.
    pub name: String,
}

impl KernelPackage {
    /// Recognises exactly `linux-image-6.1.0-NN-powerpc64le` (not `-dbg` or other
    /// flavours).
    pub fn parse(name: &str) -> Option<Self> {
        let abi = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
        if abi.is_empty() || !abi.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(KernelPackage {
            abi: abi.parse().ok()?,
            name: name.to_string(),
        })
    }

    /// The kernel release (`6.1.0-NN-powerpc64le`), which names the vmlinux file.
    pub fn release(&self) -> &str {
        self.name.strip_prefix("linux-image-").unwrap_or(&self.name)
    }

    /// Where the extracted package keeps its vmlinux, below its extraction directory.
    pub fn vmlinux_in(&self, dir: &Path) -> PathBuf {
        dir.join("boot").join(format!("vmlinux-{}", self.release()))
    }
}

/// The kernel packages in `apt-cache search` output (`NAME - DESCRIPTION` lines),
/// newest first.
pub fn packages_in_search(output: &str) -> Vec<KernelPackage> {
    let mut v: Vec<KernelPackage> = output
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(KernelPackage::parse)
        .collect();
    v.sort_by(|a, b| b.cmp(a));
    v.dedup();
    v
}

/// The candidate version in `apt-cache policy` output, unless there is none.
pub fn policy_candidate(output: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "(none)")
        .map(str::to_string)
}

/// The vmlinux to boot.
pub fn vmlinux(root: &Path, explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(k) = explicit {
        check_elf(k)?;
        return Ok(k.to_path_buf());
    }
    let cache = root.join("target").join("linux-kernel");
    if let Some((pkg, path)) = cached(&cache) {
        println!(
            "linux-boot: kernel {} (cached in {}; delete it to fetch the newest)",
            pkg.name,
            cache.display()
        );
        return Ok(path);
    }
    let pkg = choose_package()?;
    println!("linux-boot: fetching {}:{ARCH} with apt", pkg.name);
    let path = download_and_extract(&pkg, &cache)?;
    check_elf(&path)?;
    Ok(path)
}

fn check_elf(path: &Path) -> Result<()> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading kernel {}", path.display()))?;
    ensure!(
        bytes.starts_with(b"\x7fELF"),
        "{} is not an ELF vmlinux",
        path.display()
    );
    Ok(())
}

/// The newest kernel already extracted in `cache`.
fn cached(cache: &Path) -> Option<(KernelPackage, PathBuf)> {
    let mut found: Vec<(KernelPackage, PathBuf)> = std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let pkg = KernelPackage::parse(e.file_name().to_str()?)?;
            let v = pkg.vmlinux_in(&e.path());
            v.is_file().then_some((pkg, v))
        })
        .collect();
    found.sort();
    found.pop()
}

fn run(program: &str, args: &[&str], dir: Option<&Path>) -> Result<Output> {
    let mut cmd = Command::new(program);
    cmd.args(args).env("LC_ALL", "C");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.output()
        .with_context(|| format!("running {program} {}", args.join(" ")))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn search() -> Result<Vec<KernelPackage>> {
    let pattern = format!("^{}[0-9]+{SUFFIX}$", PREFIX.replace('.', "\\."));
    let o = run("apt-cache", &["search", "--names-only", &pattern], None)?;
    let mut out = Vec::new();
    for pkg in packages_in_search(&String::from_utf8_lossy(&o.stdout)) {
        let q = format!("{}:{ARCH}", pkg.name);
        let p = run("apt-cache", &["policy", &q], None)?;
        if policy_candidate(&String::from_utf8_lossy(&p.stdout)).is_some() {
            out.push(pkg);
        }
    }
    Ok(out)
}

fn choose_package() -> Result<KernelPackage> {
    for (tool, pkg) in [("apt-get", "apt"), ("apt-cache", "apt"), ("dpkg", "dpkg")] {
        require_tool(tool, pkg)
            .context("fetching the kernel needs apt (or give --kernel VMLINUX)")?;
    }
    let archs = run("dpkg", &["--print-foreign-architectures"], None)?;
    if !String::from_utf8_lossy(&archs.stdout)
        .split_whitespace()
        .any(|a| a == ARCH)
    {
        println!("linux-boot: dpkg --add-architecture {ARCH}");
        let o = run("dpkg", &["--add-architecture", ARCH], None)?;
        ensure!(
            o.status.success(),
            "dpkg --add-architecture {ARCH} failed (needs root; or give --kernel VMLINUX): {}",
            text(&o).trim()
        );
    }
    if let Some(p) = search()?.into_iter().next() {
        return Ok(p);
    }
    // No ppc64el index yet. One index failing (bookworm-security often has no fresh
    // ppc64el list on mirrors) makes apt-get exit non-zero without harming the others,
    // so what counts is whether the package is findable afterwards.
    println!("linux-boot: no {ARCH} kernel in the apt index; apt-get update");
    let update = run("apt-get", &["update", "-q"], None)?;
    match search()?.into_iter().next() {
        Some(p) => {
            if !update.status.success() {
                println!(
                    "linux-boot: apt-get update reported errors, but {} is available:",
                    p.name
                );
                for l in text(&update).lines().filter(|l| l.starts_with("E:")) {
                    println!("  {l}");
                }
            }
            Ok(p)
        }
        None => bail!(
            "no {PREFIX}NN{SUFFIX}:{ARCH} package after apt-get update ({}); is the network \
             or a bookworm mirror reachable? (or give --kernel VMLINUX)\n{}",
            update.status,
            tail(&text(&update), 15)
        ),
    }
}

fn download_and_extract(pkg: &KernelPackage, cache: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let q = format!("{}:{ARCH}", pkg.name);
    let o = run("apt-get", &["download", &q], Some(cache))?;
    ensure!(
        o.status.success(),
        "apt-get download {q} failed ({}); is the network reachable? (or give --kernel VMLINUX)\n{}",
        o.status,
        tail(&text(&o), 15)
    );
    let prefix = format!("{}_", pkg.name);
    let suffix = format!("_{ARCH}.deb");
    let deb = std::fs::read_dir(cache)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(&suffix))
        })
        .max()
        .with_context(|| {
            format!(
                "apt-get download left no {prefix}*{suffix} in {}",
                cache.display()
            )
        })?;
    let dest = cache.join(&pkg.name);
    let partial = cache.join(format!("{}.partial", pkg.name));
    let _ = std::fs::remove_dir_all(&partial);
    let deb_s = deb.to_str().context("non-UTF-8 cache path")?;
    let partial_s = partial.to_str().context("non-UTF-8 cache path")?;
    let o = run("dpkg", &["-x", deb_s, partial_s], None)?;
    ensure!(
        o.status.success(),
        "dpkg -x {} failed: {}",
        deb.display(),
        text(&o).trim()
    );
    let v = pkg.vmlinux_in(&partial);
    ensure!(v.is_file(), "{} has no {}", deb.display(), v.display());
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&partial, &dest).with_context(|| format!("renaming to {}", dest.display()))?;
    Ok(pkg.vmlinux_in(&dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `apt-cache search --names-only` on a bookworm machine with the ppc64el index.
    const SEARCH: &str = "\
linux-image-6.1.0-47-powerpc64le - Linux 6.1 for Little-endian 64-bit PowerPC
linux-image-6.1.0-47-powerpc64le-dbg - Debug symbols for linux-image-6.1.0-47-powerpc64le
linux-image-6.1.0-50-powerpc64le - Linux 6.1 for Little-endian 64-bit PowerPC
linux-image-6.1.0-50-powerpc64le-dbg - Debug symbols for linux-image-6.1.0-50-powerpc64le
linux-image-6.1.0-9-powerpc64le - Linux 6.1 for Little-endian 64-bit PowerPC
linux-image-6.1.0-50-powerpc64le-64k - Linux 6.1 for Little-endian 64-bit PowerPC (64k)
linux-image-6.1.0-50-powerpc64le-unsigned - Linux 6.1 (unsigned)
linux-image-6.1.0-51-cloud-amd64 - Linux 6.1 for x86-64 cloud
linux-image-6.1.0-x-powerpc64le - broken
linux-image-powerpc64le - Linux for Little-endian 64-bit PowerPC (meta-package)
";

    #[test]
    fn newest_plain_image_first() {
        let p = packages_in_search(SEARCH);
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        // 50 > 47 > 9 numerically (a string sort would put 9 first).
        assert_eq!(
            names,
            [
                "linux-image-6.1.0-50-powerpc64le",
                "linux-image-6.1.0-47-powerpc64le",
                "linux-image-6.1.0-9-powerpc64le",
            ]
        );
        assert_eq!(p[0].abi, 50);
        assert_eq!(p[0].release(), "6.1.0-50-powerpc64le");
        assert_eq!(
            p[0].vmlinux_in(Path::new("/c/x")),
            Path::new("/c/x/boot/vmlinux-6.1.0-50-powerpc64le")
        );
        assert!(packages_in_search("").is_empty());
    }

    #[test]
    fn policy() {
        let ok = "\
linux-image-6.1.0-50-powerpc64le:ppc64el:
  Installed: (none)
  Candidate: 6.1.176-1
  Version table:
     6.1.176-1 500
        500 http://deb.debian.org/debian bookworm/main ppc64el Packages
";
        assert_eq!(policy_candidate(ok).as_deref(), Some("6.1.176-1"));
        let none =
            "linux-image-6.1.0-50-powerpc64le:ppc64el:\n  Installed: (none)\n  Candidate: (none)\n";
        assert_eq!(policy_candidate(none), None);
        assert_eq!(policy_candidate(""), None);
    }

    #[test]
    fn cache_picks_newest_complete_extraction() {
        let dir = std::env::temp_dir().join(format!("xtask-kcache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (abi, complete) in [(47, true), (50, true), (51, false)] {
            let pkg = KernelPackage::parse(&format!("{PREFIX}{abi}{SUFFIX}")).unwrap();
            let d = dir.join(&pkg.name);
            std::fs::create_dir_all(d.join("boot")).unwrap();
            if complete {
                std::fs::write(pkg.vmlinux_in(&d), b"\x7fELF").unwrap();
            }
        }
        let (pkg, path) = cached(&dir).unwrap();
        assert_eq!(pkg.abi, 50);
        assert!(path.ends_with("boot/vmlinux-6.1.0-50-powerpc64le"));
        assert!(check_elf(&path).is_ok());
        std::fs::write(&path, b"MZ").unwrap();
        assert!(check_elf(&path).is_err());
        assert!(cached(&dir.join("absent")).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
