//! The bodies of the memblock fuzz targets, as functions, so that the seed corpus also
//! runs as an ordinary test (`tests/seeds.rs`) on stable Rust.

use memblock::{AllocLimit, Config, Memblock, NodeId, PhysAddr, PhysSize, Region};

/// `replay`: any bytes as a replay script; parsing and replaying must never panic.
pub fn replay(data: &[u8]) {
    let script = String::from_utf8_lossy(data);
    let _ = memblock::replay::run(&script);
    let _ = memblock::replay::run_bytes(data);
}

fn word(d: &mut &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = d.len().min(8);
    b[..n].copy_from_slice(&d[..n]);
    *d = &d[n..];
    let v = u64::from_le_bytes(b);
    // Mostly small addresses so that operations interact; sometimes raw values.
    if v & 0xf == 0 {
        v
    } else {
        (v >> 4) & 0xf_ffff
    }
}

fn check(regions: &[Region], total: PhysSize) {
    let mut sum = 0u64;
    for w in regions.windows(2) {
        assert!(w[0].end() <= w[1].base);
        assert!(!(w[0].end() == w[1].base && w[0].nid == w[1].nid && w[0].flags == w[1].flags));
    }
    for r in regions {
        assert!(r.size.as_u64() > 0);
        sum += r.size.as_u64();
    }
    assert_eq!(sum, total.as_u64());
}

/// `ops`: bytes decoded as a sequence of memblock operations on small arrays (so that
/// growth happens). No panic, and after every operation the arrays are sorted,
/// disjoint, merged and their totals add up, the search structures match them; a
/// failed operation changes nothing.
pub fn ops(data: &[u8]) {
    let mut d = data;
    let mut mb = Memblock::with_config(Config {
        page_size: 0x1000,
        initial_regions: 4,
        ..Config::default()
    });
    while let Some((&op, rest)) = d.split_first() {
        d = rest;
        let (a, s) = (PhysAddr::new(word(&mut d)), PhysSize::new(word(&mut d)));
        let nid = NodeId::new(u32::from(op >> 5));
        let before = (mb.memory().to_vec(), mb.reserved().to_vec());
        let failed = match op & 0xf {
            0 => mb.add_node(a, s, nid, memblock::RegionFlags::NONE).is_err(),
            1 => mb.reserve(a, s).is_err(),
            2 => mb.remove(a, s).is_err(),
            3 => mb.free(a, s).is_err(),
            4 => mb.mark_hotplug(a, s).is_err(),
            5 => mb.mark_nomap(a, s).is_err(),
            6 => mb.clear_nomap(a, s).is_err(),
            7 => mb.set_node(a, s, nid.unwrap_or(NodeId::ZERO)).is_err(),
            8 => {
                mb.set_current_limit(a);
                false
            }
            9 => {
                mb.set_bottom_up(op & 0x10 != 0);
                mb.set_movable_node(op & 0x20 != 0);
                false
            }
            10 => mb
                .alloc_range_nid(
                    s,
                    a.as_u64() & 0xffff,
                    a,
                    AllocLimit::Addr(PhysAddr::new(word(&mut d))),
                    nid,
                    op & 0x10 != 0,
                )
                .is_err(),
            _ => mb
                .alloc_try_nid(s, a.as_u64() & 0xffff, a, AllocLimit::Accessible, nid)
                .is_err(),
        };
        if failed {
            assert!(before == (mb.memory().to_vec(), mb.reserved().to_vec()));
        }
        check(mb.memory(), mb.phys_mem_size());
        check(&mb.reserved().to_vec(), mb.reserved_size());
        // The search structures (the reserved array's leaves and their summaries, the
        // node chains) follow every change.
        assert_eq!(mb.check_index(), Ok(()));
    }
}
