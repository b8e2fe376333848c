//! The reserved array's leaves (`src/store.rs`) across their boundaries: the indexed search against the linear
//! walk on arrays of thousands of regions in many leaves (frees and reservations over
//! leaf boundaries, bottom-up at the top of the address space), the `Regions` view
//! against a plain `Vec`, and the heap kept by the spare-leaf pool.

#![cfg(feature = "alloc")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use memblock::trace::Rng;
use memblock::{AllocLimit, ArrayKind, Memblock, NodeId, PhysAddr, PhysSize, Region, RegionFlags};

/// Live heap bytes allocated by this thread (tests run in parallel threads).
struct Counting;
std::thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}
fn add_live(d: isize) {
    let _ = LIVE.try_with(|c| c.set(c.get() + d));
}
fn live() -> isize {
    LIVE.with(Cell::get)
}
// SAFETY: every call is forwarded unchanged to the system allocator; the counter
// is a thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add_live(l.size() as isize);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add_live(-(l.size() as isize));
        // SAFETY: `p` came from `System` through this allocator, with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        add_live(n as isize - l.size() as isize);
        // SAFETY: as for `dealloc`; `n` is the caller's valid new size.
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn p(a: u64) -> PhysAddr {
    PhysAddr::new(a)
}
fn z(s: u64) -> PhysSize {
    PhysSize::new(s)
}

const GIB: u64 = 1 << 30;
/// Base of a node at the very top of the address space.
const TOP: u64 = u64::MAX - GIB + 1;

/// Four 1 GiB nodes from 0, and node 4 at the top of the address space.
fn machine() -> Memblock {
    let mut mb = Memblock::new();
    for n in 0..4u32 {
        mb.add_node(
            p(u64::from(n) * GIB),
            z(GIB),
            NodeId::new(n),
            RegionFlags::NONE,
        )
        .unwrap();
    }
    mb.add_node(p(TOP), z(GIB - 1), NodeId::new(4), RegionFlags::NONE)
        .unwrap();
    mb
}

/// An address in one of the nodes (a fifth of them at the top).
fn addr(r: &mut Rng) -> u64 {
    if r.chance(20) {
        TOP + (r.below(GIB >> 12) << 12)
    } else {
        r.below((4 * GIB) >> 12) << 12
    }
}

fn align(r: &mut Rng) -> u64 {
    match r.below(12) {
        0 => 0,
        1 => 0x3000,
        2 => 1 << 63,
        3 => r.next_u64(),
        4 => !r.below(1 << 24),
        _ => 1 << r.below(24),
    }
}

fn nid(r: &mut Rng) -> Option<NodeId> {
    if r.chance(30) {
        None
    } else {
        NodeId::new(r.below(5) as u32)
    }
}

/// The longest gaps between reserved regions (what the leaves summarise): requests of
/// about that size make the search skip leaves by their `longest` or stop at the edge.
fn long_gap(mb: &Memblock, r: &mut Rng) -> u64 {
    let v = mb.reserved();
    if v.len() < 2 {
        return 1 << 20;
    }
    let i = r.below(v.len() as u64 - 1) as usize;
    let g = v[i + 1].base.as_u64() - v[i].end().as_u64();
    match r.below(3) {
        0 => g,
        1 => g + 1,
        _ => g.saturating_sub(1).max(1),
    }
}

fn probe(mb: &Memblock, r: &mut Rng, what: &str) {
    for _ in 0..3 {
        let sz = if r.chance(50) {
            long_gap(mb, r)
        } else {
            (r.below(64) + 1) << 12
        };
        let al = align(r);
        let st = if r.chance(50) { 0 } else { addr(r) };
        let lim = match r.below(3) {
            0 => AllocLimit::Anywhere,
            1 => AllocLimit::Accessible,
            _ => AllocLimit::Addr(p(addr(r))),
        };
        let n = nid(r);
        let f = if r.chance(10) {
            RegionFlags::HOTPLUG
        } else {
            RegionFlags::NONE
        };
        assert_eq!(
            mb.find_in_range_node(z(sz), al, p(st), lim, n, f),
            mb.find_in_range_node_linear(z(sz), al, p(st), lim, n, f),
            "{what}: find size {sz:#x} align {al:#x} start {st:#x} {lim:?} {n:?} {f:?} bottom_up {}",
            mb.bottom_up()
        );
    }
}

fn run(seed: u64, fill: usize, steps: usize) {
    let mut r = Rng::new(seed);
    let mut mb = machine();
    mb.set_current_limit(p(u64::MAX));
    for _ in 0..fill {
        let a = addr(&mut r);
        let _ = mb.reserve(p(a), z((r.below(4) + 1) << 12));
    }
    let mut lin = mb.clone();
    lin.set_linear_search(true);
    mb.check_index().unwrap();
    let mut most = 0;
    for i in 0..steps {
        most = most.max(mb.reserved().len());
        let what = format!("seed {seed} step {i}");
        let a = addr(&mut r);
        // Spans of up to ~1000 regions (average spacing ~ 4 GiB / fill).
        if mb.reserved().len() < fill / 2 {
            // Keep many leaves: refill with small scattered reservations.
            let _ = mb.reserve(p(a), z(0x1000));
            let _ = lin.reserve(p(a), z(0x1000));
        }
        let span = if r.chance(3) {
            (r.below(1000) + 1) * (4 * GIB / fill as u64)
        } else {
            (r.below(8) + 1) << 12
        };
        let (x, y) = match r.below(10) {
            0..=2 => (
                format!("{:?}", mb.reserve(p(a), z(span))),
                format!("{:?}", lin.reserve(p(a), z(span))),
            ),
            3..=4 => (
                format!("{:?}", mb.free(p(a), z(span))),
                format!("{:?}", lin.free(p(a), z(span))),
            ),
            5 => {
                let b = r.chance(50);
                mb.set_bottom_up(b);
                lin.set_bottom_up(b);
                let m = r.chance(20);
                mb.set_movable_node(m);
                lin.set_movable_node(m);
                (String::new(), String::new())
            }
            6 if r.chance(10) => (
                format!("{:?}", mb.mark_hotplug(p(a), z(span))),
                format!("{:?}", lin.mark_hotplug(p(a), z(span))),
            ),
            _ => {
                let sz = if r.chance(30) {
                    long_gap(&mb, &mut r)
                } else {
                    (r.below(16) + 1) << 12
                };
                let (al, n) = (align(&mut r).max(1), nid(&mut r));
                (
                    format!(
                        "{:?}",
                        mb.alloc_try_nid(z(sz), al, p(0), AllocLimit::Anywhere, n)
                    ),
                    format!(
                        "{:?}",
                        lin.alloc_try_nid(z(sz), al, p(0), AllocLimit::Anywhere, n)
                    ),
                )
            }
        };
        assert_eq!(x, y, "{what}");
        assert!(mb.reserved() == lin.reserved(), "{what}");
        assert_eq!(mb.memory(), lin.memory(), "{what}");
        assert_eq!(
            mb.capacity(ArrayKind::Reserved),
            lin.capacity(ArrayKind::Reserved)
        );
        if let Err(e) = mb.check_index() {
            panic!("{what}: {e}");
        }
        probe(&mb, &mut r, &what);
    }
    assert!(most > 1000, "seed {seed}: at most {most} regions");
}

#[test]
fn many_leaves_differential() {
    let seeds: u64 = std::env::var("NUMABOOT_LEAF_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    for seed in 0..seeds {
        run(seed, 3000 + 1000 * (seed as usize % 5), 1500);
    }
}

/// Bottom-up at the top of the address space over thousands of regions in many leaves:
/// gaps whose `round_up` wraps (Linux fails there) must not be skipped by `longest`.
#[test]
fn top_of_address_space_many_leaves() {
    let mut r = Rng::new(77);
    for case in 0..30 {
        let mut mb = Memblock::new();
        mb.set_current_limit(p(u64::MAX));
        let base = u64::MAX - (1 << 32) + 1;
        mb.add_node(
            p(base),
            z(u64::MAX - base),
            NodeId::new(0),
            RegionFlags::NONE,
        )
        .unwrap();
        for _ in 0..2000 + r.below(3000) {
            let a = base + r.below(1 << 32);
            let _ = mb.reserve(p(a), z(r.below(1 << 16) + 1));
        }
        mb.check_index().unwrap();
        assert!(mb.reserved().len() > 600);
        mb.set_bottom_up(true);
        for _ in 0..300 {
            let al = match r.below(5) {
                0 => 1 << (20 + r.below(44)),
                1 => r.next_u64() | (1 << 63),
                2 => !r.below(1 << 24),
                3 => 1 << r.below(16),
                _ => r.next_u64(),
            };
            let sz = if r.chance(50) {
                long_gap(&mb, &mut r)
            } else {
                r.below(1 << 18) + 1
            };
            let st = if r.chance(50) {
                base + r.below(1 << 32)
            } else {
                0
            };
            let lim = if r.chance(50) {
                AllocLimit::Anywhere
            } else {
                AllocLimit::Addr(p(base + r.below(1 << 32)))
            };
            let n = if r.chance(50) { None } else { NodeId::new(0) };
            assert_eq!(
                mb.find_in_range_node(z(sz), al, p(st), lim, n, RegionFlags::NONE),
                mb.find_in_range_node_linear(z(sz), al, p(st), lim, n, RegionFlags::NONE),
                "case {case}: size {sz:#x} align {al:#x} start {st:#x} {lim:?} {n:?}"
            );
        }
    }
}

/// The view against a `Vec` copy: indexing, ranges both ways and interleaved,
/// `len` of the iterators, `nth`, `partition_point`, `pieces`.
#[test]
fn view_matches_vec() {
    let mut r = Rng::new(5);
    let mut mb = machine();
    for n in [0usize, 1, 255, 256, 257, 300, 1000, 5000] {
        while mb.reserved().len() < n {
            let _ = mb.reserve(p(r.below((4 * GIB) >> 12) << 12), z(0x1000));
        }
        let v = mb.reserved();
        let m: Vec<Region> = v.to_vec();
        assert_eq!(v.len(), m.len());
        assert_eq!(v.first(), m.first());
        assert_eq!(v.last(), m.last());
        let joined: Vec<Region> = v.pieces().flatten().copied().collect();
        assert_eq!(joined, m);
        let back: Vec<Region> = v
            .pieces()
            .rev()
            .flat_map(|s| s.iter().rev())
            .copied()
            .collect();
        assert!(back.iter().eq(m.iter().rev()));
        for i in 0..m.len() + 2 {
            assert_eq!(v.get(i), m.get(i));
        }
        for _ in 0..300 {
            let lo = r.below(m.len() as u64 + 3) as usize;
            let hi = r.below(m.len() as u64 + 3) as usize;
            let want: &[Region] = if lo <= hi && lo <= m.len() {
                &m[lo..hi.min(m.len())]
            } else {
                &[]
            };
            let mut it = v.range(lo..hi);
            assert_eq!(it.len(), want.len());
            // Random interleaving of both ends.
            let (mut a, mut b) = (0usize, want.len());
            loop {
                let front = r.chance(50);
                let got = if front { it.next() } else { it.next_back() };
                if a == b {
                    assert_eq!(got, None);
                    assert_eq!(it.next(), None);
                    assert_eq!(it.next_back(), None);
                    break;
                }
                if front {
                    assert_eq!(got, Some(&want[a]));
                    a += 1;
                } else {
                    b -= 1;
                    assert_eq!(got, Some(&want[b]));
                }
                assert_eq!(it.len(), b - a);
            }
            let k = r.below(want.len() as u64 + 2) as usize;
            assert_eq!(v.range(lo..hi).nth(k), want.get(k));
            assert_eq!(v.range(lo..hi).rev().nth(k), want.iter().rev().nth(k));
            #[allow(clippy::double_ended_iterator_last)] // `last` itself is under test
            let last = v.range(lo..hi).last();
            assert_eq!(last, want.last());
            assert_eq!(v.range(lo..hi).count(), want.len());
            let key = r.below(4 * GIB);
            assert_eq!(
                v.partition_point(|x| x.base.as_u64() < key),
                m.partition_point(|x| x.base.as_u64() < key)
            );
            assert_eq!(
                v.partition_point(|x| x.end().as_u64() <= key),
                m.partition_point(|x| x.end().as_u64() <= key)
            );
        }
    }
}

/// Heap the reserved array keeps after one reservation over thousands of holes: the
/// spare-leaf pool is topped up to one 6 KiB leaf per hole.
#[test]
fn spare_leaf_pool_after_a_covering_reservation() {
    let mut mb = Memblock::new();
    mb.add(p(0), z(4 * GIB)).unwrap();
    let n = 20_000u64;
    for i in 0..n {
        mb.reserve(p(0x10_0000 + i * 0x4000), z(0x1000)).unwrap();
    }
    let before = live();
    // One call, n holes: Linux inserts n pieces, which merge into one region.
    mb.reserve(p(0x10_0000), z(n * 0x4000)).unwrap();
    let after = live();
    // The pieces merged into one region (plus the grown array's own reservation).
    assert!(mb.reserved().len() <= 2, "{}", mb.reserved().len());
    let kept = after - before;
    eprintln!("heap kept by one covering reservation: {kept} bytes");
    // The array went from 20 000 regions (~480 KB) to one; a few leaves of spares
    // would be ~30 KB.
    assert!(kept < 1 << 20, "{kept} bytes kept for a one-region array");
}

/// Frees that straddle leaf boundaries leave both sides' leaves small, and only the
/// first touched leaf is ever joined (with its left neighbour): an array can end up
/// with one region per leaf (each holding a 256-region buffer).
#[test]
fn straddling_frees_leave_one_region_leaves() {
    let mut mb = Memblock::new();
    mb.add(p(0), z(4 * GIB)).unwrap();
    let n = 128 * 64u64;
    for i in 0..n {
        mb.reserve(p(0x10_0000 + i * 0x4000), z(0x1000)).unwrap();
    }
    let at = |i: u64| 0x10_0000 + i * 0x4000;
    // Sequential reservations leave leaves of 128: free regions 128j+1 ..= 128j+254
    // for every other boundary, from the top down (so that the left neighbour of the
    // first touched leaf is still full and no join happens).
    let mut j = n / 128 - 2;
    loop {
        let lo = at(128 * j + 1);
        let hi = at(128 * j + 255);
        mb.free(p(lo), z(hi - lo)).unwrap();
        if j < 2 {
            break;
        }
        j -= 2;
    }
    mb.check_index().unwrap();
    let leaves = mb.reserved().pieces().count();
    let len = mb.reserved().len();
    eprintln!("{len} regions in {leaves} leaves");
    assert!(leaves <= len / 64 + 2, "{len} regions in {leaves} leaves");
}

/// Every kind of change at a leaf boundary (the first region of a leaf, the last of
/// the one before, the gap between them, which the later leaf owns), on arrays of one
/// to several leaves, then searches sized to the gaps around it, both directions.
#[test]
fn changes_at_leaf_boundaries() {
    boundary_checks(false);
    // Leaves full (256 regions): an insert at the boundary splits a leaf.
    boundary_checks(true);
}

fn boundary_checks(full: bool) {
    // Region i: 0x1000 bytes; gaps of varying lengths, the longest every 128th.
    let mut base = Memblock::new();
    base.add(p(0), z(16 * GIB)).unwrap();
    let mut starts = Vec::new();
    let mut at = 0x10_0000u64;
    for i in 0..700u64 {
        starts.push(at);
        base.reserve(p(at), z(0x1000)).unwrap();
        let gap = if i % 128 == 127 {
            0x40_0000 + i * 0x1000
        } else {
            0x1000 * (2 + (i * 7919) % 13)
        };
        at += 0x1000 + gap;
    }
    if full {
        // One region in the middle of the gap below each region: every leaf of 128
        // gets 128 more without splitting.
        for i in 1..640 {
            let e = starts[i - 1] + 0x1000;
            base.reserve(p(((e + starts[i]) / 2) & !0xfff), z(0x100))
                .unwrap();
        }
        base.reserve(p(starts[0] - 0x2000), z(0x100)).unwrap();
    }
    base.check_index().unwrap();
    let boundaries: Vec<usize> = {
        let mut b = Vec::new();
        let mut s = 0;
        for piece in base.reserved().pieces() {
            s += piece.len();
            b.push(s);
        }
        b
    };
    assert!(boundaries.len() > 3, "{boundaries:?}");
    type Op = fn(&mut Memblock, u64, u64, u64) -> String;
    // (prev end, this base, this end) of regions b - 1 and b.
    let ops: [(&str, Op); 10] = [
        ("extend first down", |m, _, b, _| {
            format!("{:?}", m.reserve(p(b - 0x1000), z(0x1000)))
        }),
        ("extend last up", |m, e, _, _| {
            format!("{:?}", m.reserve(p(e), z(0x1000)))
        }),
        ("bridge", |m, e, b, _| {
            format!("{:?}", m.reserve(p(e), z(b - e)))
        }),
        ("free first", |m, _, b, _| {
            format!("{:?}", m.free(p(b), z(0x1000)))
        }),
        ("free last", |m, e, _, _| {
            format!("{:?}", m.free(p(e - 0x1000), z(0x1000)))
        }),
        ("free straddle", |m, e, b, _| {
            format!("{:?}", m.free(p(e - 0x800), z(b - e + 0x1000)))
        }),
        ("new in gap", |m, e, b, _| {
            format!("{:?}", m.reserve(p(((e + b) / 2) & !0xfff), z(0x100)))
        }),
        ("split first", |m, _, b, _| {
            format!("{:?}", m.free(p(b + 0x400), z(0x400)))
        }),
        ("free both and more", |m, e, _, te| {
            format!("{:?}", m.free(p(e - 0x1000), z(te - e + 0x80_0000)))
        }),
        ("reserve over both", |m, e, _, te| {
            format!("{:?}", m.reserve(p(e - 0x1800), z(te - e + 0x3000)))
        }),
    ];
    let mut r = Rng::new(99);
    let mut searches = 0;
    for &b in boundaries.iter().chain([0usize, 1, 699].iter()) {
        let v = base.reserved();
        let (Some(prev), Some(this)) = (b.checked_sub(1).and_then(|i| v.get(i)), v.get(b)) else {
            continue;
        };
        let (e, tb, te) = (prev.end().as_u64(), this.base.as_u64(), this.end().as_u64());
        for (name, op) in ops {
            for bu in [false, true] {
                let mut mb = base.clone();
                mb.set_bottom_up(bu);
                let mut lin = mb.clone();
                lin.set_linear_search(true);
                let what = format!("boundary {b} {name} bottom_up {bu}");
                assert_eq!(op(&mut mb, e, tb, te), op(&mut lin, e, tb, te), "{what}");
                assert!(mb.reserved() == lin.reserved(), "{what}");
                mb.check_index().unwrap_or_else(|x| panic!("{what}: {x}"));
                // Searches sized to the gaps near the boundary.
                let v = mb.reserved();
                let k = v.partition_point(|x| x.base.as_u64() < tb);
                for g in k.saturating_sub(2)..(k + 3).min(v.len()) {
                    let lo = g.checked_sub(1).map_or(0, |i| v[i].end().as_u64());
                    let len = v[g].base.as_u64() - lo;
                    for sz in [len.saturating_sub(1).max(1), len, len + 1] {
                        for al in [1u64, 0x1000, 0x10_0000, 0x3000] {
                            let lim = if r.chance(50) {
                                AllocLimit::Anywhere
                            } else {
                                AllocLimit::Addr(p(v[g].base.as_u64()))
                            };
                            let st = if r.chance(50) { 0 } else { lo };
                            searches += 1;
                            assert_eq!(
                                mb.find_in_range_node(
                                    z(sz),
                                    al,
                                    p(st),
                                    lim,
                                    None,
                                    RegionFlags::NONE
                                ),
                                mb.find_in_range_node_linear(
                                    z(sz),
                                    al,
                                    p(st),
                                    lim,
                                    None,
                                    RegionFlags::NONE
                                ),
                                "{what}: gap {g} size {sz:#x} align {al:#x} start {st:#x} {lim:?}"
                            );
                        }
                    }
                }
                // And an allocation of the longest gap's size.
                let sz = 0x40_0000 + 0x1000 * (b as u64);
                assert_eq!(
                    format!(
                        "{:?}",
                        mb.alloc_try_nid(z(sz), 0x1000, p(0), AllocLimit::Anywhere, None)
                    ),
                    format!(
                        "{:?}",
                        lin.alloc_try_nid(z(sz), 0x1000, p(0), AllocLimit::Anywhere, None)
                    ),
                    "{what}"
                );
                mb.check_index()
                    .unwrap_or_else(|x| panic!("{what}: alloc: {x}"));
            }
        }
    }
    eprintln!(
        "{:?}: {searches} searches",
        base.reserved()
            .pieces()
            .map(<[Region]>::len)
            .collect::<Vec<_>>()
    );
    assert!(searches > 1000);
}

/// Many leaves down to none and back: free everything, free all but the first or the
/// last region, in one call and region by region from either end.
#[test]
fn empty_and_single_region_transitions() {
    let build = || {
        // Big enough not to grow: no reservation of its own, so the array can empty.
        let mut mb = Memblock::with_config(memblock::Config {
            initial_regions: 2048,
            ..memblock::Config::default()
        });
        mb.add(p(0), z(4 * GIB)).unwrap();
        for i in 0..700u64 {
            mb.reserve(p(0x10_0000 + i * 0x4000), z(0x1000)).unwrap();
        }
        let mut lin = mb.clone();
        lin.set_linear_search(true);
        (mb, lin)
    };
    let at = |i: u64| 0x10_0000 + i * 0x4000;
    let same = |mb: &mut Memblock, lin: &mut Memblock, what: &str| {
        assert!(mb.reserved() == lin.reserved(), "{what}");
        mb.check_index().unwrap_or_else(|e| panic!("{what}: {e}"));
        for bu in [false, true] {
            mb.set_bottom_up(bu);
            lin.set_bottom_up(bu);
            for sz in [0x1000u64, 0x3000, 0x3001, 1 << 20, 3 << 30] {
                let a = mb.find_in_range_node(
                    z(sz),
                    0x1000,
                    p(0),
                    AllocLimit::Anywhere,
                    None,
                    RegionFlags::NONE,
                );
                let b = lin.find_in_range_node(
                    z(sz),
                    0x1000,
                    p(0),
                    AllocLimit::Anywhere,
                    None,
                    RegionFlags::NONE,
                );
                assert_eq!(a, b, "{what}: size {sz:#x} bottom_up {bu}");
            }
        }
    };
    type Plan = fn(&mut Memblock, u64, u64) -> String;
    let plans: [(&str, Plan); 3] = [
        ("all", |m, lo, hi| {
            format!("{:?}", m.free(p(lo), z(hi - lo)))
        }),
        ("all but first", |m, lo, hi| {
            format!("{:?}", m.free(p(lo + 0x4000), z(hi - lo - 0x4000)))
        }),
        ("all but last", |m, lo, hi| {
            format!("{:?}", m.free(p(lo), z(hi - lo - 0x4000)))
        }),
    ];
    for (name, plan) in plans {
        let (mut mb, mut lin) = build();
        let (lo, hi) = (at(0), at(700));
        assert_eq!(plan(&mut mb, lo, hi), plan(&mut lin, lo, hi), "{name}");
        assert!(mb.reserved().len() <= 1, "{name}");
        same(&mut mb, &mut lin, name);
        for i in 0..300u64 {
            let a = at(700 - i) + 0x2000;
            assert_eq!(
                format!("{:?}", mb.reserve(p(a), z(0x1000))),
                format!("{:?}", lin.reserve(p(a), z(0x1000)))
            );
        }
        same(&mut mb, &mut lin, &format!("{name} then refilled"));
    }
    for from_top in [false, true] {
        let (mut mb, mut lin) = build();
        for k in 0..700u64 {
            let i = if from_top { 699 - k } else { k };
            assert_eq!(
                format!("{:?}", mb.free(p(at(i)), z(0x1000))),
                format!("{:?}", lin.free(p(at(i)), z(0x1000)))
            );
            if k == 699 {
                assert!(mb.reserved().is_empty());
            }
            if k % 37 == 0 || k > 690 {
                same(
                    &mut mb,
                    &mut lin,
                    &format!("one by one, top {from_top}, {k}"),
                );
            }
        }
    }
}
