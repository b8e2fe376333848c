//! Random `hv replay` scripts, seeded and biased toward the boundaries the
//! hypervisors' rules turn on: 4 KiB crossings, 128-byte alignment, the size minimums
//! (0, 7/8, 47/48, 639/640, 1023/1024), address 0, the last page of RAM and beyond it
//! (including addresses whose `+ 4` wraps), unknown proc-nos (including ones whose low
//! 32 bits name a real vCPU), every subfunction 0-7 with and without stray flag bits,
//! any registration order, and dispatches of the secondaries.
//!
//! Scripts only touch memory the live guest leaves to them (the first 16 MiB and the
//! last two pages of RAM), so every generated script runs live.

use vpa_hv::script::{parse_line, step};
use vpa_hv::{AreaKind, Partition, Profile};

use super::{Script, Shape, SparseRam};

/// SplitMix64: small, fast, and the same sequence on every host for a seed.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// VPA size fields around the minimum, the old 1 KiB struct and a page.
const VPA_SIZES: &[u64] = &[
    0, 1, 8, 47, 48, 256, 639, 640, 641, 768, 1023, 1024, 1025, 1280, 2048, 3456, 3457, 4096, 4097,
    0xffff,
];
/// DTL / SLB shadow length words around their minimums (48 and 8) and a page.
const AREA_SIZES: &[u64] = &[
    0,
    7,
    8,
    9,
    47,
    48,
    49,
    96,
    640,
    1024,
    4095,
    4096,
    4097,
    8192,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0xffff_ffff,
];
/// Offsets in a page: aligned, near the end (crossing for the sizes above), and not
/// cache-line aligned.
const OFFSETS: &[u64] = &[
    0, 0x80, 0x100, 0x400, 0x800, 0xb80, 0xc00, 0xd80, 0xe00, 0xe80, 0xf00, 0xf80, 0xfc0, 0xff8,
    0xffc, 8, 1, 4, 0x40,
];

fn address(rng: &mut Rng, mem: u64) -> u64 {
    let off = if rng.chance(40) {
        rng.pick(&[0, 0x400, 0x800, 0xc00])
    } else if rng.chance(85) {
        rng.pick(OFFSETS)
    } else {
        rng.below(4096)
    };
    match rng.below(20) {
        0..=9 => (1 + rng.below(15)) * 4096 + off,
        10..=12 => (1 + rng.below(4095)) * 4096 + off,
        13 => off,
        14..=15 => mem - 4096 + off,
        16 => mem - 8192 + off,
        17 => mem + rng.pick(&[0, 0x80, 0x1000, 0x10_0000]) + off % 0x100,
        18 => rng.pick(&[
            0,
            u64::MAX - 3,
            u64::MAX - 0x7f,
            u64::MAX - 0xfff,
            1 << 40,
            1 << 63,
        ]),
        _ => 0,
    }
}

fn proc_no(rng: &mut Rng, cpus: u32) -> u64 {
    let c = u64::from(cpus);
    if rng.chance(80) {
        return rng.below(c);
    }
    rng.pick(&[
        c,
        c + 1,
        99,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        1 << 32,
        (1 << 32) + 1,
        u64::MAX,
    ])
}

fn flags(rng: &mut Rng) -> u64 {
    // Registering the VPA first makes the DTL/SLB rules past H_RESOURCE reachable.
    let sub = if rng.chance(25) { 1 } else { rng.below(8) } << 45;
    match rng.below(10) {
        0 => sub | (1 << rng.pick(&[0u64, 1, 16, 44, 48, 63])),
        1 => rng.next(),
        _ => sub,
    }
}

/// Whether a script may write or read `[addr, addr + len)`: inside RAM and outside
/// the live guest's window.
fn usable(addr: u64, len: u64, mem: u64) -> bool {
    addr.checked_add(len)
        .is_some_and(|end| end <= 16 << 20 || (addr >= mem - 8192 && end <= mem))
}

/// A script being written, replayed on the model as it grows so that the generator
/// knows which vCPUs run and which have a VPA.
struct Writer {
    text: String,
    hv: Partition<SparseRam>,
    stopped: bool,
}

impl Writer {
    fn push(&mut self, line: String) {
        if self.stopped {
            return;
        }
        let mut sink = String::new();
        if let Ok(Some(cmd)) = parse_line(&line) {
            // A line the model refuses ends the script on both sides: write nothing after.
            if step(&mut self.hv, &cmd, &mut sink, false).is_err() {
                self.stopped = true;
            }
        }
        self.text += &line;
        self.text.push('\n');
    }

    fn running(&self, cpu: u32) -> bool {
        self.hv.vcpu(cpu).is_some_and(|v| v.is_running())
    }

    fn has_vpa(&self, cpu: u32) -> bool {
        self.hv
            .vcpu(cpu)
            .is_some_and(|v| v.area(AreaKind::Vpa).is_registered())
    }
}

/// One random script.
pub fn script(rng: &mut Rng, shape: Shape) -> String {
    let mem = shape.mem;
    let ids: Vec<u32> = (0..shape.cpus).collect();
    let Ok(mut hv) = Partition::new(Profile::Qemu, SparseRam::new(mem), &ids) else {
        return String::new();
    };
    let _ = hv.dispatch(0);
    let mut w = Writer {
        text: String::new(),
        hv,
        stopped: false,
    };
    let areas: Vec<u64> = (0..1 + rng.below(4)).map(|_| address(rng, mem)).collect();
    for &a in &areas {
        let at = a.wrapping_add(4);
        if rng.chance(50) {
            if usable(at, 2, mem) {
                // Half of the VPAs get a size QEMU accepts where they do not cross.
                let size = if rng.chance(50) {
                    rng.pick(&[640, 640, 768, 1024])
                } else {
                    rng.pick(VPA_SIZES)
                };
                w.push(format!("write16 {at:#x} {size}"));
            }
        } else if usable(at, 4, mem) {
            w.push(format!("write {at:#x} {:08x}", rng.pick(AREA_SIZES)));
        }
        let yc = a.wrapping_add(0x100);
        if rng.chance(30) && usable(yc, 4, mem) {
            w.push(format!("write {yc:#x} {:08x}", rng.next() as u32));
        }
    }
    // A running secondary spins on a host thread of its own, which slows everything
    // on a small host: only some scripts start secondaries.
    let dispatches = shape.cpus > 1 && rng.chance(20);
    for _ in 0..4 + rng.below(20) {
        let a = if rng.chance(85) {
            rng.pick(&areas)
        } else {
            address(rng, mem)
        };
        let hcall = |rng: &mut Rng| {
            format!(
                "hcall {:#x} {} {a:#x}",
                flags(rng),
                proc_no(rng, shape.cpus)
            )
        };
        match rng.below(100) {
            0..=59 => w.push(hcall(rng)),
            60..=67 => {
                let at = a.wrapping_add(4);
                if usable(at, 2, mem) {
                    w.push(format!("write16 {at:#x} {}", rng.pick(VPA_SIZES)));
                }
            }
            68..=77 => {
                let (at, n) = rng.pick(&[(9u64, 1u64), (0x100, 4), (0, 16), (4, 4)]);
                let at = a.wrapping_add(at);
                if usable(at, n, mem) || rng.chance(3) {
                    w.push(format!("read {at:#x} {n}"));
                }
            }
            78..=87 => {
                let c = if rng.chance(99) {
                    rng.below(u64::from(shape.cpus))
                } else {
                    u64::from(shape.cpus)
                };
                w.push(format!("state {c}"));
            }
            _ if dispatches => {
                let c = 1 + rng.below(u64::from(shape.cpus) - 1) as u32;
                let wrong = rng.chance(1);
                if w.running(c) != wrong {
                    w.push(format!("preempt {c}"));
                } else if !w.has_vpa(c) {
                    // Live, a start of a vCPU with a VPA is refused (see `hv`).
                    w.push(format!("dispatch {c}"));
                }
            }
            _ => w.push(hcall(rng)),
        }
    }
    for c in 0..shape.cpus {
        w.push(format!("state {c}"));
    }
    w.text
}

/// `count` scripts of seed `seed`, named `random-SEED-I`.
pub fn scripts(seed: u64, count: usize, shape: Shape) -> Vec<Script> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| Script {
            name: format!("random-{seed}-{i}"),
            text: script(&mut rng, shape),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape {
        cpus: 4,
        mem: 256 << 20,
    };

    #[test]
    fn same_seed_same_scripts() {
        let a = scripts(7, 20, SHAPE);
        let b = scripts(7, 20, SHAPE);
        let c = scripts(8, 20, SHAPE);
        assert!(a.iter().zip(&b).all(|(x, y)| x.text == y.text));
        assert!(a.iter().zip(&c).any(|(x, y)| x.text != y.text));
    }

    /// Every generated line parses, and the boundaries the issue lists all occur.
    #[test]
    fn scripts_parse_and_reach_the_boundaries() {
        let all: String = scripts(1, 3000, SHAPE)
            .into_iter()
            .map(|s| s.text)
            .collect();
        for (n, c) in vpa_hv::script::commands(&all) {
            c.unwrap_or_else(|e| panic!("line {n}: {e}"));
        }
        for needle in [
            " 639\n",
            " 640\n",
            " 47\n",
            " 48\n",
            " 1023\n",
            " 1024\n",
            " 0\n",
            "hcall 0x0 ",
            " 0xfffffff000\n",
            "dispatch ",
            "preempt ",
            " 4294967297 ",
            " 18446744073709551615 ",
            " 0xfffffffffffffffc\n",
            "hcall 0x200000000001 ",
        ] {
            let wanted = needle.replace("0xfffffff000", &format!("{:#x}", SHAPE.mem - 4096));
            assert!(all.contains(&wanted), "no {wanted:?}");
        }
        for sub in 0..8u64 {
            assert!(
                all.contains(&format!("hcall {:#x} ", sub << 45)),
                "subfunction {sub}"
            );
        }
    }
}
