//! `PlanConfig` at the edges of what Linux can have (docs/MUTATION.md): each check of
//! `validate` one step inside and one step outside, and the possible-CPU rules.

mod common;

use common::{machine, GIB};
use percpu::{ConfigError, PlanConfig, Strategy};
use phys::PhysSize;

fn base() -> PlanConfig {
    PlanConfig::for_topology(&machine(2, 2, GIB, GIB), Strategy::Linux61)
}

fn check(change: impl FnOnce(&mut PlanConfig)) -> Result<(), ConfigError> {
    let mut c = base();
    change(&mut c);
    c.validate()
}

#[test]
fn cpu_ids_and_boot_cpu() {
    assert_eq!(base().validate(), Ok(()));
    assert_eq!(check(|c| c.nr_cpu_ids = 0), Err(ConfigError::NoCpuIds));
    // The boot CPU must be below nr_cpu_ids (and possible).
    assert_eq!(
        check(|c| {
            c.nr_cpu_ids = 4;
            c.boot_cpu = 3;
        }),
        Ok(())
    );
    assert_eq!(
        check(|c| {
            c.nr_cpu_ids = 3;
            c.boot_cpu = 3;
        }),
        Err(ConfigError::BootCpuOutOfRange {
            boot_cpu: 3,
            nr_cpu_ids: 3
        })
    );
    assert_eq!(
        check(|c| {
            c.boot_cpu = 1;
            c.possible = vec![true, false, true, true];
        }),
        Err(ConfigError::BootCpuNotPossible { boot_cpu: 1 })
    );
}

#[test]
fn paca_page_stack_and_radix_block_sizes() {
    let paca = |n: u64| check(|c| c.paca_size = PhysSize::new(n));
    assert_eq!(paca(128), Ok(()));
    assert_eq!(paca(0xd00), Ok(()));
    // The largest multiple of 128 that fits a u32, and the next one.
    assert_eq!(paca(0xffff_ff80), Ok(()));
    for bad in [0, 64, 0xd01, 1 << 32] {
        assert_eq!(
            paca(bad),
            Err(ConfigError::BadPacaSize {
                paca_size: PhysSize::new(bad)
            }),
            "{bad:#x}"
        );
    }

    let page = |n: u64| {
        check(|c| {
            c.page_size = n;
            c.radix_mem_block_size = n.max(1 << 28);
        })
    };
    assert_eq!(page(0x1000), Ok(()));
    assert_eq!(page(0x1_0000), Ok(()));
    for bad in [0, 0x800, 0x3000, 0x1_1000] {
        assert_eq!(
            page(bad),
            Err(ConfigError::BadPageSize { page_size: bad }),
            "{bad:#x}"
        );
    }

    let shift = |n: u32| check(|c| c.thread_shift = n);
    for ok in 13..=15 {
        assert_eq!(shift(ok), Ok(()));
    }
    for bad in [12, 16] {
        assert_eq!(
            shift(bad),
            Err(ConfigError::BadThreadShift { thread_shift: bad })
        );
    }

    // radix_mem_block_size: a power of two, at least a page (64 KiB here).
    let block = |n: u64| check(|c| c.radix_mem_block_size = n);
    assert_eq!(block(0x1_0000), Ok(()));
    assert_eq!(block(1 << 30), Ok(()));
    for bad in [0x8000, 0x3_0000, 0] {
        assert_eq!(
            block(bad),
            Err(ConfigError::BadRadixBlockSize { size: bad }),
            "{bad:#x}"
        );
    }
}

#[test]
fn messages_name_the_value() {
    let cases = [
        (ConfigError::NoCpuIds, "nr_cpu_ids is 0"),
        (
            ConfigError::BootCpuOutOfRange {
                boot_cpu: 5,
                nr_cpu_ids: 4,
            },
            "boot CPU 5 is not below nr_cpu_ids (4)",
        ),
        (
            ConfigError::BootCpuNotPossible { boot_cpu: 2 },
            "boot CPU 2 is not in the possible mask",
        ),
        (
            ConfigError::BadPageSize { page_size: 0x3000 },
            "page size 0x3000 is not a power of two >= 4 KiB",
        ),
        (
            ConfigError::BadThreadShift { thread_shift: 16 },
            "THREAD_SHIFT 16 is outside 13..=15",
        ),
        (
            ConfigError::BadRadixBlockSize { size: 0x8000 },
            "radix memory block size 0x8000 is not a power of two >= PAGE_SIZE",
        ),
    ];
    for (e, msg) in cases {
        assert_eq!(e.to_string(), msg);
    }
    assert!(ConfigError::BadPacaSize {
        paca_size: PhysSize::new(0xd01)
    }
    .to_string()
    .contains("128-byte cache line"));
}

/// `smp_setup_cpu_maps` ignores possible CPUs at or above `nr_cpu_ids`;
/// `setup_nr_cpu_ids` makes `nr_cpu_ids` one past the highest possible CPU.
#[test]
fn possible_cpus_stop_at_nr_cpu_ids() {
    let mut c = base();
    c.possible = vec![true, false, true, true, false, true];
    c.nr_cpu_ids = 5;
    assert_eq!(c.possible_cpus().collect::<Vec<_>>(), [0, 2, 3]);
    assert!(c.is_possible(3));
    assert!(!c.is_possible(1));
    assert!(!c.is_possible(5), "beyond nr_cpu_ids");
    assert!(!c.is_possible(9), "beyond the mask");
    assert_eq!(c.final_nr_cpu_ids(), 4);
    c.nr_cpu_ids = 6;
    assert_eq!(c.final_nr_cpu_ids(), 6);
}

/// The first `alloc_paca_data` line (the boot CPU's paca) of a real boot's
/// `memblock=debug` log: its byte count is `sizeof(struct paca_struct)` of that build.
fn logged_paca_size(log: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains("alloc_paca_data") && l.contains("align=0x80 "))
        .expect("the boot CPU's paca");
    line.split("memblock_alloc_try_nid: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn default_paca_sizes_are_the_debian_builds() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let read = |p: &str| std::fs::read_to_string(format!("{fixtures}/{p}")).unwrap();
    // 6.1 and 6.12 with 64 KiB pages: 3328 bytes; 6.12 with 4 KiB pages: 1280.
    let cases = [
        (Strategy::Linux61, 0x1_0000, "linux-6.1/h84.log"),
        (Strategy::Linux612, 0x1_0000, "linux-6.12/64-h84.log"),
        (Strategy::Linux612, 0x1000, "linux-6.12/4-h84.log"),
    ];
    for (s, page, log) in cases {
        let want = logged_paca_size(&read(log));
        assert_eq!(
            s.default_paca_size_for(page).as_u64(),
            want,
            "{s} {page:#x}"
        );
    }
    assert_eq!(Strategy::Linux61.default_paca_size().as_u64(), 3328);
    // The strategies beyond Linux use 6.1's paca.
    assert_eq!(
        Strategy::PackedVpa.default_paca_size_for(0x1000).as_u64(),
        1280
    );
    // 4.15's is smaller than either (0xa80), whatever the page size.
    for page in [0x1000, 0x1_0000] {
        assert_eq!(
            Strategy::Linux415.default_paca_size_for(page).as_u64(),
            0xa80
        );
    }
}

/// What a hash guest keeps below the RMA: Linux touches the paca, the lppaca, the SLB
/// shadow (and their arrays, and paca_ptrs) and the emergency stacks with translation
/// off, not the soft/hard IRQ stacks. `rma-split` exempts exactly the lppacas.
#[test]
fn real_mode_structures_per_strategy() {
    use percpu::StructureKind as K;
    let real = [
        K::PacaPtrs,
        K::Paca,
        K::SlbShadow,
        K::PacaArray,
        K::SlbShadowArray,
        K::EmergencyStack,
        K::NmiEmergencyStack,
        K::McEmergencyStack,
    ];
    let lppacas = [K::Lppaca, K::LppacaArray];
    let virt = [
        K::SoftirqStack,
        K::HardirqStack,
        K::CpuToPhysId,
        K::PageTable,
        K::LppacaPage,
    ];
    for s in Strategy::EVERY {
        for k in real {
            assert!(s.keeps_in_real_mode(k), "{s} {k}");
        }
        for k in lppacas {
            assert_eq!(s.keeps_in_real_mode(k), s != Strategy::RmaSplit, "{s} {k}");
        }
        for k in virt {
            assert!(!s.keeps_in_real_mode(k), "{s} {k}");
        }
        assert_eq!(s.lppaca_in_real_mode(), s != Strategy::RmaSplit);
    }
}

/// `THREAD_SIZE` of Debian's builds, as the first `alloc_stack` line of a real boot asks
/// for it (bytes, aligned to the same): 16 KiB in 6.1, 32 KiB in 6.12.
#[test]
fn default_stack_sizes_are_the_debian_builds() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    for (s, log) in [
        (Strategy::Linux61, "linux-6.1/h84.log"),
        (Strategy::Linux612, "linux-6.12/64-h84.log"),
    ] {
        let text = std::fs::read_to_string(format!("{fixtures}/{log}")).unwrap();
        let line = text.lines().find(|l| l.contains("alloc_stack+")).unwrap();
        let bytes: u64 = line
            .split("memblock_alloc_try_nid: ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(line.contains(&format!("align={bytes:#x} ")), "{line}");
        assert_eq!(1u64 << s.default_thread_shift(), bytes, "{s}");
        let c = PlanConfig::for_topology(&machine(1, 1, GIB, GIB), s);
        assert_eq!(c.thread_size(), bytes, "{s}");
    }
    assert_eq!(Strategy::PerNodeBlock.default_thread_shift(), 14);
}

/// Each strategy's help line is its own, and says which kernel it is or builds on.
#[test]
fn summaries_say_what_each_strategy_is() {
    for s in Strategy::EVERY {
        let others = Strategy::EVERY
            .iter()
            .filter(|o| o.summary() == s.summary())
            .count();
        assert_eq!(others, 1, "{s}");
        let start = match s {
            Strategy::Linux61 => "Linux 6.1,",
            Strategy::Linux612 => "Linux 6.12 ",
            Strategy::Linux415 => "Linux 4.15,",
            _ => "Beyond Linux: ",
        };
        assert!(s.summary().starts_with(start), "{s}: {}", s.summary());
    }
}

/// The bolted first segment of a hash MMU: 256 MiB (`SID_SHIFT` 28), or 1 TiB with
/// `MMU_FTR_1T_SEGMENT` (`SID_SHIFT_1T` 40), which is the `max_addr` a real 6.1 hash boot
/// gives `alloc_stack` for the IRQ stacks (`ppc64_bolted_size()`).
#[test]
fn segment_sizes() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/linux-6.1/h84.log"
    ))
    .unwrap();
    let line = text.lines().find(|l| l.contains("alloc_stack+")).unwrap();
    assert!(line.contains("max_addr=0x0000010000000000 "), "{line}");
    let mut c = base();
    assert!(c.segment_1t);
    assert_eq!(c.segment_size(), 1 << 40);
    assert_eq!(c.bolted_size(), 1 << 40);
    c.segment_1t = false;
    assert_eq!(c.segment_size(), 256 << 20);
    assert_eq!(c.bolted_size(), 256 << 20);
    c.radix = true;
    assert_eq!(c.bolted_size(), u64::MAX);
}

/// With the RMA unlimited (hypervisor mode), `first_memblock_size` is the size of the
/// memory block at address 0, wherever the topology lists it.
#[test]
fn first_memblock_is_the_one_at_zero() {
    let mut t = machine(2, 1, GIB, GIB);
    t.memory.swap(0, 1);
    t.memory[1].size = PhysSize::new(512 << 20);
    t.memory[0].base = phys::PhysAddr::new(512 << 20);
    t.memory[0].size = PhysSize::new(3 * GIB);
    t.rma_size = PhysSize::new(u64::MAX);
    assert_eq!(PlanConfig::first_memblock_size(&t).as_u64(), 512 << 20);
    // A finite RMA is the first block's size already.
    t.rma_size = PhysSize::new(256 << 20);
    assert_eq!(PlanConfig::first_memblock_size(&t).as_u64(), 256 << 20);
}
