//! Facts about a flattened device tree that early boot reads besides the topology:
//! the header, the memory reservation block, `/reserved-memory`, `/chosen` and
//! `/rtas`, each read the way Linux 6.1 reads it (the function is named on each
//! field), so that a planner can place what the kernel reserves and allocates before
//! the per-CPU structures.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use phys::{PhysAddr, PhysSize};

use crate::crashkernel::{parse_crashkernel, CrashKernel};
use crate::error::DtbError;
use crate::fdt::{NodeRec, Tree};

/// The FDT header fields early boot looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdtHeader {
    /// `version` (16 from prom_init, 17 from dtc or QEMU).
    pub version: u32,
    /// `last_comp_version`.
    pub last_comp_version: u32,
    /// `totalsize`: what `early_init_fdt_reserve_self` reserves from the blob's start.
    pub totalsize: PhysSize,
    /// `boot_cpuid_phys`: the thread id of the boot CPU.
    pub boot_cpuid_phys: u32,
    /// `size_dt_strings`.
    pub strings_size: u32,
    /// Bytes of the structure block up to and including `FDT_END`, as walked (a
    /// version 16 header does not record it).
    pub structure_size: u32,
}

/// A `/reserved-memory` child with `reg`: each non-empty `(base, size)` entry is
/// reserved (`__reserved_mem_reserve_reg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservedRegion {
    /// The node's name (`fdt_get_name`).
    pub name: String,
    /// Start of the region.
    pub base: PhysAddr,
    /// Its size.
    pub size: PhysSize,
    /// `no-map`: removed from the linear map as well as reserved.
    pub no_map: bool,
}

/// A `/reserved-memory` child without `reg` but with `size`: allocated later by
/// `__reserved_mem_alloc_size` (`fdt_reserved_mem_save_node(child, uname, 0, 0)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynamicReservation {
    /// The node's name.
    pub name: String,
    /// `size` (root `#size-cells` wide).
    pub size: PhysSize,
    /// `alignment` (root `#address-cells` wide), if given.
    pub alignment: Option<PhysSize>,
    /// `alloc-ranges` as `(base, size)` pairs: where the allocation may go.
    pub alloc_ranges: Vec<(PhysAddr, PhysSize)>,
    /// `no-map`.
    pub no_map: bool,
}

/// `/reserved-memory` as `fdt_scan_reserved_mem` reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReservedMemory {
    /// Whether `/reserved-memory` exists.
    pub present: bool,
    /// False when Linux ignores the node entirely ("unsupported node format"): its
    /// `#address-cells`/`#size-cells` are missing or differ from the root's, or it has
    /// no `ranges` (`__reserved_mem_check_root`). Then both lists are empty.
    pub usable: bool,
    /// Static regions of available children, in tree order.
    pub regions: Vec<ReservedRegion>,
    /// Dynamic reservations of available children, in tree order.
    pub dynamic: Vec<DynamicReservation>,
}

/// What `/chosen` (or `/chosen@0`) says (`early_init_dt_scan_chosen`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChosenFacts {
    /// `linux,initrd-start` and `linux,initrd-end` as
    /// `early_init_dt_check_for_initrd` reads them (each `len / 4` cells); `None`
    /// when either is missing or the start lies above the end (Linux ignores it).
    pub initrd: Option<(PhysAddr, PhysAddr)>,
    /// `bootargs` up to its first NUL (invalid UTF-8 replaced).
    pub bootargs: Option<String>,
    /// `crashkernel=` parsed from `bootargs` (`parse_crashkernel`); a malformed one is
    /// `None` with a warning.
    pub crashkernel: Option<CrashKernel>,
}

/// What `/rtas` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtasFacts {
    /// Whether `/rtas` exists.
    pub present: bool,
    /// `rtas-size` (`early_init_dt_scan_rtas`).
    pub size: Option<u32>,
    /// `linux,rtas-base` (added by prom_init's `prom_instantiate_rtas`).
    pub base: Option<u32>,
    /// `linux,rtas-entry` (added by prom_init).
    pub entry: Option<u32>,
    /// The `maxcpus` cell of `ibm,lrdr-capacity`: the one after the root's
    /// `#address-cells` + `#size-cells` cells (`smp_setup_cpu_maps` uses
    /// `of_n_addr_cells`/`of_n_size_cells` of `/rtas`, i.e. of its parent, the root).
    pub lrdr_max_cpus: Option<u32>,
    /// `ibm,hypertas-functions` present: Linux sets `FW_FEATURE_LPAR`
    /// (`probe_fw_features`).
    pub lpar: bool,
}

/// Boot facts of a device tree blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdtFacts {
    /// The header.
    pub header: FdtHeader,
    /// The memory reservation block's entries before its `(0, 0)` terminator, in
    /// order (`early_init_fdt_scan_reserved_mem` reserves each).
    pub mem_reserve: Vec<(PhysAddr, PhysSize)>,
    /// `/reserved-memory`.
    pub reserved_memory: ReservedMemory,
    /// `/chosen`.
    pub chosen: ChosenFacts,
    /// `/rtas`.
    pub rtas: RtasFacts,
    /// Threads per `device_type = "cpu"` node in tree order, present or not, as
    /// `smp_setup_cpu_maps` counts them: `ibm,ppc-interrupt-server#s` entries, else
    /// `reg` entries, else 1.
    pub cpu_node_threads: Vec<u32>,
    /// Things Linux would warn about and skip.
    pub warnings: Vec<String>,
}

impl FdtFacts {
    /// The number of possible CPUs Linux 6.1's `smp_setup_cpu_maps` ends with, for a
    /// kernel whose `nr_cpu_ids` is this (`NR_CPUS`, 2048 on Debian, or `nr_cpus=`):
    /// every thread of every CPU node up to `nr_cpu_ids`; then on an LPAR with `/rtas`
    /// `ibm,lrdr-capacity`, CPUs `0..maxcpus` as well, where `maxcpus` is the property's
    /// count times the thread count of the last CPU node scanned (the CPUs are taken
    /// to have `CPU_FTR_SMT`, as every POWER7 and later does), capped at `nr_cpu_ids`.
    /// In hypervisor mode (no `ibm,hypertas-functions`) only the scanned threads.
    pub fn possible_cpus(&self, nr_cpu_ids: u32) -> u32 {
        let mut scanned = 0u32;
        let mut nthreads = 1u32;
        for &t in &self.cpu_node_threads {
            nthreads = t;
            scanned = scanned.saturating_add(t).min(nr_cpu_ids);
            if scanned >= nr_cpu_ids {
                break;
            }
        }
        if !self.rtas.lpar {
            return scanned;
        }
        let Some(max) = self.rtas.lrdr_max_cpus else {
            return scanned;
        };
        let max = u64::from(max) * u64::from(nthreads);
        let max = max.min(u64::from(nr_cpu_ids)) as u32;
        scanned.max(max)
    }
}

use crate::fdt::{be_cells as cells, prop_value as raw, read_number as number};

fn u32_prop(node: &NodeRec<'_>, name: &str) -> Result<Option<u32>, DtbError> {
    match raw(node, name) {
        None => Ok(None),
        Some(&[a, b, c, d]) => Ok(Some(u32::from_be_bytes([a, b, c, d]))),
        Some(v) => Err(DtbError::prop(
            &node.path,
            name,
            crate::error::PropProblem::WrongLength {
                len: v.len(),
                expected: "4",
            },
        )),
    }
}

fn first_string(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(v.get(..end).unwrap_or(&[])).into_owned()
}

fn available(node: &NodeRec<'_>) -> bool {
    raw(node, "status").is_none_or(|v| matches!(first_string(v).as_str(), "okay" | "ok"))
}

/// The boot facts of a blob.
pub fn fdt_facts(blob: &[u8]) -> Result<FdtFacts, DtbError> {
    facts(&Tree::parse(blob)?)
}

pub(crate) fn facts(tree: &Tree<'_>) -> Result<FdtFacts, DtbError> {
    let mut warnings = Vec::new();
    let root = tree.node(0);
    let root_cells = |name: &str| -> Result<u32, DtbError> {
        Ok(match root {
            Some(r) => u32_prop(r, name)?.unwrap_or(1),
            None => 1,
        })
    };
    // dt_root_addr_cells / dt_root_size_cells, both defaulting to 1.
    let (ac, sc) = (root_cells("#address-cells")?, root_cells("#size-cells")?);
    let find = |p: &str| tree.find(p).and_then(|i| tree.node(i));
    let chosen = find("/chosen").or_else(|| find("/chosen@0"));
    Ok(FdtFacts {
        header: FdtHeader {
            version: tree.version,
            last_comp_version: tree.last_comp_version,
            totalsize: PhysSize::new(tree.totalsize.into()),
            boot_cpuid_phys: tree.boot_cpuid_phys,
            strings_size: tree.strings_size,
            structure_size: u32::try_from(tree.struct_len).unwrap_or(u32::MAX),
        },
        mem_reserve: tree
            .mem_reserve
            .iter()
            .map(|&(b, s)| (PhysAddr::new(b), PhysSize::new(s)))
            .collect(),
        reserved_memory: reserved_memory(tree, ac, sc, &mut warnings)?,
        chosen: chosen.map_or_else(
            || Ok(ChosenFacts::default()),
            |c| chosen_facts(c, &mut warnings),
        )?,
        rtas: rtas_facts(find("/rtas"), ac, sc, &mut warnings)?,
        cpu_node_threads: tree
            .nodes
            .iter()
            .filter(|n| raw(n, "device_type").map(first_string).as_deref() == Some("cpu"))
            .map(|n| {
                let v = raw(n, "ibm,ppc-interrupt-server#s").or_else(|| raw(n, "reg"));
                v.map_or(1, |v| (v.len() / 4) as u32)
            })
            .collect(),
        warnings,
    })
}

fn chosen_facts(c: &NodeRec<'_>, warnings: &mut Vec<String>) -> Result<ChosenFacts, DtbError> {
    let read = |name| raw(c, name).map(|v| number(&cells(v)));
    let initrd = match (read("linux,initrd-start"), read("linux,initrd-end")) {
        (Some(s), Some(e)) if s <= e => Some((PhysAddr::new(s), PhysAddr::new(e))),
        (Some(s), Some(e)) => {
            warnings.push(format!(
                "{}: linux,initrd-start {s:#x} is above linux,initrd-end {e:#x}; Linux ignores \
                 the initrd",
                c.path
            ));
            None
        }
        _ => None,
    };
    let bootargs = raw(c, "bootargs").map(first_string);
    let crashkernel = match bootargs.as_deref().map(parse_crashkernel) {
        Some(Ok(ck)) => ck,
        Some(Err(why)) => {
            warnings.push(format!(
                "{}: bootargs: {why}; Linux reserves nothing",
                c.path
            ));
            None
        }
        None => None,
    };
    Ok(ChosenFacts {
        initrd,
        bootargs,
        crashkernel,
    })
}

fn rtas_facts(
    rtas: Option<&NodeRec<'_>>,
    ac: u32,
    sc: u32,
    warnings: &mut Vec<String>,
) -> Result<RtasFacts, DtbError> {
    let Some(r) = rtas else {
        return Ok(RtasFacts::default());
    };
    let lrdr_max_cpus = match raw(r, "ibm,lrdr-capacity") {
        None => None,
        Some(v) => {
            let c = cells(v);
            let at = ac as usize + sc as usize;
            let got = c.get(at).copied();
            if got.is_none() {
                warnings.push(format!(
                    "{}: ibm,lrdr-capacity has {} cells, no maxcpus cell at index {at} \
                     (Linux reads past it)",
                    r.path,
                    c.len()
                ));
            }
            got
        }
    };
    Ok(RtasFacts {
        present: true,
        size: u32_prop(r, "rtas-size")?,
        base: u32_prop(r, "linux,rtas-base")?,
        entry: u32_prop(r, "linux,rtas-entry")?,
        lrdr_max_cpus,
        lpar: raw(r, "ibm,hypertas-functions").is_some(),
    })
}

fn pairs(v: &[u8], ac: u32, sc: u32) -> Vec<(u64, u64)> {
    let c = cells(v);
    let (a, s) = (ac as usize, sc as usize);
    c.chunks_exact(a + s)
        .map(|e| (number(&e[..a]), number(&e[a..])))
        .collect()
}

fn reserved_memory(
    tree: &Tree<'_>,
    ac: u32,
    sc: u32,
    warnings: &mut Vec<String>,
) -> Result<ReservedMemory, DtbError> {
    let Some(rm) = tree.find("/reserved-memory").and_then(|i| tree.node(i)) else {
        return Ok(ReservedMemory::default());
    };
    let mut out = ReservedMemory {
        present: true,
        ..ReservedMemory::default()
    };
    let same = |name, want| matches!(raw(rm, name), Some(&[a, b, c, d]) if u32::from_be_bytes([a, b, c, d]) == want);
    if !same("#size-cells", sc) || !same("#address-cells", ac) || raw(rm, "ranges").is_none() {
        warnings.push(format!(
            "{}: cell counts differ from the root's or no ranges; Linux ignores it",
            rm.path
        ));
        return Ok(out);
    }
    out.usable = true;
    if ac == 0 || sc == 0 || ac > 4 || sc > 4 {
        warnings.push(format!(
            "{}: {ac}/{sc} root cells cannot describe regions",
            rm.path
        ));
        return Ok(out);
    }
    let entry = ((ac + sc) * 4) as usize;
    for &ci in &rm.children {
        let Some(child) = tree.node(ci) else { continue };
        if !available(child) {
            continue;
        }
        let name = String::from(child.path.rsplit('/').next().unwrap_or(""));
        let no_map = raw(child, "no-map").is_some();
        if let Some(reg) = raw(child, "reg") {
            if reg.len() % entry != 0 {
                warnings.push(format!(
                    "{}: reg is not whole entries; Linux skips the node",
                    child.path
                ));
                continue;
            }
            for (base, size) in pairs(reg, ac, sc) {
                if size == 0 {
                    warnings.push(format!(
                        "{}: empty reg entry at {base:#x} not reserved",
                        child.path
                    ));
                    continue;
                }
                out.regions.push(ReservedRegion {
                    name: name.clone(),
                    base: PhysAddr::new(base),
                    size: PhysSize::new(size),
                    no_map,
                });
            }
            continue;
        }
        let Some(size) = raw(child, "size") else {
            continue;
        };
        if size.len() != (sc * 4) as usize {
            warnings.push(format!(
                "{}: size is not #size-cells wide; Linux skips it",
                child.path
            ));
            continue;
        }
        let alignment = match raw(child, "alignment") {
            None => None,
            Some(a) if a.len() == (ac * 4) as usize => Some(PhysSize::new(number(&cells(a)))),
            Some(_) => {
                warnings.push(format!(
                    "{}: alignment is not #address-cells wide; Linux skips it",
                    child.path
                ));
                continue;
            }
        };
        let alloc_ranges = match raw(child, "alloc-ranges") {
            None => Vec::new(),
            Some(r) if r.len() % entry == 0 => pairs(r, ac, sc)
                .into_iter()
                .map(|(b, s)| (PhysAddr::new(b), PhysSize::new(s)))
                .collect(),
            Some(_) => {
                warnings.push(format!(
                    "{}: alloc-ranges is not whole entries; Linux skips it",
                    child.path
                ));
                continue;
            }
        };
        out.dynamic.push(DynamicReservation {
            name,
            size: PhysSize::new(number(&cells(size))),
            alignment,
            alloc_ranges,
            no_map,
        });
    }
    Ok(out)
}
