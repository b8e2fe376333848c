//! Linux-compatible memblock early allocator (Linux 6.1 `mm/memblock.c` semantics).
//!
//! memblock is the allocator Linux uses before the page allocator exists. It keeps two
//! sorted arrays of regions: `memory` (what RAM exists, with its NUMA node and
//! attributes) and `reserved` (what is taken: the kernel image, firmware areas and every
//! early allocation). Free memory is never stored; it is computed as memory minus
//! reserved whenever an allocation walks it, top-down by default. [`Memblock`]
//! reproduces that model operation for operation: the same two-pass insertion and
//! merging of compatible neighbours, the same splitting when a range is removed or
//! re-tagged, the same search order and node fallback when allocating, and the same
//! growth of a full array (Linux's `memblock_double_array`, which allocates the bigger
//! array *from memblock itself* and reserves it, so it shows up in the reserved list).
//! A caller who replays the kernel's boot-time calls therefore gets the addresses the
//! kernel would get.
//!
//! The implementation differs from Linux only in cost (`n` below is the length of the
//! array concerned):
//!
//! * Finding where an operation starts is a binary search (`O(log n)` comparisons)
//!   where Linux scans from the first region; the walk over the regions the range
//!   overlaps is then linear in those regions, as in Linux.
//! * The contents, order and indices of both arrays are Linux's, but with the `alloc`
//!   feature the reserved array is stored in leaves of at most 256 regions (the memory
//!   array stays in one piece): an insert or removal in the middle moves the rest of
//!   one leaf and updates one start index per later leaf, where Linux moves the whole
//!   tail of the array (on a boot that frees blocks in the middle of 150 000 reserved
//!   regions, Linux spends most of its time there). That is why
//!   [`Memblock::reserved`] returns a [`Regions`] view, not a slice; without `alloc`
//!   both arrays are plain inline arrays and the view wraps a slice. Inside a leaf,
//!   each region inserted moves the leaf's tail once: `add`/`reserve` of a range that
//!   leaves `k` uncovered pieces inserts `k` times, then merges (a single piece is
//!   inserted and merged with at most one move in total); `set_node` and the flag
//!   operations split up to two regions (up to two inserts), then merge. Merging looks
//!   only at the neighbourhood of what changed, where Linux rescans the whole array.
//!   `remove`/`free` replace the overlapped regions in one step, where Linux moves the
//!   tail once per region removed.
//! * When an array grows (Linux's `memblock_double_array`, which copies the array), the
//!   first growth of an operation also copies both arrays so that a failing operation
//!   can be rolled back, and the storage may be reallocated.
//! * An allocation visits the eligible memory regions in Linux's order (only its own
//!   node's, for a node-local request, through per-node chains). Within each one, the
//!   reserved array's leaves, each keeping the base of its first region and the
//!   longest gap it owns, find the gap Linux's walk would stop at without visiting the
//!   gaps that are too small: O(log n) plus the leaf headers it passes and the regions
//!   of the leaves that hold a long-enough gap, instead of Linux's walk, which is
//!   linear in the free ranges it passes. The walk itself is kept as the reference
//!   ([`Memblock::set_linear_search`]) and `tests/index_differential.rs` checks the two
//!   agree on every result; a zero-sized request and the no-`alloc` build use the walk.
//!   A node-preferring request that fails searches again for any node, and
//!   [`Memblock::alloc_try_nid`] with a nonzero lower bound searches again from 0, as
//!   Linux does.
//!
//! The tests check the result against a line-by-line transcription of the C on random
//! operation sequences.
//!
//! ```
//! use memblock::{AllocLimit, Memblock, RegionFlags};
//! use phys::{NodeId, PhysAddr, PhysSize};
//!
//! let gib = |n: u64| n << 30;
//! let mut mb = Memblock::new();
//! let node1 = NodeId::new(1);
//! mb.add_node(PhysAddr::new(0), PhysSize::new(gib(2)), NodeId::new(0), RegionFlags::NONE)
//!     .unwrap();
//! mb.add_node(PhysAddr::new(gib(2)), PhysSize::new(gib(2)), node1, RegionFlags::NONE)
//!     .unwrap();
//! mb.reserve(PhysAddr::new(0), PhysSize::new(0x100_0000)).unwrap(); // kernel image
//!
//! // Top-down, node-local: the last 64 KiB of node 1.
//! let a = mb
//!     .alloc_try_nid(PhysSize::new(0x1_0000), 0x1_0000, PhysAddr::ZERO, AllocLimit::Accessible, node1)
//!     .unwrap();
//! assert_eq!(a, PhysAddr::new(gib(4) - 0x1_0000));
//! assert!(mb.is_region_reserved(a, PhysSize::new(1)));
//! assert_eq!(mb.reserved().len(), 2);
//! ```
//!
//! # Node ids
//!
//! Linux stores a node id in every region, an `int`. [`Region::nid`] is a [`RegionNid`]:
//! a real node, `MAX_NUMNODES` (256 on ppc64, [`NodeId::MAX_NUMNODES`]; what
//! `memblock_add` and `memblock_reserve` store, and what
//! [`Memblock::add_node`] stores for `None`), or `NUMA_NO_NODE` (-1; what
//! `memblock_add_node(.., NUMA_NO_NODE, ..)` stores, [`RegionNid::NumaNoNode`]).
//! Linux treats the last two alike when it searches (a request for a node matches only
//! that node; a request for any node, `NUMA_NO_NODE` or the deprecated `MAX_NUMNODES`,
//! matches every region), but not when it merges: neighbours with different stored
//! values stay separate regions, so the crate keeps them distinct too.
//! [`Region::linux_nid`] gives the bits Linux stores.
//!
//! # Features
//!
//! `alloc` (on by default) lets the region arrays grow past their initial capacity as
//! Linux's do, and provides the `replay` language and the `trace` benchmark modules.
//! Without it the crate still works on fixed inline arrays of `N` entries each
//! ([`Memblock<N>`](Memblock), Linux's 128 by default); an operation that would need
//! more fails with [`Error::NoMemory`] (an allocation with [`AllocError::ArrayFull`]),
//! as Linux does before `memblock_allow_resize()`.
//!
//! # Where this crate knowingly differs from Linux
//!
//! This is the one list (other docs of the crate and of `tools/memblock-oracle` point
//! here). Linux 6.1's own `mm/memblock.c`, compiled in userspace by
//! `tools/memblock-oracle`, is compared with the crate by `tests/linux_oracle.rs`, which
//! classifies every difference it meets as one of the first three points or fails; the
//! others are outside what a replay can observe.
//!
//! * A failed operation changes nothing. Linux can leave a grown array behind (with its
//!   reservation) when an operation grows an array and then fails, e.g. needs a second
//!   doubling that finds no memory; here the growth is undone with the rest
//!   ([`Memblock::undone_growths`] counts these).
//! * Where Linux stops at a `BUG_ON`, the operation fails instead:
//!   - `BUG_ON(type->cnt >= type->max)` in `memblock_insert_region`: a range being
//!     reserved covers the reserved array's own old block, which growing the array
//!     frees, so more pieces need inserting than the growth made room for
//!     ([`Error::BugOn`]);
//!   - `BUG_ON(memblock_reserve(addr, new_alloc_size))` in `memblock_double_array`
//!     (memblock.c:493): a grown array cannot be reserved because the reserved array
//!     itself would have to grow and finds no memory ([`Error::NoMemory`]).
//! * Array aliasing: growing the memory array copies it to a free block and frees the
//!   old block *before* reserving the new one; if that free makes the reserved array
//!   grow, Linux puts the reserved array on the same block (the same happens when a
//!   caller has freed a region array's memory). Both arrays then share memory and
//!   Linux stops at the `BUG_ON` of `memblock_merge_regions` or carries on with
//!   corrupted regions. Here the operation fails with [`Error::ArrayAlias`] (an
//!   allocation with [`AllocError::Fatal`], without trying another node).
//! * Mirrored memory is not modelled (`choose_memblock_flags()` is always
//!   `MEMBLOCK_NONE`, as on every system without `kernelcore=mirror`).
//! * Arrays are never in slab memory: every growth is memblock-allocated, as before
//!   `slab_is_available()`.
//! * Without the `alloc` feature the arrays cannot grow: an operation that needs more
//!   than their initial capacity fails with [`Error::NoMemory`] even when
//!   [`Config::allow_resize`] is set, where Linux would double the array.
//! * Linux's warnings are not reproduced: the `WARN_ON`s of `memblock_add_range` when
//!   memory already present is added again with another node or other flags, the
//!   `WARN_ONCE` when an allocation or iterator is given `MAX_NUMNODES` (which means
//!   any node there as here), and the `dump_stack()` for an allocation with alignment 0.
//!   Linux carries on after each, as the crate does; only the console message is
//!   missing.
//! * Allocations return physical addresses, as `memblock_phys_alloc*` and the `_raw`
//!   allocators do: [`Memblock::alloc_try_nid`] stands for
//!   `memblock_alloc_try_nid_raw`, and nothing is zeroed or mapped (the oracle
//!   calls the `_raw` form for the same reason).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
// The unit tests inject heap failures per thread (store::fault).
#[cfg(test)]
extern crate std;

use core::fmt;

pub use phys::{NodeId, PhysAddr, PhysSize};

#[cfg(feature = "alloc")]
mod index;
mod iter;
mod memblock;
mod node;
#[cfg(feature = "alloc")]
mod nodes;
#[cfg(feature = "alloc")]
mod search;
mod store;
#[cfg(all(test, feature = "alloc"))]
mod store_heap_tests;
// Unit tests that kill mutants of the leaves (`store.rs`, `index.rs`, `view.rs`) found by
// the leaves' mutation run (docs/MUTATION.md, docs/mutation/); one file per part of that run.
#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests_leaves_s1;
#[cfg(test)]
mod tests_leaves_s2;
#[cfg(test)]
mod tests_leaves_s3;
#[cfg(test)]
mod tests_leaves_s4;
#[cfg(all(test, feature = "alloc"))]
mod tests_walk_memo;
mod view;

#[cfg(feature = "alloc")]
pub mod replay;
#[cfg(feature = "alloc")]
pub mod trace;

pub use iter::FreeRanges;
pub use memblock::Memblock;
pub use node::RegionNid;
pub use view::{Iter as RegionsIter, Regions};

/// Size in bytes of Linux's `struct memblock_region` on a 64-bit kernel with
/// `CONFIG_NUMA` (base, size, flags, nid: 8 + 8 + 4 + 4). It decides how big the array
/// that `memblock_double_array` allocates is.
pub const REGION_RECORD_SIZE: u64 = 24;

/// Linux's `INIT_MEMBLOCK_REGIONS`: the initial capacity of each region array, and the
/// default `N` of [`Memblock<N>`](Memblock).
pub const INIT_MEMBLOCK_REGIONS: usize = 128;

bitflags::bitflags! {
    /// Attributes of a memory region (Linux's `enum memblock_flags`, same bit values).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct RegionFlags: u32 {
        /// `MEMBLOCK_HOTPLUG`: firmware says the range may be hot-removed; skipped by
        /// allocations while movable-node is set.
        const HOTPLUG = 0x1;
        /// `MEMBLOCK_MIRROR`: mirrored memory.
        const MIRROR = 0x2;
        /// `MEMBLOCK_NOMAP`: not in the kernel's direct map; never allocated from.
        const NOMAP = 0x4;
        /// `MEMBLOCK_DRIVER_MANAGED`: added by a driver; never allocated from.
        const DRIVER_MANAGED = 0x8;
    }
}

impl RegionFlags {
    /// `MEMBLOCK_NONE`.
    pub const NONE: Self = Self::empty();
}

/// One region of the `memory` or `reserved` array (Linux's `struct memblock_region`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    /// First byte.
    pub base: PhysAddr,
    /// Length; never zero in a [`Memblock`] array.
    pub size: PhysSize,
    /// Attributes.
    pub flags: RegionFlags,
    /// The node id Linux stores; see [Node ids](crate#node-ids).
    pub nid: RegionNid,
}

impl Region {
    #[cfg(not(feature = "alloc"))]
    pub(crate) const EMPTY: Self = Self {
        base: PhysAddr::ZERO,
        size: PhysSize::ZERO,
        flags: RegionFlags::NONE,
        nid: RegionNid::MaxNumNodes,
    };

    /// One past the last byte. Regions in a [`Memblock`] never pass the top of the
    /// address space (Linux's `memblock_cap_size` trims them), so this does not clamp
    /// for them.
    pub const fn end(&self) -> PhysAddr {
        self.base.saturating_add(self.size)
    }

    /// The node id as Linux stores it in `memblock_region.nid`, read as unsigned (what
    /// the replay's `dump` prints): the node number, `MAX_NUMNODES` (256), or
    /// `0xffff_ffff` for `NUMA_NO_NODE`.
    pub const fn linux_nid(&self) -> u32 {
        self.nid.linux()
    }

    /// The node, if the region is on one (`None` for both kinds of "no node").
    pub const fn node(&self) -> Option<NodeId> {
        self.nid.node()
    }
}

/// The upper end of an allocation request.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllocLimit {
    /// `MEMBLOCK_ALLOC_ACCESSIBLE`: the current limit ([`Memblock::set_current_limit`]).
    Accessible,
    /// `MEMBLOCK_ALLOC_ANYWHERE`: no limit (`~0`). [`Memblock::alloc_try_nid`] still
    /// clamps it to the current limit, as `memblock_alloc_internal` does.
    Anywhere,
    /// An explicit end address. As in Linux, 0 and 1 (the raw values of
    /// `MEMBLOCK_ALLOC_ACCESSIBLE` and `MEMBLOCK_ALLOC_NOLEAKTRACE`) mean the current
    /// limit, and `~0` means anywhere.
    Addr(PhysAddr),
}

impl AllocLimit {
    /// From the `phys_addr_t` Linux passes: 0 (`MEMBLOCK_ALLOC_ACCESSIBLE`) is
    /// [`AllocLimit::Accessible`], `~0` [`AllocLimit::Anywhere`], anything else an
    /// address.
    pub const fn from_raw(raw: u64) -> Self {
        match raw {
            0 => Self::Accessible,
            u64::MAX => Self::Anywhere,
            a => Self::Addr(PhysAddr::new(a)),
        }
    }

    /// The `phys_addr_t` Linux passes for this limit.
    pub const fn raw(self) -> u64 {
        match self {
            Self::Accessible => 0,
            Self::Anywhere => u64::MAX,
            Self::Addr(a) => a.as_u64(),
        }
    }
}

/// The replay language's spelling: `accessible`, `anywhere` or the address in hex.
impl fmt::Display for AllocLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accessible => f.write_str("accessible"),
            Self::Anywhere => f.write_str("anywhere"),
            Self::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// Tunables; [`Config::default`] is Linux ppc64 (64 KiB pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// `PAGE_SIZE`: the lowest address an allocation may return, and the alignment and
    /// size granule of grown region arrays. Rounded up to a power of two (2^63 for
    /// anything above it).
    pub page_size: u64,
    /// Initial capacity of each region array (`INIT_MEMBLOCK_REGIONS`); at least 1.
    /// Without the `alloc` feature at most the `N` of [`Memblock<N>`](Memblock) (larger
    /// values are clamped: the inline storage has no more room).
    pub initial_regions: usize,
    /// `SMP_CACHE_BYTES`, the alignment used when an allocation asks for alignment 0
    /// (128 on ppc64).
    pub smp_cache_bytes: u64,
    /// Whether full arrays may grow (`memblock_allow_resize()` has run, as it has on
    /// ppc64 once `early_init_devtree` is done). Growth also needs the `alloc` feature.
    pub allow_resize: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            page_size: 0x1_0000,
            initial_regions: INIT_MEMBLOCK_REGIONS,
            smp_cache_bytes: 128,
            allow_resize: true,
        }
    }
}

/// Which region array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArrayKind {
    /// `memblock.memory`.
    Memory,
    /// `memblock.reserved`.
    Reserved,
}

impl fmt::Display for ArrayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory",
            Self::Reserved => "reserved",
        })
    }
}

/// Why a region operation failed. The state is unchanged after a failure.
///
/// Allocations fail with [`AllocError`]; `From<Error>` turns a region error met while
/// recording an allocation into the allocation error it causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Linux's `-ENOMEM`: the array is full and could not grow (growth not allowed, no
    /// free memory for a bigger array, or no heap).
    NoMemory {
        /// The array that was full.
        array: ArrayKind,
    },
    /// Linux would stop at `BUG_ON(type->cnt >= type->max)`: the range being reserved
    /// overlapped the reserved array's own old location, which growing the array freed,
    /// so more pieces need inserting than the growth made room for.
    BugOn {
        /// The array that would overflow.
        array: ArrayKind,
    },
    /// Linux 6.1 would copy the growing `array` onto memory that still holds the other
    /// region array: growing the memory array copies it to a free block and frees the
    /// old one *before* reserving the block, and when that free makes the reserved
    /// array grow, the reserved array is placed on the same block. The two arrays then
    /// share memory, and Linux either stops at the `BUG_ON` of `memblock_merge_regions`
    /// or carries on with corrupted regions. The same happens after a caller freed a
    /// region array's memory.
    ArrayAlias {
        /// The array that was growing.
        array: ArrayKind,
        /// Where Linux would have put it: inside the other array.
        at: PhysAddr,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoMemory { array } => {
                write!(f, "the {array} region array is full and cannot grow")
            }
            Self::BugOn { array } => write!(
                f,
                "Linux would hit BUG_ON: the {array} array overflows after growing"
            ),
            Self::ArrayAlias { array, at } => write!(
                f,
                "Linux would corrupt memblock: the grown {array} array would go to {at}, \
                 on top of the other region array (array aliasing)"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// Why an allocation failed. Nothing was reserved.
///
/// [`NoFit`](Self::NoFit) and [`ArrayFull`](Self::ArrayFull) are both Linux's
/// "returns 0", after the same fallbacks (another node, then a lower bound of 0); they
/// differ in why the last way tried failed, which a caller sizing its arrays wants to
/// know. [`Fatal`](Self::Fatal) is where Linux would not return at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocError {
    /// Linux returns 0: no free range fits the request on the node, nor on any node
    /// when fallback was allowed.
    NoFit,
    /// Linux returns 0: a free range fitted, but the array recording allocations (the
    /// reserved array) was full and could not grow (growth not allowed, no free memory
    /// for a bigger array, or no heap), and no other way Linux tries succeeded. Reported
    /// whenever some attempt found a fit, even if a later fallback found none.
    ArrayFull {
        /// The array that was full: [`ArrayKind::Reserved`] when an allocation could
        /// not be recorded; either array when converted from [`Error::NoMemory`].
        array: ArrayKind,
    },
    /// Recording the block found would take Linux down ([`Error::BugOn`] or
    /// [`Error::ArrayAlias`] while reserving it); Linux would not try another node.
    Fatal(Error),
}

impl AllocError {
    /// The region error behind the failure: [`Error::NoMemory`] for
    /// [`AllocError::ArrayFull`], the error itself for [`AllocError::Fatal`], `None`
    /// for [`AllocError::NoFit`].
    pub const fn region_error(self) -> Option<Error> {
        match self {
            Self::NoFit => None,
            Self::ArrayFull { array } => Some(Error::NoMemory { array }),
            Self::Fatal(e) => Some(e),
        }
    }
}

/// The allocation error a failure to record an allocation causes: a full array that
/// cannot grow is [`AllocError::ArrayFull`] (Linux tries the next way), anything else
/// is [`AllocError::Fatal`] (Linux would go down).
impl From<Error> for AllocError {
    fn from(e: Error) -> Self {
        match e {
            Error::NoMemory { array } => Self::ArrayFull { array },
            e @ (Error::BugOn { .. } | Error::ArrayAlias { .. }) => Self::Fatal(e),
        }
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFit => f.write_str("no free memory range fits the allocation"),
            Self::ArrayFull { array } => write!(
                f,
                "a free range fits, but the {array} region array is full and cannot grow \
                 to record the allocation"
            ),
            Self::Fatal(e) => write!(f, "reserving the allocation fails: {e}"),
        }
    }
}

impl core::error::Error for AllocError {}
