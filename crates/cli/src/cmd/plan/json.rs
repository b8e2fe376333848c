//! The JSON document of `numaboot plan --format json` (schema version
//! [`SCHEMA_VERSION`], documented in the `plan` module and the README's "Planning"
//! section), written straight from the typed report: addresses become hex strings,
//! kinds and outcomes their names and node ids plain integers only here, as the
//! document streams out. A change that removes or renames a field, or changes its
//! meaning, bumps the version.

use std::borrow::Borrow;
use std::fmt::Display;
use std::io::{self, Write};

use percpu::{Allocation, Outcome};
use phys::NodeId;
use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::machine::id_list;
use super::model::{
    finding_text, ConfigInfo, CpuRow, MachineInfo, NodeSummary, PlanReport, Region, Totals,
};

/// The version of the JSON document `numaboot plan --format json` writes.
///
/// 2: `home_node` of a per-CPU structure became `early_cpu_to_node(cpu)` (was the
/// topology's node, `null` for a CPU without one), so `local` agrees with `outcome`;
/// added `totals.remote`, `cpus[].lppaca_in_kernel_image`, `memblock_reserved` and the
/// `process_table` kind.
pub const SCHEMA_VERSION: u32 = 2;

/// Writes `r` as the pretty-printed JSON document and a final newline, streaming:
/// what `serde_json::to_writer_pretty` writes for [`PlanReport`]'s `Serialize`, byte
/// for byte (a test compares them), with the CPU rows and structures (nearly all of
/// the document at scale) written directly. Through serde every one of their
/// million keys was escaped again on the way out, which was half the output time.
pub fn write(out: &mut impl Write, r: &PlanReport) -> io::Result<()> {
    let mut d = Doc {
        w: out,
        text: String::new(),
        structure_keys: KeyLines::default(),
        row_keys: KeyLines::default(),
    };
    d.report(r)?;
    d.w.write_all(b"\n")
}

/// The document writer: keys and the values that need no escaping go out as bytes;
/// strings, numbers and the small sections go through serde_json (at the depth they
/// sit at), so they are escaped and formatted exactly as serde_json does.
struct Doc<'w, W: Write> {
    w: &'w mut W,
    /// Reused for a reason's text.
    text: String,
    /// The key lines of a structure's fields ([`STRUCTURE_KEYS`]) at the depth they
    /// were made for, and of a CPU row's ([`ROW_KEYS`]): one write per key.
    structure_keys: KeyLines,
    row_keys: KeyLines,
}

/// The fields of a structure, in `Structure`'s order.
const STRUCTURE_KEYS: [&str; 12] = [
    "kind",
    "cpu",
    "addr",
    "size",
    "reserved",
    "node",
    "home_node",
    "requested_node",
    "local",
    "outcome",
    "reason",
    "in_array",
];

/// The fields of a CPU row, in `CpuRow`'s order.
const ROW_KEYS: [&str; 6] = [
    "cpu",
    "hw_id",
    "node",
    "structures",
    "all_local",
    "lppaca_in_kernel_image",
];

/// Each key of an object as written before its value: `,` (but for the first), a
/// line break, the indentation of `depth` and `"key": `.
#[derive(Default)]
struct KeyLines {
    depth: Option<usize>,
    lines: Vec<Vec<u8>>,
}

impl KeyLines {
    /// The lines for `names` at `depth`, made again only when the depth changes.
    fn at(&mut self, depth: usize, names: &[&str]) -> &[Vec<u8>] {
        if self.depth != Some(depth) {
            self.depth = Some(depth);
            self.lines = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let mut line = Vec::new();
                    // Writing into a Vec cannot fail.
                    let _ = newline(&mut line, depth, i > 0);
                    line.push(b'"');
                    line.extend_from_slice(name.as_bytes());
                    line.extend_from_slice(b"\": ");
                    line
                })
                .collect();
        }
        &self.lines
    }
}

/// Writes key line `i` of `lines` (nothing past the end).
fn put<W: Write>(w: &mut W, lines: &[Vec<u8>], i: usize) -> io::Result<()> {
    w.write_all(lines.get(i).map_or(&[][..], Vec::as_slice))
}

impl<W: Write> Doc<'_, W> {
    /// `,` unless `first`, a line break, the indentation of `depth`, and `"name": `.
    /// Keys are plain identifiers: nothing in them needs escaping.
    fn key(&mut self, depth: usize, first: bool, name: &str) -> io::Result<()> {
        newline(self.w, depth, !first)?;
        self.w.write_all(b"\"")?;
        self.w.write_all(name.as_bytes())?;
        self.w.write_all(b"\": ")
    }

    /// A scalar or string, as serde_json writes it. serde_json keeps the writer's own
    /// error inside its error; it is handed back as is so that a closed pipe is still
    /// recognised as one.
    fn value<T: Serialize + ?Sized>(&mut self, v: &T) -> io::Result<()> {
        serde_json::to_writer(&mut *self.w, v).map_err(io::Error::from)
    }

    /// Any value sitting at `depth`, pretty-printed by serde_json.
    fn nested<T: Serialize + ?Sized>(&mut self, depth: usize, v: &T) -> io::Result<()> {
        let pretty = Pretty {
            depth,
            has_value: false,
        };
        let mut ser = serde_json::Serializer::with_formatter(&mut *self.w, pretty);
        v.serialize(&mut ser).map_err(io::Error::from)
    }

    /// `"0x…"`, as [`Hex`] writes it.
    fn hex(&mut self, x: u64) -> io::Result<()> {
        let mut buf = *b"\"0x0000000000000000\"";
        let n = super::table::hex_digits(x);
        if let Some(d) = buf.get_mut(3..19) {
            d.copy_from_slice(&super::table::hex16(x));
        }
        let first = buf.len() - 1 - n;
        self.w.write_all(b"\"0x")?;
        self.w.write_all(buf.get(first..).unwrap_or(b"\""))
    }

    /// An object's closing brace on its own line at `depth`.
    fn close(&mut self, depth: usize, bracket: &[u8]) -> io::Result<()> {
        newline(self.w, depth, false)?;
        self.w.write_all(bracket)
    }

    fn report(&mut self, r: &PlanReport) -> io::Result<()> {
        self.w.write_all(b"{")?;
        self.key(1, true, "schema_version")?;
        self.value(&SCHEMA_VERSION)?;
        self.key(1, false, "numaboot_version")?;
        self.value(env!("CARGO_PKG_VERSION"))?;
        self.key(1, false, "machine")?;
        self.nested(1, &r.machine)?;
        self.key(1, false, "config")?;
        self.nested(1, &r.config)?;
        self.key(1, false, "cpus")?;
        if r.cpus.is_empty() {
            self.w.write_all(b"[]")?;
        } else {
            self.w.write_all(b"[")?;
            for (i, row) in r.cpus.iter().enumerate() {
                newline(self.w, 2, i > 0)?;
                self.cpu_row(2, row)?;
            }
            self.close(1, b"]")?;
        }
        self.key(1, false, "shared")?;
        self.structures(1, &r.shared)?;
        self.key(1, false, "nodes")?;
        self.nested(1, &r.nodes)?;
        self.key(1, false, "totals")?;
        self.nested(1, &r.totals)?;
        self.key(1, false, "findings")?;
        self.nested(1, &Findings(&r.findings))?;
        self.key(1, false, "memblock_reserved")?;
        self.regions(1, &r.memblock_reserved)?;
        self.close(0, b"}")
    }

    /// `memblock_reserved`, as `Region`'s `Serialize` writes each, the array at `depth`.
    fn regions(&mut self, depth: usize, list: &[Region]) -> io::Result<()> {
        if list.is_empty() {
            return self.w.write_all(b"[]");
        }
        let mut keys = KeyLines::default();
        let k = keys.at(depth + 2, &["base", "size"]);
        self.w.write_all(b"[")?;
        for (i, r) in list.iter().enumerate() {
            newline(self.w, depth + 1, i > 0)?;
            self.w.write_all(b"{")?;
            put(self.w, k, 0)?;
            self.hex(r.base.as_u64())?;
            put(self.w, k, 1)?;
            self.hex(r.size.as_u64())?;
            self.close(depth + 1, b"}")?;
        }
        self.close(depth, b"]")
    }

    /// A CPU row, as `CpuRow`'s `Serialize` writes it, the object at `depth`.
    fn cpu_row(&mut self, depth: usize, row: &CpuRow) -> io::Result<()> {
        let mut keys = core::mem::take(&mut self.row_keys);
        let done = self.cpu_row_with(depth, row, &mut keys);
        self.row_keys = keys;
        done
    }

    fn cpu_row_with(&mut self, depth: usize, row: &CpuRow, keys: &mut KeyLines) -> io::Result<()> {
        let k = keys.at(depth + 1, &ROW_KEYS);
        self.w.write_all(b"{")?;
        put(self.w, k, 0)?;
        self.value(&row.cpu)?;
        put(self.w, k, 1)?;
        self.value(&row.hw_id)?;
        put(self.w, k, 2)?;
        self.value(&nid(row.node))?;
        put(self.w, k, 3)?;
        self.structures(depth + 1, &row.structures)?;
        put(self.w, k, 4)?;
        self.value(&row.all_local())?;
        put(self.w, k, 5)?;
        self.value(&row.lppaca_in_kernel_image)?;
        self.close(depth, b"}")
    }

    /// A list of structures (`Structures`), the array at `depth`.
    fn structures<A: Borrow<Allocation>>(&mut self, depth: usize, list: &[A]) -> io::Result<()> {
        if list.is_empty() {
            return self.w.write_all(b"[]");
        }
        self.w.write_all(b"[")?;
        for (i, a) in list.iter().enumerate() {
            newline(self.w, depth + 1, i > 0)?;
            self.structure(depth + 1, a.borrow())?;
        }
        self.close(depth, b"]")
    }

    /// One structure, as `Structure`'s `Serialize` writes it, the object at `depth`.
    fn structure(&mut self, depth: usize, a: &Allocation) -> io::Result<()> {
        let mut keys = core::mem::take(&mut self.structure_keys);
        let done = self.structure_with(depth, a, &mut keys);
        self.structure_keys = keys;
        done
    }

    fn structure_with(
        &mut self,
        depth: usize,
        a: &Allocation,
        keys: &mut KeyLines,
    ) -> io::Result<()> {
        let k = keys.at(depth + 1, &STRUCTURE_KEYS);
        self.w.write_all(b"{")?;
        put(self.w, k, 0)?;
        self.value(a.kind.key())?;
        put(self.w, k, 1)?;
        self.value(&a.cpu)?;
        put(self.w, k, 2)?;
        self.hex(a.addr.as_u64())?;
        put(self.w, k, 3)?;
        self.value(&a.size.as_u64())?;
        put(self.w, k, 4)?;
        self.value(&a.reserved.as_u64())?;
        put(self.w, k, 5)?;
        self.value(&nid(a.memory_node))?;
        put(self.w, k, 6)?;
        self.value(&nid(a.home_node))?;
        put(self.w, k, 7)?;
        self.value(&nid(a.requested_node))?;
        put(self.w, k, 8)?;
        self.value(&a.is_local())?;
        let (outcome, reason): (&str, Option<&dyn Display>) = match a.outcome {
            Outcome::Local => ("local", None),
            Outcome::Fallback(ref r) => ("fallback", Some(r)),
            Outcome::NoNodeRequested(ref r) => ("no_node_requested", Some(r)),
        };
        put(self.w, k, 9)?;
        self.value(outcome)?;
        put(self.w, k, 10)?;
        match reason {
            None => self.w.write_all(b"null")?,
            Some(r) => {
                let mut text = core::mem::take(&mut self.text);
                text.clear();
                // Writing into a String cannot fail.
                let _ = core::fmt::Write::write_fmt(&mut text, format_args!("{r}"));
                let done = self.value(text.as_str());
                self.text = text;
                done?;
            }
        }
        put(self.w, k, 11)?;
        self.value(&a.in_array)?;
        self.close(depth, b"}")
    }
}

/// serde_json's `PrettyFormatter` with its two-space indent, byte for byte, except
/// that a line break and its indentation go out in one write instead of one per
/// level: the 8192-CPU document has a million lines, and the per-level writes were a
/// quarter of its output time.
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// An array or object opens: one level deeper, nothing in it yet.
    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }
    /// It closes: on its own line if it held anything.
    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.newline(w, false)?;
        }
        w.write_all(bracket)
    }
    /// `,` if `comma`, then a line break and the indentation of the current depth.
    fn newline<W: ?Sized + Write>(&self, w: &mut W, comma: bool) -> io::Result<()> {
        newline(w, self.depth, comma)
    }
}

/// `,` if `comma`, then a line break and the indentation of `depth`, in one write
/// (up to depth 31).
fn newline<W: ?Sized + Write>(w: &mut W, depth: usize, comma: bool) -> io::Result<()> {
    const LINE: &[u8] = b",\n                                                                ";
    let skip = usize::from(!comma);
    match LINE.get(skip..2 + 2 * depth) {
        Some(bytes) => w.write_all(bytes),
        None => {
            w.write_all(&LINE[skip..2])?;
            for _ in 0..depth {
                w.write_all(b"  ")?;
            }
            Ok(())
        }
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.newline(w, !first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.newline(w, !first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// An address or size as a hex string: JSON numbers lose bits above 2^53.
struct Hex(u64);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:#x}", self.0))
    }
}

/// Anything with a `Display` as a JSON string, without building the string first.
struct Text<T>(T);

impl<T: Display> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

fn nid(n: Option<NodeId>) -> Option<u32> {
    n.map(NodeId::get)
}

/// One structure: `kind`, `cpu`, `addr`, `size`, `reserved`, `node`, `home_node`,
/// `requested_node`, `local`, `outcome`, `reason`, `in_array`.
struct Structure<'a>(&'a Allocation);

impl Serialize for Structure<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let (outcome, reason) = match a.outcome {
            Outcome::Local => ("local", None),
            Outcome::Fallback(ref r) => ("fallback", Some(Text(r as &dyn Display))),
            Outcome::NoNodeRequested(ref r) => ("no_node_requested", Some(Text(r as &dyn Display))),
        };
        let mut st = s.serialize_struct("Structure", 12)?;
        st.serialize_field("kind", a.kind.key())?;
        st.serialize_field("cpu", &a.cpu)?;
        st.serialize_field("addr", &Hex(a.addr.as_u64()))?;
        st.serialize_field("size", &a.size.as_u64())?;
        st.serialize_field("reserved", &a.reserved.as_u64())?;
        st.serialize_field("node", &nid(a.memory_node))?;
        st.serialize_field("home_node", &nid(a.home_node))?;
        st.serialize_field("requested_node", &nid(a.requested_node))?;
        st.serialize_field("local", &a.is_local())?;
        st.serialize_field("outcome", outcome)?;
        st.serialize_field("reason", &reason)?;
        st.serialize_field("in_array", &a.in_array)?;
        st.end()
    }
}

/// A list of structures.
struct Structures<'a, A>(&'a [A]);

impl<A: Borrow<Allocation>> Serialize for Structures<'_, A> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|a| Structure(a.borrow())))
    }
}

/// The findings, one sentence each.
pub struct Findings<'a>(pub &'a [percpu::Finding]);

impl Serialize for Findings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(finding_text))
    }
}

impl Serialize for PlanReport<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("PlanReport", 10)?;
        st.serialize_field("schema_version", &SCHEMA_VERSION)?;
        st.serialize_field("numaboot_version", env!("CARGO_PKG_VERSION"))?;
        st.serialize_field("machine", &self.machine)?;
        st.serialize_field("config", &self.config)?;
        st.serialize_field("cpus", &self.cpus)?;
        st.serialize_field("shared", &Structures(&self.shared))?;
        st.serialize_field("nodes", &self.nodes)?;
        st.serialize_field("totals", &self.totals)?;
        st.serialize_field("findings", &Findings(&self.findings))?;
        st.serialize_field("memblock_reserved", &self.memblock_reserved)?;
        st.end()
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Region", 2)?;
        st.serialize_field("base", &Hex(self.base.as_u64()))?;
        st.serialize_field("size", &Hex(self.size.as_u64()))?;
        st.end()
    }
}

impl Serialize for MachineInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("MachineInfo", 7)?;
        st.serialize_field("source", &self.source)?;
        st.serialize_field("format", self.format)?;
        st.serialize_field("cpus", &self.cpus)?;
        let nodes: Vec<u32> = self.nodes.iter().map(|n| n.get()).collect();
        st.serialize_field("nodes", &nodes)?;
        st.serialize_field("memory_bytes", &self.memory.as_u64())?;
        st.serialize_field("rma_size", &self.rma_size.map(|r| Hex(r.as_u64())))?;
        st.serialize_field("hypervisor_mode", &self.hypervisor_mode)?;
        st.end()
    }
}

impl Serialize for ConfigInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ConfigInfo", 10)?;
        st.serialize_field("strategy", self.strategy.name())?;
        st.serialize_field("mmu", self.mmu_name())?;
        st.serialize_field("hypervisor_mode", &self.hypervisor_mode)?;
        st.serialize_field("nr_cpu_ids_initial", &self.nr_cpu_ids_initial)?;
        st.serialize_field("nr_cpu_ids_final", &self.nr_cpu_ids_final)?;
        st.serialize_field("possible", &id_list(self.possible.iter().copied()))?;
        st.serialize_field("boot_cpu", &self.boot_cpu)?;
        st.serialize_field("paca_size", &self.paca_size.as_u64())?;
        st.serialize_field("thread_size", &self.thread_size)?;
        st.serialize_field(
            "real_mode_limit",
            &self.real_mode_limit.map(|l| Hex(l.as_u64())),
        )?;
        st.end()
    }
}

impl Serialize for CpuRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("CpuRow", 6)?;
        st.serialize_field("cpu", &self.cpu)?;
        st.serialize_field("hw_id", &self.hw_id)?;
        st.serialize_field("node", &nid(self.node))?;
        st.serialize_field("structures", &Structures(&self.structures))?;
        st.serialize_field("all_local", &self.all_local())?;
        st.serialize_field("lppaca_in_kernel_image", &self.lppaca_in_kernel_image)?;
        st.end()
    }
}

impl Serialize for NodeSummary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (l, h) = (&self.locality, &self.held);
        let mut st = s.serialize_struct("NodeSummary", 12)?;
        st.serialize_field("node", &nid(self.node))?;
        st.serialize_field("cpus", &id_list(self.cpus.iter().copied()))?;
        st.serialize_field("memory_bytes", &self.memory.as_u64())?;
        st.serialize_field("structures", &l.structures)?;
        st.serialize_field("local", &l.local)?;
        st.serialize_field("locality_percent", &self.locality_percent())?;
        st.serialize_field("fallbacks", &l.fallbacks)?;
        st.serialize_field("used", &h.used)?;
        st.serialize_field("wasted", &h.wasted())?;
        st.serialize_field("allocations", &h.allocations)?;
        st.serialize_field("reserved_regions", &h.reserved_regions)?;
        st.serialize_field("hosted_remote", &l.hosted_remote)?;
        st.end()
    }
}

impl Serialize for Totals {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.held;
        let mut st = s.serialize_struct("Totals", 12)?;
        st.serialize_field("cpus", &self.cpus)?;
        st.serialize_field("structures", &self.structures)?;
        st.serialize_field("local", &self.local)?;
        st.serialize_field("locality_percent", &self.locality_percent())?;
        st.serialize_field("fallbacks", &self.fallbacks)?;
        st.serialize_field("remote", &self.remote())?;
        st.serialize_field("used", &h.used)?;
        st.serialize_field("wasted", &h.wasted())?;
        st.serialize_field("allocations", &h.allocations)?;
        st.serialize_field("reserved_regions", &h.reserved_regions)?;
        st.serialize_field("bytes_per_cpu", &self.bytes_per_cpu())?;
        st.serialize_field(
            "real_mode_highest_end",
            &self.real_mode_highest_end.map(|a| Hex(a.as_u64())),
        )?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The document `write` puts together against serde_json's pretty printing of
    /// `PlanReport`'s `Serialize`: each Linux strategy on the default machine with a
    /// hash and a radix MMU, in hypervisor mode, with possible CPUs that are not
    /// present, and with a small RMA (fallbacks, and empty lists made by hand).
    #[test]
    fn write_matches_serde_json_pretty() {
        use super::super::machine::{config, load, plan, MachineArgs};
        use super::super::model::build;
        use percpu::Strategy;
        let base = MachineArgs::default();
        let m = load(&base).unwrap();
        let variants = [
            MachineArgs::default(),
            MachineArgs {
                radix: true,
                ..MachineArgs::default()
            },
            MachineArgs {
                hv_mode: true,
                ..MachineArgs::default()
            },
            MachineArgs {
                possible: Some(super::super::machine::parse_cpulist("0-7,40-71").unwrap()),
                ..MachineArgs::default()
            },
            MachineArgs {
                rma: Some(64 << 20),
                ..MachineArgs::default()
            },
        ];
        let (mut empty_rows, mut empty_shared) = (0, 0);
        for args in &variants {
            for s in Strategy::ALL {
                let cfg = config(&m, args, s).unwrap();
                let Ok((p, mb)) = plan(&m, &cfg, percpu::CallLog::Keep) else {
                    continue;
                };
                let mut r = build(&m, &cfg, &p, &mb);
                if args.rma.is_some() {
                    // Empty lists, which no plan here produces: a row without
                    // structures, no shared structures, no reserved regions.
                    if let Some(row) = r.cpus.last_mut() {
                        row.structures.clear();
                    }
                    r.shared.clear();
                    r.memblock_reserved.clear();
                }
                let mut ours = Vec::new();
                write(&mut ours, &r).unwrap();
                let mut theirs = serde_json::to_vec_pretty(&r).unwrap();
                theirs.push(b'\n');
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(theirs).unwrap(),
                    "{s:?}"
                );
                empty_rows += r.cpus.iter().filter(|c| c.structures.is_empty()).count();
                empty_shared += usize::from(r.shared.is_empty());
            }
        }
        assert!(empty_rows > 0 && empty_shared > 0);
    }

    /// `Pretty` against serde_json's own `PrettyFormatter`, on empty and nested
    /// containers and past the depth its one-write indentation covers.
    #[test]
    fn pretty_writes_what_serde_json_pretty_writes() {
        let mut deep = json!({"leaf": [1, {}, [], "x\n\"y\""]});
        for i in 0..40 {
            deep = if i % 2 == 0 {
                json!([deep, null, {"k": i}])
            } else {
                json!({"a": deep, "b": [], "c": {}})
            };
        }
        for v in [
            json!({}),
            json!([]),
            json!([[]]),
            json!({"a": {"b": [1, 2]}}),
            deep,
        ] {
            let theirs = serde_json::to_vec_pretty(&v).unwrap();
            let mut ours = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut ours, Pretty::default());
            v.serialize(&mut ser).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }
}
