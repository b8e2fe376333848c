//! Random operation sequences applied to the crate and to a naive transcription of
//! Linux's `mm/memblock.c` (tests/common/linux_model.rs): both must end every step in
//! the same state and return the same addresses. Also checks the array invariants and
//! that a failed operation changes nothing.

#![cfg(feature = "alloc")] // The model grows its arrays; so must the crate.

mod common;

use common::linux_model::{Model, Reg, HOTPLUG, MAX_NUMNODES, NOMAP, NUMA_NO_NODE};
use memblock::{
    AllocLimit, ArrayKind, Config, Memblock, NodeId, PhysAddr, PhysSize, Region, RegionFlags,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Add(u64, u64, Option<u32>),
    Reserve(u64, u64),
    Remove(u64, u64),
    Free(u64, u64),
    Flag(u64, u64, bool, u32),
    SetNode(u64, u64, u32),
    Limit(u64),
    BottomUp(bool),
    Movable(bool),
    Alloc(u64, u64, u64, AllocLimit, Option<u32>, bool),
    AllocTry(u64, u64, u64, AllocLimit, Option<u32>),
}

fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0u64..0x200).prop_map(|x| x * 0x100),
        1 => (0u64..0x10).prop_map(|x| u64::MAX - x * 0x100),
        1 => any::<u64>(),
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0u64..0x40).prop_map(|x| x * 0x100),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

fn nid() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![3 => (0u32..3).prop_map(Some), 1 => Just(None)]
}

fn limit() -> impl Strategy<Value = AllocLimit> {
    prop_oneof![
        Just(AllocLimit::Accessible),
        Just(AllocLimit::Anywhere),
        addr().prop_map(|a| AllocLimit::Addr(PhysAddr::new(a))),
        Just(AllocLimit::Addr(PhysAddr::new(1))),
    ]
}

fn align() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(0x10),
        Just(0x100),
        Just(0x1000),
        Just(0x300)
    ]
}

fn alloc_size() -> impl Strategy<Value = u64> {
    prop_oneof![8 => (0u64..0x30).prop_map(|x| x * 0x80), 1 => Just(0u64), 1 => Just(u64::MAX)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (addr(), size(), nid()).prop_map(|(a, s, n)| Op::Add(a, s, n)),
        6 => (addr(), size()).prop_map(|(a, s)| Op::Reserve(a, s)),
        2 => (addr(), size()).prop_map(|(a, s)| Op::Remove(a, s)),
        3 => (addr(), size()).prop_map(|(a, s)| Op::Free(a, s)),
        2 => (addr(), size(), any::<bool>(), prop_oneof![Just(HOTPLUG), Just(NOMAP)])
            .prop_map(|(a, s, set, f)| Op::Flag(a, s, set, f)),
        2 => (addr(), size(), 0u32..3).prop_map(|(a, s, n)| Op::SetNode(a, s, n)),
        1 => addr().prop_map(Op::Limit),
        1 => any::<bool>().prop_map(Op::BottomUp),
        1 => any::<bool>().prop_map(Op::Movable),
        6 => (alloc_size(), align(), addr(), limit(), nid(), any::<bool>())
            .prop_map(|(s, al, st, e, n, x)| Op::Alloc(s, al, st, e, n, x)),
        4 => (alloc_size(), align(), addr(), limit(), nid())
            .prop_map(|(s, al, st, e, n)| Op::AllocTry(s, al, st, e, n)),
    ]
}

fn node(n: Option<u32>) -> Option<NodeId> {
    n.and_then(NodeId::new)
}

fn to_reg(r: &Region) -> Reg {
    Reg {
        base: r.base.as_u64(),
        size: r.size.as_u64(),
        flags: r.flags.bits(),
        nid: r.linux_nid() as i32,
    }
}

type State = (
    Vec<Region>,
    Vec<Region>,
    u64,
    u64,
    usize,
    usize,
    Option<PhysAddr>,
    Option<PhysAddr>,
);

fn state(mb: &Memblock) -> State {
    (
        mb.memory().to_vec(),
        mb.reserved().to_vec(),
        mb.phys_mem_size().as_u64(),
        mb.reserved_size().as_u64(),
        mb.capacity(ArrayKind::Memory),
        mb.capacity(ArrayKind::Reserved),
        mb.array_location(ArrayKind::Memory),
        mb.array_location(ArrayKind::Reserved),
    )
}

fn check_invariants(
    regions: &[Region],
    total: u64,
    is_reserved: bool,
) -> Result<(), TestCaseError> {
    let mut sum = 0u64;
    for r in regions {
        prop_assert!(r.size.as_u64() > 0, "empty region {r:?}");
        prop_assert!(
            r.base.checked_add(r.size).is_some(),
            "region past the top {r:?}"
        );
        if is_reserved {
            prop_assert_eq!(r.nid, memblock::RegionNid::MaxNumNodes);
            prop_assert_eq!(r.flags, RegionFlags::NONE);
        }
        sum += r.size.as_u64();
    }
    for w in regions.windows(2) {
        prop_assert!(w[0].end() <= w[1].base, "unsorted or overlapping {:?}", w);
        prop_assert!(
            !(w[0].end() == w[1].base && w[0].nid == w[1].nid && w[0].flags == w[1].flags),
            "unmerged neighbours {:?}",
            w
        );
    }
    prop_assert_eq!(sum, total);
    Ok(())
}

fn apply(mb: &mut Memblock, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let before = state(mb);
    let p = PhysAddr::new;
    let z = PhysSize::new;
    let (ours, theirs): (Result<u64, ()>, Result<u64, ()>) = match *op {
        Op::Add(a, s, n) => (
            mb.add_node(p(a), z(s), node(n), RegionFlags::NONE)
                .map(|_| 0)
                .map_err(|_| ()),
            model
                .add_node(a, s, n.map_or(MAX_NUMNODES, |n| n as i32), 0)
                .map(|_| 0),
        ),
        Op::Reserve(a, s) => (
            mb.reserve(p(a), z(s)).map(|_| 0).map_err(|_| ()),
            model.reserve(a, s).map(|_| 0),
        ),
        Op::Remove(a, s) => (
            mb.remove(p(a), z(s)).map(|_| 0).map_err(|_| ()),
            model.remove(a, s).map(|_| 0),
        ),
        Op::Free(a, s) => (
            mb.free(p(a), z(s)).map(|_| 0).map_err(|_| ()),
            model.phys_free(a, s).map(|_| 0),
        ),
        Op::Flag(a, s, set, f) => {
            let r = match (set, f) {
                (true, HOTPLUG) => mb.mark_hotplug(p(a), z(s)),
                (false, HOTPLUG) => mb.clear_hotplug(p(a), z(s)),
                (true, _) => mb.mark_nomap(p(a), z(s)),
                (false, _) => mb.clear_nomap(p(a), z(s)),
            };
            (
                r.map(|_| 0).map_err(|_| ()),
                model.setclr_flag(a, s, set, f).map(|_| 0),
            )
        }
        Op::SetNode(a, s, n) => (
            mb.set_node(p(a), z(s), NodeId::new(n).unwrap())
                .map(|_| 0)
                .map_err(|_| ()),
            model.set_node(a, s, n as i32).map(|_| 0),
        ),
        Op::Limit(a) => {
            mb.set_current_limit(p(a));
            model.current_limit = a;
            (Ok(0), Ok(0))
        }
        Op::BottomUp(b) => {
            mb.set_bottom_up(b);
            model.bottom_up = b;
            (Ok(0), Ok(0))
        }
        Op::Movable(b) => {
            mb.set_movable_node(b);
            model.movable_node = b;
            (Ok(0), Ok(0))
        }
        Op::Alloc(s, al, st, e, n, x) => {
            let ours = mb.alloc_range_nid(z(s), al, p(st), e, node(n), x);
            let theirs =
                model.alloc_range_nid(s, al, st, e.raw(), n.map_or(NUMA_NO_NODE, |n| n as i32), x);
            (
                ours.map(|a| a.as_u64()).map_err(|_| ()),
                if theirs == 0 { Err(()) } else { Ok(theirs) },
            )
        }
        Op::AllocTry(s, al, st, e, n) => {
            let ours = mb.alloc_try_nid(z(s), al, p(st), e, node(n));
            let theirs = model.alloc_internal(
                s,
                al,
                st,
                e.raw(),
                n.map_or(NUMA_NO_NODE, |n| n as i32),
                false,
            );
            (
                ours.map(|a| a.as_u64()).map_err(|_| ()),
                if theirs == 0 { Err(()) } else { Ok(theirs) },
            )
        }
    };
    prop_assert_eq!(ours, theirs, "result of {:?}", op);
    if ours.is_err() {
        prop_assert!(state(mb) == before, "failed {:?} changed the state", op);
    }
    let mem: Vec<Reg> = mb.memory().iter().map(to_reg).collect();
    let res: Vec<Reg> = mb.reserved().iter().map(to_reg).collect();
    prop_assert_eq!(mem, Model::real(&model.memory), "memory after {:?}", op);
    prop_assert_eq!(res, Model::real(&model.reserved), "reserved after {:?}", op);
    prop_assert_eq!(mb.phys_mem_size().as_u64(), model.memory.total_size);
    prop_assert_eq!(mb.reserved_size().as_u64(), model.reserved.total_size);
    prop_assert_eq!(mb.capacity(ArrayKind::Memory), model.memory.max);
    prop_assert_eq!(mb.capacity(ArrayKind::Reserved), model.reserved.max);
    prop_assert_eq!(
        mb.array_location(ArrayKind::Memory).map(|a| a.as_u64()),
        model.memory.location
    );
    prop_assert_eq!(
        mb.array_location(ArrayKind::Reserved).map(|a| a.as_u64()),
        model.reserved.location
    );
    check_invariants(mb.memory(), mb.phys_mem_size().as_u64(), false)?;
    check_invariants(&mb.reserved().to_vec(), mb.reserved_size().as_u64(), true)?;
    Ok(())
}

fn check_free_ranges(mb: &Memblock, model: &Model) -> Result<(), TestCaseError> {
    for n in [None, Some(0u32), Some(1), Some(2)] {
        for reverse in [false, true] {
            let ours: Vec<(u64, u64, i32)> = if reverse {
                mb.free_ranges_rev(node(n))
            } else {
                mb.free_ranges(node(n))
            }
            .map(|(s, e, nid)| {
                (
                    s.as_u64(),
                    e.as_u64(),
                    nid.map_or(MAX_NUMNODES, |n| n.get() as i32),
                )
            })
            .collect();
            let theirs = model.free_ranges(n.map_or(NUMA_NO_NODE, |n| n as i32), reverse);
            prop_assert_eq!(ours, theirs, "free ranges nid {:?} reverse {}", n, reverse);
        }
    }
    Ok(())
}

fn run(ops: &[Op], initial: usize, resize: bool) -> Result<(), TestCaseError> {
    let mut mb = Memblock::with_config(Config {
        page_size: 0x1000,
        initial_regions: initial,
        smp_cache_bytes: 128,
        allow_resize: resize,
    });
    let mut model = Model::new(0x1000, initial);
    model.can_resize = resize;
    for op in ops {
        apply(&mut mb, &mut model, op)?;
    }
    check_free_ranges(&mb, &model)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Small arrays, so that growth (and growth of the reserved array while growing
    /// the memory array) happens often.
    #[test]
    fn matches_linux_with_growth(ops in proptest::collection::vec(op(), 1..80)) {
        run(&ops, 4, true)?;
    }

    /// Growth disabled: operations fail with ENOMEM and must leave no trace.
    #[test]
    fn matches_linux_without_growth(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops, 6, false)?;
    }

    /// Linux's default capacity.
    #[test]
    fn matches_linux_default_capacity(ops in proptest::collection::vec(op(), 1..120)) {
        run(&ops, 128, true)?;
    }
}

/// Found by the property above: the last reserve covers everything, including the
/// reserved array's own old location. Growing the array frees that location, the
/// second pass of memblock_add_range finds more pieces than the first counted, and Linux
/// would hit `BUG_ON(type->cnt >= type->max)`. The crate refuses the operation instead.
#[test]
fn reserve_over_the_old_array_is_linux_bug_on() {
    use AllocLimit::Accessible;
    let ops = [
        Op::Add(93696, 11008, Some(0)),
        Op::Alloc(2560, 0, 0, Accessible, Some(0), false),
        Op::Alloc(3200, 0, 0, Accessible, Some(0), false),
        Op::Add(27904, 5632, Some(0)),
        Op::Alloc(128, 0, 0, Accessible, None, false),
        Op::AllocTry(4736, 4096, 0, Accessible, Some(0)),
        Op::AllocTry(640, 256, 0, Accessible, Some(0)),
        Op::Add(33280, 7680, Some(1)),
        Op::Add(52480, u64::MAX, Some(2)),
        Op::Add(41216, 256, Some(0)),
        Op::Alloc(128, 4096, 0, Accessible, Some(2), false),
        Op::Add(4864, 7424, Some(0)),
        Op::Remove(12288, 256),
        Op::Reserve(35072, 256),
        Op::Alloc(128, 16, 0, Accessible, Some(1), false),
        Op::Remove(12288, 0),
        Op::SetNode(0, u64::MAX, 1),
        Op::Alloc(128, 16, 0, Accessible, Some(1), false),
    ];
    run(&ops, 4, true).unwrap();
    let mut mb = Memblock::with_config(Config {
        page_size: 0x1000,
        initial_regions: 4,
        smp_cache_bytes: 128,
        allow_resize: true,
    });
    let mut model = Model::new(0x1000, 4);
    for op in &ops {
        apply(&mut mb, &mut model, op).unwrap();
    }
    let before = state(&mb);
    assert_eq!(
        mb.reserve(PhysAddr::new(28672), PhysSize::MAX),
        Err(memblock::Error::BugOn {
            array: ArrayKind::Reserved
        })
    );
    assert!(state(&mb) == before);
    assert!(model.reserve(28672, u64::MAX).is_err());
}

/// A scaled-down boot trace (1024 CPUs on 16 nodes, RMA covering the first 4 nodes):
/// the crate's `trace::BootTrace::run` and the transcription of the C, fed the same
/// calls, end in the same arrays, with the reserved array grown several times.
#[test]
fn boot_trace_matches_linux() {
    use memblock::trace::BootTrace;
    const GIB: u64 = 1 << 30;
    let trace = BootTrace {
        cpus: 1024,
        nodes: 16,
        node_mem: GIB,
        rma_size: 4 * GIB,
        free_every: 4,
    };
    let mut mb = trace.setup();
    let stats = trace.run(&mut mb).unwrap();

    let mut model = Model::new(0x1_0000, 128);
    for n in 0..16u64 {
        model.add_node(n * GIB, GIB, n as i32, 0).unwrap();
    }
    model.reserve(0, 64 << 20).unwrap();
    // (size, align, limited to the RMA) as documented in memblock::trace.
    let blocks = [
        (0x1000, 0x80, true),
        (0x400, 0x400, true),
        (0x100, 0x100, true),
        (0x4000, 0x4000, false),
    ];
    let mut got = Vec::new();
    for cpu in 0..1024u64 {
        let nid = (cpu / 64) as i32;
        for &(size, align, rma) in &blocks {
            let max = if rma { 4 * GIB } else { 0 };
            let a = model.alloc_internal(size, align, 0, max, nid, false);
            assert_ne!(a, 0);
            got.push((cpu, a, size));
        }
    }
    for &(cpu, a, size) in &got {
        if cpu % 4 == 3 {
            model.phys_free(a, size).unwrap();
        }
    }
    let res: Vec<Reg> = mb.reserved().iter().map(to_reg).collect();
    assert_eq!(res, Model::real(&model.reserved));
    assert_eq!(stats.reserved_regions, model.reserved.regions.len());
    assert_eq!(stats.reserved_capacity, model.reserved.max);
    assert!(
        model.reserved.max > 128,
        "the trace should grow the reserved array"
    );
    assert_eq!(stats.failed_allocs, 0);
}
