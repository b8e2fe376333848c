//! prom_init's CAS choice from `/chosen/ibm,arch-vec-5-platform-support` for the values
//! the real dumps never carry (found by `cargo mutants`, docs/MUTATION.md): the "only"
//! encodings (0x40: the platform supports radix, or XIVE, exclusively, so the command
//! line cannot turn it off), radix without GTSE, and property lengths.

use topology::{predict_booted_for, BootMmu, OfBuild, PredictError};

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Replaces the value of the (first) property `name` in a flattened tree, by editing
/// its structure block in place: the new value must not need more room than the old,
/// and room left over becomes `FDT_NOP` tokens.
fn with_prop(blob: &[u8], name: &str, value: &[u8]) -> Vec<u8> {
    let be = |at: usize| u32::from_be_bytes(blob[at..at + 4].try_into().expect("4"));
    let (off_struct, off_strings) = (be(8) as usize, be(12) as usize);
    let mut out = blob.to_vec();
    let mut at = off_struct;
    loop {
        match be(at) {
            1 => {
                let end = blob[at + 4..].iter().position(|&c| c == 0).expect("name");
                at = (at + 4 + end + 1).next_multiple_of(4);
            }
            3 => {
                let (len, nameoff) = (be(at + 4) as usize, be(at + 8) as usize);
                let n = &blob[off_strings + nameoff..];
                let n = &n[..n.iter().position(|&c| c == 0).expect("name")];
                if n == name.as_bytes() {
                    let (room, used) = (len.next_multiple_of(4), value.len().next_multiple_of(4));
                    assert!(used <= room, "{name}: {} bytes do not fit", value.len());
                    out[at + 4..at + 8].copy_from_slice(&(value.len() as u32).to_be_bytes());
                    out[at + 12..at + 12 + room].fill(0);
                    out[at + 12..at + 12 + value.len()].copy_from_slice(value);
                    for nop in (at + 12 + used..at + 12 + room).step_by(4) {
                        out[nop..nop + 4].copy_from_slice(&4u32.to_be_bytes());
                    }
                    return out;
                }
                at = (at + 12 + len).next_multiple_of(4);
            }
            2 | 4 => at += 4,
            t => panic!("{name} not found (token {t:#x})"),
        }
    }
}

/// Boot `a`'s dump with the platform-support property and the command line replaced.
fn boot_a(support: &[u8], bootargs: &str) -> Result<topology::BootedTreePrediction, PredictError> {
    let dump = fixture("linux-6.1/a.dumped.dtb");
    let dump = with_prop(&dump, "ibm,arch-vec-5-platform-support", support);
    // Padded to the dump's 48 bytes, so that the blob keeps its layout.
    let mut args = format!("{bootargs:<47}").into_bytes();
    args.push(0);
    let dump = with_prop(&dump, "bootargs", &args);
    predict_booted_for(&dump, &OfBuild::DEBIAN_6_1_64K)
}

#[test]
fn radix_only_and_xive_only_ignore_the_command_line() {
    // 0x18: 0x40 = radix only; 0x1a: 0x40 = GTSE; 0x17: 0x40 = XIVE exploitation only.
    let support = [0x17, 0x40, 0x18, 0x40, 0x1a, 0x40, 0x00, 0x00];
    let p = boot_a(&support, "disable_radix xive=off").unwrap();
    assert_eq!((p.mmu, p.xive), (BootMmu::Radix, true));
    // Either or both: the command line decides.
    let support = [0x17, 0x80, 0x18, 0xc0, 0x1a, 0x40, 0x00, 0x00];
    let p = boot_a(&support, "disable_radix xive=off").unwrap();
    assert_eq!((p.mmu, p.xive), (BootMmu::Hash, false));
}

#[test]
fn radix_without_gtse_is_refused_and_lengths_are_checked() {
    let support = [0x17, 0x00, 0x18, 0x40, 0x1a, 0x00, 0x00, 0x00];
    assert!(matches!(
        boot_a(&support, "quiet"),
        Err(PredictError::Unsupported(_))
    ));
    // Four bytes are two whole pairs: read as such.
    let p = boot_a(&[0x18, 0x40, 0x1a, 0x40], "quiet").unwrap();
    assert_eq!(p.mmu, BootMmu::Radix);
}

#[test]
fn form2_needs_between_1_and_256_nodes() {
    let dump = fixture("linux-6.1/a.dumped.dtb");
    let build = OfBuild::DEBIAN_6_1_64K;
    for (nodes, ok) in [(0u32, false), (1, true), (256, true), (257, false)] {
        // QEMU's FORM1 ibm,max-associativity-domains: five cells, the node count last.
        let mut max = Vec::new();
        for cell in [4u32, 0, 0, 0, nodes] {
            max.extend_from_slice(&cell.to_be_bytes());
        }
        let tree = with_prop(&dump, "ibm,max-associativity-domains", &max);
        let got = predict_booted_for(&tree, &build);
        match (ok, got) {
            (true, Ok(_)) => {}
            (false, Err(PredictError::Unsupported(why))) => {
                assert!(why.contains("NUMA nodes"), "{nodes}: {why}")
            }
            (_, other) => panic!("{nodes} nodes: {other:?}"),
        }
    }
}

#[test]
fn disable_radix_takes_prom_strtobool_values() {
    // The platform supports both MMUs: the command line decides.
    let both = [0x17, 0x00, 0x18, 0xc0, 0x1a, 0x40, 0x00, 0x00];
    for (args, hash) in [
        ("quiet", false),
        ("disable_radix", true),
        ("quiet disable_radix=1", true),
        ("disable_radix=y", true),
        ("disable_radix=Y", true),
        ("disable_radix=on", true),
        ("disable_radix=ON", true),
        ("disable_radix=0", false),
        ("disable_radix=n", false),
        ("disable_radix=N", false),
        ("disable_radix=off", false),
        ("disable_radix=OFF", false),
        ("disable_radix=o", false),
        ("disable_radix=x", false),
    ] {
        let p = boot_a(&both, args).unwrap();
        let want = if hash { BootMmu::Hash } else { BootMmu::Radix };
        assert_eq!(p.mmu, want, "{args}");
    }
    // An odd length (7 bytes) leaves half a pair: refused.
    assert!(matches!(
        boot_a(&both[..7], "quiet"),
        Err(PredictError::Unsupported(_))
    ));
}

/// How many properties called `name` the flattened tree has.
fn count_props(blob: &[u8], name: &str) -> usize {
    let be = |at: usize| u32::from_be_bytes(blob[at..at + 4].try_into().expect("4"));
    let (off_struct, off_strings) = (be(8) as usize, be(12) as usize);
    let (mut at, mut count) = (off_struct, 0);
    loop {
        match be(at) {
            1 => {
                let end = blob[at + 4..].iter().position(|&c| c == 0).expect("name");
                at = (at + 4 + end + 1).next_multiple_of(4);
            }
            3 => {
                let (len, nameoff) = (be(at + 4) as usize, be(at + 8) as usize);
                let n = &blob[off_strings + nameoff..];
                count += usize::from(
                    &n[..n.iter().position(|&c| c == 0).expect("name")] == name.as_bytes(),
                );
                at = (at + 12 + len).next_multiple_of(4);
            }
            2 | 4 => at += 4,
            _ => return count,
        }
    }
}

#[test]
fn form2_shortens_every_associativity_array_by_three_cells() {
    let dump = fixture("linux-6.1/b.dumped.dtb");
    let arrays = count_props(&dump, "ibm,associativity");
    assert!(arrays > 1);
    let p = predict_booted_for(&dump, &OfBuild::DEBIAN_6_1_64K).unwrap();
    let want = format!(", {arrays} ibm,associativity arrays shortened by 3 cells");
    assert!(p.steps.iter().any(|s| s.contains(&want)), "{:#?}", p.steps);
    // An array of exactly the count and the three FORM1 domains is shortened to the
    // count alone; one of three cells cannot be.
    let four = with_prop(
        &dump,
        "ibm,associativity",
        &[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    assert!(predict_booted_for(&four, &OfBuild::DEBIAN_6_1_64K).is_ok());
    let three = with_prop(
        &dump,
        "ibm,associativity",
        &[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    match predict_booted_for(&three, &OfBuild::DEBIAN_6_1_64K) {
        Err(PredictError::Unsupported(why)) => assert!(why.contains("fewer than"), "{why}"),
        other => panic!("{other:?}"),
    }
}
