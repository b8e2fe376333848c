//! The indexed free-range search against the linear walk it replaces (the reference,
//! itself checked against Linux's `mm/memblock.c` by `model_equivalence.rs` and
//! `linux_oracle.rs`).
//!
//! Two memblocks receive the same random operation sequence: one searches with the gap
//! index, the other with [`Memblock::set_linear_search`]. After every operation both
//! must have returned the same result and hold the same arrays, capacities and array
//! locations, the index must match the reserved array, and random direct searches
//! ([`Memblock::find_in_range_node`], with every request flag, node rule, range, limit,
//! alignment and direction) must agree with the reference on the same state.
//!
//! The generator is a small seeded PRNG rather than proptest, so that the CI-sized run
//! of 100 000 sequences stays in seconds; a failure prints the seed and the step.
//! `NUMABOOT_LONG=1` runs 2 000 000 sequences (and 600 fragmented arrays of thousands of
//! regions in many leaves instead of 6); `NUMABOOT_INDEX_SEQUENCES=N` any count.

#![cfg(feature = "alloc")]

use memblock::{AllocLimit, ArrayKind, Config, Memblock, NodeId, PhysAddr, PhysSize, RegionFlags};

mod xorshift;
use xorshift::Rng;

/// Addresses on a 0x100 grid below 0x10000 (so that ranges overlap, merge and split),
/// with a few at the top of the address space (where bottom-up `round_up` wraps) and a
/// few anywhere.
fn addr(r: &mut Rng) -> u64 {
    match r.below(40) {
        0 => u64::MAX - r.below(0x10) * 0x100,
        1 => r.next(),
        2 => (1u64 << 63) + r.below(0x10) * 0x100,
        _ => r.below(0x100) * 0x100,
    }
}

fn size(r: &mut Rng) -> u64 {
    match r.below(40) {
        0 => u64::MAX,
        1 => r.next(),
        2 => r.below(0x100) + 1,
        _ => r.below(0x20) * 0x100,
    }
}

fn alloc_size(r: &mut Rng) -> u64 {
    match r.below(30) {
        0 => 0,
        1 => u64::MAX,
        2 => r.below(0x1000) + 1,
        _ => (r.below(0x18) + 1) * 0x80,
    }
}

fn align(r: &mut Rng) -> u64 {
    match r.below(20) {
        0 => 0,
        1 => 0x300, // not a power of two: Linux's mask arithmetic
        2 => 1 << 63,
        3 => r.next(),
        _ => 1 << r.below(14),
    }
}

fn nid(r: &mut Rng) -> Option<NodeId> {
    if r.chance(25) {
        None
    } else {
        NodeId::new(r.below(4) as u32)
    }
}

fn limit(r: &mut Rng) -> AllocLimit {
    match r.below(5) {
        0 => AllocLimit::Accessible,
        1 => AllocLimit::Anywhere,
        2 => AllocLimit::Addr(PhysAddr::new(1)),
        _ => AllocLimit::Addr(PhysAddr::new(addr(r))),
    }
}

fn flags(r: &mut Rng) -> RegionFlags {
    RegionFlags::from_bits_truncate(r.below(16) as u32)
}

type State = (
    Vec<memblock::Region>,
    Vec<memblock::Region>,
    PhysSize,
    PhysSize,
    [usize; 2],
    [Option<PhysAddr>; 2],
    u64,
);

fn state(mb: &Memblock) -> State {
    (
        mb.memory().to_vec(),
        mb.reserved().to_vec(),
        mb.phys_mem_size(),
        mb.reserved_size(),
        [
            mb.capacity(ArrayKind::Memory),
            mb.capacity(ArrayKind::Reserved),
        ],
        [
            mb.array_location(ArrayKind::Memory),
            mb.array_location(ArrayKind::Reserved),
        ],
        mb.undone_growths(),
    )
}

/// Applies one random operation to `mb`, drawing its parameters from `r`; returns a
/// printable result (and a description for failure messages).
fn step(mb: &mut Memblock, r: &mut Rng) -> (String, String) {
    let p = PhysAddr::new;
    let z = PhysSize::new;
    let op = r.below(100);
    let (a, s) = (addr(r), size(r));
    macro_rules! done {
        ($name:expr, $res:expr) => {
            (format!("{:?}", $res), format!("{} {a:#x} {s:#x}", $name))
        };
    }
    match op {
        0..=11 => {
            let (n, f) = (
                nid(r),
                if r.chance(15) {
                    flags(r)
                } else {
                    RegionFlags::NONE
                },
            );
            let res = mb.add_node(p(a), z(s), n, f);
            (
                format!("{res:?}"),
                format!("add_node {a:#x} {s:#x} {n:?} {f:?}"),
            )
        }
        12..=14 => done!("add", mb.add(p(a), z(s))),
        15..=27 => done!("reserve", mb.reserve(p(a), z(s))),
        28..=31 => done!("remove", mb.remove(p(a), z(s))),
        32..=38 => done!("free", mb.free(p(a), z(s))),
        39..=40 => done!("mark_hotplug", mb.mark_hotplug(p(a), z(s))),
        41 => done!("clear_hotplug", mb.clear_hotplug(p(a), z(s))),
        42 => done!("mark_nomap", mb.mark_nomap(p(a), z(s))),
        43 => done!("clear_nomap", mb.clear_nomap(p(a), z(s))),
        44..=46 => {
            let n = nid(r);
            let res = match n {
                Some(n) => mb.set_node(p(a), z(s), n),
                None => mb.set_node_raw(p(a), z(s), None),
            };
            (format!("{res:?}"), format!("set_node {a:#x} {s:#x} {n:?}"))
        }
        47 => {
            let l = addr(r);
            mb.set_current_limit(p(l));
            (String::new(), format!("limit {l:#x}"))
        }
        48..=49 => {
            let b = r.chance(50);
            mb.set_bottom_up(b);
            (String::new(), format!("bottom_up {b}"))
        }
        50 => {
            let b = r.chance(50);
            mb.set_movable_node(b);
            (String::new(), format!("movable {b}"))
        }
        _ => {
            let (sz, al, st, lim, n) = (alloc_size(r), align(r), addr(r), limit(r), nid(r));
            let which = r.below(4);
            let res = match which {
                0 => mb.alloc_try_nid(z(sz), al, p(st), lim, n),
                1 => mb.alloc_exact_nid(z(sz), al, p(st), lim, n),
                2 => mb.alloc_range_nid(z(sz), al, p(st), lim, n, r.chance(50)),
                _ => mb.phys_alloc_range(z(sz), al, p(st), lim),
            };
            (
                format!("{res:?}"),
                format!("alloc#{which} size {sz:#x} align {al:#x} start {st:#x} {lim:?} {n:?}"),
            )
        }
    }
}

/// Random direct searches on the current state: indexed and linear must agree.
fn probe(mb: &Memblock, r: &mut Rng, seed: u64, i: usize) {
    for _ in 0..2 {
        let (sz, al, st, lim, n, f) = (
            alloc_size(r),
            align(r),
            addr(r),
            limit(r),
            nid(r),
            if r.chance(30) {
                flags(r)
            } else {
                RegionFlags::NONE
            },
        );
        let z = PhysSize::new(sz);
        let ours = mb.find_in_range_node(z, al, PhysAddr::new(st), lim, n, f);
        let reference = mb.find_in_range_node_linear(z, al, PhysAddr::new(st), lim, n, f);
        assert_eq!(
            ours,
            reference,
            "seed {seed:#x} step {i}: find size {sz:#x} align {al:#x} start {st:#x} {lim:?} \
             {n:?} {f:?} bottom_up {} movable {}\n{mb}",
            mb.bottom_up(),
            mb.movable_node()
        );
    }
}

fn run_sequence(seed: u64) {
    let mut r = Rng(seed | 1);
    let config = Config {
        page_size: r.pick(&[0x100, 0x1000]),
        initial_regions: r.pick(&[1, 2, 3, 4, 8, 128]),
        smp_cache_bytes: 128,
        allow_resize: !r.chance(20),
    };
    let mut indexed = Memblock::with_config(config);
    let mut linear = Memblock::with_config(config);
    linear.set_linear_search(true);
    let len = 10 + r.below(70) as usize;
    for i in 0..len {
        // Same draws for both: replay the generator from a saved state.
        let saved = r.0;
        let (ours, what) = step(&mut indexed, &mut r);
        let after = r.0;
        r.0 = saved;
        let (theirs, _) = step(&mut linear, &mut r);
        assert_eq!(r.0, after);
        assert_eq!(ours, theirs, "seed {seed:#x} step {i}: {what}\n{linear}");
        assert!(
            state(&indexed) == state(&linear),
            "seed {seed:#x} step {i}: {what}: states differ\nindexed:\n{indexed}\nlinear:\n{linear}"
        );
        if let Err(e) = indexed.check_index() {
            panic!("seed {seed:#x} step {i}: {what}: index broken: {e}\n{indexed}");
        }
        probe(&indexed, &mut r, seed, i);
    }
}

fn sequences() -> u64 {
    if let Some(n) = std::env::var("NUMABOOT_INDEX_SEQUENCES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::var_os("NUMABOOT_LONG").is_some_and(|v| v == "1") {
        2_000_000
    } else {
        100_000
    }
}

/// At least 100 000 random sequences (more with `NUMABOOT_LONG=1`), spread over the
/// test threads available.
#[test]
fn indexed_search_matches_linear_walk() {
    let total = sequences();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(t + 1);
                for k in (t..total).step_by(threads as usize) {
                    seed = seed.wrapping_add(k.wrapping_mul(0xbf58_476d_1ce4_e5b9));
                    run_sequence(seed);
                }
            });
        }
    });
}

/// Many reserved regions (thousands of gaps in many leaves of the reserved array) with node-local
/// and fallback allocations both ways, and reservations and frees over hundreds of
/// regions at once, compared step by step.
#[test]
fn fragmented_reserved_array() {
    let seeds = if std::env::var_os("NUMABOOT_LONG").is_some_and(|v| v == "1") {
        600u64
    } else {
        6
    };
    for seed in 1..=seeds {
        let mut r = Rng(seed.wrapping_mul(0x1234_5678_9abc_def1));
        let mut indexed = Memblock::new();
        for n in 0..4u32 {
            indexed
                .add_node(
                    PhysAddr::new(u64::from(n) << 30),
                    PhysSize::new(1 << 30),
                    NodeId::new(n),
                    RegionFlags::NONE,
                )
                .unwrap();
        }
        let mut linear = indexed.clone();
        linear.set_linear_search(true);
        for i in 0..6000 {
            let base = r.below(1 << 20) << 12;
            // Now and then a range over hundreds of regions (several index chunks
            // replaced at once).
            let sz = if r.chance(1) {
                (r.below(1 << 14) + 1) << 12
            } else {
                (r.below(16) + 1) << 12
            };
            let (a, b) = if r.chance(60) {
                (
                    format!(
                        "{:?}",
                        indexed.reserve(PhysAddr::new(base), PhysSize::new(sz))
                    ),
                    format!(
                        "{:?}",
                        linear.reserve(PhysAddr::new(base), PhysSize::new(sz))
                    ),
                )
            } else if r.chance(20) {
                (
                    format!("{:?}", indexed.free(PhysAddr::new(base), PhysSize::new(sz))),
                    format!("{:?}", linear.free(PhysAddr::new(base), PhysSize::new(sz))),
                )
            } else {
                let bu = r.chance(30);
                indexed.set_bottom_up(bu);
                linear.set_bottom_up(bu);
                let (sz, al, n) = ((r.below(64) + 1) << 12, 1u64 << r.below(20), nid(&mut r));
                let lim = AllocLimit::Addr(PhysAddr::new((r.below(4) + 1) << 30));
                (
                    format!(
                        "{:?}",
                        indexed.alloc_try_nid(PhysSize::new(sz), al, PhysAddr::ZERO, lim, n)
                    ),
                    format!(
                        "{:?}",
                        linear.alloc_try_nid(PhysSize::new(sz), al, PhysAddr::ZERO, lim, n)
                    ),
                )
            };
            assert_eq!(a, b, "seed {seed} step {i}");
            assert!(
                indexed.reserved() == linear.reserved(),
                "seed {seed} step {i}"
            );
            if i % 10 == 0 {
                indexed.check_index().unwrap();
            }
            if i % 50 == 0 {
                probe(&indexed, &mut r, seed, i);
            }
        }
        assert!(
            indexed.reserved().len() > 1000,
            "{}",
            indexed.reserved().len()
        );
        indexed.check_index().unwrap();
        probe(&indexed, &mut r, seed, 0);
    }
}

/// Memory at the very top of the address space, where Linux's bottom-up `round_up`
/// wraps to 0 (and the walk stops with a failure), with alignments that are not powers
/// of two (whose masks make only some of those gaps wrap): the indexed search must
/// stop, or not, exactly where the walk does.
#[test]
fn top_of_address_space() {
    let mut r = Rng(0x5eed);
    for case in 0..3000 {
        let mut mb = Memblock::new();
        let top = u64::MAX - r.below(1 << 20);
        let base = top - (1 << 24) - r.below(1 << 20);
        mb.add_node(
            PhysAddr::new(base),
            PhysSize::new(top - base),
            NodeId::new(0),
            RegionFlags::NONE,
        )
        .unwrap();
        for _ in 0..r.below(300) {
            let at = base + r.below(top - base);
            let _ = mb.reserve(PhysAddr::new(at), PhysSize::new(r.below(1 << 16) + 1));
        }
        mb.set_bottom_up(r.chance(70));
        for _ in 0..50 {
            let al = match r.below(4) {
                0 => 1 << (40 + r.below(24)),
                1 => r.next() | (1 << 63),
                2 => !r.below(1 << 20),
                _ => r.next(),
            };
            let sz = PhysSize::new(r.below(1 << 18) + 1);
            let st = PhysAddr::new(if r.chance(50) {
                base + r.below(top - base)
            } else {
                0
            });
            let lim = if r.chance(50) {
                AllocLimit::Anywhere
            } else {
                AllocLimit::Addr(PhysAddr::new(base + r.below(top - base)))
            };
            let n = if r.chance(50) { None } else { NodeId::new(0) };
            assert_eq!(
                mb.find_in_range_node(sz, al, st, lim, n, RegionFlags::NONE),
                mb.find_in_range_node_linear(sz, al, st, lim, n, RegionFlags::NONE),
                "case {case}: size {sz} align {al:#x} start {st} {lim:?} {n:?}\n{mb}"
            );
        }
    }
}
