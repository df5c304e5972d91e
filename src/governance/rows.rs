//! OpenPages rows and statements: the listing query, and reading a row's fields
//! into a [`GovernanceModel`] (a malformed row is a [`RejectedRow`], never a panic).

use std::time::SystemTime;

use serde_json::Value;

use crate::domain::{GovernanceModel, GovernanceStatus, ModelId, PackageArn};
use crate::remote::RejectedRow;

/// The names a row is read by.
pub(super) struct RowShape {
    /// The status field.
    pub(super) status_field: String,
    /// The link field (the package ARN).
    pub(super) link_field: String,
}

/// How "changed since" is written in a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Since {
    /// A timestamp literal, to the millisecond (`'2026-12-04T10:11:12.345Z'`).
    Timestamp(SystemTime),
    /// A date literal for deployments that accept only those: the day before the
    /// time's own (UTC), so that nothing changed after the time is missed, whether
    /// the server compares dates or times (`'2026-12-03'`).
    DayBefore(SystemTime),
}

impl Since {
    /// The literal, without its quotes.
    fn literal(self) -> String {
        match self {
            Since::Timestamp(t) => humantime::format_rfc3339_millis(t).to_string(),
            Since::DayBefore(t) => {
                let day_before = t
                    .checked_sub(std::time::Duration::from_secs(86_400))
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                humantime::format_rfc3339_seconds(day_before).to_string()[..10].to_string()
            }
        }
    }
}

/// The listing statement, from validated names (configuration refuses names that
/// could close a bracket or open a string); with `since`, only the models changed
/// after that time (the system field `[Last Modification Date]`).
pub(super) fn list_statement(model_type: &str, rows: &RowShape, since: Option<Since>) -> String {
    let filter = since.map_or(String::new(), |since| {
        format!(" WHERE [{LAST_MODIFIED}] > '{}'", since.literal())
    });
    format!(
        "SELECT [Resource ID], [Name], [{status}], [{link}] FROM [{model_type}]{filter} ORDER BY [Resource ID] ASC",
        status = rows.status_field,
        link = rows.link_field,
    )
}

/// The system field OpenPages sets on every change of an object.
pub const LAST_MODIFIED: &str = "Last Modification Date";

impl RowShape {
    /// Reads one query row or contents object into a model.
    pub(super) fn model_from(
        &self,
        fields: &[Value],
        position: &str,
    ) -> Result<GovernanceModel, RejectedRow> {
        let field = |name: &str| {
            fields
                .iter()
                .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
                .and_then(|f| f.get("value"))
                .filter(|v| !v.is_null())
        };
        let id = match field("Resource ID") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(RejectedRow {
                    row: position.to_string(),
                    reason: "the row has no Resource ID".into(),
                });
            }
        };
        let reject = |reason: String| RejectedRow {
            row: format!("model {id}"),
            reason,
        };
        let name = match field("Name") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(reject(format!("Name is not a string: {other}"))),
        };
        let status = match field(&self.status_field) {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(GovernanceStatus::new(s.clone())),
            Some(Value::Object(o)) => match o.get("name") {
                Some(Value::String(s)) => Some(GovernanceStatus::new(s.clone())),
                _ => {
                    return Err(reject(format!(
                        "{} is an enum value without a name: {}",
                        self.status_field,
                        Value::Object(o.clone())
                    )));
                }
            },
            Some(other) => {
                return Err(reject(format!(
                    "{} is not a string: {other}",
                    self.status_field
                )));
            }
        };
        let link = match field(&self.link_field) {
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(
                PackageArn::parse(s.trim())
                    .map_err(|e| reject(format!("{}: {e}", self.link_field)))?,
            ),
            Some(other) => {
                return Err(reject(format!(
                    "{} is not a string: {other}",
                    self.link_field
                )));
            }
        };
        Ok(GovernanceModel {
            id: ModelId::new(id),
            name,
            status,
            link,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn since_is_written_as_a_timestamp_or_as_the_day_before() {
        // 2026-12-04T00:30:00.250Z
        let t = UNIX_EPOCH + Duration::from_millis(1_796_344_200_250);
        let rows = RowShape {
            status_field: "S".into(),
            link_field: "L".into(),
        };
        assert_eq!(
            list_statement("Model", &rows, Some(Since::Timestamp(t))),
            "SELECT [Resource ID], [Name], [S], [L] FROM [Model] WHERE [Last Modification Date] > '2026-12-04T00:30:00.250Z' ORDER BY [Resource ID] ASC"
        );
        assert!(
            list_statement("Model", &rows, Some(Since::DayBefore(t)))
                .contains("WHERE [Last Modification Date] > '2026-12-03' ORDER BY")
        );
    }
}
