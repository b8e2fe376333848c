//! Arbitrary input never panics the parser or the observer, and a damaged memblock line
//! is reported with its own line number.

use bootlog::{message, observe, parse, ObserveConfig};
use proptest::prelude::*;

const R84: &str = include_str!("data/r84.log");

const KEYWORDS: [&str; 14] = [
    "memblock_reserve: ",
    "memblock_phys_free: ",
    "memblock_add: ",
    "memblock_add_node: ",
    "memblock_remove: ",
    "memblock_free_late: ",
    "memblock_physmem_add: ",
    "memblock_alloc_try_nid: ",
    "memblock_alloc_try_nid_raw: ",
    "memblock_alloc_exact_nid_raw: ",
    "memblock_phys_alloc_range: ",
    "memblock: reserved is doubled to ",
    "memblock: Failed to double ",
    "alloc_paca_data ",
];

fn check(text: &str) {
    match parse(text) {
        Ok(log) => {
            let _ = observe(&log, &ObserveConfig::default());
            let _ = log.facts.topology();
        }
        Err(e) => {
            let line = text.split('\n').nth(e.line - 1).unwrap();
            assert!(message(line).starts_with("memblock"), "{e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(800))]

    #[test]
    fn arbitrary_text(s in "\\PC{0,300}") {
        check(&s);
    }

    #[test]
    fn keyword_then_tokens(
        lines in prop::collection::vec(
            (0..KEYWORDS.len(), prop::collection::vec(
                prop_oneof![
                    Just("[0x0-0xfff]".to_string()),
                    Just("[0x1000-0xfff]".to_string()),
                    "\\[0x[0-9a-f]{1,17}-0x[0-9a-f]{1,17}\\]",
                    "[0-9]{1,21}",
                    Just("bytes".to_string()),
                    "align=0x[0-9a-f]{0,17}",
                    "nid=-?[0-9]{1,4}",
                    "from=0x[0-9a-f]{1,16}",
                    "max_addr=0x[0-9a-f]{1,16}",
                    "flags=[0-9a-f]{1,9}",
                    "[a-z_]{1,12}\\+0x[0-9a-f]{1,4}/0x[0-9a-f]{1,4}",
                    Just("alloc_paca_data+0x80/0xd0".to_string()),
                    Just("alloc_stack+0x50/0x7c".to_string()),
                    Just("memblock_alloc_range_nid+0x10c/0x1dc".to_string()),
                    "\\PC{0,8}",
                ],
                0..9,
            )),
            0..40,
        )
    ) {
        let mut text = String::new();
        for (k, toks) in lines {
            text.push_str("[    0.000000] ");
            text.push_str(KEYWORDS[k]);
            text.push_str(&toks.join(" "));
            text.push('\n');
        }
        check(&text);
    }

    #[test]
    fn damaged_real_log(line in 0usize..400, at in 0usize..200, junk in "\\PC{1,6}") {
        let lines: Vec<&str> = R84.lines().collect();
        let line = line % lines.len();
        let mut damaged = lines[line].to_string();
        let mut at = at.min(damaged.len());
        while !damaged.is_char_boundary(at) {
            at -= 1;
        }
        damaged.insert_str(at, &junk);
        let mut all = lines.clone();
        all[line] = &damaged;
        let text = all.join("\n");
        match parse(&text) {
            Ok(log) => {
                let _ = observe(&log, &ObserveConfig::default());
            }
            Err(e) => {
                prop_assert_eq!(e.line, line + 1, "{}", e);
                prop_assert!(message(&damaged).starts_with("memblock"));
            }
        }
    }
}
