//! `check` and the host's memory check against a real e2e console, each broken one rule
//! at a time: every rule must notice its own breakage.

use papr::{Lppaca, LPPACA_OLD_SHARED_PROC, SLB_NUM_BOLTED, SLB_SHADOW_SIZE};

use super::fixture::CONSOLE_8X4;
use super::host::{verify, Area, CpuAreas, DTL_BYTES};
use super::pacas::{compare as compare_pacas, parse_record, parse_table, GuestPaca};
use crate::check::check;
use crate::machine::{Layout, Machine};
use crate::report::Report;
use crate::strategy::GuestStrategy;
use crate::Firmware;

/// The machine the fixture ran on.
fn machine() -> Machine {
    let layout = Layout::checked(8, 4, 256, true).expect("valid layout");
    Machine::new(&layout, Firmware::Vof, None, &[])
}

/// `check` on the fixture with `from` replaced by `to` (which must occur).
fn check_with(from: &str, to: &str) -> Result<String, String> {
    assert!(CONSOLE_8X4.contains(from), "the fixture lacks `{from}`");
    let console = CONSOLE_8X4.replacen(from, to, 1);
    let report = Report::parse(&console).map_err(|e| format!("{e:#}"))?;
    check(&machine(), &report, GuestStrategy::Linux).map_err(|e| format!("{e:#}"))
}

#[track_caller]
fn fails_with(from: &str, to: &str, message: &str) {
    match check_with(from, to) {
        Ok(s) => panic!("`{from}` -> `{to}` passed: {s}"),
        Err(e) => assert!(e.contains(message), "expected `{message}` in:\n{e}"),
    }
}

#[test]
fn the_real_console_passes() {
    let summary = check_with("NB end", "NB end").expect("the fixture passes");
    assert!(summary.contains("63 hcalls match"), "{summary}");
    assert!(
        summary.contains("2/8 lppacas on their CPU's node"),
        "{summary}"
    );
}

#[test]
fn a_panic_an_error_or_no_end_fails() {
    fails_with("NB end", "NB panic at run.rs", "the guest panicked");
    fails_with(
        "NB end",
        "NB error plan: no memory",
        "stopped with an error: plan:",
    );
    fails_with("NB end", "NB ending", "no `NB end` line");
}

#[test]
fn topology_must_be_qemus() {
    fails_with(
        "topology cpus=8",
        "topology cpus=7",
        "topology has 7 CPUs, QEMU has 8",
    );
    fails_with(
        "nodes=4 memory_ranges",
        "nodes=3 memory_ranges",
        "topology has 3 nodes",
    );
    fails_with(
        "base=0x20000000 size=0x10000000 node=2",
        "base=0x20000000 size=0x10000000 node=3",
        "memory ranges",
    );
    fails_with(
        "rma=0x10000000",
        "rma=0x20000000",
        "RMA 0x20000000 is not within the first memory block",
    );
}

#[test]
fn the_plan_must_match_the_strategy_and_every_cpu() {
    fails_with(
        "plan strategy=linux-6.1",
        "plan strategy=packed-vpa",
        "the guest planned with Some(\"packed-vpa\")",
    );
    let last = CONSOLE_8X4
        .lines()
        .find(|l| l.starts_with("NB plan cpu=7 "))
        .expect("cpu 7");
    fails_with(&format!("{last}\n"), "", "7 CPUs planned, QEMU has 8");
    fails_with(
        "plan cpu=2 hw=2 node=1",
        "plan cpu=2 hw=2 node=2",
        "CPU 2: topology node 2, QEMU configured Some(1)",
    );
}

#[test]
fn lppaca_alignment_placement_rma_and_node() {
    // 128-aligned but not 1 KiB: only the strategy's alignment is broken.
    fails_with(
        "lppaca=0xfffec00 lppaca_node=0",
        "lppaca=0xfffec80 lppaca_node=0",
        "CPU 1: lppaca 0xfffec80 is not 1024-byte aligned",
    );
    // 1 KiB aligned but 1 KiB past 0x...c00 crosses nothing; 0x...e00 + 1 KiB does.
    fails_with(
        "lppaca=0xfffec00 lppaca_node=0",
        "lppaca=0xfffee00 lppaca_node=0",
        "CPU 1: lppaca 0xfffee00: VPA at 0xfffee00 of size 0x400 crosses a 4 KiB boundary",
    );
    fails_with(
        "slb=0xffff200 ",
        "slb=0x10000200 ",
        "CPU 1: slb 0x10000200 is above the RMA 0x10000000",
    );
    fails_with(
        "lppaca=0xfffec00 lppaca_node=0",
        "lppaca=0xfffec00 lppaca_node=1",
        "CPU 1: plan says lppaca node 1, QEMU's layout puts 0xfffec00 on Some(0)",
    );
    fails_with(
        "lppaca=0xfffec00 lppaca_node=0",
        "lppaca=0x1fffec00 lppaca_node=1",
        "CPU 1: lppaca 0x1fffec00 is on node Some(1) although node Some(0) has memory below the RMA",
    );
}

#[test]
fn irq_stacks_must_be_node_local() {
    let line = CONSOLE_8X4
        .lines()
        .find(|l| l.starts_with("NB plan cpu=2 "))
        .expect("cpu 2");
    let hardirq = line
        .split_whitespace()
        .find(|w| w.starts_with("hardirq="))
        .expect("hardirq");
    fails_with(
        hardirq,
        "hardirq=0x2000",
        "CPU 2: hardirq stack 0x2000 is on node Some(0), not on its node Some(1)",
    );
}

#[test]
fn registrations_in_order_and_accepted() {
    fails_with(
        "NB hcall name=init flags=0x600000000000 proc=1 addr=0xffff200",
        "NB hcall name=init flags=0x600000000000 proc=1 addr=0xffff280",
        "CPU 1: registrations",
    );
    fails_with(
        "flags=0x400000000000 proc=1 addr=0xfff5000 len=0x00001000 rc=0",
        "flags=0x400000000000 proc=1 addr=0xfff5000 len=0x00001000 rc=-4",
        "CPU 1: H_VPA_REG_DTL at 0xfff5000 returned H_PARAMETER",
    );
}

#[test]
fn every_negative_case_once_and_refused() {
    fails_with(
        "name=misaligned flags=0x200000000000 proc=0 addr=0xc5a008 len=0x02800000 rc=-4",
        "name=misaligned flags=0x200000000000 proc=0 addr=0xc5a008 len=0x02800000 rc=0",
        "case misaligned was accepted by QEMU",
    );
    fails_with(
        "name=crosses_4k",
        "name=crosses_4kb",
        "case crosses_4k ran 0 times, expected once",
    );
}

#[test]
fn secondaries_report_their_vpa_and_home_node() {
    fails_with(
        "NB cpu 3 lppaca=0xfffc400 status=0x2 yield=4 home_rc=0 home=0x0,0x1",
        "NB cpu 3 no-vpa",
        "CPU 3: started without a registered VPA",
    );
    fails_with(
        "home=0x0,0x1\nNB cpu 4",
        "home=0x0,0x2\nNB cpu 4",
        "CPU 3: H_HOME_NODE_ASSOCIATIVITY node Some(2), QEMU configured Some(1)",
    );
    fails_with(
        "NB cpu 3 lppaca=0xfffc400 status=0x2",
        "NB cpu 3 lppaca=0xfffc400 status=0x0",
        "CPU 3: QEMU did not mark its VPA shared-processor",
    );
    fails_with(
        "NB cpu 3 lppaca=0xfffc400 status=0x2 yield=4",
        "NB cpu 3 lppaca=0xfffc400 status=0x2 yield=5",
        "CPU 3: yield_count 5 is odd",
    );
    fails_with(
        "NB cpu 3 lppaca=0xfffc400",
        "NB cpu 3 lppaca=0xfffb000",
        "CPU 3: reads its VPA at 0xfffb000, planned Some(fffc400)",
    );
    let five = CONSOLE_8X4
        .lines()
        .find(|l| l.starts_with("NB cpu 5 "))
        .expect("cpu 5");
    fails_with(
        &format!("{five}\n"),
        "",
        "6 secondaries reported, expected 7",
    );
}

#[test]
fn crash_shutdown_makes_no_hcall() {
    fails_with(
        "crash-shutdown hcalls=0 sc1=0",
        "crash-shutdown hcalls=1 sc1=0",
        "the crash shutdown made hcalls",
    );
    // The wrapper saw nothing, the `sc 1` counter did: only the new count catches it.
    fails_with(
        "crash-shutdown hcalls=0 sc1=0",
        "crash-shutdown hcalls=0 sc1=2",
        "the crash shutdown executed sc 1 2 times",
    );
}

#[test]
fn kexec_deregisters_dtl_slb_vpa() {
    fails_with(
        "NB hcall name=kexec flags=0xc00000000000 proc=4 addr=0x0 len=0x00000000 rc=0\n",
        "",
        "CPU 4: kexec deregistrations",
    );
}

#[test]
fn qemu_answers_match_the_model() {
    // QEMU's real answer is H_PARAMETER; a console claiming H_RESOURCE disagrees with
    // the model even though the case is still refused.
    fails_with(
        "name=size_below_640 flags=0x200000000000 proc=0 addr=0xc5a000 len=0x01000000 rc=-4",
        "name=size_below_640 flags=0x200000000000 proc=0 addr=0xc5a000 len=0x01000000 rc=-16",
        "size_below_640: QEMU returned H_RESOURCE, the vpa-hv Qemu model predicts H_PARAMETER",
    );
}

#[test]
fn advertised_size_is_the_strategys() {
    // 640 bytes: QEMU accepts, the strategy (Linux's 1 KiB) does not advertise it, and
    // the pre-4.14 model refuses it.
    fails_with(
        "flags=0x200000000000 proc=2 addr=0xfffd800 len=0x04000000",
        "flags=0x200000000000 proc=2 addr=0xfffd800 len=0x02800000",
        "the lppaca advertises size 0x280, linux-6.1 advertises 0x400",
    );
}

/// The areas the fixture's plan lines name, filled as the guest and QEMU fill them.
fn good_areas() -> Vec<CpuAreas> {
    let r = Report::parse(CONSOLE_8X4).expect("fixture parses");
    // What the guest writes (Linux's size field and bolted count) and QEMU adds (the
    // shared-processor bit); the rest of the bytes does not matter to the host check.
    let mut lp_bytes = vec![0u8; 1024];
    lp_bytes[4..6].copy_from_slice(&(papr::LPPACA_ALLOC_SIZE as u16).to_be_bytes());
    lp_bytes[core::mem::offset_of!(Lppaca, __old_status)] = LPPACA_OLD_SHARED_PROC;
    let mut slb = vec![0u8; SLB_SHADOW_SIZE];
    slb[0..4].copy_from_slice(&(SLB_NUM_BOLTED as u32).to_be_bytes());
    slb[4..8].copy_from_slice(&(SLB_SHADOW_SIZE as u32).to_be_bytes());
    let mut dtl = vec![0u8; 16];
    dtl[4..8].copy_from_slice(&(DTL_BYTES as u32).to_be_bytes());
    r.of("plan")
        .filter(|l| l.fields.contains_key("cpu"))
        .map(|p| CpuAreas {
            cpu: p.u64("cpu").expect("cpu"),
            lppaca: Area {
                addr: p.u64("lppaca").expect("lppaca"),
                bytes: lp_bytes.clone(),
            },
            slb: Area {
                addr: p.u64("slb").expect("slb"),
                bytes: slb.clone(),
            },
            dtl: Area {
                addr: p.u64("dtl").expect("dtl"),
                bytes: dtl.clone(),
            },
        })
        .collect()
}

#[track_caller]
fn host_fails(change: impl FnOnce(&mut CpuAreas), message: &str) {
    let mut areas = good_areas();
    change(&mut areas[1]);
    let fail = verify(&machine(), GuestStrategy::Linux, 0x1000_0000, &areas);
    assert!(
        fail.iter().any(|f| f.contains(message)),
        "expected `{message}` in {fail:#?}"
    );
}

#[test]
fn host_accepts_what_qemu_and_linux_write() {
    let fail = verify(&machine(), GuestStrategy::Linux, 0x1000_0000, &good_areas());
    assert!(fail.is_empty(), "{fail:#?}");
}

#[test]
fn host_checks_each_rule_on_memory() {
    host_fails(
        |c| c.lppaca.bytes[4] = 0x05,
        "CPU 1: the lppaca at 0xfffec00 holds size field 0x500, linux-6.1 writes 0x400",
    );
    host_fails(
        |c| c.lppaca.bytes[4..6].copy_from_slice(&0x100u16.to_be_bytes()),
        "CPU 1: lppaca 0xfffec00: VPA size 0x100 is below the PAPR minimum",
    );
    host_fails(
        |c| c.lppaca.addr += 0x80,
        "CPU 1: lppaca 0xfffec80 is not 1024-byte aligned",
    );
    host_fails(
        |c| c.lppaca.addr += 0x200,
        "CPU 1: lppaca 0xfffee00 (1024 bytes) crosses a 4 KiB boundary",
    );
    host_fails(
        |c| c.lppaca.addr = 0x1000_0000,
        "CPU 1: lppaca 0x10000000 ends above the RMA",
    );
    host_fails(
        |c| c.lppaca.bytes[core::mem::offset_of!(Lppaca, __old_status)] = 0,
        "lacks the shared-processor bit",
    );
    host_fails(
        |c| c.slb.bytes[7] = 0x40,
        "CPU 1: SLB shadow 0xffff200: persistent Some(2) and buffer_length Some(64)",
    );
    host_fails(
        |c| c.slb.addr += 0x40,
        "CPU 1: SLB shadow 0xffff240 is not 128-byte aligned",
    );
    host_fails(
        |c| c.dtl.bytes[6] = 0,
        "CPU 1: DTL 0xfff5000: length word Some(0)",
    );
    host_fails(
        |c| c.dtl.addr += 0x80,
        "CPU 1: DTL 0xfff5080 is not 4096-byte aligned",
    );
    host_fails(
        |c| c.dtl.addr = 0x1fff_f000,
        "CPU 1: DTL 0x1ffff000 ends above the RMA",
    );
    host_fails(
        |c| c.dtl.addr = 0x3fff_f000,
        "CPU 1: DTL 0x3ffff000 is on node None in QEMU's layout, its CPU on node Some(0)",
    );
}

#[test]
fn host_checks_node_of_each_area() {
    // Node 0's CPU with its SLB shadow on node 1 (below a larger RMA so only the node
    // differs).
    let mut areas = good_areas();
    areas[1].slb.addr = 0x1000_0200;
    let fail = verify(&machine(), GuestStrategy::Linux, 0x2000_0000, &areas);
    assert!(
        fail.iter().any(|f| f.contains("CPU 1: SLB shadow 0x10000200 is on node Some(1) in QEMU's layout, its CPU on node Some(0)")),
        "{fail:#?}"
    );
    let mut areas = good_areas();
    areas.pop();
    let fail = verify(&machine(), GuestStrategy::Linux, 0x1000_0000, &areas);
    assert!(
        fail.iter()
            .any(|f| f.contains("read the areas of 7 CPUs, QEMU has 8")),
        "{fail:#?}"
    );
}

/// Where the fixture's guest would have its paca table (any address: the host compares
/// the printed one with the ELF's).
const TABLE_AT: u64 = 0x4a_1000;

/// The fixture with the `pacas` line the guest prints after registering.
fn console_with_table() -> String {
    CONSOLE_8X4.replacen(
        "NB hcall name=size_below_640",
        &format!("NB pacas table={TABLE_AT:#x} count=8\nNB hcall name=size_below_640"),
        1,
    )
}

/// The pacas a guest that registered exactly what it reported leaves in memory.
fn good_pacas(r: &Report) -> Vec<GuestPaca> {
    r.of("plan")
        .filter(|l| l.fields.contains_key("cpu"))
        .map(|p| GuestPaca {
            at: p.u64("paca").expect("paca"),
            paca_index: p.u64("cpu").expect("cpu"),
            hw_cpu_id: p.u64("hw").expect("hw"),
            lppaca_ptr: p.u64("lppaca").expect("lppaca"),
            slb_shadow_ptr: p.u64("slb").expect("slb"),
            dispatch_log: p.u64("dtl").expect("dtl"),
        })
        .collect()
}

#[test]
fn pacas_in_memory_match_the_report() {
    let r = Report::parse(&console_with_table()).expect("parses");
    let fail = compare_pacas(&r, TABLE_AT, &good_pacas(&r));
    assert!(fail.is_empty(), "{fail:#?}");
}

#[track_caller]
fn pacas_fail(change: impl FnOnce(&mut Vec<GuestPaca>), table: u64, message: &str) {
    let r = Report::parse(&console_with_table()).expect("parses");
    let mut pacas = good_pacas(&r);
    change(&mut pacas);
    let fail = compare_pacas(&r, table, &pacas);
    assert!(
        fail.iter().any(|f| f.contains(message)),
        "expected `{message}` in {fail:#?}"
    );
}

#[test]
fn a_paca_pointer_the_report_does_not_name_fails_naming_the_cpu() {
    pacas_fail(
        |p| p[3].lppaca_ptr = 0xfffc800,
        TABLE_AT,
        "host: CPU 3: the guest's paca at 0xfffcb00 holds lppaca_ptr 0xfffc800, its report says lppaca=0xfffc400",
    );
    pacas_fail(
        |p| p[5].slb_shadow_ptr = 0,
        TABLE_AT,
        "host: CPU 5: the guest's paca at 0xfffa300 holds slb_shadow_ptr 0x0, its report says slb=0xffff000",
    );
    pacas_fail(
        |p| p[0].dispatch_log += 0x1000,
        TABLE_AT,
        "host: CPU 0: the guest's paca at 0xeb0000 holds dispatch_log 0xfff7000, its report says dtl=0xfff6000",
    );
    pacas_fail(
        |p| p[2].hw_cpu_id = 7,
        TABLE_AT,
        "host: CPU 2: the guest's paca at 0xfffdf00 holds hw_cpu_id 0x7, its report says hw=0x2",
    );
    pacas_fail(
        |p| p[6].paca_index = 7,
        TABLE_AT,
        "host: CPU 6: the guest's paca at 0xfff8f00 holds paca_index 0x7",
    );
    pacas_fail(
        |p| p[7].at = 0xfff7c00,
        TABLE_AT,
        "host: CPU 7: the guest's NB_PACA_PTRS points to a paca at 0xfff7c00, its report says paca=0xfff7b00",
    );
}

#[test]
fn the_paca_table_must_be_complete_and_where_the_elf_says() {
    pacas_fail(
        |p| {
            p.pop();
        },
        TABLE_AT,
        "host: CPU 7: no paca in the guest's NB_PACA_PTRS",
    );
    pacas_fail(
        |_| {},
        TABLE_AT + 8,
        "host: the guest reports its paca table at 0x4a1000, the ELF's NB_PACA_PTRS is at 0x4a1008",
    );
    let r = Report::parse(CONSOLE_8X4).expect("parses");
    let fail = compare_pacas(&r, TABLE_AT, &good_pacas(&r));
    assert!(
        fail.iter().any(|f| f.contains("no `NB pacas` line")),
        "{fail:#?}"
    );
}

#[test]
fn paca_table_and_records_from_bytes() {
    let mut table = Vec::new();
    for w in [2u64, 0xeb0000, 0xffff280, 0, 0] {
        table.extend_from_slice(&w.to_le_bytes());
    }
    assert_eq!(parse_table(&table).unwrap(), [0xeb0000, 0xffff280]);
    table[..8].copy_from_slice(&5u64.to_le_bytes());
    let e = parse_table(&table).unwrap_err();
    assert!(format!("{e:#}").contains("counts 5 pacas"), "{e:#}");
    assert!(parse_table(&table[..7]).is_err());

    let mut rec = Vec::new();
    for w in [1u64, 1, 0xfffec00, 0xffff200, 0xfff5000] {
        rec.extend_from_slice(&w.to_le_bytes());
    }
    let p = parse_record(0xffff280, &rec).unwrap();
    assert_eq!(
        (
            p.at,
            p.paca_index,
            p.lppaca_ptr,
            p.slb_shadow_ptr,
            p.dispatch_log
        ),
        (0xffff280, 1, 0xfffec00, 0xffff200, 0xfff5000)
    );
    assert!(parse_record(0, &rec[..32]).is_err());
}
