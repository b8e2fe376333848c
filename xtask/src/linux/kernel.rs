//! The kernel to boot: given with `--kernel`, or a Debian ppc64el image of the chosen
//! Linux version (`--linux`), fetched with apt into `target/linux-kernel/` and reused
//! from there: bookworm's newest `linux-image-6.1.0-NN-powerpc64le` through the
//! machine's own apt setup, or trixie's newest `linux-image-6.12.NNN+deb13-powerpc64le`
//! (4 KiB pages) or `...-64k` through a private apt state in the cache (the machine's
//! apt sources, with the suite changed to trixie), so the system's apt setup is left
//! alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, ensure, Context, Result};
use clap::ValueEnum;

use crate::require_tool;

const ARCH: &str = "ppc64el";

/// Which Debian kernel to fetch.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Flavour {
    /// Debian 12's Linux 6.1 (64 KiB pages).
    #[value(name = "6.1")]
    L61,
    /// Debian 13's Linux 6.12 with 4 KiB pages.
    #[value(name = "6.12")]
    L612,
    /// Debian 13's Linux 6.12 with 64 KiB pages.
    #[value(name = "6.12-64k")]
    L612K64,
}

impl Flavour {
    /// The package name's parts around the version number.
    fn affixes(self) -> (&'static str, &'static str) {
        match self {
            Self::L61 => ("linux-image-6.1.0-", "-powerpc64le"),
            Self::L612 => ("linux-image-6.12.", "+deb13-powerpc64le"),
            Self::L612K64 => ("linux-image-6.12.", "+deb13-powerpc64le-64k"),
        }
    }

    /// The Debian suite that ships it (`None`: the machine's own, bookworm).
    fn suite(self) -> Option<&'static str> {
        match self {
            Self::L61 => None,
            Self::L612 | Self::L612K64 => Some("trixie"),
        }
    }

    /// A short name for directories and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::L61 => "6.1",
            Self::L612 => "6.12",
            Self::L612K64 => "6.12-64k",
        }
    }

    /// How numaboot plans this kernel: its strategy and its `PAGE_SIZE`.
    pub fn plan(self) -> (percpu::Strategy, u64) {
        use percpu::{consts, Strategy};
        match self {
            Self::L61 => (Strategy::Linux61, consts::PAGE_SIZE_64K),
            Self::L612 => (Strategy::Linux612, consts::PAGE_SIZE_4K),
            Self::L612K64 => (Strategy::Linux612, consts::PAGE_SIZE_64K),
        }
    }
}

/// A Debian ppc64el Linux image package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelPackage {
    /// The number that orders packages of a flavour (6.1's ABI `NN`, 6.12's patch
    /// level `NNN`; newer kernels have higher numbers).
    pub abi: u32,
    /// The package name.
    pub name: String,
}

impl KernelPackage {
    /// Recognises exactly the flavour's image package (not `-dbg` or other flavours).
    pub fn parse_as(flavour: Flavour, name: &str) -> Option<Self> {
        let (prefix, suffix) = flavour.affixes();
        let abi = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
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
pub fn packages_in_search(flavour: Flavour, output: &str) -> Vec<KernelPackage> {
    let mut v: Vec<KernelPackage> = output
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|n| KernelPackage::parse_as(flavour, n))
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
pub fn vmlinux(root: &Path, explicit: Option<&Path>, flavour: Flavour) -> Result<PathBuf> {
    if let Some(k) = explicit {
        check_elf(k)?;
        return Ok(k.to_path_buf());
    }
    let cache = root.join("target").join("linux-kernel");
    if let Some((pkg, path)) = cached(flavour, &cache) {
        println!(
            "linux-boot: kernel {} (cached in {}; delete it to fetch the newest)",
            pkg.name,
            cache.display()
        );
        return Ok(path);
    }
    let apt = Apt::for_flavour(flavour, &cache)?;
    // The index may name a version the mirror no longer has: try them newest first.
    let mut last = None;
    for pkg in choose_packages(flavour, &apt)? {
        println!("linux-boot: fetching {}:{ARCH} with apt", pkg.name);
        match download_and_extract(&pkg, &cache, &apt) {
            Ok(path) => {
                check_elf(&path)?;
                return Ok(path);
            }
            Err(e) => {
                println!("linux-boot: {e:#}");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no {} kernel package", flavour.name())))
}

/// How apt is run: plainly, or with a private state for another Debian suite.
struct Apt {
    options: Vec<String>,
}

impl Apt {
    fn for_flavour(flavour: Flavour, cache: &Path) -> Result<Self> {
        let Some(suite) = flavour.suite() else {
            return Ok(Self {
                options: Vec::new(),
            });
        };
        let dir = cache.join(format!("apt-{suite}"));
        for d in ["lists/partial", "cache/archives/partial"] {
            std::fs::create_dir_all(dir.join(d))
                .with_context(|| format!("creating {}", dir.join(d).display()))?;
        }
        let uri = system_mirror()?;
        let list = dir.join("sources.list");
        std::fs::write(&list, format!("deb {uri} {suite} main\n"))
            .with_context(|| format!("writing {}", list.display()))?;
        let path = |p: PathBuf| p.to_string_lossy().into_owned();
        Ok(Self {
            options: vec![
                format!("-oDir::Etc::SourceList={}", path(list)),
                "-oDir::Etc::SourceParts=/dev/null".into(),
                format!("-oDir::State::Lists={}", path(dir.join("lists"))),
                format!("-oDir::Cache={}", path(dir.join("cache"))),
                format!("-oAPT::Architecture={ARCH}"),
                format!("-oAPT::Architectures::={ARCH}"),
            ],
        })
    }

    fn run(&self, program: &str, args: &[&str], dir: Option<&Path>) -> Result<Output> {
        let mut all: Vec<&str> = self.options.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        run(program, &all, dir)
    }

    fn private(&self) -> bool {
        !self.options.is_empty()
    }
}

/// The Debian mirror the machine's apt already uses (the first `URIs:` of a deb822
/// source, or the URI of the first `deb` line), so that another suite is fetched from
/// the same place.
fn system_mirror() -> Result<String> {
    let mut texts = Vec::new();
    for dir in ["/etc/apt/sources.list.d"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                let name = p.to_string_lossy().into_owned();
                if name.ends_with(".sources") || name.ends_with(".list") {
                    texts.extend(std::fs::read_to_string(&p).ok());
                }
            }
        }
    }
    texts.extend(std::fs::read_to_string("/etc/apt/sources.list").ok());
    texts
        .iter()
        .find_map(|t| mirror_in(t))
        .context("no Debian mirror in the machine's apt sources (or give --kernel VMLINUX)")
}

/// The first Debian archive URI of an apt sources text (deb822 or one-line form).
pub fn mirror_in(text: &str) -> Option<String> {
    for line in text.lines().map(str::trim) {
        if let Some(uris) = line.strip_prefix("URIs:") {
            if let Some(u) = uris.split_whitespace().find(|u| u.ends_with("/debian")) {
                return Some(u.to_string());
            }
        }
        let mut w = line.split_whitespace();
        if w.next() == Some("deb") {
            let uri = w.find(|t| !t.starts_with('['))?;
            if uri.ends_with("/debian") {
                return Some(uri.to_string());
            }
        }
    }
    None
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

/// The newest kernel of the flavour already extracted in `cache`.
fn cached(flavour: Flavour, cache: &Path) -> Option<(KernelPackage, PathBuf)> {
    let mut found: Vec<(KernelPackage, PathBuf)> = std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let pkg = KernelPackage::parse_as(flavour, e.file_name().to_str()?)?;
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

fn search(flavour: Flavour, apt: &Apt) -> Result<Vec<KernelPackage>> {
    let (prefix, suffix) = flavour.affixes();
    let pattern = format!(
        "^{}[0-9]+{}$",
        prefix.replace('.', "\\."),
        suffix.replace('+', "\\+")
    );
    let o = apt.run("apt-cache", &["search", "--names-only", &pattern], None)?;
    let mut out = Vec::new();
    for pkg in packages_in_search(flavour, &String::from_utf8_lossy(&o.stdout)) {
        let q = format!("{}:{ARCH}", pkg.name);
        let p = apt.run("apt-cache", &["policy", &q], None)?;
        if policy_candidate(&String::from_utf8_lossy(&p.stdout)).is_some() {
            out.push(pkg);
        }
    }
    Ok(out)
}

fn choose_packages(flavour: Flavour, apt: &Apt) -> Result<Vec<KernelPackage>> {
    for (tool, pkg) in [("apt-get", "apt"), ("apt-cache", "apt"), ("dpkg", "dpkg")] {
        require_tool(tool, pkg)
            .context("fetching the kernel needs apt (or give --kernel VMLINUX)")?;
    }
    if !apt.private() {
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
    }
    let found = search(flavour, apt)?;
    if !found.is_empty() {
        return Ok(found);
    }
    // No ppc64el index yet. One index failing (bookworm-security often has no fresh
    // ppc64el list on mirrors) makes apt-get exit non-zero without harming the others,
    // so what counts is whether the package is findable afterwards.
    println!(
        "linux-boot: no {ARCH} {} kernel in the apt index; apt-get update",
        flavour.name()
    );
    let update = apt.run("apt-get", &["update", "-q"], None)?;
    let found = search(flavour, apt)?;
    if found.is_empty() {
        let (prefix, suffix) = flavour.affixes();
        bail!(
            "no {prefix}N{suffix}:{ARCH} package after apt-get update ({}); is the network \
             or a Debian mirror reachable? (or give --kernel VMLINUX)\n{}",
            update.status,
            tail(&text(&update), 15)
        );
    }
    if !update.status.success() {
        println!(
            "linux-boot: apt-get update reported errors, but {} is available:",
            found[0].name
        );
        for l in text(&update).lines().filter(|l| l.starts_with("E:")) {
            println!("  {l}");
        }
    }
    Ok(found)
}

fn download_and_extract(pkg: &KernelPackage, cache: &Path, apt: &Apt) -> Result<PathBuf> {
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let q = format!("{}:{ARCH}", pkg.name);
    let o = apt.run("apt-get", &["download", &q], Some(cache))?;
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
        let p = packages_in_search(Flavour::L61, SEARCH);
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
        assert!(packages_in_search(Flavour::L61, "").is_empty());
    }

    #[test]
    fn trixie_flavours() {
        let search = "\
linux-image-6.12.107+deb13-powerpc64le - Linux 6.12 for Little-endian 64-bit PowerPC with 4k pages
linux-image-6.12.107+deb13-powerpc64le-64k - Linux 6.12 with 64k pages
linux-image-6.12.107+deb13-powerpc64le-64k-dbg - Debug symbols
linux-image-6.12.117+deb13-powerpc64le - Linux 6.12 with 4k pages
linux-image-6.12.9+deb13-powerpc64le - Linux 6.12 with 4k pages
";
        let k4: Vec<u32> = packages_in_search(Flavour::L612, search)
            .iter()
            .map(|p| p.abi)
            .collect();
        assert_eq!(k4, [117, 107, 9]);
        let k64 = packages_in_search(Flavour::L612K64, search);
        assert_eq!(k64.len(), 1);
        assert_eq!(k64[0].release(), "6.12.107+deb13-powerpc64le-64k");
        assert!(packages_in_search(Flavour::L61, search).is_empty());
    }

    #[test]
    fn mirrors_from_apt_sources() {
        let deb822 =
            "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://mirror.example/debian")
        );
        let one_line = "deb [arch=amd64] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            mirror_in(one_line).as_deref(),
            Some("http://mirror.example/debian")
        );
        let security = "URIs: http://mirror.example/debian-security\n";
        assert_eq!(mirror_in(security), None);
        assert_eq!(mirror_in(""), None);
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
            let pkg = KernelPackage::parse_as(
                Flavour::L61,
                &format!("linux-image-6.1.0-{abi}-powerpc64le"),
            )
            .unwrap();
            let d = dir.join(&pkg.name);
            std::fs::create_dir_all(d.join("boot")).unwrap();
            if complete {
                std::fs::write(pkg.vmlinux_in(&d), b"\x7fELF").unwrap();
            }
        }
        let (pkg, path) = cached(Flavour::L61, &dir).unwrap();
        assert_eq!(pkg.abi, 50);
        assert!(path.ends_with("boot/vmlinux-6.1.0-50-powerpc64le"));
        assert!(check_elf(&path).is_ok());
        std::fs::write(&path, b"MZ").unwrap();
        assert!(check_elf(&path).is_err());
        assert!(cached(Flavour::L61, &dir.join("absent")).is_none());
        assert!(cached(Flavour::L612, &dir).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
