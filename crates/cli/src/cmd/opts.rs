//! The option vocabulary shared by the subcommands: one size parser
//! ([`parse_size`], for every size and address option), `-` for standard input wherever
//! a file is read ([`super::files::read_input`]), and `--format` (`-f`) wherever the
//! output has more than one form, with the older `--json` kept as a hidden alias, and
//! `--strategy` ([`strategy_parser`]), whose values come from `percpu::Strategy` itself.

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::ValueEnum;
use percpu::Strategy;

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

/// The parser of `--strategy`: the names and help texts of every [`Strategy`] the
/// library has ([`Strategy::EVERY`], Linux 6.1 first as `linux`, the default), so a new
/// strategy needs no change here; an unknown name is refused with the library's own
/// message ([`percpu::UnknownStrategy`]).
pub fn strategy_parser() -> StrategyParser {
    StrategyParser
}

/// See [`strategy_parser`].
#[derive(Clone, Copy, Debug)]
pub struct StrategyParser;

impl TypedValueParser for StrategyParser {
    type Value = Strategy;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Strategy, clap::Error> {
        let text = StringValueParser::new().parse_ref(cmd, arg, value)?;
        text.parse::<Strategy>().map_err(|e| {
            let arg = arg.map_or_else(|| "--strategy".to_string(), ToString::to_string);
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{text}' for '{arg}': {e}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let first = Strategy::Linux61;
        let linux = PossibleValue::new("linux")
            .alias(first.name())
            .help(first.summary());
        let rest = Strategy::EVERY
            .into_iter()
            .filter(move |s| *s != first)
            .map(|s| PossibleValue::new(s.name()).help(s.summary()));
        Some(Box::new(core::iter::once(linux).chain(rest)))
    }
}
