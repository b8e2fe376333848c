//! `cargo xtask package-check`: every library crate packages, and the packaged crates'
//! own tests pass with nothing but what `cargo package` put in them.
//!
//! The crates depend on one another and none is on crates.io yet, so the check cannot
//! test one `.crate` against the registry. Instead:
//!
//! 1. `cargo package --no-verify --allow-dirty -p numaboot-phys -p ...` writes every
//!    `.crate` at once (cargo resolves the not-yet-published siblings among the
//!    packages being written). `--allow-dirty`: a CI checkout may hold generated files;
//!    what is packaged is what git tracks plus untracked files that are not ignored,
//!    as for a release. `--no-verify`: step 3 builds and tests them anyway.
//! 2. Each `.crate` is unpacked into `TARGET/package-check/crates/`, and a throw-away
//!    workspace there lists them as members with a `[patch.crates-io]` entry per crate,
//!    so `numaboot-phys = "0.1.0"` in a packaged manifest means the unpacked package,
//!    not a registry lookup. Third-party crates come from crates.io, at the versions of
//!    the repository's `Cargo.lock` (copied in, so the check tests what CI tests).
//! 3. `cargo test --workspace --all-features` there: unit, integration and doc tests of
//!    every packaged crate, each seeing only its own files (a test reading
//!    `../topology/fixtures` finds no such directory: the sibling is
//!    `numaboot-topology-0.1.0`).
//!
//! Network: `cargo package` refreshes the crates.io index and step 3 downloads the
//! third-party crates not yet in the local cache; with `--offline` neither happens and
//! a warm cache (any earlier run, or `cargo fetch`) is enough.
//!
//! Each archive must also carry `README.md`, `LICENSE-MIT` and `LICENSE-APACHE`, and
//! no nested package (`fuzz/`). A repository URL still on the `.invalid` placeholder is
//! reported as a warning: fine for CI, to be replaced before `cargo publish`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

/// The published library crates, in dependency order.
pub const LIBRARY_CRATES: [&str; 7] = [
    "numaboot-phys",
    "numaboot-memblock",
    "numaboot-papr",
    "numaboot-topology",
    "numaboot-percpu",
    "numaboot-vpa-hv",
    "numaboot-bootlog",
];

/// Files every packaged crate must contain.
const REQUIRED: [&str; 4] = ["Cargo.toml", "README.md", "LICENSE-MIT", "LICENSE-APACHE"];

/// Options of `cargo xtask package-check`.
#[derive(clap::Args, Clone, Debug)]
pub struct PackageCheckArgs {
    /// Only package and inspect the archives; do not build or test them.
    #[arg(long)]
    pub no_test: bool,
    /// Pass `--offline` to cargo: no index update, third-party crates from the local
    /// cache only (which a previous run or `cargo fetch` filled).
    #[arg(long)]
    pub offline: bool,
}

/// Runs the check; an error names the crate or the step that failed.
pub fn run(args: &PackageCheckArgs) -> Result<()> {
    let root = crate::workspace_root()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    warn_placeholder(&root)?;

    let mut package = cargo(&root, args.offline);
    package.args(["package", "--no-verify", "--allow-dirty"]);
    for c in LIBRARY_CRATES {
        package.args(["-p", c]);
    }
    run_cmd(&mut package, "cargo package")?;

    let work = target.join("package-check");
    let crates_dir = work.join("crates");
    if crates_dir.exists() {
        fs::remove_dir_all(&crates_dir)
            .with_context(|| format!("removing {}", crates_dir.display()))?;
    }
    fs::create_dir_all(&crates_dir)
        .with_context(|| format!("creating {}", crates_dir.display()))?;
    let version = workspace_version(&root)?;
    let mut members = Vec::new();
    for c in LIBRARY_CRATES {
        let archive = target.join("package").join(format!("{c}-{version}.crate"));
        let listing = tar_list(&archive)?;
        let dir = format!("{c}-{version}");
        for f in REQUIRED {
            ensure!(
                listing.iter().any(|l| *l == format!("{dir}/{f}")),
                "{}: no {f}",
                archive.display()
            );
        }
        if let Some(nested) = listing.iter().find(|l| l.contains("/fuzz/")) {
            bail!("{}: carries the fuzz crate ({nested})", archive.display());
        }
        println!("package-check: {c}: {} files", listing.len());
        // `-m`: the files get the extraction time, not the archive's. With the
        // archive's, an edit made while a previous check was building can look older
        // than that build's output, and cargo would test the stale build.
        run_cmd(
            Command::new("tar")
                .arg("-xzmf")
                .arg(&archive)
                .arg("-C")
                .arg(&crates_dir),
            "tar -x",
        )?;
        members.push((c, dir));
    }

    let mut manifest = String::from(
        "# Written by `cargo xtask package-check`: the packaged crates, each resolved to\n\
         # its unpacked sibling instead of crates.io.\n[workspace]\nresolver = \"2\"\nmembers = [\n",
    );
    for (_, dir) in &members {
        manifest.push_str(&format!("    \"crates/{dir}\",\n"));
    }
    manifest.push_str("]\n\n[patch.crates-io]\n");
    for (name, dir) in &members {
        manifest.push_str(&format!("{name} = {{ path = \"crates/{dir}\" }}\n"));
    }
    fs::write(work.join("Cargo.toml"), manifest).context("writing the check workspace")?;
    fs::copy(root.join("Cargo.lock"), work.join("Cargo.lock")).context("copying Cargo.lock")?;

    if args.no_test {
        println!("package-check: packaged and inspected (tests skipped)");
        return Ok(());
    }
    let mut test = cargo(&work, args.offline);
    test.env("CARGO_TARGET_DIR", work.join("target")).args([
        "test",
        "--workspace",
        "--all-features",
    ]);
    run_cmd(&mut test, "cargo test of the packaged crates")?;
    println!(
        "package-check: {} crates packaged and tested in isolation",
        members.len()
    );
    Ok(())
}

fn cargo(dir: &Path, offline: bool) -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(dir);
    if offline {
        c.arg("--offline");
    }
    c
}

fn run_cmd(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {what}"))?;
    ensure!(status.success(), "{what} failed ({status})");
    Ok(())
}

fn tar_list(archive: &Path) -> Result<Vec<String>> {
    let out = Command::new("tar")
        .arg("-tzf")
        .arg(archive)
        .output()
        .with_context(|| format!("listing {}", archive.display()))?;
    ensure!(
        out.status.success(),
        "tar -t {}: {}",
        archive.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The library crates' version: the one in `[workspace.dependencies]`, which is what
/// the packaged manifests require of each other.
fn workspace_version(root: &Path) -> Result<String> {
    let text = fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("phys = ") && l.contains("package = \"numaboot-phys\""))
        .context("Cargo.toml: no `phys = { package = \"numaboot-phys\", ... }` line")?;
    let version = line
        .split("version = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("Cargo.toml: numaboot-phys has no version")?;
    Ok(version.to_owned())
}

fn warn_placeholder(root: &Path) -> Result<()> {
    let text = fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    if let Some(line) = text
        .lines()
        .find(|l| l.starts_with("repository") && l.contains(".invalid"))
    {
        println!(
            "package-check: warning: {line} is a placeholder; set the real URL before publishing"
        );
    }
    Ok(())
}
