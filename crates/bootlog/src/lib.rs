//! Linux 6.1 `memblock=debug` boot logs: parse them, rebuild the per-CPU placement a
//! real boot made, and compare it with a plan.
//!
//! A ppc64 kernel booted with `memblock=debug` prints every memblock call with its
//! caller. [`parse`] turns a console log, `dmesg` output or a journal into typed
//! [`Event`]s (every debug form of Linux 6.1's `mm/memblock.c`; a line that starts like
//! one and does not parse is a [`ParseError`] naming the line) and the boot facts a
//! planner needs ([`LogFacts`]). [`observe`] recognises Linux 6.1's per-CPU sequence in
//! the events (pacas, lppacas, SLB shadows, stacks, the paca pointer array,
//! `cpu_to_phys_id`, radix page tables) and reports it as a [`percpu::Placement`], the
//! report the planner produces, so the same renderers print a real boot. [`compare`]
//! matches a plan against it structure by structure, and [`render_log`] writes a
//! placement as the log lines Linux would print, which [`parse`] reads back.
//!
//! ```
//! let log = bootlog::parse(
//!     "[    0.000000] memblock_alloc_try_nid_raw: 16384 bytes align=0x80 nid=-1 \
//!      from=0x0000000000000000 max_addr=0x0000000000000000 allocate_paca_ptrs+0x58/0xa4\n\
//!      [    0.000000] memblock_reserve: [0x00000000bfffc000-0x00000000bfffffff] \
//!      memblock_alloc_range_nid+0x10c/0x1dc\n",
//! )?;
//! assert_eq!(log.facts.nr_cpu_ids, Some(2048));
//! let (_, alloc) = log.allocs().next().unwrap();
//! assert_eq!(alloc.result.unwrap().addr.as_u64(), 0xbfff_c000);
//! # Ok::<(), bootlog::ParseError>(())
//! ```
//!
//! # What a log cannot say
//!
//! memblock does not print nodes. A structure's node comes from a topology when one
//! is given; without one, [`BootLog::landed_on_requested_node`] tells it for
//! allocations that asked for a node: `memblock_alloc_range_nid` reserves at a
//! different call site (a different caller offset) after its fallback search, so an
//! allocation reserved at the first site is on the node it asked for. Calls that print
//! nothing (`memblock_set_node`, the current limit, bottom-up mode,
//! `memblock_phys_alloc_try_nid` itself) are absent from the events.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod compare;
mod event;
mod facts;
mod observe;
mod parse;
mod render;
mod totals;

pub use compare::{compare, Comparison, Entry, Side, Summary, Tally, Verdict};
pub use event::{Alloc, AllocCall, AllocResult, Caller, Event, Range, Record, RegionArray};
pub use facts::{Block, LogFacts, MemblockDump, Mmu};
pub use observe::{observe, ObserveConfig, ObserveError, Observed};
pub use parse::{message, parse, BootLog, ParseError, ParseErrorKind};
pub use render::{render_log, Prefix, RenderError};
pub use totals::RangeSet;
