//! What the unit tests share.

use crate::{PhysAddr, PhysSize, Region, RegionFlags, RegionNid};

/// A region as `memblock_reserve` stores it (no flags, node `MAX_NUMNODES`): the one
/// builder behind each test file's own shorthand for its layout.
pub(crate) fn span(base: u64, size: u64) -> Region {
    Region {
        base: PhysAddr::new(base),
        size: PhysSize::new(size),
        flags: RegionFlags::NONE,
        nid: RegionNid::MaxNumNodes,
    }
}
