//! What a plan is asked to do: the kernel being modelled and the machine's CPU masks.

use alloc::vec::Vec;

pub use phys::Limit;
use phys::{PhysAddr, PhysSize};
use topology::Topology;

use crate::consts;
use crate::early::{EarlyBoot, KernelImage};

/// Which kernel's boot sequence to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Strategy {
    /// Linux 6.1, after Nicholas Piggin's 2018 series: the paca pointer array, then each
    /// paca, lppaca and SLB shadow allocated individually on the CPU's node
    /// (`alloc_paca_data`), node-local stacks (`alloc_stack`), and radix page tables
    /// inside the memory range they map.
    Linux61,
    /// Linux 6.12 (LTS): the 6.1 sequence, plus the RTAS work-area arena that
    /// `rtas_initialize` reserves after RTAS's user buffer (256 KiB, page aligned,
    /// below the same limit); Debian's builds use 32 KiB stacks.
    Linux612,
    /// Linux 4.15, before the series: one paca array, one lppaca array (1 KiB entries,
    /// CPU 0 using the static `lppaca[0]` of the kernel image) and one SLB shadow array,
    /// each page aligned below the real-mode limit on no particular node; stacks with
    /// `memblock_alloc_base`; page-aligned tail freeing in `free_unused_pacas`.
    Linux415,
    /// Beyond Linux: the 6.1 sequence with 640-byte lppacas, six to a 4 KiB page
    /// allocated on the CPU's node ([`crate::strategies`]). Needs a hypervisor that
    /// accepts a 640-byte VPA (KVM since 4.14, QEMU, PowerVM).
    PackedVpa,
    /// Beyond Linux: the 6.1 sequence with one node-local block per CPU holding its
    /// lppaca (640 bytes), paca and SLB shadow ([`crate::strategies`]).
    PerCpuBlock,
    /// Beyond Linux: the 6.1 sequence with one block per node holding the lppaca, paca
    /// and SLB shadow of every CPU of the node ([`crate::strategies`]).
    PerNodeBlock,
    /// Beyond Linux: [`Strategy::PackedVpa`] with the lppaca pages bounded by the bolted
    /// segment only, not by the RMA: Linux never touches an lppaca with translation off
    /// ([`crate::strategies`]).
    RmaSplit,
}

impl Strategy {
    /// The Linux kernels modelled, newest first (what `numaboot compare` shows by
    /// default).
    pub const ALL: [Self; 3] = [Self::Linux612, Self::Linux61, Self::Linux415];

    /// The strategies beyond Linux, each a variant of the Linux 6.1 sequence.
    pub const BEYOND_LINUX: [Self; 4] = [
        Self::PackedVpa,
        Self::PerCpuBlock,
        Self::PerNodeBlock,
        Self::RmaSplit,
    ];

    /// Every strategy: [`Strategy::ALL`] then [`Strategy::BEYOND_LINUX`].
    pub const EVERY: [Self; 7] = [
        Self::Linux612,
        Self::Linux61,
        Self::Linux415,
        Self::PackedVpa,
        Self::PerCpuBlock,
        Self::PerNodeBlock,
        Self::RmaSplit,
    ];

    /// Whether this is the sequence of a real Linux release (checked against boots),
    /// rather than a proposal built on Linux 6.1.
    pub const fn is_linux(self) -> bool {
        matches!(self, Self::Linux61 | Self::Linux612 | Self::Linux415)
    }

    /// The Linux release whose sequence this one follows outside the paca data: itself
    /// for a Linux strategy, [`Strategy::Linux61`] for the strategies beyond Linux.
    pub const fn base(self) -> Self {
        match self {
            Self::Linux61 | Self::Linux612 | Self::Linux415 => self,
            Self::PackedVpa | Self::PerCpuBlock | Self::PerNodeBlock | Self::RmaSplit => {
                Self::Linux61
            }
        }
    }

    /// The value the lppaca's `size` field advertises, which the hypervisor checks at
    /// registration: Linux's 1 KiB ([`consts::LPPACA_SIZE`], for pre-4.14 KVM), or the
    /// 640 bytes of the structure for the strategies beyond Linux.
    pub const fn lppaca_size_field(self) -> u64 {
        if self.is_linux() {
            consts::LPPACA_SIZE
        } else {
            consts::LPPACA_STRUCT_SIZE
        }
    }

    /// Whether a hash guest must keep the lppaca below the RMA: every strategy except
    /// [`Strategy::RmaSplit`], whose rule is that only the paca, the SLB shadow, the
    /// pointer array and the emergency stacks are touched with translation off.
    pub const fn lppaca_in_real_mode(self) -> bool {
        !matches!(self, Self::RmaSplit)
    }

    /// Whether this strategy's kernel touches structures of `kind` with translation off
    /// (so a hash guest keeps them below the RMA): [`crate::StructureKind::is_real_mode`],
    /// except the lppacas of a strategy that moves them out of real mode.
    pub const fn keeps_in_real_mode(self, kind: crate::StructureKind) -> bool {
        kind.is_real_mode()
            && (!matches!(kind.family(), crate::Family::Lppaca) || self.lppaca_in_real_mode())
    }

    /// Whether the kernel allocates each CPU's structures on its own, on its node (the
    /// 2018 series: 6.1 and 6.12, and the strategies built on 6.1), rather than in
    /// arrays (4.15).
    pub const fn per_cpu_allocation(self) -> bool {
        !matches!(self, Self::Linux415)
    }

    /// `sizeof(struct paca_struct)` of Debian's build of this version with `PAGE_SIZE`
    /// `page_size` (the paca holds page-size-dependent parts): see
    /// [`consts::PACA_SIZE_6_1`], [`consts::PACA_SIZE_6_12_4K`],
    /// [`consts::PACA_SIZE_4_15`].
    pub const fn default_paca_size_for(self, page_size: u64) -> PhysSize {
        match self.base() {
            Self::Linux61 | Self::Linux612 if page_size == consts::PAGE_SIZE_4K => {
                consts::PACA_SIZE_6_12_4K
            }
            Self::Linux61 | Self::Linux612 => consts::PACA_SIZE_6_1,
            _ => consts::PACA_SIZE_4_15,
        }
    }

    /// [`Strategy::default_paca_size_for`] with 64 KiB pages.
    pub const fn default_paca_size(self) -> PhysSize {
        self.default_paca_size_for(consts::PAGE_SIZE_64K)
    }

    /// `THREAD_SHIFT` of Debian's build: 14 (16 KiB stacks) up to 6.1, 15 in 6.12.
    pub const fn default_thread_shift(self) -> u32 {
        match self.base() {
            Self::Linux612 => 15,
            _ => consts::THREAD_SHIFT_DEFAULT,
        }
    }

    /// Whether `debug_pagealloc_enabled_or_kfence()` holds on Debian's build: KFENCE
    /// is built in (and on by default) in 6.12, absent from 6.1.
    pub const fn default_kfence(self) -> bool {
        matches!(self, Self::Linux612)
    }

    /// The strategy of a kernel that names itself `Linux version MAJOR.MINOR...`:
    /// [`Strategy::Linux612`] from 6.12 on, [`Strategy::Linux61`] otherwise.
    pub const fn for_linux_version(major: u32, minor: u32) -> Self {
        if major == 6 && minor >= 12 {
            Self::Linux612
        } else {
            Self::Linux61
        }
    }

    /// A short name, as the CLI prints it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Linux61 => "linux-6.1",
            Self::Linux612 => "linux-6.12",
            Self::Linux415 => "linux-4.15",
            Self::PackedVpa => "packed-vpa",
            Self::PerCpuBlock => "per-cpu-block",
            Self::PerNodeBlock => "per-node-block",
            Self::RmaSplit => "rma-split",
        }
    }

    /// The strategy named `name` ([`Strategy::name`]; `linux` is Linux 6.1).
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "linux" {
            return Some(Self::Linux61);
        }
        Self::EVERY.into_iter().find(|s| s.name() == name)
    }

    /// One line saying what the strategy is, for a command-line help text.
    pub const fn summary(self) -> &'static str {
        match self {
            Self::Linux61 => {
                "Linux 6.1, after the 2018 \"numa aware allocation\" series (the default)"
            }
            Self::Linux612 => {
                "Linux 6.12 LTS: 6.1's sequence plus the RTAS work-area arena, 32 KiB stacks"
            }
            Self::Linux415 => "Linux 4.15, before the series: shared arrays on no particular node",
            Self::PackedVpa => {
                "Beyond Linux: 6.1 with 640-byte lppacas, six to a node-local 4 KiB page"
            }
            Self::PerCpuBlock => {
                "Beyond Linux: 6.1 with one node-local block per CPU (lppaca, paca, SLB shadow)"
            }
            Self::PerNodeBlock => {
                "Beyond Linux: 6.1 with one block per node holding its CPUs' paca data"
            }
            Self::RmaSplit => "Beyond Linux: packed-vpa with the lppacas node-local above the RMA",
        }
    }
}

/// A strategy name [`Strategy::from_str`](core::str::FromStr) does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStrategy(pub alloc::string::String);

impl core::fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "unknown strategy `{}` (expected linux", self.0)?;
        for s in Strategy::EVERY {
            write!(f, ", {}", s.name())?;
        }
        f.write_str(")")
    }
}

impl core::error::Error for UnknownStrategy {}

impl core::str::FromStr for Strategy {
    type Err = UnknownStrategy;

    /// [`Strategy::from_name`], ignoring surrounding blanks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s.trim()).ok_or_else(|| UnknownStrategy(s.into()))
    }
}

impl core::fmt::Display for Strategy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The inputs of a plan besides memblock and the topology.
///
/// [`PlanConfig::for_topology`] fills it the way a ppc64le distribution kernel boots
/// that machine; every field can be changed afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlanConfig {
    /// The kernel whose sequence is reproduced.
    pub strategy: Strategy,
    /// `CPU_FTR_HVMODE`: running as the hypervisor (PowerNV, or a KVM host). Linux 6.1
    /// then allocates no lppaca and the RMA does not limit allocations; Linux 4.15
    /// still allocated the lppaca array and limited by `min(first block, 1 GiB)`
    /// ([`PlanConfig::rma_limit`]).
    pub hypervisor_mode: bool,
    /// `early_radix_enabled()`: radix MMU. Then no SLB shadow is kept (Linux 6.1
    /// allocates the boot CPU's and frees it again; 4.15 allocates no SLB shadow array),
    /// and the linear mapping is built with radix page tables. Linux 6.1 limits nothing
    /// by the RMA or a bolted segment under radix; Linux 4.15 still set
    /// `ppc64_rma_size = min(first block, 1 GiB)` ([`PlanConfig::rma_limit`]).
    pub radix: bool,
    /// `MMU_FTR_1T_SEGMENT`: with hash, the bolted region is the first 1 TiB segment
    /// instead of the first 256 MiB.
    pub segment_1t: bool,
    /// `nr_cpu_ids` when the device tree is first scanned (`NR_CPUS`, or `nr_cpus=`):
    /// the length of the first paca pointer array (Linux61) or of the arrays (Linux415).
    /// Possible CPUs at or above it are ignored ([`crate::Finding::CpusCapped`]).
    pub nr_cpu_ids: u32,
    /// `cpu_possible_mask`, indexed by logical CPU. CPUs at or above `nr_cpu_ids` are
    /// ignored, as `smp_setup_cpu_maps` caps them.
    pub possible: Vec<bool>,
    /// `boot_cpuid`: the logical CPU that runs `early_setup`.
    pub boot_cpu: u32,
    /// `sizeof(struct paca_struct)` of the kernel build (configuration dependent; the
    /// default is [`Strategy::default_paca_size`]).
    pub paca_size: PhysSize,
    /// Replaces `ppc64_rma_size` (else computed per strategy by
    /// [`PlanConfig::rma_limit`]).
    pub rma_limit_override: Option<PhysAddr>,
    /// `PAGE_SIZE` (64 KiB on ppc64 distribution kernels).
    pub page_size: u64,
    /// `THREAD_SHIFT`: stacks are `1 << thread_shift` bytes, aligned to their size.
    pub thread_shift: u32,
    /// The kernel image: [`crate::init_memblock`] reserves `[0, kernel.end)`, and the
    /// radix linear mapping splits at its text boundaries.
    pub kernel: KernelImage,
    /// What firmware and Linux reserve or allocate before the per-CPU structures
    /// (device tree, RTAS, initrd, crash kernel, unflattened tree); empty by default.
    pub early: EarlyBoot,
    /// `radix_mem_block_size`: the largest page of the radix linear mapping (Linux61
    /// only; Linux 4.15 had no such cap).
    pub radix_mem_block_size: u64,
    /// `debug_pagealloc_enabled_or_kfence()`: a hash kernel then tracks every page of
    /// the linear mapping in `linear_map_hash_slots` (one byte per page up to the end
    /// of memory, below the RMA), allocated in `htab_initialize`.
    pub kfence: bool,
}

/// Why a [`PlanConfig`] cannot be planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum ConfigError {
    /// `nr_cpu_ids` is zero.
    NoCpuIds,
    /// The boot CPU is not below `nr_cpu_ids`.
    BootCpuOutOfRange {
        /// The boot CPU.
        boot_cpu: u32,
        /// `nr_cpu_ids`.
        nr_cpu_ids: u32,
    },
    /// The boot CPU is not in the possible mask (Linux always marks it possible).
    BootCpuNotPossible {
        /// The boot CPU.
        boot_cpu: u32,
    },
    /// `paca_size` is zero or not a multiple of the 128-byte cache line the struct is
    /// aligned to.
    BadPacaSize {
        /// The rejected size.
        paca_size: PhysSize,
    },
    /// `page_size` is not a power of two of at least 4 KiB.
    BadPageSize {
        /// The rejected size.
        page_size: u64,
    },
    /// `thread_shift` is outside Linux's 13..=15 range.
    BadThreadShift {
        /// The rejected shift.
        thread_shift: u32,
    },
    /// `radix_mem_block_size` is not a power of two of at least `page_size`.
    BadRadixBlockSize {
        /// The rejected size.
        size: u64,
    },
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::NoCpuIds => f.write_str("nr_cpu_ids is 0"),
            Self::BootCpuOutOfRange {
                boot_cpu,
                nr_cpu_ids,
            } => write!(
                f,
                "boot CPU {boot_cpu} is not below nr_cpu_ids ({nr_cpu_ids})"
            ),
            Self::BootCpuNotPossible { boot_cpu } => {
                write!(f, "boot CPU {boot_cpu} is not in the possible mask")
            }
            Self::BadPacaSize { paca_size } => write!(
                f,
                "paca size {paca_size} is not a non-zero multiple of the 128-byte cache line"
            ),
            Self::BadPageSize { page_size } => {
                write!(f, "page size {page_size:#x} is not a power of two >= 4 KiB")
            }
            Self::BadThreadShift { thread_shift } => {
                write!(f, "THREAD_SHIFT {thread_shift} is outside 13..=15")
            }
            Self::BadRadixBlockSize { size } => write!(
                f,
                "radix memory block size {size:#x} is not a power of two >= PAGE_SIZE"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

impl PlanConfig {
    /// The configuration of a distribution kernel (`NR_CPUS` = 2048, 64 KiB pages,
    /// 16 KiB stacks, 1 TiB segments) booting `topo`: hash MMU, every present CPU of the
    /// topology possible, CPU 0 booting, hypervisor mode as the topology says.
    ///
    /// `nr_cpu_ids` is `NR_CPUS` whatever the topology: `smp_setup_cpu_maps` stops at
    /// `nr_cpu_ids`, so on a machine with more than 2048 present CPUs the rest are
    /// ignored and the plan reports [`crate::Finding::CpusCapped`]. Set
    /// [`PlanConfig::nr_cpu_ids`] afterwards to model a kernel built with a larger
    /// `NR_CPUS` (the CLI's `--nr-cpus`).
    pub fn for_topology(topo: &Topology, strategy: Strategy) -> Self {
        let present = topo.cpus.len();
        let nr_cpu_ids = consts::DEFAULT_NR_CPUS;
        Self {
            strategy,
            hypervisor_mode: topo.hypervisor_mode,
            radix: false,
            segment_1t: true,
            nr_cpu_ids,
            possible: alloc::vec![true; present.max(1)],
            boot_cpu: 0,
            paca_size: strategy.default_paca_size(),
            kfence: strategy.default_kfence(),
            rma_limit_override: None,
            page_size: consts::PAGE_SIZE_64K,
            thread_shift: strategy.default_thread_shift(),
            kernel: KernelImage::debian(strategy, consts::PAGE_SIZE_64K),
            early: EarlyBoot::default(),
            radix_mem_block_size: consts::DEFAULT_RADIX_MEM_BLOCK_SIZE,
        }
    }

    /// Checks the values Linux could never have (they would make its arithmetic
    /// meaningless), so that planning can rely on them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.nr_cpu_ids == 0 {
            return Err(ConfigError::NoCpuIds);
        }
        if self.boot_cpu >= self.nr_cpu_ids {
            return Err(ConfigError::BootCpuOutOfRange {
                boot_cpu: self.boot_cpu,
                nr_cpu_ids: self.nr_cpu_ids,
            });
        }
        if !self.is_possible(self.boot_cpu) {
            return Err(ConfigError::BootCpuNotPossible {
                boot_cpu: self.boot_cpu,
            });
        }
        let ps = self.paca_size.as_u64();
        if ps == 0 || ps % consts::L1_CACHE_BYTES != 0 || ps > u64::from(u32::MAX) {
            return Err(ConfigError::BadPacaSize {
                paca_size: self.paca_size,
            });
        }
        if !self.page_size.is_power_of_two() || self.page_size < 0x1000 {
            return Err(ConfigError::BadPageSize {
                page_size: self.page_size,
            });
        }
        if !(13..=15).contains(&self.thread_shift) {
            return Err(ConfigError::BadThreadShift {
                thread_shift: self.thread_shift,
            });
        }
        if !self.radix_mem_block_size.is_power_of_two()
            || self.radix_mem_block_size < self.page_size
        {
            return Err(ConfigError::BadRadixBlockSize {
                size: self.radix_mem_block_size,
            });
        }
        Ok(())
    }

    /// Whether `cpu` is possible after `smp_setup_cpu_maps` capped the mask to
    /// `nr_cpu_ids`.
    pub fn is_possible(&self, cpu: u32) -> bool {
        cpu < self.nr_cpu_ids && self.possible.get(cpu as usize).copied().unwrap_or(false)
    }

    /// Possible CPUs in ascending order (`for_each_possible_cpu`).
    pub fn possible_cpus(&self) -> impl Iterator<Item = u32> + '_ {
        self.possible
            .iter()
            .enumerate()
            .take(self.nr_cpu_ids as usize)
            .filter(|(_, p)| **p)
            .map(|(i, _)| i as u32)
    }

    /// `nr_cpu_ids` after `setup_nr_cpu_ids()`: one past the highest possible CPU.
    pub fn final_nr_cpu_ids(&self) -> u32 {
        self.possible_cpus().last().map_or(1, |c| c + 1)
    }

    /// `THREAD_SIZE` (= `THREAD_ALIGN` on Book3S-64, which has no `VMAP_STACK`).
    pub fn thread_size(&self) -> u64 {
        1u64 << self.thread_shift
    }

    /// `ppc64_bolted_size()` of Linux 6.1: unlimited with radix, else the first segment.
    pub fn bolted_size(&self) -> u64 {
        if self.radix {
            u64::MAX
        } else {
            self.segment_size()
        }
    }

    /// The first hash segment: 1 TiB or 256 MiB (`safe_stack_limit()` in Linux 4.15,
    /// which ignored radix).
    pub fn segment_size(&self) -> u64 {
        if self.segment_1t {
            1 << consts::SID_SHIFT_1T
        } else {
            1 << consts::SID_SHIFT
        }
    }

    /// `ppc64_rma_size` as a limit, by strategy:
    ///
    /// * the override, if given;
    /// * Linux 6.1: unlimited with radix (`radix__setup_initial_memory_limit` is gone,
    ///   `ppc64_rma_size` stays `ULONG_MAX`) or in hypervisor mode
    ///   (`hash__setup_initial_memory_limit`), else the topology's RMA;
    /// * Linux 4.15: `min(first_memblock_size, 1 GiB)` in every case: hash
    ///   (`hash__setup_initial_memory_limit` had no `CPU_FTR_HVMODE` test before
    ///   "powerpc/pseries: lift RTAS limit for hash", 4.16) and radix
    ///   (`radix__setup_initial_memory_limit`) alike. `first_memblock_size` is
    ///   [`PlanConfig::first_memblock_size`].
    pub fn rma_limit(&self, topo: &Topology) -> Limit {
        if let Some(a) = self.rma_limit_override {
            return Limit::from_raw(a.as_u64());
        }
        Limit::from_raw(match self.strategy.base() {
            Strategy::Linux415 => Self::first_memblock_size(topo).as_u64().min(consts::SZ_1G),
            _ if self.radix || self.hypervisor_mode => u64::MAX,
            _ => topo.rma_limit().as_u64(),
        })
    }

    /// `first_memblock_size`: the size of the lowest memory block, which Linux records
    /// while scanning the device tree. Taken from [`Topology::rma_size`] when that is
    /// finite (the topology computes it from the first block, clamped at 1 GiB before
    /// POWER9 and at 1 TiB after, neither of which changes a `min` with 1 GiB), else
    /// (hypervisor mode, where the topology's RMA is unlimited) from the memory range
    /// that starts at 0.
    pub fn first_memblock_size(topo: &Topology) -> PhysSize {
        if topo.real_mode_limit() != Limit::Anywhere {
            return topo.rma_size;
        }
        topo.memory
            .iter()
            .find(|r| r.base == PhysAddr::ZERO)
            .map_or(topo.rma_size, |r| r.size)
    }

    /// memblock's current limit when the per-CPU allocations begin
    /// (`setup_initial_memory_limit`): the override if given; Linux 6.1: the RMA for a
    /// hash guest, `MEMBLOCK_ALLOC_ANYWHERE` with radix or in hypervisor mode; Linux
    /// 4.15: `ppc64_rma_size` with hash, and with radix the end of the first memory
    /// block (`memblock_set_current_limit(first_memblock_base + first_memblock_size)`).
    pub fn initial_current_limit(&self, topo: &Topology) -> Limit {
        match self.strategy {
            Strategy::Linux415 if self.radix && self.rma_limit_override.is_none() => {
                Limit::from_raw(Self::first_memblock_size(topo).as_u64())
            }
            _ => self.rma_limit(topo),
        }
    }

    /// The limit of the paca, lppaca and SLB shadow allocations: Linux 6.1
    /// `min(ppc64_bolted_size(), ppc64_rma_size)` (`allocate_paca`); Linux 4.15
    /// `min(0x10000000, ppc64_rma_size)` (`allocate_pacas`: 256 MiB on Book3S-64; the
    /// bolted-size form came with 4.17's "Relax PACA address limitations").
    pub fn paca_limit(&self, topo: &Topology) -> Limit {
        let rma = self.rma_limit(topo).raw();
        Limit::from_raw(match self.strategy.base() {
            Strategy::Linux415 => consts::SZ_256M.min(rma),
            _ => self.bolted_size().min(rma),
        })
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::ToString;

    use super::Strategy;

    /// A new variant must be added to `EVERY`, or the CLI (which lists `EVERY`) would
    /// not offer it: this match stops compiling until the variant is handled here.
    #[test]
    fn every_lists_each_variant_once() {
        for s in Strategy::EVERY {
            let listed = match s {
                Strategy::Linux61
                | Strategy::Linux612
                | Strategy::Linux415
                | Strategy::PackedVpa
                | Strategy::PerCpuBlock
                | Strategy::PerNodeBlock
                | Strategy::RmaSplit => Strategy::EVERY.iter().filter(|&&x| x == s).count(),
            };
            assert_eq!(listed, 1, "{s}");
        }
        assert_eq!(Strategy::EVERY.len(), 7);
    }

    #[test]
    fn names_parse_back() {
        for s in Strategy::EVERY {
            assert_eq!(s.name().parse::<Strategy>(), Ok(s));
            assert_eq!(format!(" {s} ").parse::<Strategy>(), Ok(s));
            assert!(!s.summary().is_empty());
        }
        assert_eq!("linux".parse::<Strategy>(), Ok(Strategy::Linux61));
        let e = "linux-5.4".parse::<Strategy>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown strategy `linux-5.4` (expected linux, linux-6.12, linux-6.1, \
             linux-4.15, packed-vpa, per-cpu-block, per-node-block, rma-split)"
        );
    }
}
