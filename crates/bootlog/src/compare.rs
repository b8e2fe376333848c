//! Structure-by-structure comparison of a plan with what a boot did.

use alloc::vec::Vec;
use core::fmt;

use percpu::{Allocation, Placement, StructureKind};
use phys::{NodeId, PhysAddr, PhysSize};
use topology::Topology;

/// How one structure of the plan compares with the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Same address and same reserved size.
    Identical,
    /// Same address, different reserved size (a different `sizeof`, or a table kept
    /// for a different `nr_cpu_ids`).
    SizeDiffers,
    /// Another address on the same node (both nodes unknown counts as the same).
    MovedSameNode,
    /// Another address on another node.
    OtherNode,
    /// The plan has it, the log does not.
    MissingInLog,
    /// The log has it, the plan does not.
    MissingInPlan,
}

impl Verdict {
    /// A short name for tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Identical => "identical",
            Self::SizeDiffers => "size differs",
            Self::MovedSameNode => "moved, same node",
            Self::OtherNode => "other node",
            Self::MissingInLog => "missing in log",
            Self::MissingInPlan => "missing in plan",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where one side has the structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Side {
    /// Its address.
    pub addr: PhysAddr,
    /// The bytes reserved for it.
    pub reserved: PhysSize,
    /// The node of its memory (from the topology given to [`compare`], else the
    /// placement's own `memory_node`).
    pub node: Option<NodeId>,
}

/// One structure, matched by kind and CPU (per-CPU ones) or by kind and position
/// among the live structures of that kind (shared ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: StructureKind,
    /// Its CPU (per-CPU structures).
    pub cpu: Option<u32>,
    /// Its position among the live structures of its kind and CPU (0 unless a kind
    /// occurs several times, such as page tables).
    pub index: u32,
    /// The plan's.
    pub plan: Option<Side>,
    /// The log's.
    pub log: Option<Side>,
    /// The verdict.
    pub verdict: Verdict,
}

/// `identical` of `total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Structures (in either placement).
    pub total: u32,
    /// Identical ones.
    pub identical: u32,
}

/// Counts of a comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Per-CPU structures.
    pub per_cpu: Tally,
    /// Shared structures (pointer arrays, page tables, process table, leaked tails).
    pub shared: Tally,
    /// Entries with [`Verdict::SizeDiffers`].
    pub size_differs: u32,
    /// Entries with [`Verdict::MovedSameNode`].
    pub moved_same_node: u32,
    /// Entries with [`Verdict::OtherNode`].
    pub other_node: u32,
    /// Entries with [`Verdict::MissingInLog`].
    pub missing_in_log: u32,
    /// Entries with [`Verdict::MissingInPlan`].
    pub missing_in_plan: u32,
}

impl fmt::Display for Summary {
    /// `verify: 56 of 56 per-CPU structures and 3 of 3 shared structures identical`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "verify: {} of {} per-CPU structures and {} of {} shared structures identical",
            self.per_cpu.identical, self.per_cpu.total, self.shared.identical, self.shared.total
        )
    }
}

/// A plan against a boot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Every structure of either side: per-CPU ones by CPU, then shared ones.
    pub entries: Vec<Entry>,
    /// The counts.
    pub summary: Summary,
}

impl Comparison {
    /// Whether every structure is identical (and both sides have the same ones).
    pub fn all_identical(&self) -> bool {
        self.entries.iter().all(|e| e.verdict == Verdict::Identical)
    }

    /// The entries that are not identical.
    pub fn differences(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.verdict != Verdict::Identical)
    }
}

/// Matching key: shared ones after per-CPU ones, then CPU, kind, position.
type Key = (bool, Option<u32>, StructureKind, u32);

fn keyed(p: &Placement) -> Vec<(Key, &Allocation)> {
    let mut out: Vec<(Key, &Allocation)> = Vec::new();
    let mut seen: Vec<(Option<u32>, StructureKind, u32)> = Vec::new();
    for a in p.live() {
        let cpu = if a.kind.is_per_cpu() { a.cpu } else { None };
        let index = match seen.iter_mut().find(|s| s.0 == cpu && s.1 == a.kind) {
            Some(s) => {
                s.2 += 1;
                s.2
            }
            None => {
                seen.push((cpu, a.kind, 0));
                0
            }
        };
        out.push(((!a.kind.is_per_cpu(), cpu, a.kind, index), a));
    }
    out.sort_by_key(|e| e.0);
    out
}

/// Compares the live structures of `plan` and `observed`. With a topology, both sides'
/// nodes come from it (so a plan and a log read without one compare on equal terms).
pub fn compare(plan: &Placement, observed: &Placement, topo: Option<&Topology>) -> Comparison {
    let side = |a: &Allocation| Side {
        addr: a.addr,
        reserved: a.reserved,
        node: match topo {
            Some(t) => percpu::node_of_addr(t, a.addr),
            None => a.memory_node,
        },
    };
    let p = keyed(plan);
    let o = keyed(observed);
    let mut entries = Vec::with_capacity(p.len().max(o.len()));
    let (mut i, mut j) = (0, 0);
    while i < p.len() || j < o.len() {
        let take_p = j >= o.len() || (i < p.len() && p[i].0 <= o[j].0);
        let take_o = i >= p.len() || (j < o.len() && o[j].0 <= p[i].0);
        let key = if take_p { p[i].0 } else { o[j].0 };
        let ps = take_p.then(|| side(p[i].1));
        let os = take_o.then(|| side(o[j].1));
        if take_p {
            i += 1;
        }
        if take_o {
            j += 1;
        }
        let verdict = match (ps, os) {
            (Some(a), Some(b)) if a.addr == b.addr && a.reserved == b.reserved => {
                Verdict::Identical
            }
            (Some(a), Some(b)) if a.addr == b.addr => Verdict::SizeDiffers,
            (Some(a), Some(b)) if a.node == b.node => Verdict::MovedSameNode,
            (Some(_), Some(_)) => Verdict::OtherNode,
            (Some(_), None) => Verdict::MissingInLog,
            _ => Verdict::MissingInPlan,
        };
        entries.push(Entry {
            kind: key.2,
            cpu: key.1,
            index: key.3,
            plan: ps,
            log: os,
            verdict,
        });
    }
    let mut s = Summary::default();
    for e in &entries {
        let t = if e.kind.is_per_cpu() {
            &mut s.per_cpu
        } else {
            &mut s.shared
        };
        t.total += 1;
        match e.verdict {
            Verdict::Identical => t.identical += 1,
            Verdict::SizeDiffers => s.size_differs += 1,
            Verdict::MovedSameNode => s.moved_same_node += 1,
            Verdict::OtherNode => s.other_node += 1,
            Verdict::MissingInLog => s.missing_in_log += 1,
            Verdict::MissingInPlan => s.missing_in_plan += 1,
        }
    }
    Comparison {
        entries,
        summary: s,
    }
}
