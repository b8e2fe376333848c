//! Blob framing rules at their edges, found by the `cargo mutants` run over fdt.rs
//! (docs/MUTATION.md): a header that is exactly 40 bytes, the versions libfdt accepts,
//! reservation entries at address 0, node names, and where a structure error is
//! reported. The rules are libfdt's (scripts/dtc/libfdt in Linux 6.1) and the
//! device-tree specification's.

mod common;

use common::{blob, boots::fixture, guest, string, N};
use topology::{fdt_facts, parse_dtb, BlobError, DtbError, DtbOptions};

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_END: u32 = 9;

/// A version-17 blob of a structure block given as words and an empty strings block,
/// with the header's `totalsize` and `last_comp_version` as given (`None`: the real
/// size, 16).
fn raw_blob(structs: &[u32], totalsize: Option<u32>, last_comp: u32) -> Vec<u8> {
    let rsv = 40u32;
    let off_struct = rsv + 16;
    let size_struct = 4 * structs.len() as u32;
    let off_strings = off_struct + size_struct;
    let total = off_strings;
    let mut out = Vec::new();
    for w in [
        0xd00d_feed,
        totalsize.unwrap_or(total),
        off_struct,
        off_strings,
        rsv,
        17,
        last_comp,
        0,
        0,
        size_struct,
    ] {
        out.extend(w.to_be_bytes());
    }
    out.extend([0u8; 16]);
    for w in structs {
        out.extend(w.to_be_bytes());
    }
    out
}

/// `data` with reservation entries inserted before its `(0, 0)` terminator (at offset
/// 40, where [`blob`] puts the block), the later offsets moved up.
fn with_reservations(mut data: Vec<u8>, entries: &[(u64, u64)]) -> Vec<u8> {
    let word = |d: &[u8], i: usize| u32::from_be_bytes(d[i * 4..i * 4 + 4].try_into().unwrap());
    let rsv = word(&data, 4) as usize;
    let mut add = Vec::new();
    for &(b, s) in entries {
        add.extend(b.to_be_bytes());
        add.extend(s.to_be_bytes());
    }
    let grow = add.len() as u32;
    for i in [1usize, 2, 3] {
        let v = word(&data, i) + grow;
        data[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    data.splice(rsv..rsv, add);
    data
}

fn blob_error(data: &[u8]) -> BlobError {
    match fdt_facts(data) {
        Err(DtbError::Blob(e)) => e,
        other => panic!("{other:?}"),
    }
}

/// A blob of exactly the 40-byte header is not "shorter than the header": it is read,
/// and what it lacks are the blocks the header points at.
#[test]
fn a_blob_of_exactly_the_header_is_not_too_short() {
    let header_only = &raw_blob(&[], Some(40), 16)[..40];
    let e = blob_error(header_only);
    assert!(
        !matches!(e, BlobError::TooShort { .. }),
        "40 bytes hold the header: {e:?}"
    );
    assert!(!DtbError::Blob(e).to_string().contains("shorter"));

    // The same through the header's totalsize, with more bytes given than it claims.
    let e = blob_error(&raw_blob(&[], Some(40), 16));
    assert!(
        !matches!(e, BlobError::TooShort { .. }),
        "a totalsize of 40 holds the header: {e:?}"
    );
    let e = blob_error(&raw_blob(&[], Some(39), 16));
    assert_eq!(e, BlobError::TooShort { len: 39 });
}

/// libfdt (`fdt_ro_probe_`) reads any blob whose `last_comp_version` is at most 17
/// (`FDT_LAST_SUPPORTED_VERSION`): a version-17 blob that is only compatible back to 17
/// is read, one that needs an 18 reader is refused.
#[test]
fn last_compatible_version_17_is_read_and_18_refused() {
    let tree = [FDT_BEGIN_NODE, 0, FDT_END_NODE, FDT_END];
    assert!(fdt_facts(&raw_blob(&tree, None, 16)).is_ok());
    let facts = fdt_facts(&raw_blob(&tree, None, 17)).expect("last_comp_version 17");
    assert_eq!(facts.header.last_comp_version, 17);
    let e = blob_error(&raw_blob(&tree, None, 18));
    assert_eq!(
        e,
        BlobError::Version {
            version: 17,
            last_comp: 18
        }
    );
}

/// `fdt_num_mem_rsv` and `early_init_fdt_scan_reserved_mem` end the reservation block
/// at the first entry of size 0; an entry of address 0 and a non-zero size is an
/// ordinary reservation (firmware may reserve the low vectors), and the entries after
/// it are read too.
#[test]
fn a_reservation_at_address_0_is_kept() {
    let real = fixture("linux-6.1", "a.booted.dtb");
    let before = fdt_facts(&real).unwrap().mem_reserve;
    assert_eq!(before.len(), 1, "prom_init reserves its own blob");
    let data = with_reservations(real, &[(0, 0x1_0000)]);
    let facts = fdt_facts(&data).unwrap();
    let got: Vec<(u64, u64)> = facts
        .mem_reserve
        .iter()
        .map(|(b, s)| (b.as_u64(), s.as_u64()))
        .collect();
    let mut want = vec![(0, 0x1_0000)];
    want.extend(before.iter().map(|(b, s)| (b.as_u64(), s.as_u64())));
    assert_eq!(got, want);
    // And the topology does not change for it.
    let a = parse_dtb(
        &fixture("linux-6.1", "a.booted.dtb"),
        &DtbOptions::default(),
    );
    assert_eq!(
        parse_dtb(&data, &DtbOptions::default()).unwrap().topology,
        a.unwrap().topology
    );
}

/// Linux stops at the first entry of size 0 whatever its address
/// (`fdt_num_mem_rsv`, `early_init_fdt_scan_reserved_mem`), so nothing after such an
/// entry is reserved (numaboot ended the block only at `(0, 0)` until this test).
#[test]
fn a_reservation_of_size_0_ends_the_block() {
    let data = with_reservations(blob(&guest(), 0), &[(0x1000, 0), (0x200_0000, 0x1000)]);
    let facts = fdt_facts(&data).expect("libfdt accepts this blob");
    assert!(facts.mem_reserve.is_empty(), "{:?}", facts.mem_reserve);
}

/// The same blocks read by the real device-tree compiler (`dtc -I dtb`, whose reader
/// also stops at the first entry of size 0): the `/memreserve/` entries it prints are
/// the ones numaboot reads. Without `dtc` the test says so and passes, except under
/// `CI`, which installs it.
#[test]
fn reservation_blocks_read_as_dtc_reads_them() {
    use std::process::Command;
    let dtc = Command::new("dtc").arg("--version").output();
    if !dtc.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(std::env::var_os("CI").is_none(), "dtc is required under CI");
        eprintln!("reservation_blocks_read_as_dtc_reads_them: SKIPPED, no dtc");
        return;
    }
    let cases: [&[(u64, u64)]; 5] = [
        &[],
        &[(0x1000, 0x1000), (0x200_0000, 0x1000)],
        &[(0x1000, 0), (0x200_0000, 0x1000)],
        &[(0x200_0000, 0x1000), (0x1000, 0), (0x300_0000, 0x1000)],
        &[(0, 0x1000), (0x200_0000, 0x1000)],
    ];
    let dir = std::env::temp_dir().join(format!("numaboot-rsv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, entries) in cases.iter().enumerate() {
        let data = with_reservations(blob(&guest(), 0), entries);
        let path = dir.join(format!("{i}.dtb"));
        std::fs::write(&path, &data).unwrap();
        let out = Command::new("dtc")
            .args(["-q", "-I", "dtb", "-O", "dts"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "dtc refused case {i}");
        let theirs: Vec<(u64, u64)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("/memreserve/"))
            .map(|l| {
                let mut w = l
                    .trim_end_matches(';')
                    .split_whitespace()
                    .map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).unwrap());
                (w.next().unwrap(), w.next().unwrap())
            })
            .collect();
        let ours: Vec<(u64, u64)> = fdt_facts(&data)
            .unwrap()
            .mem_reserve
            .iter()
            .map(|(b, z)| (b.as_u64(), z.as_u64()))
            .collect();
        assert_eq!(ours, theirs, "case {i}: {entries:x?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A node name is one or more characters and never contains '/' (the device-tree
/// specification, section 2.2.1); the error names the parent the bad node is in.
#[test]
fn child_names_must_be_non_empty_and_slash_free() {
    for bad in ["", "a/b"] {
        let mut t = guest();
        t.at("cpus").children.push(N::new(bad).p("x", string("y")));
        let e = blob_error(&blob(&t, 0));
        match &e {
            BlobError::Structure { node, .. } => assert_eq!(node, "/cpus", "{bad:?}"),
            e => panic!("{bad:?}: {e:?}"),
        }
        let msg = DtbError::Blob(e.clone()).to_string();
        assert!(msg.contains("/cpus"), "{msg}");
    }
}

/// A structure error before the root node opens has no node to name; the message
/// gives the offset and the problem, and names no node.
#[test]
fn a_structure_error_before_the_root_names_no_node() {
    let e = blob_error(&raw_blob(&[FDT_END_NODE, FDT_END], None, 16));
    let BlobError::Structure { offset, node, what } = &e else {
        panic!("{e:?}");
    };
    assert_eq!((*offset, node.as_str()), (0, ""));
    let msg = e.to_string();
    assert!(msg.contains(what), "{msg}");
    assert!(msg.contains("offset 0"), "{msg}");
    assert!(!msg.contains("inside"), "no node to be inside: {msg}");
    assert!(!msg.contains("()"), "{msg}");
}
