//! `numaboot hv replay` end to end.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Write;

fn replay(profile: &str, extra: &[&str], script: &str) -> assert_cmd::assert::Assert {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(script.as_bytes()).unwrap();
    Command::cargo_bin("numaboot")
        .unwrap()
        .args(["hv", "replay", "--profile", profile, "--mem", "16M"])
        .args(extra)
        .arg(file.path())
        .assert()
}

/// The QEMU 7.2 measurements of the shared facts notes, as a script.
const QEMU_FACTS: &str = "\
# 640-byte VPA, 4 KiB aligned, cpu 0
write16 0x101004 640
hcall 0x200000000000 0 0x101000
read 0x101009 1
# size 0x100
write16 0x101004 0x100
hcall 0x200000000000 0 0x101000
# @+3072 size 1280 crosses 4 KiB
write16 0x101c04 1280
hcall 0x200000000000 0 0x101c00
# 8-byte misaligned, cpu 99, address 0
write16 0x101004 640
hcall 0x200000000000 0 0x101008
hcall 0x200000000000 99 0x101000
hcall 0x200000000000 0 0
# deregister
hcall 0xa00000000000 0 0
";

#[test]
fn qemu_facts_script() {
    replay("qemu", &[], QEMU_FACTS).success().stdout(
        "H_SUCCESS\n02\nH_PARAMETER\nH_PARAMETER\nH_PARAMETER\nH_PARAMETER\nH_HARDWARE\nH_SUCCESS\n",
    );
}

#[test]
fn same_script_under_kvm() {
    // KVM: byte 9 is only set at the next dispatch, a 4 KiB crossing inside a 64 KiB
    // host page is accepted, and address 0 is H_PARAMETER.
    replay("kvm", &[], QEMU_FACTS).success().stdout(
        "H_SUCCESS\n00\nH_PARAMETER\nH_SUCCESS\nH_PARAMETER\nH_PARAMETER\nH_PARAMETER\nH_SUCCESS\n",
    );
}

#[test]
fn kvm_pre_4_14_wants_1k() {
    let script = "write16 0x1004 640\nhcall 0x200000000000 1 0x1000\nwrite16 0x1004 1024\nhcall 0x200000000000 1 0x1000\n";
    replay("kvm-pre-4.14", &["--explain"], script)
        .success()
        .stdout("H_PARAMETER (size field below the minimum)\nH_SUCCESS (accepted)\n");
    replay("kvm", &[], script)
        .success()
        .stdout("H_SUCCESS\nH_SUCCESS\n");
}

#[test]
fn kvm_dispatch_and_state() {
    let script = "\
write16 0x2004 640
hcall 0x200000000000 1 0x2000
state 1
dispatch 1
state 1
preempt 1
read 0x2100 4
";
    replay("kvm", &["--cpus", "2"], script).success().stdout(
        "H_SUCCESS\n\
         cpu 1: not running; vpa none (pending until next dispatch: 0x2000 len 640); dtl none; slb none\n\
         cpu 1: running; vpa 0x2000 len 640; dtl none; slb none; yield_count 2\n\
         00000003\n",
    );
}

#[test]
fn host_page_option() {
    let script = "write16 0x2f84 640\nhcall 0x200000000000 0 0x2f80\n";
    replay("kvm", &["--host-page", "4k"], script)
        .success()
        .stdout("H_PARAMETER\n");
    replay("kvm", &["--host-page", "64k"], script)
        .success()
        .stdout("H_SUCCESS\n");
}

#[test]
fn script_errors_exit_2_with_the_line() {
    replay("qemu", &[], "hcall 0 0 0\ndispatch 7\n")
        .code(2)
        .stdout("H_PARAMETER\n")
        .stderr(predicate::str::contains("line 2: no vCPU has proc-no 7"));
    replay("qemu", &["--cpus", "0"], "")
        .code(2)
        .stderr(predicate::str::contains("--cpus"));
}

#[test]
fn reads_standard_input() {
    Command::cargo_bin("numaboot")
        .unwrap()
        .args(["hv", "replay", "--profile", "qemu", "--mem", "64K", "-"])
        .write_stdin("read 0xfffe 2\nread 0xffff 2\n")
        .assert()
        .code(2)
        .stdout("0000\n")
        .stderr(predicate::str::contains("line 2: 2 bytes at 0xffff"));
}

/// Output to a pipe whose reader is gone: the replay stops quietly, as Unix tools do,
/// instead of calling the EPIPE a script error.
#[cfg(unix)]
#[test]
fn closed_output_pipe_is_not_a_script_error() {
    use std::process::{Command as Std, Stdio};
    // 200 lines of 8 KiB of hex: far more than a pipe and the BufWriter hold.
    let script = "read 0 4096\n".repeat(200);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(script.as_bytes()).unwrap();
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("numaboot"))
        .args(["hv", "replay", "--profile", "kvm", "--mem", "64K"])
        .arg(file.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the only read end before the child writes anything it could block on.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("line"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
