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
    fn physical_addresses() {
        assert_eq!(pa(0xc000_0000_0288_0000), 0x288_0000);
        assert_eq!(pa(0x288_0000), 0x288_0000);
    }
}
