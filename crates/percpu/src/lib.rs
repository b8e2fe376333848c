//! NUMA-aware placement of POWER per-CPU structures (paca, lppaca, SLB shadow, stacks,
//! radix page tables) through memblock, as Linux does it at boot.
//!
//! A plan replays, against a [`memblock::Memblock`], the early-boot allocations a ppc64
//! kernel makes for its CPUs, in the kernel's order and with the kernel's sizes,
//! alignments, limits and node hints. [`Strategy::Linux61`] is the sequence after
//! Nicholas Piggin's 2018 series "numa aware allocation for pacas, stacks, pagetables"
//! (Linux 6.1 `paca.c`, `setup_64.c`, `setup-common.c`, `radix_pgtable.c`): each paca,
//! lppaca and SLB shadow allocated on its own with `memblock_alloc_try_nid` on the CPU's
//! node below `min(ppc64_bolted_size(), ppc64_rma_size)` (falling back to any node),
//! node-local IRQ and emergency stacks, and radix page tables inside the memory they
//! map. [`Strategy::Linux415`] is what came before: one page-aligned array each for the
//! pacas, lppacas and SLB shadows on no particular node, with page-aligned tail freeing.
//! The [`Placement`] report says, for every CPU and structure, where it went, on which
//! node, whether that is local, and if not why; it totals used, padded and stranded bytes
//! and reserved regions per node, and keeps every memblock call as a line of the
//! `numaboot memblock replay` language. The [`vpa`] module is the guest side of the PAPR
//! VPA contract over [`papr::hcall::Hypervisor`]: registration, the kexec shutdown path
//! and VPHN change detection.
//!
//! Nothing here panics on any input: a structure that does not fit is a
//! [`PlanError::CannotFit`] naming the CPU and structure, and a failed plan leaves
//! memblock exactly as it found it.
//!
//! ```
//! use memblock::Memblock;
//! use percpu::{boot, PlanConfig, Strategy, StructureKind};
//! use phys::{NodeId, PhysAddr, PhysSize};
//! use topology::{Cpu, MemoryRange, Node, Topology};
//!
//! const GIB: u64 = 1 << 30;
//! // Two nodes of 4 GiB each, two CPUs per node; a 1 GiB RMA on node 0.
//! let n = |i| NodeId::new(i);
//! let topo = Topology {
//!     cpus: (0..4)
//!         .map(|i| Cpu { logical_id: i, hw_id: i, node: n(i / 2) })
//!         .collect(),
//!     memory: vec![
//!         MemoryRange { base: PhysAddr::new(0), size: PhysSize::new(4 * GIB), node: n(0) },
//!         MemoryRange { base: PhysAddr::new(4 * GIB), size: PhysSize::new(4 * GIB), node: n(1) },
//!     ],
//!     nodes: vec![Node { id: NodeId::ZERO }, Node { id: NodeId::new(1).unwrap() }],
//!     distances: vec![vec![10, 20], vec![20, 10]],
//!     rma_size: PhysSize::new(GIB),
//!     hypervisor_mode: false,
//! };
//! let mut cfg = PlanConfig::for_topology(&topo, Strategy::Linux61);
//! cfg.radix = true; // radix: no RMA limit, so node 1's CPUs get node-1 memory
//! let mut mb = Memblock::new();
//! let placement = boot(&mut mb, &topo, &cfg)?;
//!
//! let lppaca = placement.find(3, StructureKind::Lppaca).unwrap();
//! assert!(lppaca.addr.is_aligned(0x400) && lppaca.is_local());
//! assert_eq!(lppaca.memory_node, n(1));
//! // Every memblock call is kept as a replay line.
//! assert!(placement.replay_script().contains("alloc_try_nid 0x400 0x400"));
//! # Ok::<(), percpu::PlanError>(())
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

extern crate alloc;

mod config;
pub mod consts;
mod error;
mod mem;
mod plan;
mod report;
pub mod vpa;

pub use config::{ConfigError, PlanConfig, Strategy};
pub use error::PlanError;
pub use mem::{MemOp, MemblockOps};
pub use plan::{boot, early_cpu_to_node, first_online_node, init_memblock, node_of_addr, plan};
pub use report::{
    Allocation, FallbackReason, Finding, NoNodeReason, NodeTotals, Outcome, Placement,
    StructureKind,
};
