//! `unflatten_device_tree`'s allocations for small crafted trees, for the rules the real
//! trees never exercise (found by `cargo mutants`, docs/MUTATION.md): nodes at
//! `FDT_MAX_DEPTH - 1` and below, an empty `rng-seed`, and alias ids that overflow an
//! `int`.

mod common;

use common::{blob, string, N};
use topology::{unflatten_allocations_for, OfBuild};

fn size(root: &N) -> u64 {
    unflatten_allocations_for(&blob(root, 0), &OfBuild::DEBIAN_6_1_64K)
        .expect("a valid tree")
        .tree
        .size
        .as_u64()
}

/// A root with a chain of `depth` nested nodes below it (the deepest at `depth`).
fn chain(depth: usize) -> N {
    let mut node = N::new("n");
    for _ in 1..depth {
        node = N::new("n").c(node);
    }
    N::new("").c(node)
}

#[test]
fn nodes_at_depth_63_and_deeper_are_skipped() {
    // unflatten_dt_nodes skips (with a warning) every node at depth >= FDT_MAX_DEPTH - 1;
    // the blob parser refuses anything deeper than 63 below the root.
    let shallow = size(&chain(61));
    let at_62 = size(&chain(62));
    assert!(at_62 > shallow, "the node at depth 62 is still unflattened");
    assert_eq!(size(&chain(63)), at_62, "the node at depth 63 is skipped");
}

fn with_chosen(chosen: N) -> N {
    N::new("").c(chosen)
}

#[test]
fn only_a_non_empty_rng_seed_is_nopped() {
    let base = size(&with_chosen(N::new("chosen").p("bootargs", string(""))));
    let seeded = with_chosen(
        N::new("chosen")
            .p("bootargs", string(""))
            .p("rng-seed", vec![7; 32]),
    );
    assert_eq!(size(&seeded), base, "a seeded rng-seed is removed first");
    let empty = with_chosen(
        N::new("chosen")
            .p("bootargs", string(""))
            .p("rng-seed", Vec::new()),
    );
    assert!(size(&empty) > base, "an empty rng-seed stays a property");
}

#[test]
fn alias_ids_must_fit_an_int() {
    let aliases = N::new("aliases")
        .p("serial0", string("/chosen"))
        .p("serial2147483647", string("/chosen"))
        .p("serial2147483648", string("/chosen"))
        .p("serial99999999999", string("/chosen"))
        .p("serial", string("/chosen"));
    let root = N::new("").c(N::new("chosen")).c(aliases);
    let a = unflatten_allocations_for(&blob(&root, 0), &OfBuild::DEBIAN_6_1_64K).unwrap();
    let names: Vec<&str> = a.aliases.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(names, ["alias serial0", "alias serial2147483647"]);
}

/// The aliases `of_alias_scan` allocates for, by name, with `aliases` under `/aliases`
/// of a tree holding `/a/b` and `/chosen`.
fn resolved(aliases: &[(&str, &str)]) -> Vec<String> {
    let mut node = N::new("aliases");
    for (name, path) in aliases {
        node = node.p(name, string(path));
    }
    let root = N::new("")
        .c(N::new("a").c(N::new("b")))
        .c(N::new("chosen"))
        .c(node);
    let a = unflatten_allocations_for(&blob(&root, 0), &OfBuild::DEBIAN_6_1_64K).unwrap();
    a.aliases
        .iter()
        .map(|e| e.what.trim_start_matches("alias ").to_string())
        .collect()
}

#[test]
fn alias_paths_resolve_like_of_find_node_by_path() {
    let got = resolved(&[
        ("serial0", "/a/b"),
        ("serial1", "/a/c"),
        ("base", "/a"),
        ("serial2", "base/b"),
        ("serial3", "nope/b"),
        // Options after `:` end the walk, even when they hold a `/`.
        ("serial4", "/a:x/y"),
        ("serial5", "/a/b:115200"),
        ("serial6", "/a//b"),
    ]);
    assert_eq!(got, ["serial0", "serial2", "serial4", "serial5"]);
}

#[test]
fn alias_chains_stop_after_eight_hops_and_loops_end() {
    // serial0 -> ha -> hb -> ... -> /chosen: eight hops through other aliases resolve,
    // nine are given up (Linux would follow them; numaboot's bound against loops).
    let names = ["ha", "hb", "hc", "hd", "he", "hf", "hg", "hh", "hi"];
    for hops in [8, 9] {
        let mut aliases: Vec<(&str, &str)> = vec![("serial0", names[0])];
        for i in 0..hops - 1 {
            aliases.push((names[i], names[i + 1]));
        }
        aliases.push((names[hops - 1], "/chosen"));
        let got = resolved(&aliases);
        let want: &[&str] = if hops == 8 { &["serial0"] } else { &[] };
        assert_eq!(got, want, "{hops} hops");
    }
    assert!(resolved(&[("x", "y"), ("y", "x"), ("serial0", "x")]).is_empty());
}
