//! `govsync mapping check|show`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::Output;
use crate::mapping::{self, Direction, MappingTable};

/// `govsync mapping …`.
#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Validate a mapping table and summarise it; exits 1 with the file, row and reason if invalid.
    Check {
        /// The mapping file (default: the built-in table).
        file: Option<PathBuf>,
    },
    /// Print a mapping table.
    Show {
        /// The mapping file (default: the built-in table).
        file: Option<PathBuf>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
}

/// Runs `govsync mapping …`.
pub(super) fn run(command: MappingCommand, out: &mut dyn Write) -> Result<(), String> {
    match command {
        MappingCommand::Check { file } => mapping_check(file.as_deref(), out),
        MappingCommand::Show { file, output } => mapping_show(file.as_deref(), output, out),
    }
}

fn load_mapping(file: Option<&Path>) -> Result<(String, MappingTable), String> {
    match file {
        Some(file) => crate::mapping::load(file)
            .map(|t| (file.display().to_string(), t))
            .map_err(|e| e.to_string()),
        None => Ok((mapping::BUILT_IN_NAME.to_string(), MappingTable::built_in())),
    }
}

fn mapping_check(file: Option<&Path>, out: &mut dyn Write) -> Result<(), String> {
    let (name, table) = load_mapping(file)?;
    let count = |d: Direction| table.rows().iter().filter(|r| r.direction == d).count();
    writeln!(
        out,
        "{name}: valid, {} rows ({} governance → SageMaker, {} SageMaker → governance, {} bidirectional)",
        table.rows().len(),
        count(Direction::GovernanceToSageMaker),
        count(Direction::SageMakerToGovernance),
        count(Direction::Bidirectional),
    )
    .map_err(|e| e.to_string())
}

fn mapping_show(file: Option<&Path>, output: Output, out: &mut dyn Write) -> Result<(), String> {
    let (_, table) = load_mapping(file)?;
    let text = match output {
        Output::Table => table.render_text(),
        Output::Json => {
            serde_json::to_string_pretty(table.rows()).expect("mapping rows serialise to JSON")
                + "\n"
        }
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_check_summarises_the_built_in_table() {
        let mut out = Vec::new();
        mapping_check(None, &mut out).expect("valid");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "<built-in mapping.toml>: valid, 19 rows (16 governance → SageMaker, 1 SageMaker → governance, 2 bidirectional)\n"
        );
    }

    #[test]
    fn mapping_show_json_round_trips_the_rows() {
        let mut out = Vec::new();
        mapping_show(None, Output::Json, &mut out).expect("valid");
        let rows: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(rows.as_array().map(Vec::len), Some(19));
        assert_eq!(
            rows[12],
            serde_json::json!({"governance_status": "Deployed", "stage": "Deployment",
                               "stage_status": "Complete", "direction": "sagemaker-to-governance"})
        );
    }
}
