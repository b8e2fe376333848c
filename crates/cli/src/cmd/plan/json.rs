//! The JSON document of `numaboot plan --format json` (schema version
//! [`SCHEMA_VERSION`], documented in the `plan` module and the README's "Planning"
//! section), written straight from the typed report: addresses become hex strings,
//! kinds and outcomes their names and node ids plain integers only here, as the
//! document streams out. A change that removes or renames a field, or changes its
//! meaning, bumps the version.

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

/// Writes `r` as the pretty-printed JSON document and a final newline, streaming.
pub fn write(out: &mut impl Write, r: &PlanReport) -> io::Result<()> {
    // serde_json keeps the writer's own error inside its error; hand it back as is so
    // that a closed pipe is still recognised as one.
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Pretty::default());
    r.serialize(&mut ser).map_err(io::Error::from)?;
    out.write_all(b"\n")
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
        const LINE: &[u8] = b",\n                                                                ";
        let skip = usize::from(!comma);
        match LINE.get(skip..2 + 2 * self.depth) {
            Some(bytes) => w.write_all(bytes),
            None => {
                w.write_all(&LINE[skip..2])?;
                for _ in 0..self.depth {
                    w.write_all(b"  ")?;
                }
                Ok(())
            }
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
struct Structures<'a>(&'a [Allocation]);

impl Serialize for Structures<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Structure))
    }
}

/// The findings, one sentence each.
pub struct Findings<'a>(pub &'a [percpu::Finding]);

impl Serialize for Findings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(finding_text))
    }
}

impl Serialize for PlanReport {
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

impl Serialize for CpuRow {
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
