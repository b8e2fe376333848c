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
//! `numaboot memblock replay` language. [`strategies`] holds four sequences beyond Linux
//! ([`Strategy::PackedVpa`], [`Strategy::PerCpuBlock`], [`Strategy::PerNodeBlock`],
//! [`Strategy::RmaSplit`]): the 6.1 sequence with the paca data allocated another way,
//! each with the rule that makes it safe. The [`vpa`] module is the guest side of the PAPR
//! VPA contract over [`papr::hcall::Hypervisor`]: registration, the kexec shutdown path
//! and VPHN change detection.
//!
//! Nothing here panics on any input: a structure that does not fit is a
//! [`PlanError::CannotFit`] naming the CPU and structure, and a failed plan leaves
//! memblock exactly as it found it.
//!
//! ```
//! use memblock::Memblock;
//! use percpu::{boot, boot_with, CallLog, PlanConfig, Strategy, StructureKind};
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
//! // A caller that never replays them can leave the calls out: same placement.
//! let lean = boot_with(&mut Memblock::new(), &topo, &cfg, CallLog::Discard)?;
//! assert!(lean.ops.is_empty());
//! assert_eq!(lean.allocations, placement.allocations);
//! # Ok::<(), percpu::PlanError>(())
//! ```
//!
//! # The sequences, step by step
//!
//! [`Strategy::Linux61`] (Linux 6.1):
//!
//! 0. `early_init_devtree` ([`init_memblock`]): memory added, the current limit set,
//!    then the boot facts of [`PlanConfig::kernel`] and [`PlanConfig::early`] reserved
//!    in Linux's order: `[0, _end)`, the crash kernel, the flattened tree, its
//!    reservation map and `/reserved-memory`, the initrd (and `move_device_tree`'s copy
//!    when the tree overlaps them). Where firmware decides a location, the topology
//!    crate's `predict_booted` models it.
//! 1. `early_setup` → `allocate_paca_ptrs`: `memblock_alloc_raw(8 * nr_cpu_ids, 128)`
//!    with the early `nr_cpu_ids` (`NR_CPUS`, [`PlanConfig::nr_cpu_ids`]).
//! 2. `allocate_paca(boot_cpuid)`: paca (`sizeof(paca_struct)`, 128-aligned), lppaca
//!    (0x400, 0x400-aligned; none in hypervisor mode), SLB shadow (128, 128; always for
//!    the boot CPU), each through `alloc_paca_data`: `NUMA_NO_NODE`, bottom-up, below
//!    `min(ppc64_bolted_size(), ppc64_rma_size)` and the current limit (the RMA).
//! 3. `early_init_mmu`: with radix, `radix_init_pgtable` maps every memblock memory
//!    region, allocating 64 KiB table pages inside the region being mapped, then
//!    allocates the 16 MiB process table (`1 << PRTB_SIZE_SHIFT`, size-aligned, no
//!    node, anywhere); then the current limit becomes `MEMBLOCK_ALLOC_ANYWHERE` (radix
//!    and hash alike).
//!    In hypervisor mode radix also allocates the partition table
//!    (`1 << (mmu_lpid_bits + 4)`). The linear mapping starts a new run of table
//!    bounds where the mapping size changes, at the RWX boundary and where the mapping
//!    stops covering kernel text ([`early::KernelImage`]).
//! 4. `setup_arch`: `unflatten_device_tree` (one block for the whole tree, then
//!    `of_alias_scan`'s records; no node, below the current limit), `rtas_initialize`
//!    (64 KiB below `min(RMA, 1 GiB)`), then `smp_setup_cpu_maps`: `cpu_to_phys_id` (4 bytes per early CPU id),
//!    `setup_nr_cpu_ids`, `free_unused_pacas` (shrink `paca_ptrs`; with radix free the
//!    boot CPU's SLB shadow).
//! 5. `mem_topology_setup`: memblock regions get their nodes.
//! 6. `smp_setup_pacas`: `allocate_paca` for every other possible CPU on
//!    `early_cpu_to_node(cpu)`, falling back to any node; then `cpu_to_phys_id` is freed
//!    with the *new* `nr_cpu_ids` (the tail leaks: [`Finding::Leak`]).
//! 7. `irqstack_early_init`: soft/hard IRQ stacks (`THREAD_SIZE` = `THREAD_ALIGN` =
//!    16 KiB) on the CPU's node below `ppc64_bolted_size()`.
//! 8. `emergency_stack_init`: emergency, NMI and machine-check stacks below
//!    `min(bolted, RMA)`, the machine-check one of an LPAR also below 4 GiB.
//!
//! 6.1 allocates per-CPU structures only for possible CPUs, so `free_unused_pacas` has
//! no per-CPU structure to free; what it frees is the tail of `paca_ptrs` (and the
//! boot CPU's SLB shadow under radix). A boot with a smaller `nr_cpu_ids` reserves the
//! same bytes except for the leaked `cpu_to_phys_id` tail (tested).
//!
//! [`Strategy::Linux612`] (Linux 6.12 LTS) is the same sequence with what 6.12 adds or
//! changes on Debian's builds: `rtas_initialize` also reserves the RTAS work-area arena
//! (256 KiB, page aligned, below the RTAS limit) after RTAS's buffer; stacks are 32 KiB
//! (`THREAD_SHIFT` 15); KFENCE is on, so a hash kernel allocates `linear_map_hash_slots`
//! (a byte per page of memory, below the RMA) in `htab_initialize`
//! ([`PlanConfig::kfence`]); the paca of the 4 KiB-page build is 1280 bytes. (The
//! unflattened tree's size and the radix mapping cap also differ; the topology crate
//! computes both for the build, and a front end puts them in [`PlanConfig::early`] and
//! [`PlanConfig::radix_mem_block_size`].) All ten real 6.12 boots of the topology
//! crate's fixtures are reproduced address for address.
//!
//! [`Strategy::Linux415`] (Linux 4.15, the removed lines of the series): in
//! `early_init_devtree`, `setup_initial_memory_limit` sets `ppc64_rma_size =
//! min(first_memblock_size, 1 GiB)` for hash (hypervisor mode included: the HVMODE test
//! came in 4.16) and radix alike, and the current limit to that (hash) or to the end of
//! the first memory block (radix). Then `allocate_pacas` takes, below `limit =
//! min(0x10000000, ppc64_rma_size)` (256 MiB), one `PAGE_ALIGN(nr_cpu_ids *
//! sizeof(paca))` array, `allocate_lppacas` one `PAGE_ALIGN((nr_cpu_ids - 1) * 0x400)`
//! array (CPU 0 uses the static `lppaca[0]` of the kernel image; allocated even in
//! hypervisor mode, since the HVMODE check came with the series) and
//! `allocate_slb_shadows` one `PAGE_ALIGN(nr_cpu_ids * 128)` array (hash only), each with
//! `memblock_alloc_base(size, PAGE_SIZE, limit)`: no node, top-down. Radix page tables
//! use `memblock_alloc_base(size, size, MEMBLOCK_ALLOC_ANYWHERE)`, and so does the process
//! table after them (8 MiB in a guest, 16 MiB in hypervisor mode: `mmu_pid_bits` 19 or
//! 20 without `ibm,mmu-pid-bits`). `free_unused_pacas`
//! frees the page-aligned tail of the paca array and, only if that array shrank (it
//! returns early otherwise), calls `free_lppacas`, which keeps the lppaca array for
//! `num_possible_cpus() - 1` entries: with a sparse possible mask it frees lppacas still
//! in use ([`Finding::FreedWhileInUse`]); SLB shadows are never shrunk. Stacks:
//! `memblock_alloc_base(THREAD_SIZE, THREAD_SIZE, limit)`, IRQ stacks below
//! `safe_stack_limit()` (the first segment, radix or not), emergency stacks below
//! `min(safe_stack_limit(), ppc64_rma_size)`, no 4 GiB machine-check limit yet.
//!
//! # Sources and what could be verified
//!
//! Linux 6.1 was read from its source tree. For 4.15, `paca.c` (`allocate_pacas` with
//! its 256 MiB limit, the arrays, the static `lppaca[NR_LPPACAS]`,
//! `allocate_slb_shadows`, `free_unused_pacas` and its early return, `free_lppacas`),
//! `prom.c` (`setup_initial_memory_limit` before `allocate_pacas`), `setup_64.c`
//! (`safe_stack_limit`, `irqstack_early_init`, `emergency_stack_init`) and the radix
//! `early_alloc_pgtable`, `radix_init_pgtable` and `radix__setup_initial_memory_limit`
//! were read from copies of the 4.1x tree in the search index; the hash
//! `ppc64_rma_size` rule from the 4.16 commit that added the HVMODE test; the copy of
//! `emergency_stack_init` found predates the NMI stack (4.13), which is modelled as in
//! 4.15. Not verified and documented as an assumption: 4.15's radix table sizes (4 KiB
//! upper levels, `PAGE_SIZE` PTE pages). `sizeof(struct paca_struct)` is configuration dependent
//! ([`Strategy::default_paca_size`], configurable).
//!
//! # Not modelled
//!
//! Allocations between the per-CPU ones that are not per-CPU and not listed above
//! (the bare-metal hash page table and hash partition table, dynamic
//! `/reserved-memory` allocations, `mce_init`'s per-CPU `mce_info` after the stacks, the
//! secure-guest shared lppaca page), `mem=`, and
//! `numa_setup_cpu`'s first-thread-of-core mapping (every thread is given its own node
//! from the topology).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

extern crate alloc;

mod config;
pub mod consts;
pub mod early;
mod error;
mod mem;
mod plan;
mod report;
pub mod strategies;
mod totals;
pub mod vpa;

pub use config::{ConfigError, Limit, PlanConfig, Strategy, UnknownStrategy};
pub use error::PlanError;
pub use mem::{MemOp, MemblockOps};
pub use plan::{
    boot, boot_with, early_cpu_to_node, first_online_node, init_memblock, node_of_addr, plan,
    CallLog,
};
pub use report::{
    Allocation, FallbackReason, Family, Finding, LocalitySummary, NoNodeReason, NodeLocality,
    NodeTotals, Outcome, Placement, RealModeBound, StructureKind,
};
pub use totals::node_totals;
