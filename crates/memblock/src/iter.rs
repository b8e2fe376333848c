//! Free ranges: memory minus reserved (Linux's `for_each_free_mem_range[_reverse]`).
//!
//! Linux walks the two arrays in lockstep (`__next_mem_range[_rev]`), which visits every
//! reserved region below (or above) the first fit. This iterator yields the same ranges
//! in the same order, but finds where each memory region's gaps start by binary search
//! in the reserved array, so an allocation near one end of a long reserved array does
//! not pay for the rest of it.

use crate::view::Regions;
use crate::{NodeId, PhysAddr, Region, RegionFlags};

/// Linux's `should_skip_region` for a memory region `m` and a request for node `nid`
/// (`None`: any) with `flags`.
pub(crate) fn should_skip(
    m: &Region,
    nid: Option<NodeId>,
    flags: RegionFlags,
    movable_node: bool,
) -> bool {
    if !m.nid.matches(nid) {
        return true;
    }
    if movable_node
        && m.flags.contains(RegionFlags::HOTPLUG)
        && !flags.contains(RegionFlags::HOTPLUG)
    {
        return true;
    }
    if flags.contains(RegionFlags::MIRROR) && !m.flags.contains(RegionFlags::MIRROR) {
        return true;
    }
    if !flags.contains(RegionFlags::NOMAP) && m.flags.contains(RegionFlags::NOMAP) {
        return true;
    }
    !flags.contains(RegionFlags::DRIVER_MANAGED) && m.flags.contains(RegionFlags::DRIVER_MANAGED)
}

/// Iterator over free ranges `(start, end, nid)`, created by
/// [`Memblock::free_ranges`](crate::Memblock::free_ranges) and
/// [`Memblock::free_ranges_rev`](crate::Memblock::free_ranges_rev).
///
/// Each item is a nonempty intersection of a memory region with a gap between reserved
/// regions; `nid` is the memory region's node (`None` for `MAX_NUMNODES` and
/// `NUMA_NO_NODE`).
#[derive(Clone, Debug)]
pub struct FreeRanges<'a> {
    memory: &'a [Region],
    reserved: Regions<'a>,
    nid: Option<NodeId>,
    flags: RegionFlags,
    movable_node: bool,
    reverse: bool,
    /// Forward: index of the current memory region. Reverse: one past it.
    mem: usize,
    /// Gap of the current memory region to look at next; `None` before its first.
    gap: Option<usize>,
    /// Ranges entirely below `lo` (forward) or at/above `hi` (reverse) may be left out:
    /// the caller has proven they cannot matter.
    lo: u64,
    hi: u64,
}

impl<'a> FreeRanges<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        memory: &'a [Region],
        reserved: Regions<'a>,
        nid: Option<NodeId>,
        flags: RegionFlags,
        movable_node: bool,
        reverse: bool,
        lo: u64,
        hi: u64,
    ) -> Self {
        let mem = if reverse {
            // Skip memory regions that start at or above `hi`.
            memory.partition_point(|r| r.base.as_u64() < hi)
        } else {
            // Skip memory regions that end at or below `lo`.
            memory.partition_point(|r| r.end().as_u64() <= lo)
        };
        Self {
            memory,
            reserved,
            nid,
            flags,
            movable_node,
            reverse,
            mem,
            gap: None,
            lo,
            hi,
        }
    }

    fn should_skip(&self, m: &Region) -> bool {
        should_skip(m, self.nid, self.flags, self.movable_node)
    }

    /// Gap `g` of the reserved array: `[end of reserved[g-1], base of reserved[g])`, with
    /// 0 below the first and `PHYS_ADDR_MAX` above the last.
    fn gap_bounds(&self, g: usize) -> (u64, u64) {
        let start = match g.checked_sub(1).and_then(|i| self.reserved.get(i)) {
            Some(r) => r.end().as_u64(),
            None => 0,
        };
        let end = match self.reserved.get(g) {
            Some(r) => r.base.as_u64(),
            None => u64::MAX,
        };
        (start, end)
    }

    fn next_forward(&mut self) -> Option<(u64, u64, Option<NodeId>)> {
        loop {
            let m = *self.memory.get(self.mem)?;
            let (m_start, m_end) = (m.base.as_u64(), m.end().as_u64());
            let g = match self.gap {
                Some(g) => g,
                None => {
                    if self.should_skip(&m) {
                        self.mem += 1;
                        continue;
                    }
                    let from = m_start.max(self.lo);
                    self.reserved.partition_point(|r| r.base.as_u64() <= from)
                }
            };
            let (g_start, g_end) = self.gap_bounds(g);
            if g_start >= m_end || g >= self.reserved.len() {
                self.gap = None;
                self.mem += 1;
            } else {
                self.gap = Some(g + 1);
            }
            if g_start >= m_end {
                continue;
            }
            let (s, e) = (m_start.max(g_start), m_end.min(g_end));
            if s < e {
                return Some((s, e, m.nid.node()));
            }
        }
    }

    fn next_reverse(&mut self) -> Option<(u64, u64, Option<NodeId>)> {
        loop {
            let idx = self.mem.checked_sub(1)?;
            let m = *self.memory.get(idx)?;
            let (m_start, m_end) = (m.base.as_u64(), m.end().as_u64());
            let g = match self.gap {
                Some(g) => g,
                None => {
                    if self.should_skip(&m) {
                        self.mem = idx;
                        continue;
                    }
                    let to = m_end.min(self.hi);
                    self.reserved.partition_point(|r| r.base.as_u64() < to)
                }
            };
            let (g_start, g_end) = self.gap_bounds(g);
            if g_end <= m_start || g == 0 {
                self.gap = None;
                self.mem = idx;
            } else {
                self.gap = Some(g - 1);
            }
            if g_end <= m_start {
                continue;
            }
            let (s, e) = (m_start.max(g_start), m_end.min(g_end));
            if s < e {
                return Some((s, e, m.nid.node()));
            }
        }
    }
}

impl Iterator for FreeRanges<'_> {
    type Item = (PhysAddr, PhysAddr, Option<NodeId>);

    fn next(&mut self) -> Option<Self::Item> {
        let r = if self.reverse {
            self.next_reverse()
        } else {
            self.next_forward()
        };
        r.map(|(s, e, n)| (PhysAddr::new(s), PhysAddr::new(e), n))
    }
}

/// Internal raw-u64 view used by the allocator.
impl FreeRanges<'_> {
    pub(crate) fn next_raw(&mut self) -> Option<(u64, u64)> {
        let r = if self.reverse {
            self.next_reverse()
        } else {
            self.next_forward()
        };
        r.map(|(s, e, _)| (s, e))
    }
}
