//! The option vocabulary shared by the subcommands: one size parser
//! ([`parse_size`], for every size and address option), `-` for standard input wherever
//! a file is read ([`super::files::read_input`]), and `--format` (`-f`) wherever the
//! output has more than one form, with the older `--json` kept as a hidden alias.

use clap::ValueEnum;

pub use super::plan::parse_size;

/// `--format` of a command whose output is a table or JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum TableOrJson {
    /// Text for people.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

impl TableOrJson {
    /// The format asked for, with the hidden `--json` alias of `--format json` applied.
    pub fn with_json_alias(self, json: bool) -> Self {
        if json {
            Self::Json
        } else {
            self
        }
    }
}
