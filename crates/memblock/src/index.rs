//! An index over the gaps of the reserved array, so that an allocation finds the free
//! range Linux would pick without walking every free range on the way.
//!
//! # What is indexed, and why this shape
//!
//! Free memory is memory minus reserved. The memory array is short (one region per
//! node and attribute change, a few hundred at most on the machines modelled), and the
//! search has to filter it region by region anyway (node, hotplug, nomap, mirror,
//! driver-managed), so it stays an outer loop. The reserved array is what grows: every
//! node-local allocation that cannot merge with a neighbour adds a region, and a
//! fragmented reserved array (thousands of regions) is what made each allocation
//! linear. So the index covers the *gaps of the reserved array*: gap `g` is
//! `[end of reserved[g - 1], base of reserved[g])`, with 0 below the first region and
//! `PHYS_ADDR_MAX` above the last. Within one memory region's window
//! `[max(base, start), min(end, limit))` the free ranges Linux visits are exactly these
//! gaps clipped to the window, in index order (descending top-down, ascending
//! bottom-up).
//!
//! The reserved array itself must stay a plain sorted array with Linux's contents,
//! order and capacity (callers read it as a slice, and Linux's doubling decides where
//! its copies go). Inserting into it already moves its tail (a `memmove` of `O(n)`
//! entries, as in Linux). The index therefore does not need `O(log n)` updates to be
//! cheaper than the array it follows, and a flat structure wins on constants over a
//! balanced tree (a treap or AVL tree of gaps would chase pointers and duplicate the
//! regions): the gaps are cut into consecutive *chunks* of about [`CHUNK`] gaps, and
//! the index keeps, per chunk, its first gap's index, its largest gap, and the base of
//! the region just below it (its *key*). That is a two-level B-tree of chunks whose
//! leaves are the reserved array itself (gap lengths are read from the regions, not
//! copied); the summaries of 16 384 regions fit in 6 KiB.
//!
//! * Update after the array changed (`k` regions replaced by `m`): the chunks holding
//!   the changed gaps are recut (reading `O(CHUNK + m)` regions), the starts of the
//!   chunks after them shift (`O(n / CHUNK)` integer additions, far less than the
//!   `memmove` of the array). Chunks stay between about `CHUNK / 2` and `2 * CHUNK`
//!   gaps (a small one is recut with its right neighbour).
//!   When only one chunk changes and keeps a good size (nearly every allocation and
//!   free), its largest gap is updated from the gaps that changed, and recomputed only
//!   when the old largest one shrank.
//! * Search in a window: the last gap touching the window is located (chunk by key,
//!   then a binary search over the chunk's regions: `O(log n)`), clipped and checked
//!   exactly; node-local allocations usually stop there. Otherwise the first gap is
//!   located the same way and checked last. The gaps between them lie wholly inside
//!   the window; chunks whose largest gap is smaller than the request are skipped in
//!   one comparison, and in the others each gap at least as long as the request is
//!   checked with Linux's exact alignment formula (a gap long enough but badly aligned
//!   does not stop the search, as in Linux). Cost: `O(log n)` to place the window,
//!   `O(c)` for the `c` chunk summaries inside it, `O(CHUNK)` per chunk that holds a
//!   long-enough gap. A failing search over a window reads its `c` summaries instead
//!   of its regions.
//! * Successive windows of one search (one per eligible memory region) come in address
//!   order, so each is located by walking the chunk keys from where the previous one
//!   ended. A request longer than every gap fails at once.
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
//! those (at the very top of the address space) are checked one by one.
//!
//! A failed heap allocation while updating the index never fails the operation: the
//! index is dropped and the allocator walks linearly until the next change rebuilds
//! it, which gives the same addresses.

use alloc::vec::Vec;

use crate::view::Regions;
use crate::Region;

/// Target number of gaps per chunk.
pub(crate) const CHUNK: usize = 64;

/// A position in the index: (chunk, gap).
pub(crate) type Pos = (usize, usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chunk {
    /// Index of the chunk's first gap.
    start: usize,
    /// Length of its longest gap.
    max: u64,
    /// Base of the region just below its first gap (0 for the first chunk): the key
    /// that places an address in a chunk without touching the regions.
    key: u64,
}

/// Chunk summaries over the gaps of one region array (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct GapIndex {
    chunks: Vec<Chunk>,
    /// Whether the array this follows wants an index at all (only the reserved array).
    enabled: bool,
    /// Whether `chunks` describe the array; false after a heap failure until rebuilt.
    valid: bool,
}

/// Bounds of gap `g` of `rs` (see the module docs).
fn gap(rs: Regions<'_>, g: usize) -> (u64, u64) {
    let start = match g.checked_sub(1).and_then(|i| rs.get(i)) {
        Some(r) => r.end().as_u64(),
        None => 0,
    };
    let end = rs.get(g).map_or(u64::MAX, |r| r.base.as_u64());
    (start, end)
}

fn gap_len(rs: Regions<'_>, g: usize) -> u64 {
    let (s, e) = gap(rs, g);
    e.saturating_sub(s)
}

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

impl GapIndex {
    /// An index that follows its array from now on if `enabled` (it is built at the
    /// next change).
    pub(crate) const fn new(enabled: bool) -> Self {
        Self {
            chunks: Vec::new(),
            enabled,
            valid: false,
        }
    }

    /// The longest gap of the array: no clipped gap of any window is longer, so a
    /// request above it fits nowhere.
    pub(crate) fn longest(&self) -> u64 {
        self.chunks.iter().map(|c| c.max).max().unwrap_or(u64::MAX)
    }

    /// Whether searches may use the index.
    pub(crate) fn usable(&self) -> bool {
        self.enabled && self.valid
    }

    /// Drops the summaries after a heap failure; searches then walk linearly.
    pub(crate) fn invalidate(&mut self) {
        self.chunks.clear();
        self.valid = false;
    }

    /// Recomputes the summaries from scratch.
    fn rebuild(&mut self, rs: Regions<'_>) {
        let gaps = rs.len() + 1;
        self.chunks.clear();
        if self.chunks.try_reserve(gaps.div_ceil(CHUNK)).is_err() {
            self.invalidate();
            return;
        }
        let mut start = 0;
        while start < gaps {
            let end = (start + CHUNK).min(gaps);
            self.chunks.push(Chunk {
                start,
                max: max_gap(rs, start, end),
                key: key_of(rs, start),
            });
            start = end;
        }
        self.valid = true;
    }

    /// Before the array changes regions `s..e`: the longest of the gaps `s..=e` that
    /// the change will replace (to be passed to [`GapIndex::update`]).
    pub(crate) fn longest_replaced(&self, rs: Regions<'_>, s: usize, e: usize) -> u64 {
        if self.usable() {
            max_gap(rs, s, e.saturating_add(1).min(rs.len() + 1))
        } else {
            0
        }
    }

    /// Follows a change of the array: regions `s..e` of the old array were replaced by
    /// `m` regions, and `rs` is the new array. Old gaps `s..=e` (the longest of which
    /// was `old_longest`) became new gaps `s..=s + m`; gaps before are unchanged, gaps
    /// after only moved.
    pub(crate) fn update(
        &mut self,
        rs: Regions<'_>,
        s: usize,
        e: usize,
        m: usize,
        old_longest: u64,
    ) {
        if !self.enabled {
            return;
        }
        if !self.valid || self.chunks.is_empty() || e < s {
            self.rebuild(rs);
            return;
        }
        let removed = e - s;
        let new_gaps = rs.len() + 1;
        let Some(old_gaps) = (new_gaps + removed).checked_sub(m) else {
            self.rebuild(rs);
            return;
        };
        if e >= old_gaps {
            self.rebuild(rs);
            return;
        }
        let n = self.chunks.len();
        let chunk_of = |g: usize| {
            self.chunks
                .partition_point(|c| c.start <= g)
                .saturating_sub(1)
        };
        let c0 = chunk_of(s);
        let mut c1 = chunk_of(e);
        // The usual case, one region set or one inserted into a chunk that keeps a
        // good size: the chunk's largest gap follows from the gaps that changed unless
        // the old largest one shrank.
        let chunk_len_after = self
            .chunks
            .get(c0 + 1)
            .map_or(old_gaps, |x| x.start)
            .wrapping_add(m)
            .wrapping_sub(removed)
            .wrapping_sub(self.chunks.get(c0).map_or(0, |c| c.start));
        if c0 == c1 && (CHUNK / 2..2 * CHUNK).contains(&chunk_len_after) {
            let new_longest = max_gap(rs, s, s + m + 1);
            if let Some(c) = self.chunks.get_mut(c0) {
                if old_longest < c.max || new_longest >= c.max {
                    c.max = c.max.max(new_longest);
                } else {
                    let end = c.start + chunk_len_after;
                    c.max = max_gap(rs, c.start, end);
                }
            }
            for c in self.chunks.iter_mut().skip(c0 + 1) {
                c.start = c.start + m - removed;
            }
            return;
        }
        let old_end_of = |c: usize| self.chunks.get(c + 1).map_or(old_gaps, |x| x.start);
        let first = self.chunks.get(c0).map_or(0, |c| c.start);
        // The recut range is chunks c0..=c1: old gaps `first..old_end`, new gaps
        // `first..old_end + m - removed` (old_end > e >= removed + first).
        let mut old_end = old_end_of(c1);
        let mut len = old_end + m - removed - first;
        if len < CHUNK / 2 && c1 + 1 < n {
            c1 += 1;
            old_end = old_end_of(c1);
            len = old_end + m - removed - first;
        }
        let pieces = (len / CHUNK).max(1);
        let replaced = c1 + 1 - c0;
        if pieces > replaced && self.chunks.try_reserve(pieces - replaced).is_err() {
            self.invalidate();
            return;
        }
        let placeholder = Chunk {
            start: 0,
            max: 0,
            key: 0,
        };
        self.chunks
            .splice(c0..=c1, core::iter::repeat_n(placeholder, pieces));
        let (base, rem) = (len / pieces, len % pieces);
        let mut start = first;
        for (j, c) in self.chunks.iter_mut().skip(c0).take(pieces).enumerate() {
            let end = start + base + usize::from(j < rem);
            *c = Chunk {
                start,
                max: max_gap(rs, start, end),
                key: key_of(rs, start),
            };
            start = end;
        }
        // Later chunks keep their gaps, which moved by `m - removed`.
        for c in self.chunks.iter_mut().skip(c0 + pieces) {
            c.start = c.start + m - removed;
        }
    }

    /// Whether the summaries match `rs` (for tests).
    pub(crate) fn check(&self, rs: Regions<'_>) -> Result<(), &'static str> {
        if !self.enabled || !self.valid {
            return Ok(());
        }
        let gaps = rs.len() + 1;
        if self.chunks.first().map(|c| c.start) != Some(0) {
            return Err("the first chunk does not start at gap 0");
        }
        for (i, c) in self.chunks.iter().enumerate() {
            let end = self.chunks.get(i + 1).map_or(gaps, |x| x.start);
            if end <= c.start {
                return Err("an empty or unordered chunk");
            }
            // Recomputed gap by gap, independently of `max_gap`.
            let longest = (c.start..end).map(|g| gap_len(rs, g)).max().unwrap_or(0);
            if c.max != longest {
                return Err("a chunk's largest gap is stale");
            }
            if c.key != key_of(rs, c.start) {
                return Err("a chunk's key is stale");
            }
        }
        Ok(())
    }

    /// The address Linux's top-down walk returns within the window `[ws, we)` of one
    /// memory region, if a gap there fits; `size` must be nonzero.
    pub(crate) fn find_top_down(
        &self,
        rs: Regions<'_>,
        ws: u64,
        we: u64,
        size: u64,
        align: u64,
        hint: &mut Option<Pos>,
    ) -> Option<u64> {
        let (c_hi, g_hi) = self.locate(rs, we, false, *hint);
        let clipped = |g: usize| {
            let (s, e) = gap(rs, g);
            fit_top_down(s.max(ws), e.min(we), size, align).filter(|_| s.max(ws) < e.min(we))
        };
        if let Some(c) = clipped(g_hi) {
            return Some(c);
        }
        let (c_lo, g_lo) = self.locate(rs, ws, true, Some((c_hi, g_hi)));
        // The next (lower) window ends at or below this one's start.
        *hint = Some((c_lo, g_lo));
        if g_hi <= g_lo {
            return None;
        }
        if g_hi > g_lo + 1 {
            let found = self.scan(
                rs,
                (c_lo, g_lo + 1),
                (c_hi, g_hi - 1),
                size,
                true,
                |s, e| fit_top_down(s, e, size, align),
            );
            if found.is_some() {
                return found;
            }
        }
        clipped(g_lo)
    }

    /// The address Linux's bottom-up walk returns within the window `[ws, we)`, if it
    /// stops there (`Some(0)`: Linux's `round_up` wrapped and the walk fails).
    pub(crate) fn find_bottom_up(
        &self,
        rs: Regions<'_>,
        ws: u64,
        we: u64,
        size: u64,
        align: u64,
        hint: &mut Option<Pos>,
    ) -> Option<u64> {
        let (c_lo, g_lo) = self.locate(rs, ws, true, *hint);
        let exact = |g: usize| {
            let (s, e) = gap(rs, g);
            let (s, e) = (s.max(ws), e.min(we));
            if s < e {
                fit_bottom_up(s, e, size, align)
            } else {
                None
            }
        };
        if let Some(c) = exact(g_lo) {
            return Some(c);
        }
        let (c_hi, g_hi) = self.locate(rs, we, false, Some((c_lo, g_lo)));
        // The next (higher) window starts at or above this one's end.
        *hint = Some((c_hi, g_hi));
        if g_hi <= g_lo {
            return None;
        }
        // Gaps starting above `!(align - 1)` may wrap (gap `g` starts at the end of
        // region `g - 1`): they, and the clipped last gap, are checked one by one.
        let wrap_from = !align.wrapping_sub(1);
        let wrap = if rs.last().is_none_or(|r| r.end().as_u64() <= wrap_from) {
            rs.len() + 1
        } else {
            1 + rs.partition_point(|r| r.end().as_u64() <= wrap_from)
        };
        let safe_end = g_hi.min(wrap);
        if safe_end > g_lo + 1 {
            let found = self.scan(
                rs,
                (c_lo, g_lo + 1),
                (c_hi, safe_end - 1),
                size,
                false,
                |s, e| fit_bottom_up(s, e, size, align),
            );
            if found.is_some() {
                return found;
            }
        }
        (safe_end.max(g_lo + 1)..=g_hi).find_map(exact)
    }

    /// The number of regions whose base is below `addr` (at most `addr` if
    /// `inclusive`), which is the index of the gap holding `addr`, and the chunk that
    /// gap is in.
    ///
    /// The chunk is found from its key (no region is read): by walking the keys from
    /// the `hint`'s chunk (the other end of the window, or where the previous window
    /// of the same search ended) for up to 16 chunks, else by binary search over the
    /// keys. Then a binary search over the chunk's regions.
    fn locate(&self, rs: Regions<'_>, addr: u64, inclusive: bool, hint: Option<Pos>) -> Pos {
        let is_below = |base: u64| {
            if inclusive {
                base <= addr
            } else {
                base < addr
            }
        };
        let count =
            |lo: usize, hi: usize| rs.partition_point_in(lo, hi, |r| is_below(r.base.as_u64()));
        // Chunk `c` holds the answer or one below it; the first chunk always does.
        let qualifies = |c: usize| c == 0 || self.chunks.get(c).is_some_and(|x| is_below(x.key));
        let n = self.chunks.len();
        // The answer's chunk is the last one that qualifies (keys increase). From a
        // hint, walk the chunk keys (successive windows are usually a few chunks
        // apart); without one, or when far, binary search them.
        let mut ci = None;
        if let Some((hc, _)) = hint.filter(|&(c, _)| c < n) {
            let mut c = hc;
            for _ in 0..16 {
                if !qualifies(c) {
                    c -= 1;
                } else if c + 1 < n && qualifies(c + 1) {
                    c += 1;
                } else {
                    ci = Some(c);
                    break;
                }
            }
        }
        let ci = ci.unwrap_or_else(|| {
            self.chunks
                .get(1..)
                .map_or(0, |rest| rest.partition_point(|c| is_below(c.key)))
        });
        let start = self.chunks.get(ci).map_or(0, |c| c.start);
        let end = self.chunks.get(ci + 1).map_or(rs.len() + 1, |c| c.start);
        // Region `start - 1` is below `addr` and region `end - 1` is not.
        (ci, count(start, end - 1))
    }

    /// Gaps `lo.1..=hi.1` (wholly inside the window, so not clipped; `lo.0` and `hi.0`
    /// are chunks at or before/after them) in ascending or descending order: the first
    /// for which `fit(start, end)` answers. Only gaps at least `size` long are offered.
    fn scan(
        &self,
        rs: Regions<'_>,
        (first, lo): (usize, usize),
        (last, hi): (usize, usize),
        size: u64,
        descending: bool,
        fit: impl Fn(u64, u64) -> Option<u64>,
    ) -> Option<u64> {
        let gaps = rs.len() + 1;
        let in_chunk = |ci: usize, c: &Chunk| {
            let end = self.chunks.get(ci + 1).map_or(gaps, |x| x.start);
            (c.start.max(lo), (end - 1).min(hi))
        };
        // Interior gaps have a region on each side: gaps `a..=b` are the pairs of
        // regions `a - 1..=b`.
        let try_pair = |(l, r): (&Region, &Region)| {
            let (s, e) = (l.end().as_u64(), r.base.as_u64());
            if e.saturating_sub(s) >= size {
                fit(s, e)
            } else {
                None
            }
        };
        let pairs = |a: usize, b: usize| pairs(rs, a.saturating_sub(1), b.saturating_add(1));
        let chunks = self.chunks.get(first..=last)?;
        if descending {
            for (k, c) in chunks.iter().enumerate().rev() {
                if c.max < size {
                    continue;
                }
                let (a, b) = in_chunk(first + k, c);
                if let Some(x) = pairs(a, b).rev().find_map(try_pair) {
                    return Some(x);
                }
            }
        } else {
            for (k, c) in chunks.iter().enumerate() {
                if c.max < size {
                    continue;
                }
                let (a, b) = in_chunk(first + k, c);
                if let Some(x) = pairs(a, b).find_map(try_pair) {
                    return Some(x);
                }
            }
        }
        None
    }
}

/// The key of a chunk starting at gap `start` (see [`Chunk::key`]).
fn key_of(rs: Regions<'_>, start: usize) -> u64 {
    start
        .checked_sub(1)
        .and_then(|i| rs.get(i))
        .map_or(0, |r| r.base.as_u64())
}

/// Longest of gaps `start..end` of `rs`.
fn max_gap(rs: Regions<'_>, start: usize, end: usize) -> u64 {
    if start >= end {
        return 0;
    }
    // The first and last gaps of the array have a region on one side only.
    let edges = [start, end - 1]
        .into_iter()
        .filter(|&g| g == 0 || g >= rs.len())
        .map(|g| gap_len(rs, g))
        .max()
        .unwrap_or(0);
    let inner = pairs(rs, start.max(1) - 1, end.min(rs.len()))
        .map(|(l, r)| r.base.as_u64().saturating_sub(l.end().as_u64()))
        .max()
        .unwrap_or(0);
    edges.max(inner)
}

/// Consecutive pairs of regions `lo..hi` (as `windows(2)` over a slice).
fn pairs<'a>(
    rs: Regions<'a>,
    lo: usize,
    hi: usize,
) -> impl DoubleEndedIterator<Item = (&'a Region, &'a Region)> + 'a {
    let it = rs.range(lo, hi);
    it.clone().zip(it.skip(1))
}
