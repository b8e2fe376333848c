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
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

extern crate alloc;

mod dtb;
mod error;
mod fdt;
mod model;
pub mod rma;
mod synth;
mod text;

pub use dtb::{
    parse_dtb, topology_from_dtb, AffinityForm, DrmemVersion, DtbOptions, DtbReport,
    DRCONF_MEM_AI_INVALID, DRCONF_MEM_ASSIGNED, DRCONF_MEM_RESERVED, MAX_CPUS, MAX_PHYSMEM_BITS,
};
pub use error::{BlobError, DtbError, MemorySource, PropProblem, SynthError, TomlError};
pub use model::{Cpu, MemoryRange, Node, Topology};
pub use synth::{synthetic, SyntheticSpec};
pub use text::topology_from_toml;
