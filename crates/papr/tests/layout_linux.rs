//! The layout tables against offsets derived by hand from Linux 6.1's headers.
//!
//! The expected numbers below were computed by walking `struct lppaca` and
//! `struct slb_shadow` (`arch/powerpc/include/asm/lppaca.h`) and `struct dtl_entry`
//! (`arch/powerpc/include/asm/dtl.h`) field by field; they are not produced by the Rust
//! code. The comments mark Linux's cacheline boundaries as a cross-check of the sums.

use papr::layout::{self, StructLayout, Writer};
use papr::{DtlEntry, Lppaca, SlbShadow, SlbShadowEntry};

const LPPACA: &[(&str, usize, usize)] = &[
    // cacheline 1: read-only data
    ("desc", 0, 4),
    ("size", 4, 2),
    ("reserved1", 6, 3),
    ("__old_status", 9, 1),
    ("reserved3", 10, 14),
    ("dyn_hw_node_id", 24, 4),
    ("dyn_hw_proc_id", 28, 4),
    ("reserved4", 32, 56),
    ("vphn_assoc_counts", 88, 8),
    ("reserved5", 96, 32),
    // cacheline 2: local read-write data, starts at 128
    ("reserved6", 128, 48),
    ("cede_latency_hint", 176, 1),
    ("ebb_regs_in_use", 177, 1),
    ("reserved7", 178, 6),
    ("dtl_enable_mask", 184, 1),
    ("donate_dedicated_cpu", 185, 1),
    ("fpregs_in_use", 186, 1),
    ("pmcregs_in_use", 187, 1),
    ("reserved8", 188, 28),
    ("wait_state_cycles", 216, 8),
    ("reserved9", 224, 28),
    ("slb_count", 252, 2),
    ("idle", 254, 1),
    ("vmxregs_in_use", 255, 1),
    // cacheline 3: shared with other processors, starts at 256
    ("yield_count", 256, 4),
    ("dispersion_count", 260, 4),
    ("cmo_faults", 264, 8),
    ("cmo_fault_time", 272, 8),
    ("reserved10", 280, 64),
    ("enqueue_dispatch_tb", 344, 8),
    ("ready_enqueue_tb", 352, 8),
    ("wait_ready_tb", 360, 8),
    ("reserved11", 368, 16),
    // cachelines 4-5, start at 384
    ("page_ins", 384, 4),
    ("reserved12", 388, 148),
    ("dtl_idx", 536, 8),
    ("reserved13", 544, 96),
    // ends at 640
];

const SLB_SHADOW: &[(&str, usize, usize)] = &[
    ("persistent", 0, 4),
    ("buffer_length", 4, 4),
    ("reserved", 8, 8),
    // SLB_NUM_BOLTED (2) pairs of __be64 esid, vsid
    ("save_area", 16, 32),
    // fields end at 48; ____cacheline_aligned rounds sizeof up to 128
];

const DTL_ENTRY: &[(&str, usize, usize)] = &[
    ("dispatch_reason", 0, 1),
    ("preempt_reason", 1, 1),
    ("processor_id", 2, 2),
    ("enqueue_to_dispatch_time", 4, 4),
    ("ready_to_enqueue_time", 8, 4),
    ("waiting_to_ready_time", 12, 4),
    ("timebase", 16, 8),
    ("fault_addr", 24, 8),
    ("srr0", 32, 8),
    ("srr1", 40, 8),
    // ends at 48
];

fn assert_layout(
    layout: &StructLayout,
    expected: &[(&str, usize, usize)],
    size: usize,
    align: usize,
) {
    let got: Vec<(&str, usize, usize)> = layout
        .fields
        .iter()
        .map(|f| (f.name, f.offset, f.size))
        .collect();
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g, e, "struct {} field #{i}", layout.c_name);
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "struct {} field count",
        layout.c_name
    );
    assert_eq!(layout.size, size, "sizeof(struct {})", layout.c_name);
    assert_eq!(layout.align, align, "alignof(struct {})", layout.c_name);
    assert!(layout.is_contiguous());
}

#[test]
fn lppaca_matches_linux() {
    assert_layout(&Lppaca::LAYOUT, LPPACA, 640, 128);
    assert_eq!(std::mem::size_of::<Lppaca>(), 640);
    assert_eq!(std::mem::align_of::<Lppaca>(), 128);
}

#[test]
fn slb_shadow_matches_linux() {
    assert_layout(&SlbShadow::LAYOUT, SLB_SHADOW, 128, 128);
    assert_eq!(std::mem::size_of::<SlbShadow>(), 128);
    assert_eq!(std::mem::size_of::<SlbShadowEntry>(), 16);
    assert_eq!(std::mem::offset_of!(SlbShadowEntry, esid), 0);
    assert_eq!(std::mem::offset_of!(SlbShadowEntry, vsid), 8);
}

#[test]
fn dtl_entry_matches_linux() {
    assert_layout(&DtlEntry::LAYOUT, DTL_ENTRY, 48, 8);
    assert_eq!(std::mem::size_of::<DtlEntry>(), 48);
}

/// `offset_of!` on the struct fields themselves, for the fields other crates address
/// directly (so a table bug could not hide a struct bug or the reverse).
#[test]
fn offset_of_spot_checks() {
    use std::mem::offset_of;
    assert_eq!(offset_of!(Lppaca, size), 4);
    assert_eq!(offset_of!(Lppaca, __old_status), 9);
    assert_eq!(offset_of!(Lppaca, vphn_assoc_counts), 88);
    assert_eq!(offset_of!(Lppaca, dtl_enable_mask), 184);
    assert_eq!(offset_of!(Lppaca, slb_count), 252);
    assert_eq!(offset_of!(Lppaca, idle), 254);
    assert_eq!(offset_of!(Lppaca, yield_count), 256);
    assert_eq!(offset_of!(Lppaca, dispersion_count), 260);
    assert_eq!(offset_of!(Lppaca, page_ins), 384);
    assert_eq!(offset_of!(Lppaca, dtl_idx), 536);
    assert_eq!(offset_of!(SlbShadow, buffer_length), 4);
    assert_eq!(offset_of!(SlbShadow, save_area), 16);
    assert_eq!(offset_of!(DtlEntry, timebase), 16);
    assert_eq!(offset_of!(DtlEntry, srr1), 40);
}

#[test]
fn all_lists_the_three_structs() {
    let names: Vec<&str> = layout::ALL.iter().map(|l| l.c_name).collect();
    assert_eq!(names, ["lppaca", "slb_shadow", "dtl_entry"]);
}

/// Who writes each lppaca field, from Linux's users of it (kernel/paca.c, idle.h,
/// pseries/lpar.c, dtl.c, mm/fault.c, plpar_wrappers.h write the OS fields; KVM's
/// book3s_hv.c writes the hypervisor ones, Linux only reads them).
#[test]
fn writers() {
    const OS: &[&str] = &[
        "desc",
        "size",
        "cede_latency_hint",
        "ebb_regs_in_use",
        "dtl_enable_mask",
        "donate_dedicated_cpu",
        "fpregs_in_use",
        "pmcregs_in_use",
        "wait_state_cycles",
        "slb_count",
        "idle",
        "vmxregs_in_use",
        "page_ins",
    ];
    const HV: &[&str] = &[
        "__old_status",
        "dyn_hw_node_id",
        "dyn_hw_proc_id",
        "vphn_assoc_counts",
        "yield_count",
        "dispersion_count",
        "cmo_faults",
        "cmo_fault_time",
        "enqueue_dispatch_tb",
        "ready_enqueue_tb",
        "wait_ready_tb",
        "dtl_idx",
    ];
    for f in Lppaca::LAYOUT.fields {
        let expected = if OS.contains(&f.name) {
            Writer::Os
        } else if HV.contains(&f.name) {
            Writer::Hypervisor
        } else {
            assert!(
                f.name.starts_with("reserved"),
                "{} is in neither list",
                f.name
            );
            Writer::Reserved
        };
        assert_eq!(f.writer, expected, "{}", f.name);
    }
    assert_eq!(Lppaca::LAYOUT.fields.len(), OS.len() + HV.len() + 12);
    let slb: Vec<Writer> = SlbShadow::LAYOUT.fields.iter().map(|f| f.writer).collect();
    assert_eq!(slb, [Writer::Os, Writer::Os, Writer::Reserved, Writer::Os]);
    assert!(DtlEntry::LAYOUT
        .fields
        .iter()
        .all(|f| f.writer == Writer::Hypervisor));
}
