//! The guest's console report: lines that start with `NB `.

use anyhow::{bail, Context, Result};

/// One H_REGISTER_VPA the guest made, as it printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HcallLine {
    /// The guest's name for the case.
    pub name: String,
    /// Subfunction code.
    pub sub: u64,
    /// proc-no argument.
    pub proc_no: u64,
    /// Address argument.
    pub addr: u64,
    /// The be16 size field at addr + 4 when the call was made.
    pub size: u64,
    /// Return code the hypervisor gave.
    pub rc: i64,
}

/// What a secondary CPU reported about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuLine {
    /// Hardware id.
    pub cpu: u64,
    /// VPA byte 9 (`__old_status`).
    pub status: u64,
    /// yield_count read from its VPA.
    pub yield_count: u64,
    /// H_HOME_NODE_ASSOCIATIVITY status.
    pub home_rc: i64,
    /// H_HOME_NODE_ASSOCIATIVITY r4 and r5.
    pub home: [u64; 2],
}

/// The parsed report.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// CPUs the guest found.
    pub cpus: Option<u64>,
    /// Every hcall line, in order.
    pub hcalls: Vec<HcallLine>,
    /// Every secondary CPU line.
    pub cpu_lines: Vec<CpuLine>,
    /// `NB end` was printed.
    pub ended: bool,
    /// `NB panic ...` text, if the guest panicked.
    pub panic: Option<String>,
}

fn field<'a>(words: &[&'a str], key: &str) -> Result<&'a str> {
    words
        .iter()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .with_context(|| format!("missing `{key}=`"))
}

fn num(s: &str) -> Result<u64> {
    let v = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    v.with_context(|| format!("bad number `{s}`"))
}

fn signed(s: &str) -> Result<i64> {
    s.parse()
        .with_context(|| format!("bad signed number `{s}`"))
}

impl Report {
    /// Parses the console output; lines without the `NB ` prefix are firmware noise.
    pub fn parse(console: &str) -> Result<Self> {
        let mut r = Report::default();
        for (i, line) in console.lines().enumerate() {
            let Some(rest) = line.trim_end().strip_prefix("NB ") else {
                continue;
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            let parsed: Result<()> = (|| {
                match words.first().copied() {
                    Some("hcall") => r.hcalls.push(HcallLine {
                        name: field(&words, "name")?.to_string(),
                        sub: num(field(&words, "sub")?)?,
                        proc_no: num(field(&words, "proc")?)?,
                        addr: num(field(&words, "addr")?)?,
                        size: num(field(&words, "size")?)?,
                        rc: signed(field(&words, "rc")?)?,
                    }),
                    Some("cpus") => r.cpus = Some(num(words.get(1).context("count")?)?),
                    Some("cpu") => {
                        let home = field(&words, "home")?;
                        let (a, b) = home.split_once(',').context("home=A,B")?;
                        r.cpu_lines.push(CpuLine {
                            cpu: num(words.get(1).context("cpu id")?)?,
                            status: num(field(&words, "status")?)?,
                            yield_count: num(field(&words, "yield")?)?,
                            home_rc: signed(field(&words, "home_rc")?)?,
                            home: [num(a)?, num(b)?],
                        })
                    }
                    Some("end") => r.ended = true,
                    Some("panic") => r.panic = Some(rest.to_string()),
                    _ => {}
                }
                Ok(())
            })();
            if let Err(e) = parsed {
                bail!("console line {}: `{line}`: {e:#}", i + 1);
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_report() {
        let text = "firmware noise\nNB begin r3=0x0 r4=0x0\nNB cpus 2\n\
NB hcall name=register sub=1 proc=0 addr=0x417000 size=0x400 rc=0\n\
NB hcall name=misaligned sub=1 proc=0 addr=0x412008 size=0x280 rc=-4\n\
NB cpu 1 status=0x2 yield=0 home_rc=0 home=0x0,0x1\nNB end";
        let r = Report::parse(text).unwrap();
        assert_eq!(r.cpus, Some(2));
        assert_eq!(r.hcalls.len(), 2);
        assert_eq!(r.hcalls[1].rc, -4);
        assert_eq!(r.hcalls[1].addr, 0x412008);
        assert_eq!(r.cpu_lines[0].home, [0, 1]);
        assert!(r.ended);
    }

    #[test]
    fn rejects_a_garbled_line() {
        let err = Report::parse("NB hcall name=x sub=1 proc=zz addr=0 size=0 rc=0").unwrap_err();
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
    }
}
