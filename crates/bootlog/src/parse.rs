//! The line parser: strips console/journal prefixes, parses every memblock debug form of
//! Linux 6.1 `mm/memblock.c` strictly, and folds each allocation's reservation into it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use memblock::AllocLimit;
use phys::{NodeId, PhysAddr, PhysSize};

use crate::event::{Alloc, AllocCall, AllocResult, Caller, Event, Range, Record, RegionArray};
use crate::facts::{FactsBuilder, LogFacts};

/// `MAX_NUMNODES` of a distribution ppc64le kernel: `memblock_alloc_range_nid` turns it
/// into `NUMA_NO_NODE` (with a warning), and reserved regions carry it.
const MAX_NUMNODES: i64 = NodeId::MAX_NUMNODES as i64;

/// The function whose `memblock_reserve` calls carry allocation results.
pub(crate) const ALLOC_RANGE_NID: &str = "memblock_alloc_range_nid";

/// What is wrong with a memblock line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// `memblock_NAME:` where Linux 6.1 has no debug message of that name.
    UnknownForm,
    /// A field is missing or the line ends early.
    Missing(&'static str),
    /// A field is there but its number does not parse (or does not fit in 64 bits).
    BadNumber(&'static str),
    /// `nid=` is neither -1, `MAX_NUMNODES` nor a node id below `MAX_NUMNODES`.
    BadNode(i64),
    /// `memblock: NAME ...` names no memblock array.
    UnknownArray,
    /// Text after the caller (and its optional `[module]`).
    TrailingText,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownForm => f.write_str("not a memblock debug message of Linux 6.1"),
            Self::Missing(what) => write!(f, "missing {what}"),
            Self::BadNumber(what) => write!(f, "bad number in {what}"),
            Self::BadNode(n) => write!(f, "nid={n} is not a node"),
            Self::UnknownArray => f.write_str("unknown memblock array"),
            Self::TrailingText => f.write_str("unexpected text after the caller"),
        }
    }
}

/// A line that starts like a memblock debug message but does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// The message (after any timestamp), at most 200 bytes of it.
    pub text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: `{}`", self.line, self.kind, self.text)
    }
}

impl core::error::Error for ParseError {}

/// A parsed log: every memblock event in order, and the boot facts read from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootLog<'a> {
    /// The memblock events, in log order.
    pub records: Vec<Record<'a>>,
    /// Boot facts (kernel end, FDT, MMU, paca size, ...).
    pub facts: LogFacts,
    /// The offset inside `memblock_alloc_range_nid` of its first `memblock_reserve`
    /// (the one after the search restricted to the requested node), learned from
    /// allocations that asked for no node (they always reserve there).
    pub first_reserve_site: Option<u64>,
}

impl BootLog<'_> {
    /// The allocations, in order.
    pub fn allocs(&self) -> impl Iterator<Item = (usize, &Alloc<'_>)> {
        self.records.iter().filter_map(|r| match &r.event {
            Event::Alloc(a) => Some((r.line, a)),
            _ => None,
        })
    }

    /// Whether a successful allocation that asked for a node got memory on that node:
    /// `memblock_alloc_range_nid` first searches the node alone and reserves at its
    /// first call site; only if that fails does it search every node and reserve at
    /// the second. `None` when the allocation asked for no node, failed, or the log
    /// does not show which site is the first.
    pub fn landed_on_requested_node(&self, a: &Alloc<'_>) -> Option<bool> {
        a.nid?;
        let r = a.result?;
        let first = self.first_reserve_site?;
        Some(r.site.offset? == first)
    }
}

/// Parses a console log, `dmesg` output or a journal: every line whose message starts
/// with a memblock debug keyword (`memblock_...:`, or `memblock: ... doubled`) must
/// parse, other lines are read only for [`LogFacts`].
///
/// Never panics; allocates nothing per line beyond the event.
pub fn parse(text: &str) -> Result<BootLog<'_>, ParseError> {
    let mut records: Vec<Record<'_>> = Vec::new();
    let mut facts = FactsBuilder::default();
    // The allocation whose reservation has not been seen yet.
    let mut pending: Option<(usize, Alloc<'_>)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let msg = message(raw);
        let parsed = match parse_message(msg) {
            Ok(p) => p,
            Err(kind) => {
                return Err(ParseError {
                    line,
                    kind,
                    text: clip(msg),
                })
            }
        };
        let Some(event) = parsed else {
            facts.see(line, msg);
            continue;
        };
        if let Some((aline, mut a)) = pending.take() {
            if let Event::Reserve { range, caller } = event {
                if caller.is(ALLOC_RANGE_NID) && range.size == a.size {
                    a.result = Some(AllocResult {
                        addr: range.base,
                        line,
                        site: caller,
                    });
                    records.push(Record {
                        line: aline,
                        event: Event::Alloc(a),
                    });
                    continue;
                }
            }
            records.push(Record {
                line: aline,
                event: Event::Alloc(a),
            });
        }
        match event {
            Event::Alloc(a) => pending = Some((line, a)),
            event => records.push(Record { line, event }),
        }
    }
    if let Some((line, a)) = pending {
        records.push(Record {
            line,
            event: Event::Alloc(a),
        });
    }
    let first_reserve_site = first_site(&records);
    let facts = facts.finish(&records);
    Ok(BootLog {
        records,
        facts,
        first_reserve_site,
    })
}

/// The most frequent reservation offset among allocations that asked for no node.
fn first_site(records: &[Record<'_>]) -> Option<u64> {
    // A handful of distinct offsets at most; a small vector of counts is enough.
    let mut counts: Vec<(u64, usize)> = Vec::new();
    for r in records {
        if let Event::Alloc(a) = &r.event {
            if a.nid.is_some() {
                continue;
            }
            if let Some(off) = a.result.and_then(|r| r.site.offset) {
                match counts.iter_mut().find(|c| c.0 == off) {
                    Some(c) => c.1 += 1,
                    None => counts.push((off, 1)),
                }
            }
        }
    }
    counts.iter().max_by_key(|c| c.1).map(|c| c.0)
}

fn clip(msg: &str) -> String {
    let mut end = msg.len().min(200);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    String::from(&msg[..end])
}

/// The printk message of a line: without a trailing `\r`, a syslog level `<N>`, the
/// `[    0.000000]` timestamp (and a `[    T0]` caller field), or a journal/syslog
/// `... kernel: ` prefix.
pub fn message(line: &str) -> &str {
    let s = line.strip_suffix('\r').unwrap_or(line);
    let s = strip_level(s);
    let s = strip_stamps(s);
    if s.starts_with("memblock") {
        return s;
    }
    match s.find(" kernel: ") {
        Some(i) => strip_stamps(&s[i + " kernel: ".len()..]),
        None => s,
    }
}

fn strip_level(s: &str) -> &str {
    let b = s.as_bytes();
    if b.first() == Some(&b'<') {
        if let Some(end) = b.iter().take(6).position(|&c| c == b'>') {
            if end > 1 && b[1..end].iter().all(u8::is_ascii_digit) {
                return &s[end + 1..];
            }
        }
    }
    s
}

fn strip_stamps(mut s: &str) -> &str {
    for _ in 0..2 {
        let b = s.as_bytes();
        if b.first() != Some(&b'[') || s.starts_with("[0x") {
            break;
        }
        let Some(end) = b.iter().take(64).position(|&c| c == b']') else {
            break;
        };
        let inner = &b[1..end];
        if !inner
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b" .:,+-".contains(&c))
        {
            break;
        }
        s = &s[end + 1..];
        s = s.strip_prefix(' ').unwrap_or(s);
    }
    s
}

/// `Ok(None)`: not a memblock debug line. `Err`: a memblock line that does not parse.
fn parse_message(msg: &str) -> Result<Option<Event<'_>>, ParseErrorKind> {
    if !msg.starts_with("memblock") {
        return Ok(None);
    }
    if let Some(rest) = msg.strip_prefix("memblock: ") {
        return parse_double(rest);
    }
    let Some(rest) = msg.strip_prefix("memblock_") else {
        return Ok(None);
    };
    // The function name ends at the first ':'; a line like `memblock_foo bar` with no
    // colon in the name is not a debug message.
    let Some(colon) = rest.find(':') else {
        return Ok(None);
    };
    let name = &rest[..colon];
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return Ok(None);
    }
    let body = rest[colon + 1..].trim_start();
    let mut t = Tokens(body.split_ascii_whitespace());
    let event = match name {
        "reserve" => {
            let (range, caller) = range_caller(&mut t)?;
            Event::Reserve { range, caller }
        }
        "phys_free" => {
            let (range, caller) = range_caller(&mut t)?;
            Event::Free { range, caller }
        }
        "free_late" => {
            let (range, caller) = range_caller(&mut t)?;
            Event::FreeLate { range, caller }
        }
        "add" => {
            let (range, caller) = range_caller(&mut t)?;
            Event::Add { range, caller }
        }
        "remove" => {
            let (range, caller) = range_caller(&mut t)?;
            Event::Remove { range, caller }
        }
        "physmem_add" => {
            let (range, caller) = range_caller(&mut t)?;
            Event::PhysmemAdd { range, caller }
        }
        "add_node" => {
            let range = range(t.next("range")?)?;
            let nid = node(signed(field(t.next("nid=")?, "nid=")?, "nid=")?)?;
            let flags = field(t.next("flags=")?, "flags=")?;
            let flags =
                u32::from_str_radix(flags, 16).map_err(|_| ParseErrorKind::BadNumber("flags="))?;
            let caller = caller(&mut t)?;
            Event::AddNode {
                range,
                nid,
                flags,
                caller,
            }
        }
        "alloc_try_nid" => alloc(AllocCall::TryNid, &mut t)?,
        "alloc_try_nid_raw" => alloc(AllocCall::TryNidRaw, &mut t)?,
        "alloc_exact_nid_raw" => alloc(AllocCall::ExactNidRaw, &mut t)?,
        "phys_alloc_range" => alloc(AllocCall::PhysAllocRange, &mut t)?,
        // A warning of memblock_cap_memory_range, not a debug message.
        "cap_memory_range" if body.starts_with("No memory registered yet") => return Ok(None),
        _ => return Err(ParseErrorKind::UnknownForm),
    };
    Ok(Some(event))
}

/// `reserved is doubled to 256 at [a-b]` / `Failed to double reserved array from 128
/// to 256 entries !`. Other `memblock: ` messages are not debug output.
fn parse_double(rest: &str) -> Result<Option<Event<'_>>, ParseErrorKind> {
    if let Some(r) = rest.strip_prefix("Failed to double ") {
        let mut t = Tokens(r.split_ascii_whitespace());
        let array = array(t.next("array")?)?;
        t.expect("array")?;
        t.expect("from")?;
        let from = dec(t.next("entries")?, "entries")?;
        t.expect("to")?;
        let to = dec(t.next("entries")?, "entries")?;
        return Ok(Some(Event::ArrayDoubleFailed { array, from, to }));
    }
    if !rest.contains(" is doubled to ") {
        return Ok(None);
    }
    let mut t = Tokens(rest.split_ascii_whitespace());
    let array = array(t.next("array")?)?;
    t.expect("is")?;
    t.expect("doubled")?;
    t.expect("to")?;
    let entries = dec(t.next("entries")?, "entries")?;
    t.expect("at")?;
    let range = range(t.next("range")?)?;
    if t.0.next().is_some() {
        return Err(ParseErrorKind::TrailingText);
    }
    Ok(Some(Event::ArrayDoubled {
        array,
        entries,
        range,
    }))
}

struct Tokens<'a>(core::str::SplitAsciiWhitespace<'a>);

impl<'a> Tokens<'a> {
    fn next(&mut self, what: &'static str) -> Result<&'a str, ParseErrorKind> {
        self.0.next().ok_or(ParseErrorKind::Missing(what))
    }

    fn expect(&mut self, word: &'static str) -> Result<(), ParseErrorKind> {
        match self.0.next() {
            Some(w) if w == word => Ok(()),
            _ => Err(ParseErrorKind::Missing(word)),
        }
    }
}

fn array(name: &str) -> Result<RegionArray, ParseErrorKind> {
    match name {
        "memory" => Ok(RegionArray::Memory),
        "reserved" => Ok(RegionArray::Reserved),
        "physmem" => Ok(RegionArray::Physmem),
        _ => Err(ParseErrorKind::UnknownArray),
    }
}

fn alloc<'a>(call: AllocCall, t: &mut Tokens<'a>) -> Result<Event<'a>, ParseErrorKind> {
    let size = dec(t.next("size")?, "size")?;
    t.expect("bytes")?;
    let align = hex(field(t.next("align=")?, "align=")?, "align=")?;
    let nid = if call.has_nid() {
        node(signed(field(t.next("nid=")?, "nid=")?, "nid=")?)?
    } else {
        None
    };
    let from = hex(field(t.next("from=")?, "from=")?, "from=")?;
    let max = hex(field(t.next("max_addr=")?, "max_addr=")?, "max_addr=")?;
    let caller = caller(t)?;
    Ok(Event::Alloc(Alloc {
        call,
        size: PhysSize::new(size),
        align,
        nid,
        from: PhysAddr::new(from),
        max: AllocLimit::from_raw(max),
        caller,
        result: None,
    }))
}

fn range_caller<'a>(t: &mut Tokens<'a>) -> Result<(Range, Caller<'a>), ParseErrorKind> {
    let r = range(t.next("range")?)?;
    Ok((r, caller(t)?))
}

/// `[0xA-0xB]`.
fn range(tok: &str) -> Result<Range, ParseErrorKind> {
    let inner = tok
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or(ParseErrorKind::Missing("range"))?;
    let (a, b) = inner
        .split_once('-')
        .ok_or(ParseErrorKind::Missing("range"))?;
    Ok(Range::from_inclusive(hex(a, "range")?, hex(b, "range")?))
}

/// `name=value`, the value.
fn field<'a>(tok: &'a str, name: &'static str) -> Result<&'a str, ParseErrorKind> {
    tok.strip_prefix(name).ok_or(ParseErrorKind::Missing(name))
}

/// `%pS`: `sym+0xOFF/0xLEN` or a bare address, then optionally `[module]`; nothing else.
fn caller<'a>(t: &mut Tokens<'a>) -> Result<Caller<'a>, ParseErrorKind> {
    let tok = t.next("caller")?;
    let module = match t.0.next() {
        Some(m) => Some(
            m.strip_prefix('[')
                .and_then(|m| m.strip_suffix(']'))
                .ok_or(ParseErrorKind::TrailingText)?,
        ),
        None => None,
    };
    if t.0.next().is_some() {
        return Err(ParseErrorKind::TrailingText);
    }
    let (symbol, offset, length) = match tok.rsplit_once('+') {
        Some((sym, off)) if !sym.is_empty() => {
            let (o, l) = match off.split_once('/') {
                Some((o, l)) => (o, Some(hex(l, "caller")?)),
                None => (off, None),
            };
            (sym, Some(hex(o, "caller")?), l)
        }
        _ => (tok, None, None),
    };
    Ok(Caller {
        symbol,
        offset,
        length,
        module,
    })
}

fn hex(s: &str, what: &'static str) -> Result<u64, ParseErrorKind> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 16 {
        return Err(ParseErrorKind::BadNumber(what));
    }
    u64::from_str_radix(digits, 16).map_err(|_| ParseErrorKind::BadNumber(what))
}

fn dec(s: &str, what: &'static str) -> Result<u64, ParseErrorKind> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseErrorKind::BadNumber(what));
    }
    s.parse().map_err(|_| ParseErrorKind::BadNumber(what))
}

fn signed(s: &str, what: &'static str) -> Result<i64, ParseErrorKind> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = dec(digits, what)?;
    let v = i64::try_from(v).map_err(|_| ParseErrorKind::BadNumber(what))?;
    Ok(if neg { -v } else { v })
}

/// `-1` (`NUMA_NO_NODE`) and `MAX_NUMNODES` mean no node.
fn node(n: i64) -> Result<Option<NodeId>, ParseErrorKind> {
    if n == -1 || n == MAX_NUMNODES {
        return Ok(None);
    }
    u32::try_from(n)
        .ok()
        .and_then(NodeId::new)
        .map(Some)
        .ok_or(ParseErrorKind::BadNode(n))
}

/// Parses a memblock dump line `  memory[0x0]\t[0x..-0x..], 0x.. bytes on node N
/// flags: 0x0` (lenient: `None` if it is not one).
pub(crate) fn dump_region(msg: &str) -> Option<(RegionArray, Range, Option<NodeId>)> {
    let s = msg.trim_start();
    let (array, rest) = if let Some(r) = s.strip_prefix("memory[") {
        (RegionArray::Memory, r)
    } else if let Some(r) = s.strip_prefix("reserved[") {
        (RegionArray::Reserved, r)
    } else {
        return None;
    };
    let (_, rest) = rest.split_once(']')?;
    let rest = rest.trim_start();
    let close = rest.find(']')?;
    let r = range(&rest[..=close]).ok()?;
    let tail = &rest[close + 1..];
    let nid = match tail.split_once(" on node ") {
        Some((_, n)) => {
            let n = n.split_ascii_whitespace().next()?;
            node(signed(n, "node").ok()?).ok()?
        }
        None => None,
    };
    Some((array, r, nid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(message("[    0.000000] memblock_add: x"), "memblock_add: x");
        assert_eq!(message("memblock_add: x\r"), "memblock_add: x");
        assert_eq!(
            message("<6>[    0.000000] memblock_add: x"),
            "memblock_add: x"
        );
        assert_eq!(
            message("[    0.000000][    T0] memblock_add: x"),
            "memblock_add: x"
        );
        assert_eq!(
            message("Nov 30 16:20:00 host kernel: memblock_add: x"),
            "memblock_add: x"
        );
        assert_eq!(
            message("Nov 30 16:20:00 host kernel: [    0.000000] memblock_add: x"),
            "memblock_add: x"
        );
        assert_eq!(
            message(" memory[0x0]\t[0x0-0x1]"),
            " memory[0x0]\t[0x0-0x1]"
        );
    }

    #[test]
    fn every_form_parses() {
        let text = "\
memblock_add: [0x0000000000000000-0x000000003fffffff] early_init_dt_add_memory_arch+0x1/0x2
memblock_add_node: [0x0000000040000000-0x000000007fffffff] nid=1 flags=0 add_memory+0x1/0x2
memblock_remove: [0x0000000040000000-0x000000004fffffff] early_init_dt_scan_memory+0x1/0x2
memblock_physmem_add: [0x0-0xfff] foo+0x1/0x2
memblock_free_late: [0x1000-0x1fff] bar+0x1/0x2 [mod]
memblock_phys_free: [0x0000000000002000-0x0000000000001fff] pcpu_embed_first_chunk+0x274/0x39c
memblock_phys_alloc_range: 65536 bytes align=0x10000 from=0x0000000000000000 max_addr=0x0000000040000000 rtas_initialize+0x1c0/0x288
memblock_reserve: [0x000000003fff0000-0x000000003fffffff] memblock_alloc_range_nid+0x10c/0x1dc
memblock_alloc_exact_nid_raw: 4096 bytes align=0x1000 nid=256 from=0x0 max_addr=0x0 memmap_alloc+0x30/0x50
memblock_alloc_try_nid_raw: 16 bytes align=0x80 nid=-1 from=0x0 max_addr=0xffffffffffffffff 0xc000000000001234
memblock: reserved is doubled to 256 at [0x0000000001000000-0x0000000001001fff]
memblock: Failed to double memory array from 128 to 256 entries !
memblock_cap_memory_range: No memory registered yet
memblock: something else
";
        let log = parse(text).unwrap();
        let ev: Vec<&Event<'_>> = log.records.iter().map(|r| &r.event).collect();
        assert_eq!(ev.len(), 11);
        assert!(matches!(ev[1], Event::AddNode { nid: Some(n), flags: 0, .. } if n.get() == 1));
        match ev[5] {
            Event::Free { range, .. } => assert!(range.size.is_zero()),
            e => panic!("{e:?}"),
        }
        match ev[6] {
            Event::Alloc(a) => {
                assert_eq!(a.call, AllocCall::PhysAllocRange);
                assert_eq!(a.result.unwrap().addr, PhysAddr::new(0x3fff_0000));
                assert_eq!(a.max, AllocLimit::Addr(PhysAddr::new(0x4000_0000)));
            }
            e => panic!("{e:?}"),
        }
        match ev[7] {
            Event::Alloc(a) => {
                assert_eq!(a.nid, None);
                assert!(a.result.is_none());
                assert_eq!(a.max, AllocLimit::Accessible);
            }
            e => panic!("{e:?}"),
        }
        match ev[8] {
            Event::Alloc(a) => {
                assert_eq!(a.caller.symbol, "0xc000000000001234");
                assert_eq!(a.max, AllocLimit::Anywhere);
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(ev[4], Event::FreeLate { caller, .. } if caller.module == Some("mod")));
        assert!(matches!(ev[9], Event::ArrayDoubled { entries: 256, .. }));
        assert!(matches!(
            ev[10],
            Event::ArrayDoubleFailed {
                array: RegionArray::Memory,
                from: 128,
                to: 256
            }
        ));
    }

    #[test]
    fn bad_lines_name_their_line() {
        for (bad, kind) in [
            (
                "memblock_reserve: [0x0-0x1]",
                ParseErrorKind::Missing("caller"),
            ),
            (
                "memblock_reserve: 0x0-0x1 f",
                ParseErrorKind::Missing("range"),
            ),
            (
                "memblock_reserve: [0x0-0x1] f+0x1/0x2 extra",
                ParseErrorKind::TrailingText,
            ),
            (
                "memblock_alloc_try_nid: 12 bytes align=0x8 nid=999 from=0x0 max_addr=0x0 f",
                ParseErrorKind::BadNode(999),
            ),
            (
                "memblock_alloc_try_nid: 12 bytes align=0x8 from=0x0 max_addr=0x0 f",
                ParseErrorKind::Missing("nid="),
            ),
            (
                "memblock_alloc_try_nid: x bytes",
                ParseErrorKind::BadNumber("size"),
            ),
            (
                "memblock_frobnicate: [0x0-0x1] f",
                ParseErrorKind::UnknownForm,
            ),
            (
                "memblock_reserve: [0x0-0x11111111111111111] f",
                ParseErrorKind::BadNumber("range"),
            ),
        ] {
            let text = alloc::format!("[    0.1] hello\n[    0.2] {bad}\n");
            let e = parse(&text).unwrap_err();
            assert_eq!(e.line, 2, "{bad}");
            assert_eq!(e.kind, kind, "{bad}");
            assert_eq!(e.text, bad);
        }
    }

    #[test]
    fn a_reservation_of_another_size_is_not_the_result() {
        let text = "\
memblock_alloc_try_nid: 128 bytes align=0x80 nid=0 from=0x0 max_addr=0x0 f+0x0/0x1
memblock_reserve: [0x1000-0x10ff] memblock_alloc_range_nid+0x10c/0x1dc
";
        let log = parse(text).unwrap();
        assert_eq!(log.records.len(), 2);
        assert!(matches!(log.records[0].event, Event::Alloc(a) if a.result.is_none()));
        assert_eq!(log.records[1].line, 2);
    }

    #[test]
    fn dump_lines() {
        let (a, r, n) = dump_region(
            " memory[0x1]\t[0x0000000040000000-0x000000007fffffff], 0x0000000040000000 bytes on node 1 flags: 0x0",
        )
        .unwrap();
        assert_eq!(a, RegionArray::Memory);
        assert_eq!(r.size.as_u64(), 0x4000_0000);
        assert_eq!(n, NodeId::new(1));
        let (a, _, n) = dump_region(
            " reserved[0x0]\t[0x0000000000000000-0x000000000287ffff], 0x0000000002880000 bytes flags: 0x0",
        )
        .unwrap();
        assert_eq!(a, RegionArray::Reserved);
        assert_eq!(n, None);
    }
}
