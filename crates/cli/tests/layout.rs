//! `numaboot layout`: output format and contents (offsets from Linux 6.1's headers).

use assert_cmd::Command;
use predicates::prelude::*;

fn numaboot() -> Command {
    Command::cargo_bin("numaboot").unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = numaboot()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn slb_shadow_text() {
    assert_eq!(
        stdout_of(&["layout", "slb-shadow"]),
        "persistent 0 4\nbuffer_length 4 4\nreserved 8 8\nsave_area 16 32\ntotal 128\n"
    );
}

#[test]
fn linux_spellings_are_accepted() {
    assert_eq!(
        stdout_of(&["layout", "slb_shadow"]),
        stdout_of(&["layout", "slb-shadow"])
    );
    assert_eq!(
        stdout_of(&["layout", "dtl_entry"]),
        stdout_of(&["layout", "dtl-entry"])
    );
}

#[test]
fn dtl_entry_text() {
    assert_eq!(
        stdout_of(&["layout", "dtl-entry"]),
        "dispatch_reason 0 1\n\
         preempt_reason 1 1\n\
         processor_id 2 2\n\
         enqueue_to_dispatch_time 4 4\n\
         ready_to_enqueue_time 8 4\n\
         waiting_to_ready_time 12 4\n\
         timebase 16 8\n\
         fault_addr 24 8\n\
         srr0 32 8\n\
         srr1 40 8\n\
         total 48\n"
    );
}

#[test]
fn lppaca_text() {
    let out = stdout_of(&["layout", "lppaca"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 37 + 1);
    assert_eq!(lines[0], "desc 0 4");
    assert_eq!(lines[1], "size 4 2");
    assert_eq!(lines[3], "__old_status 9 1");
    assert!(lines.contains(&"vphn_assoc_counts 88 8"));
    assert!(lines.contains(&"fpregs_in_use 186 1"));
    assert!(lines.contains(&"slb_count 252 2"));
    assert!(lines.contains(&"yield_count 256 4"));
    assert!(lines.contains(&"page_ins 384 4"));
    assert!(lines.contains(&"dtl_idx 536 8"));
    assert_eq!(lines[36], "reserved13 544 96");
    assert_eq!(lines[37], "total 640");
    // Every line is NAME OFFSET SIZE in decimal, and the fields tile the struct.
    let mut next = 0;
    for line in &lines[..37] {
        let [_, off, size] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("bad line {line:?}")
        };
        assert_eq!(off.parse::<usize>().unwrap(), next, "{line}");
        next += size.parse::<usize>().unwrap();
    }
    assert_eq!(next, 640);
}

#[test]
fn lppaca_json() {
    let out = stdout_of(&["layout", "lppaca", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["struct"], "lppaca");
    assert_eq!(v["size"], 640);
    assert_eq!(v["align"], 128);
    let fields = v["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 37);
    let yc = fields.iter().find(|f| f["name"] == "yield_count").unwrap();
    assert_eq!(
        (
            yc["offset"].as_u64(),
            yc["size"].as_u64(),
            yc["writer"].as_str()
        ),
        (Some(256), Some(4), Some("hypervisor"))
    );
    let desc = &fields[0];
    assert_eq!(desc["writer"], "os");
    assert_eq!(fields[2]["name"], "reserved1");
    assert_eq!(fields[2]["writer"], "reserved");
}

#[test]
fn unknown_structure_is_a_usage_error() {
    numaboot()
        .args(["layout", "paca"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("lppaca"));
    numaboot().args(["layout"]).assert().code(2);
}
