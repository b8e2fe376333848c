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

use crate::boot::FdtFacts;
use crate::error::{DtbError, PropProblem};
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
    /// True when `/chosen/ibm,architecture-vec-5` is exactly QEMU's pre-CAS placeholder
    /// `[00 00]` (a tree dumped before client-architecture-support negotiation, as
    /// QEMU's `dumpdtb` gives) and FORM1 was assumed where Linux's rule gives FORM0.
    pub affinity_assumed: bool,
    /// Linux's `primary_domain_index` (1-based), or `None` when NUMA is disabled for
    /// want of `ibm,associativity-reference-points`.
    pub primary_domain_index: Option<u32>,
    /// The lowest-based range of the available `memory` nodes under the root
    /// (`memstart_addr`, `first_memblock_size`); LMBs and other `memory` nodes do not
    /// count.
    pub first_memory_block: Option<(PhysAddr, PhysSize)>,
    /// Whether the boot CPU was taken to implement ISA 3.0 (1 TiB RMA clamp).
    pub arch_300: bool,
    /// `ibm,lmb-size` when the DR-memory node is present.
    pub lmb_size: Option<PhysSize>,
    /// The DR-memory layout found, if any.
    pub drmem: Option<DrmemVersion>,
    /// Logical id (in [`Topology::cpus`]) of the CPU whose thread id is the header's
    /// `boot_cpuid_phys`; `None` when no present CPU has it.
    pub boot_cpu: Option<u32>,
    /// Linux's `boot_cpuid`: the boot thread's position counting every thread of every
    /// CPU node, present or not (`early_init_dt_scan_cpus`). Differs from
    /// [`DtbReport::boot_cpu`] when a CPU node before it is not present.
    pub linux_boot_cpu: Option<u32>,
    /// Threads Linux numbers but does not mark present (`status` not okay), in Linux's
    /// logical order. They are not in [`Topology::cpus`] (whose ids stay dense); each
    /// one shifts Linux's logical ids of later threads up by one, see
    /// [`DtbReport::linux_logical_id`].
    pub not_present_cpus: Vec<NotPresentCpu>,
    /// Things Linux would warn about (and then carry on), in the order found.
    pub warnings: Vec<String>,
    /// The header, reservations, `/chosen` and `/rtas` facts early boot reads (the
    /// same as [`crate::fdt_facts`] gives; their warnings are there, not above).
    pub facts: FdtFacts,
}

/// A hardware thread that Linux's `smp_setup_cpu_maps` makes possible but not present:
/// its CPU node's `status` is neither absent nor `okay`/`ok` (and its `enable-method`
/// is not `spin-table`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotPresentCpu {
    /// Linux's logical id for the thread (its position among all threads in tree order).
    pub linux_logical_id: u32,
    /// Hardware thread id (`ibm,ppc-interrupt-server#s` entry or `reg`).
    pub hw_id: u32,
    /// Path of the CPU node.
    pub path: String,
}

impl DtbReport {
    /// Linux's logical id for the present CPU whose logical id in [`Topology::cpus`]
    /// is `logical`: the same number shifted up by the not-present threads before it.
    /// `None` if there is no such CPU.
    pub fn linux_logical_id(&self, logical: u32) -> Option<u32> {
        if logical as usize >= self.topology.cpus.len() {
            return None;
        }
        let mut id = logical;
        for np in &self.not_present_cpus {
            if np.linux_logical_id <= id {
                id = id.checked_add(1)?;
            } else {
                break;
            }
        }
        Some(id)
    }
}

/// Parses a blob with default options and returns only the topology.
pub fn topology_from_dtb(blob: &[u8]) -> Result<Topology, DtbError> {
    parse_dtb(blob, &DtbOptions::default()).map(|r| r.topology)
}

/// Parses a blob into a topology and a report of the decisions made.
pub fn parse_dtb(blob: &[u8], opts: &DtbOptions) -> Result<DtbReport, DtbError> {
    let tree = Tree::parse(blob)?;
    let facts = crate::boot::facts(&tree)?;
    Parser::new(&tree, opts).run(facts)
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

/// `ibm,numa-lookup-index-table` and `ibm,numa-distance-table` as read.
struct Form2Table {
    /// Path of the node holding them (`/ibm,opal`, `/rtas` or `/`).
    holder: String,
    /// Domain ids in index order.
    ids: Vec<NodeId>,
    /// The `n x n` distances, `None` when the size is wrong and Linux uses 10/20.
    distances: Option<Vec<u8>>,
}

struct LookupArrays {
    n_arrays: u32,
    array_sz: u32,
    arrays: Vec<u32>,
}

/// One `memblock_set_node` call: the node of `[base, end)`, and who asked.
struct SetNode {
    base: u64,
    end: u64,
    nid: Option<NodeId>,
    /// Index of the tree node describing the range.
    node: usize,
    property: &'static str,
}

/// Memory as Linux's memblock sees it after the scans: ranges added (`memblock_add`,
/// whose union is the memory) and node assignments in the order Linux makes them
/// (later ones win), the nodes brought online, and the RMA-sizing first block.
#[derive(Default)]
struct MemScan {
    adds: Vec<(u64, u64)>,
    sets: Vec<SetNode>,
    online: BTreeSet<NodeId>,
    first: Option<(PhysAddr, PhysSize)>,
}

/// What the CPU scan found: the threads, the boot CPU's logical id, and the node
/// describing the boot CPU (for its `cpu-version`).
struct CpuScan<'t, 'a> {
    cpus: Vec<Cpu>,
    boot: Option<u32>,
    linux_boot: Option<u32>,
    not_present: Vec<NotPresentCpu>,
    boot_node: Option<&'t NodeRec<'a>>,
}

/// What the DR-memory scan found besides the ranges.
#[derive(Default)]
struct DrmemScan {
    lmb_size: Option<PhysSize>,
    version: Option<DrmemVersion>,
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

    fn run(mut self, facts: FdtFacts) -> Result<DtbReport, DtbError> {
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
            linux_boot,
            not_present,
            boot_node,
        } = self.cpus(&mut numa)?;
        let mut mem = MemScan::default();
        self.memory_nodes(&mut numa, addr_cells, size_cells, &mut mem)?;
        let DrmemScan {
            lmb_size,
            version: drmem,
        } = self.drmem(&mut numa, addr_cells, size_cells, &mut mem)?;
        let first = mem.first;
        let memory = self.memblock(&mem, numa.primary.is_some());
        if memory.is_empty() {
            return Err(DtbError::NoMemory);
        }

        // Linux's online nodes after parse_numa_properties: those of present CPUs,
        // of `memory` nodes and of assigned LMBs; setup_nonnuma onlines only node 0.
        // Nodes named only in ibm,associativity-lookup-arrays or the FORM2 index table
        // are not brought online (they may be where hot-added memory goes later).
        let mut ids: BTreeSet<NodeId> = BTreeSet::new();
        if numa.primary.is_some() {
            ids.extend(cpus.iter().filter_map(|c| c.node));
            ids.append(&mut mem.online);
        }
        ids.extend(memory.iter().filter_map(|m| m.node));
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
            linux_boot_cpu: linux_boot,
            not_present_cpus: not_present,
            warnings: self.warnings,
            facts,
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
        // QEMU's pre-CAS placeholder (`spapr_ovec_populate_dt` with no bit set) is
        // exactly these two bytes. Linux would read it as FORM0, but it never sees it:
        // every Linux guest asks for FORM1 at CAS and QEMU grants it, and the tree QEMU
        // hands over after CAS carries the real vector. Read such a tree as FORM1.
        if vec5 == Some(&[0u8, 0][..]) {
            return Ok((AffinityForm::Form1, true));
        }
        // fw_vec5_feature_init: a byte past the end of the vector (or no vector) means
        // the feature is absent.
        match vec5.and_then(|v| v.get(5)) {
            Some(b) if b & 0x20 != 0 => Ok((AffinityForm::Form2, false)),
            Some(b) if b & 0x80 != 0 => Ok((AffinityForm::Form1, false)),
            _ => Ok((AffinityForm::Form0, false)),
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
    fn form2_table(&mut self, opal: Option<&'t NodeRec<'a>>) -> Result<Form2Table, DtbError> {
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
            return Ok(Form2Table {
                holder: holder.path.clone(),
                ids,
                distances: None,
            });
        }
        Ok(Form2Table {
            holder: holder.path.clone(),
            ids,
            distances: Some(table.to_vec()),
        })
    }

    /// CPU threads in logical order, as `smp_setup_cpu_maps` numbers them. Linux
    /// numbers every thread of every CPU node and marks the threads of unavailable
    /// nodes possible but not present; present ones are kept in `cpus` with dense ids
    /// and the others are listed in `not_present`.
    fn cpus(&mut self, numa: &mut Numa) -> Result<CpuScan<'t, 'a>, DtbError> {
        let tree = self.tree;
        let phandles = phandle_map(tree)?;
        let mut chains_ok = BTreeSet::new();
        let mut cpus: Vec<Cpu> = Vec::new();
        let mut not_present: Vec<NotPresentCpu> = Vec::new();
        let mut seen_hw: BTreeSet<u32> = BTreeSet::new();
        let mut boot = None;
        let mut linux_boot = None;
        let mut boot_node = None;
        let mut first_node = None;
        let mut linux_count: u32 = 0;
        for node in &tree.nodes {
            if str_prop(node, "device_type") != Some("cpu") {
                continue;
            }
            // smp_setup_cpu_maps: of_device_is_available, or a spin-table CPU.
            let present = available(node) || str_prop(node, "enable-method") == Some("spin-table");
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
            if present {
                check_cache_chain(tree, &phandles, node, &mut chains_ok)?;
                first_node.get_or_insert(node);
            }
            // parse_numa_properties reads the associativity of present CPUs only.
            let nid = if !present {
                None
            } else if numa.primary.is_some() {
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
            if !present {
                self.warnings.push(format!(
                    "{}: status is not okay; Linux numbers its {} thread(s) from logical id \
                     {linux_count} but does not mark them present, so they are left out of \
                     the CPU list",
                    node.path,
                    threads.len()
                ));
            }
            for hw in threads {
                if linux_count as usize >= MAX_CPUS {
                    return Err(perr(
                        node,
                        prop,
                        PropProblem::Invalid("more than NR_CPUS (8192) threads in the tree"),
                    ));
                }
                if !seen_hw.insert(hw) {
                    return Err(perr(
                        node,
                        prop,
                        PropProblem::Invalid("hardware thread id used by an earlier CPU too"),
                    ));
                }
                if hw == tree.boot_cpuid_phys {
                    linux_boot = Some(linux_count);
                }
                if present {
                    let logical = cpus.len() as u32;
                    if hw == tree.boot_cpuid_phys {
                        boot = Some(logical);
                        boot_node = Some(node);
                    }
                    cpus.push(Cpu {
                        logical_id: logical,
                        hw_id: hw,
                        node: nid,
                    });
                } else {
                    not_present.push(NotPresentCpu {
                        linux_logical_id: linux_count,
                        hw_id: hw,
                        path: node.path.clone(),
                    });
                }
                linux_count += 1;
            }
        }
        if cpus.is_empty() {
            return Err(DtbError::NoCpus);
        }
        match (boot, linux_boot) {
            (None, None) => self.warnings.push(format!(
                "no CPU thread has the header's boot_cpuid_phys {}",
                tree.boot_cpuid_phys
            )),
            (None, Some(l)) => self.warnings.push(format!(
                "the boot thread {} (Linux logical {l}) belongs to a CPU node whose status is \
                 not okay",
                tree.boot_cpuid_phys
            )),
            (Some(b), Some(l)) if b != l => self.warnings.push(format!(
                "boot CPU is logical {b} here but {l} in Linux (boot_cpuid), which also \
                 counts the threads of CPU nodes that are not present"
            )),
            _ => {}
        }
        Ok(CpuScan {
            cpus,
            boot,
            linux_boot,
            not_present,
            boot_node: boot_node.or(first_node),
        })
    }

    /// `memory` nodes, as Linux reads them twice. `early_init_dt_scan_memory` adds to
    /// memblock the ranges of available `memory` nodes directly under the root, from
    /// `linux,usable-memory` if present (even empty) or else `reg`, and the lowest of
    /// them sizes the RMA. `parse_numa_properties` then walks every node of type
    /// `memory` at any depth, whatever its status, and assigns the node of each range of
    /// `linux,usable-memory` (if non-empty) or `reg` with `memblock_set_node`, which only
    /// touches memory already added, and brings that node online.
    fn memory_nodes(
        &mut self,
        numa: &mut Numa,
        addr_cells: u32,
        size_cells: u32,
        mem: &mut MemScan,
    ) -> Result<(), DtbError> {
        const USABLE: &str = "linux,usable-memory";
        let tree = self.tree;
        let root = self.root()?;
        for (i, node) in tree.nodes.iter().enumerate() {
            if str_prop(node, "device_type") != Some("memory") {
                continue;
            }
            let early = root.children.contains(&i) && available(node);
            // Without NUMA, parse_numa_properties returns before this walk; only the
            // early scan reads the node.
            if !early && numa.primary.is_none() {
                continue;
            }
            let numa_prop = if raw(node, USABLE).is_some_and(|v| !v.is_empty()) {
                USABLE
            } else {
                "reg"
            };
            let early_prop = if raw(node, USABLE).is_some() {
                USABLE
            } else {
                "reg"
            };
            let numa_ranges = match raw(node, numa_prop) {
                Some(v) if !v.is_empty() => reg_ranges(
                    node,
                    numa_prop,
                    v,
                    addr_cells,
                    size_cells,
                    &mut self.warnings,
                )?,
                _ => Vec::new(),
            };
            let has_numa_prop = raw(node, numa_prop).is_some_and(|v| !v.is_empty());
            if early {
                let ranges = if early_prop == numa_prop {
                    numa_ranges.clone()
                } else {
                    match raw(node, early_prop) {
                        Some(v) if !v.is_empty() => reg_ranges(
                            node,
                            early_prop,
                            v,
                            addr_cells,
                            size_cells,
                            &mut self.warnings,
                        )?,
                        _ => Vec::new(),
                    }
                };
                if early_prop == USABLE && ranges.is_empty() && raw(node, "reg").is_some() {
                    self.warnings.push(format!(
                        "{}: empty {USABLE}; Linux adds no memory from this node (reg is not \
                         used)",
                        node.path
                    ));
                }
                for &(base, size) in &ranges {
                    if mem.first.is_none_or(|(b, _)| base < b) {
                        mem.first = Some((base, size));
                    }
                    mem.adds
                        .push((base.as_u64(), base.as_u64().saturating_add(size.as_u64())));
                }
            }
            if !has_numa_prop || numa.primary.is_none() {
                continue;
            }
            let nid = match associativity(node)? {
                Some(domains) => {
                    let nid = numa.nid(&domains);
                    numa.init_form1(&domains, nid, &mut self.warnings);
                    nid
                }
                // Linux: "either all memory nodes or none will have associativity
                // properties. If none, then everything goes to default_nid" (0).
                None => Some(NodeId::ZERO),
            };
            mem.online.extend(nid);
            for &(base, size) in &numa_ranges {
                mem.sets.push(SetNode {
                    base: base.as_u64(),
                    end: base.as_u64().saturating_add(size.as_u64()),
                    nid,
                    node: i,
                    property: numa_prop,
                });
            }
        }
        Ok(())
    }

    /// `ibm,dynamic-reconfiguration-memory` (`walk_drmem_lmbs_early` and
    /// `numa_setup_drmem_lmb`): LMBs flagged assigned and not reserved are memory.
    fn drmem(
        &mut self,
        numa: &mut Numa,
        addr_cells: u32,
        size_cells: u32,
        mem: &mut MemScan,
    ) -> Result<DrmemScan, DtbError> {
        let Some(drmem_index) = self.tree.find(DRMEM_PATH) else {
            return Ok(DrmemScan::default());
        };
        let Some(node) = self.tree.node(drmem_index) else {
            return Ok(DrmemScan::default());
        };
        const LMB_SIZE: &str = "ibm,lmb-size";
        // walk_drmem_lmbs_early returns without adding anything when ibm,lmb-size is
        // missing or shorter than #size-cells, and so does walk_drmem_lmbs.
        let lmb = raw(node, LMB_SIZE).and_then(|v| v.get(..4 * size_cells as usize));
        let Some(lmb) = lmb else {
            self.warnings.push(format!(
                "{DRMEM_PATH}: {LMB_SIZE} is missing or shorter than #size-cells; Linux \
                 ignores the DR memory, and so does numaboot"
            ));
            return Ok(DrmemScan::default());
        };
        let lmb: Vec<u32> = lmb
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap_or([0; 4])))
            .collect();
        let lmb = lmb.as_slice();
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
            let (b, e) = (base.as_u64(), base.as_u64().saturating_add(size.as_u64()));
            mem.adds.push((b, e));
            if numa.primary.is_some() {
                mem.online.extend(nid);
            }
            mem.sets.push(SetNode {
                base: b,
                end: e,
                nid,
                node: drmem_index,
                property: prop,
            });
        }
        Ok(DrmemScan {
            lmb_size: Some(PhysSize::new(lmb_size)),
            version: Some(version),
        })
    }

    /// memblock after the scans: the union of the added ranges (`memblock_add_range`
    /// skips what is already covered), each piece on the node the last
    /// `memblock_set_node` covering it gave (`memory` nodes first, then LMBs, as
    /// `parse_numa_properties` calls them), or node 0 for everything when NUMA is
    /// disabled (`setup_nonnuma`); touching pieces of one node merged as
    /// `memblock_merge_regions` merges them.
    fn memblock(&mut self, mem: &MemScan, numa_on: bool) -> Vec<MemoryRange> {
        let mut adds = mem.adds.clone();
        adds.sort_unstable();
        let mut map: BTreeMap<u64, Seg> = BTreeMap::new();
        let mut cur: Option<(u64, u64)> = None;
        let init = Seg {
            end: 0,
            nid: if numa_on { None } else { Some(NodeId::ZERO) },
            by: None,
        };
        for &(b, e) in adds.iter().filter(|(b, e)| e > b) {
            match &mut cur {
                Some((_, ce)) if b <= *ce => *ce = (*ce).max(e),
                _ => {
                    if let Some((cb, ce)) = cur.replace((b, e)) {
                        map.insert(cb, Seg { end: ce, ..init });
                    }
                }
            }
        }
        if let Some((cb, ce)) = cur {
            map.insert(cb, Seg { end: ce, ..init });
        }
        if numa_on {
            let mut overrides = 0usize;
            for (k, set) in mem.sets.iter().enumerate() {
                if set.end <= set.base {
                    continue;
                }
                split_at(&mut map, set.base);
                split_at(&mut map, set.end);
                let mut replaced: Option<(u64, u64, usize)> = None;
                for (&start, seg) in map.range_mut(set.base..set.end) {
                    if let Some(j) = seg.by {
                        let earlier = mem.sets.get(j).map(|s| s.nid);
                        if earlier.is_some_and(|n| n != set.nid) && replaced.is_none() {
                            replaced = Some((start, seg.end, j));
                        }
                    }
                    seg.nid = set.nid;
                    seg.by = Some(k);
                }
                if let Some((b, e, j)) = replaced {
                    overrides += 1;
                    if overrides <= MAX_OVERRIDE_WARNINGS {
                        let w = self.override_warning(mem, set, j, b, e);
                        self.warnings.push(w);
                    }
                }
            }
            if overrides > MAX_OVERRIDE_WARNINGS {
                self.warnings.push(format!(
                    "... and {} more memory descriptions that give already described \
                     memory another node",
                    overrides - MAX_OVERRIDE_WARNINGS
                ));
            }
        }
        let mut out: Vec<MemoryRange> = Vec::with_capacity(map.len());
        for (start, seg) in map {
            match out.last_mut() {
                Some(last)
                    if last.node == seg.nid
                        && last.base.saturating_add(last.size).as_u64() == start =>
                {
                    last.size = last.size.saturating_add(PhysSize::new(seg.end - start));
                }
                _ => out.push(MemoryRange {
                    base: PhysAddr::new(start),
                    size: PhysSize::new(seg.end - start),
                    node: seg.nid,
                }),
            }
        }
        out
    }

    fn override_warning(&self, mem: &MemScan, set: &SetNode, j: usize, b: u64, e: u64) -> String {
        let path = |i: usize| self.tree.node(i).map(|n| n.path.as_str()).unwrap_or("?");
        let node = |n: Option<NodeId>| match n {
            Some(n) => format!("node {n}"),
            None => String::from("no node"),
        };
        let (ep, eprop, enid) = match mem.sets.get(j) {
            Some(s) => (path(s.node), s.property, s.nid),
            None => ("?", "?", None),
        };
        format!(
            "memory {b:#x}-{e:#x} is described by {ep} {eprop} ({}) and again by {} {} ({}); \
             the later description wins, as in Linux's memblock_set_node order",
            node(enid),
            path(set.node),
            set.property,
            node(set.nid)
        )
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
        form2: Option<&Form2Table>,
    ) -> Result<Vec<Vec<u32>>, DtbError> {
        let n = nodes.len();
        let mut d = vec![vec![0u32; n]; n];
        let form = if numa.primary.is_none() {
            AffinityForm::Form0
        } else {
            numa.form
        };
        let mut f2: BTreeMap<(NodeId, NodeId), u32> = BTreeMap::new();
        if let (AffinityForm::Form2, Some(t)) = (form, form2) {
            let mut k = 0usize;
            for &a in &t.ids {
                for &b in &t.ids {
                    let v = match &t.distances {
                        Some(t) => t.get(k).copied().map(u32::from).unwrap_or(REMOTE_DISTANCE),
                        None if a == b => LOCAL_DISTANCE,
                        None => REMOTE_DISTANCE,
                    };
                    k = k.saturating_add(1);
                    f2.insert((a, b), v);
                }
            }
            // Only online nodes matter: Linux leaves the distances of an unlisted node
            // at -1, which node_distance() would then return for it.
            if let Some(missing) = nodes.iter().find(|x| !t.ids.contains(&x.id)) {
                return Err(DtbError::prop(
                    &t.holder,
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

/// One piece of memblock memory while node assignments are applied.
#[derive(Clone, Copy)]
struct Seg {
    end: u64,
    nid: Option<NodeId>,
    /// The `memblock_set_node` (index into [`MemScan::sets`]) that last set it.
    by: Option<usize>,
}

/// Splits the segment containing `x` (if any, and not starting at it) in two at `x`.
fn split_at(map: &mut BTreeMap<u64, Seg>, x: u64) {
    let tail = match map.range_mut(..x).next_back() {
        Some((_, seg)) if seg.end > x => {
            let tail = *seg;
            seg.end = x;
            tail
        }
        _ => return,
    };
    map.insert(x, tail);
}

/// At most this many "a later description gave a range another node" warnings.
const MAX_OVERRIDE_WARNINGS: usize = 16;

/// The `(base, size)` entries of a non-empty `reg`-style property of a `memory` node,
/// zero-sized ones dropped. Like Linux, a trailing partial entry is ignored (with a
/// warning); a property too short for even one entry is an error, because
/// `parse_numa_properties` would read one entry past its end and then loop.
fn reg_ranges(
    node: &NodeRec<'_>,
    prop: &'static str,
    v: &[u8],
    addr_cells: u32,
    size_cells: u32,
    warnings: &mut Vec<String>,
) -> Result<Vec<(PhysAddr, PhysSize)>, DtbError> {
    let a = addr_cells as usize;
    let per = 4 * (a + size_cells as usize);
    let entries = v.len() / per;
    if entries == 0 {
        return Err(perr(
            node,
            prop,
            PropProblem::WrongLength {
                len: v.len(),
                expected: "at least one (#address-cells + #size-cells) entry",
            },
        ));
    }
    if v.len() % per != 0 {
        warnings.push(format!(
            "{}: {prop} has {} trailing bytes after its last whole entry; ignored, as Linux \
             does",
            node.path,
            v.len() % per
        ));
    }
    let mut out = Vec::new();
    for entry in v.chunks_exact(per) {
        let c: Vec<u32> = entry
            .chunks_exact(4)
            .map(|x| u32::from_be_bytes(x.try_into().unwrap_or([0; 4])))
            .collect();
        let (ac, sc) = c.split_at(a.min(c.len()));
        let base = PhysAddr::new(number(ac));
        let size = PhysSize::new(number(sc));
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
        out.push((base, size));
    }
    Ok(out)
}
