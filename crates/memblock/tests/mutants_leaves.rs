//! Cases the random differential reaches too rarely, found by mutation testing of the
//! reserved array's leaves (`docs/MUTATION.md`): a gap of exactly the requested length
//! as the only fit, in a leaf between the two ends of the window; and a dense reserved
//! array at the very top of the address space, in several leaves, whose gaps are all
//! shorter than the requests and whose alignments are not powers of two (so Linux's
//! bottom-up `round_up` wraps to 0 at some gaps and not at later ones).

#![cfg(feature = "alloc")]

use memblock::trace::Rng;
use memblock::{AllocLimit, Memblock, NodeId, PhysAddr, PhysSize, RegionFlags};

fn p(x: u64) -> PhysAddr {
    PhysAddr::new(x)
}
fn s(x: u64) -> PhysSize {
    PhysSize::new(x)
}

const REGIONS: u64 = 1000;
const STRIDE: u64 = 0x2000;
const BASE: u64 = 0x100_0000;

/// 1 GiB of memory and 1000 reserved pages, one every 8 KiB from 16 MiB (so four
/// leaves of the reserved array, and 4 KiB gaps between them), except that the gap
/// below region `hole` is widened to `3 * 4 KiB` by moving that region up.
fn striped(hole: u64) -> Memblock {
    let mut mb = Memblock::new();
    mb.add(p(0), s(1 << 30)).unwrap();
    for i in 0..REGIONS {
        let at = BASE + i * STRIDE + if i == hole { 0x2000 } else { 0 };
        mb.reserve(p(at), s(0x1000)).unwrap();
    }
    assert_eq!(mb.reserved().len(), REGIONS as usize);
    mb
}

/// The window runs from the end of the first region to the base of the last, so its
/// two clipped end gaps are 4 KiB long and every fit of 12 KiB lies inside.
fn window() -> (PhysAddr, AllocLimit) {
    (
        p(BASE + 0x1000),
        AllocLimit::Addr(p(BASE + (REGIONS - 1) * STRIDE)),
    )
}

#[test]
fn exact_fit_in_an_interior_leaf_top_down() {
    for hole in [300, 500, 700] {
        let mb = striped(hole);
        let (start, end) = window();
        // The widened gap is [end of region hole - 1, base of region hole): exactly
        // 12 KiB, the only gap of that length; top down takes its top 12 KiB, which is
        // all of it.
        let gap_start = BASE + (hole - 1) * STRIDE + 0x1000;
        let got = mb.find_in_range_node(s(0x3000), 0x1000, start, end, None, RegionFlags::NONE);
        assert_eq!(got, Some(p(gap_start)), "hole {hole}");
        assert_eq!(
            got,
            mb.find_in_range_node_linear(s(0x3000), 0x1000, start, end, None, RegionFlags::NONE)
        );
    }
}

#[test]
fn exact_fit_in_an_interior_leaf_bottom_up() {
    for hole in [300, 500, 700] {
        let mut mb = striped(hole);
        mb.set_bottom_up(true);
        let (start, end) = window();
        let gap_start = BASE + (hole - 1) * STRIDE + 0x1000;
        let got = mb.find_in_range_node(s(0x3000), 0x1000, start, end, None, RegionFlags::NONE);
        assert_eq!(got, Some(p(gap_start)), "hole {hole}");
        // One byte more fits nowhere.
        assert_eq!(
            mb.find_in_range_node(s(0x3001), 1, start, end, None, RegionFlags::NONE),
            None
        );
    }
}

#[test]
fn dense_top_of_the_address_space_in_several_leaves() {
    let mut r = Rng::new(7);
    for case in 0..40 {
        let base = u64::MAX - (64 << 20) - r.below(1 << 20);
        let mut mb = Memblock::new();
        // Low memory holds the reserved array when it grows; the requests start above.
        mb.add_node(p(0), s(1 << 30), NodeId::new(0), RegionFlags::NONE)
            .unwrap();
        mb.add_node(
            p(base),
            s(u64::MAX - base),
            NodeId::new(0),
            RegionFlags::NONE,
        )
        .unwrap();
        // All of it reserved up to PHYS_ADDR_MAX (no gap above the array), then short
        // holes punched: every gap is at most 4 KiB.
        mb.reserve(p(base), s(u64::MAX - base)).unwrap();
        for _ in 0..700 {
            let at = base + 0x1000 + r.below((64 << 20) - 0x2000);
            mb.free(p(at), s(r.below(0x1000) + 1)).unwrap();
        }
        assert!(mb.reserved().len() > 600, "{}", mb.reserved().len());
        mb.check_index().unwrap();
        for bottom_up in [true, false] {
            mb.set_bottom_up(bottom_up);
            for _ in 0..200 {
                let align = match r.below(3) {
                    0 => r.next_u64() | (1 << 63),
                    1 => !r.below(1 << 24),
                    _ => 1 << (20 + r.below(44)),
                };
                let size = s(r.below(0x2000) + 1);
                let start = p(base + r.below(64 << 20));
                assert_eq!(
                    mb.find_in_range_node(
                        size,
                        align,
                        start,
                        AllocLimit::Anywhere,
                        None,
                        RegionFlags::NONE
                    ),
                    mb.find_in_range_node_linear(
                        size,
                        align,
                        start,
                        AllocLimit::Anywhere,
                        None,
                        RegionFlags::NONE
                    ),
                    "case {case}: size {size} align {align:#x} start {start} bottom_up {bottom_up}"
                );
            }
        }
    }
}

/// Linux's bottom-up `round_up` with the mask `align - 1 = !(1 << 20)` wraps to 0 for
/// a gap whose start - 1 has bit 20 set, and gives `C = 0xffff_ffff_fff0_0000` for the
/// others. Three zones of 300 tiny holes at the top of the address space (bit 20
/// clear, set, clear) and, last, a hole of 68 KiB around `C`: Linux fails at the first
/// hole of the middle zone (a wrapped candidate is 0), and so must the index, even
/// though those holes' leaves have no gap long enough for the request; skipping them
/// would reach `C`.
#[test]
fn a_short_gap_that_wraps_stops_the_bottom_up_walk() {
    const T0: u64 = 0xffff_ffff_ffc0_0000;
    const C: u64 = 0xffff_ffff_fff0_0000;
    let align = C; // align - 1 == !(1 << 20)
    let mut mb = Memblock::new();
    mb.add_node(p(0), s(1 << 30), NodeId::new(0), RegionFlags::NONE)
        .unwrap();
    mb.add_node(p(T0), s(u64::MAX - T0), NodeId::new(0), RegionFlags::NONE)
        .unwrap();
    mb.reserve(p(T0), s(u64::MAX - T0)).unwrap();
    for zone in [T0, 0xffff_ffff_ffd0_0000, 0xffff_ffff_ffe0_0000] {
        for i in 1..=300 {
            mb.free(p(zone + 0x100 * i), s(0x10)).unwrap();
        }
    }
    mb.free(p(C - 0x1000), s(0x11000)).unwrap();
    assert!(mb.reserved().len() > 900);
    mb.check_index().unwrap();
    mb.set_bottom_up(true);
    let start = p(T0 + 0x100);
    let find = |mb: &Memblock| {
        mb.find_in_range_node(
            s(0x100),
            align,
            start,
            AllocLimit::Anywhere,
            None,
            RegionFlags::NONE,
        )
    };
    let linear = mb.find_in_range_node_linear(
        s(0x100),
        align,
        start,
        AllocLimit::Anywhere,
        None,
        RegionFlags::NONE,
    );
    assert_eq!(linear, None);
    assert_eq!(find(&mb), None);
    // Without the middle zone's holes, the walk reaches C.
    for i in 1..=300 {
        mb.reserve(p(0xffff_ffff_ffd0_0000 + 0x100 * i), s(0x10))
            .unwrap();
    }
    assert_eq!(find(&mb), Some(p(C)));
}
