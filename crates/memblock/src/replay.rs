//! The replay language of `numaboot memblock replay`: one memblock operation per line.
//!
//! ```text
//! add BASE SIZE [NID]          # memblock_add / memblock_add_node(.., NID, MEMBLOCK_NONE)
//! reserve BASE SIZE            # memblock_reserve
//! remove BASE SIZE             # memblock_remove
//! free BASE SIZE               # memblock_phys_free
//! hotplug BASE SIZE            # memblock_mark_hotplug
//! clear_hotplug BASE SIZE      # memblock_clear_hotplug
//! nomap BASE SIZE              # memblock_mark_nomap
//! clear_nomap BASE SIZE        # memblock_clear_nomap
//! set_node BASE SIZE NID       # memblock_set_node(.., &memblock.memory, NID)
//! limit ADDR                   # memblock_set_current_limit
//! bottom_up 0|1                # memblock_set_bottom_up
//! movable 0|1                  # the movable_node kernel parameter
//! alloc SIZE ALIGN START END NID EXACT   # memblock_alloc_range_nid
//! alloc_try_nid SIZE ALIGN MIN MAX NID   # memblock_alloc_try_nid
//! dump                         # print both arrays
//! config KEY VALUE             # before any other operation: page_size, initial_regions,
//!                              # smp_cache_bytes or allow_resize (see memblock::Config)
//! ```
//!
//! Numbers are decimal or `0x` hex. As an extension, `_` may separate digits
//! (`0x4000_0000`); the golden files do not use it. `END`/`MAX` may also be
//! `accessible` or `anywhere`.
//! A node id is `0..=255`; where "no node" is meaningful, `-1` (`NUMA_NO_NODE`) and `256`
//! (`MAX_NUMNODES`) are accepted too. An allocation treats both as "any node" (Linux
//! turns `MAX_NUMNODES` into `NUMA_NO_NODE` there); `add` stores the value given, as
//! `memblock_add_node` does, and a region storing -1 does not merge with one storing
//! 256. `EXACT` is `0` or `1`. `#` starts a comment.
//!
//! Output: an allocation prints `alloc -> 0x...` or `alloc -> fail`; a region operation
//! that fails (array full and unable to grow) prints `<op> -> fail`; `dump` prints
//! `memory:`, one `BASE SIZE FLAGS NID` line per region, `total SIZE`, and the same for
//! `reserved:`. All output numbers are lowercase `0x` hex, the node id included: the
//! 32 bits Linux stores, read unsigned (`0x100` = `MAX_NUMNODES`, what `memblock_add`
//! and `memblock_reserve` store; `0xffffffff` = `NUMA_NO_NODE`, from `add BASE SIZE
//! -1`).
//!
//! A script is UTF-8 text ([`run`]); read as bytes ([`run_bytes`]), a line that is not
//! UTF-8 is malformed like any other. [`Replayer`] takes a script one line at a time
//! and prints into any [`core::fmt::Write`] sink as it goes; `numaboot memblock replay`
//! streams through it.

use alloc::string::String;
use core::fmt::{self, Write};

use crate::{AllocLimit, Memblock, NodeId, PhysAddr, PhysSize, RegionNid};

/// One parsed line.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `add BASE SIZE [NID]`: `memblock_add`, or `memblock_add_node` with a node.
    Add {
        /// Base.
        base: PhysAddr,
        /// Size.
        size: PhysSize,
        /// The node id to store: `MAX_NUMNODES` without `NID` or for `256`
        /// (`memblock_add`), `NUMA_NO_NODE` for `-1`.
        nid: RegionNid,
    },
    /// A range operation without further arguments.
    Range {
        /// Which operation.
        kind: RangeOp,
        /// Base.
        base: PhysAddr,
        /// Size.
        size: PhysSize,
    },
    /// `set_node BASE SIZE NID`.
    SetNode {
        /// Base.
        base: PhysAddr,
        /// Size.
        size: PhysSize,
        /// Node.
        nid: NodeId,
    },
    /// `limit ADDR`.
    Limit(PhysAddr),
    /// `bottom_up 0|1`.
    BottomUp(bool),
    /// `movable 0|1`.
    Movable(bool),
    /// `alloc SIZE ALIGN START END NID EXACT`.
    Alloc {
        /// Size.
        size: PhysSize,
        /// Alignment.
        align: u64,
        /// Lower bound.
        start: PhysAddr,
        /// Upper bound.
        end: AllocLimit,
        /// Preferred node.
        nid: Option<NodeId>,
        /// No fallback to other nodes.
        exact: bool,
    },
    /// `alloc_try_nid SIZE ALIGN MIN MAX NID`.
    AllocTryNid {
        /// Size.
        size: PhysSize,
        /// Alignment.
        align: u64,
        /// Preferred lower bound (dropped on failure).
        min: PhysAddr,
        /// Upper bound, clamped to the current limit.
        max: AllocLimit,
        /// Preferred node.
        nid: Option<NodeId>,
    },
    /// `dump`.
    Dump,
    /// `config KEY VALUE`: a [`crate::Config`] field, before any other operation.
    Config(ConfigKey, u64),
}

impl fmt::Display for Op {
    /// The line in the replay language, numbers in lowercase `0x` hex; [`parse_line`]
    /// reads it back as the same `Op`. `add` without a node is written without `NID`
    /// (`memblock_add`, the same call as `NID` 256); a "no node" request is `-1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Nid(Option<NodeId>);
        impl fmt::Display for Nid {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Some(n) => write!(f, "{}", n.get()),
                    None => f.write_str("-1"),
                }
            }
        }
        match *self {
            Self::Add { base, size, nid } => match nid {
                RegionNid::MaxNumNodes => write!(f, "add {base} {size}"),
                RegionNid::NumaNoNode => write!(f, "add {base} {size} -1"),
                RegionNid::Node(n) => write!(f, "add {base} {size} {}", n.get()),
            },
            Self::Range { kind, base, size } => write!(f, "{} {base} {size}", kind.name()),
            Self::SetNode { base, size, nid } => {
                write!(f, "set_node {base} {size} {}", nid.get())
            }
            Self::Limit(a) => write!(f, "limit {a}"),
            Self::BottomUp(b) => write!(f, "bottom_up {}", u8::from(b)),
            Self::Movable(b) => write!(f, "movable {}", u8::from(b)),
            Self::Alloc {
                size,
                align,
                start,
                end,
                nid,
                exact,
            } => write!(
                f,
                "alloc {size} {align:#x} {start} {end} {} {}",
                Nid(nid),
                u8::from(exact)
            ),
            Self::AllocTryNid {
                size,
                align,
                min,
                max,
                nid,
            } => write!(
                f,
                "alloc_try_nid {size} {align:#x} {min} {max} {}",
                Nid(nid)
            ),
            Self::Dump => f.write_str("dump"),
            Self::Config(key, value) => {
                let name = match key {
                    ConfigKey::PageSize => "page_size",
                    ConfigKey::InitialRegions => "initial_regions",
                    ConfigKey::SmpCacheBytes => "smp_cache_bytes",
                    ConfigKey::AllowResize => "allow_resize",
                };
                match key {
                    ConfigKey::AllowResize => write!(f, "config {name} {}", u8::from(value != 0)),
                    _ => write!(f, "config {name} {value:#x}"),
                }
            }
        }
    }
}

/// The [`crate::Config`] fields a replay may set.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKey {
    /// [`crate::Config::page_size`].
    PageSize,
    /// [`crate::Config::initial_regions`].
    InitialRegions,
    /// [`crate::Config::smp_cache_bytes`].
    SmpCacheBytes,
    /// [`crate::Config::allow_resize`] (0 or 1).
    AllowResize,
}

/// The operations that take only `BASE SIZE`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOp {
    /// `reserve`.
    Reserve,
    /// `remove`.
    Remove,
    /// `free`.
    Free,
    /// `hotplug`.
    Hotplug,
    /// `clear_hotplug`.
    ClearHotplug,
    /// `nomap`.
    Nomap,
    /// `clear_nomap`.
    ClearNomap,
}

impl RangeOp {
    fn name(self) -> &'static str {
        match self {
            Self::Reserve => "reserve",
            Self::Remove => "remove",
            Self::Free => "free",
            Self::Hotplug => "hotplug",
            Self::ClearHotplug => "clear_hotplug",
            Self::Nomap => "nomap",
            Self::ClearNomap => "clear_nomap",
        }
    }
}

/// Why a line is malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The first word is not an operation.
    UnknownOp(String),
    /// Too few or too many arguments.
    Arity {
        /// The operation.
        op: &'static str,
        /// What it takes.
        usage: &'static str,
    },
    /// `config` after another operation.
    LateConfig,
    /// The line is not valid UTF-8 ([`run_bytes`]).
    NotUtf8,
    /// An argument is not what the operation takes.
    BadArg {
        /// The argument's name.
        what: &'static str,
        /// The text.
        text: String,
        /// Why it was rejected.
        why: &'static str,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownOp(w) => write!(f, "unknown operation `{w}`"),
            Self::Arity { op, usage } => write!(f, "`{op}` takes: {op} {usage}"),
            Self::BadArg { what, text, why } => write!(f, "bad {what} `{text}`: {why}"),
            Self::LateConfig => f.write_str("`config` must come before every other operation"),
            Self::NotUtf8 => f.write_str("not UTF-8"),
        }
    }
}

impl core::error::Error for ParseError {}

fn bad(what: &'static str, text: &str, why: &'static str) -> ParseError {
    ParseError::BadArg {
        what,
        text: String::from(text),
        why,
    }
}

fn num(what: &'static str, text: &str) -> Result<u64, ParseError> {
    phys::parse_u64(text).map_err(|e| {
        bad(
            what,
            text,
            match e {
                phys::ParseNumberError::Empty => "empty number",
                phys::ParseNumberError::InvalidDigit => "not a decimal or 0x-hex number",
                phys::ParseNumberError::Overflow => "does not fit in 64 bits",
            },
        )
    })
}

fn flag(what: &'static str, text: &str) -> Result<bool, ParseError> {
    match text {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(bad(what, text, "must be 0 or 1")),
    }
}

fn node(text: &str) -> Result<NodeId, ParseError> {
    let n = num("node id", text)?;
    u32::try_from(n)
        .ok()
        .and_then(NodeId::new)
        .ok_or_else(|| bad("node id", text, "must be below MAX_NUMNODES (256)"))
}

fn opt_node(text: &str) -> Result<Option<NodeId>, ParseError> {
    if text == "-1" {
        return Ok(None);
    }
    let n = num("node id", text)?;
    if n == u64::from(NodeId::MAX_NUMNODES) {
        return Ok(None);
    }
    u32::try_from(n)
        .ok()
        .and_then(NodeId::new)
        .map(Some)
        .ok_or_else(|| bad("node id", text, "must be 0..=255, -1 or 256"))
}

/// The node id `add` stores: Linux keeps `-1` and `256` apart in the region.
fn region_node(text: &str) -> Result<RegionNid, ParseError> {
    if text == "-1" {
        return Ok(RegionNid::NumaNoNode);
    }
    opt_node(text).map(RegionNid::from)
}

fn limit(what: &'static str, text: &str) -> Result<AllocLimit, ParseError> {
    Ok(match text {
        "accessible" => AllocLimit::Accessible,
        "anywhere" => AllocLimit::Anywhere,
        _ => AllocLimit::Addr(PhysAddr::new(num(what, text)?)),
    })
}

/// Parses one line; `Ok(None)` for a blank or comment-only line.
pub fn parse_line(line: &str) -> Result<Option<Op>, ParseError> {
    let code = line.split('#').next().unwrap_or("");
    let mut words = code.split_whitespace();
    let Some(op) = words.next() else {
        return Ok(None);
    };
    let mut args: [&str; 6] = [""; 6];
    let mut n = 0;
    for w in words {
        match args.get_mut(n) {
            Some(slot) => *slot = w,
            None => return Err(arity_error(op)),
        }
        n += 1;
    }
    let [a0, a1, a2, a3, a4, a5] = args;
    let want = |usage: &'static str, counts: &[usize], name: &'static str| {
        if counts.contains(&n) {
            Ok(())
        } else {
            Err(ParseError::Arity { op: name, usage })
        }
    };
    let range = |kind: RangeOp| -> Result<Option<Op>, ParseError> {
        want("BASE SIZE", &[2], kind.name())?;
        Ok(Some(Op::Range {
            kind,
            base: PhysAddr::new(num("base", a0)?),
            size: PhysSize::new(num("size", a1)?),
        }))
    };
    match op {
        "add" => {
            want("BASE SIZE [NID]", &[2, 3], "add")?;
            let nid = if n == 3 {
                region_node(a2)?
            } else {
                RegionNid::MaxNumNodes
            };
            Ok(Some(Op::Add {
                base: PhysAddr::new(num("base", a0)?),
                size: PhysSize::new(num("size", a1)?),
                nid,
            }))
        }
        "reserve" => range(RangeOp::Reserve),
        "remove" => range(RangeOp::Remove),
        "free" => range(RangeOp::Free),
        "hotplug" => range(RangeOp::Hotplug),
        "clear_hotplug" => range(RangeOp::ClearHotplug),
        "nomap" => range(RangeOp::Nomap),
        "clear_nomap" => range(RangeOp::ClearNomap),
        "set_node" => {
            want("BASE SIZE NID", &[3], "set_node")?;
            Ok(Some(Op::SetNode {
                base: PhysAddr::new(num("base", a0)?),
                size: PhysSize::new(num("size", a1)?),
                nid: node(a2)?,
            }))
        }
        "limit" => {
            want("ADDR", &[1], "limit")?;
            Ok(Some(Op::Limit(PhysAddr::new(num("limit", a0)?))))
        }
        "bottom_up" => {
            want("0|1", &[1], "bottom_up")?;
            Ok(Some(Op::BottomUp(flag("bottom_up", a0)?)))
        }
        "movable" => {
            want("0|1", &[1], "movable")?;
            Ok(Some(Op::Movable(flag("movable", a0)?)))
        }
        "alloc" => {
            want("SIZE ALIGN START END NID EXACT", &[6], "alloc")?;
            Ok(Some(Op::Alloc {
                size: PhysSize::new(num("size", a0)?),
                align: num("align", a1)?,
                start: PhysAddr::new(num("start", a2)?),
                end: limit("end", a3)?,
                nid: opt_node(a4)?,
                exact: flag("exact", a5)?,
            }))
        }
        "alloc_try_nid" => {
            want("SIZE ALIGN MIN MAX NID", &[5], "alloc_try_nid")?;
            Ok(Some(Op::AllocTryNid {
                size: PhysSize::new(num("size", a0)?),
                align: num("align", a1)?,
                min: PhysAddr::new(num("min", a2)?),
                max: limit("max", a3)?,
                nid: opt_node(a4)?,
            }))
        }
        "dump" => {
            want("(no arguments)", &[0], "dump")?;
            Ok(Some(Op::Dump))
        }
        "config" => {
            want("KEY VALUE", &[2], "config")?;
            let key = match a0 {
                "page_size" => ConfigKey::PageSize,
                "initial_regions" => ConfigKey::InitialRegions,
                "smp_cache_bytes" => ConfigKey::SmpCacheBytes,
                "allow_resize" => ConfigKey::AllowResize,
                _ => {
                    return Err(bad(
                        "config key",
                        a0,
                        "must be page_size, initial_regions, smp_cache_bytes or allow_resize",
                    ))
                }
            };
            let value = match key {
                ConfigKey::AllowResize => u64::from(flag("allow_resize", a1)?),
                _ => num("config value", a1)?,
            };
            Ok(Some(Op::Config(key, value)))
        }
        other => Err(ParseError::UnknownOp(String::from(other))),
    }
}

fn arity_error(op: &str) -> ParseError {
    match parse_line(op) {
        // Re-parse the bare word to find its usage text; an unknown word stays unknown.
        Err(e @ ParseError::Arity { .. }) | Err(e @ ParseError::UnknownOp(_)) => e,
        _ => ParseError::Arity {
            op: "dump",
            usage: "(no arguments)",
        },
    }
}

/// What an operation did, beyond what it printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded, or has no result (`limit`, `bottom_up`, `movable`, `dump`,
    /// `config`).
    Done,
    /// A region operation failed (it printed `<op> -> fail`), or an allocation failed
    /// with [`crate::AllocError::Fatal`] or [`crate::AllocError::ArrayFull`] (it printed
    /// `alloc -> fail`; the error is [`crate::AllocError::region_error`]); the state is
    /// unchanged.
    Failed(crate::Error),
    /// An allocation found no fit (it printed `alloc -> fail`).
    NoFit,
}

/// Applies `op` to `mb`, writing what it prints.
pub fn apply(mb: &mut Memblock, op: &Op, out: &mut impl Write) -> fmt::Result {
    execute(mb, op, out).map(|_| ())
}

/// As [`apply`], and says how the operation ended: tools comparing a replay with
/// another implementation need to know which failure a `-> fail` line stands for.
pub fn execute(mb: &mut Memblock, op: &Op, out: &mut impl Write) -> Result<Outcome, fmt::Error> {
    let result = |out: &mut dyn Write, name: &str, r: Result<(), crate::Error>| match r {
        Ok(()) => Ok(Outcome::Done),
        Err(e) => writeln!(out, "{name} -> fail").map(|()| Outcome::Failed(e)),
    };
    match *op {
        Op::Add { base, size, nid } => {
            // `memblock_add` is `memblock_add_node(.., MAX_NUMNODES, MEMBLOCK_NONE)`.
            let r = mb.add_node(base, size, nid, crate::RegionFlags::NONE);
            result(out, "add", r)
        }
        Op::Range { kind, base, size } => {
            let r = match kind {
                RangeOp::Reserve => mb.reserve(base, size),
                RangeOp::Remove => mb.remove(base, size),
                RangeOp::Free => mb.free(base, size),
                RangeOp::Hotplug => mb.mark_hotplug(base, size),
                RangeOp::ClearHotplug => mb.clear_hotplug(base, size),
                RangeOp::Nomap => mb.mark_nomap(base, size),
                RangeOp::ClearNomap => mb.clear_nomap(base, size),
            };
            result(out, kind.name(), r)
        }
        Op::SetNode { base, size, nid } => {
            let r = mb.set_node(base, size, nid);
            result(out, "set_node", r)
        }
        Op::Limit(a) => {
            mb.set_current_limit(a);
            Ok(Outcome::Done)
        }
        Op::BottomUp(b) => {
            mb.set_bottom_up(b);
            Ok(Outcome::Done)
        }
        Op::Movable(b) => {
            mb.set_movable_node(b);
            Ok(Outcome::Done)
        }
        Op::Alloc {
            size,
            align,
            start,
            end,
            nid,
            exact,
        } => print_alloc(out, mb.alloc_range_nid(size, align, start, end, nid, exact)),
        Op::AllocTryNid {
            size,
            align,
            min,
            max,
            nid,
        } => print_alloc(out, mb.alloc_try_nid(size, align, min, max, nid)),
        Op::Dump => dump(mb, out).map(|()| Outcome::Done),
        Op::Config(key, value) => {
            // Only meaningful on a fresh memblock; `run` enforces that.
            let mut c = mb.config();
            match key {
                ConfigKey::PageSize => c.page_size = value,
                ConfigKey::InitialRegions => {
                    c.initial_regions = usize::try_from(value).unwrap_or(usize::MAX)
                }
                ConfigKey::SmpCacheBytes => c.smp_cache_bytes = value,
                ConfigKey::AllowResize => c.allow_resize = value != 0,
            }
            *mb = Memblock::with_config(c);
            Ok(Outcome::Done)
        }
    }
}

fn print_alloc(
    out: &mut impl Write,
    r: Result<PhysAddr, crate::AllocError>,
) -> Result<Outcome, fmt::Error> {
    match r {
        Ok(a) => {
            out.write_str("alloc -> ")?;
            write_hex(out, a.as_u64())?;
            out.write_str("\n")?;
            Ok(Outcome::Done)
        }
        Err(e) => out
            .write_str("alloc -> fail\n")
            .map(|()| e.region_error().map_or(Outcome::NoFit, Outcome::Failed)),
    }
}

/// `{:#x}` without the formatting machinery: allocation results are most of what a
/// long replay prints.
fn write_hex(out: &mut impl Write, v: u64) -> fmt::Result {
    let mut buf = [0u8; 18];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    i -= 2;
    buf[i] = b'0';
    buf[i + 1] = b'x';
    // Only ASCII digits were written.
    out.write_str(core::str::from_utf8(&buf[i..]).map_err(|_| fmt::Error)?)
}

/// Writes both arrays in the replay's `dump` format (the [`Memblock`] `Display`).
pub fn dump(mb: &Memblock, out: &mut impl Write) -> fmt::Result {
    write!(out, "{mb}")
}

/// A malformed line: its 1-based number and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub error: ParseError,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

impl core::error::Error for LineError {}

/// Why [`Replayer::line`] stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The line is malformed; nothing of it was executed.
    Malformed(LineError),
    /// The output sink refused a write. `core::fmt::Error` carries no reason: the
    /// owner of the sink keeps it (the CLI's adapter keeps the `io::Error`). The
    /// operation itself was applied.
    Write,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "{e}"),
            Self::Write => f.write_str("writing the replay's output failed"),
        }
    }
}

impl core::error::Error for ReplayError {}

impl From<fmt::Error> for ReplayError {
    fn from(_: fmt::Error) -> Self {
        Self::Write
    }
}

/// A replay fed one line at a time, printing into any [`core::fmt::Write`] sink as it
/// goes: the streaming form of [`run`] and [`run_bytes`], which are built on it.
///
/// It allocates nothing per line (only a malformed line's error carries text), so a
/// caller that reuses one line buffer and writes into a buffered sink replays a script
/// of any length in memory proportional to the memblock state, not to the script.
///
/// ```
/// use memblock::replay::Replayer;
///
/// let mut r = Replayer::new();
/// let mut out = String::new();
/// for line in ["add 0 0x20000", "alloc 0x100 0x100 0 anywhere -1 0"] {
///     r.line(line, &mut out).unwrap();
/// }
/// assert_eq!(out, "alloc -> 0x1ff00\n");
/// r.finish(&mut out).unwrap(); // the implied final dump
/// assert!(out.ends_with("reserved:\n0x1ff00 0x100 0x0 0x100\ntotal 0x100\n"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Replayer {
    mb: Memblock,
    /// Whether an operation other than `config` has run (`config` is refused after).
    started: bool,
    /// Lines fed so far, malformed ones included.
    lines: usize,
}

impl Replayer {
    /// A replay on a fresh [`Memblock::new`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Replays one line (its terminator, if still there, is whitespace to the parser),
    /// writing what it prints. `Ok(None)` for a blank or comment-only line, otherwise
    /// how the operation ended. A malformed line changes nothing; the replay can go on,
    /// but [`run`] and the CLI stop there.
    pub fn line(
        &mut self,
        line: &str,
        out: &mut impl Write,
    ) -> Result<Option<Outcome>, ReplayError> {
        self.lines += 1;
        let op = match parse_line(line) {
            Ok(Some(Op::Config(..))) if self.started => Err(ParseError::LateConfig),
            other => other,
        };
        match op {
            Ok(Some(op)) => {
                self.started |= !matches!(op, Op::Config(..));
                Ok(Some(execute(&mut self.mb, &op, out)?))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(ReplayError::Malformed(LineError {
                line: self.lines,
                error,
            })),
        }
    }

    /// As [`Replayer::line`], for one line read as bytes, with or without its `\n`:
    /// a `\r` before the `\n` is dropped, and a line that is not UTF-8 is malformed
    /// ([`ParseError::NotUtf8`]). This is how [`run_bytes`] and `numaboot memblock
    /// replay` read scripts.
    pub fn line_bytes(
        &mut self,
        line: &[u8],
        out: &mut impl Write,
    ) -> Result<Option<Outcome>, ReplayError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match core::str::from_utf8(line) {
            Ok(text) => self.line(text, out),
            Err(_) => {
                self.lines += 1;
                Err(ReplayError::Malformed(LineError {
                    line: self.lines,
                    error: ParseError::NotUtf8,
                }))
            }
        }
    }

    /// Writes the dump every replay ends with.
    pub fn finish(&self, out: &mut impl Write) -> fmt::Result {
        dump(&self.mb, out)
    }

    /// The state so far.
    pub fn memblock(&self) -> &Memblock {
        &self.mb
    }

    /// How many lines were fed, malformed ones included: the number of the last one.
    pub fn lines(&self) -> usize {
        self.lines
    }
}

/// Replays a whole script on a fresh [`Memblock::new`], returning what it prints
/// (including the implied final `dump`), or the first malformed line together with
/// the output printed before it.
pub fn run(script: &str) -> Result<String, (String, LineError)> {
    let mut r = Replayer::new();
    let mut out = String::new();
    for line in script.lines() {
        match r.line(line, &mut out) {
            Err(ReplayError::Malformed(e)) => return Err((out, e)),
            // Writing to a String cannot fail.
            Ok(_) | Err(ReplayError::Write) => {}
        }
    }
    let _ = r.finish(&mut out);
    Ok(out)
}

/// As [`run`], for a script that may not be UTF-8 (a file read as bytes): the lines
/// before the first one that is not valid UTF-8 are replayed, and that line is
/// reported as [`ParseError::NotUtf8`]. Lines end at `\n`; a `\r` before it is
/// dropped (whitespace to the parser anyway).
pub fn run_bytes(script: &[u8]) -> Result<String, (String, LineError)> {
    let mut r = Replayer::new();
    let mut out = String::new();
    // No UTF-8 sequence contains the byte `\n`, so splitting first is exact; one final
    // `\n` does not start another line.
    let body = script.strip_suffix(b"\n").unwrap_or(script);
    if !script.is_empty() {
        for line in body.split(|&b| b == b'\n') {
            match r.line_bytes(line, &mut out) {
                Err(ReplayError::Malformed(e)) => return Err((out, e)),
                Ok(_) | Err(ReplayError::Write) => {}
            }
        }
    }
    let _ = r.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_operation() {
        let p = PhysAddr::new;
        let z = PhysSize::new;
        assert_eq!(parse_line("  # only a comment"), Ok(None));
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(
            parse_line("add 0x1000 4096 # trailing comment"),
            Ok(Some(Op::Add {
                base: p(0x1000),
                size: z(4096),
                nid: RegionNid::MaxNumNodes
            }))
        );
        assert_eq!(
            parse_line("add 0 1 3"),
            Ok(Some(Op::Add {
                base: p(0),
                size: z(1),
                nid: RegionNid::from(NodeId::new(3))
            }))
        );
        // `add` keeps Linux's two "no node" values apart.
        for (text, nid) in [
            ("-1", RegionNid::NumaNoNode),
            ("256", RegionNid::MaxNumNodes),
            ("0x100", RegionNid::MaxNumNodes),
        ] {
            assert_eq!(
                parse_line(&alloc::format!("add 0 1 {text}")),
                Ok(Some(Op::Add {
                    base: p(0),
                    size: z(1),
                    nid
                }))
            );
        }
        // -1 and MAX_NUMNODES both mean "no node".
        for none in ["-1", "256", "0x100"] {
            let line = alloc::format!("alloc 1 2 3 anywhere {none} 1");
            assert_eq!(
                parse_line(&line),
                Ok(Some(Op::Alloc {
                    size: z(1),
                    align: 2,
                    start: p(3),
                    end: AllocLimit::Anywhere,
                    nid: None,
                    exact: true
                }))
            );
        }
        assert_eq!(
            parse_line("alloc_try_nid 0x400 0x400 0 accessible 7"),
            Ok(Some(Op::AllocTryNid {
                size: z(0x400),
                align: 0x400,
                min: p(0),
                max: AllocLimit::Accessible,
                nid: NodeId::new(7)
            }))
        );
        assert_eq!(
            parse_line("alloc 1 0 0 0x1000_0000 0 0"),
            Ok(Some(Op::Alloc {
                size: z(1),
                align: 0,
                start: p(0),
                end: AllocLimit::Addr(p(0x1000_0000)),
                nid: NodeId::new(0),
                exact: false
            }))
        );
        assert_eq!(parse_line("limit 0x100"), Ok(Some(Op::Limit(p(0x100)))));
        assert_eq!(parse_line("bottom_up 1"), Ok(Some(Op::BottomUp(true))));
        assert_eq!(parse_line("movable 0"), Ok(Some(Op::Movable(false))));
        assert_eq!(parse_line("dump"), Ok(Some(Op::Dump)));
        assert_eq!(
            parse_line("set_node 1 2 255"),
            Ok(Some(Op::SetNode {
                base: p(1),
                size: z(2),
                nid: NodeId::new(255).unwrap()
            }))
        );
        assert_eq!(
            parse_line("config allow_resize 0"),
            Ok(Some(Op::Config(ConfigKey::AllowResize, 0)))
        );
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            "add",
            "add 1",
            "add 1 2 3 4",
            "add 1 2 257",
            "add -1 2",
            "set_node 1 2 256",
            "set_node 1 2 -1",
            "reserve 0x 1",
            "bottom_up yes",
            "alloc 1 2 3 4 5",
            "alloc 1 2 3 4 5 6 7 8",
            "alloc 1 2 3 nowhere -1 0",
            "alloc 1 2 3 anywhere -2 0",
            "dump 1",
            "config page_size",
            "config nothing 1",
            "ADD 1 2",
        ] {
            assert!(parse_line(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn run_prints_ops_then_the_implied_dump_and_stops_at_errors() {
        let out = run("add 0 0x20000\nalloc 0x100 0x100 0 anywhere -1 0\n").unwrap();
        assert_eq!(
            out,
            "alloc -> 0x1ff00\nmemory:\n0x0 0x20000 0x0 0x100\ntotal 0x20000\n\
             reserved:\n0x1ff00 0x100 0x0 0x100\ntotal 0x100\n"
        );
        let (out, err) = run("add 0 0x20000\ndump\n\nbogus\ndump\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(out.starts_with("memory:\n") && out.matches("memory:").count() == 1);
        let (_, err) = run("dump\nconfig page_size 0x1000\n").unwrap_err();
        assert_eq!(err.error, ParseError::LateConfig);
    }

    #[test]
    fn run_bytes_reports_the_first_line_that_is_not_utf8() {
        let (out, err) =
            run_bytes(b"add 0 0x20000\r\nalloc 0x100 0x100 0 anywhere -1 0\n# caf\xe9\nbogus\n")
                .unwrap_err();
        assert_eq!(
            err,
            LineError {
                line: 3,
                error: ParseError::NotUtf8
            }
        );
        assert_eq!(alloc::format!("{err}"), "line 3: not UTF-8");
        assert_eq!(out, "alloc -> 0x1ff00\n");
        // Valid UTF-8 gives what `run` gives, with or without a final newline.
        for script in [
            "",
            "\n",
            "add 0 0x20000",
            "add 0 0x20000\r\n\n# caf\u{e9}\n",
        ] {
            assert_eq!(run_bytes(script.as_bytes()), run(script), "{script:?}");
        }
        let (_, err) = run_bytes(b"\n\n\xff").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn every_operation_prints_as_it_parses() {
        for line in [
            "add 0x0 0x1000",
            "add 0x0 0x1000 -1",
            "add 0x0 0x1000 7",
            "reserve 0x10 0x20",
            "remove 0x10 0x20",
            "free 0x10 0x20",
            "hotplug 0x10 0x20",
            "clear_hotplug 0x10 0x20",
            "nomap 0x10 0x20",
            "clear_nomap 0x10 0x20",
            "set_node 0x10 0x20 255",
            "limit 0xffffffffffffffff",
            "bottom_up 1",
            "movable 0",
            "alloc 0x100 0x0 0x0 0x0 -1 1",
            "alloc 0x100 0x80 0x1000 anywhere 3 0",
            "alloc_try_nid 0x100 0x400 0x0 accessible 0",
            "dump",
            "config page_size 0x1000",
            "config initial_regions 0x4",
            "config smp_cache_bytes 0x80",
            "config allow_resize 0",
        ] {
            let op = parse_line(line).unwrap().unwrap();
            assert_eq!(alloc::format!("{op}"), line);
        }
        // The same operation spelled otherwise prints in the one spelling.
        let op = parse_line("add 0 4096 256 # memblock_add_node(.., MAX_NUMNODES, ..)");
        assert_eq!(alloc::format!("{}", op.unwrap().unwrap()), "add 0x0 0x1000");
    }

    /// A sink that takes `room` bytes, then refuses.
    struct Full {
        room: usize,
        got: String,
    }

    impl Write for Full {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            if s.len() > self.room {
                return Err(fmt::Error);
            }
            self.room -= s.len();
            self.got.push_str(s);
            Ok(())
        }
    }

    #[test]
    fn replayer_reports_a_refused_write_and_keeps_the_operation() {
        let mut r = Replayer::new();
        let mut sink = Full {
            room: 4,
            got: String::new(),
        };
        assert_eq!(r.line("add 0 0x20000", &mut sink), Ok(Some(Outcome::Done)));
        assert_eq!(
            r.line_bytes(b"alloc 0x100 0x100 0 anywhere -1 0\r\n", &mut sink),
            Err(ReplayError::Write)
        );
        // The allocation happened; only its line was lost.
        assert_eq!(r.memblock().reserved().len(), 1);
        assert_eq!(r.lines(), 2);
        assert_eq!(r.finish(&mut sink), Err(fmt::Error));
    }

    #[test]
    fn replayer_numbers_lines_and_goes_on_after_a_malformed_one() {
        let mut r = Replayer::new();
        let mut out = String::new();
        assert_eq!(r.line("# nothing", &mut out), Ok(None));
        let err = r.line("bogus", &mut out).unwrap_err();
        assert_eq!(alloc::format!("{err}"), "line 2: unknown operation `bogus`");
        let err = r.line_bytes(b"\xff\n", &mut out).unwrap_err();
        assert_eq!(alloc::format!("{err}"), "line 3: not UTF-8");
        assert_eq!(r.line("dump", &mut out), Ok(Some(Outcome::Done)));
        assert!(out.starts_with("memory:\n"));
    }

    #[test]
    fn add_keeps_numa_no_node_apart_from_max_numnodes() {
        // Touching ranges: -1 and 256 stay two regions, -1 and -1 merge.
        let out = run(
            "add 0 0x10000 -1\nadd 0x10000 0x10000\nadd 0x20000 0x10000 -1\n\
                       add 0x30000 0x10000 -1\n",
        )
        .unwrap();
        let nids: alloc::vec::Vec<&str> = out
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("total"))
            .filter_map(|l| l.split(' ').nth(3))
            .collect();
        assert_eq!(nids, ["0xffffffff", "0x100", "0xffffffff"]);
    }

    proptest::proptest! {
        /// Any text: parsing and replaying never panic.
        #[test]
        fn arbitrary_scripts_never_panic(lines in proptest::collection::vec(
            proptest::string::string_regex(
                "(add|reserve|remove|free|hotplug|nomap|clear_nomap|set_node|limit|bottom_up|movable|alloc|alloc_try_nid|dump|config)( (0x[0-9a-f]{1,17}|[0-9]{1,21}|-1|anywhere|accessible|page_size|initial_regions)){0,7}"
            ).unwrap(),
            0..30,
        )) {
            let script = lines.join("\n");
            let _ = run(&script);
        }

        /// Every line `parse_line` accepts prints (`Display`) as a line it reads back
        /// as the same operation.
        #[test]
        fn display_reads_back(line in proptest::string::string_regex(
            "(add|reserve|remove|free|hotplug|clear_hotplug|nomap|clear_nomap|set_node|limit|bottom_up|movable|alloc|alloc_try_nid|dump|config)( (0x[0-9a-f]{1,16}|[0-9]{1,3}|-1|0|1|anywhere|accessible|page_size|initial_regions|smp_cache_bytes|allow_resize)){0,6}"
        ).unwrap()) {
            if let Ok(Some(op)) = parse_line(&line) {
                let text = alloc::format!("{op}");
                proptest::prop_assert_eq!(parse_line(&text), Ok(Some(op)), "{} -> {}", line, text);
            }
        }

        /// Any bytes: `run_bytes` never panics, and on UTF-8 it is `run`.
        #[test]
        fn run_bytes_is_run_on_utf8(bytes in proptest::collection::vec(
            proptest::sample::select(alloc::vec![
                b'a', b'd', b' ', b'0', b'1', b'x', b'\n', b'\r', b'#', 0xc3, 0xa9, 0xff,
            ]),
            0..40,
        )) {
            let got = run_bytes(&bytes);
            if let Ok(text) = core::str::from_utf8(&bytes) {
                proptest::prop_assert_eq!(got, run(text));
            }
        }
    }
}
