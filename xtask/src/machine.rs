//! The QEMU pseries machine both `e2e` and `linux-boot` run: its NUMA layout and the
//! command-line arguments that describe it, so the two tasks cannot drift apart.

use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context, Result};

use crate::Firmware;

/// How many CPUs and how much memory go on how many nodes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of virtual CPUs.
    pub smp: u32,
    /// Number of NUMA nodes.
    pub nodes: u32,
    /// MiB of memory of each node that has memory.
    pub node_mib: u64,
    /// Whether the last node (of several) gets no memory: Linux must then place that
    /// node's CPUs' structures elsewhere, the case the planner most easily gets wrong.
    pub memoryless_last: bool,
}

impl Layout {
    /// The layout of the command-line options, checked with [`Layout::validate`].
    pub fn checked(smp: u32, nodes: u32, node_mib: u64, memoryless_last: bool) -> Result<Self> {
        let layout = Layout {
            smp,
            nodes,
            node_mib,
            memoryless_last,
        };
        layout.validate()?;
        Ok(layout)
    }

    /// Rejects layouts QEMU would refuse or that leave a node without CPUs.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.smp >= 1, "--smp must be at least 1");
        ensure!(
            self.nodes >= 1 && self.nodes <= self.smp,
            "--nodes must be between 1 and --smp"
        );
        ensure!(self.node_mib >= 64, "--node-mib must be at least 64");
        Ok(())
    }
}

/// The QEMU machine: CPUs in equal consecutive blocks per node, the last node memoryless
/// unless told otherwise.
pub struct Machine {
    firmware: Firmware,
    smp: u32,
    append: Option<String>,
    extra: Vec<String>,
    /// Node of each CPU, by CPU index.
    pub cpu_node: Vec<u32>,
    /// MiB of memory of each node.
    pub node_mib: Vec<u64>,
}

impl Machine {
    /// The nodes QEMU gives memory to, as `(node, start, end)` in node order (QEMU lays
    /// node memory out consecutively from address 0).
    pub fn node_ranges(&self) -> Vec<(u32, u64, u64)> {
        let mut base = 0;
        let mut out = Vec::new();
        for (n, mib) in self.node_mib.iter().enumerate() {
            if *mib > 0 {
                out.push((n as u32, base, base + (mib << 20)));
                base += mib << 20;
            }
        }
        out
    }

    /// The node whose memory holds `addr` in QEMU's layout (`None`: no node's).
    pub fn node_of(&self, addr: u64) -> Option<u32> {
        self.node_ranges()
            .into_iter()
            .find(|&(_, lo, hi)| (lo..hi).contains(&addr))
            .map(|(n, _, _)| n)
    }

    /// The machine for `layout`, booting under `firmware` with `append` as the kernel
    /// command line (when given) and `extra` arguments the task needs besides.
    pub fn new(
        layout: &Layout,
        firmware: Firmware,
        append: Option<String>,
        extra: &[&str],
    ) -> Self {
        let nodes = layout.nodes.max(1);
        let per = layout.smp.div_ceil(nodes).max(1);
        let cpu_node = (0..layout.smp).map(|c| (c / per).min(nodes - 1)).collect();
        let node_mib = (0..nodes)
            .map(|n| {
                if nodes > 1 && n == nodes - 1 && layout.memoryless_last {
                    0
                } else {
                    layout.node_mib
                }
            })
            .collect();
        Machine {
            firmware,
            smp: layout.smp,
            append,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            cpu_node,
            node_mib,
        }
    }

    /// The QEMU arguments of this machine, without the kernel; with `dumpdtb`, QEMU
    /// writes its device tree there and exits instead of booting.
    pub fn qemu_args(&self, dumpdtb: Option<&Path>) -> Vec<String> {
        let mut machine = String::from("pseries");
        if self.firmware == Firmware::Vof {
            machine.push_str(",x-vof=on");
        }
        if let Some(p) = dumpdtb {
            machine.push_str(&format!(",dumpdtb={}", p.display()));
        }
        let total: u64 = self.node_mib.iter().sum();
        let mut a = vec![
            "-M".into(),
            machine,
            // Console only: no VGA device, whose ROM (vgabios-stdvga.bin, from the
            // `seabios` package) a minimal QEMU install lacks.
            "-nographic".into(),
            "-vga".into(),
            "none".into(),
            "-m".into(),
            format!("{total}M"),
            "-smp".into(),
            self.smp.to_string(),
        ];
        a.extend(self.extra.iter().cloned());
        if let Some(cmdline) = &self.append {
            // Ends up in /chosen/bootargs of the device tree the guest reads.
            a.push("-append".into());
            a.push(cmdline.clone());
        }
        for (n, mib) in self.node_mib.iter().enumerate() {
            let cpus: Vec<usize> = (0..self.cpu_node.len())
                .filter(|&c| self.cpu_node[c] as usize == n)
                .collect();
            let mut node = format!("node,nodeid={n}");
            if let (Some(first), Some(last)) = (cpus.first(), cpus.last()) {
                node.push_str(&format!(",cpus={first}-{last}"));
            }
            if *mib > 0 {
                a.push("-object".into());
                a.push(format!("memory-backend-ram,id=m{n},size={mib}M"));
                node.push_str(&format!(",memdev=m{n}"));
            }
            a.push("-numa".into());
            a.push(node);
        }
        a
    }

    /// Dumps the device tree QEMU builds for this machine. The kernel is named too, as
    /// QEMU only puts `-append` into /chosen/bootargs when it loads one.
    pub fn dump_dtb(&self, kernel: &Path, path: &Path) -> Result<()> {
        let _ = std::fs::remove_file(path);
        let output = Command::new("qemu-system-ppc64")
            .args(self.qemu_args(Some(path)))
            .arg("-kernel")
            .arg(kernel)
            .output()
            .context("running qemu-system-ppc64 to dump the device tree")?;
        ensure!(
            path.is_file(),
            "QEMU did not dump the device tree: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(smp: u32, nodes: u32, memoryless_last: bool) -> Layout {
        Layout {
            smp,
            nodes,
            node_mib: 1024,
            memoryless_last,
        }
    }

    fn values_of<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    /// The machine of the r84/h84 reference boots: 8 CPUs in pairs on 4 nodes of 1 GiB,
    /// node 3 without memory, 3 GiB in all.
    #[test]
    fn eight_cpus_four_nodes_last_memoryless() {
        let m = Machine::new(&layout(8, 4, true), Firmware::Vof, None, &[]);
        assert_eq!(m.cpu_node, [0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(m.node_mib, [1024, 1024, 1024, 0]);
        let a = m.qemu_args(None);
        assert_eq!(values_of(&a, "-m"), ["3072M"]);
        assert_eq!(values_of(&a, "-smp"), ["8"]);
        assert_eq!(values_of(&a, "-M"), ["pseries,x-vof=on"]);
        assert_eq!(
            values_of(&a, "-numa"),
            [
                "node,nodeid=0,cpus=0-1,memdev=m0",
                "node,nodeid=1,cpus=2-3,memdev=m1",
                "node,nodeid=2,cpus=4-5,memdev=m2",
                "node,nodeid=3,cpus=6-7",
            ]
        );
        assert_eq!(values_of(&a, "-object").len(), 3);
        assert!(values_of(&a, "-append").is_empty());
    }

    #[test]
    fn uneven_blocks_and_no_memoryless() {
        let m = Machine::new(&layout(5, 2, false), Firmware::Slof, None, &[]);
        assert_eq!(m.cpu_node, [0, 0, 0, 1, 1]);
        assert_eq!(m.node_mib, [1024, 1024]);
        let a = m.qemu_args(None);
        assert_eq!(values_of(&a, "-M"), ["pseries"]);
        assert_eq!(values_of(&a, "-m"), ["2048M"]);
    }

    #[test]
    fn one_node_is_never_memoryless() {
        let m = Machine::new(&layout(2, 1, true), Firmware::Vof, None, &[]);
        assert_eq!(m.node_mib, [1024]);
    }

    #[test]
    fn dumpdtb_append_and_extra_arguments() {
        let m = Machine::new(
            &layout(2, 2, true),
            Firmware::Vof,
            Some("console=hvc0 disable_radix".into()),
            &["-no-reboot"],
        );
        let a = m.qemu_args(Some(Path::new("/tmp/x.dtb")));
        assert_eq!(values_of(&a, "-M"), ["pseries,x-vof=on,dumpdtb=/tmp/x.dtb"]);
        assert_eq!(values_of(&a, "-append"), ["console=hvc0 disable_radix"]);
        assert_eq!(values_of(&a, "-vga"), ["none"]);
        assert!(a.iter().any(|x| x == "-no-reboot"));
    }

    #[test]
    fn layout_validation() {
        assert!(layout(8, 4, true).validate().is_ok());
        assert!(layout(2, 3, true).validate().is_err());
        assert!(layout(0, 1, true).validate().is_err());
        assert!(layout(4, 0, true).validate().is_err());
        let small = Layout {
            node_mib: 32,
            ..layout(4, 2, true)
        };
        assert!(small.validate().is_err());
    }
}
