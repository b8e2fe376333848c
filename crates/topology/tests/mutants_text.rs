//! The text formats' edges (docs/MUTATION.md): Linux id lists (cpulists) against their
//! count limit, and memory ranges of a TOML topology against `MAX_PHYSMEM_BITS`.

use topology::{format_id_list, parse_id_list, topology_from_toml, MAX_PHYSMEM_BITS};

/// `limit` ids fit, one more does not, counted over all entries.
#[test]
fn id_lists_stop_at_their_limit() {
    assert_eq!(parse_id_list("0-3", 4), Ok(vec![0, 1, 2, 3]));
    assert!(parse_id_list("0-4", 4).is_err());
    assert_eq!(parse_id_list("1,0x2, 3-4", 4), Ok(vec![1, 2, 3, 4]));
    assert!(parse_id_list("1,2,3-5", 4).is_err());
    assert_eq!(parse_id_list("7-7", 1), Ok(vec![7]));
    assert!(parse_id_list("7-8", 1).is_err());
    assert_eq!(parse_id_list("", 0), Ok(vec![]));
    assert_eq!(
        parse_id_list("0-4294967295", 64),
        Err("more than 64 ids".to_string())
    );
    // Duplicates are kept in the order written; formatting sorts and merges them.
    let ids = parse_id_list("3,1-2,2", 8).unwrap();
    assert_eq!(ids, [3, 1, 2, 2]);
    assert_eq!(format_id_list(ids), "1-3");
    assert_eq!(
        format_id_list([4294967295, 0, 4294967294]),
        "0,4294967294-4294967295"
    );
}

/// One node with a first range at 0 (hash guests need the RMA there) and `range`.
fn with_memory(range: &str) -> String {
    format!("[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0x0-0x1000\", \"{range}\"]\n")
}

/// Memory may end exactly at `1 << MAX_PHYSMEM_BITS` (2 PiB), not a byte later, and a
/// range must hold at least a byte (its end is exclusive).
#[test]
fn memory_ranges_end_at_the_physical_limit() {
    let top = 1u64 << MAX_PHYSMEM_BITS;
    let t = topology_from_toml(&with_memory(&format!("0x2000-{top:#x}"))).unwrap();
    assert_eq!(t.memory[1].size.as_u64(), top - 0x2000);
    assert!(topology_from_toml(&with_memory(&format!("0x2000-{:#x}", top + 1))).is_err());
    let one = topology_from_toml(&with_memory("0x2000-0x2001")).unwrap();
    assert_eq!(one.memory[1].size.as_u64(), 1);
    assert!(topology_from_toml(&with_memory("0x2000-0x2000")).is_err());
    assert!(topology_from_toml(&with_memory("0x3000-0x2000")).is_err());
}

/// Linux's cpulist format (`%*pbl`): ascending, runs of two or more as `a-b`, single ids
/// alone, comma separated; this crate writes `none` for the empty set.
#[test]
fn id_lists_format_like_linux() {
    assert_eq!(format_id_list([]), "none");
    assert_eq!(format_id_list([5]), "5");
    assert_eq!(format_id_list([5, 6]), "5-6");
    assert_eq!(format_id_list([11, 10, 8, 3, 2, 1, 0]), "0-3,8,10-11");
    assert_eq!(format_id_list([0, 2, 4]), "0,2,4");
    assert_eq!(format_id_list([9, 9, 9]), "9");
    // Round trip for a set given in order.
    let ids = parse_id_list("0-3,8,10-11,64", 100).unwrap();
    assert_eq!(format_id_list(ids.clone()), "0-3,8,10-11,64");
    assert_eq!(
        parse_id_list(&format_id_list(ids.clone()), 100).unwrap(),
        ids
    );
}

/// A syntax error names the field when its line assigns a plain key, and only then: a
/// quoted key with a blank is reported by position alone.
#[test]
fn errors_name_plain_fields_only() {
    let e = topology_from_toml("rma_size = [\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 1, column ") && e.contains(": rma_size: "),
        "{e}"
    );
    // Keys of letters, digits, `_`, `-` and `.` are plain.
    for key in ["my-key", "a.b", "x_1"] {
        let e = topology_from_toml(&format!("{key} = [\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!(": {key}: ")), "{e}");
    }
    let e = topology_from_toml("\"odd key\" = [\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1, column "), "{e}");
    assert!(!e.contains("odd key: "), "{e}");
}

/// Adjacent ranges of one node are one range (as memblock merges them); adjacent ranges
/// of two nodes, or ranges with a hole, stay apart.
#[test]
fn adjacent_ranges_of_a_node_merge() {
    let t = topology_from_toml(&with_memory("0x1000-0x2000")).unwrap();
    assert_eq!(t.memory.len(), 1);
    assert_eq!(t.memory[0].size.as_u64(), 0x2000);
    let t = topology_from_toml(&with_memory("0x1800-0x2000")).unwrap();
    assert_eq!(t.memory.len(), 2);
    let two = "[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0x0-0x1000\"]\n\
               [[nodes]]\nid = 1\ncpus = \"1\"\nmemory = [\"0x1000-0x2000\"]\n";
    assert_eq!(topology_from_toml(two).unwrap().memory.len(), 2);
}

/// `distances` must be exactly one row of one entry per node.
#[test]
fn distances_must_be_square() {
    let two = "[[nodes]]\nid = 0\ncpus = \"0\"\nmemory = [\"0x0-0x1000\"]\n\
               [[nodes]]\nid = 1\ncpus = \"1\"\n";
    let with = |d: &str| topology_from_toml(&format!("distances = {d}\n{two}"));
    assert_eq!(with("[[10, 40], [40, 10]]").unwrap().distances[0][1], 40);
    for bad in [
        "[[10, 40]]",
        "[[10, 40], [40, 10], [40, 40]]",
        "[[10, 40], [40]]",
        "[[10], [40, 10]]",
    ] {
        let e = with(bad).unwrap_err().to_string();
        assert!(e.contains("must be 2 rows of 2"), "{bad}: {e}");
    }
}
