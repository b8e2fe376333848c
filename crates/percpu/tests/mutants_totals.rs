//! `node_totals` on hand-made placements whose totals are counted by hand
//! (docs/MUTATION.md): which reserved regions hold plan memory, and which free holes
//! count as alignment gaps (smaller than a page, plan memory on both sides).

use percpu::{node_totals, Allocation, NoNodeReason, NodeTotals, Outcome, StructureKind};
use phys::{NodeId, PhysAddr, PhysSize};

const PAGE: u64 = 0x1000;

fn node(i: u32) -> Option<NodeId> {
    NodeId::new(i)
}

/// A live shared structure of `size` bytes at `addr`, all of it reserved, on node 0.
fn block(addr: u64, size: u64) -> Allocation {
    Allocation {
        kind: StructureKind::PacaPtrs,
        cpu: None,
        addr: PhysAddr::new(addr),
        size: PhysSize::new(size),
        reserved: PhysSize::new(size),
        align: 8,
        requested_node: None,
        home_node: None,
        memory_node: node(0),
        outcome: Outcome::NoNodeRequested(NoNodeReason::SharedArray),
        in_array: false,
        freed: false,
    }
}

fn totals(allocs: &[Allocation], reserved: &[(u64, u64)]) -> Vec<NodeTotals> {
    let reserved: Vec<_> = reserved
        .iter()
        .map(|&(b, e)| (PhysAddr::new(b), PhysSize::new(e - b)))
        .collect();
    // Node 0 below 1 MiB, node 1 above.
    node_totals(
        allocs,
        &reserved,
        |a| node(u32::from(a.as_u64() >= 0x10_0000)),
        PAGE,
    )
}

/// Holes between reserved regions: 0x200 bytes between two plan blocks (a gap), a whole
/// page between two plan blocks (not a gap: memblock can still use it), 0x800 bytes
/// between the kernel image and a plan block (not a gap: one side is not the plan's),
/// and a reserved region above every plan block that holds none of them.
#[test]
fn gaps_are_sub_page_holes_between_plan_blocks() {
    let allocs = [
        block(0x1000, 0x800),
        block(0x1a00, 0x600),
        block(0x3000, 0x100),
        block(0x4100, 0x100),
    ];
    let reserved = [
        (0x0, 0x800),     // the kernel: 0x800 below the first block
        (0x1000, 0x1800), // block 1; 0x200 hole
        (0x1a00, 0x2000), // block 2; a page (0x1000) hole
        (0x3000, 0x3100), // block 3; 0x1000 hole
        (0x4100, 0x4200), // block 4
        (0x8000, 0x9000), // someone else's, above every block
        (0x9400, 0x9800), // someone else's, 0x400 above the last
    ];
    let t = totals(&allocs, &reserved);
    assert_eq!(t.len(), 1, "{t:?}");
    let n = t[0];
    assert_eq!(n.node, node(0));
    assert_eq!(n.allocations, 4);
    assert_eq!(n.reserved_regions, 4);
    assert_eq!(n.alignment_gaps, 0x200);
    assert_eq!(n.used, 0x800 + 0x600 + 0x100 + 0x100);
    assert_eq!(n.padding, 0);
}

/// Two sub-page holes, one on each node: each is counted on the node of its start.
#[test]
fn gaps_add_up_per_node() {
    let allocs = [
        block(0x1000, 0x800),
        block(0x1a00, 0x100),
        block(0x1c00, 0x400),
        Allocation {
            memory_node: node(1),
            ..block(0x10_0000, 0x100)
        },
        Allocation {
            memory_node: node(1),
            ..block(0x10_0180, 0x80)
        },
    ];
    let reserved = [
        (0x1000, 0x1800),
        (0x1a00, 0x1b00),
        (0x1c00, 0x2000),
        (0x10_0000, 0x10_0100),
        (0x10_0180, 0x10_0200),
    ];
    let t = totals(&allocs, &reserved);
    assert_eq!(t.len(), 2, "{t:?}");
    assert_eq!(t[0].alignment_gaps, 0x200 + 0x100);
    assert_eq!(t[0].reserved_regions, 3);
    assert_eq!(t[1].node, node(1));
    assert_eq!(t[1].alignment_gaps, 0x80);
    assert_eq!(t[1].reserved_regions, 2);
}

/// A hole whose upper side is a reservation that is not the plan's, even though a plan
/// block starts one byte into the same reserved region, is not an alignment gap; a
/// reserved region ending exactly where a plan block starts holds none of it.
#[test]
fn touching_means_sharing_a_byte() {
    let allocs = [block(0x1000, 0x800), block(0x1a01, 0x5ff)];
    // [0x1a00, 0x2000): one byte of someone else's, then the second block; and a region
    // [0x0f00, 0x1000) right below the first block, kept apart (as memblock keeps regions
    // of different flags).
    let reserved = [(0x0f00, 0x1000), (0x1000, 0x1800), (0x1a00, 0x2000)];
    let t = totals(&allocs, &reserved);
    assert_eq!(t[0].reserved_regions, 2, "{t:?}");
    assert_eq!(t[0].alignment_gaps, 0);
}
