//! The text table of `numaboot plan` (the default format), written line by line.

use std::fmt;
use std::io;

use percpu::{Allocation, StructureKind};
use phys::NodeId;
use topology::rma::Mmu;

use super::machine::{human, id_list};
use super::model::{finding_text, CpuRow, PlanReport};

/// What to write besides the report itself.
#[derive(Clone, Copy, Debug)]
pub struct TableOptions<'a> {
    /// The command named in the first line (`numaboot plan`, `numaboot verify`).
    pub command: &'a str,
    /// Leave the per-CPU rows out.
    pub summary: bool,
}

/// Writes the report as text to `out`.
pub fn write(out: &mut impl io::Write, r: &PlanReport, opts: TableOptions<'_>) -> io::Result<()> {
    let mut o = Trimmed::new(out);
    // A formatting error only ever comes from the writer, whose error `finish` returns.
    let _ = write_all(&mut o, r, opts);
    o.finish()
}

fn write_all(o: &mut impl fmt::Write, r: &PlanReport, opts: TableOptions<'_>) -> fmt::Result {
    header(o, r, opts.command)?;
    if !opts.summary {
        writeln!(o)?;
        per_cpu_rows(o, r)?;
    }
    shared(o, r)?;
    node_table(o, r)?;
    totals_and_findings(o, r)
}

/// Passes text through to an `io::Write` a line at a time with trailing whitespace cut
/// (empty trailing cells leave spaces), so the table is never held whole in memory.
struct Trimmed<'w, W: io::Write> {
    out: &'w mut W,
    line: String,
    error: Option<io::Error>,
}

impl<'w, W: io::Write> Trimmed<'w, W> {
    fn new(out: &'w mut W) -> Self {
        Self {
            out,
            line: String::new(),
            error: None,
        }
    }

    fn emit_line(&mut self) -> fmt::Result {
        self.line.push('\n');
        let r = write_line(self.out, &self.line);
        self.line.clear();
        r.map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }

    /// Ends an unterminated last line as `str::lines` would, and reports the first
    /// write error.
    fn finish(mut self) -> io::Result<()> {
        if self.error.is_none() && !self.line.is_empty() {
            let _ = self.emit_line();
        }
        self.error.map_or(Ok(()), Err)
    }
}

impl<W: io::Write> fmt::Write for Trimmed<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.error.is_some() {
            return Err(fmt::Error);
        }
        let mut rest = s;
        while let Some(i) = rest.find('\n') {
            let (line, after) = rest.split_at(i + 1);
            if self.line.is_empty() {
                // A whole line in one piece goes straight out, without the copy.
                write_line(self.out, line).map_err(|e| {
                    self.error = Some(e);
                    fmt::Error
                })?;
            } else {
                self.line.push_str(line.strip_suffix('\n').unwrap_or(line));
                self.emit_line()?;
            }
            rest = after;
        }
        self.line.push_str(rest);
        Ok(())
    }
}

/// Writes `line` (which ends in its newline) without the whitespace before the
/// newline: in one write when there is none to cut, as in the per-CPU rows.
fn write_line(out: &mut impl io::Write, line: &str) -> io::Result<()> {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let kept = body.trim_end();
    if kept.len() == body.len() {
        return out.write_all(line.as_bytes());
    }
    out.write_all(kept.as_bytes())?;
    out.write_all(b"\n")
}

fn node(n: Option<NodeId>) -> String {
    n.map_or_else(|| "-".into(), |n| n.to_string())
}

/// The per-CPU rows (most of an 8192-CPU table: eight addresses per row) are built as
/// ASCII bytes: `core::fmt`'s padding machinery, then `String::push`'s per-character
/// checks, were most of their cost.
///
/// `x` as `{:#x}` prints it. The digits are built in a fixed-size buffer that is
/// appended whole and cut back: a copy of known length is a few moves, where one of
/// the digits' length is a call to `memcpy`.
fn push_hex(o: &mut Vec<u8>, x: u64) {
    let n = hex_digits(x);
    let mut buf = *b"0x0000000000000000";
    if let Some(d) = buf.get_mut(2..) {
        // The digits moved to the top of the word come first in its sixteen.
        d.copy_from_slice(&hex16(x << (4 * (16 - n))));
    }
    let at = o.len();
    o.extend_from_slice(&buf);
    o.truncate(at + 2 + n);
}

/// The sixteen lowercase hex digits of `x`, most significant first, computed eight
/// at a time in a word (each nibble spread to a byte, then turned into its digit).
pub(super) fn hex16(x: u64) -> [u8; 16] {
    let half = |v: u64| {
        let v = (v | (v << 16)) & 0x0000_ffff_0000_ffff;
        let v = (v | (v << 8)) & 0x00ff_00ff_00ff_00ff;
        let v = (v | (v << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        // 0x01 in each byte whose nibble is 10 or more: those become letters.
        let letters = ((v + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
        (v + 0x3030_3030_3030_3030 + letters * (b'a' - b'0' - 10) as u64).to_be_bytes()
    };
    let mut out = [0u8; 16];
    let (hi, lo) = out.split_at_mut(8);
    hi.copy_from_slice(&half(x >> 32));
    lo.copy_from_slice(&half(x & 0xffff_ffff));
    out
}

/// How many digits `{:x}` prints for `x`.
pub(super) fn hex_digits(x: u64) -> usize {
    (x.max(1).ilog2() / 4 + 1) as usize
}

/// How many digits `{}` prints for `x`.
fn dec_digits(x: u64) -> usize {
    x.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// `x` as `{}` prints it, `n` being [`dec_digits`] of it (built as in [`push_hex`]).
fn push_dec_n(o: &mut Vec<u8>, x: u64, n: usize) {
    let mut buf = [b'0'; 20];
    let mut v = x;
    for slot in buf.iter_mut().take(n).rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let at = o.len();
    o.extend_from_slice(&buf);
    o.truncate(at + n);
}

/// `x` as `{}` prints it.
fn push_dec(o: &mut Vec<u8>, x: u64) {
    push_dec_n(o, x, dec_digits(x));
}

/// `x` as `{:>width$}` prints it.
fn push_dec_right(o: &mut Vec<u8>, width: usize, x: u64) {
    let n = dec_digits(x);
    pad(o, width.saturating_sub(n));
    push_dec_n(o, x, n);
}

/// A node as the table names it, right-aligned in `width` columns: its number, or
/// `-`.
fn push_node_right(o: &mut Vec<u8>, width: usize, n: Option<NodeId>) {
    match n {
        Some(n) => push_dec_right(o, width, u64::from(n.get())),
        None => {
            pad(o, width.saturating_sub(1));
            o.push(b'-');
        }
    }
}

/// A node as the table names it: its number, or `-`.
fn push_node(o: &mut Vec<u8>, n: Option<NodeId>) {
    push_node_right(o, 0, n);
}

/// `n` spaces.
fn pad(o: &mut Vec<u8>, n: usize) {
    o.resize(o.len() + n, b' ');
}

/// `text` left-aligned in `width` columns (`{:<width$}`).
fn push_left(o: &mut Vec<u8>, width: usize, text: impl FnOnce(&mut Vec<u8>)) {
    let at = o.len();
    text(o);
    let end = at + width;
    if o.len() < end {
        o.resize(end, b' ');
    }
}

/// A structure's cell: its address and the node of its memory, `!` when that is not
/// its CPU's node. `found` is the row's structure of `kind` ([`shown_structures`]).
fn cell_of(o: &mut Vec<u8>, row: &CpuRow, kind: StructureKind, found: Option<&Allocation>) {
    match found {
        Some(s) => {
            push_hex(o, s.addr.as_u64());
            o.extend_from_slice(b" n");
            push_node(o, s.memory_node);
            // A possible CPU that is not present has no node, so nothing is remote for it.
            if !(s.is_local() || s.home_node.is_none()) {
                o.push(b'!');
            }
        }
        // Linux 4.15's CPU 0 uses the static lppaca[0] of the kernel image.
        None if kind == StructureKind::Lppaca && row.lppaca_in_kernel_image => {
            o.extend_from_slice(b"static lppaca[0] (kernel image)");
        }
        None => o.push(b'-'),
    }
}

/// The length of [`cell_of`]'s text, counted without writing the usual cell (an address
/// and a node): sizing the columns of 8192 rows is then a fraction of writing them.
/// `scratch` holds the text of the other cells.
fn cell_len_of(
    row: &CpuRow,
    kind: StructureKind,
    found: Option<&Allocation>,
    scratch: &mut Vec<u8>,
) -> usize {
    match found {
        Some(s) => {
            let node = s.memory_node.map_or(1, |n| dec_digits(u64::from(n.get())));
            let remote = !(s.is_local() || s.home_node.is_none());
            2 + hex_digits(s.addr.as_u64()) + 2 + node + usize::from(remote)
        }
        None => {
            scratch.clear();
            cell_of(scratch, row, kind, None);
            scratch.len()
        }
    }
}

/// One per-CPU row, cells padded to `widths` (trailing spaces are left to `Trimmed`).
fn cpu_row(o: &mut Vec<u8>, row: &CpuRow, shown: &[StructureKind], widths: &[usize]) {
    push_dec_right(o, 5, u64::from(row.cpu));
    o.push(b' ');
    match row.hw_id {
        Some(h) => {
            pad(o, 6usize.saturating_sub(2 + hex_digits(u64::from(h))));
            push_hex(o, u64::from(h));
        }
        None => o.extend_from_slice(b"     -"),
    }
    o.push(b' ');
    push_node_right(o, 4, row.node);
    for ((&kind, found), &w) in shown.iter().zip(shown_structures(row, shown)).zip(widths) {
        o.extend_from_slice(b"  ");
        push_left(o, w, |o| cell_of(o, row, kind, found));
    }
    o.extend_from_slice(b"  ");
    push_status(o, row);
    o.push(b'\n');
}

/// The row's structure of each kind of `shown`, in its order: one walk down the row
/// (both lists ascend by kind) instead of a search per cell, each structure read once.
fn shown_structures<'a, 'r: 'a>(
    row: &'a CpuRow<'r>,
    shown: &'a [StructureKind],
) -> impl Iterator<Item = Option<&'r Allocation>> + 'a {
    let mut structures = row.structures.iter().copied().peekable();
    shown.iter().map(move |&kind| {
        while structures.next_if(|a| a.kind < kind).is_some() {}
        structures.next_if(|a| a.kind == kind)
    })
}

/// The real-mode limit for people: the address and its size, or `none` with the reason
/// (a hash guest is the only 6.x machine with a real-mode area to stay below).
fn limit_text(r: &PlanReport) -> String {
    let c = &r.config;
    match c.real_mode_limit {
        Some(l) => format!("{:#x} ({})", l.as_u64(), human(l.as_u64())),
        None if c.hypervisor_mode => "none (hypervisor mode: no RMA)".into(),
        None if c.mmu == Mmu::Radix => "none (radix)".into(),
        None => "none".into(),
    }
}

/// How many CPUs are possible, and how that relates to the present ones: `64 of 64
/// CPUs possible (0-63)` when every possible CPU is present; else how many of them are
/// (`--possible` or `ibm,lrdr-capacity` may name CPUs the machine does not have).
fn possible_text(r: &PlanReport) -> String {
    let possible = r.totals.cpus;
    let present = r.machine.cpus;
    let both = r.cpus.iter().filter(|row| row.hw_id.is_some()).count() as u32;
    let list = id_list(r.config.possible.iter().copied());
    if both == possible {
        format!("{possible} of {present} CPUs possible ({list})")
    } else {
        format!(
            "{possible} CPUs possible ({list}): {both} of the {present} present and {} not present",
            possible - both
        )
    }
}

/// The machine, the kernel configuration and the limits.
fn header(o: &mut impl fmt::Write, r: &PlanReport, command: &str) -> fmt::Result {
    let c = &r.config;
    writeln!(o, "{command}: {}", r.machine.source)?;
    let mode = if c.hypervisor_mode {
        "hypervisor mode"
    } else {
        "LPAR"
    };
    writeln!(
        o,
        "strategy {}, {} MMU, {mode}; {}, boot CPU {}, nr_cpu_ids {} -> {}",
        c.strategy.name(),
        c.mmu_name(),
        possible_text(r),
        c.boot_cpu,
        c.nr_cpu_ids_initial,
        c.nr_cpu_ids_final
    )?;
    writeln!(
        o,
        "real-mode limit {}; paca {} B, stacks {} B each",
        limit_text(r),
        c.paca_size.as_u64(),
        c.thread_size
    )
}

/// How many bytes of per-CPU rows are handed to the writer at once.
const ROW_BLOCK: usize = 32 * 1024;

/// One row per possible CPU and the legend under them. Columns are the per-CPU kinds
/// some CPU has, in [`StructureKind`] order, each as wide as its widest cell.
fn per_cpu_rows(o: &mut impl fmt::Write, r: &PlanReport) -> fmt::Result {
    // A few kinds over thousands of rows: a short list checked in place, sorted once
    // (the order a set of them would have).
    let mut shown: Vec<StructureKind> = Vec::new();
    for kind in r
        .cpus
        .iter()
        .flat_map(|row| row.structures.iter().map(|s| s.kind))
    {
        if !shown.contains(&kind) {
            shown.push(kind);
        }
    }
    shown.sort_unstable();
    // One pass to size the columns, one to write them: no row is kept as text.
    let mut buf = Vec::new();
    let mut widths: Vec<usize> = shown.iter().map(|k| k.column().len()).collect();
    for row in &r.cpus {
        let cells = shown.iter().zip(shown_structures(row, &shown));
        for (w, (&kind, found)) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell_len_of(row, kind, found, &mut buf));
        }
    }
    write!(o, "{:>5} {:>6} {:>4}", "cpu", "hw", "node")?;
    for (kind, &w) in shown.iter().zip(&widths) {
        write!(o, "  {:<w$}", kind.column())?;
    }
    writeln!(o, "  placement")?;
    // Rows go out a block at a time: one check that the bytes are text and one write
    // per block, not per row.
    buf.clear();
    for row in &r.cpus {
        cpu_row(&mut buf, row, &shown, &widths);
        if buf.len() >= ROW_BLOCK {
            o.write_str(core::str::from_utf8(&buf).map_err(|_| fmt::Error)?)?;
            buf.clear();
        }
    }
    o.write_str(core::str::from_utf8(&buf).map_err(|_| fmt::Error)?)?;
    writeln!(
        o,
        "(address nN: the structure is in node N's memory; ! marks one not on its CPU's node)"
    )
}

/// The placement column, appended to `o`: how many of a CPU's structures are local,
/// and fallbacks (without `format!`: it runs once per CPU row).
fn push_status(o: &mut Vec<u8>, row: &CpuRow) {
    let n = row.structures.len();
    let local = row.structures.iter().filter(|s| s.is_local()).count();
    let fb = row
        .structures
        .iter()
        .filter(|s| s.outcome.is_fallback())
        .count();
    if row.hw_id.is_none() {
        o.extend_from_slice(b"not present: no node");
    } else if local == n {
        o.extend_from_slice(b"local");
    } else {
        push_dec(o, local as u64);
        o.push(b'/');
        push_dec(o, n as u64);
        o.extend_from_slice(b" local");
        if fb > 0 {
            o.extend_from_slice(b", ");
            push_dec(o, fb as u64);
            o.extend_from_slice(b" fallback");
        }
    }
}

/// The shared structures, radix page tables summarised in one line.
fn shared(o: &mut impl fmt::Write, r: &PlanReport) -> fmt::Result {
    if r.shared.is_empty() {
        return Ok(());
    }
    writeln!(o)?;
    writeln!(o, "shared structures")?;
    let is_table = |s: &&Allocation| s.kind == StructureKind::PageTable;
    for s in r.shared.iter().filter(|s| !is_table(s)) {
        writeln!(
            o,
            "  {:<16} {:>#14x}  {:>10} reserved  node {}",
            s.kind.key(),
            s.addr.as_u64(),
            human(s.reserved.as_u64()),
            node(s.memory_node)
        )?;
    }
    let (mut pages, mut bytes, mut local) = (0usize, 0u64, 0usize);
    for s in r.shared.iter().filter(is_table) {
        pages += 1;
        bytes += s.reserved.as_u64();
        local += usize::from(s.is_local());
    }
    if pages > 0 {
        writeln!(
            o,
            "  {:<16} {:>14}  {:>10} reserved  {local} of {pages} on the node they map",
            StructureKind::PageTable.key(),
            format!("{pages} pages"),
            human(bytes),
        )?;
    }
    Ok(())
}

/// The per-node table and its machine-wide row.
fn node_table(o: &mut impl fmt::Write, r: &PlanReport) -> fmt::Result {
    writeln!(o)?;
    writeln!(
        o,
        "{:>4}  {:<8} {:>9}  {:>10} {:>6} {:>8} {:>9}  {:>10} {:>10} {:>6} {:>7} {:>6}",
        "node",
        "cpus",
        "memory",
        "structures",
        "local",
        "locality",
        "fallbacks",
        "used",
        "wasted",
        "allocs",
        "regions",
        "hosted"
    )?;
    for n in &r.nodes {
        let (l, h) = (&n.locality, &n.held);
        // A node whose CPUs own no structure has no locality to speak of.
        let locality = if l.structures == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", n.locality_percent())
        };
        writeln!(
            o,
            "{:>4}  {:<8} {:>9}  {:>10} {:>6} {:>8} {:>9}  {:>10} {:>10} {:>6} {:>7} {:>6}",
            n.node.map_or_else(|| "none".into(), |n| n.to_string()),
            id_list(n.cpus.iter().copied()),
            human(n.memory.as_u64()),
            l.structures,
            l.local,
            locality,
            l.fallbacks,
            human(h.used),
            human(h.wasted()),
            h.allocations,
            h.reserved_regions,
            l.hosted_remote
        )?;
    }
    let t = &r.totals;
    writeln!(
        o,
        "{:>4}  {:<8} {:>9}  {:>10} {:>6} {:>7.1}% {:>9}  {:>10} {:>10} {:>6} {:>7} {:>6}",
        "all",
        format!("{} CPUs", t.cpus),
        human(r.machine.memory.as_u64()),
        t.structures,
        t.local,
        t.locality_percent(),
        t.fallbacks,
        human(t.held.used),
        human(t.held.wasted()),
        t.held.allocations,
        t.held.reserved_regions,
        "",
    )?;
    writeln!(
        o,
        "(structures/local/fallbacks: of the node's CPUs; used/wasted/allocs/regions/hosted: in \
         the node's memory, hosted = other nodes' structures)"
    )
}

/// The totals line, how the real-mode structures compare with the limit, and the
/// findings.
fn totals_and_findings(o: &mut impl fmt::Write, r: &PlanReport) -> fmt::Result {
    let t = &r.totals;
    writeln!(o)?;
    writeln!(
        o,
        "totals: {} used ({} per CPU), {} wasted, {} reserved regions, {} fallbacks, {:.1}% node-local",
        human(t.held.used),
        human(t.bytes_per_cpu()),
        human(t.held.wasted()),
        t.held.reserved_regions,
        t.fallbacks,
        t.locality_percent()
    )?;
    // Only a limit that exists is compared with.
    match (t.real_mode_highest_end, r.config.real_mode_limit) {
        (Some(end), Some(_)) => writeln!(
            o,
            "real-mode structures end at {:#x}, limit {}",
            end.as_u64(),
            limit_text(r)
        )?,
        (Some(end), None) => writeln!(
            o,
            "real-mode structures end at {:#x}; real-mode limit {}",
            end.as_u64(),
            limit_text(r)
        )?,
        (None, _) => {}
    }
    for f in &r.findings {
        writeln!(o, "finding: {}", finding_text(f))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fmt::Write as _;

    use super::super::machine::{config, load, plan, MachineArgs};
    use super::super::model::build;
    use super::*;
    use percpu::Strategy;
    use phys::PhysAddr;

    /// A row as `core::fmt` writes it: what the table printed before `cpu_row`.
    fn reference_row(row: &CpuRow, shown: &[StructureKind], widths: &[usize]) -> String {
        let mut o = String::new();
        let hw = row.hw_id.map_or_else(|| "-".into(), |h| format!("{h:#x}"));
        write!(o, "{:>5} {:>6} {:>4}", row.cpu, hw, node(row.node)).unwrap();
        for (&kind, &w) in shown.iter().zip(widths) {
            let text = match row.structure(kind) {
                Some(s) => {
                    let mark = if s.is_local() || s.home_node.is_none() {
                        ""
                    } else {
                        "!"
                    };
                    format!("{:#x} n{}{mark}", s.addr.as_u64(), node(s.memory_node))
                }
                None if kind == StructureKind::Lppaca && row.lppaca_in_kernel_image => {
                    "static lppaca[0] (kernel image)".to_string()
                }
                None => "-".to_string(),
            };
            write!(o, "  {text:<w$}").unwrap();
        }
        writeln!(o, "  {}", reference_status(row)).unwrap();
        o
    }

    /// The placement column as `format!` wrote it before `push_status`.
    fn reference_status(row: &CpuRow) -> String {
        let n = row.structures.len();
        let local = row.structures.iter().filter(|s| s.is_local()).count();
        let fb = row
            .structures
            .iter()
            .filter(|s| s.outcome.is_fallback())
            .count();
        if row.hw_id.is_none() {
            "not present: no node".to_string()
        } else if local == n {
            "local".to_string()
        } else if fb > 0 {
            format!("{local}/{n} local, {fb} fallback")
        } else {
            format!("{local}/{n} local")
        }
    }

    #[test]
    fn rows_are_written_as_core_fmt_writes_them() {
        let args = MachineArgs::default();
        let m = load(&args).unwrap();
        let plans: Vec<_> = Strategy::ALL
            .into_iter()
            .map(|s| {
                let cfg = config(&m, &args, s).unwrap();
                let (p, mb) = plan(&m, &cfg, percpu::CallLog::Keep).unwrap();
                (cfg, p, mb)
            })
            .collect();
        let mut rows = Vec::new();
        for (cfg, p, mb) in &plans {
            rows.extend(build(&m, cfg, p, mb).cpus);
        }
        // Edges the default machine does not have: extreme numbers, no node, no
        // hardware id, a remote structure, numbers wider than their columns.
        let template = rows[0].clone();
        let edits = [0u64, 1, 9, 10, 0xf, 0x10, 0xffff_ffff, 1 << 32, u64::MAX];
        let edited: Vec<Vec<Allocation>> = edits
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let mut list: Vec<Allocation> = template.structures.iter().map(|&&a| a).collect();
                for a in &mut list {
                    a.addr = PhysAddr::new(x);
                    a.memory_node = [NodeId::new(7), None, NodeId::new(100)][i % 3];
                    a.home_node = [None, NodeId::new(1)][i % 2];
                }
                if i % 4 == 0 {
                    list.pop();
                }
                // No lppaca (a hypervisor-mode CPU), with or without the kernel
                // image's static one.
                if i % 4 == 1 {
                    list.retain(|a| a.kind != StructureKind::Lppaca);
                }
                list
            })
            .collect();
        for (i, list) in edited.iter().enumerate() {
            let mut r = template.clone();
            r.cpu = [0, 9, 10, 99_999, 100_000, u32::MAX][i % 6];
            r.hw_id = [None, Some(0), Some(0xfff), Some(0x1000), Some(u32::MAX)][i % 5];
            r.node = [None, NodeId::new(0), NodeId::new(255)][i % 3];
            r.structures = list.iter().collect();
            // The static lppaca belongs to the lppaca cell alone, and only when the row
            // says so.
            r.lppaca_in_kernel_image = i % 8 < 2;
            rows.push(r);
        }
        let shown: Vec<StructureKind> = rows
            .iter()
            .flat_map(|row| row.structures.iter().map(|s| s.kind))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut scratch = Vec::new();
        for row in &rows {
            for (&kind, found) in shown.iter().zip(shown_structures(row, &shown)) {
                assert_eq!(found, row.structure(kind));
                let mut text = Vec::new();
                cell_of(&mut text, row, kind, found);
                let len = cell_len_of(row, kind, found, &mut scratch);
                assert_eq!(len, text.len(), "{}", String::from_utf8_lossy(&text));
            }
        }
        for widths in [vec![0; shown.len()], vec![24; shown.len()]] {
            for row in &rows {
                let mut fast = Vec::new();
                cpu_row(&mut fast, row, &shown, &widths);
                assert_eq!(
                    String::from_utf8(fast),
                    Ok(reference_row(row, &shown, &widths))
                );
            }
        }
        assert!(rows.iter().any(|r| r.lppaca_in_kernel_image));
        assert!(rows.iter().any(|r| !r.all_local()));
    }

    #[test]
    fn hex_digits_are_what_core_fmt_prints() {
        let mut xs = vec![
            0,
            1,
            9,
            10,
            15,
            16,
            0xa5,
            u64::MAX,
            1 << 63,
            0x0123_4567_89ab_cdef,
        ];
        xs.extend((0..64).map(|b| 1u64 << b));
        xs.extend((0..64).map(|b| (1u64 << b) - 1));
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            xs.push(x >> (x % 64));
        }
        for x in xs {
            assert_eq!(
                String::from_utf8(hex16(x).to_vec()),
                Ok(format!("{x:016x}"))
            );
            let mut o = b"abc".to_vec();
            push_hex(&mut o, x);
            assert_eq!(String::from_utf8(o), Ok(format!("abc{x:#x}")));
            let mut o = Vec::new();
            push_dec(&mut o, x);
            assert_eq!(String::from_utf8(o), Ok(format!("{x}")));
        }
    }

    fn trimmed(pieces: &[&str]) -> String {
        let mut out = Vec::new();
        let mut t = Trimmed::new(&mut out);
        for p in pieces {
            t.write_str(p).unwrap();
        }
        t.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_lose_trailing_whitespace_as_str_lines_would() {
        // Whatever the pieces, the result is what trimming every line of the whole text
        // gives, which is what the table did when it was built as one string.
        let text = "a  \nb\t \r\n\n  c   \nd";
        let expected: String = text
            .lines()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect();
        assert_eq!(trimmed(&[text]), expected);
        let pieces: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(trimmed(&refs), expected);
        assert_eq!(trimmed(&["x \n"]), "x\n");
        assert_eq!(trimmed(&[]), "");
    }

    #[test]
    fn write_errors_reach_the_caller() {
        struct Closed;
        impl io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Closed;
        let mut t = Trimmed::new(&mut w);
        assert!(t.write_str("line\nmore").is_err());
        assert_eq!(t.finish().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
