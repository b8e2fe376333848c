//! The block strategies' radix fixup (docs/MUTATION.md: its searches were found
//! equivalent under weaker conditions): with a boot CPU other than 0, the boot CPU's
//! block is its first allocation, the SLB shadow at its tail is freed as 6.1's
//! `free_unused_pacas` frees the boot CPU's, and the block's reservation ends where
//! the SLB shadow began.

mod common;

use common::*;
use percpu::{Strategy, StructureKind as K};

#[test]
fn radix_fixup_trims_the_boot_cpus_block() {
    let topo = machine(2, 4, 4 * GIB, GIB);
    for strategy in [Strategy::PerCpuBlock, Strategy::PerNodeBlock] {
        for boot in [0, 5] {
            let mut c = cfg(&topo, strategy, true);
            c.boot_cpu = boot;
            let (_, p) = run(&topo, &c);
            let what = format!("{strategy} boot CPU {boot}");
            // early_setup allocates paca_ptrs, then the boot CPU's paca data.
            let first_per_cpu = p
                .allocations
                .iter()
                .find(|a| a.cpu.is_some())
                .expect("a per-CPU allocation");
            assert_eq!(
                (first_per_cpu.kind, first_per_cpu.cpu),
                (K::PacaBlock, Some(boot)),
                "{what}"
            );
            let block = *first_per_cpu;
            assert!(!block.freed, "{what}");
            // Under radix no SLB shadow stays in use; the boot CPU's was laid out and
            // is freed.
            assert!(p.live().all(|a| a.kind != K::SlbShadow), "{what}");
            let slb = p
                .allocations
                .iter()
                .find(|a| a.kind == K::SlbShadow && a.cpu == Some(boot))
                .expect("the boot CPU's SLB shadow");
            assert!(slb.freed, "{what}");
            // [lppaca 640][paca][SLB shadow 128]: the shadow is the block's last 128
            // bytes, and what stays reserved ends where it begins.
            assert_eq!(slb.size.as_u64(), 0x80);
            let paca = p.find(boot, K::Paca).expect("the boot CPU's paca");
            assert_eq!(paca.addr.as_u64(), block.addr.as_u64() + 640, "{what}");
            assert_eq!(slb.addr.as_u64(), paca.end().as_u64(), "{what}");
            assert_eq!(
                block.addr.as_u64() + block.reserved.as_u64(),
                slb.addr.as_u64(),
                "{what}"
            );
            let freed_tail = p
                .memblock_trace()
                .iter()
                .filter_map(|op| op.freed())
                .any(|(b, s)| b == slb.addr && s.as_u64() == 0x80);
            assert!(freed_tail, "{what}");
            // No other CPU's block was trimmed: each holds [lppaca][paca] (per-CPU)
            // or whole records (per-node) without an SLB shadow.
            for a in p
                .live()
                .filter(|a| a.kind == K::PacaBlock && a.cpu != Some(boot))
            {
                assert!(a.cpu.is_none() || strategy == Strategy::PerCpuBlock);
                if let Some(cpu) = a.cpu {
                    let pa = p.find(cpu, K::Paca).unwrap();
                    assert_eq!(a.reserved.as_u64(), 640 + pa.size.as_u64(), "{what}");
                }
            }
        }
    }
}
