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
