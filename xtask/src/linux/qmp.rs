//! A minimal QMP client: enough to read guest physical memory (`pmemsave`) and stop
//! QEMU. Replies are told apart by their top-level key, which QEMU prints first.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use phys::PhysAddr;

/// What one line QEMU sends over QMP is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The command succeeded.
    Return,
    /// The command failed; the error's description.
    Error(String),
    /// An asynchronous event (or the greeting): not an answer.
    Other,
}

/// Classifies one line of QMP output.
pub fn classify(line: &str) -> Reply {
    let t = line.trim_start();
    let Some(body) = t.strip_prefix('{') else {
        return Reply::Other;
    };
    let body = body.trim_start();
    if body.starts_with("\"return\"") {
        Reply::Return
    } else if body.starts_with("\"error\"") {
        let desc = body
            .split_once("\"desc\":")
            .and_then(|(_, d)| {
                let d = d.trim_start().strip_prefix('"')?;
                d.split_once('"').map(|(s, _)| s.to_string())
            })
            .unwrap_or_else(|| body.to_string());
        Reply::Error(desc)
    } else {
        Reply::Other
    }
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A QMP connection in command mode.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    scratch: PathBuf,
}

impl Qmp {
    /// Connects to the socket QEMU listens on (retrying while QEMU starts) and leaves
    /// capability negotiation. `scratch` is a file QEMU may write guest memory to.
    pub fn connect(socket: &Path, scratch: PathBuf, wait: Duration) -> Result<Self> {
        let start = Instant::now();
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(s) => break s,
                Err(e) if start.elapsed() > wait => {
                    return Err(e).with_context(|| {
                        format!("connecting to QEMU's QMP socket {}", socket.display())
                    })
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .context("QMP socket timeout")?;
        let writer = stream.try_clone().context("QMP socket")?;
        let mut q = Qmp {
            reader: BufReader::new(stream),
            writer,
            scratch,
        };
        let mut greeting = String::new();
        q.reader
            .read_line(&mut greeting)
            .context("reading the QMP greeting")?;
        ensure!(
            greeting.contains("\"QMP\""),
            "not a QMP greeting: {greeting}"
        );
        q.execute("qmp_capabilities", None)?;
        Ok(q)
    }

    /// Runs `command` with `arguments` (a JSON object, when given) and waits for its
    /// answer, skipping events.
    pub fn execute(&mut self, command: &str, arguments: Option<&str>) -> Result<()> {
        let msg = match arguments {
            Some(a) => format!(
                "{{\"execute\": {}, \"arguments\": {a}}}\n",
                json_string(command)
            ),
            None => format!("{{\"execute\": {}}}\n", json_string(command)),
        };
        self.writer
            .write_all(msg.as_bytes())
            .with_context(|| format!("sending QMP {command}"))?;
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .with_context(|| format!("waiting for QMP {command}"))?;
            ensure!(n > 0, "QEMU closed the QMP connection during {command}");
            match classify(&line) {
                Reply::Return => return Ok(()),
                Reply::Error(desc) => bail!("QMP {command} failed: {desc}"),
                Reply::Other => {}
            }
        }
    }

    /// Has QEMU write `size` bytes of guest physical memory at `addr` to `file`.
    pub fn pmemsave(&mut self, addr: PhysAddr, size: u64, file: &Path) -> Result<()> {
        let file = file.to_str().context("the pmemsave path is not UTF-8")?;
        let args = format!(
            "{{\"val\": {}, \"size\": {size}, \"filename\": {}}}",
            addr.as_u64(),
            json_string(file)
        );
        self.execute("pmemsave", Some(&args))
    }

    /// Reads `size` bytes of guest physical memory at `addr`.
    pub fn read_phys(&mut self, addr: PhysAddr, size: u64) -> Result<Vec<u8>> {
        let scratch = self.scratch.clone();
        let _ = std::fs::remove_file(&scratch);
        self.pmemsave(addr, size, &scratch)?;
        let bytes =
            std::fs::read(&scratch).with_context(|| format!("reading {}", scratch.display()))?;
        let _ = std::fs::remove_file(&scratch);
        ensure!(
            bytes.len() as u64 == size,
            "pmemsave of {size} bytes at {addr} gave {} bytes",
            bytes.len()
        );
        Ok(bytes)
    }

    /// Asks QEMU to exit.
    pub fn quit(&mut self) -> Result<()> {
        self.execute("quit", None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(classify("{\"return\": {}}\r\n"), Reply::Return);
        assert_eq!(
            classify(r#"{"error": {"class": "GenericError", "desc": "Invalid parameter 'x'"}}"#),
            Reply::Error("Invalid parameter 'x'".into())
        );
        assert_eq!(
            classify(r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#),
            Reply::Other
        );
        assert_eq!(
            classify(r#"{"QMP": {"version": {}, "capabilities": []}}"#),
            Reply::Other
        );
        assert_eq!(classify(""), Reply::Other);
        assert!(matches!(classify(r#"{"error": 1}"#), Reply::Error(_)));
    }

    #[test]
    fn strings() {
        assert_eq!(json_string("/tmp/a b.bin"), "\"/tmp/a b.bin\"");
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
