//! Topology from a flattened device tree, following Linux 6.1's pSeries/PowerNV rules.
//!
//! The order of work mirrors Linux, because the FORM1 distance table is filled by side
//! effect and later writers win: CPUs in logical order (`parse_numa_properties`), then
//! `memory` nodes in tree order, then DR-memory LMBs (`walk_drmem_lmbs`).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use phys::{NodeId, PhysAddr, PhysSize};

use crate::error::{DtbError, MemorySource, PropProblem};
use crate::fdt::{NodeRec, Tree};
use crate::model::{Cpu, MemoryRange, Node, Topology};
use crate::rma::{linux_rma_size, Mmu};

/// Linux's `NR_CPUS` ceiling for ppc64 (`CONFIG_NR_CPUS` may be at most 8192).
pub const MAX_CPUS: usize = 8192;
/// `MAX_DISTANCE_REF_POINTS` in `numa.c`: deeper reference points are ignored.
const MAX_DISTANCE_REF_POINTS: usize = 4;
const LOCAL_DISTANCE: u32 = 10;
const REMOTE_DISTANCE: u32 = 20;

/// `DRCONF_MEM_ASSIGNED`: the LMB belongs to this partition.
pub const DRCONF_MEM_ASSIGNED: u32 = 0x8;
/// `DRCONF_MEM_AI_INVALID`: the LMB's associativity index is not valid.
pub const DRCONF_MEM_AI_INVALID: u32 = 0x40;
/// `DRCONF_MEM_RESERVED`: the LMB is reserved (QEMU marks boot RAM this way).
pub const DRCONF_MEM_RESERVED: u32 = 0x80;

/// Linux's `H_MAX_PHYSMEM_BITS` with 64K pages (book3s64 `hash-64k.h`): sparsemem
/// cannot describe memory above 2 PiB, so a range ending there is not a real layout.
pub const MAX_PHYSMEM_BITS: u32 = 51;
const PHYSMEM_END: u64 = 1 << MAX_PHYSMEM_BITS;
const BEYOND_PHYSMEM: PropProblem =
    PropProblem::Invalid("memory ends above 2 PiB (MAX_PHYSMEM_BITS 51)");

const DRMEM_PATH: &str = "/ibm,dynamic-reconfiguration-memory";

/// How node distances are described (PAPR "affinity form"), Linux's `affinity_form`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityForm {
    /// FORM0: one NUMA level, the second reference point names the node; distances are
    /// 10 local and 20 remote.
    Form0,
    /// FORM1: the first reference point names the node; the distance doubles for each
    /// reference point (most significant first) at which two nodes differ.
    Form1,
    /// FORM2: the first reference point names the node; distances come from
    /// `ibm,numa-lookup-index-table` and `ibm,numa-distance-table`.
    Form2,
}

/// Which layout the DR-memory node used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrmemVersion {
    /// `ibm,dynamic-memory`: one entry per LMB.
    V1,
    /// `ibm,dynamic-memory-v2`: one entry per run of LMBs with the same flags.
    V2,
}

/// Choices Linux makes from outside the tree (kernel config, command line, CPU
/// registers); the defaults are those of a POWER9+ pSeries guest on hash MMU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DtbOptions {
    /// Force an affinity form instead of reading it from `/chosen`.
    pub affinity: Option<AffinityForm>,
    /// Use this RMA size instead of computing it.
    pub rma_override: Option<PhysSize>,
    /// The MMU the kernel would use.
    pub mmu: Mmu,
    /// Force whether the CPU implements ISA 3.0 (POWER9+) instead of reading the boot
    /// CPU's `cpu-version`.
    pub arch_300: Option<bool>,
}

/// A [`Topology`] together with how it was derived from the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtbReport {
    /// The result.
    pub topology: Topology,
    /// The affinity form used.
    pub affinity: AffinityForm,
    /// True when `/chosen/ibm,architecture-vec-5` was absent or too short to carry the
    /// affinity bits (a tree dumped before client-architecture-support negotiation, as
    /// QEMU's `dumpdtb` gives) and FORM1 was assumed.
    pub affinity_assumed: bool,
    /// Linux's `primary_domain_index` (1-based), or `None` when NUMA is disabled for
    /// want of `ibm,associativity-reference-points`.
    pub primary_domain_index: Option<u32>,
    /// The lowest-based `memory` node range (`memstart_addr`, `first_memblock_size`).
    pub first_memory_block: Option<(PhysAddr, PhysSize)>,
    /// Whether the boot CPU was taken to implement ISA 3.0 (1 TiB RMA clamp).
    pub arch_300: bool,
    /// `ibm,lmb-size` when the DR-memory node is present.
    pub lmb_size: Option<PhysSize>,
    /// The DR-memory layout found, if any.
    pub drmem: Option<DrmemVersion>,
    /// Logical id of the CPU whose thread id is the header's `boot_cpuid_phys`.
    pub boot_cpu: Option<u32>,
    /// Things Linux would warn about (and then carry on), in the order found.
    pub warnings: Vec<String>,
}

/// Parses a blob with default options and returns only the topology.
pub fn topology_from_dtb(blob: &[u8]) -> Result<Topology, DtbError> {
    parse_dtb(blob, &DtbOptions::default()).map(|r| r.topology)
}

/// Parses a blob into a topology and a report of the decisions made.
pub fn parse_dtb(blob: &[u8], opts: &DtbOptions) -> Result<DtbReport, DtbError> {
    let tree = Tree::parse(blob)?;
    Parser::new(&tree, opts).run()
}

fn perr(node: &NodeRec<'_>, property: &str, problem: PropProblem) -> DtbError {
    DtbError::prop(&node.path, property, problem)
}

fn raw<'a>(node: &NodeRec<'a>, name: &str) -> Option<&'a [u8]> {
    node.props.iter().find(|p| p.name == name).map(|p| p.value)
}

/// A property as big-endian 32-bit cells; its length must be a multiple of 4.
fn cells(node: &NodeRec<'_>, name: &str) -> Result<Option<Vec<u32>>, DtbError> {
    let Some(v) = raw(node, name) else {
        return Ok(None);
    };
    if v.len() % 4 != 0 {
        return Err(perr(
            node,
            name,
            PropProblem::WrongLength {
                len: v.len(),
                expected: "a multiple of 4",
            },
        ));
    }
    Ok(Some(
        v.chunks_exact(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap_or([0; 4])))
            .collect(),
    ))
}

fn u32_prop(node: &NodeRec<'_>, name: &str) -> Result<Option<u32>, DtbError> {
    match raw(node, name) {
        None => Ok(None),
        Some(&[a, b, c, d]) => Ok(Some(u32::from_be_bytes([a, b, c, d]))),
        Some(v) => Err(perr(
            node,
            name,
            PropProblem::WrongLength {
                len: v.len(),
                expected: "4",
            },
        )),
    }
}

/// The first string of a string property.
fn str_prop<'a>(node: &NodeRec<'a>, name: &str) -> Option<&'a str> {
    let v = raw(node, name)?;
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    core::str::from_utf8(v.get(..end)?).ok()
}

fn available(node: &NodeRec<'_>) -> bool {
    matches!(str_prop(node, "status"), None | Some("okay") | Some("ok"))
}

/// `of_read_number` for the 1 or 2 cells the callers allow.
fn number(c: &[u32]) -> u64 {
    c.iter().fold(0u64, |acc, &x| (acc << 32) | u64::from(x))
}

/// A node's `ibm,associativity` domains: the cells after the leading count.
fn associativity(node: &NodeRec<'_>) -> Result<Option<Vec<u32>>, DtbError> {
    const NAME: &str = "ibm,associativity";
    let Some(c) = cells(node, NAME)? else {
        return Ok(None);
    };
    let Some((&count, rest)) = c.split_first() else {
        return Err(perr(
            node,
            NAME,
            PropProblem::WrongLength {
                len: 0,
                expected: "at least the count cell",
            },
        ));
    };
    let domains = rest.get(..count as usize).ok_or_else(|| {
        perr(
            node,
            NAME,
            PropProblem::CountTooLarge {
                count: count.into(),
                room: rest.len() as u64,
            },
        )
    })?;
    Ok(Some(domains.to_vec()))
}

/// Associativity-derived numbering state (`numa.c` statics).
struct Numa {
    form: AffinityForm,
    /// `primary_domain_index`, 1-based; `None` when NUMA is disabled.
    primary: Option<u32>,
    /// `distance_ref_points` capped at `MAX_DISTANCE_REF_POINTS`.
    ref_points: Vec<u32>,
    /// `distance_lookup_table`, filled lazily as Linux fills its static table.
    lookup: BTreeMap<NodeId, [u32; MAX_DISTANCE_REF_POINTS]>,
}

impl Numa {
    /// `__associativity_to_nid`: the domain at the primary index, with 0xffff and ids
    /// past `nr_node_ids` (still `MAX_NUMNODES` this early) meaning no node.
    fn nid(&self, domains: &[u32]) -> Option<NodeId> {
        let index = self.primary?.checked_sub(1)?;
        let id = *domains.get(index as usize)?;
        if id == 0xffff {
            return None;
        }
        NodeId::new(id)
    }

    /// `__initialize_form1_numa_distance`: record the domain at each reference point.
    fn init_form1(&mut self, domains: &[u32], nid: Option<NodeId>, warnings: &mut Vec<String>) {
        if self.form != AffinityForm::Form1 {
            return;
        }
        let Some(nid) = nid else { return };
        let row = self
            .lookup
            .entry(nid)
            .or_insert([0; MAX_DISTANCE_REF_POINTS]);
        for (i, &rp) in self.ref_points.iter().enumerate() {
            // Reference points were checked to be >= 1 when read.
            let index = rp.saturating_sub(1) as usize;
            let (Some(&v), Some(slot)) = (domains.get(index), row.get_mut(i)) else {
                warnings.push(format!(
                    "broken ibm,associativity for node {nid}: reference point {rp} is past its \
                     {} domains (Linux leaves the distance row partly filled)",
                    domains.len()
                ));
                return;
            };
            *slot = v;
        }
    }

    /// `__node_distance` for FORM1.
    fn form1_distance(&self, a: NodeId, b: NodeId) -> u32 {
        let zero = [0; MAX_DISTANCE_REF_POINTS];
        let ra = self.lookup.get(&a).unwrap_or(&zero);
        let rb = self.lookup.get(&b).unwrap_or(&zero);
        let mut d = LOCAL_DISTANCE;
        for i in 0..self.ref_points.len().min(MAX_DISTANCE_REF_POINTS) {
            if ra.get(i) == rb.get(i) {
                break;
            }
            d = d.saturating_mul(2);
        }
        d
    }
}

struct LookupArrays {
    n_arrays: u32,
    array_sz: u32,
    arrays: Vec<u32>,
}

struct Found {
    base: PhysAddr,
    size: PhysSize,
    node: Option<NodeId>,
    src: MemorySource,
}

/// What the CPU scan found: the threads, the boot CPU's logical id, and the node
/// describing the boot CPU (for its `cpu-version`).
struct CpuScan<'t, 'a> {
    cpus: Vec<Cpu>,
    boot: Option<u32>,
    boot_node: Option<&'t NodeRec<'a>>,
}

/// What the DR-memory scan found besides the ranges.
#[derive(Default)]
struct DrmemScan {
    lmb_size: Option<PhysSize>,
    version: Option<DrmemVersion>,
    aa: Option<LookupArrays>,
}

struct Parser<'t, 'a> {
    tree: &'t Tree<'a>,
    opts: &'t DtbOptions,
    warnings: Vec<String>,
}

impl<'t, 'a> Parser<'t, 'a> {
    fn new(tree: &'t Tree<'a>, opts: &'t DtbOptions) -> Self {
        Self {
            tree,
            opts,
            warnings: Vec::new(),
        }
    }

    fn find(&self, path: &str) -> Option<&'t NodeRec<'a>> {
        self.tree.find(path).and_then(|i| self.tree.node(i))
    }

    fn root(&self) -> Result<&'t NodeRec<'a>, DtbError> {
        self.tree.node(0).ok_or(DtbError::NoCpus)
    }

    /// `dt_root_addr_cells` / `dt_root_size_cells` (Linux defaults both to 1).
    fn root_cells(&self) -> Result<(u32, u32), DtbError> {
        let root = self.root()?;
        let mut out = [1u32; 2];
        for (slot, name) in out.iter_mut().zip(["#address-cells", "#size-cells"]) {
            if let Some(v) = u32_prop(root, name)? {
                if v > 2 {
                    return Err(perr(root, name, PropProblem::TooManyCells { cells: v }));
                }
                if v == 0 {
                    return Err(perr(
                        root,
                        name,
                        PropProblem::Invalid("zero cells cannot describe memory"),
                    ));
                }
                *slot = v;
            }
        }
        Ok((out[0], out[1]))
    }

    fn run(mut self) -> Result<DtbReport, DtbError> {
        let root = self.root()?;
        let opal = self.find("/ibm,opal");
        let compatible_powernv = raw(root, "compatible")
            .map(|v| v.split(|&b| b == 0).any(|s| s == b"ibm,powernv"))
            .unwrap_or(false);
        // PowerNV (OPAL) kernels run in hypervisor mode; pSeries kernels are LPARs.
        let hypervisor_mode = opal.is_some() || compatible_powernv;
        let (form, assumed) = self.affinity_form(hypervisor_mode)?;
        let mut numa = self.reference_points(form, opal)?;
        let (addr_cells, size_cells) = self.root_cells()?;

        let form2 = if numa.primary.is_some() && form == AffinityForm::Form2 {
            Some(self.form2_table(opal)?)
        } else {
            None
        };

        let CpuScan {
            cpus,
            boot: boot_cpu,
            boot_node,
        } = self.cpus(&mut numa)?;
        let mut found = Vec::new();
        let first = self.memory_nodes(&mut numa, addr_cells, size_cells, &mut found)?;
        let DrmemScan {
            lmb_size,
            version: drmem,
            aa,
        } = self.drmem(&mut numa, addr_cells, size_cells, &mut found)?;
        let memory = merge_memory(found)?;
        if memory.is_empty() {
            return Err(DtbError::NoMemory);
        }

        let mut ids: BTreeSet<NodeId> = BTreeSet::new();
        ids.extend(cpus.iter().filter_map(|c| c.node));
        ids.extend(memory.iter().filter_map(|m| m.node));
        if let Some(aa) = &aa {
            // Nodes named by the LMB lookup arrays exist even with no memory yet: they
            // are where hot-added memory will go.
            let sz = aa.array_sz as usize;
            if sz > 0 {
                for arr in aa.arrays.chunks_exact(sz).take(aa.n_arrays as usize) {
                    if numa.primary.is_some_and(|p| p as usize <= sz) {
                        ids.extend(numa.nid(arr));
                    }
                }
            }
        }
        if let Some((table, _)) = &form2 {
            ids.extend(table.iter().copied());
        }
        let nodes: Vec<Node> = ids.iter().map(|&id| Node { id }).collect();
        let distances = self.distances(&numa, &nodes, form2.as_ref())?;

        let arch_300 = match self.opts.arch_300 {
            Some(v) => v,
            None => self.detect_arch_300(boot_node)?,
        };
        let rma_size = match self.opts.rma_override {
            Some(s) => s,
            None => linux_rma_size(first, hypervisor_mode, arch_300, self.opts.mmu)
                .map_err(DtbError::Rma)?,
        };
        Ok(DtbReport {
            topology: Topology {
                cpus,
                memory,
                nodes,
                distances,
                rma_size,
                hypervisor_mode,
            },
            affinity: form,
            affinity_assumed: assumed,
            primary_domain_index: numa.primary,
            first_memory_block: first,
            arch_300,
            lmb_size,
            drmem,
            boot_cpu,
            warnings: self.warnings,
        })
    }

    /// `find_primary_domain_index`'s choice of form: OPAL is always FORM1; a pSeries
    /// guest uses what client-architecture-support negotiated, as recorded in
    /// `/chosen/ibm,architecture-vec-5` byte 5 (`OV5_FORM2_AFFINITY` 0x20,
    /// `OV5_FORM1_AFFINITY` 0x80).
    fn affinity_form(&self, opal: bool) -> Result<(AffinityForm, bool), DtbError> {
        if let Some(f) = self.opts.affinity {
            return Ok((f, false));
        }
        if opal {
            return Ok((AffinityForm::Form1, false));
        }
        let vec5 = self
            .find("/chosen")
            .and_then(|c| raw(c, "ibm,architecture-vec-5"));
        match vec5.and_then(|v| v.get(5)) {
            Some(b) if b & 0x20 != 0 => Ok((AffinityForm::Form2, false)),
            Some(b) if b & 0x80 != 0 => Ok((AffinityForm::Form1, false)),
            Some(_) => Ok((AffinityForm::Form0, false)),
            // Before CAS the vector is a placeholder (QEMU writes `[00 00]`). Linux always
            // asks for FORM1, and QEMU and PowerVM grant it, so the FORM1-shaped arrays
            // such a tree carries are read as FORM1.
            None => Ok((AffinityForm::Form1, true)),
        }
    }

    /// `find_primary_domain_index`: the reference points live in `/rtas` (pSeries) or
    /// `/ibm,opal` (PowerNV), falling back to the root.
    fn reference_points(
        &mut self,
        form: AffinityForm,
        opal: Option<&'t NodeRec<'a>>,
    ) -> Result<Numa, DtbError> {
        const NAME: &str = "ibm,associativity-reference-points";
        let holder = match opal.or_else(|| self.find("/rtas")) {
            Some(n) => n,
            None => self.root()?,
        };
        let mut numa = Numa {
            form,
            primary: None,
            ref_points: Vec::new(),
            lookup: BTreeMap::new(),
        };
        let Some(refs) = cells(holder, NAME)? else {
            self.warnings.push(format!(
                "{}: no {NAME}; NUMA disabled, everything on node 0",
                holder.path
            ));
            return Ok(numa);
        };
        let index = if form == AffinityForm::Form0 {
            if refs.len() < 2 {
                self.warnings.push(format!(
                    "{}: short {NAME} for FORM0; NUMA disabled",
                    holder.path
                ));
                return Ok(numa);
            }
            refs.get(1).copied()
        } else {
            refs.first().copied()
        };
        let Some(index) = index else {
            self.warnings
                .push(format!("{}: empty {NAME}; NUMA disabled", holder.path));
            return Ok(numa);
        };
        // Linux holds the index in an int: values with the top bit set are negative and
        // disable NUMA like a missing property.
        if index > i32::MAX as u32 {
            self.warnings.push(format!(
                "{}: {NAME} primary index {index:#x} is negative as an int; NUMA disabled",
                holder.path
            ));
            return Ok(numa);
        }
        numa.ref_points = refs.iter().copied().take(MAX_DISTANCE_REF_POINTS).collect();
        // Index 0 would make Linux read the count cell (associativity[-1]) as a node id.
        let used = if form == AffinityForm::Form1 {
            numa.ref_points.as_slice()
        } else {
            core::slice::from_ref(&index)
        };
        if used.contains(&0) {
            return Err(perr(
                holder,
                NAME,
                PropProblem::Invalid("reference point 0; reference points are 1-based indices"),
            ));
        }
        numa.primary = Some(index);
        Ok(numa)
    }

    /// `initialize_form2_numa_distance_lookup_table`: the domain ids in index order,
    /// and the distance matrix (`None` when its size does not match and Linux falls
    /// back to 10/20).
    fn form2_table(
        &mut self,
        opal: Option<&'t NodeRec<'a>>,
    ) -> Result<(Vec<NodeId>, Option<Vec<u8>>), DtbError> {
        const INDEX: &str = "ibm,numa-lookup-index-table";
        const DIST: &str = "ibm,numa-distance-table";
        let holder = match opal.or_else(|| self.find("/rtas")) {
            Some(n) => n,
            None => self.root()?,
        };
        let idx = cells(holder, INDEX)?.ok_or_else(|| perr(holder, INDEX, PropProblem::Missing))?;
        let Some((&n, rest)) = idx.split_first() else {
            return Err(perr(
                holder,
                INDEX,
                PropProblem::WrongLength {
                    len: 0,
                    expected: "at least the count cell",
                },
            ));
        };
        let listed = rest.get(..n as usize).ok_or_else(|| {
            perr(
                holder,
                INDEX,
                PropProblem::CountTooLarge {
                    count: n.into(),
                    room: rest.len() as u64,
                },
            )
        })?;
        // More entries than MAX_NUMNODES must repeat an id; refusing them also bounds
        // the n x n distance table.
        if listed.len() > NodeId::MAX_NUMNODES as usize {
            return Err(perr(
                holder,
                INDEX,
                PropProblem::Invalid("more domains than MAX_NUMNODES (256)"),
            ));
        }
        let mut ids = Vec::with_capacity(listed.len());
        for &d in listed {
            // Linux indexes numa_distance_table[MAX_NUMNODES][MAX_NUMNODES] with these
            // unchecked; refuse what would be out of bounds there.
            let id = NodeId::new(d).ok_or_else(|| {
                perr(
                    holder,
                    INDEX,
                    PropProblem::Invalid("domain id is not below MAX_NUMNODES (256)"),
                )
            })?;
            ids.push(id);
        }
        let dist = raw(holder, DIST).ok_or_else(|| perr(holder, DIST, PropProblem::Missing))?;
        let Some((head, bytes)) = dist.split_first_chunk::<4>() else {
            return Err(perr(
                holder,
                DIST,
                PropProblem::WrongLength {
                    len: dist.len(),
                    expected: "at least the 4-byte count",
                },
            ));
        };
        let count = u32::from_be_bytes(*head);
        let Some(table) = bytes.get(..count as usize) else {
            return Err(perr(
                holder,
                DIST,
                PropProblem::CountTooLarge {
                    count: count.into(),
                    room: bytes.len() as u64,
                },
            ));
        };
        let square = u64::from(n).saturating_mul(u64::from(n));
        if u64::from(count) != square {
            self.warnings.push(format!(
                "{}: {DIST} has {count} entries, not {n}x{n}; Linux ignores it and uses 10/20",
                holder.path
            ));
            return Ok((ids, None));
        }
        Ok((ids, Some(table.to_vec())))
    }

    /// CPU threads in logical order, as `smp_setup_cpu_maps` numbers them.
    fn cpus(&mut self, numa: &mut Numa) -> Result<CpuScan<'t, 'a>, DtbError> {
        let tree = self.tree;
        let phandles = phandle_map(tree)?;
        let mut chains_ok = BTreeSet::new();
        let mut cpus: Vec<Cpu> = Vec::new();
        let mut seen_hw: BTreeMap<u32, usize> = BTreeMap::new();
        let mut boot = None;
        let mut boot_node = None;
        let mut first_node = None;
        for node in &tree.nodes {
            if str_prop(node, "device_type") != Some("cpu") {
                continue;
            }
            if !available(node) {
                self.warnings.push(format!(
                    "{}: status is not okay; its threads are left out",
                    node.path
                ));
                continue;
            }
            let (prop, threads) = match cells(node, "ibm,ppc-interrupt-server#s")? {
                Some(t) => ("ibm,ppc-interrupt-server#s", t),
                None => match cells(node, "reg")? {
                    Some(t) => ("reg", t),
                    None => {
                        return Err(perr(
                            node,
                            "ibm,ppc-interrupt-server#s",
                            PropProblem::Missing,
                        ))
                    }
                },
            };
            if threads.is_empty() {
                return Err(perr(
                    node,
                    prop,
                    PropProblem::WrongLength {
                        len: 0,
                        expected: "at least one thread id",
                    },
                ));
            }
            check_cache_chain(tree, &phandles, node, &mut chains_ok)?;
            first_node.get_or_insert(node);
            let nid = if numa.primary.is_some() {
                match associativity(node)? {
                    Some(domains) => {
                        let nid = numa.nid(&domains);
                        numa.init_form1(&domains, nid, &mut self.warnings);
                        nid
                    }
                    None => None,
                }
            } else {
                // NUMA disabled: every CPU ends up on first_online_node, node 0.
                Some(NodeId::ZERO)
            };
            for hw in threads {
                if cpus.len() >= MAX_CPUS {
                    return Err(perr(
                        node,
                        prop,
                        PropProblem::Invalid("more than NR_CPUS (8192) threads in the tree"),
                    ));
                }
                if let Some(&other) = seen_hw.get(&hw) {
                    let _ = other;
                    return Err(perr(
                        node,
                        prop,
                        PropProblem::Invalid("hardware thread id used by an earlier CPU too"),
                    ));
                }
                let logical = cpus.len() as u32;
                seen_hw.insert(hw, cpus.len());
                if hw == tree.boot_cpuid_phys {
                    boot = Some(logical);
                    boot_node = Some(node);
                }
                cpus.push(Cpu {
                    logical_id: logical,
                    hw_id: hw,
                    node: nid,
                });
            }
        }
        if cpus.is_empty() {
            return Err(DtbError::NoCpus);
        }
        if boot.is_none() {
            self.warnings.push(format!(
                "no CPU thread has the header's boot_cpuid_phys {}",
                tree.boot_cpuid_phys
            ));
        }
        Ok(CpuScan {
            cpus,
            boot,
            boot_node: boot_node.or(first_node),
        })
    }

    /// `memory` nodes directly under the root (`early_init_dt_scan_memory`), and the
    /// lowest range among them, which sizes the RMA.
    fn memory_nodes(
        &mut self,
        numa: &mut Numa,
        addr_cells: u32,
        size_cells: u32,
        out: &mut Vec<Found>,
    ) -> Result<Option<(PhysAddr, PhysSize)>, DtbError> {
        let tree = self.tree;
        let root = self.root()?;
        let mut first: Option<(PhysAddr, PhysSize)> = None;
        for &ci in &root.children {
            let Some(node) = tree.node(ci) else { continue };
            if str_prop(node, "device_type") != Some("memory") || !available(node) {
                continue;
            }
            let prop = if raw(node, "linux,usable-memory").is_some_and(|v| !v.is_empty()) {
                "linux,usable-memory"
            } else {
                "reg"
            };
            let Some(c) = cells(node, prop)? else {
                continue;
            };
            let per = (addr_cells + size_cells) as usize;
            if c.len() % per != 0 {
                return Err(perr(
                    node,
                    prop,
                    PropProblem::WrongLength {
                        len: c.len() * 4,
                        expected: "a multiple of (#address-cells + #size-cells) cells",
                    },
                ));
            }
            let nid = if numa.primary.is_none() {
                Some(NodeId::ZERO)
            } else {
                match associativity(node)? {
                    Some(domains) => {
                        let nid = numa.nid(&domains);
                        numa.init_form1(&domains, nid, &mut self.warnings);
                        nid
                    }
                    // Linux: "either all memory nodes or none will have associativity
                    // properties. If none, then everything goes to default_nid" (0).
                    None => Some(NodeId::ZERO),
                }
            };
            for range in c.chunks_exact(per) {
                let (a, s) = range.split_at(addr_cells as usize);
                let base = PhysAddr::new(number(a));
                let size = PhysSize::new(number(s));
                if size.is_zero() {
                    continue;
                }
                match base.checked_add(size) {
                    None => return Err(perr(node, prop, PropProblem::Overflow)),
                    Some(end) if end.as_u64() > PHYSMEM_END => {
                        return Err(perr(node, prop, BEYOND_PHYSMEM))
                    }
                    Some(_) => {}
                }
                if first.is_none_or(|(b, _)| base < b) {
                    first = Some((base, size));
                }
                out.push(Found {
                    base,
                    size,
                    node: nid,
                    src: MemorySource {
                        path: node.path.clone(),
                        property: prop,
                        base: base.as_u64(),
                    },
                });
            }
        }
        Ok(first)
    }

    /// `ibm,dynamic-reconfiguration-memory` (`walk_drmem_lmbs_early` and
    /// `numa_setup_drmem_lmb`): LMBs flagged assigned and not reserved are memory.
    fn drmem(
        &mut self,
        numa: &mut Numa,
        addr_cells: u32,
        size_cells: u32,
        out: &mut Vec<Found>,
    ) -> Result<DrmemScan, DtbError> {
        let Some(node) = self.find(DRMEM_PATH) else {
            return Ok(DrmemScan::default());
        };
        const LMB_SIZE: &str = "ibm,lmb-size";
        let c = cells(node, LMB_SIZE)?.ok_or_else(|| perr(node, LMB_SIZE, PropProblem::Missing))?;
        let lmb = c.get(..size_cells as usize).ok_or_else(|| {
            perr(
                node,
                LMB_SIZE,
                PropProblem::WrongLength {
                    len: c.len() * 4,
                    expected: "#size-cells of the root",
                },
            )
        })?;
        let lmb_size = number(lmb);
        if lmb_size == 0 {
            return Err(perr(
                node,
                LMB_SIZE,
                PropProblem::Invalid("LMB size is zero"),
            ));
        }
        if raw(node, "linux,drconf-usable-memory").is_some() {
            self.warnings.push(format!(
                "{DRMEM_PATH}: linux,drconf-usable-memory (kdump) is not applied; whole LMBs \
                 are reported"
            ));
        }
        let aa = lookup_arrays(node)?;
        let a = addr_cells as usize;
        let (version, prop, entry, base_at) = if raw(node, "ibm,dynamic-memory").is_some() {
            (DrmemVersion::V1, "ibm,dynamic-memory", a + 4, 0usize)
        } else if raw(node, "ibm,dynamic-memory-v2").is_some() {
            (DrmemVersion::V2, "ibm,dynamic-memory-v2", 1 + a + 3, 1usize)
        } else {
            self.warnings.push(format!(
                "{DRMEM_PATH}: neither ibm,dynamic-memory nor ibm,dynamic-memory-v2"
            ));
            return Ok(DrmemScan {
                lmb_size: Some(PhysSize::new(lmb_size)),
                version: None,
                aa,
            });
        };
        let c = cells(node, prop)?.unwrap_or_default();
        let Some((&n, rest)) = c.split_first() else {
            return Err(perr(
                node,
                prop,
                PropProblem::WrongLength {
                    len: 0,
                    expected: "at least the count cell",
                },
            ));
        };
        let room = rest.len() / entry;
        if n as usize > room {
            return Err(perr(
                node,
                prop,
                PropProblem::CountTooLarge {
                    count: n.into(),
                    room: room as u64,
                },
            ));
        }
        for e in rest.chunks_exact(entry).take(n as usize) {
            let seq = if version == DrmemVersion::V2 {
                e.first().copied().unwrap_or(0)
            } else {
                1
            };
            let base = number(e.get(base_at..base_at + a).unwrap_or(&[]));
            // v1: drc_index, reserved, aa_index, flags; v2: drc_index, aa_index, flags.
            let tail = e.get(base_at + a..).unwrap_or(&[]);
            let (aa_index, flags) = match version {
                DrmemVersion::V1 => (tail.get(2), tail.get(3)),
                DrmemVersion::V2 => (tail.get(1), tail.get(2)),
            };
            let (aa_index, flags) = (aa_index.copied().unwrap_or(0), flags.copied().unwrap_or(0));
            if flags & DRCONF_MEM_RESERVED != 0 || flags & DRCONF_MEM_ASSIGNED == 0 || seq == 0 {
                continue;
            }
            // A v2 run is one range: all its LMBs share flags and associativity, and a
            // hostile count cannot make us build billions of entries.
            let size = lmb_size
                .checked_mul(u64::from(seq))
                .ok_or_else(|| perr(node, prop, PropProblem::Overflow))?;
            let base = PhysAddr::new(base);
            let size = PhysSize::new(size);
            match base.checked_add(size) {
                None => return Err(perr(node, prop, PropProblem::Overflow)),
                Some(end) if end.as_u64() > PHYSMEM_END => {
                    return Err(perr(node, prop, BEYOND_PHYSMEM))
                }
                Some(_) => {}
            }
            let nid = if numa.primary.is_none() {
                Some(NodeId::ZERO)
            } else {
                self.drconf_nid(numa, aa.as_ref(), aa_index, flags)
            };
            out.push(Found {
                base,
                size,
                node: nid,
                src: MemorySource {
                    path: String::from(DRMEM_PATH),
                    property: prop,
                    base: base.as_u64(),
                },
            });
        }
        Ok(DrmemScan {
            lmb_size: Some(PhysSize::new(lmb_size)),
            version: Some(version),
            aa,
        })
    }

    /// `get_nid_and_numa_distance` for one LMB.
    fn drconf_nid(
        &mut self,
        numa: &mut Numa,
        aa: Option<&LookupArrays>,
        aa_index: u32,
        flags: u32,
    ) -> Option<NodeId> {
        let aa = aa?;
        let primary = numa.primary?;
        if primary > aa.array_sz || flags & DRCONF_MEM_AI_INVALID != 0 || aa_index >= aa.n_arrays {
            return None;
        }
        let start = (aa_index as usize).checked_mul(aa.array_sz as usize)?;
        let end = start.checked_add(aa.array_sz as usize)?;
        let domains = aa.arrays.get(start..end)?;
        let nid = numa.nid(domains);
        // Linux fills the FORM1 distance row from LMBs only for nid > 0.
        if nid.is_some_and(|n| n.get() > 0) {
            numa.init_form1(domains, nid, &mut self.warnings);
        }
        nid
    }

    fn distances(
        &self,
        numa: &Numa,
        nodes: &[Node],
        form2: Option<&(Vec<NodeId>, Option<Vec<u8>>)>,
    ) -> Result<Vec<Vec<u32>>, DtbError> {
        let n = nodes.len();
        let mut d = vec![vec![0u32; n]; n];
        let form = if numa.primary.is_none() {
            AffinityForm::Form0
        } else {
            numa.form
        };
        let mut f2: BTreeMap<(NodeId, NodeId), u32> = BTreeMap::new();
        if let (AffinityForm::Form2, Some((ids, table))) = (form, form2) {
            let mut k = 0usize;
            for &a in ids {
                for &b in ids {
                    let v = match table {
                        Some(t) => t.get(k).copied().map(u32::from).unwrap_or(REMOTE_DISTANCE),
                        None if a == b => LOCAL_DISTANCE,
                        None => REMOTE_DISTANCE,
                    };
                    k = k.saturating_add(1);
                    f2.insert((a, b), v);
                }
            }
            if let Some(missing) = nodes.iter().find(|x| !ids.contains(&x.id)) {
                let holder = self.find("/rtas").map(|n| n.path.as_str()).unwrap_or("/");
                return Err(DtbError::prop(
                    holder,
                    "ibm,numa-lookup-index-table",
                    PropProblem::MissingNode {
                        node: missing.id.get(),
                    },
                ));
            }
        }
        for (i, a) in nodes.iter().enumerate() {
            for (j, b) in nodes.iter().enumerate() {
                let v = match form {
                    AffinityForm::Form0 if a.id == b.id => LOCAL_DISTANCE,
                    AffinityForm::Form0 => REMOTE_DISTANCE,
                    AffinityForm::Form1 => numa.form1_distance(a.id, b.id),
                    AffinityForm::Form2 => {
                        f2.get(&(a.id, b.id)).copied().unwrap_or(REMOTE_DISTANCE)
                    }
                };
                if let Some(slot) = d.get_mut(i).and_then(|r| r.get_mut(j)) {
                    *slot = v;
                }
            }
        }
        Ok(d)
    }

    /// Whether the boot CPU implements ISA 3.0, from its `cpu-version` (PVR): POWER9
    /// (0x004e), POWER10 (0x0080), or the PAPR logical PVRs for architecture 3.00 and
    /// 3.1 (0x0f000005, 0x0f000006). Linux reads the PVR register; the tree's copy is
    /// what we have.
    fn detect_arch_300(&mut self, boot: Option<&'t NodeRec<'a>>) -> Result<bool, DtbError> {
        let Some(node) = boot else { return Ok(false) };
        match u32_prop(node, "cpu-version")? {
            Some(pvr) => Ok(
                matches!(pvr >> 16, 0x004e | 0x0080) || matches!(pvr, 0x0f00_0005 | 0x0f00_0006)
            ),
            None => {
                self.warnings.push(format!(
                    "{}: no cpu-version; assuming a pre-ISA-3.0 CPU (1 GiB RMA clamp)",
                    node.path
                ));
                Ok(false)
            }
        }
    }
}

/// `of_get_assoc_arrays`: `ibm,associativity-lookup-arrays` is N, M, then N arrays of
/// M domains (no per-array count).
fn lookup_arrays(node: &NodeRec<'_>) -> Result<Option<LookupArrays>, DtbError> {
    const NAME: &str = "ibm,associativity-lookup-arrays";
    let Some(c) = cells(node, NAME)? else {
        return Ok(None);
    };
    let [n, m, rest @ ..] = c.as_slice() else {
        return Err(perr(
            node,
            NAME,
            PropProblem::WrongLength {
                len: c.len() * 4,
                expected: "at least 2 cells (count and array size)",
            },
        ));
    };
    let need = u64::from(*n).saturating_mul(u64::from(*m));
    if need > rest.len() as u64 {
        let room = if *m == 0 {
            0
        } else {
            rest.len() as u64 / u64::from(*m)
        };
        return Err(perr(
            node,
            NAME,
            PropProblem::CountTooLarge {
                count: (*n).into(),
                room,
            },
        ));
    }
    Ok(Some(LookupArrays {
        n_arrays: *n,
        array_sz: *m,
        arrays: rest.to_vec(),
    }))
}

/// Every node's phandle (`phandle`, `linux,phandle` or pSeries' `ibm,phandle`).
fn phandle_map(tree: &Tree<'_>) -> Result<BTreeMap<u32, usize>, DtbError> {
    let mut map = BTreeMap::new();
    for (i, node) in tree.nodes.iter().enumerate() {
        for name in ["phandle", "linux,phandle", "ibm,phandle"] {
            if let Some(p) = u32_prop(node, name)? {
                if let Some(&other) = map.get(&p) {
                    if other != i {
                        return Err(perr(
                            node,
                            name,
                            PropProblem::Invalid("phandle already used by another node"),
                        ));
                    }
                }
                map.insert(p, i);
            }
        }
    }
    Ok(map)
}

/// Follows a CPU's cache hierarchy (`l2-cache`, then `next-level-cache` on each cache
/// node), the chain Linux's powerpc `cacheinfo.c` walks for each CPU. A loop there
/// would hang that walk, so it is an error here; a dangling phandle ends the chain
/// as `of_find_node_by_phandle` returning NULL does.
fn check_cache_chain(
    tree: &Tree<'_>,
    phandles: &BTreeMap<u32, usize>,
    cpu: &NodeRec<'_>,
    known_ok: &mut BTreeSet<u32>,
) -> Result<(), DtbError> {
    let mut seen = BTreeSet::new();
    let mut cur = cpu;
    loop {
        let mut next = None;
        for name in ["l2-cache", "next-level-cache"] {
            if let Some(p) = u32_prop(cur, name)? {
                next = Some((name, p));
                break;
            }
        }
        // Chains already walked from an earlier CPU end well; stopping there keeps the
        // check linear when many CPUs share caches.
        let Some((name, p)) = next.filter(|(_, p)| !known_ok.contains(p)) else {
            known_ok.append(&mut seen);
            return Ok(());
        };
        if !seen.insert(p) {
            return Err(perr(cur, name, PropProblem::PhandleCycle { phandle: p }));
        }
        let Some(n) = phandles.get(&p).and_then(|&i| tree.node(i)) else {
            known_ok.append(&mut seen);
            return Ok(());
        };
        if core::ptr::eq(n, cpu) {
            return Err(perr(cur, name, PropProblem::PhandleCycle { phandle: p }));
        }
        cur = n;
    }
}

/// Sorts, refuses overlaps, and merges touching ranges of the same node as memblock
/// merges regions with the same nid.
fn merge_memory(mut found: Vec<Found>) -> Result<Vec<MemoryRange>, DtbError> {
    found.sort_by_key(|f| (f.base, f.size));
    let mut out: Vec<MemoryRange> = Vec::with_capacity(found.len());
    let mut prev: Option<(PhysAddr, MemorySource)> = None;
    for f in found {
        // Ranges were checked not to pass the top of memory.
        let end = f.base.saturating_add(f.size);
        if let Some((pend, psrc)) = &prev {
            if f.base < *pend {
                return Err(DtbError::Overlap {
                    first: psrc.clone(),
                    second: f.src,
                });
            }
        }
        match out.last_mut() {
            Some(last) if last.node == f.node && last.base.saturating_add(last.size) == f.base => {
                last.size = last.size.saturating_add(f.size);
            }
            _ => out.push(MemoryRange {
                base: f.base,
                size: f.size,
                node: f.node,
            }),
        }
        prev = Some((end, f.src));
    }
    Ok(out)
}
