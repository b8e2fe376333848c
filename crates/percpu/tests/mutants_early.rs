//! The early-boot facts of `percpu::early` (docs/MUTATION.md): the Debian kernel images
//! against what real boots reserve and map, and `crashkernel_region` against 6.1's
//! `reserve_crashkernel` rules.

use percpu::early::{crashkernel_region, CrashKernel, KernelImage, Region};
use percpu::Strategy;
use phys::{PhysAddr, PhysSize};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn log(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    std::fs::read_to_string(format!("{path}{name}")).unwrap()
}

/// The last byte of `early_init_devtree`'s reservation of `[0, _end)`.
fn reserved_image_end(text: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| {
            l.contains("memblock_reserve: [0x0000000000000000-") && l.contains("early_init_devtree")
        })
        .expect("the kernel image reservation");
    let last = line.split('-').nth(1).unwrap().split(']').next().unwrap();
    u64::from_str_radix(last.trim_start_matches("0x"), 16).unwrap() + 1
}

/// `_end` of each Debian build is what its real boot reserves; the executable part of the
/// radix linear map ends at `__init_end` rounded up to the 2 MiB mapping that holds it.
#[test]
fn debian_images_match_real_boots() {
    for (s, page, hash, radix) in [
        (
            Strategy::Linux61,
            0x1_0000,
            "linux-6.1/h84.log",
            "linux-6.1/r42.log",
        ),
        (
            Strategy::Linux612,
            0x1_0000,
            "linux-6.12/64-h84.log",
            "linux-6.12/64-r84.log",
        ),
        (
            Strategy::Linux612,
            0x1000,
            "linux-6.12/4-h84.log",
            "linux-6.12/4-r42.log",
        ),
    ] {
        let k = KernelImage::debian(s, page);
        assert_eq!(
            k.end.as_u64(),
            reserved_image_end(&log(hash)),
            "{s} {page:#x}"
        );
        assert_eq!(
            k.end.as_u64(),
            reserved_image_end(&log(radix)),
            "{s} {page:#x}"
        );
        let exec_end = k.init_end.as_u64().div_ceil(2 * MIB) * 2 * MIB;
        let mapped = format!(
            "radix-mmu: Mapped 0x0000000000000000-{exec_end:#018x} with 2.00 MiB pages (exec)"
        );
        assert!(log(radix).contains(&mapped), "{s} {page:#x}: {mapped}");
    }
    // The strategies beyond Linux and 4.15 take 6.1's image.
    assert_eq!(
        KernelImage::debian(Strategy::PackedVpa, 0x1000),
        KernelImage::DEBIAN_6_1
    );
    assert_eq!(
        KernelImage::debian(Strategy::Linux415, 0x1_0000),
        KernelImage::DEBIAN_6_1
    );
}

fn region(base: u64, size: u64) -> Region {
    Region::new(PhysAddr::new(base), PhysSize::new(size))
}

fn crash(size: u64, base: Option<u64>) -> CrashKernel {
    CrashKernel {
        size: PhysSize::new(size),
        base: base.map(PhysAddr::new),
    }
}

/// 6.1 `reserve_crashkernel` (relocatable kernel): without an offset (or with `@0`) the
/// base is `min(ppc64_rma_size / 2, SZ_512M)` on an LPAR, `min(.., SZ_128M)` otherwise;
/// base and size are page aligned up; nothing when the size is 0, when it would overlap
/// the kernel (`_stext` to `_end`), or when it is not memory.
#[test]
fn crashkernel_region_follows_reserve_crashkernel() {
    let k = KernelImage::DEBIAN_6_1; // [0, 0x2880000)
    let page = 0x1_0000;
    let all = |_: Region| true;
    let place = |req, rma, lpar| crashkernel_region(req, rma, lpar, &k, page, all);

    assert_eq!(place(crash(0, None), 4 * GIB, true), None);
    // Automatic base: half the RMA, capped.
    assert_eq!(
        place(crash(256 * MIB, None), 4 * GIB, true),
        Some(region(512 * MIB, 256 * MIB))
    );
    assert_eq!(
        place(crash(256 * MIB, None), 4 * GIB, false),
        Some(region(128 * MIB, 256 * MIB))
    );
    assert_eq!(
        place(crash(64 * MIB, None), 512 * MIB, true),
        Some(region(256 * MIB, 64 * MIB))
    );
    assert_eq!(
        place(crash(64 * MIB, None), 128 * MIB, false),
        Some(region(64 * MIB, 64 * MIB))
    );
    // @0 is no offset.
    assert_eq!(
        place(crash(64 * MIB, Some(0)), 4 * GIB, true),
        Some(region(512 * MIB, 64 * MIB))
    );
    // An explicit base, both rounded up to pages.
    assert_eq!(
        place(crash(0x100_0001, Some(0x3000_0123)), 4 * GIB, true),
        Some(region(0x3001_0000, 0x101_0000))
    );
    // Just above the kernel's end: kept; one page lower: overlaps, dropped.
    assert_eq!(
        place(crash(MIB, Some(0x288_0000)), 4 * GIB, true),
        Some(region(0x288_0000, MIB))
    );
    assert_eq!(place(crash(MIB, Some(0x287_0000)), 4 * GIB, true), None);
    // Not memory: dropped.
    let below_1g = |r: Region| r.end().as_u64() <= GIB;
    assert_eq!(
        crashkernel_region(
            crash(MIB, Some(GIB - MIB)),
            4 * GIB,
            true,
            &k,
            page,
            below_1g
        ),
        Some(region(GIB - MIB, MIB))
    );
    assert_eq!(
        crashkernel_region(
            crash(MIB, Some(GIB - MIB / 2)),
            4 * GIB,
            true,
            &k,
            page,
            below_1g
        ),
        None
    );
    // Past the top of the address space: dropped, not wrapped.
    assert_eq!(place(crash(GIB, Some(u64::MAX - MIB)), 4 * GIB, true), None);
}

/// `overlaps_kernel_text` and `overlaps_interrupt_vector_text` on their edges, with a
/// kernel whose text starts at 1 MiB so that the vectors (0x100..0x5d00, Debian's) lie
/// outside it: a mapping is executable when it shares a byte with either.
#[test]
fn text_and_vectors_are_half_open() {
    let k = KernelImage {
        stext: PhysAddr::new(MIB),
        init_end: PhysAddr::new(32 * MIB),
        ..KernelImage::DEBIAN_6_1
    };
    let (vb, ve) = (k.interrupts.base.as_u64(), k.interrupts.end().as_u64());
    assert_eq!((vb, ve), (0x100, 0x5d00));
    // Vectors only.
    assert!(k.maps_text(0, 0x8000));
    assert!(k.maps_text(ve - 1, 0x8000));
    assert!(k.maps_text(0, vb + 1));
    // Touching the vectors or the text without sharing a byte.
    assert!(!k.maps_text(0, vb));
    assert!(!k.maps_text(ve, 0x8000));
    assert!(!k.maps_text(0x8000, MIB));
    assert!(!k.maps_text(32 * MIB, 34 * MIB));
    // Text.
    assert!(k.maps_text(0x8000, MIB + 1));
    assert!(k.maps_text(32 * MIB - 1, 34 * MIB));
    // No vectors at all.
    let bare = KernelImage {
        interrupts: Region::new(PhysAddr::ZERO, PhysSize::ZERO),
        ..k
    };
    assert!(!bare.maps_text(0, 0x8000));
}

/// `KernelImage::debian_release` names the build each real boot's banner shows, for
/// the kernel the same arguments pick (`cargo xtask linux-boot` compares that build's
/// symbols with `KernelImage::debian`).
#[test]
fn debian_releases_are_the_booted_builds() {
    use percpu::consts::{PAGE_SIZE_4K, PAGE_SIZE_64K};
    for (strategy, page_size, boot) in [
        (Strategy::Linux61, PAGE_SIZE_64K, "linux-6.1/r42.log"),
        (Strategy::Linux612, PAGE_SIZE_4K, "linux-6.12/4-r42.log"),
        (Strategy::Linux612, PAGE_SIZE_64K, "linux-6.12/64-r84.log"),
    ] {
        let release = KernelImage::debian_release(strategy, page_size);
        let banner = format!("Linux version {release} (");
        assert!(log(boot).contains(&banner), "{boot}: no `{banner}`");
    }
}
