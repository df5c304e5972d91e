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

/// The listing statement, from validated names (configuration refuses names that
/// could close a bracket or open a string); with `since`, only the models changed
/// after that time (the system field `[Last Modification Date]`).
pub(super) fn list_statement(
    model_type: &str,
    rows: &RowShape,
    since: Option<SystemTime>,
) -> String {
    let filter = since.map_or(String::new(), |t| {
        format!(
            " WHERE [{LAST_MODIFIED}] > '{}'",
            humantime::format_rfc3339_millis(t)
        )
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
