//! The SVG memory map of `numaboot plan --format svg`.
//!
//! One band per node. The upper bar of a band is the machine's whole physical address
//! space at one linear scale, the node's memory drawn on it and the real-mode limit as
//! a dashed red line through every band; marks show where structures sit. The lower
//! strip zooms into the address ranges that actually hold structures (up to four
//! clusters, each at its own scale) and shows them as a heat strip: each 2-pixel bin is
//! coloured by the kind holding most of its bytes, and its opacity is how full the bin
//! is. Red ticks under the strip mark bins holding another node's CPUs' structures.
//!
//! Everything is aggregated into fixed-width bins, so the element count depends on the
//! image width and the number of nodes, never on the number of CPUs: 8 or 8192 CPUs
//! give pictures of the same size. Above 16 nodes the bands shrink to one bar each.

use std::collections::BTreeMap;
use std::io::{self, Write};

use percpu::{Allocation, Family, Placement};
use phys::NodeId;

use super::machine::{human, Machine};
use super::model::PlanReport;

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 30.0;
const PLOT: f64 = WIDTH - LEFT - RIGHT;
const BIN: f64 = 2.0;
const MAX_CLUSTERS: usize = 4;
const CLUSTER_GAP: f64 = 14.0;
/// Nodes above which bands are compact (one bar, no zoom).
const DETAILED_NODES: usize = 16;
/// Width kept for the statistics of a compact band.
const COMPACT_STATS: f64 = 150.0;

/// The colour of a family of structures, in the heat strips and the legend.
const fn colour(f: Family) -> &'static str {
    match f {
        Family::Paca => "#1f77b4",
        Family::Lppaca => "#9467bd",
        Family::SlbShadow => "#17becf",
        Family::Stack => "#ff7f0e",
        Family::Shared => "#7f7f7f",
    }
}

/// How many families a heat bin counts bytes of.
const FAMILIES: usize = Family::ALL.len();

/// The colour of the family holding most of a bin's bytes (the last of equals).
fn dominant(bytes: &[u64; FAMILIES]) -> &'static str {
    let i = (0..FAMILIES).max_by_key(|&c| bytes[c]).unwrap_or(0);
    colour(Family::ALL[i])
}

const REMOTE: &str = "#d62728";

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// The document being written.
struct Svg<'w, W: Write> {
    o: &'w mut W,
}

impl<W: Write> Svg<'_, W> {
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, extra: &str) -> io::Result<()> {
        writeln!(
            self.o,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"{extra}/>"#
        )
    }

    fn text(&mut self, x: f64, y: f64, size: u32, extra: &str, s: &str) -> io::Result<()> {
        writeln!(
            self.o,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}"{extra}>{}</text>"#,
            esc(s)
        )
    }

    fn line(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &str,
        extra: &str,
    ) -> io::Result<()> {
        writeln!(
            self.o,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}"{extra}/>"#
        )
    }
}

/// Bytes per family in each bin of `[lo, hi)` split into `bins`, and whether a bin holds
/// a structure that is not on its CPU's node.
struct Heat {
    bytes: Vec<[u64; FAMILIES]>,
    remote: Vec<bool>,
    lo: u64,
    hi: u64,
}

impl Heat {
    fn new(lo: u64, hi: u64, bins: usize) -> Self {
        Self {
            bytes: vec![[0; FAMILIES]; bins.max(1)],
            remote: vec![false; bins.max(1)],
            lo,
            hi: hi.max(lo + 1),
        }
    }

    fn add(&mut self, a: &Allocation) {
        let start = a.addr.as_u64().max(self.lo);
        let end = a
            .addr
            .as_u64()
            .saturating_add(a.reserved.as_u64().max(1))
            .min(self.hi);
        if end <= start {
            return;
        }
        let n = self.bytes.len() as u128;
        let span = u128::from(self.hi - self.lo);
        let bin_of = |x: u64| (((u128::from(x - self.lo)) * n / span) as usize).min(n as usize - 1);
        let (b0, b1) = (bin_of(start), bin_of(end - 1));
        let remote = a.kind.is_per_cpu() && !a.is_local();
        for b in b0..=b1 {
            let blo = self.lo + (span * b as u128 / n) as u64;
            let bhi = self.lo + (span * (b as u128 + 1) / n) as u64;
            let part = end.min(bhi).saturating_sub(start.max(blo));
            self.bytes[b][a.kind.family().index()] += part.max(1);
            self.remote[b] |= remote;
        }
    }

    fn bin_size(&self) -> f64 {
        (self.hi - self.lo) as f64 / self.bytes.len() as f64
    }
}

/// Address ranges that hold structures, merged into at most [`MAX_CLUSTERS`].
fn clusters(blocks: &[&Allocation]) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = blocks
        .iter()
        .map(|a| {
            let s = a.addr.as_u64();
            (s, s.saturating_add(a.reserved.as_u64().max(1)))
        })
        .collect();
    spans.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            // Join ranges less than 16 MiB apart.
            Some(last) if s <= last.1.saturating_add(16 << 20) => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    while out.len() > MAX_CLUSTERS {
        // Merge the pair with the smallest gap.
        let i = (0..out.len() - 1)
            .min_by_key(|&i| out[i + 1].0 - out[i].1)
            .unwrap_or(0);
        let next = out.remove(i + 1);
        out[i].1 = next.1;
    }
    // Round outwards to 64 KiB so labels are readable.
    out.iter()
        .map(|&(s, e)| (s & !0xffff, e.saturating_add(0xffff) & !0xffff))
        .collect()
}

fn heat_strip<W: Write>(
    svg: &mut Svg<'_, W>,
    heat: &Heat,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
) -> io::Result<()> {
    svg.rect(
        x,
        y,
        w,
        h,
        "#f4f4f4",
        r##" stroke="#bbbbbb" stroke-width="0.5""##,
    )?;
    let bins = heat.bytes.len();
    let bw = w / bins as f64;
    let bin_size = heat.bin_size();
    for (b, bytes) in heat.bytes.iter().enumerate() {
        let total: u64 = bytes.iter().sum();
        if total == 0 {
            continue;
        }
        let fill = (total as f64 / bin_size).min(1.0);
        let opacity = 0.35 + 0.65 * fill;
        svg.rect(
            x + b as f64 * bw,
            y,
            bw.max(1.0),
            h,
            dominant(bytes),
            &format!(r#" fill-opacity="{opacity:.2}""#),
        )?;
        if heat.remote[b] {
            svg.rect(x + b as f64 * bw, y + h + 1.0, bw.max(1.0), 4.0, REMOTE, "")?;
        }
    }
    Ok(())
}

/// "; its CPUs' 128 structures are on node 0 (why)", for a node holding none.
fn went_to(p: &Placement, nid: Option<NodeId>) -> String {
    let mine: Vec<&Allocation> = p
        .live()
        .filter(|a| a.kind.is_per_cpu() && a.home_node == nid && nid.is_some())
        .collect();
    if mine.is_empty() {
        return String::new();
    }
    let mut where_: Vec<u32> = mine
        .iter()
        .filter_map(|a| a.memory_node.map(NodeId::get))
        .collect();
    where_.sort_unstable();
    where_.dedup();
    let nodes: Vec<String> = where_.iter().take(4).map(u32::to_string).collect();
    let more = if where_.len() > 4 { ", ..." } else { "" };
    let why = mine
        .iter()
        .find_map(|a| match a.outcome {
            percpu::Outcome::Fallback(r) => Some(format!(" (fallback: {r})")),
            _ => None,
        })
        .unwrap_or_default();
    format!(
        "; its CPUs' {} structures are on node {}{more}{why}",
        mine.len(),
        nodes.join(", ")
    )
}

/// What is drawn and where everything goes: the nodes in band order, how tall a band
/// is, the address span of the machine and the real-mode limit.
struct Layout<'a> {
    m: &'a Machine,
    p: &'a Placement,
    r: &'a PlanReport<'a>,
    node_ids: Vec<Option<NodeId>>,
    /// At most [`DETAILED_NODES`] nodes: a labelled band with a zoom strip each.
    detailed: bool,
    band: f64,
    top: f64,
    height: f64,
    max_end: u64,
    /// The paca limit (`u64::MAX`: none).
    limit: u64,
}

impl<'a> Layout<'a> {
    fn new(m: &'a Machine, p: &'a Placement, r: &'a PlanReport) -> Self {
        let topo = &m.topo;
        let mut node_ids: Vec<Option<NodeId>> = topo.nodes.iter().map(|n| Some(n.id)).collect();
        if topo.memory.iter().any(|r| r.node.is_none()) {
            node_ids.push(None);
        }
        let detailed = node_ids.len() <= DETAILED_NODES;
        let band = if detailed { 92.0 } else { 13.0 };
        let top = 96.0;
        let height = top + band * node_ids.len() as f64 + 40.0;
        let max_end = topo
            .memory
            .iter()
            .map(|r| r.base.as_u64().saturating_add(r.size.as_u64()))
            .max()
            .unwrap_or(1)
            .max(1);
        Self {
            m,
            p,
            r,
            node_ids,
            detailed,
            band,
            top,
            height,
            max_end,
            limit: p.paca_limit.raw(),
        }
    }
}

/// Writes the memory map to `out`, streaming.
pub fn write(out: &mut impl Write, m: &Machine, p: &Placement, r: &PlanReport) -> io::Result<()> {
    let l = Layout::new(m, p, r);
    let mut svg = Svg { o: out };
    title(&mut svg, &l)?;
    legend(&mut svg)?;
    axis(&mut svg, &l)?;
    // Each node's blocks, found once rather than by a scan of every block per node.
    let mut by_node: BTreeMap<Option<NodeId>, Vec<&Allocation>> = BTreeMap::new();
    for a in p.live_blocks() {
        by_node.entry(a.memory_node).or_default().push(a);
    }
    for (i, &nid) in l.node_ids.iter().enumerate() {
        let mine = by_node.get(&nid).map_or(&[][..], Vec::as_slice);
        band(&mut svg, &l, i, nid, mine)?;
    }
    footer(&mut svg, &l)?;
    svg.o.write_all(b"</svg>\n")
}

/// The document element, the title and the one-line summary.
fn title<W: Write>(svg: &mut Svg<'_, W>, l: &Layout<'_>) -> io::Result<()> {
    let r = l.r;
    let (width, height) = (WIDTH, l.height);
    writeln!(
        svg.o,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0}" viewBox="0 0 {width} {height:.0}" font-family="DejaVu Sans, Verdana, sans-serif">"#
    )?;
    writeln!(
        svg.o,
        "<title>numaboot plan: {}</title>",
        esc(&r.machine.source)
    )?;
    svg.rect(0.0, 0.0, WIDTH, l.height, "#ffffff", "")?;
    svg.text(
        12.0,
        22.0,
        15,
        r#" font-weight="bold""#,
        &format!("numaboot plan: {}", r.machine.source),
    )?;
    let t = &r.totals;
    svg.text(
        12.0,
        42.0,
        12,
        "",
        &format!(
            "{} {} MMU{}, {} CPUs on {} nodes: {:.1}% of per-CPU structures node-local, {} fallbacks, {} used, {} wasted, {} reserved regions",
            r.config.strategy.name(),
            r.config.mmu_name(),
            if r.config.hypervisor_mode { ", hypervisor mode" } else { "" },
            t.cpus,
            r.machine.nodes.len(),
            t.locality_percent(),
            t.fallbacks,
            human(t.held.used),
            human(t.held.wasted()),
            t.held.reserved_regions
        ),
    )
}

/// The families' colours, the remote mark and the real-mode line.
fn legend<W: Write>(svg: &mut Svg<'_, W>) -> io::Result<()> {
    let mut lx = 12.0;
    for f in Family::ALL {
        let name = f.label();
        svg.rect(lx, 54.0, 12.0, 12.0, colour(f), "")?;
        svg.text(lx + 16.0, 64.0, 11, "", name)?;
        lx += 30.0 + 6.5 * name.len() as f64;
    }
    svg.rect(lx, 60.0, 12.0, 4.0, REMOTE, "")?;
    svg.text(
        lx + 16.0,
        64.0,
        11,
        "",
        "holds other nodes' CPUs' structures",
    )?;
    lx += 250.0;
    svg.line(
        lx,
        54.0,
        lx,
        68.0,
        REMOTE,
        r#" stroke-width="2" stroke-dasharray="4 2""#,
    )?;
    svg.text(lx + 6.0, 64.0, 11, "", "real-mode limit")
}

/// The address axis over the bands.
fn axis<W: Write>(svg: &mut Svg<'_, W>, l: &Layout<'_>) -> io::Result<()> {
    let max_end = l.max_end;
    if l.detailed {
        svg.text(LEFT, 86.0, 10, r##" fill="#555555""##, "0")?;
        svg.text(
            LEFT + PLOT,
            86.0,
            10,
            r##" fill="#555555" text-anchor="end""##,
            &format!("{max_end:#x} ({})", human(max_end)),
        )?;
    }
    svg.text(
        LEFT + PLOT / 2.0,
        86.0,
        10,
        r##" fill="#555555" text-anchor="middle""##,
        if l.detailed {
            "physical address (whole machine, linear)"
        } else {
            "each node's own memory, lowest to highest address"
        },
    )
}

/// The band of the `i`th node, `nid`, holding the live blocks `mine`.
fn band<W: Write>(
    svg: &mut Svg<'_, W>,
    l: &Layout<'_>,
    i: usize,
    nid: Option<NodeId>,
    mine: &[&Allocation],
) -> io::Result<()> {
    let y0 = l.top + l.band * i as f64;
    let summary = l.r.nodes.iter().find(|s| s.node == nid);
    band_label(svg, l, y0, nid, summary)?;
    let width = whole_bar(svg, l, y0, nid, mine)?;
    if l.detailed {
        zoom_strip(svg, l, y0, nid, mine)
    } else {
        match summary {
            Some(s) => svg.text(
                LEFT + width + 8.0,
                y0 + 10.0,
                9,
                "",
                &format!(
                    "{:.0}% local, {} here",
                    s.locality_percent(),
                    human(s.held.used)
                ),
            ),
            None => Ok(()),
        }
    }
}

/// The node's name, and in a detailed band its CPUs, memory, locality and load.
fn band_label<W: Write>(
    svg: &mut Svg<'_, W>,
    l: &Layout<'_>,
    y0: f64,
    nid: Option<NodeId>,
    summary: Option<&super::model::NodeSummary>,
) -> io::Result<()> {
    let label = nid.map_or_else(|| "no node".to_string(), |n| format!("node {n}"));
    if !l.detailed {
        return svg.text(12.0, y0 + 9.0, 9, "", &label);
    }
    svg.text(12.0, y0 + 14.0, 13, r#" font-weight="bold""#, &label)?;
    if let Some(s) = summary {
        let ncpu = nid.map_or(0, |n| l.m.topo.cpus_on(n).count());
        svg.text(
            12.0,
            y0 + 30.0,
            11,
            "",
            &format!("{ncpu} CPUs, {}", human(s.memory.as_u64())),
        )?;
        svg.text(
            12.0,
            y0 + 45.0,
            11,
            "",
            &format!("{:.1}% local", s.locality_percent()),
        )?;
        svg.text(
            12.0,
            y0 + 60.0,
            11,
            "",
            &format!(
                "{} here, {} hosted",
                human(s.held.used),
                s.locality.hosted_remote
            ),
        )?;
    }
    Ok(())
}

/// The addresses a band's upper bar spans. Detailed bands: the node's memory on the
/// machine-wide axis. Compact bands: the node's own span, so that positions inside a
/// node stay visible with 256 nodes.
fn bar_span(l: &Layout<'_>, nid: Option<NodeId>) -> (u64, u64) {
    if l.detailed {
        return (0, l.max_end);
    }
    let mut it = l.m.topo.memory.iter().filter(|mr| mr.node == nid);
    let lo = it.clone().map(|mr| mr.base.as_u64()).min().unwrap_or(0);
    let hi = it
        .by_ref()
        .map(|mr| mr.base.as_u64().saturating_add(mr.size.as_u64()))
        .max()
        .unwrap_or(lo + 1);
    (lo, hi.max(lo + 1))
}

/// The upper bar: the node's memory and where structures sit in it, with the
/// real-mode limit where it crosses the bar. Returns the bar's width.
fn whole_bar<W: Write>(
    svg: &mut Svg<'_, W>,
    l: &Layout<'_>,
    y0: f64,
    nid: Option<NodeId>,
    mine: &[&Allocation],
) -> io::Result<f64> {
    let topo = &l.m.topo;
    let bar_h = if l.detailed { 18.0 } else { 9.0 };
    let (lo, hi) = bar_span(l, nid);
    let width = if l.detailed {
        PLOT
    } else {
        PLOT - COMPACT_STATS
    };
    let xn = |a: u64| LEFT + width * ((a.clamp(lo, hi) - lo) as f64 / (hi - lo) as f64);
    svg.rect(
        LEFT,
        y0 + 2.0,
        width,
        bar_h,
        "#fafafa",
        r##" stroke="#dddddd" stroke-width="0.5""##,
    )?;
    for mr in topo.memory.iter().filter(|mr| mr.node == nid) {
        let x0 = xn(mr.base.as_u64());
        let x1 = xn(mr.base.as_u64().saturating_add(mr.size.as_u64()));
        svg.rect(
            x0,
            y0 + 2.0,
            (x1 - x0).max(1.0),
            bar_h,
            "#d9d9d9",
            r##" stroke="#999999" stroke-width="0.5""##,
        )?;
    }
    let mut whole = Heat::new(lo, hi, (width / BIN) as usize);
    for a in mine {
        whole.add(a);
    }
    for (b, bytes) in whole.bytes.iter().enumerate() {
        if bytes.iter().sum::<u64>() == 0 {
            continue;
        }
        svg.rect(
            LEFT + b as f64 * BIN,
            y0 + 2.0,
            BIN.max(3.0),
            bar_h,
            dominant(bytes),
            "",
        )?;
    }
    // The real-mode limit where it crosses this bar.
    let limit = l.limit;
    if limit != u64::MAX && lo < limit && limit <= hi {
        let x = xn(limit);
        svg.line(
            x,
            y0,
            x,
            y0 + bar_h + 4.0,
            REMOTE,
            r#" stroke-width="2" stroke-dasharray="3 2""#,
        )?;
    }
    Ok(width)
}

/// The zoomed heat strip of a detailed band: the ranges holding structures, each at
/// its own scale, or why there are none.
fn zoom_strip<W: Write>(
    svg: &mut Svg<'_, W>,
    l: &Layout<'_>,
    y0: f64,
    nid: Option<NodeId>,
    mine: &[&Allocation],
) -> io::Result<()> {
    let cl = clusters(mine);
    let sy = y0 + 36.0;
    let sh = 22.0;
    if cl.is_empty() {
        return svg.text(
            LEFT + 14.0,
            sy + 15.0,
            11,
            r##" fill="#777777""##,
            &format!(
                "no plan structures in this node's memory{}",
                went_to(l.p, nid)
            ),
        );
    }
    let limit = l.limit;
    let k = cl.len() as f64;
    let w = (PLOT - CLUSTER_GAP * (k - 1.0)) / k;
    for (j, &(lo, hi)) in cl.iter().enumerate() {
        let x = LEFT + j as f64 * (w + CLUSTER_GAP);
        let mut heat = Heat::new(lo, hi, (w / BIN) as usize);
        for a in mine {
            heat.add(a);
        }
        heat_strip(svg, &heat, x, sy, w, sh)?;
        if lo < limit && limit <= hi {
            let lx = x + w * ((limit - lo) as f64 / (hi - lo) as f64);
            svg.line(
                lx,
                sy - 4.0,
                lx,
                sy + sh + 4.0,
                REMOTE,
                r#" stroke-width="2" stroke-dasharray="4 2""#,
            )?;
        }
        svg.text(
            x,
            sy + sh + 18.0,
            10,
            r##" fill="#333333""##,
            &format!("{lo:#x}-{hi:#x} ({})", human(hi - lo)),
        )?;
    }
    svg.text(
        LEFT + 14.0,
        sy - 6.0,
        10,
        r##" fill="#555555""##,
        "zoom: address ranges holding structures (heat = how full)",
    )
}

/// The real-mode limit's value under the last band.
fn footer<W: Write>(svg: &mut Svg<'_, W>, l: &Layout<'_>) -> io::Result<()> {
    let bottom = l.top + l.band * l.node_ids.len() as f64 + 14.0;
    let limit = l.limit;
    if limit != u64::MAX && limit <= l.max_end {
        svg.text(
            LEFT,
            bottom,
            11,
            &format!(r#" fill="{REMOTE}""#),
            &format!(
                "dashed red: real-mode limit {limit:#x} ({}); pacas, lppacas, SLB shadows and emergency stacks must lie below it",
                human(limit)
            ),
        )
    } else {
        svg.text(
            LEFT,
            bottom,
            11,
            r##" fill="#555555""##,
            "no real-mode limit (radix MMU or hypervisor mode)",
        )
    }
}
