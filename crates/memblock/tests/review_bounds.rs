//! Adversarial review of four performance changes in the reserved array's upkeep and
//! search: `Store::set_indexed`, the one-gap fast path of `add_range` (`Store::seek`),
//! `Leaf::second` (a bound on a leaf's gaps other than one longest) and
//! `Leaf::longest_at` (the top-down shortcut that checks only the longest gap).
//!
//! * The fast path of `add_range` against a plain `Vec` model of Linux's
//!   `memblock_add_range` / `memblock_remove_range` (counting pass, no growth, insert,
//!   whole-array merge), written here from the C semantics, in both builds: many leaves
//!   with `alloc` (capacity in the thousands, no resize), the inline store without it;
//!   neighbours that merge on one side, both or neither (other node, other flags: gaps
//!   of length 0 in the memory array), and the array filled up to and past its
//!   capacity.
//! * The leaf summaries (`check_index` after every operation) and the indexed search
//!   against the linear walk, on arrays of many leaves whose gaps are all equal (ties
//!   everywhere), shrink one at a time, and are refilled; allocations sized exactly to a
//!   gap, a byte more or less, with alignments that are not powers of two, windows that
//!   end inside gaps, both directions.
//! * The same kind of scripts through Linux's own `mm/memblock.c` (the oracle of
//!   `linux_oracle.rs`), when it is there.

use memblock::{Memblock, PhysAddr, PhysSize, Region, RegionFlags, RegionNid};

mod xorshift;
use xorshift::Rng;

// ------------------------------------------------------------------ a Vec model of Linux

/// One region array as Linux keeps it, without `memblock_double_array` (resizing off):
/// `cnt`, `max` and the regions in order.
struct LinuxArray {
    regions: Vec<Region>,
    max: usize,
}

impl LinuxArray {
    fn cnt(&self) -> usize {
        self.regions.len().max(1)
    }

    /// `memblock_add_range` with `memblock_can_resize == 0`: `Err` where Linux returns
    /// `-ENOMEM` (nothing changed then).
    fn add(&mut self, base: u64, size: u64, nid: RegionNid, flags: RegionFlags) -> Result<(), ()> {
        let size = size.min(u64::MAX - base);
        let end = base + size;
        if size == 0 {
            return Ok(());
        }
        let new = |b: u64, e: u64| Region {
            base: PhysAddr::new(b),
            size: PhysSize::new(e - b),
            flags,
            nid,
        };
        if self.regions.is_empty() {
            self.regions.push(new(base, end));
            return Ok(());
        }
        // The counting pass (Linux inserts during it only when `cnt * 2 + 1 < max`, in
        // which case every piece fits: the result is the same).
        let mut pieces = Vec::new();
        let mut b = base;
        for r in &self.regions {
            let (rb, re) = (r.base.as_u64(), r.end().as_u64());
            if rb >= end {
                break;
            }
            if re <= b {
                continue;
            }
            if rb > b {
                pieces.push(new(b, rb));
            }
            b = re.min(end);
        }
        if b < end {
            pieces.push(new(b, end));
        }
        if pieces.is_empty() {
            return Ok(());
        }
        let direct = self.cnt() * 2 + 1 < self.max;
        if !direct && self.cnt() + pieces.len() > self.max {
            return Err(());
        }
        self.regions.extend(pieces);
        self.regions.sort_by_key(|r| r.base.as_u64());
        // memblock_merge_regions over the whole array.
        let mut i = 0;
        while i + 1 < self.regions.len() {
            let (this, next) = (self.regions[i], self.regions[i + 1]);
            if this.end() != next.base || this.nid != next.nid || this.flags != next.flags {
                assert!(this.end().as_u64() <= next.base.as_u64(), "overlap");
                i += 1;
                continue;
            }
            self.regions[i].size = PhysSize::new(this.size.as_u64() + next.size.as_u64());
            self.regions.remove(i + 1);
        }
        Ok(())
    }

    /// `memblock_remove_range` with resizing off: isolation needs room for two more.
    fn remove(&mut self, base: u64, size: u64) -> Result<(), ()> {
        let size = size.min(u64::MAX - base);
        let end = base + size;
        if size == 0 {
            return Ok(());
        }
        if self.cnt() + 2 > self.max {
            return Err(());
        }
        let mut out = Vec::new();
        for r in &self.regions {
            let (rb, re) = (r.base.as_u64(), r.end().as_u64());
            if re <= base || rb >= end {
                out.push(*r);
                continue;
            }
            if rb < base {
                out.push(Region {
                    size: PhysSize::new(base - rb),
                    ..*r
                });
            }
            if re > end {
                out.push(Region {
                    base: PhysAddr::new(end),
                    size: PhysSize::new(re - end),
                    ..*r
                });
            }
        }
        self.regions = out;
        Ok(())
    }
}

fn regions_of(v: memblock::Regions<'_>) -> Vec<Region> {
    v.iter().copied().collect()
}

#[cfg(feature = "alloc")]
const CAPACITY: usize = 600;
#[cfg(not(feature = "alloc"))]
const CAPACITY: usize = 48;

/// A memblock whose arrays hold `CAPACITY` regions and never grow: Linux's behaviour is
/// then the plain model above.
fn fixed_capacity() -> Memblock<CAPACITY> {
    Memblock::<CAPACITY>::sized_with_config(memblock::Config {
        page_size: 0x1000,
        initial_regions: CAPACITY,
        smp_cache_bytes: 128,
        allow_resize: false,
    })
}

/// A range that lies, most of the time, wholly inside a gap of `regions` (touching
/// one neighbour, both or none), otherwise anywhere on the grid.
fn range_near_gaps(r: &mut Rng, regions: &[Region], grid: u64, span: u64) -> (u64, u64) {
    if regions.len() >= 2 && r.chance(70) {
        let i = r.below(regions.len() as u64 - 1) as usize;
        let (gs, ge) = (regions[i].end().as_u64(), regions[i + 1].base.as_u64());
        if ge > gs {
            let len = ge - gs;
            return match r.below(5) {
                0 => (gs, len),              // fills it: merges both ways
                1 => (gs, 1 + r.below(len)), // touches the left neighbour
                2 => {
                    let s = 1 + r.below(len);
                    (ge - s, s) // touches the right one
                }
                3 if len > 2 => (gs + 1, len - 2), // touches neither
                _ => (gs + r.below(len), 1 + r.below(len.saturating_mul(2))), // may overlap the right
            };
        }
    }
    match r.below(20) {
        0 => (u64::MAX - r.below(4) * grid, r.below(8) * grid),
        1 => (0, r.below(4) * grid + 1),
        _ => (r.below(span) * grid, (r.below(8) + 1) * grid / 2),
    }
}

/// Reservations and frees on the reserved array (one node id, no flags: Linux merges
/// every touching pair) against the model, filled to capacity and beyond, so that the
/// fast path is taken at `cnt == max - 1` and refused at `cnt == max`.
#[test]
fn reserve_fast_path_matches_linux_model() {
    for seed in 1..=12u64 {
        let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut mb = fixed_capacity();
        let mut model = LinuxArray {
            regions: Vec::new(),
            max: CAPACITY,
        };
        let grid = 0x1000;
        let span = (CAPACITY as u64) * 6;
        let steps = if cfg!(feature = "alloc") { 6000 } else { 1500 };
        let (mut refused_when_full, mut most) = (0, 0);
        for step in 0..steps {
            let cur = regions_of(mb.reserved());
            // Mostly reservations until full, then mostly frees, then fill again.
            let phase = (step / (steps / 4)) % 2 == 0;
            let (base, size) = if phase && r.chance(80) {
                // The middle of a grid cell: a region of its own, unless one is there.
                (r.below(span) * grid + grid / 4, grid / 4 + r.below(2))
            } else {
                range_near_gaps(&mut r, &cur, grid, span)
            };
            let reserve = if phase { r.chance(85) } else { r.chance(30) };
            let full = model.cnt() >= model.max;
            let (ours, theirs, what) = if reserve {
                (
                    mb.reserve(PhysAddr::new(base), PhysSize::new(size)).is_ok(),
                    model
                        .add(base, size, RegionNid::MaxNumNodes, RegionFlags::NONE)
                        .is_ok(),
                    "reserve",
                )
            } else {
                (
                    mb.free(PhysAddr::new(base), PhysSize::new(size)).is_ok(),
                    model.remove(base, size).is_ok(),
                    "free",
                )
            };
            assert_eq!(
                ours, theirs,
                "seed {seed} step {step}: {what} {base:#x} {size:#x}: result"
            );
            refused_when_full += usize::from(full && reserve && !theirs);
            most = most.max(model.regions.len());
            assert!(
                regions_of(mb.reserved()) == model.regions,
                "seed {seed} step {step}: {what} {base:#x} {size:#x}: arrays differ"
            );
            let total: u64 = model.regions.iter().map(|r| r.size.as_u64()).sum();
            assert_eq!(
                mb.reserved_size().as_u64(),
                total,
                "seed {seed} step {step}"
            );
            mb.check_index()
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
        }
        assert!(most == CAPACITY, "seed {seed}: at most {most} regions");
        assert!(
            refused_when_full > 0,
            "seed {seed}: never refused when full"
        );
    }
}

/// The fast path on the memory array: neighbours of other nodes or flags do not merge
/// (gaps of length 0 between touching regions), and the array fills up.
#[test]
fn add_fast_path_matches_linux_model() {
    let nids = [
        RegionNid::MaxNumNodes,
        RegionNid::NumaNoNode,
        RegionNid::from(memblock::NodeId::new(0)),
        RegionNid::from(memblock::NodeId::new(1)),
    ];
    for seed in 1..=12u64 {
        let mut r = Rng(seed.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1);
        let mut mb = fixed_capacity();
        let mut model = LinuxArray {
            regions: Vec::new(),
            max: CAPACITY,
        };
        let steps = if cfg!(feature = "alloc") { 3000 } else { 800 };
        for step in 0..steps {
            let cur = mb.memory().to_vec();
            let (base, size) = range_near_gaps(&mut r, &cur, 0x1000, CAPACITY as u64 * 4);
            let nid = nids[r.below(4) as usize];
            let flags = if r.chance(20) {
                RegionFlags::HOTPLUG
            } else {
                RegionFlags::NONE
            };
            let (ours, theirs) = if r.chance(80) {
                (
                    mb.add_node(PhysAddr::new(base), PhysSize::new(size), nid, flags)
                        .is_ok(),
                    model.add(base, size, nid, flags).is_ok(),
                )
            } else {
                (
                    mb.remove(PhysAddr::new(base), PhysSize::new(size)).is_ok(),
                    model.remove(base, size).is_ok(),
                )
            };
            assert_eq!(ours, theirs, "seed {seed} step {step}: {base:#x} {size:#x}");
            assert!(
                mb.memory() == model.regions.as_slice(),
                "seed {seed} step {step}: {base:#x} {size:#x} {nid:?} {flags:?}"
            );
            mb.check_index()
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
        }
    }
}

// ------------------------------------------------------------------ index vs linear walk

#[cfg(feature = "alloc")]
mod indexed {
    use super::Rng;
    use memblock::{AllocLimit, Memblock, NodeId, PhysAddr, PhysSize, RegionFlags};

    /// The gaps of the reserved array as `(start, end)`, the one above the array
    /// included.
    pub(super) fn gaps(mb: &Memblock) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut below = 0;
        for r in mb.reserved() {
            out.push((below, r.base.as_u64()));
            below = r.end().as_u64();
        }
        out.push((below, u64::MAX));
        out
    }

    /// A request size made to measure: a gap's exact length, a byte more or less, or
    /// something small.
    pub(super) fn size_for(r: &mut Rng, gaps: &[(u64, u64)]) -> u64 {
        let (s, e) = gaps[r.below(gaps.len() as u64) as usize];
        let len = (e - s).min(1 << 40);
        match r.below(6) {
            0 | 1 => len.max(1),
            2 => len + 1,
            3 => len.saturating_sub(1).max(1),
            4 => (r.below(16) + 1) * 0x400,
            _ => r.below(0x4000) + 1,
        }
    }

    pub(super) fn align_for(r: &mut Rng, size: u64) -> u64 {
        match r.below(10) {
            0 => 0,
            1 => 0x3000, // not a power of two
            2 => 0x1800,
            3 => size.max(1), // often not a power of two
            4 => 1,
            5 => 0x10000,
            6 => r.next(),
            _ => 0x1000,
        }
    }

    /// A window end or start: a region boundary, a byte off, or inside a gap.
    pub(super) fn bound(r: &mut Rng, gaps: &[(u64, u64)]) -> u64 {
        let (s, e) = gaps[r.below(gaps.len() as u64) as usize];
        match r.below(4) {
            0 => s,
            1 => e.min(1 << 40),
            2 => s + (e.min(1 << 40).saturating_sub(s)) / 2,
            _ => s.saturating_add(1),
        }
    }

    /// Direct searches, indexed and linear, on the current state.
    pub(super) fn probe(mb: &Memblock, r: &mut Rng, what: &str) {
        let g = gaps(mb);
        for _ in 0..4 {
            let size = size_for(r, &g);
            let align = align_for(r, size);
            let (a, b) = (bound(r, &g), bound(r, &g));
            let start = if r.chance(30) { 0 } else { a.min(b) };
            let end = if r.chance(30) {
                AllocLimit::Anywhere
            } else {
                AllocLimit::Addr(PhysAddr::new(a.max(b)))
            };
            let nid = if r.chance(50) { None } else { NodeId::new(0) };
            let z = PhysSize::new(size);
            let ours =
                mb.find_in_range_node(z, align, PhysAddr::new(start), end, nid, RegionFlags::NONE);
            let reference = mb.find_in_range_node_linear(
                z,
                align,
                PhysAddr::new(start),
                end,
                nid,
                RegionFlags::NONE,
            );
            assert_eq!(
                ours,
                reference,
                "{what}: find size {size:#x} align {align:#x} start {start:#x} {end:?} {nid:?} \
                 bottom_up {}",
                mb.bottom_up()
            );
        }
    }

    /// Runs `f` on both memblocks and compares the results and the arrays, then checks
    /// the index and probes.
    pub(super) fn both<T: PartialEq + core::fmt::Debug, E: PartialEq + core::fmt::Debug>(
        a: &mut Memblock,
        b: &mut Memblock,
        r: &mut Rng,
        what: &str,
        f: impl Fn(&mut Memblock) -> Result<T, E>,
    ) -> bool {
        let (x, y) = (f(a), f(b));
        assert_eq!(x, y, "{what}: results differ");
        assert!(
            a.reserved() == b.reserved(),
            "{what}: reserved arrays differ"
        );
        assert!(a.memory() == b.memory(), "{what}: memory arrays differ");
        if let Err(e) = a.check_index() {
            panic!("{what}: index broken: {e}");
        }
        probe(a, r, what);
        x.is_ok()
    }
}

/// Many leaves of equal gaps (every gap ties for its leaf's longest), then allocations
/// that fill or shrink gaps one at a time (the set and the merging removal of the fast
/// path), top-down and bottom-up, with searches for exactly the gap length in between.
#[cfg(feature = "alloc")]
#[test]
fn equal_gaps_in_many_leaves() {
    use indexed::both;
    use memblock::{AllocLimit, NodeId};
    let p = PhysAddr::new;
    let z = PhysSize::new;
    for (case, (regions, pitch, used)) in [(700u64, 0x3000u64, 0x1000u64), (1100, 0x2000, 0x1000)]
        .into_iter()
        .enumerate()
    {
        let mut a = Memblock::new();
        a.add_node(p(0x1_0000), z(1 << 32), NodeId::new(0), RegionFlags::NONE)
            .unwrap();
        for i in 0..regions {
            a.reserve(p(0x10_0000 + i * pitch), z(used)).unwrap();
        }
        // The top of memory reserved too: the gap above the array is not the longest.
        a.reserve(
            p(0x10_0000 + regions * pitch),
            z((1 << 32) - regions * pitch),
        )
        .unwrap();
        let mut b = a.clone();
        b.set_linear_search(true);
        a.check_index().unwrap();
        let mut r = Rng(0x1234 + case as u64);
        let gap = pitch - used;
        let mut successes = 0;
        for step in 0..600 {
            let bu = step % 200 >= 100;
            a.set_bottom_up(bu);
            b.set_bottom_up(bu);
            let what = format!("case {case} step {step} bottom_up {bu}");
            let ok = match r.below(6) {
                // A whole gap: merges both ways.
                0 => both(&mut a, &mut b, &mut r, &what, |m| {
                    m.alloc_try_nid(
                        z(gap),
                        0x1000,
                        PhysAddr::ZERO,
                        AllocLimit::Anywhere,
                        NodeId::new(0),
                    )
                }),
                // Part of a gap: one neighbour grows (set).
                1 | 2 => both(&mut a, &mut b, &mut r, &what, |m| {
                    m.alloc_try_nid(z(0x800), 0x800, PhysAddr::ZERO, AllocLimit::Anywhere, None)
                }),
                // A gap's length with an alignment that is not a power of two.
                3 => both(&mut a, &mut b, &mut r, &what, |m| {
                    m.alloc_try_nid(z(gap), 0x3000, PhysAddr::ZERO, AllocLimit::Anywhere, None)
                }),
                // Free a piece: a gap grows back (maybe past the others).
                4 => {
                    let i = r.below(regions);
                    let at = 0x10_0000 + i * pitch + r.below(4) * 0x400;
                    let sz = 0x400 * (r.below(6) + 1);
                    both(&mut a, &mut b, &mut r, &what, |m| m.free(p(at), z(sz)))
                }
                // A window inside the array.
                _ => {
                    let lo = 0x10_0000 + r.below(regions) * pitch;
                    let hi = lo + (r.below(600) + 1) * pitch + r.below(3) * 0x800;
                    both(&mut a, &mut b, &mut r, &what, |m| {
                        m.alloc_try_nid(z(gap), 0x1000, p(lo), AllocLimit::Addr(p(hi)), None)
                    })
                }
            };
            successes += usize::from(ok);
        }
        assert!(
            successes > 300,
            "case {case}: only {successes} operations succeeded"
        );
        assert!(
            a.reserved().len() > 256,
            "case {case}: {} regions",
            a.reserved().len()
        );
    }
}

/// Random operations on a reserved array of hundreds to a few thousand regions (many
/// leaves, which split, join and empty), every result, array and the index compared
/// after every step, and searches sized to the gaps.
#[cfg(feature = "alloc")]
#[test]
fn many_leaves_random_differential() {
    use indexed::{align_for, both, bound, gaps, size_for};
    use memblock::{AllocLimit, NodeId};
    let p = PhysAddr::new;
    let z = PhysSize::new;
    let seeds = std::env::var("REVIEW_BOUNDS_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40u64);
    for seed in 1..=seeds {
        let mut r = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03) | 1);
        let mut a = Memblock::new();
        let nodes = 1 + r.below(3);
        for n in 0..nodes {
            a.add_node(
                p(n << 28),
                z(1 << 28),
                NodeId::new(n as u32),
                RegionFlags::NONE,
            )
            .unwrap();
        }
        // A pitch with ties: every gap the same length at first.
        let pitch = 0x1000 * (2 + r.below(3));
        for i in 0..(300 + r.below(900)) {
            a.reserve(p(0x10_0000 + i * pitch), z(0x1000)).unwrap();
        }
        let mut b = a.clone();
        b.set_linear_search(true);
        let (mut allocated, mut most) = (0, a.reserved().len());
        for step in 0..700 {
            let what = format!("seed {seed} step {step}");
            let g = gaps(&a);
            match r.below(10) {
                0 => {
                    let bu = r.chance(40);
                    a.set_bottom_up(bu);
                    b.set_bottom_up(bu);
                }
                1 | 2 => {
                    // A reservation in or across gaps.
                    let at = bound(&mut r, &g);
                    let sz = size_for(&mut r, &g).min(1 << 24);
                    both(&mut a, &mut b, &mut r, &what, |m| m.reserve(p(at), z(sz)));
                }
                3 | 4 => {
                    // Free: a piece of a region, a whole one, or hundreds.
                    let regs = a.reserved().len() as u64;
                    if regs == 0 {
                        continue;
                    }
                    let i = r.below(regs) as usize;
                    let reg = a.reserved()[i];
                    let (at, sz) = match r.below(4) {
                        0 => (reg.base.as_u64(), reg.size.as_u64()),
                        1 => (
                            reg.base.as_u64() + reg.size.as_u64() / 4,
                            1 + reg.size.as_u64() / 2,
                        ),
                        2 => (reg.base.as_u64(), pitch * (r.below(400) + 1)),
                        _ => (reg.base.as_u64().saturating_sub(1), reg.size.as_u64() + 2),
                    };
                    both(&mut a, &mut b, &mut r, &what, |m| m.free(p(at), z(sz)));
                }
                _ => {
                    let sz = size_for(&mut r, &g).min(1 << 26);
                    let al = align_for(&mut r, sz);
                    let (lo, hi) = (bound(&mut r, &g), bound(&mut r, &g));
                    let start = if r.chance(40) { 0 } else { lo.min(hi) };
                    let lim = if r.chance(40) {
                        AllocLimit::Anywhere
                    } else {
                        AllocLimit::Addr(p(lo.max(hi)))
                    };
                    let nid = if r.chance(50) {
                        None
                    } else {
                        NodeId::new(r.below(nodes) as u32)
                    };
                    let exact = r.chance(30);
                    allocated += usize::from(both(&mut a, &mut b, &mut r, &what, |m| {
                        if exact {
                            m.alloc_exact_nid(z(sz), al, p(start), lim, nid)
                        } else {
                            m.alloc_try_nid(z(sz), al, p(start), lim, nid)
                        }
                    }));
                }
            }
            most = most.max(a.reserved().len());
        }
        assert!(allocated > 100, "seed {seed}: {allocated} allocations");
        assert!(most > 300, "seed {seed}: at most {most} regions");
    }
}

/// One gap made longer than all others at every position of the array in turn (so
/// that its leaf's bound on the other gaps is below the request and the top-down search
/// checks that gap alone): the first gap of a leaf, the last, the gap above the array
/// (owned by the last leaf, outside memory here); requests that fit it exactly, fit
/// only some alignments of it, or do not fit; windows that cut it, end just above or
/// below it. Every fourth freed region stays free, so ties build up along the way.
#[cfg(feature = "alloc")]
#[test]
fn one_long_gap_at_every_position() {
    use memblock::{AllocLimit, NodeId};
    let p = PhysAddr::new;
    let z = PhysSize::new;
    let (base, pitch, used, n) = (0x10_0000u64, 0x2000u64, 0x1000u64, 900u64);
    let mem_end = 0x1_0000 + (1u64 << 32);
    let mut a = Memblock::new();
    a.add_node(p(0x1_0000), z(1 << 32), NodeId::new(0), RegionFlags::NONE)
        .unwrap();
    for i in 0..n {
        a.reserve(p(base + i * pitch), z(used)).unwrap();
    }
    a.reserve(p(base + n * pitch), z(mem_end - base - n * pitch))
        .unwrap();
    a.check_index().unwrap();
    let mut r = Rng(0xfeed);
    let mut searches = 0;
    for i in 0..=n {
        let at = base + i * pitch;
        // Region n is the top reservation: free only its first page.
        a.free(p(at), z(used)).unwrap();
        a.check_index()
            .unwrap_or_else(|e| panic!("free of region {i}: {e}"));
        let (gs, ge) = (at - pitch + used, at + pitch);
        for _ in 0..10 {
            let size = [0x3000, 0x2800, 0x2001, 0x1001, 0x1000, 0x3001][r.below(6) as usize];
            let align = [0x1000, 0x3000, 0x2000, 0x1800, 0x10000, 0x4000, 1][r.below(7) as usize];
            let hi = match r.below(5) {
                0 => ge,
                1 => ge + used,
                2 => ge - 0x800,
                3 => gs + r.below(ge - gs),
                _ => ge + (r.below(40) + 1) * pitch,
            };
            let lo = match r.below(5) {
                0 => 0,
                1 => gs,
                2 => gs + 0x800,
                3 => gs.saturating_sub((r.below(40) + 1) * pitch),
                _ => gs - used,
            };
            let end = if r.chance(10) {
                AllocLimit::Anywhere
            } else {
                AllocLimit::Addr(p(hi))
            };
            for bu in [false, true] {
                a.set_bottom_up(bu);
                let nid = if r.chance(50) { None } else { NodeId::new(0) };
                let ours = a.find_in_range_node(z(size), align, p(lo), end, nid, RegionFlags::NONE);
                let reference =
                    a.find_in_range_node_linear(z(size), align, p(lo), end, nid, RegionFlags::NONE);
                assert_eq!(
                    ours, reference,
                    "gap {i} [{gs:#x}, {ge:#x}): size {size:#x} align {align:#x} \
                     [{lo:#x}, {end:?}) bottom_up {bu}"
                );
                searches += usize::from(ours.is_some());
            }
        }
        a.set_bottom_up(false);
        if i % 4 != 0 {
            a.reserve(p(at), z(used)).unwrap();
            a.check_index()
                .unwrap_or_else(|e| panic!("reserve of region {i}: {e}"));
        }
    }
    assert!(searches > 1000, "only {searches} searches found something");
}

/// Gaps of length 0 at both ends of the array (a region from address 0, one up to
/// `PHYS_ADDR_MAX`), many leaves in between at the top of the address space, where
/// bottom-up `round_up` wraps: allocations both ways and frees, compared step by step.
#[cfg(feature = "alloc")]
#[test]
fn zero_gaps_at_both_ends() {
    use indexed::{align_for, both, bound, gaps, size_for};
    use memblock::{AllocLimit, NodeId};
    let p = PhysAddr::new;
    let z = PhysSize::new;
    for seed in 1..=4u64 {
        let mut r = Rng(seed.wrapping_mul(0x9e6c_63d0_676a_9a99) | 1);
        let low = u64::MAX - 0x4000_0000;
        let mut a = Memblock::new();
        a.add_node(p(0), z(0x100_0000), NodeId::new(0), RegionFlags::NONE)
            .unwrap();
        a.add_node(p(low), z(u64::MAX), NodeId::new(1), RegionFlags::NONE)
            .unwrap();
        a.reserve(p(0), z(0x1000)).unwrap();
        a.reserve(p(u64::MAX - 0x1000), z(u64::MAX)).unwrap();
        for i in 0..700u64 {
            let at = low + 0x1_0000 + i * 0x3000 + r.below(4) * 0x400;
            a.reserve(p(at), z(0x1000 + r.below(3) * 0x400)).unwrap();
        }
        assert_eq!(
            a.reserved().last().map(|r| r.end().as_u64()),
            Some(u64::MAX)
        );
        let mut b = a.clone();
        b.set_linear_search(true);
        for step in 0..400 {
            let what = format!("seed {seed} step {step}");
            let g = gaps(&a);
            if r.chance(25) {
                let reg = a.reserved()[r.below(a.reserved().len() as u64) as usize];
                let (at, sz) = (reg.base.as_u64(), 1 + r.below(reg.size.as_u64()));
                both(&mut a, &mut b, &mut r, &what, |m| m.free(p(at), z(sz)));
            } else {
                let bu = r.chance(50);
                a.set_bottom_up(bu);
                b.set_bottom_up(bu);
                let sz = size_for(&mut r, &g).min(0x10_0000);
                let al = if r.chance(30) {
                    !r.below(1 << 20)
                } else {
                    align_for(&mut r, sz)
                };
                let start = if r.chance(50) {
                    0
                } else {
                    low + r.below(0x300_0000)
                };
                let lim = if r.chance(50) {
                    AllocLimit::Anywhere
                } else {
                    AllocLimit::Addr(p(bound(&mut r, &g).max(low)))
                };
                let nid = NodeId::new(r.below(2) as u32);
                both(&mut a, &mut b, &mut r, &what, |m| {
                    m.alloc_try_nid(z(sz), al, p(start), lim, nid)
                });
            }
        }
    }
}

/// Small capacities that grow (and fail to, once memory is used up), reservations in
/// and outside memory.
#[cfg(feature = "alloc")]
#[test]
fn growth_from_small_capacities() {
    use indexed::{both, gaps, size_for};
    use memblock::{AllocLimit, Config, NodeId};
    let p = PhysAddr::new;
    let z = PhysSize::new;
    for seed in 1..=40u64 {
        let mut r = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let config = Config {
            page_size: 0x1000,
            initial_regions: [1, 2, 4, 128][r.below(4) as usize],
            smp_cache_bytes: 128,
            allow_resize: true,
        };
        let mut a = Memblock::with_config(config);
        // Little memory: growth often finds no room, after some growth succeeded
        // (reservations also go outside memory, where they cost no room but make
        // pieces).
        let mem = 0x2000 + r.below(0x8) * 0x1000 + if r.chance(30) { 0x40_0000 } else { 0 };
        a.add_node(p(0x10_0000), z(mem), NodeId::new(0), RegionFlags::NONE)
            .unwrap();
        let mut b = a.clone();
        b.set_linear_search(true);
        for step in 0..400 {
            let what = format!("seed {seed} step {step}");
            let g = gaps(&a);
            if r.chance(50) {
                let at = if r.chance(50) {
                    0x10_0000 + r.below(mem / 0x100) * 0x100
                } else {
                    r.below(0x100) * 0x100
                };
                let sz = 0x100 * (r.below(4) + 1)
                    + if r.chance(20) {
                        r.below(0x80) * 0x100
                    } else {
                        0
                    };
                if r.chance(70) {
                    both(&mut a, &mut b, &mut r, &what, |m| m.reserve(p(at), z(sz)));
                } else {
                    both(&mut a, &mut b, &mut r, &what, |m| m.free(p(at), z(sz)));
                }
            } else {
                let sz = size_for(&mut r, &g).min(0x4000);
                let bu = r.chance(30);
                a.set_bottom_up(bu);
                b.set_bottom_up(bu);
                both(&mut a, &mut b, &mut r, &what, |m| {
                    m.alloc_try_nid(z(sz), 0x100, PhysAddr::ZERO, AllocLimit::Anywhere, None)
                });
            }
        }
    }
}

/// A failed allocation whose reserved array had grown once (the second growth found no
/// page; `linux_oracle.rs` has this case against Linux): the snapshot restores the
/// arrays, and the restored leaves must still carry exact summaries, bounds and the
/// longest gap's start. Then random work on the restored state.
#[cfg(feature = "alloc")]
#[test]
fn undone_growth_restores_the_index() {
    use indexed::{both, gaps, size_for};
    use memblock::{AllocLimit, Config, NodeId};
    let p = PhysAddr::new;
    let z = PhysSize::new;
    let mut a = Memblock::with_config(Config {
        page_size: 0x1000,
        initial_regions: 1,
        smp_cache_bytes: 128,
        allow_resize: true,
    });
    a.reserve(p(0x66400), z(0x2100)).unwrap();
    a.add(p(0x14b00), z(0x2000)).unwrap();
    let mut b = a.clone();
    b.set_linear_search(true);
    let mut r = Rng(77);
    let lim = AllocLimit::Addr(p(0x1c600));
    both(&mut a, &mut b, &mut r, "undone", |m| {
        m.alloc_try_nid(z(0x680), 0x1000, PhysAddr::ZERO, lim, NodeId::new(1))
    });
    assert_eq!(a.undone_growths(), 1, "the case no longer undoes a growth");
    for step in 0..300 {
        let what = format!("after the undone growth, step {step}");
        let g = gaps(&a);
        let sz = size_for(&mut r, &g).min(0x2000);
        if r.chance(40) {
            let at = 0x14b00 + r.below(0x20) * 0x100;
            both(&mut a, &mut b, &mut r, &what, |m| m.reserve(p(at), z(sz)));
        } else {
            both(&mut a, &mut b, &mut r, &what, |m| {
                m.alloc_try_nid(z(sz), 0x100, PhysAddr::ZERO, AllocLimit::Anywhere, None)
            });
        }
    }
}

// ------------------------------------------------------------------ Linux's own memblock

#[cfg(feature = "alloc")]
mod oracle_path;

#[cfg(feature = "alloc")]
mod oracle {
    use std::io::Write as _;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    pub(super) fn path() -> Option<PathBuf> {
        super::oracle_path::oracle("review_bounds")
    }

    pub(super) fn run(oracle: &PathBuf, script: &str) -> String {
        let mut child = Command::new(oracle)
            .env_remove("NUMABOOT_ORACLE_EVENTS")
            .env_remove("NUMABOOT_ORACLE_VERBOSE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("oracle runs");
        let mut stdin = child.stdin.take().unwrap();
        let s = script.to_owned();
        let w = std::thread::spawn(move || {
            let _ = stdin.write_all(s.as_bytes());
        });
        let out = child.wait_with_output().unwrap();
        w.join().unwrap();
        assert!(
            out.status.success(),
            "oracle failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Scripts with equal gaps in many leaves, allocations sized to the gaps (exact, one
/// more, one less) with odd alignments and windows that end inside gaps, frees that
/// empty runs of regions, through Linux and through the crate: same output.
#[cfg(feature = "alloc")]
#[test]
fn tie_scripts_match_linux() {
    use std::fmt::Write as _;
    let Some(oracle) = oracle::path() else {
        return;
    };
    let seeds = std::env::var("REVIEW_BOUNDS_SCRIPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12u64);
    for seed in 1..=seeds {
        let mut r = Rng(seed.wrapping_mul(0x94d0_49bb_1331_11eb) | 1);
        let mut s = String::new();
        let page = 0x1_0000u64; // the oracle's PAGE_SIZE
        let pitch = page * (2 + r.below(3));
        let n = 300 + r.below(500);
        writeln!(s, "add 0x1000000 0x100000000 0").unwrap();
        for i in 0..n {
            writeln!(s, "reserve {:#x} {:#x}", 0x200_0000 + i * pitch, page).unwrap();
        }
        let gap = pitch - page;
        let top = 0x200_0000 + n * pitch;
        for _ in 0..500 {
            match r.below(8) {
                0 => writeln!(s, "bottom_up {}", r.below(2)).unwrap(),
                1 => {
                    let at = 0x200_0000 + r.below(n) * pitch + r.below(4) * 0x4000;
                    let sz = 0x4000 * (r.below(8) + 1) + if r.chance(20) { pitch * 50 } else { 0 };
                    writeln!(s, "free {at:#x} {sz:#x}").unwrap();
                }
                _ => {
                    let size = match r.below(4) {
                        0 => gap,
                        1 => gap + 1,
                        2 => gap - 1,
                        _ => 0x4000 * (r.below(8) + 1),
                    };
                    let align = [0x1000, 0x3000, 0x10000, 0x18000, gap, 0][r.below(6) as usize];
                    let lo = 0x200_0000 + r.below(n) * pitch;
                    let hi = lo + (r.below(200) + 1) * pitch + r.below(3) * 0x8000;
                    let (start, end) = if r.chance(30) {
                        (0, format!("{:#x}", top))
                    } else {
                        (lo, format!("{hi:#x}"))
                    };
                    let nid = if r.chance(50) { "-1" } else { "0" };
                    writeln!(
                        s,
                        "alloc {size:#x} {align:#x} {start:#x} {end} {nid} {}",
                        r.below(2)
                    )
                    .unwrap();
                }
            }
        }
        writeln!(s, "dump").unwrap();
        let ours = memblock::replay::run(&s).expect("well-formed script");
        if std::env::var_os("REVIEW_BOUNDS_STATS").is_some() {
            let fails = ours.lines().filter(|l| l.ends_with("-> fail")).count();
            let allocs = ours.lines().filter(|l| l.starts_with("alloc")).count();
            eprintln!("seed {seed}: {allocs} allocations, {fails} failed");
        }
        let linux = oracle::run(&oracle, &s);
        if ours != linux {
            let line = ours
                .lines()
                .zip(linux.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let path = std::env::temp_dir().join(format!("review_bounds_seed{seed}.script"));
            std::fs::write(&path, &s).unwrap();
            panic!(
                "seed {seed}: output line {line} differs (script in {}):\ncrate: {:?}\nlinux: {:?}",
                path.display(),
                ours.lines().nth(line),
                linux.lines().nth(line)
            );
        }
    }
}
