//! What one `memblock=debug` line says, typed.

use core::fmt;

use memblock::AllocLimit;
use phys::{NodeId, PhysAddr, PhysSize};

/// A physical range as memblock prints it: `[0xBASE-0xLAST]`, the last byte inclusive.
///
/// Linux computes the last byte as `base + size - 1` in `phys_addr_t` arithmetic, so a
/// zero-sized call prints `[0xB-0xB-1]` (`pcpu_embed_first_chunk` frees empty ranges);
/// the size is recovered with the same wrapping arithmetic and is exact for every size
/// Linux can pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Range {
    /// First byte.
    pub base: PhysAddr,
    /// Length in bytes (may be zero).
    pub size: PhysSize,
}

impl Range {
    /// The range memblock printed as `[base-last]`.
    pub const fn from_inclusive(base: u64, last: u64) -> Self {
        Self {
            base: PhysAddr::new(base),
            size: PhysSize::new(last.wrapping_sub(base).wrapping_add(1)),
        }
    }

    /// One past the last byte (saturating at the top of the address space).
    pub const fn end(&self) -> PhysAddr {
        self.base.saturating_add(self.size)
    }

    /// The last byte as memblock prints it (`base + size - 1`, wrapping like Linux).
    pub const fn last(&self) -> u64 {
        self.base
            .as_u64()
            .wrapping_add(self.size.as_u64())
            .wrapping_sub(1)
    }
}

impl fmt::Display for Range {
    /// `[0x%016llx-0x%016llx]`, as `%pa` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#018x}-{:#018x}]", self.base.as_u64(), self.last())
    }
}

/// The code that called memblock, as `%pS` prints it: `symbol+0xOFF/0xLEN`, optionally
/// followed by ` [module]`; a bare address when kallsyms has no symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caller<'a> {
    /// The function (with any compiler suffix such as `.constprop.0`), or the raw
    /// address text when there was no symbol.
    pub symbol: &'a str,
    /// Offset of the return address inside the function.
    pub offset: Option<u64>,
    /// Length of the function.
    pub length: Option<u64>,
    /// The module, for a symbol of a loadable module.
    pub module: Option<&'a str>,
}

impl Caller<'_> {
    /// Whether the caller is `function` (ignoring the offset).
    pub fn is(&self, function: &str) -> bool {
        self.symbol == function
    }
}

impl fmt::Display for Caller<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol)?;
        if let Some(o) = self.offset {
            write!(f, "+{o:#x}")?;
            if let Some(l) = self.length {
                write!(f, "/{l:#x}")?;
            }
        }
        if let Some(m) = self.module {
            write!(f, " [{m}]")?;
        }
        Ok(())
    }
}

/// Which memblock allocation entry point logged the call. Each prints its own name
/// (`__func__`) first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllocCall {
    /// `memblock_alloc_try_nid` (zeroed; `memblock_alloc`, `memblock_alloc_node`, ...).
    TryNid,
    /// `memblock_alloc_try_nid_raw` (not zeroed; `memblock_alloc_raw`).
    TryNidRaw,
    /// `memblock_alloc_exact_nid_raw`: no fallback to other nodes.
    ExactNidRaw,
    /// `memblock_phys_alloc_range`: no node, physical result.
    PhysAllocRange,
}

impl AllocCall {
    /// Linux's function name, as the log line starts.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TryNid => "memblock_alloc_try_nid",
            Self::TryNidRaw => "memblock_alloc_try_nid_raw",
            Self::ExactNidRaw => "memblock_alloc_exact_nid_raw",
            Self::PhysAllocRange => "memblock_phys_alloc_range",
        }
    }

    /// Whether the line carries a `nid=` field.
    pub const fn has_nid(self) -> bool {
        !matches!(self, Self::PhysAllocRange)
    }
}

/// Where the block of a successful allocation was reserved: the
/// `memblock_reserve: [...] memblock_alloc_range_nid+...` line that follows the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllocResult<'a> {
    /// The block memblock found.
    pub addr: PhysAddr,
    /// The 1-based line of the reservation.
    pub line: usize,
    /// The reservation's caller: one of the two `memblock_reserve` calls inside
    /// `memblock_alloc_range_nid` (the first searches the requested node only, the
    /// second any node), told apart by the offset.
    pub site: Caller<'a>,
}

/// One allocation call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Alloc<'a> {
    /// The entry point.
    pub call: AllocCall,
    /// Bytes asked for.
    pub size: PhysSize,
    /// Alignment asked for.
    pub align: u64,
    /// The node asked for (`None`: `NUMA_NO_NODE`, and always for
    /// [`AllocCall::PhysAllocRange`]).
    pub nid: Option<NodeId>,
    /// Lower bound (`from=`).
    pub from: PhysAddr,
    /// Upper bound (`max_addr=`): 0 is `MEMBLOCK_ALLOC_ACCESSIBLE`, all ones
    /// `MEMBLOCK_ALLOC_ANYWHERE`.
    pub max: AllocLimit,
    /// Who asked.
    pub caller: Caller<'a>,
    /// The reservation that followed, or `None` when no reservation followed: the
    /// allocation failed (callers in early boot then panic, so a failure is usually the
    /// last memblock line of the log).
    pub result: Option<AllocResult<'a>>,
}

impl Alloc<'_> {
    /// The reserved block, if the allocation succeeded.
    pub fn block(&self) -> Option<Range> {
        self.result.map(|r| Range {
            base: r.addr,
            size: self.size,
        })
    }
}

/// A memblock region array, as `memblock_double_array` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionArray {
    /// `memblock.memory`.
    Memory,
    /// `memblock.reserved`.
    Reserved,
    /// `physmem`.
    Physmem,
}

impl RegionArray {
    /// Linux's name of the array.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Reserved => "reserved",
            Self::Physmem => "physmem",
        }
    }
}

/// One memblock debug line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event<'a> {
    /// `memblock_reserve: [range] caller`. A reservation that carries the result of a
    /// logged allocation is folded into that [`Event::Alloc`]; what remains are direct
    /// reservations and those of allocation paths that log nothing themselves
    /// (`memblock_phys_alloc_try_nid`, caller `memblock_alloc_range_nid`).
    Reserve {
        /// The range.
        range: Range,
        /// Who called.
        caller: Caller<'a>,
    },
    /// `memblock_phys_free: [range] caller` (also what `memblock_free` logs).
    Free {
        /// The range.
        range: Range,
        /// Who called.
        caller: Caller<'a>,
    },
    /// `memblock_free_late: [range] caller`: given straight to the page allocator.
    FreeLate {
        /// The range.
        range: Range,
        /// Who called.
        caller: Caller<'a>,
    },
    /// `memblock_add: [range] caller`.
    Add {
        /// The range.
        range: Range,
        /// Who called.
        caller: Caller<'a>,
    },
    /// `memblock_add_node: [range] nid=N flags=X caller`.
    AddNode {
        /// The range.
        range: Range,
        /// The node (`None`: `NUMA_NO_NODE` or `MAX_NUMNODES`).
        nid: Option<NodeId>,
        /// `enum memblock_flags`.
        flags: u32,
        /// Who called.
        caller: Caller<'a>,
    },
    /// `memblock_remove: [range] caller`.
    Remove {
        /// The range.
        range: Range,
        /// Who called.
        caller: Caller<'a>,
    },
    /// `memblock_physmem_add: [range] caller`.
    PhysmemAdd {
        /// The range.
        range: Range,
        /// Who called.
        caller: Caller<'a>,
    },
    /// An allocation call and its result.
    Alloc(Alloc<'a>),
    /// `memblock: NAME is doubled to N at [range]` (`memblock_double_array`).
    ArrayDoubled {
        /// Which array.
        array: RegionArray,
        /// Its new capacity in regions.
        entries: u64,
        /// Where the new array is (its bytes, not page rounded).
        range: Range,
    },
    /// `memblock: Failed to double NAME array from A to B entries !`.
    ArrayDoubleFailed {
        /// Which array.
        array: RegionArray,
        /// Capacity before.
        from: u64,
        /// Capacity wanted.
        to: u64,
    },
}

impl Event<'_> {
    /// The caller, for events that name one.
    pub fn caller(&self) -> Option<&Caller<'_>> {
        match self {
            Self::Reserve { caller, .. }
            | Self::Free { caller, .. }
            | Self::FreeLate { caller, .. }
            | Self::Add { caller, .. }
            | Self::AddNode { caller, .. }
            | Self::Remove { caller, .. }
            | Self::PhysmemAdd { caller, .. } => Some(caller),
            Self::Alloc(a) => Some(&a.caller),
            Self::ArrayDoubled { .. } | Self::ArrayDoubleFailed { .. } => None,
        }
    }
}

/// An event and the 1-based line it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Record<'a> {
    /// 1-based line number in the log.
    pub line: usize,
    /// What the line said.
    pub event: Event<'a>,
}
