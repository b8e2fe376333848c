//! The allocator state and its operations, following `mm/memblock.c` function by
//! function. Internal arithmetic is on raw `u64` (Linux's `phys_addr_t`) so that the
//! code can be read side by side with the C; the public methods take the typed values.
//!
//! # Searching for free memory
//!
//! Linux's `memblock_find_in_range_node` walks the free ranges (memory minus reserved)
//! one by one until one fits. That walk is kept here as the reference
//! (`find_linear`, [`Memblock::find_in_range_node_linear`], or every search after
//! [`Memblock::set_linear_search`]). With the `alloc` feature, searches for a nonzero
//! size use instead the gap summaries kept in the reserved array's leaves
//! (`index.rs`, `store.rs`) and per-node chains through the memory array (`nodes.rs`):
//! the outer loop still visits the eligible memory regions in Linux's order and
//! applies Linux's filters, and within each region the leaves find the gap Linux's
//! walk would stop at. The result
//! is the same address; `tests/index_differential.rs` checks that on random
//! operation sequences. A zero-sized request (which Linux can satisfy from an empty
//! clamped range) and the no-`alloc` build (fixed `N`-entry arrays, no heap for an
//! index) use the walk.

use core::fmt;

#[cfg(feature = "alloc")]
use crate::index::WalkMemo;
use crate::iter::FreeRanges;
#[cfg(feature = "alloc")]
use crate::search::Search;
use crate::store::Store;
use crate::view::Regions;
use crate::{
    AllocError, AllocLimit, ArrayKind, Config, Error, NodeId, PhysAddr, PhysSize, Region,
    RegionFlags, RegionNid,
};

/// One of Linux's `struct memblock_type`.
#[derive(Clone, Debug)]
struct RegionArray<const N: usize> {
    regions: Store<N>,
    /// `type->max`: the capacity Linux's array has. It decides when the array doubles.
    max: usize,
    /// `type->total_size`.
    total_size: u64,
    /// Where Linux's array lives when memblock allocated it; `None` for the static
    /// initial array (`memblock_*_init_regions`), which is never freed.
    location: Option<u64>,
}

impl<const N: usize> RegionArray<N> {
    const fn with_store(regions: Store<N>, max: usize) -> Self {
        Self {
            regions,
            max,
            total_size: 0,
            location: None,
        }
    }

    /// An array with per-node chains for allocation searches (the memory array).
    const fn new_node_linked(max: usize) -> Self {
        Self::with_store(Store::node_linked(), max)
    }

    /// An array whose gaps are indexed for allocation searches (the reserved array).
    const fn new_indexed(max: usize) -> Self {
        Self::with_store(Store::indexed(), max)
    }

    fn regions(&self) -> Regions<'_> {
        self.regions.view()
    }

    /// `type->cnt`: Linux keeps one zero-sized dummy entry in an empty array.
    fn cnt(&self) -> usize {
        self.regions().len().max(1)
    }

    /// Index of the first region that ends above `addr`: where Linux's loops stop
    /// `continue`-ing past regions with `rend <= base`.
    fn first_ending_after(&self, addr: u64) -> usize {
        self.regions.first_ending_after(addr)
    }

    /// The counting pass of `memblock_add_range`: how many pieces of `[base, end)` are
    /// not covered yet, and for the first one its insertion index and bounds.
    fn uncovered(&self, base: u64, end: u64) -> (usize, Option<(usize, u64, u64)>) {
        let mut b = base;
        let mut nr_new = 0usize;
        let mut first_piece = None;
        let mut idx = self.first_ending_after(base);
        while let Some(r) = self.get(idx) {
            let (rbase, rend) = (r.base.as_u64(), r.end().as_u64());
            if rbase >= end {
                break;
            }
            if rend > b {
                if rbase > b {
                    nr_new += 1;
                    first_piece = first_piece.or(Some((idx, b, rbase)));
                }
                b = rend.min(end);
            }
            idx += 1;
        }
        if b < end {
            nr_new += 1;
            first_piece = first_piece.or(Some((idx, b, end)));
        }
        (nr_new, first_piece)
    }

    /// Inserts `r` at `idx` and merges it with its neighbours: what
    /// `memblock_insert_region` followed by `memblock_merge_regions` does when only one
    /// region is new (the rest of the array is already merged), with at most one shift of
    /// the array instead of two.
    fn insert_merged(&mut self, kind: ArrayKind, idx: usize, r: Region) -> Result<(), Error> {
        let left = idx.checked_sub(1).and_then(|i| self.get(i));
        self.insert_merged_with(kind, idx, r, left, self.get(idx))
    }

    /// [`RegionArray::insert_merged`] given the regions at `idx - 1` and `idx`, when
    /// the caller already found them.
    fn insert_merged_with(
        &mut self,
        kind: ArrayKind,
        idx: usize,
        r: Region,
        left: Option<Region>,
        right: Option<Region>,
    ) -> Result<(), Error> {
        let compatible = |o: &Region| o.nid == r.nid && o.flags == r.flags;
        let left = left.filter(|l| l.end() == r.base && compatible(l));
        let right = right.filter(|n| n.base == r.end() && compatible(n));
        match (left, right) {
            (None, None) => return self.insert(kind, idx, r),
            (Some(l), None) => self.set(
                idx - 1,
                Region {
                    size: l.size.saturating_add(r.size),
                    ..l
                },
            ),
            (None, Some(n)) => self.set(
                idx,
                Region {
                    base: r.base,
                    size: r.size.saturating_add(n.size),
                    ..n
                },
            ),
            (Some(l), Some(n)) => {
                self.set(
                    idx - 1,
                    Region {
                        size: l.size.saturating_add(r.size).saturating_add(n.size),
                        ..l
                    },
                );
                self.regions.remove_range(idx, idx + 1);
            }
        }
        self.total_size = self.total_size.saturating_add(r.size.as_u64());
        Ok(())
    }

    fn insert(&mut self, kind: ArrayKind, idx: usize, r: Region) -> Result<(), Error> {
        if !self.regions.insert(idx, r) {
            return Err(Error::NoMemory { array: kind });
        }
        self.total_size = self.total_size.saturating_add(r.size.as_u64());
        Ok(())
    }

    /// The indexed search over this (memory) array's regions.
    #[cfg(feature = "alloc")]
    fn search(&self, movable_node: bool, bottom_up: bool, bounds: (u64, u64)) -> Search<'_> {
        Search {
            memory: self.regions.flat(),
            links: self.regions.nodes(),
            movable_node,
            bottom_up,
            bounds,
        }
    }

    fn get(&self, idx: usize) -> Option<Region> {
        self.regions().get(idx).copied()
    }

    fn set(&mut self, idx: usize, r: Region) {
        self.regions.set(idx, r);
    }

    /// `memblock_merge_regions`, restricted to the pairs `(i, i + 1)` for `lo <= i <=
    /// hi`. Every operation leaves the array fully merged, so only the neighbourhood of
    /// what it changed can merge, and merging that window gives what Linux's whole-array
    /// scan gives.
    fn merge(&mut self, lo: usize, mut hi: usize) {
        let mut i = lo;
        while i <= hi {
            let (Some(this), Some(next)) = (self.get(i), self.get(i + 1)) else {
                return;
            };
            if this.end() != next.base || this.nid != next.nid || this.flags != next.flags {
                i += 1;
                continue;
            }
            self.set(
                i,
                Region {
                    size: this.size.saturating_add(next.size),
                    ..this
                },
            );
            self.regions.remove_range(i + 1, i + 2);
            hi = hi.saturating_sub(1);
        }
    }
}

/// Everything an operation can change, kept so that a failing operation can be undone.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
struct Snapshot<const N: usize> {
    memory: RegionArray<N>,
    reserved: RegionArray<N>,
}

/// The memblock allocator: Linux's `struct memblock` plus its global switches.
///
/// See the crate documentation for the model. All methods follow the Linux function
/// named in their documentation; a method that fails leaves the state unchanged.
///
/// # Capacity
///
/// `N` is the caller's `INIT_MEMBLOCK_REGIONS`: how many regions each of the two arrays
/// holds before it must grow. It defaults to Linux's 128, so `Memblock` alone is
/// Linux's memblock.
///
/// * Without the `alloc` feature the arrays are stored inline, `N` regions each, and
///   never grow: the value is about `2 * N * size_of::<Region>()` bytes
///   ([`Memblock::INLINE_BYTES`]), so a kernel sizes it to its platform (and to its
///   boot stack, or puts it in a `static`). [`Config::initial_regions`] may lower the
///   capacity Linux's model sees below `N` but not raise it: larger values are
///   clamped to `N`, since there is nowhere to put more regions.
/// * With `alloc` the regions live on the heap and the arrays grow as Linux's do; `N`
///   is only the initial capacity [`Memblock::sized`] starts from, and
///   [`Config::initial_regions`] is used as given.
///
/// `N` must be at least 1 (Linux's arrays always have room for their dummy entry);
/// building a `Memblock::<0>` does not compile:
///
/// ```compile_fail
/// let mb = memblock::Memblock::<0>::sized();
/// # drop(mb);
/// ```
///
/// [`Memblock::new`] and [`Memblock::with_config`] build the default `N`; for another
/// capacity use [`Memblock::sized`] or [`Memblock::sized_with_config`], which are
/// `const` too:
///
/// ```
/// use memblock::{Memblock, RegionFlags};
/// use phys::{PhysAddr, PhysSize};
///
/// // A memblock for a small board, built at compile time: no heap, no constructor
/// // running at boot. A kernel would put it behind its own lock.
/// static BOOT: std::sync::Mutex<Memblock<16>> = std::sync::Mutex::new(Memblock::sized());
///
/// let mut mb = BOOT.lock().unwrap();
/// mb.add(PhysAddr::new(0), PhysSize::new(1 << 30)).unwrap();
/// mb.reserve(PhysAddr::new(0), PhysSize::new(1 << 24)).unwrap();
/// assert_eq!(mb.reserved().len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Memblock<const N: usize = { crate::INIT_MEMBLOCK_REGIONS }> {
    memory: RegionArray<N>,
    reserved: RegionArray<N>,
    bottom_up: bool,
    current_limit: u64,
    movable_node: bool,
    config: Config,
    /// Taken by the first array growth of a public operation (growth is the only step
    /// that can fail after something changed).
    #[cfg(feature = "alloc")]
    snapshot: Option<Snapshot<N>>,
    /// Failed operations whose array growth was undone (see [`Memblock::undone_growths`]).
    undone_growths: u64,
    /// Searches walk free ranges one by one (the reference) instead of using the index.
    linear_search: bool,
}

/// [`Memblock::new`]. Only for the default `N`: a generic impl would leave
/// `Memblock::default()` without a type to infer `N` from (use [`Memblock::sized`]).
impl Default for Memblock {
    fn default() -> Self {
        Self::new()
    }
}

/// `memblock_cap_size`: trims `size` so that `base + size` does not pass `PHYS_ADDR_MAX`.
fn cap_size(base: u64, size: u64) -> u64 {
    size.min(u64::MAX - base)
}

/// Linux's `round_up` (mask arithmetic, wrapping like C for a power-of-two `align`).
fn round_up(x: u64, align: u64) -> u64 {
    (x.wrapping_sub(1) | align.wrapping_sub(1)).wrapping_add(1)
}

/// Linux's `round_down`.
fn round_down(x: u64, align: u64) -> u64 {
    x & !align.wrapping_sub(1)
}

impl Memblock {
    /// An empty memblock with Linux's defaults ([`Config::default`]): 128 regions per
    /// array, 64 KiB pages, top-down, current limit `MEMBLOCK_ALLOC_ANYWHERE`,
    /// movable-node off.
    ///
    /// `const`, and allocation-free until the first region is added, so that a
    /// memblock can live in a `static` (behind the caller's lock), as Linux's does;
    /// without the `alloc` feature it never allocates. For another capacity see
    /// [`Memblock::sized`].
    pub const fn new() -> Self {
        Self::sized()
    }

    /// An empty memblock with the given tunables. Out-of-range values are corrected as
    /// [`Config`] documents (page size rounded up to a power of two, at least one region
    /// per array). `const`, like [`Memblock::new`]. For another capacity see
    /// [`Memblock::sized_with_config`].
    pub const fn with_config(config: Config) -> Self {
        Self::sized_with_config(config)
    }
}

impl<const N: usize> Memblock<N> {
    /// Rejects `N == 0` at compile time, where it is used.
    const NONZERO: () = assert!(N > 0, "a Memblock needs room for at least one region");

    /// Bytes the two inline region arrays take without the `alloc` feature (with it,
    /// the regions are on the heap and the value stays small whatever `N`).
    pub const INLINE_BYTES: usize = 2 * N * core::mem::size_of::<Region>();

    /// An empty memblock with `N` regions per array and Linux's other defaults (those
    /// of [`Memblock::new`]). `const` and heap-free until the first region is added, so
    /// it can initialise a `static`.
    pub const fn sized() -> Self {
        // Config::default is not const; the test `new_is_the_default_config` keeps the
        // two equal.
        Self::sized_with_config(Config {
            page_size: 0x1_0000,
            initial_regions: N,
            smp_cache_bytes: 128,
            allow_resize: true,
        })
    }

    /// An empty memblock with `N` regions of inline storage per array and the given
    /// tunables, corrected as [`Memblock::with_config`] does. Without the `alloc`
    /// feature [`Config::initial_regions`] is also clamped to `N`.
    pub const fn sized_with_config(config: Config) -> Self {
        #[allow(clippy::let_unit_value)] // Evaluating it is the check.
        let () = Self::NONZERO;
        let page_size = match config.page_size.checked_next_power_of_two() {
            Some(p) => p,
            None => 1 << 63,
        };
        let initial = if config.initial_regions == 0 {
            1
        } else {
            config.initial_regions
        };
        #[cfg(not(feature = "alloc"))]
        let initial = if initial > N { N } else { initial };
        let config = Config {
            page_size,
            initial_regions: initial,
            smp_cache_bytes: if config.smp_cache_bytes == 0 {
                1
            } else {
                config.smp_cache_bytes
            },
            allow_resize: config.allow_resize,
        };
        Self {
            memory: RegionArray::new_node_linked(initial),
            reserved: RegionArray::new_indexed(initial),
            bottom_up: false,
            current_limit: u64::MAX,
            movable_node: false,
            config,
            #[cfg(feature = "alloc")]
            snapshot: None,
            undone_growths: 0,
            linear_search: false,
        }
    }

    /// The tunables in force (after correction).
    pub fn config(&self) -> Config {
        self.config
    }

    fn arr(&self, kind: ArrayKind) -> &RegionArray<N> {
        match kind {
            ArrayKind::Memory => &self.memory,
            ArrayKind::Reserved => &self.reserved,
        }
    }

    fn arr_mut(&mut self, kind: ArrayKind) -> &mut RegionArray<N> {
        match kind {
            ArrayKind::Memory => &mut self.memory,
            ArrayKind::Reserved => &mut self.reserved,
        }
    }

    /// Runs one public operation so that a failure leaves no trace.
    fn guarded<T, E>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, E>) -> Result<T, E> {
        #[cfg(feature = "alloc")]
        {
            self.snapshot = None;
        }
        let r = f(self);
        #[cfg(feature = "alloc")]
        if let Some(s) = self.snapshot.take() {
            if r.is_err() {
                self.memory = s.memory;
                self.reserved = s.reserved;
                self.undone_growths = self.undone_growths.saturating_add(1);
            }
        }
        self.memory.regions.refresh_nodes();
        #[cfg(feature = "alloc")]
        self.reserved.regions.trim_spares();
        r
    }

    /// How many failing operations so far had grown a region array before failing,
    /// growth that was undone with the rest of the operation. Linux keeps such a grown
    /// array (and its reservation), or stops at the `BUG_ON` of `memblock_double_array`
    /// when the new array cannot be reserved: after the first one, this memblock and
    /// Linux's no longer agree (see the crate docs on deviations). An allocation that
    /// failed on its node and then succeeded on another counts too.
    pub fn undone_growths(&self) -> u64 {
        self.undone_growths
    }

    // ---------------------------------------------------------------- region arrays

    /// The memory regions, sorted by base, disjoint, merged.
    ///
    /// The memory array stays short (a region per node and attribute change) and is
    /// stored in one piece, so it is a slice.
    pub fn memory(&self) -> &[Region] {
        self.memory.regions.flat()
    }

    /// The reserved regions, sorted by base, disjoint, merged. Their `nid` is always
    /// [`RegionNid::MaxNumNodes`], as Linux stores.
    ///
    /// A view rather than a slice: with the `alloc` feature the reserved array, which
    /// grows to hundreds of thousands of regions on large machines, is stored in leaves
    /// so that freeing a block in its middle does not move its tail (see [`Regions`]).
    pub fn reserved(&self) -> Regions<'_> {
        self.reserved.regions()
    }

    /// The capacity Linux's array would have now (`type->max`): [`Config::initial_regions`] until it doubles.
    pub fn capacity(&self, kind: ArrayKind) -> usize {
        self.arr(kind).max
    }

    /// Where the array lives if memblock allocated it by growing (its base address),
    /// `None` while it is Linux's static initial array.
    pub fn array_location(&self, kind: ArrayKind) -> Option<PhysAddr> {
        self.arr(kind).location.map(PhysAddr::new)
    }

    /// `memblock_phys_mem_size`: total bytes of memory.
    pub fn phys_mem_size(&self) -> PhysSize {
        PhysSize::new(self.memory.total_size)
    }

    /// `memblock_reserved_size`: total bytes reserved.
    pub fn reserved_size(&self) -> PhysSize {
        PhysSize::new(self.reserved.total_size)
    }

    /// `memblock_start_of_DRAM`: base of the lowest memory region (0 if there is none,
    /// as Linux reads its dummy entry).
    pub fn start_of_dram(&self) -> PhysAddr {
        self.memory().first().map_or(PhysAddr::ZERO, |r| r.base)
    }

    /// `memblock_end_of_DRAM`: end of the highest memory region (0 if there is none).
    pub fn end_of_dram(&self) -> PhysAddr {
        self.memory().last().map_or(PhysAddr::ZERO, Region::end)
    }

    /// `memblock_search` on memory: the region containing `addr`.
    pub fn memory_region_containing(&self, addr: PhysAddr) -> Option<&Region> {
        search(self.memory(), addr.as_u64())
    }

    /// `memblock_is_memory`.
    pub fn is_memory(&self, addr: PhysAddr) -> bool {
        search(self.memory(), addr.as_u64()).is_some()
    }

    /// `memblock_is_reserved`.
    pub fn is_reserved(&self, addr: PhysAddr) -> bool {
        search(self.reserved(), addr.as_u64()).is_some()
    }

    /// `memblock_is_region_memory`: whether `[base, base + size)` (size capped at the top
    /// of the address space) lies inside one memory region.
    pub fn is_region_memory(&self, base: PhysAddr, size: PhysSize) -> bool {
        let (base, size) = (base.as_u64(), size.as_u64());
        let end = base + cap_size(base, size);
        search(self.memory(), base).is_some_and(|r| r.end().as_u64() >= end)
    }

    /// `memblock_is_region_reserved`: whether `[base, base + size)` intersects a reserved
    /// region. As in Linux, a zero size still counts as intersecting when `base` lies
    /// strictly inside a reserved region.
    pub fn is_region_reserved(&self, base: PhysAddr, size: PhysSize) -> bool {
        let (base, size) = (base.as_u64(), size.as_u64());
        let end = base + cap_size(base, size);
        let regions = self.reserved();
        let i = regions.partition_point(|r| r.end().as_u64() <= base);
        regions
            .get(i)
            .is_some_and(|r| r.base.as_u64() < end && base < r.end().as_u64())
    }

    // ---------------------------------------------------------------- switches

    /// `memblock_set_current_limit`: the end used for [`AllocLimit::Accessible`].
    pub fn set_current_limit(&mut self, limit: PhysAddr) {
        self.current_limit = limit.as_u64();
    }

    /// `memblock_get_current_limit`.
    pub fn current_limit(&self) -> PhysAddr {
        PhysAddr::new(self.current_limit)
    }

    /// `memblock_set_bottom_up`.
    pub fn set_bottom_up(&mut self, enable: bool) {
        self.bottom_up = enable;
    }

    /// `memblock_bottom_up`.
    pub fn bottom_up(&self) -> bool {
        self.bottom_up
    }

    /// The `movable_node` kernel parameter (`movable_node_is_enabled()`): allocations
    /// then skip memory marked hotpluggable.
    pub fn set_movable_node(&mut self, enable: bool) {
        self.movable_node = enable;
    }

    /// Whether movable-node is set.
    pub fn movable_node(&self) -> bool {
        self.movable_node
    }

    // ---------------------------------------------------------------- region operations

    /// `memblock_add`: adds memory with no node (`MAX_NUMNODES`) and no flags. Parts that
    /// are already memory are left as they are.
    pub fn add(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), Error> {
        self.add_node(base, size, None, RegionFlags::NONE)
    }

    /// `memblock_add_node`: adds memory on a node with flags. `nid` is a [`NodeId`], an
    /// `Option<NodeId>` (`None` stores `MAX_NUMNODES`, as `memblock_add` does) or a
    /// [`RegionNid`] ([`RegionNid::NumaNoNode`] stores -1, as Linux does for
    /// `NUMA_NO_NODE`).
    pub fn add_node(
        &mut self,
        base: PhysAddr,
        size: PhysSize,
        nid: impl Into<RegionNid>,
        flags: RegionFlags,
    ) -> Result<(), Error> {
        let nid = nid.into();
        self.guarded(|mb| mb.add_range(ArrayKind::Memory, base.as_u64(), size.as_u64(), nid, flags))
    }

    /// `memblock_remove`: removes memory, splitting regions at the boundaries.
    pub fn remove(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), Error> {
        self.guarded(|mb| mb.remove_range(ArrayKind::Memory, base.as_u64(), size.as_u64()))
    }

    /// `memblock_reserve`. The range need not be memory.
    pub fn reserve(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), Error> {
        self.guarded(|mb| {
            mb.add_range(
                ArrayKind::Reserved,
                base.as_u64(),
                size.as_u64(),
                RegionNid::MaxNumNodes,
                RegionFlags::NONE,
            )
        })
    }

    /// `memblock_phys_free`: drops a range from the reserved array.
    pub fn free(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), Error> {
        self.guarded(|mb| mb.remove_range(ArrayKind::Reserved, base.as_u64(), size.as_u64()))
    }

    /// `memblock_mark_hotplug`.
    pub fn mark_hotplug(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), Error> {
        self.setclr_flag(base, size, true, RegionFlags::HOTPLUG)
    }

    /// `memblock_clear_hotplug`.
    pub fn clear_hotplug(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), Error> {
        self.setclr_flag(base, size, false, RegionFlags::HOTPLUG)
    }

    /// `memblock_mark_nomap`.
    pub fn mark_nomap(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), Error> {
        self.setclr_flag(base, size, true, RegionFlags::NOMAP)
    }

    /// `memblock_clear_nomap`.
    pub fn clear_nomap(&mut self, base: PhysAddr, size: PhysSize) -> Result<(), Error> {
        self.setclr_flag(base, size, false, RegionFlags::NOMAP)
    }

    /// `memblock_set_node(base, size, &memblock.memory, nid)`: assigns a node to the
    /// memory in the range, splitting regions at its boundaries.
    pub fn set_node(&mut self, base: PhysAddr, size: PhysSize, nid: NodeId) -> Result<(), Error> {
        self.set_node_raw(base, size, nid)
    }

    /// As [`Memblock::set_node`], for any value Linux can store: `None` stores
    /// `MAX_NUMNODES` (what x86 does to reset nodes), [`RegionNid::NumaNoNode`] -1.
    pub fn set_node_raw(
        &mut self,
        base: PhysAddr,
        size: PhysSize,
        nid: impl Into<RegionNid>,
    ) -> Result<(), Error> {
        let nid = nid.into();
        self.guarded(|mb| {
            let (s, e) = mb.isolate_range(ArrayKind::Memory, base.as_u64(), size.as_u64())?;
            for i in s..e {
                if let Some(r) = mb.memory.get(i) {
                    mb.memory.set(i, Region { nid, ..r });
                }
            }
            if e > 0 {
                mb.memory.merge(s.saturating_sub(1), e);
            }
            Ok(())
        })
    }

    /// `memblock_setclr_flag`.
    fn setclr_flag(
        &mut self,
        base: PhysAddr,
        size: PhysSize,
        set: bool,
        flag: RegionFlags,
    ) -> Result<(), Error> {
        self.guarded(|mb| {
            let (s, e) = mb.isolate_range(ArrayKind::Memory, base.as_u64(), size.as_u64())?;
            for i in s..e {
                if let Some(mut r) = mb.memory.get(i) {
                    r.flags.set(flag, set);
                    mb.memory.set(i, r);
                }
            }
            if e > 0 {
                mb.memory.merge(s.saturating_sub(1), e);
            }
            Ok(())
        })
    }

    /// `memblock_add_range`: inserts the parts of `[base, base + size)` not yet covered,
    /// in two passes when the array might overflow (count, grow, insert), then merges.
    fn add_range(
        &mut self,
        kind: ArrayKind,
        base: u64,
        size: u64,
        nid: RegionNid,
        flags: RegionFlags,
    ) -> Result<(), Error> {
        let size = cap_size(base, size);
        let end = base + size;
        if size == 0 {
            return Ok(());
        }
        let region = |b: u64, e: u64| Region {
            base: PhysAddr::new(b),
            size: PhysSize::new(e - b),
            flags,
            nid,
        };
        if self.arr(kind).regions().is_empty() {
            // Linux's special case: the dummy entry is overwritten in place.
            let a = self.arr_mut(kind);
            a.insert(kind, 0, region(base, end))?;
            return Ok(());
        }
        if self.arr(kind).cnt() < self.arr(kind).max {
            // The usual reservation: the range lies wholly in one gap and one more region
            // fits, so no growth can happen and Linux's passes come down to one insert
            // and merge. One descent finds the gap and both neighbours.
            let a = self.arr_mut(kind);
            let (idx, left, right) = a.regions.seek(base);
            if right.is_none_or(|n| n.base.as_u64() >= end) {
                return a.insert_merged_with(kind, idx, region(base, end), left, right);
            }
        }
        let mut insert =
            self.arr(kind).cnt().saturating_mul(2).saturating_add(1) < self.arr(kind).max;
        loop {
            // Linux's counting pass (also run when Linux inserts at once: it finds the
            // single-piece case, which is then done without shifting the array twice).
            let (nr_new, piece) = self.arr(kind).uncovered(base, end);
            if nr_new == 0 {
                return Ok(());
            }
            if !insert {
                while self.arr(kind).cnt().saturating_add(nr_new) > self.arr(kind).max {
                    self.double_array(kind, base, size)?;
                }
                // Growth may have changed the reserved array: walk again, as Linux does.
                insert = true;
                continue;
            }
            if self.arr(kind).cnt().saturating_add(nr_new) > self.arr(kind).max {
                // Only after growth freed an old array inside the range (see BugOn).
                return Err(Error::BugOn { array: kind });
            }
            let a = self.arr_mut(kind);
            if let (1, Some((idx, b, e))) = (nr_new, piece) {
                return a.insert_merged(kind, idx, region(b, e));
            }
            // Make room on the heap for every piece before inserting the first, so that
            // the inserts below cannot fail half-way and leave some pieces in.
            if !a.regions.reserve(nr_new) {
                return Err(Error::NoMemory { array: kind });
            }
            let mut b = base;
            let first = a.first_ending_after(base);
            let mut idx = first;
            while let Some(r) = a.get(idx) {
                let (rbase, rend) = (r.base.as_u64(), r.end().as_u64());
                if rbase >= end {
                    break;
                }
                if rend <= b {
                    idx += 1;
                    continue;
                }
                // @rgn overlaps. If it separates the lower part of new area, insert that
                // portion.
                if rbase > b {
                    a.insert(kind, idx, region(b, rbase))?;
                    idx += 1;
                }
                b = rend.min(end);
                idx += 1;
            }
            if b < end {
                a.insert(kind, idx, region(b, end))?;
            }
            a.merge(first.saturating_sub(1), idx);
            return Ok(());
        }
    }

    /// `memblock_isolate_range`: splits regions crossing `base` or `base + size`, and
    /// returns the index range of the regions inside (`(0, 0)` if none).
    fn isolate_range(
        &mut self,
        kind: ArrayKind,
        base: u64,
        size: u64,
    ) -> Result<(usize, usize), Error> {
        let size = cap_size(base, size);
        let end = base + size;
        if size == 0 {
            return Ok((0, 0));
        }
        // We'll create at most two more regions.
        while self.arr(kind).cnt().saturating_add(2) > self.arr(kind).max {
            self.double_array(kind, base, size)?;
        }
        let a = self.arr_mut(kind);
        // Heap room for both splits up front: the second cannot then fail after the
        // first changed the array.
        if !a.regions.reserve(2) {
            return Err(Error::NoMemory { array: kind });
        }
        let (mut start_rgn, mut end_rgn) = (0, 0);
        let mut idx = a.first_ending_after(base);
        while let Some(r) = a.get(idx) {
            let (rbase, rend) = (r.base.as_u64(), r.end().as_u64());
            if rbase >= end {
                break;
            }
            if rend <= base {
                idx += 1;
                continue;
            }
            if rbase < base {
                // Intersects from below: split, then process the new top half.
                a.set(
                    idx,
                    Region {
                        base: PhysAddr::new(base),
                        size: PhysSize::new(rend - base),
                        ..r
                    },
                );
                a.total_size = a.total_size.saturating_sub(base - rbase);
                a.insert(
                    kind,
                    idx,
                    Region {
                        size: PhysSize::new(base - rbase),
                        ..r
                    },
                )?;
                idx += 1;
            } else if rend > end {
                // Intersects from above: split, then redo the new bottom half.
                a.set(
                    idx,
                    Region {
                        base: PhysAddr::new(end),
                        size: PhysSize::new(rend - end),
                        ..r
                    },
                );
                a.total_size = a.total_size.saturating_sub(end - rbase);
                a.insert(
                    kind,
                    idx,
                    Region {
                        size: PhysSize::new(end - rbase),
                        ..r
                    },
                )?;
            } else {
                if end_rgn == 0 {
                    start_rgn = idx;
                }
                end_rgn = idx + 1;
                idx += 1;
            }
        }
        Ok((start_rgn, end_rgn))
    }

    /// `memblock_remove_range`: `memblock_isolate_range` then removal of the isolated
    /// regions. The net effect (the overlapping regions replaced by the parts of the
    /// first and last that stick out) is applied in one step.
    fn remove_range(&mut self, kind: ArrayKind, base: u64, size: u64) -> Result<(), Error> {
        let size = cap_size(base, size);
        let end = base + size;
        if size == 0 {
            return Ok(());
        }
        // memblock_isolate_range makes room for two more regions first.
        while self.arr(kind).cnt().saturating_add(2) > self.arr(kind).max {
            self.double_array(kind, base, size)?;
        }
        let a = self.arr_mut(kind);
        let i0 = a.first_ending_after(base);
        let at_i0 = a.get(i0);
        let inside = at_i0.filter(|r| r.base.as_u64() <= base && r.end().as_u64() >= end);
        // The usual free lies inside one region: the regions before `end` end there,
        // and that region is both the first and the last, without a second search of
        // the array.
        let (i1, last) = match inside {
            Some(_) => (i0 + 1, at_i0),
            None => {
                let i1 = a.regions().partition_point(|r| r.base.as_u64() < end);
                (i1, i1.checked_sub(1).and_then(|i| a.get(i)))
            }
        };
        let (Some(first), Some(last)) = (at_i0, last) else {
            return Ok(());
        };
        if i0 >= i1 {
            return Ok(());
        }
        let mut keep = [first; 2];
        let mut n = 0;
        if first.base.as_u64() < base {
            keep[n] = Region {
                size: PhysSize::new(base - first.base.as_u64()),
                ..first
            };
            n += 1;
        }
        if last.end().as_u64() > end {
            keep[n] = Region {
                base: PhysAddr::new(end),
                size: PhysSize::new(last.end().as_u64() - end),
                ..last
            };
            n += 1;
        }
        let kept = keep.get(..n).unwrap_or(&[]);
        let dropped: u64 = match inside {
            // Exactly the range left the array.
            Some(_) => size,
            None => a
                .regions()
                .range(i0..i1)
                .map(|r| r.size.as_u64())
                .fold(0u64, u64::saturating_add)
                .saturating_sub(kept.iter().map(|r| r.size.as_u64()).sum::<u64>()),
        };
        if !a.regions.splice(i0, i1, kept) {
            return Err(Error::NoMemory { array: kind });
        }
        a.total_size = a.total_size.saturating_sub(dropped);
        Ok(())
    }

    /// `memblock_double_array`: allocates an array twice as big from memblock itself
    /// (avoiding `[new_area_start, +new_area_size)` when growing the reserved array),
    /// frees the old one if memblock had allocated it, and reserves the new one.
    #[cfg_attr(not(feature = "alloc"), allow(unused_variables))]
    fn double_array(
        &mut self,
        kind: ArrayKind,
        new_area_start: u64,
        new_area_size: u64,
    ) -> Result<(), Error> {
        let fail = Error::NoMemory { array: kind };
        #[cfg(not(feature = "alloc"))]
        {
            Err(fail)
        }
        #[cfg(feature = "alloc")]
        {
            if !self.config.allow_resize {
                return Err(fail);
            }
            let page = self.config.page_size;
            let page_align = |x: u64| x.checked_add(page - 1).map(|v| v & !(page - 1));
            let old_max = self.arr(kind).max;
            let new_max = old_max.checked_mul(2).ok_or(fail)?;
            let old_size = u64::try_from(old_max)
                .ok()
                .and_then(|m| m.checked_mul(crate::REGION_RECORD_SIZE))
                .ok_or(fail)?;
            let new_size = old_size.checked_mul(2).ok_or(fail)?;
            let old_alloc_size = page_align(old_size).ok_or(fail)?;
            let new_alloc_size = page_align(new_size).ok_or(fail)?;

            // Only exclude the range when doubling the reserved array.
            let (nas, nasz) = match kind {
                ArrayKind::Reserved => (new_area_start, new_area_size),
                ArrayKind::Memory => (0, 0),
            };
            let limit = self.current_limit;
            let mut addr = self.find_in_range(nas.wrapping_add(nasz), limit, new_alloc_size, page);
            if addr == 0 && nasz != 0 {
                addr = self.find_in_range(0, nas.min(limit), new_alloc_size, page);
            }
            if addr == 0 {
                return Err(fail);
            }
            // Linux copies the array to `addr` before anything reserves it. If the other
            // array sits there (only while growing the memory array has moved it and
            // not yet reserved its new place, or after a caller freed it), the copy
            // overwrites it and both arrays share memory from then on.
            let other_kind = match kind {
                ArrayKind::Memory => ArrayKind::Reserved,
                ArrayKind::Reserved => ArrayKind::Memory,
            };
            let other = self.arr(other_kind);
            if let Some(loc) = other.location {
                let other_bytes = u64::try_from(other.max)
                    .unwrap_or(u64::MAX)
                    .saturating_mul(crate::REGION_RECORD_SIZE);
                if addr < loc.saturating_add(other_bytes) && loc < addr.saturating_add(new_size) {
                    return Err(Error::ArrayAlias {
                        array: kind,
                        at: PhysAddr::new(addr),
                    });
                }
            }
            if !self.arr_mut(kind).regions.reserve_to(new_max) {
                return Err(fail);
            }
            if self.snapshot.is_none() {
                self.snapshot = Some(Snapshot {
                    memory: self.memory.clone(),
                    reserved: self.reserved.clone(),
                });
            }
            let a = self.arr_mut(kind);
            let old_location = a.location.replace(addr);
            a.max = new_max;
            // Free the old array unless it is the static one.
            if let Some(old) = old_location {
                self.remove_range(ArrayKind::Reserved, old, old_alloc_size)?;
            }
            // Reserve the new array (Linux: BUG_ON on failure).
            self.add_range(
                ArrayKind::Reserved,
                addr,
                new_alloc_size,
                RegionNid::MaxNumNodes,
                RegionFlags::NONE,
            )
        }
    }

    // ---------------------------------------------------------------- free ranges

    /// `for_each_free_mem_range(i, nid, MEMBLOCK_NONE, ..)`: free ranges in ascending
    /// order, on node `nid` (`None`: any node, `NUMA_NO_NODE`). Memory marked NOMAP or
    /// DRIVER_MANAGED is never free; HOTPLUG memory is skipped while movable-node is set.
    pub fn free_ranges(&self, nid: Option<NodeId>) -> FreeRanges<'_> {
        self.free_ranges_with(nid, RegionFlags::NONE, false)
    }

    /// `for_each_free_mem_range_reverse`: as [`Memblock::free_ranges`], descending.
    pub fn free_ranges_rev(&self, nid: Option<NodeId>) -> FreeRanges<'_> {
        self.free_ranges_with(nid, RegionFlags::NONE, true)
    }

    /// Free ranges with explicit `flags` (`__for_each_mem_range` over memory minus
    /// reserved): a flag in `flags` admits regions that carry it (HOTPLUG, NOMAP,
    /// DRIVER_MANAGED) or requires it (MIRROR).
    pub fn free_ranges_with(
        &self,
        nid: Option<NodeId>,
        flags: RegionFlags,
        reverse: bool,
    ) -> FreeRanges<'_> {
        FreeRanges::new(
            self.memory(),
            self.reserved(),
            nid,
            flags,
            self.movable_node,
            reverse,
            0,
            u64::MAX,
        )
    }

    // ---------------------------------------------------------------- allocation

    /// `memblock_find_in_range_node` (static in Linux): where an allocation of `size`
    /// bytes aligned to `align` in `[start, end)` on node `nid` (`None`: any node) with
    /// request `flags` would go, without reserving it; `None` where Linux returns 0.
    /// Never below the first page; top-down unless [`Memblock::set_bottom_up`]. As in
    /// Linux, `align` is used as given (0 is not replaced by `SMP_CACHE_BYTES`) and no
    /// other node is tried.
    ///
    /// Uses the gap index over the reserved array (see the crate docs) unless
    /// [`Memblock::set_linear_search`] is on; both give the same answer.
    pub fn find_in_range_node(
        &self,
        size: PhysSize,
        align: u64,
        start: PhysAddr,
        end: AllocLimit,
        nid: Option<NodeId>,
        flags: RegionFlags,
    ) -> Option<PhysAddr> {
        let a = self.find_in_range_node_raw(
            size.as_u64(),
            align,
            start.as_u64(),
            end.raw(),
            nid,
            flags,
        );
        (a != 0).then_some(PhysAddr::new(a))
    }

    /// As [`Memblock::find_in_range_node`], always walking the free ranges one by one
    /// (the reference implementation the differential tests compare against).
    #[doc(hidden)]
    pub fn find_in_range_node_linear(
        &self,
        size: PhysSize,
        align: u64,
        start: PhysAddr,
        end: AllocLimit,
        nid: Option<NodeId>,
        flags: RegionFlags,
    ) -> Option<PhysAddr> {
        let a = self.find_linear(size.as_u64(), align, start.as_u64(), end.raw(), nid, flags);
        (a != 0).then_some(PhysAddr::new(a))
    }

    /// Makes every search (allocations, array growth, [`Memblock::find_in_range_node`])
    /// walk the free ranges linearly, as Linux does, instead of using the gap index.
    /// The results are the same; only the cost differs. For differential tests and
    /// before/after measurements. Without the `alloc` feature searches are always
    /// linear.
    pub fn set_linear_search(&mut self, on: bool) {
        self.linear_search = on;
    }

    /// Whether the gap index agrees with the reserved array and the per-node chains
    /// with the memory array (for tests; always `Ok`
    /// without the `alloc` feature or while the index is rebuilding after a heap
    /// failure).
    #[doc(hidden)]
    pub fn check_index(&self) -> Result<(), &'static str> {
        #[cfg(feature = "alloc")]
        {
            self.reserved.regions.check_index()?;
            self.memory.regions.check_index()
        }
        #[cfg(not(feature = "alloc"))]
        {
            Ok(())
        }
    }

    /// The reserved array's search memo, for tests.
    #[cfg(all(test, feature = "alloc"))]
    pub(crate) fn walk_memo(&self) -> crate::index::WalkMemo {
        self.reserved.regions.memo()
    }

    /// `memblock_find_in_range`: a free range anywhere (no node), 0 if none.
    #[cfg(feature = "alloc")]
    fn find_in_range(&self, start: u64, end: u64, size: u64, align: u64) -> u64 {
        self.find_in_range_node_raw(size, align, start, end, None, RegionFlags::NONE)
    }

    /// `memblock_find_in_range_node`: the address Linux picks, or 0 for none. A search
    /// outside the allocator keeps nothing for the next one (a fresh memo).
    fn find_in_range_node_raw(
        &self,
        size: u64,
        align: u64,
        start: u64,
        end: u64,
        nid: Option<NodeId>,
        flags: RegionFlags,
    ) -> u64 {
        #[cfg(feature = "alloc")]
        if self.searches_indexed(size) {
            if let Some(leaves) = self.reserved.regions.index() {
                let bounds = self.search_bounds(start, end);
                let search = self
                    .memory
                    .search(self.movable_node, self.bottom_up, bounds);
                let mut memo = WalkMemo::NONE;
                return search.find_indexed(leaves, size, align, nid, flags, &mut memo);
            }
        }
        self.find_linear(size, align, start, end, nid, flags)
    }

    /// Whether a search for `size` bytes goes through the gap index: not while
    /// [`Memblock::set_linear_search`] is on, nor for a zero-sized request (it can stop
    /// at an empty clamped range, which only the linear walk handles).
    #[cfg(feature = "alloc")]
    fn searches_indexed(&self, size: u64) -> bool {
        !self.linear_search && size > 0
    }

    /// The bounds `memblock_find_in_range_node` searches between: `end` 0 or 1
    /// (`MEMBLOCK_ALLOC_ACCESSIBLE`, `MEMBLOCK_ALLOC_NOLEAKTRACE`) is pumped up to the
    /// current limit, the first page is never allocated, and an end below the start
    /// leaves an empty range.
    fn search_bounds(&self, start: u64, end: u64) -> (u64, u64) {
        let end = if end == 0 || end == 1 {
            self.current_limit
        } else {
            end
        };
        let start = start.max(self.config.page_size);
        (start, end.max(start))
    }

    /// `memblock_find_in_range_node` by walking the free ranges one by one, as Linux
    /// does: the reference the indexed search is tested against.
    fn find_linear(
        &self,
        size: u64,
        align: u64,
        start: u64,
        end: u64,
        nid: Option<NodeId>,
        flags: RegionFlags,
    ) -> u64 {
        let (start, end) = self.search_bounds(start, end);
        // A nonzero request can never fit in a free range that clamps to an empty one,
        // so the walk may start at the bounds. A zero-sized one can (Linux then returns
        // the bound itself), so it walks everything as Linux does.
        let (lo, hi) = if size > 0 {
            (start, end)
        } else {
            (0, u64::MAX)
        };
        let mut ranges = FreeRanges::new(
            self.memory(),
            self.reserved(),
            nid,
            flags,
            self.movable_node,
            !self.bottom_up,
            lo,
            hi,
        );
        if self.bottom_up {
            while let Some((s, e)) = ranges.next_raw() {
                if size > 0 && s >= end {
                    break;
                }
                let this_start = s.clamp(start, end);
                let this_end = e.clamp(start, end);
                let cand = round_up(this_start, align);
                if cand < this_end && this_end - cand >= size {
                    return cand;
                }
            }
        } else {
            while let Some((s, e)) = ranges.next_raw() {
                if size > 0 && e <= start {
                    break;
                }
                let this_start = s.clamp(start, end);
                let this_end = e.clamp(start, end);
                if this_end < size {
                    continue;
                }
                let cand = round_down(this_end - size, align);
                if cand >= this_start {
                    return cand;
                }
            }
        }
        0
    }

    /// One attempt of `memblock_alloc_range_nid`: find, then reserve. On failure,
    /// nothing changed: [`AllocError::NoFit`] if nothing fits,
    /// [`AllocError::ArrayFull`] if the reserve ran out of room (Linux then tries the
    /// next way too), [`AllocError::Fatal`] if reserving would take Linux down.
    fn try_alloc(
        &mut self,
        size: u64,
        align: u64,
        start: u64,
        end: u64,
        nid: Option<NodeId>,
    ) -> Result<u64, AllocError> {
        // The search memo travels with the reserved array (a restored snapshot brings
        // back the memo that matches its leaves), and the search updates it there.
        #[cfg(feature = "alloc")]
        let found = {
            // Borrowed field by field, so that the reserved array's memo can be lent
            // to the search below.
            let bounds = self.search_bounds(start, end);
            let search = self
                .memory
                .search(self.movable_node, self.bottom_up, bounds);
            let indexed = self.searches_indexed(size);
            match self.reserved.regions.index_and_memo().filter(|_| indexed) {
                Some((leaves, memo)) => {
                    search.find_indexed(leaves, size, align, nid, RegionFlags::NONE, memo)
                }
                None => self.find_linear(size, align, start, end, nid, RegionFlags::NONE),
            }
        };
        #[cfg(not(feature = "alloc"))]
        let found = self.find_in_range_node_raw(size, align, start, end, nid, RegionFlags::NONE);
        if found == 0 {
            return Err(AllocError::NoFit);
        }
        self.guarded(|mb| {
            mb.add_range(
                ArrayKind::Reserved,
                found,
                size,
                RegionNid::MaxNumNodes,
                RegionFlags::NONE,
            )
        })
        .map(|()| found)
        .map_err(AllocError::from)
    }

    fn alloc_range_nid_raw(
        &mut self,
        size: u64,
        align: u64,
        start: u64,
        end: u64,
        nid: Option<NodeId>,
        exact_nid: bool,
    ) -> Result<u64, AllocError> {
        let align = if align == 0 {
            self.config.smp_cache_bytes
        } else {
            align
        };
        let first = self.try_alloc(size, align, start, end, nid);
        if nid.is_none() || exact_nid {
            return first;
        }
        then_try(first, || self.try_alloc(size, align, start, end, None))
    }

    /// `memblock_alloc_range_nid`: allocates and reserves `size` bytes aligned to `align`
    /// in `[start, end)`, top-down (or bottom-up), never in the first page, preferring
    /// node `nid` and falling back to any node unless `exact_nid`.
    ///
    /// `align` 0 means `SMP_CACHE_BYTES` (Linux warns and does the same). Alignments
    /// that are not powers of two go through Linux's mask arithmetic unchanged. A
    /// zero `size` returns an address as Linux does, but reserves nothing.
    pub fn alloc_range_nid(
        &mut self,
        size: PhysSize,
        align: u64,
        start: PhysAddr,
        end: AllocLimit,
        nid: Option<NodeId>,
        exact_nid: bool,
    ) -> Result<PhysAddr, AllocError> {
        self.alloc_range_nid_raw(
            size.as_u64(),
            align,
            start.as_u64(),
            end.raw(),
            nid,
            exact_nid,
        )
        .map(PhysAddr::new)
    }

    /// `memblock_alloc_internal`: clamps `max` to the current limit, tries
    /// [`Memblock::alloc_range_nid`], and retries with `min` = 0 on failure.
    fn alloc_internal(
        &mut self,
        size: PhysSize,
        align: u64,
        min: PhysAddr,
        max: AllocLimit,
        nid: Option<NodeId>,
        exact_nid: bool,
    ) -> Result<PhysAddr, AllocError> {
        let (size, min) = (size.as_u64(), min.as_u64());
        let max = max.raw().min(self.current_limit);
        let first = self.alloc_range_nid_raw(size, align, min, max, nid, exact_nid);
        if min == 0 {
            return first.map(PhysAddr::new);
        }
        then_try(first, || {
            self.alloc_range_nid_raw(size, align, 0, max, nid, exact_nid)
        })
        .map(PhysAddr::new)
    }

    /// `memblock_alloc_try_nid` (physical address instead of a zeroed pointer): node
    /// `nid` preferred, any node as fallback, `max` clamped to the current limit, and the
    /// whole request retried with `min` = 0 if it fails.
    pub fn alloc_try_nid(
        &mut self,
        size: PhysSize,
        align: u64,
        min: PhysAddr,
        max: AllocLimit,
        nid: Option<NodeId>,
    ) -> Result<PhysAddr, AllocError> {
        self.alloc_internal(size, align, min, max, nid, false)
    }

    /// `memblock_alloc_exact_nid_raw`: as [`Memblock::alloc_try_nid`] without the
    /// fallback to other nodes.
    pub fn alloc_exact_nid(
        &mut self,
        size: PhysSize,
        align: u64,
        min: PhysAddr,
        max: AllocLimit,
        nid: Option<NodeId>,
    ) -> Result<PhysAddr, AllocError> {
        self.alloc_internal(size, align, min, max, nid, true)
    }

    /// `memblock_phys_alloc_range`: any node, in `[start, end)`.
    pub fn phys_alloc_range(
        &mut self,
        size: PhysSize,
        align: u64,
        start: PhysAddr,
        end: AllocLimit,
    ) -> Result<PhysAddr, AllocError> {
        self.alloc_range_nid(size, align, start, end, None, false)
    }

    /// `memblock_phys_alloc_try_nid`: below the current limit, node preferred.
    pub fn phys_alloc_try_nid(
        &mut self,
        size: PhysSize,
        align: u64,
        nid: Option<NodeId>,
    ) -> Result<PhysAddr, AllocError> {
        self.alloc_range_nid(
            size,
            align,
            PhysAddr::ZERO,
            AllocLimit::Accessible,
            nid,
            false,
        )
    }
}

impl<const N: usize> fmt::Display for Memblock<N> {
    /// Both arrays in the `numaboot memblock replay` dump format: `memory:`, one
    /// `BASE SIZE FLAGS NID` line per region, `total SIZE`, then the same for
    /// `reserved:`; lowercase `0x` hex throughout, the node id as Linux stores it
    /// (`0x100` = `MAX_NUMNODES`, `0xffffffff` = `NUMA_NO_NODE`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, regions, total) in [
            ("memory", Regions::from(self.memory()), self.phys_mem_size()),
            ("reserved", self.reserved(), self.reserved_size()),
        ] {
            writeln!(f, "{name}:")?;
            for r in regions {
                writeln!(
                    f,
                    "{} {} {:#x} {:#x}",
                    r.base,
                    r.size,
                    r.flags.bits(),
                    r.linux_nid()
                )?;
            }
            writeln!(f, "total {total}")?;
        }
        Ok(())
    }
}

/// Linux's fallback chain: after a failed attempt that returned 0 (no fit, or a full
/// array), try the next way; a fatal failure stops. When both fail, a full array is
/// reported over "no fit": some range did fit, so the caller's problem is the array.
fn then_try(
    first: Result<u64, AllocError>,
    next: impl FnOnce() -> Result<u64, AllocError>,
) -> Result<u64, AllocError> {
    match first {
        Err(AllocError::NoFit) => next(),
        Err(full @ AllocError::ArrayFull { .. }) => match next() {
            Err(AllocError::NoFit) => Err(full),
            other => other,
        },
        done => done,
    }
}

/// `memblock_search`: the region containing `addr`.
fn search<'a>(regions: impl Into<Regions<'a>>, addr: u64) -> Option<&'a Region> {
    let regions = regions.into();
    let i = regions.partition_point(|r| r.end().as_u64() <= addr);
    regions.get(i).filter(|r| r.base.as_u64() <= addr)
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::store::fault::fail_heap_after;

    type State = (Vec<Region>, Vec<Region>, u64, u64, usize, usize);

    fn state(mb: &Memblock) -> State {
        (
            mb.memory().to_vec(),
            mb.reserved().to_vec(),
            mb.phys_mem_size().as_u64(),
            mb.reserved_size().as_u64(),
            mb.capacity(ArrayKind::Memory),
            mb.capacity(ArrayKind::Reserved),
        )
    }

    /// `n` disjoint 256 KiB memory regions on node 0 every 512 KiB from 1 MiB, and a
    /// 4 KiB reservation at the start of each.
    fn striped(n: u64) -> Memblock {
        let mut mb = Memblock::new();
        for i in 0..n {
            let base = PhysAddr::new(0x10_0000 + i * 0x8_0000);
            mb.add_node(
                base,
                PhysSize::new(0x4_0000),
                NodeId::new(0),
                RegionFlags::NONE,
            )
            .unwrap();
            mb.reserve(base, PhysSize::new(0x1000)).unwrap();
        }
        mb
    }

    /// The heap refusing to grow a region array at any point of an operation (the k-th
    /// growth for every k) either fails the operation with the state unchanged, or
    /// lets it finish with the same result as without the failure.
    #[test]
    fn heap_failure_mid_operation_changes_nothing() {
        fn p(a: u64) -> PhysAddr {
            PhysAddr::new(a)
        }
        fn z(s: u64) -> PhysSize {
            PhysSize::new(s)
        }
        type OpFn = fn(&mut Memblock) -> bool;
        let ops: [(&str, OpFn); 7] = [
            // One piece per hole plus one above: many inserts in one call.
            ("add covering", |mb| mb.add(p(0), z(0x1000_0000)).is_ok()),
            ("reserve covering", |mb| {
                mb.reserve(p(0x8_0000), z(0x200_0000)).is_ok()
            }),
            // Both ends split (memblock_isolate_range inserts twice).
            ("set_node", |mb| {
                mb.set_node(p(0x10_8000), z(0x8_0000), NodeId::new(1).unwrap())
                    .is_ok()
            }),
            ("hotplug", |mb| {
                mb.mark_hotplug(p(0x10_8000), z(0x1000)).is_ok()
            }),
            ("remove", |mb| mb.remove(p(0x10_8000), z(0x1000)).is_ok()),
            ("free", |mb| mb.free(p(0x10_0400), z(0x400)).is_ok()),
            ("alloc", |mb| {
                mb.alloc_try_nid(z(0x100), 0x100, PhysAddr::ZERO, AllocLimit::Anywhere, None)
                    .is_ok()
            }),
        ];
        let mut failures = 0;
        for n in [1u64, 2, 3, 7, 8, 40, 127, 128, 200] {
            let base = striped(n);
            let before = state(&base);
            for (name, op) in ops {
                let mut clean = base.clone();
                assert!(
                    op(&mut clean),
                    "{name} on {n} regions fails without injection"
                );
                let after = state(&clean);
                for k in 0..4 {
                    // A clone has no spare capacity: the first insert must allocate.
                    let mut mb = base.clone();
                    fail_heap_after(Some(k));
                    let ok = op(&mut mb);
                    fail_heap_after(None);
                    if ok {
                        assert!(state(&mb) == after, "{name}, {n} regions, k {k}");
                    } else {
                        failures += 1;
                        assert!(state(&mb) == before, "{name}, {n} regions, k {k}: changed");
                    }
                }
            }
        }
        assert!(failures > 0, "no injected failure was hit");
    }

    #[test]
    fn new_is_the_default_config() {
        assert_eq!(
            Memblock::new().config(),
            Memblock::with_config(Config::default()).config()
        );
        // Usable as a static initialiser.
        static EMPTY: Memblock = Memblock::new();
        assert!(EMPTY.memory().is_empty() && EMPTY.reserved().is_empty());
    }

    /// [`Memblock::set_linear_search`] takes the index out of the searches: once a
    /// leaf's summary is made wrong (`second` 0 claims that only the leaf's longest
    /// gap, the one above the array, can fit), the index skips the 256 KiB gap at 10
    /// MiB that Linux's walk stops at, and the linear walk still finds it.
    #[test]
    fn linear_search_does_not_read_the_index() {
        let mut mb = Memblock::new();
        mb.add(PhysAddr::ZERO, PhysSize::new(16 << 20)).unwrap();
        for (b, e) in [
            (1 << 20, 2 << 20),
            (3 << 20, 4 << 20),
            (0x48_0000, 10 << 20),
            (0xa4_0000, 16 << 20),
        ] {
            mb.reserve(PhysAddr::new(b), PhysSize::new(e - b)).unwrap();
        }
        let find = |mb: &Memblock| {
            mb.find_in_range_node(
                PhysSize::new(0x4_0000),
                0x1000,
                PhysAddr::ZERO,
                AllocLimit::Anywhere,
                None,
                RegionFlags::NONE,
            )
        };
        let linux = Some(PhysAddr::new(10 << 20));
        assert_eq!(find(&mb), linux);
        mb.reserved.regions.corrupt_leaf(2);
        assert_ne!(find(&mb), linux, "the wrong summary misleads the index");
        mb.set_linear_search(true);
        assert_eq!(find(&mb), linux);
        mb.set_linear_search(false);
        assert_ne!(find(&mb), linux);
    }

    /// [`Memblock::check_index`] reports a leaf summary that no longer matches the
    /// reserved array (each kind of summary in turn).
    #[test]
    fn check_index_reports_a_wrong_summary() {
        for what in 0..5 {
            let mut mb = striped(600);
            assert_eq!(mb.check_index(), Ok(()));
            mb.reserved.regions.corrupt_leaf(what);
            assert!(mb.check_index().is_err(), "summary {what}");
        }
    }

    /// Without its search structures (dropped after a heap failure) the allocator
    /// walks linearly with the same results, and the next change rebuilds them.
    #[test]
    fn lost_index_falls_back_and_rebuilds() {
        let mut a = striped(300);
        let mut b = a.clone();
        b.reserved.regions.drop_search_structures();
        b.memory.regions.drop_search_structures();
        assert!(b.reserved.regions.index().is_none());
        assert!(b.memory.regions.nodes().is_none());
        for i in 0..200u64 {
            let size = PhysSize::new(0x800 + (i % 7) * 0x1000);
            let nid = NodeId::new((i % 2) as u32);
            let ra = a.alloc_try_nid(size, 0x1000, PhysAddr::ZERO, AllocLimit::Anywhere, nid);
            let rb = b.alloc_try_nid(size, 0x1000, PhysAddr::ZERO, AllocLimit::Anywhere, nid);
            assert_eq!(ra, rb, "allocation {i}");
            assert!(state(&a) == state(&b));
        }
        // The first reservation rebuilt the index, the first operation the chains.
        assert!(b.reserved.regions.index().is_some());
        assert!(b.memory.regions.nodes().is_some());
        assert_eq!(b.check_index(), Ok(()));
    }
}
