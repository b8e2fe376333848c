//! What QEMU 7.2's pseries machine changes in its device tree at
//! client-architecture-support (CAS) for a Linux 6.1 or 6.12 guest, in terms of the
//! tree's shape (observed on every boot in `fixtures/linux-6.1/` and
//! `fixtures/linux-6.12/`, see their READMEs). 6.12 asks for what 6.1 asks for; its
//! request only lists two more processor versions (POWER11), which QEMU does not echo
//! into the tree, and the page size of the build plays no part.
//!
//! The guest's request follows prom_init's `prom_check_platform_support`: from
//! `/chosen/ibm,arch-vec-5-platform-support` pairs (index, value) and the command line
//! it asks for radix (index 0x18 allows it and no `disable_radix`), radix GTSE (index
//! 0x1a bit 0x40, unless `radix_hcall_invalidate=on`) and XIVE exploitation (index
//! 0x17 allows it and no `xive=off`); and it always offers FORM1 and FORM2 affinity.
//! QEMU then rebuilds the tree: the negotiated `ibm,architecture-vec-5`, FORM2 NUMA
//! properties, and the XIVE interrupt controller node in place of XICS when XIVE was
//! chosen. (`/chosen/rng-seed` stays; the kernel itself removes it before unflattening,
//! see [`crate::unflatten`].)

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::shape::{Shape, ShapeProp, Value};

/// The guest's CAS choices as prom_init makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GuestChoice {
    pub radix: bool,
    pub radix_gtse: bool,
    pub xive: bool,
}

/// Debian's `CONFIG_CMDLINE`, which prom_init appends when `bootargs` is empty.
pub(crate) const CONFIG_CMDLINE: &str = " console=ttyS0,9600 console=tty0";

/// prom_init's command line: `/chosen/bootargs`, or `CONFIG_CMDLINE` when empty.
pub(crate) fn prom_cmdline(bootargs: Option<&[u8]>) -> String {
    let b = bootargs.unwrap_or(&[]);
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(b.get(..end).unwrap_or(&[])).into_owned();
    if s.is_empty() {
        CONFIG_CMDLINE.into()
    } else {
        s
    }
}

/// `prom_strtobool` on the text after `disable_radix=`: `None` when unparsable.
fn strtobool(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(b'y' | b'Y' | b'1'), _) => Some(true),
        (Some(b'n' | b'N' | b'0'), _) => Some(false),
        (Some(b'o' | b'O'), Some(b'n' | b'N')) => Some(true),
        (Some(b'o' | b'O'), Some(b'f' | b'F')) => Some(false),
        _ => None,
    }
}

/// `early_cmdline_parse`'s `disable_radix` (the Debian kernel defaults to radix).
fn radix_disabled(cmdline: &str) -> bool {
    let Some(at) = cmdline.find("disable_radix") else {
        return false;
    };
    let rest = cmdline.get(at + "disable_radix".len()..).unwrap_or("");
    match rest.strip_prefix('=') {
        Some(v) => strtobool(v).unwrap_or(false),
        None => true,
    }
}

/// `prom_check_platform_support`. A property longer than the 8 bytes prom_init
/// reads, or of odd length, makes it read past its buffer: refused.
pub(crate) fn guest_choice(platform: Option<&[u8]>, cmdline: &str) -> Result<GuestChoice, String> {
    let mut c = GuestChoice {
        radix: false,
        radix_gtse: false,
        xive: false,
    };
    let platform = platform.unwrap_or(&[]);
    if platform.len() <= 1 {
        return Ok(c);
    }
    if platform.len() > 8 || platform.len() % 2 != 0 {
        return Err(format!(
            "/chosen/ibm,arch-vec-5-platform-support is {} bytes; prom_init reads whole \
             pairs from an 8-byte buffer",
            platform.len()
        ));
    }
    let no_radix = radix_disabled(cmdline);
    let no_gtse = cmdline.contains("radix_hcall_invalidate=on");
    let no_xive = cmdline.contains("xive=off");
    for pair in platform.chunks_exact(2) {
        let (index, val) = (pair[0], pair[1]);
        match index {
            0x18 => match val & 0xc0 {
                0xc0 | 0x80 => c.radix = !no_radix,
                0x40 => c.radix = true,
                _ => {}
            },
            0x1a if val & 0x40 != 0 => c.radix_gtse = !no_gtse,
            0x17 => match val & 0xc0 {
                0x80 => c.xive = !no_xive,
                0x40 => c.xive = true,
                _ => {}
            },
            _ => {}
        }
    }
    Ok(c)
}

/// Length of the negotiated `ibm,architecture-vec-5` QEMU writes: up to its last
/// non-zero byte. A 6.1 or 6.12 guest and QEMU 7.2 agree on bytes 2 (DR memory), 5
/// (FORM1 and FORM2), 6 (hotplug events, HPT resizing) and 22
/// (`ibm,dynamic-memory-v2`); 23 is set for XIVE exploitation, 24 for radix and 26 for
/// radix GTSE.
pub(crate) fn vec5_len(choice: GuestChoice) -> usize {
    if choice.radix {
        27
    } else if choice.xive {
        24
    } else {
        23
    }
}

/// The XIVE controller node QEMU 7.2 writes (`spapr_xive_dt`): its name and
/// properties with their lengths, in the order QEMU leaves them.
const XIVE_NODE: &str = "interrupt-controller@60302031b0000";
const XIVE_PROPS: [(&str, usize); 9] = [
    ("phandle", 4),
    ("linux,phandle", 4),
    ("#interrupt-cells", 4),
    ("interrupt-controller", 0),
    ("ibm,xive-lisn-ranges", 8),
    ("ibm,xive-eq-sizes", 4),
    ("compatible", "ibm,power-ivpe".len() + 1),
    ("reg", 32),
    ("device_type", "power-ivpe".len() + 1),
];

fn is_compatible(v: Option<&[u8]>, want: &str) -> bool {
    v.is_some_and(|v| v.split(|&b| b == 0).any(|s| s == want.as_bytes()))
}

/// Applies QEMU's CAS rebuild to `shape`; returns the step descriptions.
pub(crate) fn apply(shape: &mut Shape<'_>, choice: GuestChoice) -> Result<Vec<String>, String> {
    let mut steps = Vec::new();
    if choice.radix && !choice.radix_gtse {
        return Err("the guest would ask for radix without GTSE, which QEMU refuses".into());
    }
    let chosen = shape.find("/chosen").ok_or("no /chosen node")?;
    let node = shape.nodes.get_mut(chosen).ok_or("no /chosen node")?;
    let len = vec5_len(choice);
    node.set_len("ibm,architecture-vec-5", len, false);
    steps.push(format!(
        "cas: /chosen/ibm,architecture-vec-5 negotiated, {len} bytes ({} MMU, {})",
        if choice.radix { "radix" } else { "hash" },
        if choice.xive { "XIVE" } else { "XICS" }
    ));

    form2(shape, &mut steps)?;
    interrupt_controller(shape, choice, &mut steps)?;
    Ok(steps)
}

/// FORM2 affinity (`spapr_numa_FORM2_write_rtas_tables`): `/rtas` gets one reference
/// point, `<1 n>` maximum domains and the lookup-index and distance tables for the `n`
/// NUMA nodes (the last cell of the pre-CAS FORM1 `ibm,max-associativity-domains`),
/// and every `ibm,associativity` array loses the three leading FORM1 domains.
fn form2(shape: &mut Shape<'_>, steps: &mut Vec<String>) -> Result<(), String> {
    let rtas = shape.find("/rtas").ok_or("no /rtas node")?;
    let node = shape.nodes.get_mut(rtas).ok_or("no /rtas node")?;
    let max = node
        .bytes("ibm,max-associativity-domains")
        .ok_or("/rtas has no ibm,max-associativity-domains")?;
    if max.len() != 20 {
        return Err(format!(
            "/rtas/ibm,max-associativity-domains is {} bytes, not QEMU's FORM1 five cells",
            max.len()
        ));
    }
    let last: [u8; 4] = max
        .get(16..20)
        .and_then(|b| b.try_into().ok())
        .ok_or("short ibm,max-associativity-domains")?;
    let n = u32::from_be_bytes(last) as usize;
    if n == 0 || n > 256 {
        return Err(format!("{n} NUMA nodes in ibm,max-associativity-domains"));
    }
    node.set_len("ibm,associativity-reference-points", 4, false);
    node.set_len("ibm,max-associativity-domains", 8, false);
    node.set_len("ibm,numa-lookup-index-table", 4 + 4 * n, false);
    node.set_len("ibm,numa-distance-table", 4 + n * n, false);
    let mut arrays = 0;
    for node in &mut shape.nodes {
        let Some(p) = node
            .props
            .iter_mut()
            .find(|p| p.name == "ibm,associativity")
        else {
            continue;
        };
        let len = p.value.len();
        if len < 16 {
            return Err(format!(
                "{}: ibm,associativity of {len} bytes has fewer than QEMU's three leading \
                 FORM1 domains",
                node.name
            ));
        }
        p.value = Value::Len(len - 12);
        arrays += 1;
    }
    steps.push(format!(
        "cas: FORM2 affinity for {n} nodes: /rtas tables rewritten, {arrays} \
         ibm,associativity arrays shortened by 3 cells"
    ));
    Ok(())
}

/// With XIVE chosen, QEMU replaces the XICS presentation controller by the XIVE one
/// and adds `ibm,plat-res-int-priorities` to the root.
fn interrupt_controller(
    shape: &mut Shape<'_>,
    choice: GuestChoice,
    steps: &mut Vec<String>,
) -> Result<(), String> {
    let kind = |n: &crate::shape::ShapeNode<'_>| {
        if n.depth != 1 {
            None
        } else if is_compatible(n.bytes("compatible"), "IBM,ppc-xicp") {
            Some(false)
        } else if is_compatible(n.bytes("compatible"), "ibm,power-ivpe") {
            Some(true)
        } else {
            None
        }
    };
    let found: Vec<(usize, bool)> = shape
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| kind(n).map(|x| (i, x)))
        .collect();
    match (found.as_slice(), choice.xive) {
        ([(i, false)], true) => {
            let node = shape.nodes.get_mut(*i).ok_or("lost the XICS node")?;
            node.name = XIVE_NODE.into();
            node.props = XIVE_PROPS
                .iter()
                .map(|&(name, len)| ShapeProp {
                    name: name.into(),
                    value: Value::Len(len),
                })
                .collect();
            if let Some(root) = shape.nodes.get_mut(0) {
                root.set_len("ibm,plat-res-int-priorities", 8, false);
            }
            steps.push(format!(
                "cas: XIVE chosen: XICS node replaced by /{XIVE_NODE}, \
                 /ibm,plat-res-int-priorities added"
            ));
            Ok(())
        }
        ([(_, false)], false) => {
            steps.push("cas: XICS kept (XIVE not chosen)".into());
            Ok(())
        }
        ([(_, true)], true) => {
            steps.push("cas: XIVE node already present".into());
            Ok(())
        }
        _ => Err(
            "the tree does not have exactly one XICS or XIVE controller matching the \
             guest's interrupt mode"
                .into(),
        ),
    }
}
