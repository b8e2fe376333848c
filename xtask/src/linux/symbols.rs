//! Kernel facts from the vmlinux ELF (symbol addresses through `nm`) and the mapping
//! from the kernel's linear-map addresses to guest physical addresses.

use std::fmt;
use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use percpu::early::{KernelImage, Region};
use phys::{PhysAddr, PhysSize};

/// Base of the 64-bit Book3S kernel linear map (`PAGE_OFFSET`): a kernel virtual
/// address there is this plus the physical address.
const PAGE_OFFSET: u64 = 0xc000_0000_0000_0000;

/// Why a value is not a linear-map kernel address.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NotLinear(pub u64);

impl fmt::Display for NotLinear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#018x} is not a kernel linear-map address (0xc000...)",
            self.0
        )
    }
}

impl std::error::Error for NotLinear {}

/// The physical address behind a kernel linear-map address: the top nibble is 0xc and
/// the rest is the physical address.
pub fn linear_to_phys(va: u64) -> Result<PhysAddr, NotLinear> {
    if va >> 60 != PAGE_OFFSET >> 60 {
        return Err(NotLinear(va));
    }
    Ok(PhysAddr::new(va & !(0xf << 60)))
}

/// The address of `name` in `nm` output (`ADDRESS TYPE NAME` lines), when it is defined
/// exactly once (or several times at one address).
pub fn symbol_address(nm_output: &str, name: &str) -> Result<Option<u64>> {
    let mut found: Option<u64> = None;
    for line in nm_output.lines() {
        let mut words = line.split_whitespace();
        let (Some(addr), Some(_kind), Some(sym), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        if sym != name {
            continue;
        }
        let addr = u64::from_str_radix(addr, 16)
            .with_context(|| format!("nm: bad address in `{line}`"))?;
        match found {
            Some(prev) if prev != addr => {
                anyhow::bail!("nm: `{name}` is defined at both {prev:#x} and {addr:#x}")
            }
            _ => found = Some(addr),
        }
    }
    Ok(found)
}

/// The physical addresses of the kernel variables the paca check reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct KernelVars {
    /// `paca_ptrs`: the pointer to the array of per-CPU paca pointers.
    pub paca_ptrs: PhysAddr,
    /// `nr_cpu_ids`: the number of possible CPU ids (an `unsigned int`).
    pub nr_cpu_ids: PhysAddr,
    /// `boot_cpuid`: the logical id of the CPU that booted (an `int`).
    pub boot_cpuid: PhysAddr,
}

impl KernelVars {
    /// Finds the variables in `nm` output of the vmlinux.
    pub fn from_nm(nm_output: &str) -> Result<Self> {
        let get = |name: &str| physical(nm_output, name);
        Ok(KernelVars {
            paca_ptrs: get("paca_ptrs")?,
            nr_cpu_ids: get("nr_cpu_ids")?,
            boot_cpuid: get("boot_cpuid")?,
        })
    }

    /// Runs `powerpc64le-linux-gnu-nm` on `vmlinux`.
    pub fn from_vmlinux(vmlinux: &Path) -> Result<Self> {
        Self::from_nm(&nm(vmlinux)?)
            .with_context(|| format!("reading the symbols of {}", vmlinux.display()))
    }
}

/// The physical address of the linear-map symbol `name`, which must be defined.
fn physical(nm_output: &str, name: &str) -> Result<PhysAddr> {
    let va = symbol_address(nm_output, name)?
        .with_context(|| format!("the vmlinux has no symbol `{name}`"))?;
    linear_to_phys(va).with_context(|| format!("symbol `{name}`"))
}

/// The kernel-image facts the planner works from ([`KernelImage`]), read from the
/// vmlinux's own symbols: `_end`, `_stext`, `__init_end`, `__srwx_boundary` and the
/// interrupt vectors `__start_interrupts..__end_interrupts` (offsets from `_stext`).
pub fn kernel_image(nm_output: &str) -> Result<KernelImage> {
    let stext = physical(nm_output, "_stext")?;
    let from_stext = |name: &str| -> Result<u64> {
        let a = physical(nm_output, name)?;
        a.as_u64()
            .checked_sub(stext.as_u64())
            .with_context(|| format!("`{name}` ({a}) is below `_stext` ({stext})"))
    };
    let (vectors, vectors_end) = (
        from_stext("__start_interrupts")?,
        from_stext("__end_interrupts")?,
    );
    ensure!(
        vectors <= vectors_end,
        "`__end_interrupts` is below `__start_interrupts`"
    );
    Ok(KernelImage {
        end: physical(nm_output, "_end")?,
        stext,
        init_end: physical(nm_output, "__init_end")?,
        srwx_boundary: physical(nm_output, "__srwx_boundary")?,
        interrupts: Region::new(PhysAddr::new(vectors), PhysSize::new(vectors_end - vectors)),
    })
}

/// The output of `powerpc64le-linux-gnu-nm` on the ELF file `elf`.
pub fn nm(elf: &Path) -> Result<String> {
    let out = Command::new("powerpc64le-linux-gnu-nm")
        .arg(elf)
        .output()
        .context("running powerpc64le-linux-gnu-nm")?;
    ensure!(
        out.status.success(),
        "powerpc64le-linux-gnu-nm {} failed: {}",
        elf.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The little-endian 64-bit words of `bytes` (the guest runs little-endian); a trailing
/// partial word is an error, as it means a short read.
pub fn le_u64s(bytes: &[u8]) -> Result<Vec<u64>> {
    ensure!(
        bytes.len() % 8 == 0,
        "{} bytes is not a whole number of 64-bit words",
        bytes.len()
    );
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMLINUX: &str = "/work/kernel/x/boot/vmlinux-6.1.0-50-powerpc64le";

    #[test]
    fn linear_map() {
        assert_eq!(
            linear_to_phys(0xc000_0000_0288_0000),
            Ok(PhysAddr::new(0x288_0000))
        );
        assert_eq!(
            linear_to_phys(0xc000_0000_bfff_fd00),
            Ok(PhysAddr::new(0xbfff_fd00))
        );
        assert_eq!(linear_to_phys(0), Err(NotLinear(0)));
        // The vmalloc/io region (0xc008...) is still the 0xc nibble; user and
        // 0xd/0xf addresses are not.
        assert_eq!(
            linear_to_phys(0xd000_0000_0000_1000),
            Err(NotLinear(0xd000_0000_0000_1000))
        );
        assert_eq!(
            linear_to_phys(0x7fff_0000_0000),
            Err(NotLinear(0x7fff_0000_0000))
        );
    }

    #[test]
    fn nm_lines() {
        let nm = "\
c0000000024e31a0 D boot_cpuid
c0000000026e76a0 D nr_cpu_ids
                 U undefined_thing
c0000000026e6e58 D paca_ptrs
c0000000026e6e60 d paca_ptrs_size
";
        assert_eq!(
            symbol_address(nm, "paca_ptrs").unwrap(),
            Some(0xc000_0000_026e_6e58)
        );
        assert_eq!(symbol_address(nm, "paca").unwrap(), None);
        assert_eq!(symbol_address(nm, "undefined_thing").unwrap(), None);
        let v = KernelVars::from_nm(nm).unwrap();
        assert_eq!(v.paca_ptrs, PhysAddr::new(0x26e_6e58));
        assert_eq!(v.nr_cpu_ids, PhysAddr::new(0x26e_76a0));
        assert_eq!(v.boot_cpuid, PhysAddr::new(0x24e_31a0));

        let twice = format!("{nm}c0000000026e0000 b paca_ptrs\n");
        assert!(symbol_address(&twice, "paca_ptrs").is_err());
        let missing = nm.replace("boot_cpuid", "boot_cpu");
        let e = KernelVars::from_nm(&missing).unwrap_err();
        assert!(format!("{e:#}").contains("boot_cpuid"), "{e:#}");
        let bad = nm.replace("c0000000026e6e58", "zz");
        assert!(symbol_address(&bad, "paca_ptrs").is_err());
    }

    /// The image facts of the 6.1 vmlinux's symbols, as `nm` prints them.
    const IMAGE_NM: &str = "\
c000000000005d00 T __end_interrupts
c0000000024e0000 D __init_end
c000000002000000 T __srwx_boundary
c000000000000100 T __start_interrupts
c000000002880000 B _end
c000000000000000 T _stext
";

    #[test]
    fn image_facts_from_symbols() {
        let image = kernel_image(IMAGE_NM).unwrap();
        assert_eq!(image.end, PhysAddr::new(0x288_0000));
        assert_eq!(image.stext, PhysAddr::ZERO);
        assert_eq!(image.init_end, PhysAddr::new(0x24e_0000));
        assert_eq!(image.srwx_boundary, PhysAddr::new(0x200_0000));
        assert_eq!(
            image.interrupts,
            Region::new(PhysAddr::new(0x100), PhysSize::new(0x5c00))
        );
        for name in [
            "_end",
            "_stext",
            "__init_end",
            "__srwx_boundary",
            "__start_interrupts",
            "__end_interrupts",
        ] {
            let missing = IMAGE_NM.replace(&format!(" {name}\n"), " renamed\n");
            let e = kernel_image(&missing).unwrap_err();
            assert!(format!("{e:#}").contains(name), "{name}: {e:#}");
        }
        let reversed = IMAGE_NM.replace("c000000000005d00 T __end", "c000000000000080 T __end");
        assert!(kernel_image(&reversed).is_err());
        let below = IMAGE_NM.replace("c000000000000000 T _stext", "c000000000000200 T _stext");
        let e = kernel_image(&below).unwrap_err();
        assert!(format!("{e:#}").contains("below `_stext`"), "{e:#}");
    }

    #[test]
    fn little_endian_words() {
        let bytes = [0x00, 0x00, 0x88, 0x02, 0x00, 0x00, 0x00, 0xc0];
        assert_eq!(le_u64s(&bytes).unwrap(), [0xc000_0000_0288_0000]);
        assert!(le_u64s(&bytes[..7]).is_err());
        assert!(le_u64s(&[]).unwrap().is_empty());
    }

    /// The Debian 6.1 vmlinux of the brief: the three variables are data in the kernel
    /// image, which is loaded at physical 0.
    #[test]
    fn real_vmlinux() {
        if !Path::new(VMLINUX).is_file()
            || crate::require_tool("powerpc64le-linux-gnu-nm", "").is_err()
        {
            eprintln!("skipping: {VMLINUX} or powerpc64le-linux-gnu-nm not present");
            return;
        }
        let v = KernelVars::from_vmlinux(Path::new(VMLINUX)).unwrap();
        for a in [v.paca_ptrs, v.nr_cpu_ids, v.boot_cpuid] {
            assert!(a.as_u64() < 0x1_0000_0000, "{a}");
        }
        assert!(v.paca_ptrs.is_aligned(8));
        assert!(v.nr_cpu_ids.is_aligned(4));
        assert!(v.boot_cpuid.is_aligned(4));
    }
}
