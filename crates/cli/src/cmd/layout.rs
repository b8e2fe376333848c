//! `numaboot layout <lppaca|slb-shadow|dtl-entry> [--format table|json]`: the byte layout of a PAPR
//! structure, one line per field with Linux's field names.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use papr::layout::StructLayout;
use serde::Serialize;

use super::opts::TableOrJson;

/// Arguments of `numaboot layout`.
#[derive(Args)]
pub struct LayoutArgs {
    /// The structure to print.
    #[arg(value_enum)]
    pub structure: Structure,
    /// Output format: a table, or JSON (name, offset, size and writer of every field).
    #[arg(long, short = 'f', value_enum, default_value_t)]
    pub format: TableOrJson,
    /// The older spelling of `--format json`.
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
}

/// The structures `numaboot layout` knows.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Structure {
    /// Linux `struct lppaca`, the Virtual Processor Area.
    Lppaca,
    /// Linux `struct slb_shadow`, the SLB shadow buffer.
    #[value(alias = "slb_shadow")]
    SlbShadow,
    /// Linux `struct dtl_entry`, one Dispatch Trace Log record.
    #[value(alias = "dtl_entry")]
    DtlEntry,
}

impl Structure {
    fn layout(self) -> &'static StructLayout {
        match self {
            Self::Lppaca => &papr::Lppaca::LAYOUT,
            Self::SlbShadow => &papr::SlbShadow::LAYOUT,
            Self::DtlEntry => &papr::DtlEntry::LAYOUT,
        }
    }
}

#[derive(Serialize)]
struct JsonLayout<'a> {
    #[serde(rename = "struct")]
    c_name: &'a str,
    size: usize,
    align: usize,
    fields: Vec<JsonField<'a>>,
}

#[derive(Serialize)]
struct JsonField<'a> {
    name: &'a str,
    offset: usize,
    size: usize,
    writer: &'a str,
}

/// Renders the text form: `NAME OFFSET SIZE` per field, then `total SIZE`.
pub fn render_text(layout: &StructLayout) -> String {
    let mut out = String::new();
    for f in layout.fields {
        out.push_str(&format!("{} {} {}\n", f.name, f.offset, f.size));
    }
    out.push_str(&format!("total {}\n", layout.size));
    out
}

/// Renders the JSON form.
pub fn render_json(layout: &StructLayout) -> anyhow::Result<String> {
    let json = JsonLayout {
        c_name: layout.c_name,
        size: layout.size,
        align: layout.align,
        fields: layout
            .fields
            .iter()
            .map(|f| JsonField {
                name: f.name,
                offset: f.offset,
                size: f.size,
                writer: f.writer.name(),
            })
            .collect(),
    };
    Ok(serde_json::to_string_pretty(&json)? + "\n")
}

/// Runs `numaboot layout`.
pub fn run(args: LayoutArgs) -> anyhow::Result<ExitCode> {
    let layout = args.structure.layout();
    let text = match args.format.with_json_alias(args.json) {
        TableOrJson::Json => render_json(layout)?,
        TableOrJson::Table => render_text(layout),
    };
    super::files::write_stdout(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
