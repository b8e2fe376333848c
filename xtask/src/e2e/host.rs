//! The host's own look at the guest: every lppaca, SLB shadow and DTL buffer read back
//! from guest memory through QMP `pmemsave` after the run, and checked against QEMU's
//! `-numa` layout and PAPR's rules without trusting anything the guest printed about
//! them. Only the addresses come from the report (its `plan` lines); what lies there,
//! and on which node that is, the host finds out itself.

use anyhow::Result;
use papr::{LPPACA_OLD_SHARED_PROC, SLB_NUM_BOLTED, SLB_SHADOW_SIZE};
use phys::{PhysAddr, PhysSize};

use crate::linux::qmp::Qmp;
use crate::machine::Machine;
use crate::report::Report;
use crate::strategy::GuestStrategy;

/// Linux's `DISPATCH_LOG_BYTES`: the DTL buffer size the guest registers (and its
/// alignment, as Linux's `dtl` kmem cache has).
pub const DTL_BYTES: u64 = 4096;
/// Bytes read at each DTL buffer: its first entry, whose word at offset 4 holds the
/// length the hypervisor read on registration.
const DTL_READ: u64 = 16;
/// Byte offset of the lppaca's `__old_status` (QEMU ORs the shared-processor bit in
/// on registration).
const OLD_STATUS: usize = core::mem::offset_of!(papr::Lppaca, __old_status);

/// A registered area as read from guest memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Area {
    /// Its guest physical address (from the report).
    pub addr: u64,
    /// The bytes QEMU saved from there.
    pub bytes: Vec<u8>,
}

impl Area {
    fn be16(&self, at: usize) -> Option<u16> {
        let b = self.bytes.get(at..at + 2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn be32(&self, at: usize) -> Option<u32> {
        let b = self.bytes.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// One CPU's areas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuAreas {
    /// Logical CPU number (the `plan` line's `cpu=`).
    pub cpu: u64,
    /// Its lppaca (the advertised size read, at least PAPR's 640 bytes).
    pub lppaca: Area,
    /// Its SLB shadow (`SLB_SHADOW_SIZE` bytes).
    pub slb: Area,
    /// The start of its DTL buffer.
    pub dtl: Area,
}

/// Reads every CPU's areas named by the report's `plan` lines through `qmp`.
pub fn read(r: &Report, strategy: GuestStrategy, qmp: &mut Qmp) -> Result<Vec<CpuAreas>> {
    let lppaca_bytes = strategy.lppaca_size_field().max(papr::VPA_MIN_SIZE);
    let mut out = Vec::new();
    for p in r.of("plan").filter(|l| l.fields.contains_key("cpu")) {
        let mut area = |key: &str, size: u64| -> Result<Area> {
            let addr = p.u64(key)?;
            Ok(Area {
                addr,
                bytes: qmp.read_phys(PhysAddr::new(addr), size)?,
            })
        };
        out.push(CpuAreas {
            cpu: p.u64("cpu")?,
            lppaca: area("lppaca", lppaca_bytes)?,
            slb: area("slb", SLB_SHADOW_SIZE as u64)?,
            dtl: area("dtl", DTL_READ)?,
        });
    }
    Ok(out)
}

/// Whether `[addr, addr + size)` stays within one 4 KiB block (QEMU's rule for every
/// registered area).
fn within_4k(addr: u64, size: u64) -> bool {
    size == 0
        || addr
            .checked_add(size - 1)
            .is_some_and(|last| addr / 4096 == last / 4096)
}

/// Checks the areas read back; returns one message per broken rule, each naming the CPU.
///
/// Per lppaca: the `size` field is the strategy's, the address has the strategy's
/// alignment and PAPR's placement (640 bytes, cache line, no 4 KiB crossing) holds for
/// the size found in memory, QEMU set the shared-processor bit in `__old_status`
/// (`yield_count` is not checked: QEMU leaves it odd for a CPU that stopped itself),
/// and it lies on the CPU's node whenever that node has memory
/// below the RMA (else in some node's memory). The SLB shadow: its length word and
/// bolted count are Linux's, cache-line aligned, within 4 KiB, node-local on the same
/// terms. The DTL buffer: 4 KiB aligned, its length word 4096, node-local likewise.
pub fn verify(m: &Machine, strategy: GuestStrategy, rma: u64, cpus: &[CpuAreas]) -> Vec<String> {
    let mem = m.node_ranges();
    let mut fail = Vec::new();
    if cpus.len() != m.cpu_node.len() {
        fail.push(format!(
            "host: read the areas of {} CPUs, QEMU has {}",
            cpus.len(),
            m.cpu_node.len()
        ));
    }
    for c in cpus {
        let cpu = c.cpu;
        let want_node = usize::try_from(cpu)
            .ok()
            .and_then(|i| m.cpu_node.get(i))
            .copied();
        let local_expected =
            want_node.is_some_and(|n| mem.iter().any(|&(mn, lo, _)| mn == n && lo < rma));
        let place = Place {
            m,
            cpu,
            want_node,
            local_expected,
            rma,
        };

        let lp = &c.lppaca;
        match lp.be16(papr::REGISTRATION_LENGTH_OFFSET) {
            Some(size) => {
                let size = u64::from(size);
                if size != strategy.lppaca_size_field() {
                    fail.push(format!(
                        "host: CPU {cpu}: the lppaca at {:#x} holds size field {size:#x}, {} writes {:#x}",
                        lp.addr,
                        strategy.name(),
                        strategy.lppaca_size_field()
                    ));
                }
                if let Err(e) = papr::vpa_placement_ok(PhysAddr::new(lp.addr), PhysSize::new(size))
                {
                    fail.push(format!("host: CPU {cpu}: lppaca {:#x}: {e}", lp.addr));
                }
                placed(
                    &mut fail,
                    &place,
                    "lppaca",
                    lp.addr,
                    size,
                    strategy.lppaca_align(),
                );
            }
            None => fail.push(format!("host: CPU {cpu}: lppaca {:#x} not read", lp.addr)),
        }
        match lp.bytes.get(OLD_STATUS) {
            Some(s) if s & LPPACA_OLD_SHARED_PROC != 0 => {}
            other => fail.push(format!(
                "host: CPU {cpu}: lppaca {:#x}: __old_status {other:x?} lacks the shared-processor bit QEMU sets on registration",
                lp.addr
            )),
        }

        let slb = &c.slb;
        let len = slb.be32(papr::REGISTRATION_LENGTH_OFFSET);
        if len != Some(SLB_SHADOW_SIZE as u32) || slb.be32(0) != Some(SLB_NUM_BOLTED as u32) {
            fail.push(format!(
                "host: CPU {cpu}: SLB shadow {:#x}: persistent {:?} and buffer_length {len:?}, Linux writes {SLB_NUM_BOLTED} and {SLB_SHADOW_SIZE}",
                slb.addr,
                slb.be32(0)
            ));
        }
        placed(
            &mut fail,
            &place,
            "SLB shadow",
            slb.addr,
            SLB_SHADOW_SIZE as u64,
            papr::L1_CACHE_BYTES,
        );

        let dtl = &c.dtl;
        let len = dtl.be32(papr::REGISTRATION_LENGTH_OFFSET);
        if len.map(u64::from) != Some(DTL_BYTES) {
            fail.push(format!(
                "host: CPU {cpu}: DTL {:#x}: length word {len:x?}, registered with {DTL_BYTES}",
                dtl.addr
            ));
        }
        placed(&mut fail, &place, "DTL", dtl.addr, DTL_BYTES, DTL_BYTES);
    }
    fail
}

/// What a CPU's areas must satisfy wherever they are.
struct Place<'a> {
    m: &'a Machine,
    cpu: u64,
    want_node: Option<u32>,
    /// The CPU's node has memory below the RMA, so Linux's node-local allocation succeeds.
    local_expected: bool,
    rma: u64,
}

/// Alignment, the 4 KiB rule, the RMA and the node of `[addr, addr + size)`.
fn placed(fail: &mut Vec<String>, p: &Place<'_>, what: &str, addr: u64, size: u64, align: u64) {
    let (cpu, rma, want_node) = (p.cpu, p.rma, p.want_node);
    if addr % align != 0 {
        fail.push(format!(
            "host: CPU {cpu}: {what} {addr:#x} is not {align}-byte aligned"
        ));
    }
    if !within_4k(addr, size) {
        fail.push(format!(
            "host: CPU {cpu}: {what} {addr:#x} ({size} bytes) crosses a 4 KiB boundary"
        ));
    }
    if addr.checked_add(size).is_none_or(|end| end > rma) {
        fail.push(format!(
            "host: CPU {cpu}: {what} {addr:#x} ends above the RMA {rma:#x}"
        ));
    }
    let got = p.m.node_of(addr);
    if p.local_expected && got != want_node {
        fail.push(format!(
            "host: CPU {cpu}: {what} {addr:#x} is on node {got:?} in QEMU's layout, its CPU on node {want_node:?}"
        ));
    } else if got.is_none() {
        fail.push(format!(
            "host: CPU {cpu}: {what} {addr:#x} is in no node's memory"
        ));
    }
}
