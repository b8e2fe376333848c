//! Edges of `memblock.rs` that the 2026-12-01 mutation sample of the crate's core found
//! untested (docs/MUTATION.md, "memblock's core, 1 in 6").

use memblock::{Config, Memblock, NodeId, RegionNid};

/// `Config::page_size` is rounded up to a power of two; past 2^63 there is none in a
/// `u64`, and the largest one, 2^63, is used (a value that wrapped to 0 would let an
/// allocation return address 0).
#[test]
fn page_sizes_round_up_to_a_power_of_two_and_saturate() {
    for (asked, used) in [
        (0, 1),
        (1, 1),
        (3, 4),
        (0x1_0000, 0x1_0000),
        (0x1_0001, 0x2_0000),
        (1 << 63, 1 << 63),
        ((1 << 63) + 1, 1 << 63),
        (u64::MAX, 1 << 63),
    ] {
        let config = Config {
            page_size: asked,
            ..Config::default()
        };
        assert_eq!(
            Memblock::with_config(config).config().page_size,
            used,
            "{asked:#x}"
        );
        assert_eq!(
            Memblock::<4>::sized_with_config(config).config().page_size,
            used,
            "{asked:#x}"
        );
    }
}

/// Linux's `should_skip_region`: memory added as driver-managed (kexec'd or hotplugged
/// by a driver, `memblock_add_node(.., MEMBLOCK_DRIVER_MANAGED)`) is never allocated
/// from unless the caller asks for it, in either direction.
#[test]
fn driver_managed_memory_is_skipped() {
    use memblock::{AllocLimit, PhysAddr, PhysSize, RegionFlags};
    for bottom_up in [false, true] {
        let mut mb = Memblock::new();
        let node = NodeId::new(0);
        // Ordinary memory in the middle, driver-managed below and above it.
        for (gib, flags) in [
            (0, RegionFlags::DRIVER_MANAGED),
            (1, RegionFlags::NONE),
            (2, RegionFlags::DRIVER_MANAGED),
        ] {
            mb.add_node(
                PhysAddr::new(gib << 30),
                PhysSize::new(1 << 30),
                node,
                flags,
            )
            .unwrap();
        }
        mb.set_bottom_up(bottom_up);
        assert_eq!(mb.bottom_up(), bottom_up);
        let a = mb
            .alloc_try_nid(
                PhysSize::new(0x1000),
                0x1000,
                PhysAddr::ZERO,
                AllocLimit::Anywhere,
                None,
            )
            .unwrap()
            .as_u64();
        assert!(
            (1 << 30..2 << 30).contains(&a),
            "bottom_up {bottom_up}: {a:#x}"
        );
        assert!(mb
            .free_ranges(None)
            .all(|(s, e, _)| s.as_u64() >= 1 << 30 && e.as_u64() <= 2 << 30));
        let with = mb
            .free_ranges_with(None, RegionFlags::DRIVER_MANAGED, false)
            .count();
        assert_eq!(
            with, 3,
            "asked for, the driver-managed ranges are free ranges too"
        );
    }
}

/// The `int` Linux stores for each kind of node id (what `memblock=debug` prints).
#[test]
fn linux_signed_node_ids() {
    for n in [0, 3, 255] {
        assert_eq!(
            RegionNid::Node(NodeId::new(n).unwrap()).linux_signed(),
            n as i32
        );
    }
    assert_eq!(RegionNid::MaxNumNodes.linux_signed(), 256);
    assert_eq!(RegionNid::NumaNoNode.linux_signed(), -1);
}

#[cfg(feature = "alloc")]
mod trace {
    use memblock::replay::{apply, parse_line};
    use memblock::trace::{random_script, BootTrace};
    use memblock::Memblock;

    /// The boot-like script is the trace `BootTrace::run` performs, written out: replayed,
    /// it leaves the same arrays, including for CPUs past node 255, whose allocations
    /// name no node (`-1`, Linux's `NUMA_NO_NODE`).
    #[test]
    fn boot_script_replays_to_the_run() {
        let t = BootTrace {
            cpus: 300,
            nodes: 300,
            node_mem: 64 << 20,
            rma_size: 4 << 30,
            free_every: 4,
        };
        let mut ran = t.setup();
        let stats = t.run(&mut ran).unwrap();
        let script = t.script().unwrap();
        assert_eq!(
            script.lines().filter(|l| l.ends_with(" -1")).count(),
            44 * 4,
            "CPUs 256..300 have no node"
        );
        let mut replayed = Memblock::new();
        let mut out = String::new();
        for line in script.lines() {
            if let Some(op) = parse_line(line).unwrap() {
                apply(&mut replayed, &op, &mut out).unwrap();
            }
        }
        assert_eq!(replayed.memory(), ran.memory());
        assert_eq!(replayed.reserved().to_vec(), ran.reserved().to_vec());
        assert_eq!(stats.reserved_regions, replayed.reserved().len());
    }

    /// Freeing every CPU (`free_every` 1) or none (`u32::MAX`, more than any CPU count)
    /// both run; only the freed CPUs' blocks are kept, one per `free_every` CPUs.
    #[test]
    fn free_every_extremes() {
        for (every, frees) in [(1, 2 * 4), (u32::MAX, 0)] {
            let t = BootTrace {
                cpus: 2,
                nodes: 2,
                node_mem: 64 << 20,
                rma_size: 4 << 30,
                free_every: every,
            };
            let mut mb = t.setup();
            let stats = t.run(&mut mb).unwrap();
            assert_eq!(stats.frees, frees, "free_every {every}");
        }
    }

    /// `Rng::chance(p)` is true `p` times in a hundred: never for 0, always for 100,
    /// and for 1 about once in a hundred draws (a draw of 0 out of `0..100`).
    #[test]
    fn chance_is_percent() {
        let mut r = memblock::trace::Rng::new(3);
        assert!((0..10_000).all(|_| !r.chance(0)));
        assert!((0..10_000).all(|_| r.chance(100)));
        let ones = (0..100_000).filter(|_| r.chance(1)).count();
        assert!((800..1200).contains(&ones), "{ones} of 100 000");
    }

    /// `MAX_CPUS` is the largest trace accepted, by `run` and `script` alike; on a node
    /// whose memory the setup's 64 MiB reservation leaves 1 MiB of, most allocations
    /// fail, and they are counted as failed.
    #[test]
    fn max_cpus_is_accepted_and_failures_are_counted() {
        let t = BootTrace {
            cpus: BootTrace::MAX_CPUS,
            nodes: 1,
            node_mem: 65 << 20,
            rma_size: 4 << 30,
            free_every: 2,
        };
        let mut mb = t.setup();
        let stats = t.run(&mut mb).unwrap();
        assert_eq!(stats.allocs, 4 * u64::from(BootTrace::MAX_CPUS));
        assert!(stats.failed_allocs > stats.allocs - 1000, "{stats:?}");
        assert_eq!(stats.ops(), stats.allocs + stats.frees);
        assert!(stats.ops() > stats.allocs);
        assert!(t.script().is_ok());
        let over = BootTrace {
            cpus: BootTrace::MAX_CPUS + 1,
            ..t
        };
        assert!(over.run(&mut over.setup()).is_err());
        assert!(over.script().is_err());
    }

    fn hex(s: &str) -> u64 {
        u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
    }

    /// The random script's documented shape: every kind of operation occurs; memory
    /// changes are 4 MiB blocks (removals a quarter of one to one); random
    /// reservations are 256 B to 16 KiB, frees of random ranges (not earlier
    /// allocations) 4 KiB to 256 KiB on the 4 KiB grid, allocations 128 B to 8 KiB in
    /// 128-byte steps; a limit is either none or at least the middle of the 256 MiB span.
    #[test]
    fn random_script_has_its_documented_shape() {
        let script = random_script(7, 20_000);
        let mut kinds = std::collections::BTreeMap::new();
        let mut random_frees = 0;
        for line in script.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            *kinds.entry(w[0]).or_insert(0) += 1;
            match w[0] {
                "reserve" => {
                    let z = hex(w[2]);
                    assert!((0x100..=0x4000).contains(&z) && z % 0x100 == 0, "{line}");
                }
                "free" => {
                    let z = hex(w[2]);
                    if z > 0x2000 {
                        random_frees += 1;
                        assert!(z <= 0x4_0000 && z % 0x1000 == 0, "{line}");
                    }
                }
                "alloc" | "alloc_try_nid" => {
                    let z = hex(w[1]);
                    assert!((0x80..=0x2000).contains(&z) && z % 0x80 == 0, "{line}");
                }
                "add" | "hotplug" | "clear_hotplug" | "set_node" if kinds[w[0]] > 4 => {
                    // Past the four nodes added up front: 4 MiB blocks, 4-16 MiB long.
                    let z = hex(w[2]);
                    assert!(
                        (4 << 20..=16 << 20).contains(&z) && z % (4 << 20) == 0,
                        "{line}"
                    );
                }
                "remove" => {
                    let z = hex(w[2]);
                    assert!(
                        (1 << 20..=4 << 20).contains(&z) && z % (1 << 20) == 0,
                        "{line}"
                    );
                }
                "limit" => {
                    let l = hex(w[1]);
                    assert!(l == u64::MAX || l >= 0x800_0000, "{line}");
                }
                _ => {}
            }
        }
        for kind in [
            "add",
            "reserve",
            "free",
            "remove",
            "hotplug",
            "clear_hotplug",
            "set_node",
            "bottom_up",
            "limit",
            "alloc",
            "alloc_try_nid",
        ] {
            assert!(
                kinds.get(kind).copied().unwrap_or(0) > 100,
                "{kind}: {kinds:?}"
            );
        }
        // One operation in 32 frees a random range; the others free allocations.
        assert!(random_frees > 300, "{random_frees} random frees");
    }
}

/// Without `alloc` the inline storage holds `N` regions, and a larger
/// `Config::initial_regions` is clamped to it (with `alloc` the arrays start at the
/// configured size and live on the heap).
#[test]
fn initial_regions_are_clamped_to_the_inline_storage() {
    for (asked, n4) in [(1, 1), (4, 4), (5, 4), (1000, 4)] {
        let config = Config {
            initial_regions: asked,
            ..Config::default()
        };
        let got = Memblock::<4>::sized_with_config(config)
            .config()
            .initial_regions;
        if cfg!(feature = "alloc") {
            assert_eq!(got, asked);
        } else {
            assert_eq!(got, n4, "{asked}");
        }
    }
}

/// `memblock_double_array` copies the array to its new place before anything reserves
/// it; the crate refuses the growth ([`memblock::Error::ArrayAlias`]) only when that
/// place overlaps the other array's `max * sizeof(struct memblock_region)` bytes. A new
/// array that starts exactly where the other one ends shares no byte with it: Linux
/// copies there safely, and so must the crate.
///
/// Built bottom-up with 8-byte pages and room for 2 regions per array, so that the
/// arrays' sizes are page multiples and nothing pads the boundary: the memory array
/// grows first, to 4 regions at `[8, 104)`; then the reserved array grows while the
/// request's own range reaches the current limit, so Linux's second search (below the
/// range) returns the first free address, 104, right above the memory array.
#[cfg(feature = "alloc")]
#[test]
fn a_grown_array_may_start_where_the_other_ends() {
    use memblock::{ArrayKind, Region, RegionFlags};
    use phys::{PhysAddr, PhysSize};
    let (p, z) = (PhysAddr::new, PhysSize::new);
    let mut mb = Memblock::with_config(Config {
        page_size: 8,
        initial_regions: 2,
        ..Config::default()
    });
    mb.set_bottom_up(true);
    mb.add(p(0), z(0x4000)).unwrap();
    mb.add(p(0x5000), z(0x1000)).unwrap();
    mb.add(p(0x7000), z(0x1000)).unwrap();
    assert_eq!(mb.capacity(ArrayKind::Memory), 4);
    assert_eq!(mb.array_location(ArrayKind::Memory), Some(p(8)));
    let memory_end = 8 + 4 * memblock::REGION_RECORD_SIZE;
    assert_eq!(memory_end, 104);

    mb.reserve(p(0x2000), z(0x10)).unwrap();
    assert_eq!(mb.reserved().len(), 2);
    mb.set_current_limit(p(0x1100));
    mb.reserve(p(0x1000), z(0x100))
        .expect("an array placed right above the other shares no memory with it");
    assert_eq!(mb.capacity(ArrayKind::Reserved), 4);
    assert_eq!(mb.array_location(ArrayKind::Reserved), Some(p(memory_end)));
    let reserved: Vec<(u64, u64)> = mb
        .reserved()
        .iter()
        .map(|r: &Region| (r.base.as_u64(), r.size.as_u64()))
        .collect();
    // Both arrays' blocks merged into one reservation, then the two requests.
    assert_eq!(reserved, [(8, 2 * 96), (0x1000, 0x100), (0x2000, 0x10)]);
    assert!(mb.reserved().iter().all(|r| r.flags == RegionFlags::NONE));

    // Top-down, the mirror case: the reserved array's new place ends exactly where
    // the memory array starts (both at the top of memory, the memory array first).
    let mut mb = Memblock::with_config(Config {
        page_size: 8,
        initial_regions: 2,
        ..Config::default()
    });
    mb.add(p(0x7000), z(0x1000)).unwrap();
    mb.add(p(0x5000), z(0x1000)).unwrap();
    mb.add(p(0), z(0x4000)).unwrap();
    let memory_at = 0x8000 - 96;
    assert_eq!(mb.array_location(ArrayKind::Memory), Some(p(memory_at)));
    mb.reserve(p(0x2000), z(0x10)).unwrap();
    mb.reserve(p(0x1000), z(0x100))
        .expect("an array placed right below the other shares no memory with it");
    assert_eq!(
        mb.array_location(ArrayKind::Reserved),
        Some(p(memory_at - 96))
    );
}

/// `random_script`'s promise, "a seed names one script forever" (the benchmarks' 1 M
/// scripts and their saved Linux outputs rely on it): seed 1 still writes the pinned
/// golden script line for line. The script covers both kinds of `limit` (none, and an
/// address at least the middle of the 256 MiB), every operation kind, both `alloc`
/// forms and NUMA_NO_NODE; its `.expected` is checked against Linux's memblock.c by
/// `linux_oracle.rs` and against the CLI by the CLI's golden test.
#[cfg(feature = "alloc")]
#[test]
fn random_script_seed_1_is_the_pinned_golden_script() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/random_seed1.replay");
    let golden = std::fs::read_to_string(&path).unwrap();
    let pinned: String = golden
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let ops = pinned.lines().count() - 4; // the four node additions come first
    let script = memblock::trace::random_script(1, ops);
    for (i, (got, want)) in script.lines().zip(pinned.lines()).enumerate() {
        assert_eq!(got, want, "line {} of the script", i + 1);
    }
    assert_eq!(script, pinned);
    let limits: Vec<&str> = pinned.lines().filter(|l| l.starts_with("limit ")).collect();
    assert!(limits.contains(&"limit 0xffffffffffffffff"));
    assert!(limits.iter().any(|l| *l != "limit 0xffffffffffffffff"));
}

/// `Region::node`: the node of a region added on one, `None` for both kinds of "no
/// node" (`MAX_NUMNODES`, what `memblock_add` and reservations store, and
/// `NUMA_NO_NODE`, which `add BASE SIZE -1` stores as Linux does).
#[test]
fn a_region_reports_the_node_it_was_added_on() {
    use phys::{PhysAddr, PhysSize};
    let mut mb = Memblock::new();
    let (p, z) = (PhysAddr::new, PhysSize::new);
    mb.add_node(
        p(0),
        z(0x1_0000),
        NodeId::new(3),
        memblock::RegionFlags::NONE,
    )
    .unwrap();
    mb.add(p(0x2_0000), z(0x1_0000)).unwrap();
    mb.add_node(
        p(0x4_0000),
        z(0x1_0000),
        RegionNid::NumaNoNode,
        memblock::RegionFlags::NONE,
    )
    .unwrap();
    let nodes: Vec<_> = mb.memory().iter().map(|r| r.node()).collect();
    assert_eq!(nodes, [NodeId::new(3), None, None]);
    assert_eq!(mb.memory()[0].node().map(NodeId::get), Some(3));
    let nids: Vec<_> = mb.memory().iter().map(|r| r.nid).collect();
    assert_eq!(nids[1..], [RegionNid::MaxNumNodes, RegionNid::NumaNoNode]);
}

/// Linux's `should_skip_region` for a mirror request (`MEMBLOCK_MIRROR` in the
/// request's flags, what `memblock_find_in_range_node` asks for first when
/// `mirrored_kernelcore` is set): only mirrored memory is eligible, and a request
/// without the flag takes either kind.
#[test]
fn a_mirror_request_searches_mirrored_memory_only() {
    use memblock::RegionFlags;
    use phys::{PhysAddr, PhysSize};
    let (p, z) = (PhysAddr::new, PhysSize::new);
    let mut mb = Memblock::new();
    mb.add_node(p(0), z(0x10_0000), None, RegionFlags::MIRROR)
        .unwrap();
    mb.add(p(0x10_0000), z(0x10_0000)).unwrap();
    // The indexed search and the linear walk (the reference) must agree.
    let find = |mb: &Memblock, flags| {
        let [fast, slow] = [
            Memblock::find_in_range_node,
            Memblock::find_in_range_node_linear,
        ]
        .map(|search| {
            search(
                mb,
                z(0x1000),
                0x1000,
                p(0),
                memblock::AllocLimit::Anywhere,
                None,
                flags,
            )
        });
        assert_eq!(fast, slow);
        fast.map(PhysAddr::as_u64)
    };
    assert_eq!(find(&mb, RegionFlags::MIRROR), Some(0xf_f000));
    assert_eq!(find(&mb, RegionFlags::NONE), Some(0x1f_f000));
    let ranges: Vec<(u64, u64)> = mb
        .free_ranges_with(None, RegionFlags::MIRROR, false)
        .map(|(s, e, _)| (s.as_u64(), e.as_u64()))
        .collect();
    assert_eq!(ranges, [(0, 0x10_0000)]);
}

/// Every [`memblock::Error`] says what Linux would do, naming the array.
#[test]
fn errors_say_what_linux_would_do() {
    use memblock::{ArrayKind, Error};
    use phys::PhysAddr;
    let cases = [
        (
            Error::NoMemory {
                array: ArrayKind::Reserved,
            },
            vec!["reserved", "full"],
        ),
        (
            Error::BugOn {
                array: ArrayKind::Memory,
            },
            vec!["BUG_ON", "memory"],
        ),
        (
            Error::ArrayAlias {
                array: ArrayKind::Reserved,
                at: PhysAddr::new(0x1234_5000),
            },
            vec!["reserved", "0x12345000", "aliasing"],
        ),
    ];
    for (e, words) in cases {
        let text = e.to_string();
        for w in words {
            assert!(text.contains(w), "{text:?} lacks {w:?}");
        }
    }
}

/// The `movable_node` switch reads back as set, and starts off as in Linux (the kernel
/// parameter is off unless given).
#[test]
fn movable_node_reads_back_as_set() {
    let mut mb = Memblock::new();
    assert!(!mb.movable_node());
    mb.set_movable_node(true);
    assert!(mb.movable_node());
    mb.set_movable_node(false);
    assert!(!mb.movable_node());
}

/// 1 MiB of memory on node 0, then 1 MiB on node 1.
fn two_nodes() -> Memblock {
    use memblock::RegionFlags;
    use phys::{PhysAddr, PhysSize};
    let mut mb = Memblock::new();
    for n in 0..2u32 {
        let base = PhysAddr::new(u64::from(n) << 20);
        mb.add_node(
            base,
            PhysSize::new(1 << 20),
            NodeId::new(n),
            RegionFlags::NONE,
        )
        .unwrap();
    }
    mb
}

/// `memblock_phys_alloc_range`: any node, in `[start, end)`, reserved; the same
/// answer as [`Memblock::alloc_range_nid`] for no node with fallback.
#[test]
fn phys_alloc_range_reserves_in_its_range() {
    use memblock::AllocLimit;
    use phys::{PhysAddr, PhysSize};
    let (p, z) = (PhysAddr::new, PhysSize::new);
    let mut mb = two_nodes();
    let mut twin = mb.clone();
    let (size, start, end) = (z(0x2000), p(0x8_0000), AllocLimit::Addr(p(0x18_0000)));
    let got = mb.phys_alloc_range(size, 0x1000, start, end).unwrap();
    assert_eq!(got, p(0x17_e000));
    let want = twin
        .alloc_range_nid(size, 0x1000, start, end, None, false)
        .unwrap();
    assert_eq!(got, want);
    assert!(mb.is_region_reserved(got, z(0x2000)));
    assert_eq!(mb.reserved(), twin.reserved());
    assert_eq!(mb.reserved().len(), 1);
}

/// `memblock_phys_alloc_try_nid`: below the current limit, the node preferred, any
/// node as fallback; reserved.
#[test]
fn phys_alloc_try_nid_prefers_the_node_below_the_limit() {
    use phys::{PhysAddr, PhysSize};
    let (p, z) = (PhysAddr::new, PhysSize::new);
    let mut mb = two_nodes();
    mb.set_current_limit(p(0x18_0000));
    let on_0 = mb
        .phys_alloc_try_nid(z(0x1000), 0x1000, NodeId::new(0))
        .unwrap();
    assert_eq!(on_0, p(0xf_f000));
    let on_1 = mb
        .phys_alloc_try_nid(z(0x1000), 0x1000, NodeId::new(1))
        .unwrap();
    assert_eq!(on_1, p(0x17_f000), "below the current limit");
    // Node 2 has no memory: any node, from the top under the limit.
    let any = mb
        .phys_alloc_try_nid(z(0x1000), 0x1000, NodeId::new(2))
        .unwrap();
    assert_eq!(any, p(0x17_e000));
    assert!(mb.is_region_reserved(on_0, z(0x1000)));
    assert_eq!(mb.reserved().len(), 2);
}
