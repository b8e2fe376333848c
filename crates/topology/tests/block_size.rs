//! Linux 6.12's `memory_block_size` probe on real trees: the radix mapping of the 6.12
//! boots used 2 MiB pages on 1 GiB nodes and 1 GiB pages above 1 GiB on 2 GiB nodes
//! (their logs' `radix-mmu: Mapped ... with ... pages` lines).

use topology::probe_memory_block_size;

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn log_says_1g_pages(name: &str) -> bool {
    String::from_utf8_lossy(&fixture(name))
        .lines()
        .any(|l| l.contains("radix-mmu: Mapped") && l.contains("1.00 GiB pages"))
}

#[test]
fn block_size_follows_the_memory_nodes() {
    for (boot, expect) in [
        ("linux-6.12/64-r84", 256u64 << 20),
        ("linux-6.12/64-r164", 1 << 30),
        ("linux-6.12/4-r164", 1 << 30),
    ] {
        let got = probe_memory_block_size(&fixture(&format!("{boot}.booted.dtb")))
            .unwrap()
            .as_u64();
        assert_eq!(got, expect, "{boot}");
        // 1 GiB pages appear in the log exactly when the block allows them.
        assert_eq!(
            log_says_1g_pages(&format!("{boot}.log")),
            got >= 1 << 30,
            "{boot}"
        );
    }
}

#[test]
fn the_dr_memory_lmb_size_ends_the_scan() {
    // The crafted DR-memory trees say ibm,lmb-size = 256 MiB.
    for f in ["crafted/drmem-v1.dtb", "crafted/drmem-v2.dtb"] {
        let got = probe_memory_block_size(&fixture(f)).unwrap();
        assert_eq!(got.as_u64(), 256 << 20, "{f}");
    }
    // QEMU's two-node tree has no DR memory: its 512 MiB nodes keep 1 GiB.
    let got = probe_memory_block_size(&fixture("qemu/two-node.dtb")).unwrap();
    assert_eq!(got.as_u64(), 1 << 30);
    assert!(probe_memory_block_size(b"not a tree").is_err());
}
