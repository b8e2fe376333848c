//! The guest's console report: lines that start with `NB `, each `key=value` words after
//! a keyword.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

/// One report line: its keyword, an optional positional word, and its `key=value` words
/// (values may be double-quoted to hold spaces).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// First word (`hcall`, `plan`, `cpu`, ...).
    pub kind: String,
    /// Words without `=`, after the keyword.
    pub words: Vec<String>,
    /// `key=value` pairs.
    pub fields: BTreeMap<String, String>,
    /// 1-based console line number, for messages.
    pub lineno: usize,
}

impl Line {
    /// The value of `key`, or an error naming the line.
    pub fn get(&self, key: &str) -> Result<&str> {
        self.fields.get(key).map(String::as_str).with_context(|| {
            format!(
                "console line {}: `{}` has no `{key}=`",
                self.lineno, self.kind
            )
        })
    }

    /// `key` as a number (decimal, `0x` hex, or negative decimal), as i128 so that every
    /// u64 and i64 fits.
    pub fn num(&self, key: &str) -> Result<i128> {
        let v = self.get(key)?;
        parse_num(v)
            .with_context(|| format!("console line {}: bad number `{key}={v}`", self.lineno))
    }

    /// `key` as a u64.
    pub fn u64(&self, key: &str) -> Result<u64> {
        let v = self.num(key)?;
        u64::try_from(v)
            .with_context(|| format!("console line {}: `{key}` out of range", self.lineno))
    }
}

fn parse_num(v: &str) -> Option<i128> {
    if let Some(h) = v.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()
    } else {
        v.parse().ok()
    }
}

/// Splits `a=1 b="x y" c` into words, keeping quoted values together.
fn split(rest: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        bail!("unterminated quote");
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// The parsed report.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every `NB` line, in order.
    pub lines: Vec<Line>,
}

impl Report {
    /// Parses the console output; lines without the `NB ` prefix are firmware noise.
    pub fn parse(console: &str) -> Result<Self> {
        let mut lines = Vec::new();
        for (i, raw) in console.lines().enumerate() {
            let Some(rest) = raw.trim_end().strip_prefix("NB ") else {
                continue;
            };
            let words = split(rest).with_context(|| format!("console line {}: `{raw}`", i + 1))?;
            let mut it = words.into_iter();
            let kind = it.next().unwrap_or_default();
            let mut line = Line {
                kind,
                lineno: i + 1,
                ..Line::default()
            };
            for w in it {
                match w.split_once('=') {
                    Some((k, v)) => {
                        line.fields.insert(k.to_string(), v.to_string());
                    }
                    None => line.words.push(w),
                }
            }
            lines.push(line);
        }
        Ok(Report { lines })
    }

    /// Lines of one kind.
    pub fn of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Line> + 'a {
        self.lines.iter().filter(move |l| l.kind == kind)
    }

    /// The only line of a kind.
    pub fn one<'a>(&'a self, kind: &'a str) -> Result<&'a Line> {
        let mut it = self.of(kind);
        let first = it
            .next()
            .with_context(|| format!("the report has no `NB {kind}` line"))?;
        if it.next().is_some() {
            bail!("the report has more than one `NB {kind}` line");
        }
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_words_and_quotes() {
        let text = "firmware noise\nNB begin initrd=0x470000 size=0x200000\n\
NB plan cpu=2 hw=2 node=1 lppaca=0xfffe000 lppaca_outcome=\"fallback: no memory\"\n\
NB cpu 1 lppaca=0xffff000 home=0x0,0x0\nNB hcall name=x flags=0x200000000000 proc=0 addr=0x0 len=0x0 rc=-4\nNB end";
        let r = Report::parse(text).unwrap();
        assert_eq!(r.lines.len(), 5);
        let plan = r.one("plan").unwrap();
        assert_eq!(plan.u64("lppaca").unwrap(), 0xfffe000);
        assert_eq!(plan.get("lppaca_outcome").unwrap(), "fallback: no memory");
        assert_eq!(r.one("cpu").unwrap().words, vec!["1".to_string()]);
        assert_eq!(r.one("hcall").unwrap().num("rc").unwrap(), -4);
        assert_eq!(r.one("begin").unwrap().lineno, 2);
    }

    #[test]
    fn rejects_unterminated_quotes_and_missing_keys() {
        assert!(Report::parse("NB plan x=\"open").is_err());
        let r = Report::parse("NB plan cpu=1").unwrap();
        let err = r.one("plan").unwrap().u64("lppaca").unwrap_err();
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
        assert!(r.one("end").is_err());
    }
}
