//! Input and output shared by every subcommand: bounded reads of a file or of standard
//! input (`-`), writes to standard output that end quietly on a closed pipe, and error
//! messages folded into one line.
//!
//! Every input is read through [`read_input`] with a [`Cap`]: a path such as
//! `/dev/zero` or an endless pipe would otherwise grow the process until the machine
//! runs out of memory. The caps are far above the largest real input of each kind (an
//! 8192-CPU device tree is a few MiB, Debian's unstripped `vmlinux` 44 MiB) and low
//! enough that hitting one costs a fraction of a second.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::OnceLock;

/// What an input is, and so how large it may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// A flattened device tree or a TOML topology.
    Topology,
    /// A console log, `dmesg` or journal.
    Log,
    /// A `memblock replay` or `hv replay` script.
    Script,
    /// An unstripped kernel image (`vmlinux`).
    Kernel,
    /// A kernel build configuration (`.config`).
    Config,
}

impl Cap {
    /// The most bytes an input of this kind may have.
    pub const fn bytes(self) -> u64 {
        match self {
            Self::Topology => 64 << 20,
            Self::Log | Self::Script => 256 << 20,
            Self::Kernel => 1 << 30,
            Self::Config => 16 << 20,
        }
    }

    /// The kind, for the error message.
    pub const fn what(self) -> &'static str {
        match self {
            Self::Topology => "a topology (device tree or TOML)",
            Self::Log => "a boot log",
            Self::Script => "a replay script",
            Self::Kernel => "a kernel image",
            Self::Config => "a kernel configuration",
        }
    }
}

/// Why an input could not be read.
#[derive(Debug)]
pub enum InputError {
    /// Opening or reading failed.
    Io {
        /// The input as shown to the user.
        file: String,
        /// What the system said.
        source: io::Error,
    },
    /// The input is larger than its cap.
    TooLarge {
        /// The input as shown to the user.
        file: String,
        /// The cap that was exceeded.
        cap: Cap,
    },
    /// The input is not UTF-8 where text is needed.
    NotText {
        /// The input as shown to the user.
        file: String,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io { file, source } => write!(f, "{file}: cannot read: {source}"),
            Self::TooLarge { file, cap } => write!(
                f,
                "{file}: larger than {}, the most numaboot reads for {}",
                super::plan::human(cap.bytes()),
                cap.what()
            ),
            Self::NotText { file, offset } => {
                write!(
                    f,
                    "{file}: not UTF-8 text (invalid byte at offset {offset})"
                )
            }
        }
    }
}

// No `source()`: the message already carries the system's words, and `{:#}` would
// print them twice.
impl std::error::Error for InputError {}

/// Whether `path` names standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// `path` as error messages and reports show it: `-` is `standard input`.
pub fn shown(path: &Path) -> String {
    if is_stdin(path) {
        "standard input".into()
    } else {
        path.display().to_string()
    }
}

/// Reads at most `cap + 1` bytes of `r`: one byte more than allowed proves the input
/// too large without reading the rest of it.
fn read_capped(mut r: impl Read, file: &Path, cap: Cap) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::new();
    (&mut r)
        .take(cap.bytes().saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| InputError::Io {
            file: shown(file),
            source,
        })?;
    if out.len() as u64 > cap.bytes() {
        return Err(InputError::TooLarge {
            file: shown(file),
            cap,
        });
    }
    Ok(out)
}

/// Standard input as the first read left it.
enum Stdin {
    /// All of it.
    Bytes(Vec<u8>),
    /// More than the first reader's cap.
    TooLarge,
    /// Reading failed; the system's words.
    Failed(String),
}

/// Standard input, read once: options naming `-` twice (or a file read twice, as
/// `--kernel` is) see the same bytes.
static STDIN: OnceLock<Stdin> = OnceLock::new();

/// Reads the file at `path`, or standard input for `-`, refusing more than
/// `cap.bytes()`. Standard input is read once and kept, so every `-` sees the same
/// bytes, bounded by the cap of the first read.
pub fn read_input(path: &Path, cap: Cap) -> Result<Vec<u8>, InputError> {
    if is_stdin(path) {
        let got = STDIN.get_or_init(|| match read_capped(io::stdin().lock(), path, cap) {
            Ok(b) => Stdin::Bytes(b),
            Err(InputError::TooLarge { .. }) => Stdin::TooLarge,
            Err(InputError::Io { source, .. }) => Stdin::Failed(source.to_string()),
            Err(e) => Stdin::Failed(e.to_string()),
        });
        return match got {
            Stdin::Bytes(b) if b.len() as u64 <= cap.bytes() => Ok(b.clone()),
            Stdin::Bytes(_) | Stdin::TooLarge => Err(InputError::TooLarge {
                file: shown(path),
                cap,
            }),
            Stdin::Failed(e) => Err(InputError::Io {
                file: shown(path),
                source: io::Error::other(e.clone()),
            }),
        };
    }
    let file = std::fs::File::open(path).map_err(|source| InputError::Io {
        file: shown(path),
        source,
    })?;
    // A regular file's length is known: refuse it before reading any of it.
    if let Ok(meta) = file.metadata() {
        if meta.is_file() && meta.len() > cap.bytes() {
            return Err(InputError::TooLarge {
                file: shown(path),
                cap,
            });
        }
    }
    read_capped(file, path, cap)
}

/// [`read_input`] for text: the bytes must be UTF-8.
pub fn read_text(path: &Path, cap: Cap) -> Result<String, InputError> {
    let bytes = read_input(path, cap)?;
    String::from_utf8(bytes).map_err(|e| InputError::NotText {
        file: shown(path),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Failure to write standard output for a reason other than a closed pipe.
#[derive(Debug)]
pub struct OutputError(pub io::Error);

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing standard output: {}", self.0)
    }
}

impl std::error::Error for OutputError {}

/// Writes `bytes` to standard output and flushes. A reader that went away (`| head`) is
/// not an error: the rest of the output is simply not wanted.
pub fn write_stdout(bytes: &[u8]) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(OutputError(e)),
        _ => Ok(()),
    }
}

/// Whether `err` comes from a closed output pipe anywhere in its chain: such a command
/// ends quietly with status 0.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Folds a message into one line. Parser diagrams (a quoted source line with a caret
/// under it) are dropped, lines are joined with `: `, and any control character left
/// (a newline inside a device-tree node name, say) is shown escaped.
pub fn one_line(msg: &str) -> String {
    let parts: Vec<&str> = msg
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('|')
                && !l.chars().all(|c| c == '^' || c == ' ')
                && !l
                    .split_once(" |")
                    .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    escape_controls(&parts.join(": "))
}

/// Shows control characters (a newline inside a device-tree node name, say) escaped, so
/// that a message stays on one line whatever the input held.
pub fn escape_controls(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for c in msg.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_refuse_one_byte_more() {
        let cap = Cap::Config;
        let n = usize::try_from(cap.bytes()).unwrap();
        let ok = vec![b'a'; n];
        assert_eq!(read_capped(&ok[..], Path::new("x"), cap).unwrap().len(), n);
        let big = vec![b'a'; n + 1];
        let e = read_capped(&big[..], Path::new("big.config"), cap).unwrap_err();
        assert_eq!(
            e.to_string(),
            "big.config: larger than 16 MiB, the most numaboot reads for a kernel configuration"
        );
    }

    #[test]
    fn messages_become_one_line() {
        let toml = "TOML parse error at line 2, column 6\n  |\n2 | id = \"zero\"\n  |      ^^^^^^\ninvalid type\n";
        assert_eq!(
            one_line(toml),
            "TOML parse error at line 2, column 6: invalid type"
        );
        // A newline that is data (a node name), not a line of the message.
        assert_eq!(escape_controls("node `cpu\n@0`"), "node `cpu\\n@0`");
        assert_eq!(shown(Path::new("-")), "standard input");
    }
}
