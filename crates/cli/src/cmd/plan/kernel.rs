//! Kernel image facts from a `vmlinux`: the symbols the early sequence depends on.
//!
//! Read with the `object` crate (gimli-rs), which parses ELF symbol tables without
//! pulling in a DWARF reader. A ppc64 kernel links at `KERNELBASE` = 0xc000000000000000
//! and runs at physical 0, so a symbol's physical address is its value with the top
//! nibble cleared (`__pa`).

use anyhow::{bail, Context};
use object::{Object, ObjectSymbol};
use percpu::early::{KernelImage, Region};
use phys::{PhysAddr, PhysSize};

/// `__pa()` of a ppc64 kernel linked at `KERNELBASE`.
fn pa(va: u64) -> u64 {
    va & 0x0fff_ffff_ffff_ffff
}

/// Reads `_end`, `_stext`, `__init_end`, `__srwx_boundary` (absent without
/// `CONFIG_STRICT_KERNEL_RWX`: then no boundary) and the interrupt vectors
/// (`__start_interrupts`, `__end_interrupts`) from an ELF image.
pub fn kernel_from_elf(bytes: &[u8]) -> anyhow::Result<KernelImage> {
    let file = object::File::parse(bytes).context("not an ELF file")?;
    if file.architecture() != object::Architecture::PowerPc64 {
        bail!(
            "not a 64-bit PowerPC kernel (ELF architecture {:?})",
            file.architecture()
        );
    }
    let find = |name: &str| -> Option<u64> {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .map(|s| s.address())
    };
    let need = |v: Option<u64>, name: &str| {
        v.ok_or_else(|| anyhow::anyhow!("no symbol `{name}` (a stripped vmlinux?)"))
    };
    let end = need(find("_end"), "_end")?;
    let stext = need(find("_stext"), "_stext")?;
    let init_end = need(find("__init_end"), "__init_end")?;
    let srwx = find("__srwx_boundary");
    let ivec = find("__start_interrupts").zip(find("__end_interrupts"));
    if end < stext || init_end < stext {
        bail!("`_end` or `__init_end` lies below `_stext`");
    }
    let rel = |va: u64| PhysAddr::new(pa(stext) + (va - stext));
    let interrupts = match ivec {
        Some((a, b)) if a >= stext && b >= a => {
            Region::new(PhysAddr::new(a - stext), PhysSize::new(b - a))
        }
        _ => Region::new(PhysAddr::ZERO, PhysSize::ZERO),
    };
    Ok(KernelImage {
        end: rel(end),
        stext: PhysAddr::new(pa(stext)),
        init_end: rel(init_end),
        srwx_boundary: srwx.filter(|v| *v >= stext).map_or(PhysAddr::ZERO, rel),
        interrupts,
    })
}

/// `(major, minor)` of the `Linux version X.Y...` banner (`linux_banner`) in an image.
pub fn banner_version(image: &[u8]) -> Option<(u32, u32)> {
    const TAG: &[u8] = b"Linux version ";
    let at = image.windows(TAG.len()).position(|w| w == TAG)? + TAG.len();
    let rest = image.get(at..at.saturating_add(16))?;
    let text: String = rest
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .map(|&b| b as char)
        .collect();
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// What the kernel build's configuration says that a plan depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelConfig {
    /// `CONFIG_NR_CPUS`.
    pub nr_cpus: Option<u32>,
    /// `CONFIG_THREAD_SHIFT`.
    pub thread_shift: Option<u32>,
    /// `PAGE_SIZE` from `CONFIG_PPC_4K_PAGES` / `CONFIG_PPC_64K_PAGES`.
    pub page_size: Option<u64>,
    /// `CONFIG_KFENCE` (on by default when built: `kfence.sample_interval` 100).
    pub kfence: Option<bool>,
}

/// Reads a kernel `.config` (Debian ships it as `config-VERSION` beside
/// `vmlinux-VERSION`).
pub fn parse_config(text: &str) -> KernelConfig {
    let mut c = KernelConfig::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "CONFIG_NR_CPUS" => c.nr_cpus = value.trim().parse().ok(),
            "CONFIG_THREAD_SHIFT" => c.thread_shift = value.trim().parse().ok(),
            "CONFIG_PPC_4K_PAGES" if value.trim() == "y" => c.page_size = Some(0x1000),
            "CONFIG_PPC_64K_PAGES" if value.trim() == "y" => c.page_size = Some(0x1_0000),
            "CONFIG_KFENCE" => c.kfence = Some(value.trim() == "y"),
            _ => {}
        }
    }
    if c.kfence.is_none() && text.contains("# CONFIG_KFENCE is not set") {
        c.kfence = Some(false);
    }
    c
}

/// The configuration file beside a `vmlinux`: Debian's `config-VERSION` for
/// `vmlinux-VERSION`, or a build tree's `.config`.
pub fn config_beside(vmlinux: &std::path::Path) -> Option<std::path::PathBuf> {
    // An image on standard input lies beside nothing.
    if crate::cmd::files::is_stdin(vmlinux) {
        return None;
    }
    let dir = vmlinux.parent()?;
    let name = vmlinux.file_name()?.to_str()?;
    let candidates = [
        name.strip_prefix("vmlinux-")
            .map(|v| dir.join(format!("config-{v}"))),
        Some(dir.join(".config")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_elf_is_an_error() {
        let e = kernel_from_elf(b"\x7fELF nonsense").unwrap_err();
        assert!(e.to_string().contains("ELF"), "{e}");
        assert!(kernel_from_elf(&[]).is_err());
    }

    /// A ppc64le ELF with the given symbols, written with `object`'s writer.
    fn elf(symbols: &[(&str, u64)], arch: object::Architecture) -> Vec<u8> {
        use object::write::{Object, Symbol, SymbolSection};
        use object::{BinaryFormat, Endianness, SymbolFlags, SymbolKind, SymbolScope};
        let mut o = Object::new(BinaryFormat::Elf, arch, Endianness::Little);
        for (name, value) in symbols {
            o.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value: *value,
                size: 0,
                kind: SymbolKind::Data,
                scope: SymbolScope::Linkage,
                weak: false,
                section: SymbolSection::Absolute,
                flags: SymbolFlags::None,
            });
        }
        o.write().unwrap()
    }

    const KB: u64 = 0xc000_0000_0000_0000;

    #[test]
    fn symbols_become_physical_facts() {
        let bytes = elf(
            &[
                ("_stext", KB),
                ("__start_interrupts", KB + 0x100),
                ("__end_interrupts", KB + 0x5d00),
                ("__srwx_boundary", KB + 0x200_0000),
                ("__init_end", KB + 0x24e_0000),
                ("_end", KB + 0x288_0000),
            ],
            object::Architecture::PowerPc64,
        );
        let k = kernel_from_elf(&bytes).unwrap();
        assert_eq!(k, KernelImage::DEBIAN_6_1);
    }

    #[test]
    fn missing_symbols_and_other_architectures_are_errors() {
        let no_end = elf(
            &[("_stext", KB), ("__init_end", KB + 0x1000)],
            object::Architecture::PowerPc64,
        );
        let e = kernel_from_elf(&no_end).unwrap_err();
        assert!(e.to_string().contains("`_end`"), "{e}");
        let x86 = elf(
            &[("_stext", KB), ("__init_end", KB), ("_end", KB + 1)],
            object::Architecture::X86_64,
        );
        let e = kernel_from_elf(&x86).unwrap_err();
        assert!(e.to_string().contains("PowerPC"), "{e}");
        let backwards = elf(
            &[("_stext", KB + 0x1000), ("__init_end", KB), ("_end", KB)],
            object::Architecture::PowerPc64,
        );
        assert!(kernel_from_elf(&backwards).is_err());
        // No RWX boundary (CONFIG_STRICT_KERNEL_RWX off) and no vector symbols.
        let plain = elf(
            &[
                ("_stext", KB),
                ("__init_end", KB + 0x1000),
                ("_end", KB + 0x2000),
            ],
            object::Architecture::PowerPc64,
        );
        let k = kernel_from_elf(&plain).unwrap();
        assert_eq!(k.srwx_boundary, PhysAddr::ZERO);
        assert!(k.interrupts.size.is_zero());
    }

    #[test]
    fn banners() {
        assert_eq!(
            banner_version(b"\0\0Linux version 6.12.107+deb13-powerpc64le (gcc)\0"),
            Some((6, 12))
        );
        assert_eq!(
            banner_version(b"Linux version 6.1.0-50-powerpc64le"),
            Some((6, 1))
        );
        assert_eq!(banner_version(b"Linux version x"), None);
        assert_eq!(banner_version(b"no banner"), None);
    }

    #[test]
    fn kernel_config_lines() {
        let c = parse_config(
            "# comment\nCONFIG_NR_CPUS=2048\nCONFIG_THREAD_SHIFT=14\n# CONFIG_PPC_4K_PAGES is not set\nCONFIG_PPC_64K_PAGES=y\nCONFIG_X=\n",
        );
        assert_eq!(
            c,
            KernelConfig {
                nr_cpus: Some(2048),
                thread_shift: Some(14),
                page_size: Some(0x1_0000),
                kfence: None,
            }
        );
        assert_eq!(
            parse_config("CONFIG_PPC_4K_PAGES=y").page_size,
            Some(0x1000)
        );
        assert_eq!(parse_config("garbage\n=\n").nr_cpus, None);
        assert_eq!(parse_config("CONFIG_KFENCE=y").kfence, Some(true));
        assert_eq!(
            parse_config("# CONFIG_KFENCE is not set").kfence,
            Some(false)
        );
    }

    #[test]
    fn physical_addresses() {
        assert_eq!(pa(0xc000_0000_0288_0000), 0x288_0000);
        assert_eq!(pa(0x288_0000), 0x288_0000);
    }
}
