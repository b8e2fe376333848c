//! Boundaries found by a sampled `cargo mutants` run on percpu (docs/MUTATION.md): the
//! kernel-version rule, range overlap, the radix text-mapping test and the 6.12-only
//! RTAS work area.

mod common;

use common::{cfg, machine, run, GIB};
use percpu::early::{KernelImage, Region};
use percpu::{Strategy, StructureKind};
use phys::{PhysAddr, PhysSize};

#[test]
fn the_sequence_changes_at_6_12() {
    assert_eq!(Strategy::for_linux_version(6, 1), Strategy::Linux61);
    assert_eq!(Strategy::for_linux_version(6, 11), Strategy::Linux61);
    assert_eq!(Strategy::for_linux_version(6, 12), Strategy::Linux612);
    assert_eq!(Strategy::for_linux_version(6, 13), Strategy::Linux612);
}

#[test]
fn regions_overlap_only_when_they_share_a_byte() {
    let r = |b: u64, s: u64| Region::new(PhysAddr::new(b), PhysSize::new(s));
    assert!(r(0x1000, 0x1000).overlaps(r(0x1800, 0x1000)));
    assert!(r(0x1800, 0x1000).overlaps(r(0x1000, 0x1000)));
    assert!(r(0x1000, 0x4000).overlaps(r(0x2000, 0x1000)));
    assert!(!r(0x1000, 0x1000).overlaps(r(0x2000, 0x1000)));
    assert!(!r(0x2000, 0x1000).overlaps(r(0x1000, 0x1000)));
}

/// A mapping that starts where the kernel's text and init sections end (`__init_end`)
/// is not executable; one that starts a byte lower is.
#[test]
fn a_mapping_from_init_end_on_is_not_text() {
    let k = KernelImage::DEBIAN_6_1;
    let end = k.init_end.as_u64();
    let far = end + 0x100_0000;
    let ivec_end = k.interrupts.end().as_u64();
    assert!(end > ivec_end, "the vectors sit below the text's end");
    assert!(!k.maps_text(end, far));
    assert!(k.maps_text(end - 1, far));
}

/// Only Linux 6.12 reserves the RTAS work-area arena (both reserve RTAS's buffer).
#[test]
fn only_6_12_reserves_the_rtas_work_area() {
    let topo = machine(2, 2, 2 * GIB, GIB);
    for (strategy, want) in [(Strategy::Linux61, false), (Strategy::Linux612, true)] {
        let mut c = cfg(&topo, strategy, true);
        c.early.rtas = true;
        let (_, p) = run(&topo, &c);
        assert!(p
            .allocations
            .iter()
            .any(|a| a.kind == StructureKind::RtasBuffer));
        let has = p
            .allocations
            .iter()
            .any(|a| a.kind == StructureKind::RtasWorkArea);
        assert_eq!(has, want, "{strategy}");
    }
}
