//! `init_memblock`'s early reservations, each against the rule of Linux 6.1 it models
//! (docs/MUTATION.md): where `reserve_crashkernel` puts a crash kernel without an
//! offset, how `early_reserve_mem` widens the initrd, and when `move_device_tree` copies
//! the flattened tree.

mod common;

use common::{cfg, machine, GIB, MIB};
use memblock::Memblock;
use percpu::early::{CrashKernel, Region};
use percpu::{init_memblock, MemOp, PlanConfig, Strategy};
use phys::{PhysAddr, PhysSize};
use topology::Topology;

fn region(base: u64, size: u64) -> Region {
    Region::new(PhysAddr::new(base), PhysSize::new(size))
}

fn reserve(base: u64, size: u64) -> MemOp {
    MemOp::reserve(PhysAddr::new(base), PhysSize::new(size))
}

fn init(topo: &Topology, c: &PlanConfig) -> Vec<MemOp> {
    init_memblock(&mut Memblock::new(), topo, c).expect("init_memblock")
}

/// The allocations `init_memblock` made: only `move_device_tree`'s copy allocates.
fn allocs(ops: &[MemOp]) -> Vec<&MemOp> {
    ops.iter().filter(|o| o.is_alloc()).collect()
}

/// 6.1 `reserve_crashkernel` without `@offset`: `crashk_res.start = min(ppc64_rma_size /
/// 2, SZ_512M)` on an LPAR (`FW_FEATURE_LPAR`), `min(ppc64_rma_size / 2, SZ_128M)`
/// otherwise. A 2 GiB RMA guest puts a 256 MiB crash kernel at 512 MiB; bare metal
/// (hypervisor mode, where `ppc64_rma_size` is unlimited) at 128 MiB.
#[test]
fn crash_kernel_base_depends_on_lpar() {
    let crash = CrashKernel {
        size: PhysSize::new(256 * MIB),
        base: None,
    };
    let guest = machine(1, 2, 4 * GIB, 2 * GIB);
    let mut c = cfg(&guest, Strategy::Linux61, false);
    c.early.crashkernel = Some(crash);
    assert!(init(&guest, &c).contains(&reserve(512 * MIB, 256 * MIB)));

    let mut metal = machine(1, 2, 4 * GIB, 2 * GIB);
    metal.hypervisor_mode = true;
    let mut c = cfg(&metal, Strategy::Linux61, false);
    assert!(c.hypervisor_mode);
    c.early.crashkernel = Some(crash);
    assert!(init(&metal, &c).contains(&reserve(128 * MIB, 256 * MIB)));
}

/// `early_reserve_mem` reserves the initrd from `ALIGN_DOWN(start, PAGE_SIZE)` to
/// `PAGE_ALIGN(end)`.
#[test]
fn initrd_is_widened_to_whole_pages() {
    let topo = machine(1, 2, 4 * GIB, 2 * GIB);
    let mut c = cfg(&topo, Strategy::Linux61, false);
    c.page_size = 0x1_0000;
    c.early.initrd = Some(region(0x300_0123, 0x1_0000));
    let ops = init(&topo, &c);
    // [0x3000123, 0x3010123) widened to [0x3000000, 0x3020000).
    assert!(ops.contains(&reserve(0x300_0000, 0x2_0000)), "{ops:?}");
    assert!(allocs(&ops).is_empty());
}

/// `move_device_tree` copies the tree (`memblock_alloc_raw(size, PAGE_SIZE)`) when its
/// last byte is not memory, or it overlaps the crash kernel or the initrd; otherwise the
/// tree stays where it is, only reserved.
#[test]
fn device_tree_moves_only_when_linux_moves_it() {
    let topo = machine(1, 2, 4 * GIB, 2 * GIB);
    let fdt_size = 0x1_0000;
    let moved = |c: &PlanConfig| {
        let ops = init(&topo, c);
        let fdt = c.early.fdt.unwrap();
        assert!(ops.contains(&reserve(fdt.base.as_u64(), fdt_size)));
        let a = allocs(&ops);
        assert!(a.len() <= 1, "{a:?}");
        if let Some(copy) = a.first() {
            // The copy is the tree's size, page aligned, and lands somewhere else.
            assert_eq!(
                copy.to_string(),
                format!(
                    "alloc_try_nid {fdt_size:#x} {:#x} 0x0 accessible -1",
                    c.page_size
                )
            );
            assert_ne!(copy.result, Some(fdt.base));
        }
        !a.is_empty()
    };

    // Inside memory, alone: stays.
    let mut c = cfg(&topo, Strategy::Linux61, false);
    c.early.fdt = Some(region(0x400_0000, fdt_size));
    assert!(!moved(&c));

    // Ending exactly at the end of memory: its last byte is memory, stays.
    c.early.fdt = Some(region(4 * GIB - fdt_size, fdt_size));
    assert!(!moved(&c));

    // Hanging over the end of memory by half: moves.
    c.early.fdt = Some(region(4 * GIB - fdt_size / 2, fdt_size));
    assert!(moved(&c));

    // Inside the initrd: moves.
    let mut c = cfg(&topo, Strategy::Linux61, false);
    c.early.initrd = Some(region(0x400_0000, 0x10_0000));
    c.early.fdt = Some(region(0x408_0000, fdt_size));
    assert!(moved(&c));
    // Just past the initrd: stays.
    c.early.fdt = Some(region(0x410_0000, fdt_size));
    assert!(!moved(&c));

    // Inside the crash kernel (at 512 MiB, see above): moves.
    let mut c = cfg(&topo, Strategy::Linux61, false);
    c.early.crashkernel = Some(CrashKernel {
        size: PhysSize::new(256 * MIB),
        base: None,
    });
    c.early.fdt = Some(region(600 * MIB, fdt_size));
    assert!(moved(&c));
    // Below it: stays.
    c.early.fdt = Some(region(500 * MIB, fdt_size));
    assert!(!moved(&c));
}
