//! The guest's own pacas, read back from guest memory and compared with its report.
//!
//! The guest keeps Linux's arrangement: a record at each CPU's planned paca holding the
//! pointers its registrations used (`lppaca_ptr`, `slb_shadow_ptr`, `dispatch_log`), and
//! a table of pointers to those pacas, `NB_PACA_PTRS` (guest/src/paca.rs). The host finds
//! the table through the guest ELF's symbol table, not through anything the guest
//! printed, follows every pointer through QMP and compares each field with the `plan`
//! line of the same CPU: a report that names other addresses than the ones the guest
//! registered fails the run, naming the CPU.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use phys::PhysAddr;

use crate::linux::qmp::Qmp;
use crate::linux::symbols::{le_u64s, nm, symbol_address};
use crate::report::Report;

/// The symbol of the guest's paca table.
pub const TABLE_SYMBOL: &str = "NB_PACA_PTRS";
/// Entries of the table (the guest's `MAX_CPUS`, one per stack in start.S).
pub const TABLE_ENTRIES: usize = 16;
/// Bytes of the table: the count of pacas published, then one pointer per entry.
pub const TABLE_BYTES: u64 = 8 * (1 + TABLE_ENTRIES as u64);
/// Bytes of the guest's paca record: five little-endian doublewords.
pub const RECORD_BYTES: u64 = 40;

/// One paca as the guest left it in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestPaca {
    /// Where it lies (the table's pointer).
    pub at: u64,
    /// `paca_index`: the logical CPU.
    pub paca_index: u64,
    /// `hw_cpu_id`.
    pub hw_cpu_id: u64,
    /// `lppaca_ptr` (0: NULL).
    pub lppaca_ptr: u64,
    /// `slb_shadow_ptr` (0: NULL).
    pub slb_shadow_ptr: u64,
    /// `dispatch_log` (0: NULL).
    pub dispatch_log: u64,
}

/// The address of the guest's paca table in the ELF `elf` (the guest runs at its link
/// address in real mode, so this is a guest physical address).
pub fn table_address(elf: &Path) -> Result<u64> {
    symbol_address(&nm(elf)?, TABLE_SYMBOL)?
        .with_context(|| format!("{} has no symbol {TABLE_SYMBOL}", elf.display()))
}

/// The paca pointers of a table read from memory: its first `count` entries.
pub fn parse_table(bytes: &[u8]) -> Result<Vec<u64>> {
    let words = le_u64s(bytes)?;
    let (count, ptrs) = words.split_first().context("an empty paca table")?;
    let count = usize::try_from(*count).unwrap_or(usize::MAX);
    ensure!(
        count <= ptrs.len(),
        "the paca table counts {count} pacas, it has room for {}",
        ptrs.len()
    );
    Ok(ptrs[..count].to_vec())
}

/// A paca record read at `at`.
pub fn parse_record(at: u64, bytes: &[u8]) -> Result<GuestPaca> {
    let w = le_u64s(bytes)?;
    let [paca_index, hw_cpu_id, lppaca_ptr, slb_shadow_ptr, dispatch_log] = w[..] else {
        anyhow::bail!(
            "a paca record of {} bytes, expected {RECORD_BYTES}",
            bytes.len()
        );
    };
    Ok(GuestPaca {
        at,
        paca_index,
        hw_cpu_id,
        lppaca_ptr,
        slb_shadow_ptr,
        dispatch_log,
    })
}

/// Reads the table at `table` and every paca it points to.
pub fn read(qmp: &mut Qmp, table: u64) -> Result<Vec<GuestPaca>> {
    let ptrs = parse_table(&qmp.read_phys(PhysAddr::new(table), TABLE_BYTES)?)
        .with_context(|| format!("the guest's {TABLE_SYMBOL} at {table:#x}"))?;
    ptrs.iter()
        .map(|&at| {
            let bytes = qmp
                .read_phys(PhysAddr::new(at), RECORD_BYTES)
                .with_context(|| format!("reading the paca at {at:#x}"))?;
            parse_record(at, &bytes)
        })
        .collect()
}

/// Compares the pacas found in memory (through the table at `table`, the ELF's
/// address) with the report: the table address the guest printed, one paca per planned
/// CPU, and per CPU its paca's address and every pointer in it. One message per
/// disagreement, each naming the CPU.
pub fn compare(r: &Report, table: u64, pacas: &[GuestPaca]) -> Vec<String> {
    let mut fail = Vec::new();
    match r.one("pacas").and_then(|l| l.u64("table")) {
        Ok(printed) if printed == table => {}
        Ok(printed) => fail.push(format!(
            "host: the guest reports its paca table at {printed:#x}, the ELF's {TABLE_SYMBOL} is at {table:#x}"
        )),
        Err(e) => fail.push(format!("host: {e:#}")),
    }
    let plans: Vec<_> = r
        .of("plan")
        .filter(|l| l.fields.contains_key("cpu"))
        .collect();
    if plans.len() != pacas.len() {
        fail.push(format!(
            "host: the guest's {TABLE_SYMBOL} holds {} pacas, its report plans {} CPUs",
            pacas.len(),
            plans.len()
        ));
    }
    for p in plans {
        let Ok(cpu) = p.u64("cpu") else {
            fail.push(format!("host: console line {}: no CPU number", p.lineno));
            continue;
        };
        let Some(paca) = usize::try_from(cpu).ok().and_then(|i| pacas.get(i)) else {
            fail.push(format!(
                "host: CPU {cpu}: no paca in the guest's {TABLE_SYMBOL}"
            ));
            continue;
        };
        match p.u64("paca") {
            Ok(want) if want == paca.at => {}
            Ok(want) => fail.push(format!(
                "host: CPU {cpu}: the guest's {TABLE_SYMBOL} points to a paca at {:#x}, its report says paca={want:#x}",
                paca.at
            )),
            Err(e) => fail.push(format!("host: CPU {cpu}: {e:#}")),
        }
        let fields = [
            ("cpu", "paca_index", paca.paca_index),
            ("hw", "hw_cpu_id", paca.hw_cpu_id),
            ("lppaca", "lppaca_ptr", paca.lppaca_ptr),
            ("slb", "slb_shadow_ptr", paca.slb_shadow_ptr),
            ("dtl", "dispatch_log", paca.dispatch_log),
        ];
        for (key, field, got) in fields {
            match p.u64(key) {
                Ok(want) if want == got => {}
                Ok(want) => fail.push(format!(
                    "host: CPU {cpu}: the guest's paca at {:#x} holds {field} {got:#x}, its report says {key}={want:#x}",
                    paca.at
                )),
                Err(e) => fail.push(format!("host: CPU {cpu}: {e:#}")),
            }
        }
    }
    fail
}
