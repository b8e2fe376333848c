//! What a `memblock=debug` console log of Linux 6.1 says about two things the harness
//! needs: where the flattened device tree the kernel booted from lies, and where each
//! CPU's paca was allocated.
//!
//! With `memblock=debug` every memblock allocation prints a request line naming its
//! caller (`memblock_alloc_try_nid: SIZE bytes align=.. nid=N ... CALLER+off/len`) and,
//! when it succeeds, a `memblock_reserve: [FIRST-LAST] ...` line with the range it took.

use std::fmt;

use phys::{PhysAddr, PhysSize};

/// Why a console log could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogError {
    /// No `memblock_reserve` line from `early_init_fdt_reserve_self` (was the kernel
    /// booted with `memblock=debug`?).
    NoFdtReservation,
    /// A `memblock_reserve: [A-B]` range that does not parse or ends before it starts.
    BadRange {
        /// 1-based line number in the log.
        line: usize,
    },
    /// An `alloc_paca_data` request line whose size or nid does not parse.
    BadRequest {
        /// 1-based line number in the log.
        line: usize,
    },
    /// An `alloc_paca_data` request with no `memblock_reserve` line before the next
    /// request (the allocation failed, or the log is truncated).
    NoReservation {
        /// 1-based line number of the request.
        line: usize,
    },
    /// The reserved range does not have the requested size.
    SizeMismatch {
        /// 1-based line number of the request.
        line: usize,
        /// Bytes requested.
        requested: u64,
        /// Bytes the following `memblock_reserve` line covers.
        reserved: u64,
    },
    /// No `alloc_paca_data` allocation at all.
    NoPacas,
    /// The first paca was not allocated with nid=-1, so it is not the boot CPU's
    /// early allocation.
    FirstNotBoot {
        /// The nid of the first paca request.
        nid: i64,
    },
    /// The log has a different number of pacas than the kernel has possible CPUs.
    CountMismatch {
        /// Pacas in the log.
        pacas: usize,
        /// `nr_cpu_ids` of the running kernel.
        nr_cpu_ids: u32,
    },
    /// `boot_cpuid` is not below `nr_cpu_ids`.
    BootCpuOutOfRange {
        /// The kernel's `boot_cpuid`.
        boot_cpuid: i64,
        /// The kernel's `nr_cpu_ids`.
        nr_cpu_ids: u32,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::NoFdtReservation => write!(
                f,
                "no `memblock_reserve: [..] early_init_fdt_reserve_self` line (booted without memblock=debug?)"
            ),
            LogError::BadRange { line } => {
                write!(f, "line {line}: malformed memblock_reserve range")
            }
            LogError::BadRequest { line } => {
                write!(f, "line {line}: malformed alloc_paca_data request (size or nid)")
            }
            LogError::NoReservation { line } => write!(
                f,
                "line {line}: alloc_paca_data request without a memblock_reserve line after it"
            ),
            LogError::SizeMismatch {
                line,
                requested,
                reserved,
            } => write!(
                f,
                "line {line}: alloc_paca_data asked for {requested} bytes but {reserved} were reserved"
            ),
            LogError::NoPacas => write!(f, "no alloc_paca_data allocation in the log"),
            LogError::FirstNotBoot { nid } => write!(
                f,
                "the first paca was allocated with nid={nid}, not the boot CPU's nid=-1"
            ),
            LogError::CountMismatch { pacas, nr_cpu_ids } => write!(
                f,
                "the log allocates {pacas} pacas but the kernel has nr_cpu_ids={nr_cpu_ids}"
            ),
            LogError::BootCpuOutOfRange {
                boot_cpuid,
                nr_cpu_ids,
            } => write!(
                f,
                "boot_cpuid {boot_cpuid} is not below nr_cpu_ids {nr_cpu_ids}"
            ),
        }
    }
}

impl std::error::Error for LogError {}

/// A physical range `[base, base + size)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub base: PhysAddr,
    /// Length in bytes (at least 1).
    pub size: PhysSize,
}

/// One `alloc_paca_data` allocation as the log reports it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PacaDataAlloc {
    /// The requested node; -1 is Linux's NUMA_NO_NODE.
    pub nid: i64,
    /// Where it landed.
    pub range: Range,
    /// 1-based line number of the request.
    pub line: usize,
}

/// Parses the `[0xFIRST-0xLAST]` of a `memblock_reserve:` line (the kernel prints the
/// inclusive last byte).
fn reserve_range(line: &str) -> Option<Range> {
    let rest = &line[line.find("memblock_reserve: [")? + "memblock_reserve: [".len()..];
    let inner = &rest[..rest.find(']')?];
    let (a, b) = inner.split_once('-')?;
    let a = u64::from_str_radix(a.strip_prefix("0x")?, 16).ok()?;
    let b = u64::from_str_radix(b.strip_prefix("0x")?, 16).ok()?;
    let size = b.checked_sub(a)?.checked_add(1)?;
    Some(Range {
        base: PhysAddr::new(a),
        size: PhysSize::new(size),
    })
}

/// The range of the flattened device tree the kernel booted from: it reserves its own
/// blob in `early_init_fdt_reserve_self`.
pub fn fdt_range(log: &str) -> Result<Range, LogError> {
    for (i, line) in log.lines().enumerate() {
        if line.contains("memblock_reserve: [") && line.contains("early_init_fdt_reserve_self") {
            return reserve_range(line).ok_or(LogError::BadRange { line: i + 1 });
        }
    }
    Err(LogError::NoFdtReservation)
}

/// Size and nid of a `memblock_alloc_try_nid: SIZE bytes align=.. nid=N` request.
fn request(line: &str) -> Option<(u64, i64)> {
    let rest = &line[line.find("memblock_alloc_try_nid: ")? + "memblock_alloc_try_nid: ".len()..];
    let mut words = rest.split_whitespace();
    let size = words.next()?.parse().ok()?;
    if words.next()? != "bytes" {
        return None;
    }
    let nid = words.find_map(|w| w.strip_prefix("nid="))?.parse().ok()?;
    Some((size, nid))
}

/// Every `alloc_paca_data` allocation in log order, each paired with the
/// `memblock_reserve` line that follows its request.
pub fn paca_data_allocs(log: &str) -> Result<Vec<PacaDataAlloc>, LogError> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, u64, i64)> = None;
    for (i, line) in log.lines().enumerate() {
        let is_request = line.contains("memblock_alloc") && line.contains(" bytes ");
        if is_request {
            if let Some((at, _, _)) = pending {
                return Err(LogError::NoReservation { line: at });
            }
            if line.contains("alloc_paca_data+") {
                let (size, nid) = request(line).ok_or(LogError::BadRequest { line: i + 1 })?;
                pending = Some((i + 1, size, nid));
            }
        } else if line.contains("memblock_reserve: [") {
            if let Some((at, size, nid)) = pending.take() {
                let range = reserve_range(line).ok_or(LogError::BadRange { line: i + 1 })?;
                if range.size.as_u64() != size {
                    return Err(LogError::SizeMismatch {
                        line: at,
                        requested: size,
                        reserved: range.size.as_u64(),
                    });
                }
                out.push(PacaDataAlloc {
                    nid,
                    range,
                    line: at,
                });
            }
        }
    }
    if let Some((at, _, _)) = pending {
        return Err(LogError::NoReservation { line: at });
    }
    Ok(out)
}

/// The pacas among the `alloc_paca_data` allocations, in allocation order.
///
/// `allocate_paca` allocates a CPU's paca first and then its lppaca (and, with the hash
/// MMU, its SLB shadow) through the same helper; the first allocation of all is the boot
/// CPU's paca, so its size tells which later allocations are pacas.
pub fn pacas(allocs: &[PacaDataAlloc]) -> Result<Vec<PacaDataAlloc>, LogError> {
    let first = allocs.first().ok_or(LogError::NoPacas)?;
    if first.nid != -1 {
        return Err(LogError::FirstNotBoot { nid: first.nid });
    }
    Ok(allocs
        .iter()
        .filter(|a| a.range.size == first.range.size)
        .copied()
        .collect())
}

/// Assigns the pacas of [`pacas`] to CPUs: the first is `boot_cpuid`'s (allocated in
/// early setup, before the NUMA topology is known), the others go to the remaining
/// possible CPUs in ascending order (`smp_setup_pacas` skips the boot CPU). Returns the
/// paca address of each CPU, by CPU number.
pub fn paca_of_cpu(
    pacas: &[PacaDataAlloc],
    boot_cpuid: i64,
    nr_cpu_ids: u32,
) -> Result<Vec<PhysAddr>, LogError> {
    if pacas.len() != nr_cpu_ids as usize {
        return Err(LogError::CountMismatch {
            pacas: pacas.len(),
            nr_cpu_ids,
        });
    }
    let boot = usize::try_from(boot_cpuid)
        .ok()
        .filter(|&b| b < pacas.len())
        .ok_or(LogError::BootCpuOutOfRange {
            boot_cpuid,
            nr_cpu_ids,
        })?;
    let mut rest = pacas.iter().skip(1);
    let mut out = Vec::with_capacity(pacas.len());
    for cpu in 0..pacas.len() {
        let p = if cpu == boot {
            pacas.first()
        } else {
            rest.next()
        };
        // Both exist: the count was checked above.
        out.push(p.map(|p| p.range.base).unwrap_or(PhysAddr::ZERO));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Layout, Machine};

    /// A file of the real boots kept as the topology crate's fixtures.
    fn fixture(name: &str) -> String {
        format!(
            "{}/../crates/topology/fixtures/linux-6.1/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    /// The radix and hash boots (8 CPUs on 4 nodes, node 3 memoryless).
    fn real(name: &str) -> String {
        std::fs::read_to_string(fixture(&format!("{name}.log"))).unwrap()
    }

    const EXCERPT: &str = "\
[    0.000000] memblock_reserve: [0x0000000002c90000-0x0000000002cbffff] early_init_fdt_reserve_self+0x3c/0x50
[    0.000000] memblock_alloc_try_nid: 3328 bytes align=0x80 nid=-1 from=0x0000000000000000 max_addr=0x0000000040000000 alloc_paca_data+0x80/0xd0
[    0.000000] memblock_reserve: [0x0000000002880000-0x0000000002880cff] memblock_alloc_range_nid+0x10c/0x1dc
[    0.000000] memblock_alloc_try_nid: 1024 bytes align=0x400 nid=-1 from=0x0000000000000000 max_addr=0x0000000040000000 alloc_paca_data+0x80/0xd0
[    0.000000] memblock_reserve: [0x0000000002881000-0x00000000028813ff] memblock_alloc_range_nid+0x10c/0x1dc
[    0.000000] memblock_alloc_try_nid: 128 bytes align=0x80 nid=-1 from=0x0000000000000000 max_addr=0x0000000040000000 alloc_paca_data+0x80/0xd0
[    0.000000] memblock_reserve: [0x0000000002880d00-0x0000000002880d7f] memblock_alloc_range_nid+0x10c/0x1dc
[    0.000000] memblock_alloc_try_nid: 8192 bytes align=0x4 nid=-1 from=0x0000000000000000 max_addr=0x0000000000000000 smp_setup_cpu_maps+0x78/0x4b0
[    0.000000] memblock_reserve: [0x00000000bfffa000-0x00000000bfffbfff] memblock_alloc_range_nid+0x10c/0x1dc
[    0.000000] memblock_alloc_try_nid: 3328 bytes align=0x80 nid=1 from=0x0000000000000000 max_addr=0x0000000040000000 alloc_paca_data+0x80/0xd0
[    0.000000] memblock_reserve: [0x000000003ffef300-0x000000003ffeffff] memblock_alloc_range_nid+0x10c/0x1dc
";

    #[test]
    fn excerpt_fdt_and_pacas() {
        let fdt = fdt_range(EXCERPT).unwrap();
        assert_eq!(fdt.base, PhysAddr::new(0x2c90000));
        assert_eq!(fdt.size, PhysSize::new(0x30000));
        let allocs = paca_data_allocs(EXCERPT).unwrap();
        assert_eq!(allocs.len(), 4);
        let p = pacas(&allocs).unwrap();
        assert_eq!(
            p.iter().map(|a| a.range.base).collect::<Vec<_>>(),
            [PhysAddr::new(0x2880000), PhysAddr::new(0x3ffef300)]
        );
        assert_eq!(p[1].nid, 1);
        assert_eq!(
            paca_of_cpu(&p, 1, 2).unwrap(),
            [PhysAddr::new(0x3ffef300), PhysAddr::new(0x2880000)]
        );
        assert_eq!(
            paca_of_cpu(&p, 2, 2),
            Err(LogError::BootCpuOutOfRange {
                boot_cpuid: 2,
                nr_cpu_ids: 2
            })
        );
        assert_eq!(
            paca_of_cpu(&p, 0, 3),
            Err(LogError::CountMismatch {
                pacas: 2,
                nr_cpu_ids: 3
            })
        );
    }

    #[test]
    fn broken_logs_are_named() {
        assert_eq!(fdt_range("nothing here"), Err(LogError::NoFdtReservation));
        assert_eq!(
            fdt_range("memblock_reserve: [0x10-0x0f] early_init_fdt_reserve_self"),
            Err(LogError::BadRange { line: 1 })
        );
        let truncated = EXCERPT.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(
            paca_data_allocs(&truncated),
            Err(LogError::NoReservation { line: 2 })
        );
        let failed: String = EXCERPT
            .lines()
            .enumerate()
            .filter(|&(i, _)| i != 2)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert_eq!(
            paca_data_allocs(&failed),
            Err(LogError::NoReservation { line: 2 })
        );
        let short = EXCERPT.replace("0x0000000002880cff", "0x0000000002880bff");
        assert_eq!(
            paca_data_allocs(&short),
            Err(LogError::SizeMismatch {
                line: 2,
                requested: 3328,
                reserved: 3072
            })
        );
        let garbled = EXCERPT.replace("3328 bytes align=0x80 nid=-1", "x bytes align=0x80 nid=-1");
        assert_eq!(
            paca_data_allocs(&garbled),
            Err(LogError::BadRequest { line: 2 })
        );
        let not_boot = EXCERPT.replacen("nid=-1", "nid=0", 1);
        assert_eq!(
            pacas(&paca_data_allocs(&not_boot).unwrap()),
            Err(LogError::FirstNotBoot { nid: 0 })
        );
        assert_eq!(pacas(&[]), Err(LogError::NoPacas));
    }

    /// On the real boots: 8 pacas of 3328 bytes, the boot CPU's in the kernel image's
    /// neighbourhood (below the RMA), every other one on the node its CPU belongs to or,
    /// for the memoryless node 3, elsewhere; each aligned to the 128-byte cache line.
    #[test]
    fn real_boots() {
        for name in ["r84", "h84"] {
            let log = real(name);
            // The range holds a whole flattened tree: magic, then a total size that fits.
            let fdt = fdt_range(&log).unwrap();
            let booted = std::fs::read(fixture(&format!("{name}.booted.dtb"))).unwrap();
            assert_eq!(booted[..4], [0xd0, 0x0d, 0xfe, 0xed], "{name}");
            let total = u32::from_be_bytes([booted[4], booted[5], booted[6], booted[7]]);
            assert!(u64::from(total) <= fdt.size.as_u64(), "{name}");
            let p = pacas(&paca_data_allocs(&log).unwrap()).unwrap();
            assert_eq!(p.len(), 8, "{name}");
            assert!(p.iter().all(|a| a.range.size == PhysSize::new(3328)));
            assert!(p.iter().all(|a| a.range.base.is_aligned(128)));
            // After the boot CPU's, each paca is requested on the node QEMU put its CPU
            // on, by the layout convention linux-boot and e2e share.
            let layout = Layout {
                smp: 8,
                nodes: 4,
                node_mib: 1024,
                memoryless_last: true,
            };
            let m = Machine::new(&layout, crate::Firmware::Vof, None, &[]);
            assert_eq!(p[0].nid, -1, "{name}");
            for (cpu, (paca, node)) in p.iter().zip(&m.cpu_node).enumerate().skip(1) {
                assert_eq!(paca.nid, i64::from(*node), "{name} CPU {cpu}");
            }
            let cpus = paca_of_cpu(&p, 0, 8).unwrap();
            assert_eq!(cpus[0], PhysAddr::new(0x2880000), "{name}");
        }
    }
}
