//! The mapping table: which governance status corresponds to which SageMaker
//! `ModelLifeCycle` (stage, stage status), and in which direction a change may flow.
//!
//! The table is data (`config/mapping.toml`), loaded and validated once at start-up;
//! the planner asks it two questions, both answered in O(1).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::{ApprovalStatus, GovernanceStatus, Lifecycle};
use crate::toml_text::{TomlFileError, line_column};

/// The table IBM documents, shipped as `config/mapping.toml` and built into the binary.
pub const DEFAULT_MAPPING_TOML: &str = include_str!("../../../../config/mapping.toml");

/// The name under which the built-in table is reported in messages.
pub const BUILT_IN_NAME: &str = "<built-in mapping.toml>";

/// Which way a row lets a change flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A governance status change is written to SageMaker; SageMaker is never read back.
    GovernanceToSageMaker,
    /// A SageMaker lifecycle change is written to governance; never pushed.
    SageMakerToGovernance,
    /// Either side's change is written to the other.
    Bidirectional,
}

impl Direction {
    /// Every direction with its spelling in the mapping file.
    pub const ALL: [(Direction, &'static str); 3] = [
        (Direction::GovernanceToSageMaker, "governance-to-sagemaker"),
        (Direction::SageMakerToGovernance, "sagemaker-to-governance"),
        (Direction::Bidirectional, "bidirectional"),
    ];

    /// The spelling used in the mapping file.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(d, _)| *d == self)
            .map(|(_, s)| *s)
            .expect("every direction is listed in Direction::ALL")
    }

    /// Parses the mapping file's spelling.
    pub fn parse(text: &str) -> Option<Direction> {
        Self::ALL.iter().find(|(_, s)| *s == text).map(|(d, _)| *d)
    }

    /// True if a governance status in this row may be written to SageMaker.
    pub fn allows_push(self) -> bool {
        matches!(
            self,
            Direction::GovernanceToSageMaker | Direction::Bidirectional
        )
    }

    /// True if a SageMaker lifecycle in this row may be written to governance.
    pub fn allows_pull(self) -> bool {
        matches!(
            self,
            Direction::SageMakerToGovernance | Direction::Bidirectional
        )
    }

    /// The form people read in tables.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::GovernanceToSageMaker => "governance → SageMaker",
            Direction::SageMakerToGovernance => "SageMaker → governance",
            Direction::Bidirectional => "bidirectional",
        }
    }
}

impl Serialize for Direction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingRow {
    /// The governance model status.
    pub governance_status: GovernanceStatus,
    /// The SageMaker lifecycle (stage and stage status).
    #[serde(flatten)]
    pub lifecycle: Lifecycle,
    /// Which way a change may flow.
    pub direction: Direction,
    /// Optional: the `ModelApprovalStatus` that pushing this row also sets (with an
    /// `ApprovalDescription` saying why). Not in the built-in table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_status: Option<ApprovalStatus>,
    /// Optional: the governance workflow action that leads to this row's status
    /// (`governance.write_mode = "workflow"`). Not in the built-in table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub governance_action: Option<String>,
}

/// Why a mapping file was refused. Every variant names the file; row-level ones name
/// the row (1-based, in file order) and its line.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file could not be read, or is not valid TOML.
    #[error(transparent)]
    File(#[from] TomlFileError),
    /// A row is wrong.
    #[error("{file}: row {row} (line {line}): {reason}")]
    Row {
        /// The file.
        file: PathBuf,
        /// 1-based row number in file order.
        row: usize,
        /// 1-based line where the row starts.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The table has no rows.
    #[error("{file}: the mapping table has no rows; add at least one [[row]]")]
    Empty {
        /// The file.
        file: PathBuf,
    },
}

/// The validated mapping table with O(1) lookups in both directions.
#[derive(Debug, Clone)]
pub struct MappingTable {
    rows: Vec<MappingRow>,
    by_status: HashMap<GovernanceStatus, usize>,
    by_lifecycle: HashMap<Lifecycle, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    row: Vec<toml::Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    governance_status: String,
    stage: String,
    stage_status: String,
    direction: String,
    approval_status: Option<String>,
    governance_action: Option<String>,
}

impl MappingTable {
    /// The built-in default table (IBM's documented 19 rows).
    pub fn built_in() -> MappingTable {
        MappingTable::parse(DEFAULT_MAPPING_TOML, Path::new(BUILT_IN_NAME))
            .expect("the built-in mapping table is valid (checked by tests)")
    }

    /// Validates mapping TOML text; `file` is only used in messages.
    pub fn parse(text: &str, file: &Path) -> Result<MappingTable, MappingError> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| TomlFileError::syntax(file, text, &e))?;
        if raw.row.is_empty() {
            return Err(MappingError::Empty {
                file: file.to_path_buf(),
            });
        }
        let mut table = MappingTable {
            rows: Vec::with_capacity(raw.row.len()),
            by_status: HashMap::with_capacity(raw.row.len()),
            by_lifecycle: HashMap::with_capacity(raw.row.len()),
        };
        for (index, spanned) in raw.row.into_iter().enumerate() {
            let line = line_column(text, spanned.span().start).0;
            let row_error = |reason: String| MappingError::Row {
                file: file.to_path_buf(),
                row: index + 1,
                line,
                reason,
            };
            let row = parse_row(spanned.into_inner()).map_err(row_error)?;
            table.insert(row).map_err(row_error)?;
        }
        Ok(table)
    }

    /// Adds a validated row, refusing duplicates; the error names the earlier row.
    fn insert(&mut self, row: MappingRow) -> Result<(), String> {
        if let Some(&earlier) = self.by_status.get(&row.governance_status) {
            return Err(format!(
                "governance status \"{}\" is already mapped by row {}",
                row.governance_status,
                earlier + 1
            ));
        }
        if let Some(&earlier) = self.by_lifecycle.get(&row.lifecycle) {
            return Err(format!(
                "stage \"{}\" with stage status \"{}\" is already mapped by row {}",
                row.lifecycle.stage,
                row.lifecycle.stage_status,
                earlier + 1
            ));
        }
        let index = self.rows.len();
        self.by_status.insert(row.governance_status.clone(), index);
        self.by_lifecycle.insert(row.lifecycle.clone(), index);
        self.rows.push(row);
        Ok(())
    }

    /// The rows in file order.
    pub fn rows(&self) -> &[MappingRow] {
        &self.rows
    }

    /// The row that maps this governance status, if any.
    pub fn by_governance_status(&self, status: &str) -> Option<&MappingRow> {
        self.by_status.get(status).map(|&i| &self.rows[i])
    }

    /// The row that maps this SageMaker lifecycle, if any.
    pub fn by_lifecycle(&self, lifecycle: &Lifecycle) -> Option<&MappingRow> {
        self.by_lifecycle.get(lifecycle).map(|&i| &self.rows[i])
    }

    /// Renders the table as aligned text columns (for `govsync mapping show`).
    pub fn render_text(&self) -> String {
        const HEADER: [&str; 5] = [
            "#",
            "governance status",
            "SageMaker stage",
            "stage status",
            "direction",
        ];
        let row = |i: usize, r: &MappingRow| -> [String; 5] {
            [
                (i + 1).to_string(),
                r.governance_status.to_string(),
                r.lifecycle.stage.clone(),
                r.lifecycle.stage_status.clone(),
                r.direction.arrow().to_string(),
            ]
        };
        let rows = self.rows.iter().enumerate();
        if self.rows.iter().any(|r| r.approval_status.is_some()) {
            // The approval column only when a row sets one.
            let [a, b, c, d, e] = HEADER;
            let cells: Vec<[String; 6]> = rows
                .map(|(i, r)| {
                    let [a, b, c, d, e] = row(i, r);
                    let approval = r.approval_status.map(|s| s.to_string()).unwrap_or_default();
                    [a, b, c, d, e, approval]
                })
                .collect();
            crate::render::columns(&[a, b, c, d, e, "approval"], &cells)
        } else {
            let cells: Vec<[String; 5]> = rows.map(|(i, r)| row(i, r)).collect();
            crate::render::columns(&HEADER, &cells)
        }
    }
}

fn parse_row(table: toml::Table) -> Result<MappingRow, String> {
    let raw: RawRow = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim_end().to_string())?;
    let governance_status = raw.governance_status.trim();
    if governance_status.is_empty() {
        return Err("governance_status is empty".into());
    }
    if governance_status != raw.governance_status {
        return Err(format!(
            "governance_status \"{}\" has leading or trailing spaces",
            raw.governance_status
        ));
    }
    check_lifecycle_name("stage", &raw.stage)?;
    check_lifecycle_name("stage_status", &raw.stage_status)?;
    let direction = Direction::parse(&raw.direction).ok_or_else(|| {
        let expected: Vec<&str> = Direction::ALL.iter().map(|(_, s)| *s).collect();
        format!(
            "unknown direction \"{}\", expected one of: {}",
            raw.direction,
            expected.join(", ")
        )
    })?;
    let approval_status = match raw.approval_status.as_deref() {
        None => None,
        Some(text) => Some(ApprovalStatus::parse(text).ok_or_else(|| {
            let expected: Vec<&str> = ApprovalStatus::ALL.iter().map(|a| a.as_str()).collect();
            format!(
                "unknown approval_status \"{text}\", expected one of: {}",
                expected.join(", ")
            )
        })?),
    };
    if approval_status.is_some() && !direction.allows_push() {
        return Err(format!(
            "approval_status is set, but the row's direction {direction} never pushes it"
        ));
    }
    if let Some(action) = &raw.governance_action
        && (action.trim().is_empty() || action.trim() != action)
    {
        return Err(format!(
            "governance_action \"{action}\" is empty or has leading or trailing spaces"
        ));
    }
    Ok(MappingRow {
        governance_status: GovernanceStatus::new(raw.governance_status),
        lifecycle: Lifecycle::new(raw.stage, raw.stage_status),
        direction,
        approval_status,
        governance_action: raw.governance_action,
    })
}

/// Checks SageMaker's rule for `ModelLifeCycle.Stage` and `StageStatus`:
/// `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`, 1–63 characters. With the length bound, the
/// pattern means: ASCII letters, digits and hyphens, starting and ending with a
/// letter or digit.
pub fn check_lifecycle_name(key: &str, value: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "{key} \"{value}\" is not a valid SageMaker lifecycle name: {why} \
             (pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}})"
        ))
    };
    if value.is_empty() {
        return bad("it is empty");
    }
    if value.len() > 63 {
        return bad("it is longer than 63 characters");
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return bad(&format!("{c:?} is not a letter, digit or hyphen"));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return bad("it starts or ends with a hyphen");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
