//! Caller-chosen capacity (`Memblock<N>`), `const` construction for a `static`, and the
//! classification of allocation failures (`AllocError::ArrayFull` apart from `NoFit`).
//!
//! Runs with and without the `alloc` feature. The capacity checks compare a
//! `Memblock<N>` with the default-sized memblock configured through
//! `Config::initial_regions`, the path `tests/linux_oracle.rs` checks against Linux;
//! the failure scripts are compared with Linux's own memblock when the oracle is
//! available (`NUMABOOT_LINUX_MEMBLOCK`; required under `CI`).

use std::sync::Mutex;

#[cfg(feature = "alloc")]
mod oracle_path;

use memblock::{
    AllocError, AllocLimit, ArrayKind, Config, Error, Memblock, NodeId, PhysAddr, PhysSize, Region,
    RegionFlags, INIT_MEMBLOCK_REGIONS,
};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn p(a: u64) -> PhysAddr {
    PhysAddr::new(a)
}
fn s(a: u64) -> PhysSize {
    PhysSize::new(a)
}
fn node(n: u32) -> NodeId {
    NodeId::new(n).unwrap()
}

/// Built at compile time, no heap: what a kernel's `static` memblock looks like here.
static BOOT: Mutex<Memblock<64>> = Mutex::new(Memblock::sized());
/// The default size through the unchanged constructor, also `const`.
static DEFAULT: Mutex<Memblock> = Mutex::new(Memblock::new());

#[test]
fn a_static_memblock_works_behind_a_lock() {
    let mut mb = BOOT.lock().unwrap();
    assert_eq!(mb.capacity(ArrayKind::Reserved), 64);
    assert_eq!(mb.config().initial_regions, 64);
    mb.add(p(0), s(GIB)).unwrap();
    mb.reserve(p(0), s(16 * MIB)).unwrap();
    let a = mb
        .alloc_try_nid(s(0x1_0000), 0x1_0000, p(0), AllocLimit::Anywhere, None)
        .unwrap();
    assert_eq!(a, p(GIB - 0x1_0000));
    assert_eq!(mb.reserved().len(), 2);

    let d = DEFAULT.lock().unwrap();
    assert_eq!(d.capacity(ArrayKind::Memory), INIT_MEMBLOCK_REGIONS);
    assert_eq!(d.config(), Config::default());
}

/// `count` disjoint 64 KiB reservations 1 MiB apart, then what the arrays hold.
fn fill<const N: usize>(mb: &mut Memblock<N>, count: u64) -> Vec<Result<(), Error>> {
    (0..count)
        .map(|i| mb.reserve(p(i * MIB + 0x1_0000), s(0x1_0000)))
        .collect()
}

#[test]
fn sized_is_the_default_memblock_with_that_many_initial_regions() {
    // Linux's model sees the same thing whichever way the capacity is chosen; with
    // `alloc` both grow at the same point, without it both stop there.
    let mut sized = Memblock::<8>::sized();
    let mut configured = Memblock::with_config(Config {
        initial_regions: 8,
        ..Config::default()
    });
    assert_eq!(sized.config(), configured.config());
    sized.add_all();
    configured.add_all();
    assert_eq!(fill(&mut sized, 40), fill(&mut configured, 40));
    assert_eq!(sized.to_string(), configured.to_string());
    assert_eq!(
        sized.capacity(ArrayKind::Reserved),
        configured.capacity(ArrayKind::Reserved)
    );
    assert_eq!(
        sized.array_location(ArrayKind::Reserved),
        configured.array_location(ArrayKind::Reserved)
    );
    #[cfg(feature = "alloc")]
    {
        // 40 reservations and the grown array itself: doubled 8 -> 16 -> 32 -> 64.
        assert_eq!(sized.capacity(ArrayKind::Reserved), 64);
        assert_eq!(sized.reserved().len(), 41);
    }
    #[cfg(not(feature = "alloc"))]
    {
        assert_eq!(sized.capacity(ArrayKind::Reserved), 8);
        assert_eq!(sized.reserved().len(), 8);
        assert_eq!(
            fill(&mut sized, 9).last(),
            Some(&Err(Error::NoMemory {
                array: ArrayKind::Reserved
            }))
        );
    }
}

/// Adds the same two nodes of memory to memblocks of any capacity.
trait AddAll {
    fn add_all(&mut self);
}
impl<const N: usize> AddAll for Memblock<N> {
    fn add_all(&mut self) {
        self.add_node(p(0), s(GIB), Some(node(0)), RegionFlags::NONE)
            .unwrap();
        self.add_node(p(GIB), s(GIB), Some(node(1)), RegionFlags::NONE)
            .unwrap();
    }
}

#[test]
fn initial_regions_is_at_most_n_without_a_heap() {
    let mb = Memblock::<4>::sized_with_config(Config {
        initial_regions: 100,
        ..Config::default()
    });
    // With a heap the storage is not inline, so the requested capacity stands.
    let expected = if cfg!(feature = "alloc") { 100 } else { 4 };
    assert_eq!(mb.config().initial_regions, expected);
    assert_eq!(mb.capacity(ArrayKind::Memory), expected);
    // Below N it is honoured either way; 0 is corrected to 1 as before.
    for (asked, got) in [(2, 2), (0, 1)] {
        let mb = Memblock::<4>::sized_with_config(Config {
            initial_regions: asked,
            ..Config::default()
        });
        assert_eq!(mb.capacity(ArrayKind::Reserved), got);
    }
}

#[test]
fn inline_storage_scales_with_n_without_a_heap() {
    let region = std::mem::size_of::<Region>();
    assert_eq!(Memblock::<16>::INLINE_BYTES, 2 * 16 * region);
    let small = std::mem::size_of::<Memblock<16>>();
    let default = std::mem::size_of::<Memblock>();
    eprintln!(
        "size_of: Region {region}, Memblock<16> {small}, Memblock<{INIT_MEMBLOCK_REGIONS}> \
         {default} (alloc: {})",
        cfg!(feature = "alloc")
    );
    if cfg!(feature = "alloc") {
        // Heap storage: the capacity does not show in the value.
        assert_eq!(small, default);
    } else {
        assert!(small >= Memblock::<16>::INLINE_BYTES);
        assert_eq!(
            default - small,
            Memblock::<INIT_MEMBLOCK_REGIONS>::INLINE_BYTES - Memblock::<16>::INLINE_BYTES
        );
    }
}

// ------------------------------------------------------------------ error story

#[test]
fn region_errors_convert_to_the_allocation_error_they_cause() {
    for array in [ArrayKind::Memory, ArrayKind::Reserved] {
        let full = Error::NoMemory { array };
        assert_eq!(AllocError::from(full), AllocError::ArrayFull { array });
        assert_eq!(AllocError::ArrayFull { array }.region_error(), Some(full));
        let bug = Error::BugOn { array };
        assert_eq!(AllocError::from(bug), AllocError::Fatal(bug));
        let alias = Error::ArrayAlias {
            array,
            at: p(0x1000),
        };
        assert_eq!(AllocError::from(alias), AllocError::Fatal(alias));
        assert_eq!(AllocError::Fatal(alias).region_error(), Some(alias));
    }
    assert_eq!(AllocError::NoFit.region_error(), None);
    let shown = AllocError::ArrayFull {
        array: ArrayKind::Reserved,
    }
    .to_string();
    assert!(shown.contains("reserved region array is full"), "{shown}");
    assert_ne!(shown, AllocError::NoFit.to_string());
}

/// Node 1 entirely reserved, the reserved array full (4 entries, no growth): a
/// request for node 1 finds nothing there, and on the fallback finds room on node 0
/// that the reserved array cannot record.
#[cfg(feature = "alloc")]
const FULL_ON_FALLBACK: &str = "\
config initial_regions 4
config allow_resize 0
add 0 0x40000000 0
add 0x40000000 0x40000000 1
reserve 0 0x100000
reserve 0x6400000 0x100000
reserve 0xc800000 0x100000
reserve 0x40000000 0x40000000
alloc 0x1000 0x1000 0 anywhere 1 1
alloc 0x1000 0x1000 0 anywhere 1 0
alloc_try_nid 0x1000 0x1000 0x80000000 anywhere 1
alloc_try_nid 0x1000 0x1000 0x10000000 anywhere 1
alloc 0x1000 0x1000 0 anywhere -1 0
alloc 0x80000000 0x1000 0 anywhere -1 0
";

fn full_on_fallback<const N: usize>() -> Memblock<N> {
    let mut mb = Memblock::<N>::sized_with_config(Config {
        initial_regions: 4,
        allow_resize: false,
        ..Config::default()
    });
    mb.add_node(p(0), s(GIB), Some(node(0)), RegionFlags::NONE)
        .unwrap();
    mb.add_node(p(GIB), s(GIB), Some(node(1)), RegionFlags::NONE)
        .unwrap();
    for (b, l) in [(0, MIB), (100 * MIB, MIB), (200 * MIB, MIB), (GIB, GIB)] {
        mb.reserve(p(b), s(l)).unwrap();
    }
    mb
}

#[test]
fn array_full_is_not_no_fit() {
    let full = Err(AllocError::ArrayFull {
        array: ArrayKind::Reserved,
    });
    let (page, top) = (s(0x1000), AllocLimit::Anywhere);
    let mut mb = full_on_fallback::<4>();
    let before = mb.to_string();
    // Exact node: nothing free on node 1 at all.
    assert_eq!(
        mb.alloc_range_nid(page, 0x1000, p(0), top, Some(node(1)), true),
        Err(AllocError::NoFit)
    );
    // Fallback: node 0 has room, the array has none.
    assert_eq!(
        mb.alloc_range_nid(page, 0x1000, p(0), top, Some(node(1)), false),
        full
    );
    // A lower bound above all memory: no fit there, then the retry from 0 fits.
    assert_eq!(
        mb.alloc_try_nid(page, 0x1000, p(2 * GIB), top, Some(node(1))),
        full
    );
    assert_eq!(
        mb.alloc_try_nid(page, 0x1000, p(256 * MIB), top, Some(node(1))),
        full
    );
    assert_eq!(
        mb.alloc_range_nid(page, 0x1000, p(0), top, None, false),
        full
    );
    // Too big for any free range: no fit, whatever the array.
    assert_eq!(
        mb.alloc_range_nid(s(2 * GIB), 0x1000, p(0), top, None, false),
        Err(AllocError::NoFit)
    );
    assert_eq!(mb.to_string(), before);

    // The same memblock with inline room for more does not change the outcome: the
    // capacity Linux's model sees is `initial_regions`.
    let mut roomy = full_on_fallback::<64>();
    assert_eq!(
        roomy.alloc_range_nid(page, 0x1000, p(0), top, Some(node(1)), false),
        full
    );
}

/// Linux prints the same as the crate for the script above: the classification is
/// the crate's, the results are Linux's.
#[cfg(feature = "alloc")]
#[test]
fn array_full_results_are_linux_results() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use memblock::replay::{execute, parse_line, run, Outcome};

    // The script is the API test's memblock and requests; the replay reports each
    // failure with the same classification.
    let full = Outcome::Failed(Error::NoMemory {
        array: ArrayKind::Reserved,
    });
    let expected = [Outcome::NoFit, full, full, full, full, Outcome::NoFit];
    let mut outcomes = Vec::new();
    let mut mb = Memblock::new();
    let mut out = String::new();
    for line in FULL_ON_FALLBACK.lines() {
        let op = parse_line(line).unwrap().unwrap();
        let outcome = execute(&mut mb, &op, &mut out).unwrap();
        if line.starts_with("alloc") {
            outcomes.push(outcome);
        }
        if line.starts_with("reserve 0x40000000") {
            assert_eq!(mb.to_string(), full_on_fallback::<4>().to_string());
        }
    }
    assert_eq!(outcomes, expected);
    let ours = run(FULL_ON_FALLBACK).unwrap();
    assert_eq!(ours.matches("alloc -> fail").count(), expected.len());

    let Some(oracle) = oracle_path::oracle("capacity: Linux comparison") else {
        return;
    };
    let mut child = Command::new(oracle)
        .env_remove("NUMABOOT_ORACLE_EVENTS")
        .env_remove("NUMABOOT_ORACLE_VERBOSE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(FULL_ON_FALLBACK.as_bytes())
        .unwrap();
    let linux = child.wait_with_output().unwrap();
    assert!(linux.status.success());
    assert_eq!(String::from_utf8(linux.stdout).unwrap(), ours);
}
