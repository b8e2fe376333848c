//! A hand-written topology in TOML, for machines (or experiments) without a DTB. The
//! format is described in the crate documentation.
//!
//! Every field is checked, and every error names the field: a syntax or type error as
//! `line L, column C: KEY: what` (`KEY` as `nodes[1].id` where the line holds a key), a
//! value numaboot cannot use as `KEY: what`. Beyond the crate documentation's rules,
//! `rma_size` must be more than 0 (Linux allocates the boot CPU's paca there) and no
//! larger than the lowest memory range (Linux's `ppc64_rma_size` is never more than
//! the first memory block).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use phys::{parse_u64, NodeId, PhysAddr, PhysSize};
use serde::Deserialize;

use crate::dtb::{MAX_CPUS, MAX_PHYSMEM_BITS};
use crate::error::TomlError;
use crate::model::{Cpu, MemoryRange, Node, Topology};
use crate::rma::{linux_rma_size, Mmu};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    hypervisor_mode: bool,
    rma_size: Option<Number>,
    arch_300: Option<bool>,
    distances: Option<Vec<Vec<u32>>>,
    #[serde(default)]
    nodes: Vec<NodeSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSpec {
    id: u32,
    #[serde(default)]
    memory: Vec<String>,
    #[serde(default)]
    cpus: String,
    hw_ids: Option<String>,
}

/// A number written as a TOML integer or as a decimal/`0x` string.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a byte count: a non-negative integer or a decimal or 0x string"
)]
enum Number {
    Int(u64),
    Text(String),
}

/// Linux's `LOCAL_DISTANCE`.
const LOCAL_DISTANCE: u32 = 10;

fn field(at: impl Into<String>, why: impl Into<String>) -> TomlError {
    TomlError::Field {
        at: at.into(),
        why: why.into(),
    }
}

/// Parses a Linux id list (cpulist) such as `"0-3,8,10-11"` into ids in the order
/// written (duplicates kept); `""` is none and empty entries are skipped. Ids are
/// decimal or `0x` hex. `limit` bounds the count so that `"0-4294967295"` is an error,
/// not a 16 GiB allocation. The error is a sentence naming the offending entry.
///
/// ```
/// assert_eq!(topology::parse_id_list("0-2,8", 64), Ok(vec![0, 1, 2, 8]));
/// assert!(topology::parse_id_list("3-1", 64).is_err());
/// ```
pub fn parse_id_list(s: &str, limit: usize) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let num = |t: &str| -> Result<u32, String> {
            let v = parse_u64(t).map_err(|e| format!("`{t}`: {e}"))?;
            u32::try_from(v).map_err(|_| format!("`{t}` does not fit in 32 bits"))
        };
        let (lo, hi) = (num(lo)?, num(hi)?);
        if hi < lo {
            return Err(format!("range `{part}` runs backwards"));
        }
        // In u64: `hi - lo + 1` is 2^32 for "0-4294967295", which a 32-bit usize
        // cannot hold.
        let count = u64::from(hi - lo) + 1;
        let room = limit.saturating_sub(out.len());
        if usize::try_from(count).map_or(true, |c| c > room) {
            return Err(format!("more than {limit} ids"));
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

/// Formats ids as a Linux id list: sorted, duplicates dropped, runs as ranges
/// (`0-3,8,10-11`); `none` when there are none. The inverse of [`parse_id_list`] for a
/// non-empty set.
///
/// ```
/// assert_eq!(topology::format_id_list([3, 0, 1, 2, 8, 8]), "0-3,8");
/// assert_eq!(topology::format_id_list([]), "none");
/// ```
pub fn format_id_list(ids: impl IntoIterator<Item = u32>) -> String {
    use core::fmt::Write as _;
    let mut ids: Vec<u32> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut end = start;
        while i + 1 < ids.len() && ids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = ids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = if start == end {
            write!(out, "{start}")
        } else {
            write!(out, "{start}-{end}")
        };
        i += 1;
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

fn parse_range(s: &str) -> Result<(PhysAddr, PhysSize), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("`{s}` is not `start-end`"))?;
    let start = parse_u64(a.trim()).map_err(|e| format!("start `{}`: {e}", a.trim()))?;
    let end = parse_u64(b.trim()).map_err(|e| format!("end `{}`: {e}", b.trim()))?;
    if end <= start {
        return Err(format!(
            "`{s}` is empty or runs backwards (end is exclusive)"
        ));
    }
    if end > 1 << MAX_PHYSMEM_BITS {
        return Err(format!(
            "`{s}` ends above 2 PiB (MAX_PHYSMEM_BITS {MAX_PHYSMEM_BITS}), as a device tree \
             may not either"
        ));
    }
    Ok((PhysAddr::new(start), PhysSize::new(end - start)))
}

/// Parses a TOML topology.
///
/// ```
/// let t = topology::topology_from_toml(r#"
///     [[nodes]]
///     id = 0
///     memory = ["0x0-0x40000000"]
///     cpus = "0-1"
///     [[nodes]]
///     id = 1
///     cpus = "2-3"
/// "#).unwrap();
/// assert_eq!(t.cpus.len(), 4);
/// assert_eq!(t.nodes.len(), 2);
/// assert_eq!(t.distances[0][1], 20);
/// assert_eq!(t.rma_size.as_u64(), 0x4000_0000);
/// ```
pub fn topology_from_toml(text: &str) -> Result<Topology, TomlError> {
    let file: File = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
    build(file)
}

/// A parser or type error as one line naming where it is and, when the line holds a
/// `key = value`, the field: `line 3, column 6: nodes[0].id: invalid type: ...`.
fn syntax_error(text: &str, e: &toml::de::Error) -> TomlError {
    let msg = e.message().trim().replace('\n', " ");
    let Some(at) = e.span().map(|r| r.start.min(text.len())) else {
        return TomlError::Syntax(msg);
    };
    let before = text.get(..at).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
    match field_of_line(text, line_start) {
        Some(key) => TomlError::Syntax(format!("line {line}, column {column}: {key}: {msg}")),
        None => TomlError::Syntax(format!("line {line}, column {column}: {msg}")),
    }
}

/// The dotted path of the key the line at `line_start` assigns (`rma_size`,
/// `nodes[1].cpus`), or `None` when the line is no `key = value`. The table is the last
/// `[name]` or `[[name]]` header above, `[[name]]` counted to give the entry's index.
fn field_of_line(text: &str, line_start: usize) -> Option<String> {
    let line = text.get(line_start..)?.lines().next()?.trim();
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    let plain = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    if !plain(key) {
        return None;
    }
    let mut table: Option<(String, Option<usize>)> = None;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for l in text.get(..line_start)?.lines().map(str::trim) {
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split_once("]]")) {
            let name = name.0.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            table = Some((name, Some(*n)));
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split_once(']')) {
            table = Some((name.0.trim().to_string(), None));
        }
    }
    Some(match table {
        Some((t, Some(i))) => format!("{t}[{i}].{key}"),
        Some((t, None)) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

fn build(file: File) -> Result<Topology, TomlError> {
    let mut by_id: BTreeMap<NodeId, usize> = BTreeMap::new();
    for (i, n) in file.nodes.iter().enumerate() {
        let id = NodeId::new(n.id).ok_or_else(|| {
            field(
                format!("nodes[{i}].id"),
                format!("{} is not below 256", n.id),
            )
        })?;
        if by_id.insert(id, i).is_some() {
            return Err(field(
                format!("nodes[{i}].id"),
                format!("node {id} listed twice"),
            ));
        }
    }
    if by_id.is_empty() {
        return Err(field("nodes", "no nodes"));
    }

    let mut cpu_slots: Vec<Option<Cpu>> = Vec::new();
    let mut hw_seen: BTreeMap<u32, u32> = BTreeMap::new();
    let mut ranges: Vec<(PhysAddr, PhysSize, NodeId, String)> = Vec::new();
    let mut total = 0usize;
    for (&id, &i) in &by_id {
        let Some(n) = file.nodes.get(i) else { continue };
        let at = format!("nodes[{i}].cpus");
        let logical =
            parse_id_list(&n.cpus, MAX_CPUS.saturating_sub(total)).map_err(|e| field(&at, e))?;
        total = total.saturating_add(logical.len());
        let hw = match &n.hw_ids {
            Some(h) => {
                let hw = parse_id_list(h, MAX_CPUS)
                    .map_err(|e| field(format!("nodes[{i}].hw_ids"), e))?;
                if hw.len() != logical.len() {
                    return Err(field(
                        format!("nodes[{i}].hw_ids"),
                        format!("{} ids for {} CPUs", hw.len(), logical.len()),
                    ));
                }
                hw
            }
            None => logical.clone(),
        };
        for (&l, &h) in logical.iter().zip(&hw) {
            // Bounded by MAX_CPUS above only in count; a large id would make a sparse
            // table, so ids must also be below the CPU limit.
            let slot = l as usize;
            if slot >= MAX_CPUS {
                return Err(field(&at, format!("CPU {l} is not below NR_CPUS (8192)")));
            }
            if cpu_slots.len() <= slot {
                cpu_slots.resize(slot + 1, None);
            }
            if let Some(s) = cpu_slots.get_mut(slot) {
                if s.is_some() {
                    return Err(field(&at, format!("CPU {l} is listed twice")));
                }
                *s = Some(Cpu {
                    logical_id: l,
                    hw_id: h,
                    node: Some(id),
                });
            }
            if let Some(other) = hw_seen.insert(h, l) {
                return Err(field(
                    &at,
                    format!("hardware id {h} used by CPUs {other} and {l}"),
                ));
            }
        }
        for (k, m) in n.memory.iter().enumerate() {
            let at = format!("nodes[{i}].memory[{k}]");
            let (base, size) = parse_range(m).map_err(|e| field(&at, e))?;
            ranges.push((base, size, id, at));
        }
    }
    if cpu_slots.is_empty() {
        return Err(field(
            "nodes[].cpus",
            "no CPUs; at least one node needs `cpus` (a device tree without CPUs is refused \
             too)",
        ));
    }
    let mut cpus = Vec::with_capacity(cpu_slots.len());
    for (l, c) in cpu_slots.into_iter().enumerate() {
        cpus.push(c.ok_or_else(|| {
            field(
                "nodes[].cpus",
                format!("logical CPU {l} is missing; ids must be 0..n"),
            )
        })?);
    }

    let first = ranges.iter().min_by_key(|r| r.0).map(|r| (r.0, r.1));
    ranges.sort_by_key(|r| r.0);
    let mut memory: Vec<MemoryRange> = Vec::new();
    let mut prev_end: Option<(u128, &str)> = None;
    for (base, size, node, at) in &ranges {
        let end = u128::from(base.as_u64()) + u128::from(size.as_u64());
        if let Some((pend, pat)) = prev_end {
            if u128::from(base.as_u64()) < pend {
                return Err(field(at.as_str(), format!("overlaps {pat}")));
            }
        }
        prev_end = Some((end, at.as_str()));
        match memory.last_mut() {
            Some(last)
                if last.node == Some(*node) && last.base.checked_add(last.size) == Some(*base) =>
            {
                last.size = last.size.saturating_add(*size);
            }
            _ => memory.push(MemoryRange {
                base: *base,
                size: *size,
                node: Some(*node),
            }),
        }
    }

    let nodes: Vec<Node> = by_id.keys().map(|&id| Node { id }).collect();
    let n = nodes.len();
    let distances = match file.distances {
        Some(d) => {
            if d.len() != n || d.iter().any(|r| r.len() != n) {
                return Err(field(
                    "distances",
                    format!("must be {n} rows of {n} (one per node, ascending id)"),
                ));
            }
            for (i, row) in d.iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    let at = format!("distances[{i}][{j}]");
                    if i == j && v != LOCAL_DISTANCE {
                        return Err(field(
                            at,
                            format!("{v}: a node's distance to itself is LOCAL_DISTANCE (10)"),
                        ));
                    }
                    if i != j && v <= LOCAL_DISTANCE {
                        return Err(field(
                            at,
                            format!(
                                "{v}: distances between nodes must be more than \
                                 LOCAL_DISTANCE (10)"
                            ),
                        ));
                    }
                }
            }
            d
        }
        None => (0..n)
            .map(|i| (0..n).map(|j| if i == j { 10 } else { 20 }).collect())
            .collect(),
    };
    let given = match file.rma_size {
        Some(Number::Int(v)) => Some(v),
        Some(Number::Text(s)) => {
            Some(parse_u64(&s).map_err(|e| field("rma_size", format!("`{s}`: {e}")))?)
        }
        None => None,
    };
    let rma_size = match given {
        Some(0) => {
            return Err(field(
                "rma_size",
                "0: Linux allocates the boot CPU's paca in the real-mode area, so it cannot \
                 be empty (leave rma_size out for Linux's rule)",
            ))
        }
        Some(v) => match first {
            Some((base, size)) if v > size.as_u64() => {
                return Err(field(
                    "rma_size",
                    format!(
                        "{v:#x} is larger than the lowest memory range ({:#x} bytes at {base}); \
                         Linux's RMA never exceeds the first memory block",
                        size.as_u64()
                    ),
                ))
            }
            None => {
                return Err(field(
                    "rma_size",
                    format!("{v:#x} given, but no node has memory to hold it"),
                ))
            }
            Some(_) => PhysSize::new(v),
        },
        None => linux_rma_size(
            first,
            file.hypervisor_mode,
            file.arch_300.unwrap_or(true),
            Mmu::Hash,
        )
        .map_err(|e| field("rma_size", e.to_string()))?,
    };
    Ok(Topology {
        cpus,
        memory,
        nodes,
        distances,
        rma_size,
        hypervisor_mode: file.hypervisor_mode,
    })
}
