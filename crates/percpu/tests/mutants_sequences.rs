//! The boundaries of Linux 6.1's and 4.15's sequences where `cargo mutants` found
//! comparisons that cannot be told apart (docs/MUTATION.md): the machine-check stacks'
//! 4 GiB limit when the emergency-stack limit is exactly 4 GiB, and 4.15's lppaca array
//! with a single possible CPU. The results are checked against Linux's rules, so a
//! change that makes the two sides of such a comparison differ is caught here.

mod common;

use common::*;
use memblock::replay::Op;
use percpu::{Placement, Strategy, StructureKind as K};

fn ends_below(p: &Placement, kind: K, limit: u64) -> bool {
    p.live()
        .filter(|a| a.kind == kind)
        .all(|a| a.end().as_u64() <= limit)
}

/// 6.1 `emergency_stack_init`: on an LPAR the machine-check stacks stay below 4 GiB
/// (`mce_limit > SZ_4G` -> 4 GiB), the other emergency stacks below
/// `min(ppc64_bolted_size(), ppc64_rma_size)`. With that limit at exactly 4 GiB, both
/// bounds are 4 GiB; with 8 GiB, the emergency stacks of node 0's CPUs go above 4 GiB
/// (top-down, on the node that ends at 8 GiB) while the machine-check stacks do not.
#[test]
fn machine_check_stacks_stay_below_4_gib_on_an_lpar() {
    for rma in [4 * GIB, 8 * GIB] {
        let topo = machine(2, 2, 8 * GIB, rma);
        let c = cfg(&topo, Strategy::Linux61, false);
        let (_, p) = run(&topo, &c);
        assert_eq!(p.paca_limit.raw(), rma);
        assert!(ends_below(&p, K::McEmergencyStack, 4 * GIB), "RMA {rma:#x}");
        assert!(ends_below(&p, K::EmergencyStack, rma), "RMA {rma:#x}");
        assert!(ends_below(&p, K::NmiEmergencyStack, rma), "RMA {rma:#x}");
        let above_4g = p
            .live()
            .filter(|a| a.kind == K::EmergencyStack)
            .any(|a| a.end().as_u64() > 4 * GIB);
        assert_eq!(above_4g, rma > 4 * GIB, "RMA {rma:#x}");
        check_linux61_locality_of(&topo, &c, &p);
    }
    // The hypervisor has no RTAS machine-check path: no 4 GiB cap.
    let topo = machine(1, 2, 8 * GIB, 8 * GIB);
    let mut c = cfg(&topo, Strategy::Linux61, false);
    c.hypervisor_mode = true;
    let (_, p) = run(&topo, &c);
    assert!(p
        .live()
        .filter(|a| a.kind == K::McEmergencyStack)
        .all(|a| a.end().as_u64() > 4 * GIB));
}

/// 4.15 `free_lppacas`: the kept part holds `num_possible_cpus() - 1` lppacas (CPU 0
/// uses the static one), so with one possible CPU nothing is kept and the whole array
/// is freed, in one `memblock_free` of its full size from its base.
#[test]
fn linux415_one_possible_cpu_frees_the_whole_lppaca_array() {
    let topo = machine(1, 1, GIB, GIB);
    let mut c = cfg(&topo, Strategy::Linux415, false);
    c.page_size = 4 << 10;
    c.nr_cpu_ids = 8;
    let (_, p) = run(&topo, &c);
    let lp = p
        .allocations
        .iter()
        .find(|a| a.kind == K::LppacaArray)
        .expect("an lppaca array for 7 secondary ids");
    // The size asked for: 7 entries of 1 KiB, page aligned.
    let asked = p
        .memblock_trace()
        .iter()
        .find_map(|op| match op.op {
            Op::Alloc { size, .. } | Op::AllocTryNid { size, .. } if op.result == Some(lp.addr) => {
                Some(size.as_u64())
            }
            _ => None,
        })
        .expect("the array's allocation");
    assert_eq!(asked, 8 << 10);
    let frees: Vec<(u64, u64)> = p
        .memblock_trace()
        .iter()
        .filter_map(|op| op.freed())
        .map(|(b, s)| (b.as_u64(), s.as_u64()))
        .collect();
    assert!(frees.contains(&(lp.addr.as_u64(), asked)), "{frees:x?}");
    assert!(lp.freed, "nothing of the array stays reserved");
    assert!(p.live().all(|a| a.kind != K::Lppaca));
}
