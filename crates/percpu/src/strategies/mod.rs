//! Strategies beyond Linux: other ways a kernel could allocate the paca data (paca,
//! lppaca, SLB shadow), each a documented sequence of memblock calls that keeps every
//! rule Linux's own sequence keeps.
//!
//! Every strategy here runs the Linux 6.1 sequence ([`crate::Strategy::Linux61`]) and
//! changes only `allocate_paca` (the boot CPU's, in `early_setup`, and every other CPU's,
//! in `smp_setup_pacas`): `paca_ptrs`, the page tables, the device tree, RTAS,
//! `cpu_to_phys_id`, the IRQ and emergency stacks are allocated exactly as Linux does,
//! so any difference in a comparison comes from the paca data alone.
//!
//! # What Linux spends, and the rules any strategy must keep
//!
//! Linux allocates 1 KiB, 1 KiB-aligned, for each 640-byte lppaca, and advertises 1 KiB
//! in its `size` field, only because KVM before 4.14 refused a smaller size; it
//! allocates paca, lppaca and SLB shadow separately (three memblock calls and, through
//! alignment holes, up to three reserved regions per CPU). The rules any placement
//! keeps (PAPR `H_REGISTER_VPA`, and Linux's own):
//!
//! 1. the lppaca is 128-byte aligned, does not cross a 4 KiB boundary, and its `size`
//!    field is at least the hypervisor's minimum (640; 1024 for KVM before 4.14,
//!    `vpa_hv::Profile::vpa_min_size`);
//! 2. the SLB shadow is 128-byte aligned and does not cross a 4 KiB boundary;
//! 3. the paca is 128-byte aligned (`L1_CACHE_BYTES`);
//! 4. in a hash guest, whatever is touched with translation off lies below
//!    `min(ppc64_bolted_size(), ppc64_rma_size)` (`allocate_paca`'s limit);
//! 5. the boot CPU's paca data is allocated in `early_setup`, before NUMA is known
//!    (no node, bottom-up), and under radix its SLB shadow is freed again.
//!
//! # The strategies
//!
//! * [`crate::Strategy::PackedVpa`]: the lppaca is carved from 4 KiB pages, six
//!   640-byte slots to a page at offsets 0, 640, ..., 3200 (multiples of 128, the last
//!   ending at 3840), each page `memblock_alloc_try_nid(4096, 4096, 0, limit, nid)` on
//!   the CPU's node and shared by the next CPUs of that node (the boot CPU's page,
//!   allocated before NUMA is known, is its own). Rules 1 and 2 hold by construction
//!   (a page is 4 KiB-aligned and the slots end inside it), the `size` field says 640,
//!   so the strategy needs a hypervisor that accepts 640: KVM since 4.14, QEMU, PowerVM.
//!   Paca and SLB shadow are allocated as in Linux.
//! * [`crate::Strategy::PerCpuBlock`]: one `memblock_alloc_try_nid` per CPU, on its
//!   node, below the same limit, holding `[lppaca 640][paca][SLB shadow 128]`, aligned to
//!   1 KiB. The lppaca at offset 0 of a 1 KiB-aligned block cannot cross 4 KiB (1024
//!   divides 4096 and 640 < 1024); the paca at 640 and the SLB shadow after it are
//!   128-aligned (640 and the paca size are multiples of 128) and a 128-byte,
//!   128-aligned SLB shadow cannot cross 4 KiB. With Debian's 3328-byte paca a record
//!   is exactly 4096 bytes, so consecutive blocks touch and memblock merges them into
//!   one reserved region. The boot CPU's SLB shadow is the tail of its block, so the
//!   radix fixup (rule 5) frees the tail. No lppaca in hypervisor mode; no SLB shadow
//!   for the other CPUs under radix.
//! * [`crate::Strategy::PerNodeBlock`]: one allocation per node, on that node, below
//!   the same limit, 4 KiB-aligned, holding one record (as above) per CPU of the node:
//!   first the possible CPUs in ascending order, then the node's present CPUs that are
//!   not possible (outside `cpu_possible_mask` or at or above `nr_cpu_ids`), whose
//!   records are freed back in one `memblock_phys_free` of the block's tail. The block
//!   can so be sized from the device tree's CPU nodes alone. A record's lppaca that
//!   would cross a 4 KiB boundary moves to the next 4 KiB (the skipped bytes are counted
//!   as padding). The boot CPU has its own per-CPU block (rule 5).
//! * [`crate::Strategy::RmaSplit`]: [`crate::Strategy::PackedVpa`] with the lppaca pages
//!   limited by `ppc64_bolted_size()` only, not by the RMA. The rule that makes it safe:
//!   Linux 6.1 touches the paca and the SLB shadow with translation off (exception
//!   entry; `slb_restore_bolted_realmode` in the machine-check path), but the lppaca only
//!   in virtual mode (`get_lppaca()` in idle, page-fault, cputime and yield code), and
//!   the hypervisor addresses it physically anywhere in partition memory (QEMU and KVM
//!   check only that it is guest memory). Keeping it below the bolted size means those
//!   virtual-mode accesses take no SLB miss, as for the paca. On a machine whose RMA is
//!   node 0's only, every node's lppacas become node-local; the pacas and SLB shadows
//!   still fall back as in Linux. Not for a guest that runs its own code in real mode
//!   on the lppaca (the e2e guest refuses it).

mod blocks;
mod packed;

use alloc::vec::Vec;

use phys::{NodeId, PhysAddr, PhysSize};

use crate::config::Strategy;
use crate::consts::{L1_CACHE_BYTES, LPPACA_STRUCT_SIZE, SLB_SHADOW_SIZE};
use crate::error::PlanError;
use crate::mem::MemblockOps;
use crate::plan::{node_of_addr, Planner};
use crate::report::{Allocation, Outcome, StructureKind};

/// The boundary an lppaca must not cross (PAPR), and the page [`Strategy::PackedVpa`]
/// carves lppacas from.
pub const VPA_PAGE: u64 = papr::VPA_BOUNDARY;

/// 640-byte lppaca slots in one [`VPA_PAGE`]: six (3840 bytes, 256 left).
pub const LPPACAS_PER_PAGE: u64 = VPA_PAGE / LPPACA_STRUCT_SIZE;

/// The alignment of a per-CPU block with an lppaca at offset 0: the smallest power of
/// two at least 640, so that the lppaca cannot cross a 4 KiB boundary.
pub const CPU_BLOCK_ALIGN: u64 = 0x400;

/// An lppaca page of [`Strategy::PackedVpa`] with free slots.
#[derive(Clone, Copy, Debug)]
struct Page {
    /// The node its slots are for (`None`: the boot CPU's page).
    node: Option<NodeId>,
    addr: PhysAddr,
    used: u64,
    outcome: Outcome,
}

/// What the strategies carry from one CPU to the next.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pages: Vec<Page>,
}

/// Where the parts of one CPU's record lie inside a block, as offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// Where the record begins (before any move of the lppaca to the next 4 KiB).
    pub start: u64,
    pub lppaca: Option<u64>,
    pub paca: u64,
    pub slb: Option<u64>,
    /// One past the record's last byte (a multiple of 128).
    pub end: u64,
}

/// Lays out one record from offset `start` (a multiple of 128) of a block whose base is
/// 4 KiB-aligned (or, for a single record at 0, [`CPU_BLOCK_ALIGN`]-aligned): lppaca
/// first, moved to the next 4 KiB if it would cross one, then the paca, then the SLB
/// shadow. Every part stays 128-aligned because 640, 128 and a valid paca size are
/// multiples of 128.
pub(crate) fn record(start: u64, lppaca: bool, paca_size: u64, slb: bool) -> Record {
    let mut off = start;
    let lp = lppaca.then(|| {
        if off % VPA_PAGE + LPPACA_STRUCT_SIZE > VPA_PAGE {
            off = off.div_ceil(VPA_PAGE).saturating_mul(VPA_PAGE);
        }
        let at = off;
        off = off.saturating_add(LPPACA_STRUCT_SIZE);
        at
    });
    let paca = off;
    off = off.saturating_add(paca_size);
    let s = slb.then(|| {
        let at = off;
        off = off.saturating_add(SLB_SHADOW_SIZE);
        at
    });
    Record {
        start,
        lppaca: lp,
        paca,
        slb: s,
        end: off.div_ceil(L1_CACHE_BYTES).saturating_mul(L1_CACHE_BYTES),
    }
}

/// `allocate_paca(cpu)` of a strategy beyond Linux.
pub(crate) fn allocate_paca<M: MemblockOps>(
    p: &mut Planner<'_, M>,
    cpu: u32,
) -> Result<(), PlanError> {
    match p.cfg.strategy {
        Strategy::PerCpuBlock | Strategy::PerNodeBlock => blocks::cpu_block(p, cpu),
        _ => packed::allocate_paca(p, cpu),
    }
}

/// `smp_setup_pacas` of a strategy beyond Linux: the paca data of every possible CPU
/// but the boot CPU (`cpus` is `for_each_possible_cpu`).
pub(crate) fn smp_setup_pacas<M: MemblockOps>(
    p: &mut Planner<'_, M>,
    cpus: &[u32],
) -> Result<(), PlanError> {
    let boot = p.cfg.boot_cpu;
    if matches!(
        p.cfg.strategy,
        Strategy::PerCpuBlock | Strategy::PerNodeBlock
    ) {
        blocks::account_boot_fixup(p);
    }
    if p.cfg.strategy == Strategy::PerNodeBlock {
        return blocks::node_blocks(p, cpus);
    }
    for &cpu in cpus {
        if cpu != boot {
            allocate_paca(p, cpu)?;
        }
    }
    Ok(())
}

/// Records a structure that lives inside a container block.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_slot<M: MemblockOps>(
    p: &mut Planner<'_, M>,
    kind: StructureKind,
    cpu: u32,
    addr: PhysAddr,
    size: u64,
    requested_node: Option<NodeId>,
    outcome: Outcome,
) {
    let home_node = p.home_of(cpu);
    let memory_node = node_of_addr(p.topo, addr);
    p.allocs.push(Allocation {
        kind,
        cpu: Some(cpu),
        addr,
        size: PhysSize::new(size),
        reserved: PhysSize::new(size),
        align: L1_CACHE_BYTES,
        requested_node,
        home_node,
        memory_node,
        outcome,
        in_array: true,
        freed: false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An lppaca that ends exactly at a 4 KiB boundary does not cross it, so it stays
    /// where it is (moving it would waste the rest of the page).
    #[test]
    fn an_lppaca_ending_at_a_page_boundary_stays() {
        let r = record(4096 - 640, true, 0xd00, true);
        assert_eq!(r.lppaca, Some(4096 - 640));
        let r = record(4096 - 640 + 128, true, 0xd00, true);
        assert_eq!(r.lppaca, Some(4096));
    }

    #[test]
    fn records_keep_papr_rules() {
        // Debian 6.1's paca: a record is exactly 4 KiB.
        let r = record(0, true, 0xd00, true);
        assert_eq!(
            (r.lppaca, r.paca, r.slb, r.end),
            (Some(0), 640, Some(3968), 4096)
        );
        // A 2432-byte paca: 3200-byte records; the sixth starts at 16000, where its
        // lppaca would end 256 bytes into the next 4 KiB, so it moves to 16384.
        let mut off = 0;
        for _ in 0..5 {
            let r = record(off, true, 0x980, true);
            assert_eq!(r.lppaca, Some(off));
            off = r.end;
        }
        assert_eq!(off, 16000);
        let r6 = record(off, true, 0x980, true);
        assert_eq!(
            (r6.start, r6.lppaca, r6.end),
            (16000, Some(16384), 16384 + 3200)
        );
        for start in (0..64 * 1024).step_by(128) {
            let r = record(start, true, 0x500, true);
            let lp = r.lppaca.unwrap();
            assert_eq!(lp % 128, 0);
            assert_eq!(lp / VPA_PAGE, (lp + LPPACA_STRUCT_SIZE - 1) / VPA_PAGE);
            let s = r.slb.unwrap();
            assert_eq!(s / VPA_PAGE, (s + SLB_SHADOW_SIZE - 1) / VPA_PAGE);
            assert_eq!(r.paca % 128, 0);
        }
        assert_eq!(LPPACAS_PER_PAGE, 6);
    }
}
