//! The `hv replay` script language: one parser, one runner and one printer shared by
//! everything that executes a script, so that a model run and a live run of the same
//! script print byte-identical output when the hypervisors agree.
//!
//! A script is one command per line; `#` starts a comment; numbers are decimal or `0x`
//! hex:
//!
//! ```text
//! write ADDR HEXBYTES     store bytes in guest memory
//! write16 ADDR VALUE      store a big-endian 16-bit value (a VPA size field)
//! hcall FLAGS PROC ADDR   H_REGISTER_VPA; prints the return code name
//! dispatch CPU            the vCPU enters the guest
//! preempt CPU             the vCPU leaves the guest
//! read ADDR LEN           prints LEN bytes of guest memory in hex
//! state CPU               prints what the vCPU has registered
//! ```
//!
//! [`run`] executes a script against any [`Target`]: a [`Partition`] (the model, whose
//! impl is here) or a real hypervisor reached from inside a guest (the `hv-live` guest
//! of `cargo xtask hv-diff`). Lines are parsed as they are reached, so what the lines
//! before a bad one printed is kept, and the error names the line.
//!
//! ```
//! use vpa_hv::script::{run, ScriptError};
//! use vpa_hv::{Partition, Profile, VecRam};
//!
//! let mut hv = Partition::new(Profile::Qemu, VecRam::new(1 << 16), &[0]).unwrap();
//! let mut out = String::new();
//! let script = "write16 0x1004 640\nhcall 0x200000000000 0 0x1000\nread 0x1009 1\nstate 7\n";
//! let err = run(&mut hv, script, &mut out, false).unwrap_err();
//! assert_eq!(out, "H_SUCCESS\n02\n");
//! assert_eq!(err.to_string(), "line 4: no vCPU has proc-no 7");
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use papr::hcall::ReturnCode;
use phys::{parse_u64, PhysAddr};

use crate::memory::GuestRam;
use crate::partition::{Area, AreaKind, AreaState, DispatchError, Partition};
use crate::profile::Rule;

/// Longest `read` a script may ask for, in bytes.
pub const MAX_READ: u64 = 1 << 20;

/// One script command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `write ADDR HEXBYTES`.
    Write {
        /// First byte written.
        addr: PhysAddr,
        /// The bytes, at least one.
        bytes: Vec<u8>,
    },
    /// `write16 ADDR VALUE`: a big-endian `u16`.
    Write16 {
        /// First byte written.
        addr: PhysAddr,
        /// The value.
        value: u16,
    },
    /// `hcall FLAGS PROC ADDR`: H_REGISTER_VPA with these three arguments as given.
    Hcall {
        /// r4: the flags word (subfunction << 45, and any stray bits).
        flags: u64,
        /// r5: the target vCPU's hardware id.
        proc_no: u64,
        /// r6: the area's guest physical address.
        addr: u64,
    },
    /// `dispatch CPU`.
    Dispatch(u32),
    /// `preempt CPU`.
    Preempt(u32),
    /// `read ADDR LEN` (`LEN` at most [`MAX_READ`]).
    Read {
        /// First byte read.
        addr: PhysAddr,
        /// Number of bytes.
        len: u64,
    },
    /// `state CPU`.
    State(u32),
}

/// A line that is not a valid command. The messages are what `numaboot hv replay`
/// prints after `line N: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The first word is no command.
    UnknownCommand(String),
    /// An operand is missing (its name: `ADDR`, `LEN`, ...).
    Missing(&'static str),
    /// An operand is not a number.
    BadNumber {
        /// The operand's name.
        what: &'static str,
        /// The word as written.
        word: String,
        /// Why it is not a number.
        error: phys::ParseNumberError,
    },
    /// `HEXBYTES` has an odd or zero number of digits.
    OddHex(String),
    /// `HEXBYTES` has a character that is not a hex digit.
    NotHex(String),
    /// A `write16` value above `0xffff`.
    ValueTooWide(u64),
    /// A CPU number above `u32::MAX`.
    CpuOutOfRange(u64),
    /// A `read` longer than [`MAX_READ`].
    ReadTooLong(u64),
    /// A word after the last operand.
    Unexpected(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCommand(c) => write!(f, "unknown command {c:?}"),
            Self::Missing(what) => write!(f, "missing {what}"),
            Self::BadNumber { what, word, error } => write!(f, "{what} {word:?}: {error}"),
            Self::OddHex(w) => write!(
                f,
                "HEXBYTES {w:?}: need an even, non-zero number of hex digits"
            ),
            Self::NotHex(w) => write!(f, "HEXBYTES {w:?}: not hex"),
            Self::ValueTooWide(v) => write!(f, "VALUE {v:#x} exceeds 16 bits"),
            Self::CpuOutOfRange(c) => write!(f, "CPU {c} out of range"),
            Self::ReadTooLong(n) => write!(f, "LEN {n} is more than {MAX_READ}"),
            Self::Unexpected(w) => write!(f, "unexpected {w:?}"),
        }
    }
}

impl core::error::Error for ParseError {}

fn num(word: Option<&str>, what: &'static str) -> Result<u64, ParseError> {
    let w = word.ok_or(ParseError::Missing(what))?;
    parse_u64(w).map_err(|error| ParseError::BadNumber {
        what,
        word: w.into(),
        error,
    })
}

fn cpu(word: Option<&str>) -> Result<u32, ParseError> {
    let c = num(word, "CPU")?;
    u32::try_from(c).map_err(|_| ParseError::CpuOutOfRange(c))
}

fn hex_bytes(word: Option<&str>) -> Result<Vec<u8>, ParseError> {
    let w = word.ok_or(ParseError::Missing("HEXBYTES"))?;
    let digits = w.strip_prefix("0x").unwrap_or(w);
    if digits.is_empty() || digits.len() % 2 != 0 {
        return Err(ParseError::OddHex(w.into()));
    }
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            core::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| ParseError::NotHex(w.into()))
        })
        .collect()
}

fn end<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<(), ParseError> {
    match words.next() {
        Some(extra) => Err(ParseError::Unexpected(extra.into())),
        None => Ok(()),
    }
}

/// Parses one line; `Ok(None)` for a blank or comment-only line.
pub fn parse_line(raw: &str) -> Result<Option<Command>, ParseError> {
    let line = raw.split('#').next().unwrap_or("").trim();
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return Ok(None);
    };
    let c = match cmd {
        "write" => {
            let addr = PhysAddr::new(num(words.next(), "ADDR")?);
            let bytes = hex_bytes(words.next())?;
            Command::Write { addr, bytes }
        }
        "write16" => {
            let addr = PhysAddr::new(num(words.next(), "ADDR")?);
            let value = num(words.next(), "VALUE")?;
            let value = u16::try_from(value).map_err(|_| ParseError::ValueTooWide(value))?;
            Command::Write16 { addr, value }
        }
        "hcall" => Command::Hcall {
            flags: num(words.next(), "FLAGS")?,
            proc_no: num(words.next(), "PROC")?,
            addr: num(words.next(), "ADDR")?,
        },
        "dispatch" => Command::Dispatch(cpu(words.next())?),
        "preempt" => Command::Preempt(cpu(words.next())?),
        "read" => {
            let addr = PhysAddr::new(num(words.next(), "ADDR")?);
            let len = num(words.next(), "LEN")?;
            if len > MAX_READ {
                return Err(ParseError::ReadTooLong(len));
            }
            Command::Read { addr, len }
        }
        "state" => Command::State(cpu(words.next())?),
        other => return Err(ParseError::UnknownCommand(other.into())),
    };
    end(words)?;
    Ok(Some(c))
}

/// Every command of `script` with its 1-based line number, blank lines skipped; a
/// malformed line yields its error in place (callers usually stop there).
pub fn commands(script: &str) -> impl Iterator<Item = (usize, Result<Command, ParseError>)> + '_ {
    script
        .lines()
        .enumerate()
        .filter_map(|(i, raw)| parse_line(raw).transpose().map(|r| (i + 1, r)))
}

impl fmt::Display for Command {
    /// The command as a script line, numbers in hex: `parse_line` of the result gives
    /// the command back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Write { addr, bytes } => {
                write!(f, "write {addr} ")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            Self::Write16 { addr, value } => write!(f, "write16 {addr} {value:#x}"),
            Self::Hcall {
                flags,
                proc_no,
                addr,
            } => write!(f, "hcall {flags:#x} {proc_no} {addr:#x}"),
            Self::Dispatch(c) => write!(f, "dispatch {c}"),
            Self::Preempt(c) => write!(f, "preempt {c}"),
            Self::Read { addr, len } => write!(f, "read {addr} {len}"),
            Self::State(c) => write!(f, "state {c}"),
        }
    }
}

/// What a `state` line reports about one vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateReport {
    /// The vCPU's proc-no.
    pub cpu: u32,
    /// Whether it is dispatched.
    pub running: bool,
    /// Its VPA registration.
    pub vpa: AreaState,
    /// Its DTL registration.
    pub dtl: AreaState,
    /// Its SLB shadow registration.
    pub slb: AreaState,
    /// The VPA's `yield_count`, when a VPA is active and its counter is guest memory.
    pub yield_count: Option<u32>,
}

fn area(f: &mut fmt::Formatter<'_>, a: Option<Area>) -> fmt::Result {
    match a {
        Some(a) => write!(f, "{} len {}", a.addr, a.len.as_u64()),
        None => f.write_str("none"),
    }
}

impl fmt::Display for StateReport {
    /// `cpu C: running|not running; vpa ...; dtl ...; slb ...[; yield_count N]`, each
    /// area `ADDR len N` or `none`, with `(pending until next dispatch: ...)` for a KVM
    /// registration not applied yet.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let running = if self.running {
            "running"
        } else {
            "not running"
        };
        write!(f, "cpu {}: {running}", self.cpu)?;
        for (kind, state) in [
            (AreaKind::Vpa, &self.vpa),
            (AreaKind::Dtl, &self.dtl),
            (AreaKind::SlbShadow, &self.slb),
        ] {
            write!(f, "; {kind} ")?;
            area(f, state.active)?;
            if let Some(next) = state.pending {
                f.write_str(" (pending until next dispatch: ")?;
                area(f, next)?;
                f.write_str(")")?;
            }
        }
        if let Some(count) = self.yield_count {
            write!(f, "; yield_count {count}")?;
        }
        Ok(())
    }
}

/// Lowercase hex of `bytes`, as a `read` line prints them.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Something a script runs against: the hypervisor (model or real) and guest memory.
pub trait Target {
    /// Why a command could not be carried out (a script error).
    type Error: fmt::Display;

    /// Stores `bytes` at `addr`.
    fn write(&mut self, addr: PhysAddr, bytes: &[u8]) -> Result<(), Self::Error>;
    /// Loads `buf.len()` bytes from `addr`.
    fn read(&mut self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// H_REGISTER_VPA; the rule that decided, when the target knows it.
    fn hcall(
        &mut self,
        flags: u64,
        proc_no: u64,
        addr: u64,
    ) -> Result<(ReturnCode, Option<Rule>), Self::Error>;
    /// The vCPU enters the guest.
    fn dispatch(&mut self, cpu: u32) -> Result<(), Self::Error>;
    /// The vCPU leaves the guest.
    fn preempt(&mut self, cpu: u32) -> Result<(), Self::Error>;
    /// What the vCPU has registered.
    fn state(&mut self, cpu: u32) -> Result<StateReport, Self::Error>;
}

/// Where a script's output lines go.
pub trait Output {
    /// Why a line could not be written.
    type Error;
    /// Writes one line (without its newline).
    fn line(&mut self, text: fmt::Arguments<'_>) -> Result<(), Self::Error>;
}

impl Output for String {
    type Error = core::convert::Infallible;
    fn line(&mut self, text: fmt::Arguments<'_>) -> Result<(), Self::Error> {
        let _ = self.write_fmt(text);
        self.push('\n');
        Ok(())
    }
}

/// Why a script stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptError<E, O> {
    /// Line `line` is malformed.
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        error: ParseError,
    },
    /// The target refused line `line`'s command.
    Target {
        /// 1-based line number.
        line: usize,
        /// The target's error.
        error: E,
    },
    /// Writing output failed: not the script's fault, so no line number.
    Output(O),
}

impl<E: fmt::Display, O: fmt::Display> fmt::Display for ScriptError<E, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse { line, error } => write!(f, "line {line}: {error}"),
            Self::Target { line, error } => write!(f, "line {line}: {error}"),
            Self::Output(e) => write!(f, "writing output: {e}"),
        }
    }
}

impl<E: fmt::Display + fmt::Debug, O: fmt::Display + fmt::Debug> core::error::Error
    for ScriptError<E, O>
{
}

/// Executes one command, writing what it prints.
pub fn step<T: Target, W: Output>(
    target: &mut T,
    cmd: &Command,
    out: &mut W,
    explain: bool,
) -> Result<(), StepError<T::Error, W::Error>> {
    match cmd {
        Command::Write { addr, bytes } => target.write(*addr, bytes).map_err(StepError::Target),
        Command::Write16 { addr, value } => target
            .write(*addr, &value.to_be_bytes())
            .map_err(StepError::Target),
        Command::Hcall {
            flags,
            proc_no,
            addr,
        } => {
            let (code, rule) = target
                .hcall(*flags, *proc_no, *addr)
                .map_err(StepError::Target)?;
            match rule.filter(|_| explain) {
                Some(rule) => out.line(format_args!("{code} ({rule})")),
                None => out.line(format_args!("{code}")),
            }
            .map_err(StepError::Output)
        }
        Command::Dispatch(c) => target.dispatch(*c).map_err(StepError::Target),
        Command::Preempt(c) => target.preempt(*c).map_err(StepError::Target),
        Command::Read { addr, len } => {
            // parse_line bounds len by MAX_READ; a hand-built command is bounded too.
            let n = usize::try_from((*len).min(MAX_READ)).unwrap_or(0);
            let mut buf = alloc::vec![0u8; n];
            target.read(*addr, &mut buf).map_err(StepError::Target)?;
            out.line(format_args!("{}", hex(&buf)))
                .map_err(StepError::Output)
        }
        Command::State(c) => {
            let s = target.state(*c).map_err(StepError::Target)?;
            out.line(format_args!("{s}")).map_err(StepError::Output)
        }
    }
}

/// Why one [`step`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError<E, O> {
    /// The target refused the command.
    Target(E),
    /// The output could not be written.
    Output(O),
}

/// Runs `script` against `target` line by line, printing to `out`; `explain` adds the
/// deciding rule after each hcall's code (when the target knows it).
pub fn run<T: Target, W: Output>(
    target: &mut T,
    script: &str,
    out: &mut W,
    explain: bool,
) -> Result<(), ScriptError<T::Error, W::Error>> {
    for (line, cmd) in commands(script) {
        let cmd = cmd.map_err(|error| ScriptError::Parse { line, error })?;
        step(target, &cmd, out, explain).map_err(|e| match e {
            StepError::Target(error) => ScriptError::Target { line, error },
            StepError::Output(o) => ScriptError::Output(o),
        })?;
    }
    Ok(())
}

/// What the model refuses: memory outside guest RAM, or a dispatch hook out of order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelError {
    /// A `write` or `read` outside guest memory.
    Memory(crate::memory::OutOfGuestMemory),
    /// `dispatch`/`preempt` out of order, or on an unknown vCPU.
    Dispatch(DispatchError),
    /// `state` of an unknown vCPU.
    UnknownProcNo(u32),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory(e) => e.fmt(f),
            Self::Dispatch(e) => e.fmt(f),
            Self::UnknownProcNo(p) => write!(f, "no vCPU has proc-no {p}"),
        }
    }
}

impl core::error::Error for ModelError {}

impl<M: GuestRam> Target for Partition<M> {
    type Error = ModelError;

    fn write(&mut self, addr: PhysAddr, bytes: &[u8]) -> Result<(), ModelError> {
        self.memory_mut()
            .write(addr, bytes)
            .map_err(ModelError::Memory)
    }

    fn read(&mut self, addr: PhysAddr, buf: &mut [u8]) -> Result<(), ModelError> {
        self.memory().read(addr, buf).map_err(ModelError::Memory)
    }

    fn hcall(
        &mut self,
        flags: u64,
        proc_no: u64,
        addr: u64,
    ) -> Result<(ReturnCode, Option<Rule>), ModelError> {
        let v = self.h_register_vpa_explained(flags, proc_no, addr);
        Ok((v.code, Some(v.rule)))
    }

    fn dispatch(&mut self, cpu: u32) -> Result<(), ModelError> {
        Partition::dispatch(self, cpu).map_err(ModelError::Dispatch)
    }

    fn preempt(&mut self, cpu: u32) -> Result<(), ModelError> {
        Partition::preempt(self, cpu).map_err(ModelError::Dispatch)
    }

    fn state(&mut self, cpu: u32) -> Result<StateReport, ModelError> {
        let v = self.vcpu(cpu).ok_or(ModelError::UnknownProcNo(cpu))?;
        Ok(StateReport {
            cpu,
            running: v.is_running(),
            vpa: *v.area(AreaKind::Vpa),
            dtl: *v.area(AreaKind::Dtl),
            slb: *v.area(AreaKind::SlbShadow),
            yield_count: self.yield_count(cpu),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Profile, VecRam};
    use alloc::string::ToString;

    fn model(profile: Profile, script: &str) -> (String, Result<(), String>) {
        let mut hv = Partition::new(profile, VecRam::new(1 << 20), &[0, 1]).unwrap();
        let mut out = String::new();
        let r = run(&mut hv, script, &mut out, false).map_err(|e| e.to_string());
        (out, r)
    }

    #[test]
    fn parse_errors_keep_the_cli_wording() {
        let cases = [
            ("hcall 1 2", "missing ADDR"),
            (
                "write 0 abc",
                "HEXBYTES \"abc\": need an even, non-zero number of hex digits",
            ),
            ("write 0 zz", "HEXBYTES \"zz\": not hex"),
            ("jump 1", "unknown command \"jump\""),
            ("write16 0 0x10000", "VALUE 0x10000 exceeds 16 bits"),
            ("state 0x100000000", "CPU 4294967296 out of range"),
            ("read 0 0x100001", "LEN 1048577 is more than 1048576"),
            ("state 1 2", "unexpected \"2\""),
        ];
        for (line, want) in cases {
            assert_eq!(parse_line(line).unwrap_err().to_string(), want, "{line}");
        }
        assert!(parse_line("hcall x 0 0")
            .unwrap_err()
            .to_string()
            .starts_with("FLAGS \"x\": "));
        assert_eq!(parse_line("  # only a comment").unwrap(), None);
    }

    #[test]
    fn display_round_trips() {
        let lines = [
            "write 0x10 00ff",
            "write16 0x1004 0x280",
            "hcall 0x200000000000 4294967296 0x1000",
            "dispatch 3",
            "preempt 3",
            "read 0xffff 2",
            "state 1",
        ];
        for l in lines {
            let c = parse_line(l).unwrap().unwrap();
            assert_eq!(c.to_string(), l);
            assert_eq!(parse_line(&c.to_string()).unwrap().unwrap(), c);
        }
    }

    #[test]
    fn output_before_an_error_is_kept_and_the_line_named() {
        let (out, r) = model(Profile::Qemu, "hcall 0 0 0\n\n# c\ndispatch 7\n");
        assert_eq!(out, "H_PARAMETER\n");
        assert_eq!(r.unwrap_err(), "line 4: no vCPU has proc-no 7");
        let (out, r) = model(Profile::Qemu, "read 0xffffe 2\nread 0xfffff 2\n");
        assert_eq!(out, "0000\n");
        assert_eq!(
            r.unwrap_err(),
            "line 2: 2 bytes at 0xfffff are not all guest memory"
        );
    }

    #[test]
    fn state_line_format() {
        let (out, r) = model(
            Profile::Kvm,
            "write16 0x2004 640\nhcall 0x200000000000 1 0x2000\nstate 1\ndispatch 1\nstate 1\n",
        );
        r.unwrap();
        assert_eq!(
            out,
            "H_SUCCESS\n\
             cpu 1: not running; vpa none (pending until next dispatch: 0x2000 len 640); dtl none; slb none\n\
             cpu 1: running; vpa 0x2000 len 640; dtl none; slb none; yield_count 2\n"
        );
    }
}
