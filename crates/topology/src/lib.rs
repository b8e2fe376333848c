//! NUMA topology of a POWER machine from its flattened device tree or a TOML description.
//!
//! The model: a machine is a list of hardware threads (CPUs, numbered by Linux's
//! logical id and carrying the thread id firmware knows them by), a list of physical
//! memory ranges, each owned by a NUMA node, the distance between every pair of
//! nodes, and the size of the real-mode area (RMA) at address 0 that early boot must
//! allocate real-mode-accessed structures below. A node is Linux's node id, read from
//! the `ibm,associativity` domain at the primary reference point; a CPU or range whose
//! associativity is missing or invalid has no node (`None`, Linux's `NUMA_NO_NODE`).
//! [`parse_dtb`] derives all of this from the device tree a pSeries LPAR or a PowerNV
//! host boots with, following Linux 6.1's `arch/powerpc/mm/numa.c`, `drmem.c` and
//! `kernel/prom.c` rule by rule; [`topology_from_toml`] reads a hand-written
//! description; [`synthetic`] generates large machines for tests and benchmarks.
//!
//! Besides the topology, early boot reads facts that decide what it reserves and
//! allocates before the per-CPU structures, and [`fdt_facts`] (also
//! [`DtbReport::facts`]) gives them as Linux 6.1 reads them: the header (`totalsize`
//! is reserved as is), the memory reservation block, `/reserved-memory` regions
//! (static and dynamic), `/chosen` (initrd, `bootargs`, a parsed `crashkernel=`),
//! `/rtas` (prom_init's RTAS base and entry, `ibm,lrdr-capacity`) and the possible
//! CPU count of `smp_setup_cpu_maps` ([`FdtFacts::possible_cpus`]).
//! [`unflattened_size`] and [`unflatten_allocations`] are the bytes
//! `unflatten_device_tree` and `of_alias_scan` then allocate, from the sizes of
//! `struct device_node`, `struct property` and `struct alias_prop` in the Debian 6.1
//! kernel's configuration ([`SIZEOF_DEVICE_NODE`] and friends).
//!
//! Those sizes, and the page size prom_init rounds the booted tree to, belong to a
//! kernel build: [`OfBuild`] names them, with Debian's 6.1 (64 KiB pages) and 6.12
//! (4 KiB and 64 KiB pages) builds as constants, and every size-dependent function has
//! a `_for` variant taking one ([`unflattened_size_for`],
//! [`unflatten_allocations_for`], [`predict_booted_for`], [`prom_blob_address_for`]).
//! The variants without `_for` are the 6.1 build.
//!
//! Two trees describe a QEMU pseries guest: the one QEMU's `dumpdtb` writes (version
//! 17, before client-architecture-support) and the one the kernel boots from
//! (version 16, rebuilt by QEMU at CAS and flattened by prom_init; also
//! `/sys/firmware/fdt`). Both are read. The topology is the same (the tests check it
//! on eight real boots), but the sizes are not: [`predict_booted`] derives the booted
//! tree's `totalsize`, address, reservation map and unflattened size from the dump,
//! step by step (QEMU's CAS rebuild, prom_init's claims and properties, its
//! flattening layout), and refuses trees it has no rules for.
//!
//! The crate is `no_std` (with `alloc`) and never panics on input: every malformed
//! blob or property is an error naming the node path and property.
//!
//! ```
//! // A two-node QEMU pseries guest (4 CPUs, 512 MiB per node), as dumped by
//! // `qemu-system-ppc64 -M pseries,dumpdtb=...`.
//! let blob = include_bytes!("../fixtures/qemu/two-node.dtb");
//! let t = topology::topology_from_dtb(blob).unwrap();
//! let node_of = |cpu: usize| t.cpus[cpu].node.map(|n| n.get());
//! assert_eq!((node_of(0), node_of(3)), (Some(0), Some(1)));
//! assert_eq!(t.memory.len(), 2);
//! assert_eq!(t.distances, vec![vec![10, 20], vec![20, 10]]);
//! assert_eq!(t.rma_size.as_u64(), 512 << 20);
//! assert!(!t.hypervisor_mode);
//! ```
//!
//! # The Linux rules followed
//!
//! * **Mode.** A tree with `/ibm,opal` (or root `compatible` `ibm,powernv`) is a
//!   PowerNV host in hypervisor mode; anything else is a pSeries LPAR.
//! * **Affinity form** (`find_primary_domain_index`): OPAL is FORM1; a pSeries guest
//!   uses what client-architecture-support (CAS) negotiated, recorded in
//!   `/chosen/ibm,architecture-vec-5` byte 5 (0x20 FORM2 over 0x80 FORM1, else FORM0;
//!   a vector shorter than 6 bytes, or none, is FORM0 as in `fw_vec5_feature_init`),
//!   except for QEMU's pre-CAS placeholder (below).
//! * **Primary domain** (`ibm,associativity-reference-points` in `/rtas` or
//!   `/ibm,opal`): the first reference point for FORM1/FORM2, the second for FORM0; no
//!   usable property disables NUMA and puts everything on node 0 (`setup_nonnuma`).
//! * **Node ids** (`__associativity_to_nid`): the domain at the primary index of
//!   `ibm,associativity` (whose first cell is the count); 0xffff, ids from 256 up
//!   (`nr_node_ids` is still `MAX_NUMNODES`), and arrays too short give no node.
//! * **Distances** (`__node_distance`): FORM0 10/20; FORM1 doubles from 10 for each of
//!   up to four reference points at which the nodes' recorded domains differ, the
//!   record filled by CPUs, then `memory` nodes, then LMBs (only for nid > 0) as
//!   Linux fills it; FORM2 from `ibm,numa-lookup-index-table` and
//!   `ibm,numa-distance-table` (10/20 if the table size is wrong, as Linux).
//! * **CPUs** (`smp_setup_cpu_maps`): nodes with `device_type = "cpu"` in tree order,
//!   one logical CPU per `ibm,ppc-interrupt-server#s` entry (or `reg`). Threads of a
//!   node whose `status` is not okay (and whose `enable-method` is not `spin-table`)
//!   are possible but not present in Linux: see the decisions below.
//! * **Memory** (`early_init_dt_scan_memory`, `early_init_drmem_lmb`): the ranges of
//!   available `memory` nodes directly under the root, from `linux,usable-memory` if
//!   present (an empty one adds nothing) or `reg`, with the root's
//!   `#address-cells`/`#size-cells`; and the `ibm,dynamic-reconfiguration-memory` LMBs
//!   that are assigned and not reserved (v1 `ibm,dynamic-memory` preferred over
//!   `ibm,dynamic-memory-v2`, size `ibm,lmb-size`; without a usable `ibm,lmb-size`
//!   Linux ignores DR memory, with a warning here). Overlapping descriptions are
//!   merged as `memblock_add_range` merges them: the memory is their union.
//! * **Memory nodes** (`parse_numa_properties`): every node of type `memory`, at any
//!   depth and whatever its `status`, gives the node of its ranges (node 0 when it has
//!   no `ibm,associativity`, `default_nid`), then every assigned LMB gives its node
//!   from `ibm,associativity-lookup-arrays`; each is a `memblock_set_node` on memory
//!   already added, and where descriptions overlap the later one wins (so an LMB beats
//!   the `memory` node it overlaps, as on PowerVM, where `memory@0` is the RMA and
//!   LMB 0 is assigned too). Touching ranges of one node are merged, as memblock merges
//!   them (memblock's hotplug flag, which can keep them apart, is not modelled).
//! * **Nodes**: Linux's online nodes after `parse_numa_properties`: those of present
//!   CPUs, of `memory` nodes (even one whose memory a later description took, or a
//!   disabled one) and of assigned LMBs. Nodes named only in the lookup arrays or the
//!   FORM2 index table are not online in Linux, and are not listed.
//! * **RMA**: see [`rma`]; [`DtbOptions::rma_override`] and the TOML `rma_size`
//!   replace it.
//!
//! # Decisions where Linux gives no answer
//!
//! * A tree dumped before CAS carries QEMU's placeholder `ibm,architecture-vec-5 =
//!   [00 00]` (`dumpdtb`), which would make Linux choose FORM0 and put every QEMU CPU on
//!   node 0. Linux never boots with it: every Linux guest asks for FORM1 at CAS, QEMU
//!   and PowerVM grant it, and the tree after CAS has the real vector. So exactly that
//!   two-byte placeholder is read as FORM1 and [`DtbReport::affinity_assumed`] says so;
//!   any other vector, including other short ones, follows Linux's rule. QEMU 7.2 can
//!   grant FORM2 at CAS, but only a post-CAS tree shows it; the FORM2 and DR-memory
//!   fixtures are therefore hand-written (`fixtures/crafted/`).
//! * Where Linux would read out of bounds or loop, numaboot refuses with an error:
//!   counts larger than their property, a `memory` node range property too short for
//!   one entry, reference point 0, FORM2 domain ids of 256 or more, a FORM2 table that
//!   omits an online node (Linux leaves its distances -1), a phandle loop in a CPU's
//!   `l2-cache`/`next-level-cache` chain. Also refused, though Linux would carry on
//!   with a nonsensical layout: memory above 2^[`MAX_PHYSMEM_BITS`] or passing the top
//!   of the address space, two CPU threads with one thread id, a zero `ibm,lmb-size`.
//! * CPUs that are not present are left out of [`Topology::cpus`] so that
//!   `cpus[i].logical_id == i` holds for the present CPUs consumers iterate. Linux
//!   instead gives them logical ids too, so every present CPU after one has a Linux
//!   logical id larger than its index here, and Linux's `boot_cpuid` counts them as
//!   well. [`DtbReport::not_present_cpus`] lists them with their Linux ids,
//!   [`DtbReport::linux_logical_id`] maps a CPU's index here to Linux's id, and
//!   [`DtbReport::linux_boot_cpu`] is Linux's `boot_cpuid` (a warning says when it
//!   differs from [`DtbReport::boot_cpu`]). Linux places such CPUs on
//!   `first_online_node`.
//! * `linux,drconf-usable-memory` (kdump) is not applied (a warning says so), and the
//!   tree's associativity is used where Linux would first ask the hypervisor (VPHN;
//!   QEMU's answer equals the tree).
//! * Not modelled in the memory scans: the kernel command line (`mem=`, `numa=off`,
//!   `iommu=off`), memblock's hotplug flag (`hotpluggable`, `DRCONF_MEM_HOTREMOVABLE`),
//!   which can keep touching regions of one node apart in memblock, and the cell
//!   counts: `parse_numa_properties` reads every `memory` node with the
//!   `#address-cells`/`#size-cells` of the first one's parent (`get_n_mem_cells`),
//!   where numaboot uses the root's for all, as the early scan does. A `memory` node
//!   range property whose length is not a whole number of entries has its tail ignored
//!   with a warning, as Linux ignores it.
//!
//! # Why not the `fdt` crate
//!
//! `fdt` 0.1.5 was the first choice, but it trusts the blob: `Fdt::new` checks only
//! the magic and `totalsize`, and walking nodes then slices the structure and strings
//! blocks without bounds checks and `expect`s well-formed names (`structs_block`,
//! `str_at_offset`, `FdtNode::children`), so a truncated blob panics inside it, and its
//! three error values cannot say where a blob is wrong. This crate walks the blob with
//! its own checked reader (one pass, every offset and token validated) instead.
//!
//! # The TOML format
//!
//! ```toml
//! hypervisor_mode = false          # optional, default false (an LPAR)
//! rma_size = "0x40000000"          # optional; otherwise Linux's rule (see `rma`)
//! arch_300 = true                  # optional, default true: POWER9+ 1 TiB RMA clamp
//! distances = [[10, 20], [20, 10]] # optional, rows in ascending node id order
//!
//! [[nodes]]
//! id = 0
//! memory = ["0x0-0x80000000"]      # half-open [start, end) ranges
//! cpus = "0-15"                    # logical CPU ids: "0-3,8,10-11"
//! hw_ids = "0-15"                  # optional thread ids, same count; default = logical
//!
//! [[nodes]]
//! id = 1
//! memory = ["0x80000000-0x100000000"]  # a CPU-less node: no `cpus`
//! ```
//!
//! Logical CPU ids across all nodes must be exactly `0..n`, each once, since Linux
//! numbers logical CPUs densely, with at least one CPU and at most `NR_CPUS`
//! ([`MAX_CPUS`]). Memory must end at or below 2^[`MAX_PHYSMEM_BITS`], and ranges may
//! not overlap. `distances` must be one row per node with `LOCAL_DISTANCE` (10) on the
//! diagonal and more than 10 elsewhere (it may be asymmetric, as FORM2 allows); without
//! it, nodes are 10 from themselves and 20 from each other (FORM0).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

extern crate alloc;

mod blocksize;
mod boot;
mod build;
mod cas;
mod crashkernel;
mod dtb;
mod error;
mod fdt;
mod layout;
mod model;
mod predict;
mod prominit;
pub mod rma;
mod shape;
mod synth;
mod text;
mod unflatten;

pub use blocksize::{probe_memory_block_size, MIN_MEMORY_BLOCK_SIZE};
pub use boot::{
    fdt_facts, ChosenFacts, DynamicReservation, FdtFacts, FdtHeader, ReservedMemory,
    ReservedRegion, RtasFacts,
};
pub use build::OfBuild;
pub use crashkernel::{parse_crashkernel, CrashKernel, CrashRange};
pub use dtb::{
    parse_dtb, topology_from_dtb, AffinityForm, DrmemVersion, DtbOptions, DtbReport, NotPresentCpu,
    DRCONF_MEM_AI_INVALID, DRCONF_MEM_ASSIGNED, DRCONF_MEM_RESERVED, MAX_CPUS, MAX_PHYSMEM_BITS,
};
pub use error::{BlobError, DtbError, PropProblem, SynthError, TomlError};
pub use model::{Cpu, MemoryRange, Node, Topology};
pub use predict::{
    predict_booted, predict_booted_for, BootMmu, BootedTreePrediction, PredictError,
};
pub use prominit::{prom_blob_address, prom_blob_address_for};
pub use synth::{synthetic, SyntheticSpec};
pub use text::{format_id_list, parse_id_list, topology_from_toml};
pub use unflatten::{
    unflatten_allocations, unflatten_allocations_for, unflattened_size, unflattened_size_for,
    EarlyAlloc, UnflattenAllocs, ALIGNOF_ALIAS_PROP, ALIGNOF_DEVICE_NODE, ALIGNOF_PROPERTY,
    SIZEOF_ALIAS_PROP, SIZEOF_DEVICE_NODE, SIZEOF_PROPERTY,
};
