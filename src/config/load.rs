//! Reading a configuration: the file, its overrides, validation, the mapping table.

use std::path::Path;

use govsync_core::toml_text::TomlFileError;

use super::file::{RawConfig, schema};
use super::validate::Validator;
use super::{Config, ConfigError, OverrideKeys, SecretError};
use crate::mapping::{self, MappingTable};

impl Config {
    /// Reads, overrides and validates a config file, and loads its mapping table.
    /// `env` is the process environment (passed in so that tests own it).
    pub fn load(file: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| TomlFileError::Read {
            file: file.to_path_buf(),
            what: "the configuration",
            source,
        })?;
        Config::from_toml(&text, file, env)
    }

    /// Like [`Config::load`] with the file's text given; `file` is used for messages
    /// and to resolve a relative `sync.mapping_file`.
    pub fn from_toml(
        text: &str,
        file: &Path,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| TomlFileError::syntax(file, text, &e))?;
        let secret_vars = named_secret_vars(&table, env);
        let overrides = schema()
            .apply(&mut table, env, &secret_vars)
            .map_err(ConfigError::Env)?;
        // The store named by an environment override replaces the one the file names
        // the other way (a deployment's GOVSYNC_STATE_URL over the file's
        // state.path); both set at the same level is an error the validator reports.
        let overridden = |key: &str| overrides.iter().any(|o| o.key == key);
        let dropped = match (overridden("state.url"), overridden("state.path")) {
            (true, false) => Some("path"),
            (false, true) => Some("url"),
            _ => None,
        };
        if let (Some(key), Some(toml::Value::Table(state))) = (dropped, table.get_mut("state")) {
            state.remove(key);
        }
        let key_error = |key: String, message: String| {
            let origin = overrides
                .iter()
                .find(|o| o.key == key)
                .map(|o| o.var.clone());
            ConfigError::Key {
                file: file.to_path_buf(),
                key,
                origin,
                message,
            }
        };
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let message = e.into_inner().message().trim_end().to_string();
                key_error(key, message)
            })?;
        let validated = Validator {
            key_error: &key_error,
            default_instance: &|| default_instance(env),
        }
        .config(raw, file)?;
        let mapping = match &validated.sync.mapping_file {
            Some(path) => crate::mapping::load(path)?,
            None => MappingTable::built_in(),
        };
        Ok(Config {
            file: file.to_path_buf(),
            governance: validated.governance,
            sagemaker: validated.sagemaker,
            sync: validated.sync,
            state: validated.state,
            listen: validated.listen,
            events: validated.events,
            mapping,
            overrides,
        })
    }

    /// Reads the governance credential now; start-up calls this so that a missing
    /// secret is refused before any work starts.
    pub fn governance_secret(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<secrecy::SecretString, SecretError> {
        let (key, source) = self.governance.auth.secret();
        source.resolve(key, env)
    }

    /// A description of where the mapping table comes from.
    pub fn mapping_source(&self) -> String {
        self.sync.mapping_file.as_ref().map_or_else(
            || mapping::BUILT_IN_NAME.to_string(),
            |p| p.display().to_string(),
        )
    }
}

/// Environment variables that the file (or an override) names as holding a secret:
/// they are not overrides even if they start with `GOVSYNC_`.
fn named_secret_vars(table: &toml::Table, env: &[(String, String)]) -> Vec<String> {
    let external_ids = table
        .get("sagemaker")
        .and_then(|s| s.get("scopes"))
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|scope| scope.get("external_id_env")?.as_str().map(str::to_string));
    [
        ("governance.auth", "password_env"),
        ("governance.auth", "api_key_env"),
        ("state", "password_env"),
    ]
    .iter()
    .flat_map(|(section, key)| {
        let mut value = Some(table as &toml::Table);
        for part in section.split('.') {
            value = value.and_then(|t| t.get(part)).and_then(|v| v.as_table());
        }
        let from_file = value
            .and_then(|a| a.get(*key))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let var = OverrideKeys::var_for(&format!("{section}.{key}"));
        let from_env = env.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
        [from_file, from_env]
    })
    .flatten()
    .chain(external_ids)
    .collect()
}

/// This process's name among replicas when `state.instance` is not set: the host
/// name (a Kubernetes pod's name) and the process ID.
fn default_instance(env: &[(String, String)]) -> String {
    let host = env
        .iter()
        .find(|(k, _)| k == "HOSTNAME")
        .map(|(_, v)| v.trim().to_string())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "govsync".to_string());
    format!("{host}:{}", std::process::id())
}
