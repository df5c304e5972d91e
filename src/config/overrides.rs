//! `GOVSYNC_…` environment variables that override settings of the config file.
//!
//! The set of keys and the type of each comes from the config structure itself (a
//! fully populated example serialised to TOML), so a new setting is overridable
//! without a second list to keep in step.

use std::collections::BTreeMap;

/// The prefix every override variable starts with.
pub const PREFIX: &str = "GOVSYNC_";

/// Variables with the prefix that belong to the command line, not to the file.
pub const RESERVED: [&str; 3] = ["GOVSYNC_CONFIG", "GOVSYNC_LOG", "GOVSYNC_LOG_FORMAT"];

/// One override that was applied: which variable set which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The variable's name.
    pub var: String,
    /// The dotted config key.
    pub key: String,
}

/// The type of a leaf setting, which decides how a variable's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Boolean,
    /// Comma-separated; empty text is an empty list.
    TextList,
}

/// The overridable keys: variable name → (dotted key, kind).
pub struct OverrideKeys(BTreeMap<String, (Vec<String>, Kind)>);

impl OverrideKeys {
    /// Builds the schema from a fully populated example of the config structure.
    pub fn from_example(example: &toml::Table) -> OverrideKeys {
        let mut keys = BTreeMap::new();
        collect(example, &mut Vec::new(), &mut keys);
        OverrideKeys(keys)
    }

    /// The variable name that overrides a dotted key.
    pub fn var_for(key: &str) -> String {
        format!("{PREFIX}{}", key.replace(['.', '-'], "_").to_uppercase())
    }

    /// Every dotted key, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.0.values().map(|(path, _)| path.join(".")).collect();
        keys.sort();
        keys
    }

    /// Applies the overrides found in `env` to `table`. Variables with the prefix
    /// that match no key are refused, except the reserved ones and those listed in
    /// `secret_vars` (variables the config names as holding a secret).
    pub fn apply(
        &self,
        table: &mut toml::Table,
        env: &[(String, String)],
        secret_vars: &[String],
    ) -> Result<Vec<Override>, String> {
        let mut applied = Vec::new();
        for (var, text) in env {
            if !var.starts_with(PREFIX)
                || RESERVED.contains(&var.as_str())
                || secret_vars.contains(var)
            {
                continue;
            }
            let Some((path, kind)) = self.0.get(var) else {
                return Err(format!(
                    "environment variable {var} does not override any setting; the overridable \
                     variables are {}",
                    self.0.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            };
            let key = path.join(".");
            let value =
                parse(*kind, text).map_err(|why| format!("{var} (setting `{key}`): {why}"))?;
            set(table, path, value);
            applied.push(Override {
                var: var.clone(),
                key,
            });
        }
        Ok(applied)
    }
}

fn collect(
    table: &toml::Table,
    path: &mut Vec<String>,
    out: &mut BTreeMap<String, (Vec<String>, Kind)>,
) {
    for (name, value) in table {
        path.push(name.clone());
        let kind = match value {
            toml::Value::Table(inner) => {
                collect(inner, path, out);
                None
            }
            toml::Value::Integer(_) => Some(Kind::Integer),
            toml::Value::Boolean(_) => Some(Kind::Boolean),
            // A list of tables (`[[sagemaker.scopes]]`) has no one-variable form.
            toml::Value::Array(items) if items.first().is_some_and(toml::Value::is_table) => None,
            toml::Value::Array(_) => Some(Kind::TextList),
            _ => Some(Kind::Text),
        };
        if let Some(kind) = kind {
            out.insert(OverrideKeys::var_for(&path.join(".")), (path.clone(), kind));
        }
        path.pop();
    }
}

fn parse(kind: Kind, text: &str) -> Result<toml::Value, String> {
    Ok(match kind {
        Kind::Text => toml::Value::String(text.to_string()),
        Kind::Integer => toml::Value::Integer(
            text.trim()
                .parse()
                .map_err(|_| format!("\"{text}\" is not an integer"))?,
        ),
        Kind::Boolean => toml::Value::Boolean(match text.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(format!("\"{text}\" is not true or false")),
        }),
        Kind::TextList => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
    })
}

fn set(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("a key has at least one part");
    let mut table = table;
    for name in parents {
        let entry = table
            .entry(name.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            // The file has a scalar where a section belongs; the override replaces it
            // and deserialisation reports whatever is then missing.
            *entry = toml::Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("just made a table");
    }
    table.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> OverrideKeys {
        let example: toml::Table = toml::from_str(
            "[a]\nname = \"x\"\ncount = 1\nlist = [\"y\"]\nflag = true\n[a.inner]\nkey-name = \"z\"\n",
        )
        .expect("toml");
        OverrideKeys::from_example(&example)
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn overrides_are_typed_by_the_example() {
        let mut table = toml::Table::new();
        let applied = schema()
            .apply(
                &mut table,
                &env(&[
                    ("GOVSYNC_A_NAME", "n"),
                    ("GOVSYNC_A_COUNT", " 42 "),
                    ("GOVSYNC_A_LIST", "p, q,,"),
                    ("GOVSYNC_A_FLAG", "false"),
                    ("GOVSYNC_A_INNER_KEY_NAME", "k"),
                    ("OTHER", "ignored"),
                ]),
                &[],
            )
            .expect("valid");
        assert_eq!(applied.len(), 5);
        let expected: toml::Table = toml::from_str(
            "[a]\nname = \"n\"\ncount = 42\nlist = [\"p\", \"q\"]\nflag = false\n[a.inner]\nkey-name = \"k\"\n",
        )
        .expect("toml");
        assert_eq!(table, expected);
        assert!(applied.contains(&Override {
            var: "GOVSYNC_A_INNER_KEY_NAME".into(),
            key: "a.inner.key-name".into()
        }));
    }

    #[test]
    fn bad_values_and_unknown_variables_are_named() {
        let mut table = toml::Table::new();
        let err = schema()
            .apply(&mut table, &env(&[("GOVSYNC_A_COUNT", "many")]), &[])
            .expect_err("not an integer");
        assert_eq!(
            err,
            "GOVSYNC_A_COUNT (setting `a.count`): \"many\" is not an integer"
        );

        let err = schema()
            .apply(&mut table, &env(&[("GOVSYNC_A_NAEM", "x")]), &[])
            .expect_err("unknown");
        assert!(
            err.starts_with("environment variable GOVSYNC_A_NAEM does not override any setting"),
            "{err}"
        );
        assert!(err.contains("GOVSYNC_A_NAME"), "{err}");
    }

    #[test]
    fn reserved_and_secret_variables_are_left_alone() {
        let mut table = toml::Table::new();
        let applied = schema()
            .apply(
                &mut table,
                &env(&[("GOVSYNC_CONFIG", "x"), ("GOVSYNC_PASSWORD", "p")]),
                &["GOVSYNC_PASSWORD".to_string()],
            )
            .expect("nothing to refuse");
        assert!(applied.is_empty());
        assert!(table.is_empty());
    }
}
