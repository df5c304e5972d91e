//! Type discovery: the model type's definition (`GET /types/{type}`) checked against
//! what govsync will write, once at start-up, so that a renamed or missing status is
//! refused by name before any cycle instead of as a refused write every cycle.

use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;

/// How the status field's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFormat {
    /// An enum field: `{"name": "<status>"}`.
    #[default]
    Enum,
    /// A string field: the status as text.
    String,
}

/// One field of a type definition.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FieldDefinition {
    /// The field's name (`MRG-Model:Status`).
    pub name: String,
    /// `ENUM_TYPE`, `STRING_TYPE`, `DATE_TYPE`, …
    pub data_type: String,
    /// An enum field's values.
    #[serde(default, deserialize_with = "enum_names")]
    pub enum_values: Vec<String>,
    /// Whether the API refuses writes to it.
    #[serde(default)]
    pub read_only: bool,
    /// Whether an object must be created with it.
    #[serde(default)]
    pub required: bool,
}

fn enum_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let values: Option<Vec<Value>> = Option::deserialize(d)?;
    Ok(values
        .unwrap_or_default()
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            v => v.get("name").and_then(Value::as_str).map(str::to_string),
        })
        .collect())
}

/// A type definition as OpenPages returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TypeDefinition {
    /// Its fields.
    pub field_definitions: Vec<FieldDefinition>,
}

/// What discovery found and govsync will do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// How statuses are written.
    pub status_format: StatusFormat,
    /// One line for `config check` and the start-up log.
    pub summary: String,
}

/// Every status govsync may write: each row's, the decommission status, and the
/// status of the models it creates.
pub fn statuses_written(config: &Config) -> Vec<String> {
    let mut statuses: Vec<String> = config
        .mapping
        .rows()
        .iter()
        .map(|r| r.governance_status.as_str().to_string())
        .collect();
    let decommission = config.sync.policy.decommission_status.as_str().to_string();
    let created = config.governance.create.as_ref().map(|c| c.status.clone());
    for status in std::iter::once(decommission).chain(created) {
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    statuses
}

/// Checks the definition of `type_name` against the configured status and link
/// fields and the statuses govsync writes. The error names what is missing and lists
/// what there is.
pub fn check(
    definition: &TypeDefinition,
    type_name: &str,
    status_field: &str,
    link_field: &str,
    statuses: &[String],
) -> Result<Discovered, String> {
    let find = |name: &str| definition.field_definitions.iter().find(|f| f.name == name);
    let names = || {
        definition
            .field_definitions
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let status = find(status_field).ok_or_else(|| {
        format!(
            "governance.status_field \"{status_field}\" is not a field of the type {type_name}; its fields are: {}",
            names()
        )
    })?;
    if status.read_only {
        return Err(format!(
            "governance.status_field \"{status_field}\" of the type {type_name} is read-only"
        ));
    }
    let (status_format, status_text) = match status.data_type.as_str() {
        "ENUM_TYPE" => {
            let missing: Vec<&str> = statuses
                .iter()
                .filter(|s| !status.enum_values.contains(s))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "the status field \"{status_field}\" of the type {type_name} has no value {} \
                     (used by the mapping table or sync.decommission_status); its values are: {}",
                    missing
                        .iter()
                        .map(|s| format!("\"{s}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    status.enum_values.join(", ")
                ));
            }
            (
                StatusFormat::Enum,
                format!(
                    "enum, {} values, every status govsync writes among them",
                    status.enum_values.len()
                ),
            )
        }
        "STRING_TYPE" => (
            StatusFormat::String,
            "string: statuses are written as text".to_string(),
        ),
        other => {
            return Err(format!(
                "the status field \"{status_field}\" of the type {type_name} is {other}; \
                 govsync writes an enum or a string field"
            ));
        }
    };
    let link = find(link_field).ok_or_else(|| {
        format!(
            "governance.link_field \"{link_field}\" is not a field of the type {type_name}; its fields are: {}",
            names()
        )
    })?;
    if link.data_type != "STRING_TYPE" {
        return Err(format!(
            "governance.link_field \"{link_field}\" of the type {type_name} is {}, not a text field \
             that can hold a model package ARN",
            link.data_type
        ));
    }
    Ok(Discovered {
        status_format,
        summary: format!(
            "{type_name}: status field \"{status_field}\" ({status_text}), link field \"{link_field}\" (string)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn definition(status: Value) -> TypeDefinition {
        serde_json::from_value(json!({ "field_definitions": [
            { "name": "Name", "data_type": "STRING_TYPE" },
            status,
            { "name": "Link", "data_type": "STRING_TYPE" },
        ]}))
        .expect("definition")
    }

    fn statuses(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_enum_holding_every_status_is_written_as_an_enum() {
        let d = definition(json!({ "name": "S", "data_type": "ENUM_TYPE",
            "enum_values": [{ "name": "A" }, { "name": "B" }] }));
        let found = check(&d, "Model", "S", "Link", &statuses(&["A", "B"])).expect("valid");
        assert_eq!(found.status_format, StatusFormat::Enum);
        assert!(
            found.summary.contains("enum, 2 values"),
            "{}",
            found.summary
        );
    }

    #[test]
    fn a_missing_status_is_named_and_the_values_listed() {
        let d = definition(json!({ "name": "S", "data_type": "ENUM_TYPE",
            "enum_values": [{ "name": "A" }, { "name": "In Production" }] }));
        let error =
            check(&d, "Model", "S", "Link", &statuses(&["A", "Deployed"])).expect_err("refused");
        assert!(error.contains("has no value \"Deployed\""), "{error}");
        assert!(
            error.contains("its values are: A, In Production"),
            "{error}"
        );
    }

    #[test]
    fn a_string_status_field_is_written_as_text() {
        let d = definition(json!({ "name": "S", "data_type": "STRING_TYPE" }));
        let found = check(&d, "Model", "S", "Link", &statuses(&["Anything"])).expect("valid");
        assert_eq!(found.status_format, StatusFormat::String);
    }

    #[test]
    fn missing_or_unfit_fields_are_refused_by_key() {
        let d = definition(json!({ "name": "S", "data_type": "DATE_TYPE" }));
        let error = check(&d, "Model", "S", "Link", &[]).expect_err("date");
        assert!(error.contains("is DATE_TYPE"), "{error}");
        let d = definition(json!({ "name": "S", "data_type": "STRING_TYPE" }));
        let error = check(&d, "Model", "Status", "Link", &[]).expect_err("missing");
        assert!(
            error.contains("governance.status_field \"Status\" is not a field"),
            "{error}"
        );
        assert!(error.contains("its fields are: Name, S, Link"), "{error}");
        let error = check(&d, "Model", "S", "Nope", &[]).expect_err("no link");
        assert!(error.contains("governance.link_field \"Nope\""), "{error}");
        let d = definition(json!({ "name": "S", "data_type": "STRING_TYPE", "read_only": true }));
        assert!(
            check(&d, "Model", "S", "Link", &[])
                .expect_err("read-only")
                .contains("read-only")
        );
    }
}
