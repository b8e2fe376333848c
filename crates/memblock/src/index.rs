//! The allocation search over the leaves of the reserved array: finds the free range
//! Linux would pick without walking every free range on the way.
//!
//! # What is indexed, and why this shape
//!
//! Free memory is memory minus reserved. The memory array is short (one region per
//! node and attribute change, a few hundred at most on the machines modelled), and the
//! search has to filter it region by region anyway (node, hotplug, nomap, mirror,
//! driver-managed), so it stays an outer loop. The reserved array is what grows: every
//! node-local allocation that cannot merge with a neighbour adds a region, and a
//! fragmented reserved array (thousands of regions) is what made each allocation
//! linear. So the search works on the *gaps of the reserved array*: gap `g` is
//! `[end of reserved[g - 1], base of reserved[g])`, with 0 below the first region and
//! `PHYS_ADDR_MAX` above the last. Within one memory region's window
//! `[max(base, start), min(end, limit))` the free ranges Linux visits are exactly these
//! gaps clipped to the window, in index order (descending top-down, ascending
//! bottom-up).
//!
//! The reserved array is stored in *leaves* of at most a few hundred consecutive
//! regions (`store.rs`), so that a change moves one leaf, not the array's tail. Each
//! leaf owns the gaps just below its regions (the last leaf also the gap above the
//! array) and keeps, beside its regions, the base of its first region and the length
//! of its longest gap. That is a two-level B-tree whose summaries sit in one array of
//! leaf headers: an address is placed by a binary search over the headers, then one
//! inside a leaf, without touching the other leaves' regions.
//!
//! * Search in a window: the gap holding the window's top (top-down; its bottom,
//!   bottom-up) is located (`O(log n)`) and checked exactly, clipped; node-local
//!   allocations usually stop there. Otherwise the gap holding the other end is
//!   located and checked last. The gaps between them lie wholly inside the window:
//!   leaves whose longest gap is shorter than the request are skipped in one
//!   comparison, and in the others each gap at least as long as the request is
//!   checked with Linux's exact alignment formula (a gap long enough but badly aligned
//!   does not stop the search, as in Linux). A leaf also keeps an upper bound on its
//!   other gaps (all but one longest gap) and where its longest gap starts: when the
//!   bound is below the request, only that gap can fit, and top-down it is checked
//!   alone instead of walking the leaf's smaller gaps down to it. Cost: `O(log n)` to
//!   place the window, `O(l)` for the `l` leaf headers inside it, a leaf's regions per
//!   leaf that holds two long-enough gaps.
//! * A walk that the summaries could not spare and that found nothing is remembered
//!   ([`WalkMemo`]: the leaf, its state number, how far the walk went and the longest
//!   gap it saw), and the next search that would walk the same gaps of the same leaf
//!   state for a longer request skips them. Every change to a leaf's regions gives
//!   the leaf a new state number (`Store::bump`), so the memo never outlives what it
//!   describes. This is for the leaf that holds the top of a window together with
//!   long gaps above it, which its summary cannot tell apart from the small gaps
//!   below; a planner searching below the RMA meets that leaf on every search.
//! * Positions found are kept in the memo too: the gap a search returned from
//!   (the reservation that follows reads its neighbours there, `Store::seek`) and
//!   the gaps holding the window's ends (the next search for the same window tries
//!   them first). Each is checked against the regions before use (the regions on
//!   either side must straddle the address), so after any change a stale position
//!   costs two comparisons and falls back to the binary searches, never a wrong
//!   answer. So is the count of memory regions below a search's end (`search.rs`).
//! * The run of leaves the last header scan passed over as too short is kept too,
//!   with the longest gap among them ([`WalkMemo::short`]): below the RMA each search
//!   crosses the same full leaves between the window's top and the free memory
//!   below them, and the next scan that starts inside that run, for a request
//!   longer than its longest gap, jumps below it. This fact is not checked before
//!   use; the store forgets it whenever a leaf's longest gap grows or leaves move
//!   (an allocation only shrinks gaps, so a planner keeps it from one allocation to
//!   the next), and `Store::check_index` holds it to being true.
//! * Upkeep (`store.rs`): a change replaces a few gaps; the leaves owning them raise
//!   their longest gap to the longest new one (and the bound to the others), and only a
//!   leaf whose longest gap was replaced by one shorter than the bound is recomputed
//!   from its regions; a longest gap that shrinks but stays above the bound (an
//!   allocation from the top of a node's free memory) is still the longest. A split,
//!   join or drop of leaves recomputes the leaves around it.
//!
//! Node-local requests visit only their node's memory regions (see `nodes.rs`); a
//! request for any node visits every eligible memory region, as Linux does, at the
//! cost above per region instead of per free range.
//!
//! The search returns exactly what Linux's walk returns because it skips only gaps
//! that cannot return: a gap whose clipped length is below the request never fits top
//! down (`round_down` never rounds up) nor bottom up, *except* where Linux's bottom-up
//! `round_up` wraps past `PHYS_ADDR_MAX` to 0, which makes Linux return 0 (failure)
//! at that gap. Wrapping is only possible for gaps starting above `!(align - 1)`;
//! those (at the very top of the address space) are never skipped.

use crate::store::Leaf;
use crate::Region;

/// What a top-down search learned about one leaf: the longest of its gaps between
/// two of its own regions below position `top` (gaps `1..top`), while the leaf is in
/// state `gen` ([`Leaf::gen`]). A search from the top of a window walks those gaps
/// whenever the leaf's summary cannot rule them out, which at 8192 CPUs is every
/// search below the RMA: the leaf holding the RMA's top also holds the sparse regions
/// at the tops of the nodes above, whose long gaps hide its small ones from the
/// summary. With the memo, the walk is done once per state of that leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WalkMemo {
    leaf: usize,
    gen: u64,
    top: usize,
    longest: u64,
    /// The gap the last search that found one returned from. The reservation that
    /// follows an allocation's search starts there instead of descending the leaves
    /// again (`Store::seek`, which checks that the gap still holds the address, so a
    /// stale position costs one comparison, never a wrong answer).
    pub(crate) found: Option<Pos>,
    /// Where the last top-down search placed its window's top and bottom. A planner
    /// searches the same windows over and over (below the RMA, or one node's memory
    /// for each of its CPUs in turn), so the gaps holding their ends are checked
    /// first ([`locate_near`]) before the two binary searches that place an address.
    top_at: Option<Pos>,
    bottom_at: Option<Pos>,
    /// The index of the last longest gap checked alone ([`gap_at_near`]): below the
    /// RMA every search checks the same leaf's longest gap, which an allocation from
    /// its top leaves at the same index.
    longest_gap: Option<Pos>,
    /// How many memory regions the last top-down search for any node found starting
    /// below its end (`search.rs`): below the RMA it is the same count every time,
    /// and the binary search that finds it, over a memory array other work has pushed
    /// out of the first-level cache, waited on eight loads in a row.
    pub(crate) memory_below: Option<usize>,
    /// Leaves `a..b` whose longest gaps are all at most `m`, as `(a, b, m)`
    /// ([`next_long_leaf`]): a search from the top of a window below the RMA crosses
    /// the same full leaves every time, reading a header each. Unlike the other
    /// facts here it is not checked before use: the store forgets it whenever a
    /// leaf's longest gap grows or leaves are split, joined or dropped (their indices
    /// move), so while it is kept it holds (`Store::check_index` checks that).
    pub(crate) short: Option<(usize, usize, u64)>,
}

impl Default for WalkMemo {
    fn default() -> Self {
        Self::NONE
    }
}

impl WalkMemo {
    /// Remembers nothing (no leaf is in state `u64::MAX`: states are counted from 1).
    pub(crate) const NONE: Self = Self {
        leaf: 0,
        gen: u64::MAX,
        top: 0,
        longest: 0,
        found: None,
        top_at: None,
        bottom_at: None,
        longest_gap: None,
        memory_below: None,
        short: None,
    };

    /// Whether the memo shows that no gap of leaf `c` (in state `gen`) between
    /// positions `1..top` is `size` long.
    fn rules_out(&self, c: usize, gen: u64, top: usize, size: u64) -> bool {
        self.leaf == c && self.gen == gen && self.top >= top && self.longest < size
    }
}

/// A gap: `(leaf, k)` is the gap just below region `k` of leaf `leaf`; `(last leaf,
/// its length)` the gap above the array; `(0, 0)` the only gap of an empty array.
/// Positions compare in address order.
pub(crate) type Pos = (usize, usize);

/// Linux's `round_down` (mask arithmetic, as in C for any `align`).
fn round_down(x: u64, align: u64) -> u64 {
    x & !align.wrapping_sub(1)
}

/// Linux's `round_up` (wraps to 0 past the top, as in C).
fn round_up(x: u64, align: u64) -> u64 {
    (x.wrapping_sub(1) | align.wrapping_sub(1)).wrapping_add(1)
}

/// The candidate `__memblock_find_range_top_down` returns for one free range already
/// clamped to the request, if it fits.
pub(crate) fn fit_top_down(this_start: u64, this_end: u64, size: u64, align: u64) -> Option<u64> {
    if this_end < size {
        return None;
    }
    let cand = round_down(this_end - size, align);
    (cand >= this_start).then_some(cand)
}

/// The candidate `__memblock_find_range_bottom_up` returns for one clamped free range,
/// if any. `Some(0)` (a wrapped `round_up`) makes Linux stop and fail.
pub(crate) fn fit_bottom_up(this_start: u64, this_end: u64, size: u64, align: u64) -> Option<u64> {
    let cand = round_up(this_start, align);
    (cand < this_end && this_end - cand >= size).then_some(cand)
}

/// The region just below gap `p` (none below the first gap).
pub(crate) fn region_below(leaves: &[Leaf], (c, k): Pos) -> Option<&Region> {
    match k.checked_sub(1) {
        Some(j) => leaves.get(c).and_then(|l| l.regions.get(j)),
        None => c
            .checked_sub(1)
            .and_then(|p| leaves.get(p))
            .and_then(|l| l.regions.last()),
    }
}

/// End of the region just below gap `p` (0 for the first gap).
fn end_below(leaves: &[Leaf], p: Pos) -> u64 {
    region_below(leaves, p).map_or(0, |r| r.end().as_u64())
}

/// Bounds of gap `p`.
pub(crate) fn gap(leaves: &[Leaf], p: Pos) -> (u64, u64) {
    let end = leaves
        .get(p.0)
        .and_then(|l| l.regions.get(p.1))
        .map_or(u64::MAX, |r| r.base.as_u64());
    (end_below(leaves, p), end)
}

/// Length of gap `p`.
pub(crate) fn gap_len(leaves: &[Leaf], p: Pos) -> u64 {
    gap_len_start(leaves, p).0
}

/// Length and start of gap `p` (what a leaf records of its longest gap).
pub(crate) fn gap_len_start(leaves: &[Leaf], p: Pos) -> (u64, u64) {
    let (s, e) = gap(leaves, p);
    (e.saturating_sub(s), s)
}

/// The longest gap leaf `c` owns, the longest of the others (what is left when one
/// longest gap is set aside) and where the first longest one starts, from its regions.
pub(crate) fn leaf_longest(leaves: &[Leaf], c: usize) -> (u64, u64, u64) {
    let Some(leaf) = leaves.get(c) else {
        return (0, 0, 0);
    };
    let mut below = end_below(leaves, (c, 0));
    let (mut longest, mut second, mut at) = (0, 0, below);
    let mut take = |g: u64, start: u64| {
        if g > longest {
            second = longest;
            longest = g;
            at = start;
        } else if g > second {
            second = g;
        }
    };
    for r in &leaf.regions {
        take(r.base.as_u64().saturating_sub(below), below);
        below = r.end().as_u64();
    }
    if c + 1 == leaves.len() {
        take(u64::MAX - below, below);
    }
    (longest, second, at)
}

/// The gap of leaf `c` that starts at `at`, as its index in the leaf and its end, if
/// the leaf owns one.
pub(crate) fn gap_at(leaves: &[Leaf], c: usize, at: u64) -> Option<(usize, u64)> {
    let leaf = leaves.get(c)?;
    // Gap k starts where region k - 1 ends: k regions of the leaf end at or below it.
    let k = leaf.regions.partition_point(|r| r.end().as_u64() <= at);
    let (s, e) = gap(leaves, (c, k));
    let owned = k < leaf.regions.len() || c + 1 == leaves.len();
    (owned && s == at).then_some((k, e))
}

/// [`gap_at`], trying the index `hint` keeps first, and keeping the index found
/// there. The index is checked against leaf `c`'s regions (the one below it ends at
/// or below `at`, the one at it ends above `at`: exactly the index `gap_at`'s binary
/// search finds), so a stale one costs two comparisons, never a wrong answer.
pub(crate) fn gap_at_near(
    leaves: &[Leaf],
    c: usize,
    at: u64,
    hint: &mut Option<Pos>,
) -> Option<(usize, u64)> {
    let leaf = leaves.get(c)?;
    let k = match *hint {
        Some((_, k))
            if k <= leaf.regions.len()
                && leaf.regions.get(k).is_none_or(|r| r.end().as_u64() > at)
                && end_below(leaves, (c, k)) <= at =>
        {
            k
        }
        _ => {
            let k = leaf.regions.partition_point(|r| r.end().as_u64() <= at);
            *hint = Some((c, k));
            k
        }
    };
    let (s, e) = gap(leaves, (c, k));
    let owned = k < leaf.regions.len() || c + 1 == leaves.len();
    (owned && s == at).then_some((k, e))
}

/// Whether a region starting at `base` lies below the gap holding `addr` in
/// [`locate`]'s sense: it starts at or below `addr` (`inclusive`), or below it.
fn starts_below(base: u64, addr: u64, inclusive: bool) -> bool {
    if inclusive {
        base <= addr
    } else {
        base < addr
    }
}

/// The gap holding `addr`: the one below the first region whose base is above `addr`
/// (at or above it if `!inclusive`).
pub(crate) fn locate(leaves: &[Leaf], addr: u64, inclusive: bool) -> Pos {
    let below = |base: u64| starts_below(base, addr, inclusive);
    let Some(c) = leaves.partition_point(|l| below(l.first)).checked_sub(1) else {
        return (0, 0);
    };
    let Some(leaf) = leaves.get(c) else {
        return (0, 0);
    };
    let k = leaf.regions.partition_point(|r| below(r.base.as_u64()));
    if k == leaf.regions.len() && c + 1 < leaves.len() {
        (c + 1, 0)
    } else {
        (c, k)
    }
}

/// Whether `p` is what [`locate`] returns for `addr`: a position as `locate` writes
/// it (inside a leaf, or the end of the last one) whose region below passes the test
/// and whose region above does not. Bases ascend, so exactly one position does.
pub(crate) fn locates(leaves: &[Leaf], (c, k): Pos, addr: u64, inclusive: bool) -> bool {
    let below = |base: u64| starts_below(base, addr, inclusive);
    let Some(leaf) = leaves.get(c) else {
        return false;
    };
    let written = k < leaf.regions.len() || (k == leaf.regions.len() && c + 1 == leaves.len());
    written
        && region_below(leaves, (c, k)).is_none_or(|r| below(r.base.as_u64()))
        && leaf.regions.get(k).is_none_or(|r| !below(r.base.as_u64()))
}

/// [`locate`], trying `hint` (an earlier answer, perhaps for another address or
/// another state of the leaves) first, and keeping the answer there.
fn locate_near(leaves: &[Leaf], addr: u64, inclusive: bool, hint: &mut Option<Pos>) -> Pos {
    match *hint {
        Some(p) if locates(leaves, p, addr, inclusive) => p,
        _ => {
            let p = locate(leaves, addr, inclusive);
            *hint = Some(p);
            p
        }
    }
}

/// The highest leaf of `lo..c` whose longest gap is at least `size`: a scan of the
/// leaf headers down from `c`, jumping over the leaves `short` knows to be too short
/// (leaves `a..b` with longest gaps at most `m`, when `c` lies in `a + 1..=b`), and
/// leaving in `short` the leaves this scan passed over (`found + 1..c`, or `lo..c`).
pub(crate) fn next_long_leaf(
    leaves: &[Leaf],
    lo: usize,
    c: usize,
    size: u64,
    short: &mut Option<(usize, usize, u64)>,
) -> Option<usize> {
    let (mut upper, mut bound) = (c, 0);
    if let Some((a, b, m)) = *short {
        if m < size && a < c && c <= b {
            (upper, bound) = (a, m);
        }
    }
    let mut found = None;
    for (i, l) in leaves
        .get(lo..upper.max(lo))
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .rev()
    {
        if l.longest >= size {
            found = Some(lo + i);
            break;
        }
        bound = bound.max(l.longest);
    }
    let from = found.map_or(lo, |j| j + 1);
    if from < c {
        *short = Some((from, c, bound));
    }
    found
}

/// `fit` on gap `p` clipped to the window `[ws, we)`, if anything of it is left.
fn clipped_fit(
    leaves: &[Leaf],
    p: Pos,
    ws: u64,
    we: u64,
    fit: impl Fn(u64, u64) -> Option<u64>,
) -> Option<u64> {
    let (s, e) = gap(leaves, p);
    let (s, e) = (s.max(ws), e.min(we));
    if s < e {
        fit(s, e)
    } else {
        None
    }
}

/// The gaps of leaf `c` strictly between positions `lo` and `hi` (which hold the
/// window's ends): `bottom..top`, indices into the leaf.
fn interior(leaf: &Leaf, c: usize, lo: Pos, hi: Pos) -> (usize, usize) {
    let bottom = if c == lo.0 { lo.1 + 1 } else { 0 };
    let top = if c == hi.0 { hi.1 } else { leaf.regions.len() };
    (bottom, top)
}

/// The address Linux's top-down walk returns within the window `[ws, we)` of one
/// memory region, if a gap there fits; `size` must be nonzero. `memo` skips a walk
/// it rules out, remembers a walk over a whole leaf's lower gaps that found none, and
/// keeps the gap of the address found.
pub(crate) fn find_top_down(
    leaves: &[Leaf],
    ws: u64,
    we: u64,
    size: u64,
    align: u64,
    memo: &mut WalkMemo,
) -> Option<u64> {
    let (a, at) = top_down_gap(leaves, ws, we, size, align, memo)?;
    memo.found = Some(at);
    Some(a)
}

/// [`find_top_down`]'s search: the address and the gap holding it.
fn top_down_gap(
    leaves: &[Leaf],
    ws: u64,
    we: u64,
    size: u64,
    align: u64,
    memo: &mut WalkMemo,
) -> Option<(u64, Pos)> {
    let clipped = |p: Pos| {
        clipped_fit(leaves, p, ws, we, |s, e| fit_top_down(s, e, size, align)).map(|a| (a, p))
    };
    let hi = locate_near(leaves, we, false, &mut memo.top_at);
    if let Some(a) = clipped(hi) {
        return Some(a);
    }
    let lo = locate_near(leaves, ws, true, &mut memo.bottom_at);
    if hi <= lo {
        return None;
    }
    // The gaps strictly between lo and hi, from the top. Below the top leaf, the
    // leaves too short for the request are passed over by a scan of their headers
    // alone: a search from the top of a window often crosses many of them.
    let mut next = Some(hi.0);
    while let Some(c) = next {
        next = next_long_leaf(leaves, lo.0, c, size, &mut memo.short);
        let Some(leaf) = leaves.get(c) else {
            continue;
        };
        if leaf.longest < size {
            continue;
        }
        let (bottom, top) = interior(leaf, c, lo, hi);
        if leaf.second < size {
            // Only the leaf's longest gap is long enough: check it alone (what the
            // walk below would stop at or pass), instead of walking to it.
            let at = leaf.longest_at;
            if let Some((k, end)) = gap_at_near(leaves, c, at, &mut memo.longest_gap) {
                if end.saturating_sub(at) == leaf.longest {
                    if (bottom..top).contains(&k) {
                        if let Some(a) = fit_top_down(at, end, size, align) {
                            return Some((a, (c, k)));
                        }
                    }
                    continue;
                }
            }
        }
        // Gaps `max(bottom, 1)..top` lie between two regions of this leaf: a tight
        // loop down the regions, carrying the base of the one above; gap 0 (below
        // the leaf's first region) after them.
        let first = bottom.max(1) - 1;
        let pairs = leaf.regions.get(first..top).unwrap_or(&[]);
        if !memo.rules_out(c, leaf.gen, top, size) {
            if let Some((top_region, rest)) = pairs.split_last() {
                let mut e = top_region.base.as_u64();
                let mut longest = 0;
                for (j, l) in rest.iter().enumerate().rev() {
                    let s = l.end().as_u64();
                    let len = e.saturating_sub(s);
                    if len >= size {
                        if let Some(a) = fit_top_down(s, e, size, align) {
                            // The gap above region `first + j`.
                            return Some((a, (c, first + j + 1)));
                        }
                    }
                    longest = longest.max(len);
                    e = l.base.as_u64();
                }
                if bottom <= 1 {
                    // Every gap `1..top` was walked and none fits.
                    *memo = WalkMemo {
                        leaf: c,
                        gen: leaf.gen,
                        top,
                        longest,
                        ..*memo
                    };
                }
            }
        }
        if bottom == 0 && top > 0 {
            let (s, e) = gap(leaves, (c, 0));
            if e.saturating_sub(s) >= size {
                if let Some(a) = fit_top_down(s, e, size, align) {
                    return Some((a, (c, 0)));
                }
            }
        }
    }
    clipped(lo)
}

/// The address Linux's bottom-up walk returns within the window `[ws, we)`, if it
/// stops there (`Some(0)`: Linux's `round_up` wrapped and the walk fails).
pub(crate) fn find_bottom_up(
    leaves: &[Leaf],
    ws: u64,
    we: u64,
    size: u64,
    align: u64,
) -> Option<u64> {
    let exact = |p: Pos| clipped_fit(leaves, p, ws, we, |s, e| fit_bottom_up(s, e, size, align));
    let lo = locate(leaves, ws, true);
    if let Some(a) = exact(lo) {
        return Some(a);
    }
    let hi = locate(leaves, we, false);
    if hi <= lo {
        return None;
    }
    // Gaps starting above `!(align - 1)` may wrap: they are never skipped. A leaf's
    // gaps all start at or below the end of its last region.
    let wrap_from = !align.wrapping_sub(1);
    for c in lo.0..=hi.0 {
        let Some(leaf) = leaves.get(c) else {
            continue;
        };
        let may_wrap = leaf
            .regions
            .last()
            .is_some_and(|r| r.end().as_u64() > wrap_from);
        if leaf.longest < size && !may_wrap {
            continue;
        }
        let (bottom, top) = interior(leaf, c, lo, hi);
        let check = |s: u64, e: u64| {
            if e.saturating_sub(s) >= size || (s > wrap_from && s < e) {
                fit_bottom_up(s, e, size, align)
            } else {
                None
            }
        };
        if bottom == 0 && top > 0 {
            let (s, e) = gap(leaves, (c, 0));
            if let Some(a) = check(s, e) {
                return Some(a);
            }
        }
        let pairs = leaf.regions.get(bottom.max(1) - 1..top).unwrap_or(&[]);
        for w in pairs.windows(2) {
            if let [l, r] = w {
                if let Some(a) = check(l.end().as_u64(), r.base.as_u64()) {
                    return Some(a);
                }
            }
        }
    }
    exact(hi)
}
