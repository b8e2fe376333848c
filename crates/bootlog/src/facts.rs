//! The boot facts a planner needs, read from the log.

use alloc::vec::Vec;

use memblock::AllocLimit;
use percpu::consts::{L1_CACHE_BYTES, LPPACA_SIZE};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::{Cpu, MemoryRange, Node, Topology};

use crate::event::{Event, Range, Record, RegionArray};
use crate::parse::dump_region;

/// The MMU the kernel booted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mmu {
    /// Hash page table (`hash-mmu:` messages).
    Hash,
    /// Radix tree (`radix-mmu:` messages, `Using radix MMU`, `early_alloc_pgtable`).
    Radix,
}

/// An allocation the log shows: its size, and its address if it succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    /// Bytes asked for.
    pub size: PhysSize,
    /// Where memblock put it (`None`: the allocation failed).
    pub addr: Option<PhysAddr>,
}

/// One `MEMBLOCK configuration:` dump (`memblock_dump_all`, printed with
/// `memblock=debug` at the end of `setup_arch` and `memblock_allow_resize`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemblockDump {
    /// The 1-based line of `MEMBLOCK configuration:`.
    pub line: usize,
    /// `memory[]` regions and their nodes (`None` before `mem_topology_setup`).
    pub memory: Vec<(Range, Option<NodeId>)>,
    /// `reserved[]` regions.
    pub reserved: Vec<Range>,
}

/// What a planner needs to know about a boot, read from its log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFacts {
    /// End of the kernel image: the `early_init_devtree` reservation that starts at 0.
    pub kernel_end: Option<PhysAddr>,
    /// The flattened device tree blob (`early_init_fdt_reserve_self`).
    pub fdt: Option<Range>,
    /// `/memreserve/` entries and `reserved-memory` nodes, in log order
    /// (`early_init_fdt_scan_reserved_mem`, `__reserved_mem_reserve_reg`,
    /// `early_init_dt_reserve_memory`).
    pub reserved_mem: Vec<Range>,
    /// The unflattened device tree (`early_init_dt_alloc_memory_arch`).
    pub unflattened_tree: Option<Block>,
    /// The RTAS buffer (`rtas_initialize`).
    pub rtas: Option<Block>,
    /// `sizeof(struct paca_struct)`: the size of the first `alloc_paca_data` call.
    pub paca_size: Option<PhysSize>,
    /// The upper bound of the boot CPU's paca (`min(ppc64_bolted_size(),
    /// ppc64_rma_size)`).
    pub paca_limit: Option<AllocLimit>,
    /// The MMU, if the log shows it.
    pub mmu: Option<Mmu>,
    /// Hypervisor mode: pacas were allocated but no lppaca (`None`: no paca at all).
    pub hypervisor_mode: Option<bool>,
    /// Possible CPUs: how many pacas `alloc_paca_data` allocated.
    pub possible_cpus: u32,
    /// `nr_cpu_ids` at `early_setup` (`NR_CPUS` or `nr_cpus=`): `paca_ptrs` size / 8.
    pub nr_cpu_ids: Option<u32>,
    /// Every `MEMBLOCK configuration:` dump, in order.
    pub dumps: Vec<MemblockDump>,
    /// `numa: Node N CPUs: LIST` lines: each CPU and its node, ascending by CPU.
    pub cpu_nodes: Vec<(u32, NodeId)>,
    /// `(major, minor)` of the `Linux version X.Y.Z ...` banner.
    pub kernel_version: Option<(u32, u32)>,
    /// `THREAD_SIZE`: the size of the first `alloc_stack` allocation.
    pub thread_size: Option<PhysSize>,
    /// `PAGE_SIZE`: the alignment of `rtas_initialize`'s buffer.
    pub page_size: Option<u64>,
}

impl LogFacts {
    /// The memory map of the last dump that shows nodes (after `mem_topology_setup`).
    pub fn node_memory(&self) -> Option<&[(Range, Option<NodeId>)]> {
        self.dumps
            .iter()
            .rev()
            .find(|d| d.memory.iter().any(|m| m.1.is_some()))
            .map(|d| d.memory.as_slice())
    }

    /// A topology built from the log alone, when it shows both the memory map with
    /// nodes and the CPUs' nodes. What the log cannot say is filled in and documented
    /// here: hardware thread ids are the logical ids, distances are 10 local and 20
    /// remote, the RMA is the boot CPU's paca limit of a hash boot (unlimited
    /// otherwise). A node with CPUs but no memory (memoryless) is kept.
    pub fn topology(&self) -> Option<Topology> {
        let mem = self.node_memory()?;
        if self.cpu_nodes.is_empty() {
            return None;
        }
        let mut memory: Vec<MemoryRange> = mem
            .iter()
            .filter(|(r, _)| !r.size.is_zero())
            .map(|&(r, node)| MemoryRange {
                base: r.base,
                size: r.size,
                node,
            })
            .collect();
        memory.sort_by_key(|m| m.base);
        let ncpus = self.cpu_nodes.iter().map(|c| c.0).max()? as usize + 1;
        let mut cpus: Vec<Cpu> = (0..ncpus as u32)
            .map(|i| Cpu {
                logical_id: i,
                hw_id: i,
                node: None,
            })
            .collect();
        for &(c, n) in &self.cpu_nodes {
            if let Some(cpu) = cpus.get_mut(c as usize) {
                cpu.node = Some(n);
            }
        }
        let mut ids: Vec<NodeId> = memory
            .iter()
            .filter_map(|m| m.node)
            .chain(cpus.iter().filter_map(|c| c.node))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let n = ids.len();
        let distances = (0..n)
            .map(|i| (0..n).map(|j| if i == j { 10 } else { 20 }).collect())
            .collect();
        let rma_size = match (self.mmu, self.paca_limit) {
            (Some(Mmu::Hash), Some(AllocLimit::Addr(a))) => PhysSize::new(a.as_u64()),
            _ => PhysSize::MAX,
        };
        Some(Topology {
            cpus,
            memory,
            nodes: ids.into_iter().map(|id| Node { id }).collect(),
            distances,
            rma_size,
            hypervisor_mode: self.hypervisor_mode.unwrap_or(false),
        })
    }
}

/// Collects facts from the lines that are not memblock events.
#[derive(Default)]
pub(crate) struct FactsBuilder {
    radix_line: bool,
    hash_line: bool,
    dumps: Vec<MemblockDump>,
    in_dump: bool,
    cpu_nodes: Vec<(u32, NodeId)>,
    kernel_version: Option<(u32, u32)>,
}

/// `(major, minor)` of `Linux version 6.12.107+deb13-powerpc64le-64k (...)`.
fn banner_version(msg: &str) -> Option<(u32, u32)> {
    let rest = msg.strip_prefix("Linux version ")?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl FactsBuilder {
    pub(crate) fn see(&mut self, line: usize, msg: &str) {
        if self.kernel_version.is_none() {
            self.kernel_version = banner_version(msg);
        }
        if msg.starts_with("radix-mmu:") || msg.contains("Using radix MMU") {
            self.radix_line = true;
        } else if msg.starts_with("hash-mmu:") {
            self.hash_line = true;
        }
        if msg.starts_with("MEMBLOCK configuration:") {
            self.dumps.push(MemblockDump {
                line,
                ..MemblockDump::default()
            });
            self.in_dump = true;
            return;
        }
        if self.in_dump {
            let t = msg.trim_start();
            if let Some((array, range, nid)) = dump_region(msg) {
                if let Some(d) = self.dumps.last_mut() {
                    match array {
                        RegionArray::Memory => d.memory.push((range, nid)),
                        _ => d.reserved.push(range),
                    }
                }
                return;
            }
            // The header lines of the dump; anything else ends it.
            if !(t.starts_with("memory size")
                || t.starts_with("memory.cnt")
                || t.starts_with("reserved.cnt"))
            {
                self.in_dump = false;
            }
        }
        if let Some(rest) = msg.strip_prefix("numa: Node ") {
            if let Some((node, list)) = rest.split_once(" CPUs: ") {
                let node = node.trim().parse::<u32>().ok().and_then(NodeId::new);
                let cpus = topology::parse_id_list(list.trim(), 1 << 16);
                if let (Some(node), Ok(cpus)) = (node, cpus) {
                    for c in cpus {
                        self.cpu_nodes.push((c, node));
                    }
                }
            }
        }
    }

    pub(crate) fn finish(mut self, records: &[Record<'_>]) -> LogFacts {
        let mut f = LogFacts::default();
        let mut pgtable = false;
        let mut lppaca = false;
        for r in records {
            match &r.event {
                Event::Reserve { range, caller } => {
                    if caller.is("early_init_devtree") && range.base == PhysAddr::ZERO {
                        f.kernel_end.get_or_insert(range.end());
                    } else if caller.is("early_init_fdt_reserve_self") {
                        f.fdt.get_or_insert(*range);
                    } else if caller.is("early_init_fdt_scan_reserved_mem")
                        || caller.is("__reserved_mem_reserve_reg")
                        || caller.is("early_init_dt_reserve_memory")
                    {
                        f.reserved_mem.push(*range);
                    }
                }
                Event::Alloc(a) => {
                    let block = Block {
                        size: a.size,
                        addr: a.result.map(|r| r.addr),
                    };
                    if a.caller.is("early_init_dt_alloc_memory_arch") {
                        f.unflattened_tree.get_or_insert(block);
                    } else if a.caller.is("rtas_initialize") {
                        f.rtas.get_or_insert(block);
                        f.page_size.get_or_insert(a.align);
                    } else if a.caller.is("allocate_paca_ptrs") {
                        let n = u32::try_from(a.size.as_u64() / 8).unwrap_or(u32::MAX);
                        f.nr_cpu_ids.get_or_insert(n);
                    } else if a.caller.is("early_alloc_pgtable") {
                        pgtable = true;
                    } else if a.caller.is("alloc_stack") {
                        f.thread_size.get_or_insert(a.size);
                    } else if a.caller.is("alloc_paca_data") {
                        let first = *f.paca_size.get_or_insert(a.size);
                        f.paca_limit.get_or_insert(a.max);
                        if a.size == first && a.align == L1_CACHE_BYTES {
                            f.possible_cpus += 1;
                        } else if a.size.as_u64() == LPPACA_SIZE && a.align == LPPACA_SIZE {
                            lppaca = true;
                        }
                    }
                }
                _ => {}
            }
        }
        f.mmu = if pgtable || self.radix_line {
            Some(Mmu::Radix)
        } else if self.hash_line {
            Some(Mmu::Hash)
        } else {
            None
        };
        f.hypervisor_mode = (f.possible_cpus > 0).then_some(!lppaca);
        self.cpu_nodes.sort_unstable();
        self.cpu_nodes.dedup_by_key(|c| c.0);
        f.cpu_nodes = self.cpu_nodes;
        f.dumps = self.dumps;
        f.kernel_version = self.kernel_version;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn kernel_banner() {
        assert_eq!(
            banner_version("Linux version 6.12.107+deb13-powerpc64le-64k (debian-kernel@...)"),
            Some((6, 12))
        );
        assert_eq!(
            banner_version("Linux version 6.1.0-50-powerpc64le (x)"),
            Some((6, 1))
        );
        assert_eq!(banner_version("Linux version x"), None);
        assert_eq!(banner_version("random"), None);
    }

    #[test]
    fn topology_from_the_log_needs_memory_nodes_and_cpu_nodes() {
        let mut f = LogFacts::default();
        assert!(f.topology().is_none());
        f.dumps.push(MemblockDump {
            line: 1,
            memory: vec![(Range::from_inclusive(0, 0x3fff_ffff), Some(NodeId::ZERO))],
            reserved: Vec::new(),
        });
        assert!(f.topology().is_none());
        f.cpu_nodes = vec![(0, NodeId::ZERO), (1, NodeId::new(1).unwrap())];
        let t = f.topology().unwrap();
        assert_eq!(t.cpus.len(), 2);
        assert_eq!(t.nodes.len(), 2);
        assert_eq!(t.distances[0][1], 20);
        assert_eq!(t.rma_size, PhysSize::MAX);
    }
}
