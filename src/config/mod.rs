//! Configuration: `govsync.toml`, overridden by `GOVSYNC_…` environment variables,
//! validated once at start-up into typed settings. Every refusal names the file and
//! the key (and the variable, when an override set it).

mod overrides;
mod scopes;
mod secret;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use overrides::{Override, RESERVED as RESERVED_ENV_VARS, Schema};
pub use scopes::{AssumeRole, DEFAULT_SESSION_NAME, ScopeConfig};
pub use secret::{SecretError, SecretSource};

use crate::domain::GovernanceStatus;
use crate::mapping::{self, MappingError, MappingTable};
use crate::plan::{ConflictPolicy, Policy};
use crate::toml_text::error_position;

/// The default config file path, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config/govsync.toml";

/// The default IBM Cloud IAM token endpoint.
pub const DEFAULT_IAM_TOKEN_URL: &str = "https://iam.cloud.ibm.com/identity/token";

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read the configuration: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A key is unknown, missing or has a bad value.
    #[error("{file}: `{key}`{}: {message}", origin.as_ref().map(|v| format!(" (set by {v})")).unwrap_or_default())]
    Key {
        /// The file.
        file: PathBuf,
        /// The dotted key.
        key: String,
        /// The environment variable that set it, if one did.
        origin: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// An environment variable is wrong.
    #[error("{0}")]
    Env(String),
    /// The mapping table is invalid.
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

/// How govsync authenticates to governance (OpenPages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthConfig {
    /// HTTP Basic with a username and password.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: SecretSource,
    },
    /// An IBM Cloud IAM API key, exchanged for short-lived bearer tokens.
    Iam {
        /// The API key.
        api_key: SecretSource,
        /// The token endpoint.
        token_url: String,
    },
    /// Cloud Pak for Data: `Authorization: ZenApiKey base64(username:api_key)`.
    Zen {
        /// The user.
        username: String,
        /// The API key.
        api_key: SecretSource,
    },
}

impl AuthConfig {
    /// The config-file spelling of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthConfig::Basic { .. } => "basic",
            AuthConfig::Iam { .. } => "iam",
            AuthConfig::Zen { .. } => "zen",
        }
    }

    /// The secret this mode needs, with its config key (without `_env`/`_file`).
    pub fn secret(&self) -> (&'static str, &SecretSource) {
        match self {
            AuthConfig::Basic { password, .. } => ("governance.auth.password", password),
            AuthConfig::Iam { api_key, .. } | AuthConfig::Zen { api_key, .. } => {
                ("governance.auth.api_key", api_key)
            }
        }
    }
}

/// Governance (watsonx.governance / OpenPages REST API v2) settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceConfig {
    /// The API base URL, ending in `/api/v2` (no trailing slash).
    pub base_url: String,
    /// The object type of models.
    pub model_type: String,
    /// The field that holds the model status.
    pub status_field: String,
    /// The field that holds the linked SageMaker model package ARN.
    pub link_field: String,
    /// Rows per query page.
    pub page_size: u32,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// An extra PEM CA bundle for private deployments.
    pub ca_bundle: Option<PathBuf>,
    /// How to authenticate.
    pub auth: AuthConfig,
}

/// The SDK's retry mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryMode {
    /// Exponential backoff with jitter.
    Standard,
    /// Standard plus client-side rate limiting.
    Adaptive,
}

/// SageMaker Model Registry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SageMakerConfig {
    /// The region of the default scope (no `scopes` configured); `None` uses the AWS
    /// default chain (`AWS_REGION`, profile, …).
    pub region: Option<String>,
    /// A custom endpoint (the mock server); `None` uses the AWS default.
    pub endpoint_url: Option<String>,
    /// A custom STS endpoint (the mock server) for `GetCallerIdentity` and
    /// `AssumeRole`; `None` uses the AWS default (`AWS_ENDPOINT_URL_STS` also works).
    pub sts_endpoint_url: Option<String>,
    /// The default scope's model package groups (no `scopes` configured); empty
    /// means every group.
    pub model_package_groups: Vec<String>,
    /// The configured scopes; empty: one scope, the default credentials' own account
    /// (from STS `GetCallerIdentity`) in `region`.
    pub scopes: Vec<ScopeConfig>,
    /// The SDK retry mode.
    pub retry_mode: RetryMode,
    /// Attempts per call, including the first.
    pub max_attempts: u32,
    /// Timeout of one SDK operation, retries included.
    pub operation_timeout: Duration,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
}

/// Sync loop settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Time between the starts of two cycles.
    pub interval: Duration,
    /// The planner's policy.
    pub policy: Policy,
    /// Writes in flight at once.
    pub concurrency: usize,
    /// The mapping file; `None` means the built-in table.
    pub mapping_file: Option<PathBuf>,
    /// How long `govsync run` waits for in-flight writes after SIGTERM/SIGINT.
    pub shutdown_grace: Duration,
    /// Describe every linked package each cycle to read its model card status (one
    /// `DescribeModelPackage` per linked model not yet decommissioning).
    pub read_model_cards: bool,
}

/// Everything govsync is configured with, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub file: PathBuf,
    /// Governance settings.
    pub governance: GovernanceConfig,
    /// SageMaker settings.
    pub sagemaker: SageMakerConfig,
    /// Sync settings.
    pub sync: SyncConfig,
    /// The state store: a SQLite file path, or `:memory:`.
    pub state_path: String,
    /// The HTTP address for health, readiness and metrics.
    pub listen: SocketAddr,
    /// The loaded mapping table.
    pub mapping: MappingTable,
    /// The environment overrides that were applied.
    pub overrides: Vec<Override>,
}

// ---- the file's shape -------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    governance: RawGovernance,
    #[serde(default)]
    sagemaker: RawSageMaker,
    #[serde(default)]
    sync: RawSync,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    server: RawServer,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGovernance {
    base_url: String,
    #[serde(default = "d::model_type")]
    model_type: String,
    #[serde(default = "d::status_field")]
    status_field: String,
    #[serde(default = "d::link_field")]
    link_field: String,
    #[serde(default = "d::page_size")]
    page_size: i64,
    #[serde(default = "d::connect_timeout")]
    connect_timeout: String,
    #[serde(default = "d::request_timeout")]
    request_timeout: String,
    ca_bundle: Option<PathBuf>,
    auth: RawAuth,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    kind: String,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    api_key_env: Option<String>,
    api_key_file: Option<PathBuf>,
    token_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSageMaker {
    region: Option<String>,
    endpoint_url: Option<String>,
    sts_endpoint_url: Option<String>,
    #[serde(default)]
    model_package_groups: Vec<String>,
    #[serde(default)]
    scopes: Vec<scopes::RawScope>,
    #[serde(default = "d::retry_mode")]
    retry_mode: RetryMode,
    #[serde(default = "d::max_attempts")]
    max_attempts: i64,
    #[serde(default = "d::operation_timeout")]
    operation_timeout: String,
    #[serde(default = "d::attempt_timeout")]
    attempt_timeout: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    #[serde(default = "d::interval")]
    interval: String,
    #[serde(default)]
    conflict_policy: ConflictPolicy,
    #[serde(default = "d::decommission_status")]
    decommission_status: String,
    #[serde(default = "d::archive_stage")]
    archive_stage: String,
    #[serde(default = "d::max_decommissions")]
    max_decommissions_per_cycle: i64,
    max_decommissions_per_scope: Option<i64>,
    #[serde(default = "d::concurrency")]
    concurrency: i64,
    mapping_file: Option<PathBuf>,
    #[serde(default = "d::shutdown_grace")]
    shutdown_grace: String,
    #[serde(default)]
    read_model_cards: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    #[serde(default = "d::state_path")]
    path: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default = "d::listen")]
    listen: String,
}

/// Defaults, one function each (serde's `default = "…"` needs a path).
mod d {
    use super::RetryMode;
    pub fn model_type() -> String {
        "Model".into()
    }
    pub fn status_field() -> String {
        "MRG-Model:Status".into()
    }
    pub fn link_field() -> String {
        "Integration:External ID".into()
    }
    pub fn page_size() -> i64 {
        500
    }
    pub fn connect_timeout() -> String {
        "10s".into()
    }
    pub fn request_timeout() -> String {
        "30s".into()
    }
    pub fn retry_mode() -> RetryMode {
        RetryMode::Standard
    }
    pub fn max_attempts() -> i64 {
        3
    }
    pub fn operation_timeout() -> String {
        "60s".into()
    }
    pub fn attempt_timeout() -> String {
        "20s".into()
    }
    pub fn interval() -> String {
        "60s".into()
    }
    pub fn decommission_status() -> String {
        "Decommissioned".into()
    }
    pub fn archive_stage() -> String {
        "Archived".into()
    }
    pub fn max_decommissions() -> i64 {
        10
    }
    pub fn concurrency() -> i64 {
        8
    }
    pub fn shutdown_grace() -> String {
        "30s".into()
    }
    pub fn state_path() -> String {
        "govsync-state.db".into()
    }
    pub fn listen() -> String {
        "127.0.0.1:9464".into()
    }
}

macro_rules! default_section {
    ($($ty:ident),*) => {$(
        impl Default for $ty {
            fn default() -> Self {
                // An empty table takes every field's serde default.
                toml::Value::Table(toml::Table::new())
                    .try_into()
                    .expect("every field of this section has a default")
            }
        }
    )*};
}
default_section!(RawSageMaker, RawSync, RawState, RawServer);

impl RawConfig {
    /// Every key set, so that serialising it lists every setting and its type.
    fn full_example() -> RawConfig {
        let some = |s: &str| Some(s.to_string());
        RawConfig {
            governance: RawGovernance {
                base_url: "https://example/opgrc/api/v2".into(),
                model_type: d::model_type(),
                status_field: d::status_field(),
                link_field: d::link_field(),
                page_size: d::page_size(),
                connect_timeout: d::connect_timeout(),
                request_timeout: d::request_timeout(),
                ca_bundle: Some(PathBuf::from("ca.pem")),
                auth: RawAuth {
                    kind: "basic".into(),
                    username: some("u"),
                    password_env: some("P"),
                    password_file: Some(PathBuf::from("p")),
                    api_key_env: some("K"),
                    api_key_file: Some(PathBuf::from("k")),
                    token_url: some(DEFAULT_IAM_TOKEN_URL),
                },
            },
            sagemaker: RawSageMaker {
                region: some("us-east-1"),
                endpoint_url: some("http://127.0.0.1:4566"),
                sts_endpoint_url: some("http://127.0.0.1:4566"),
                model_package_groups: vec!["g".into()],
                // Lists of tables are not overridable; one entry shows the shape.
                scopes: vec![scopes::RawScope {
                    account_id: "111122223333".into(),
                    regions: vec!["us-east-1".into()],
                    partition: None,
                    role_arn: None,
                    external_id_env: None,
                    session_name: None,
                    model_package_groups: vec![],
                }],
                ..RawSageMaker::default()
            },
            sync: RawSync {
                mapping_file: Some(PathBuf::from("mapping.toml")),
                max_decommissions_per_scope: Some(d::max_decommissions()),
                ..RawSync::default()
            },
            state: RawState::default(),
            server: RawServer::default(),
        }
    }
}

/// The schema of overridable keys, derived from the config structure.
pub fn schema() -> Schema {
    let example = toml::Table::try_from(RawConfig::full_example())
        .expect("the config structure serialises to a TOML table");
    Schema::from_example(&example)
}

impl Config {
    /// Reads, overrides and validates a config file, and loads its mapping table.
    /// `env` is the process environment (passed in so that tests own it).
    pub fn load(file: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_path_buf(),
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
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, column, message) = error_position(text, &e);
            ConfigError::Syntax {
                file: file.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        let secret_vars = named_secret_vars(&table, env);
        let overrides = schema()
            .apply(&mut table, env, &secret_vars)
            .map_err(ConfigError::Env)?;
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
        }
        .config(raw, file)?;
        let mapping = match &validated.sync.mapping_file {
            Some(path) => MappingTable::load(path)?,
            None => MappingTable::built_in(),
        };
        Ok(Config {
            file: file.to_path_buf(),
            governance: validated.governance,
            sagemaker: validated.sagemaker,
            sync: validated.sync,
            state_path: validated.state_path,
            listen: validated.listen,
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
    ["password_env", "api_key_env"]
        .iter()
        .flat_map(|key| {
            let from_file = table
                .get("governance")
                .and_then(|g| g.get("auth"))
                .and_then(|a| a.get(*key))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let var = Schema::var_for(&format!("governance.auth.{key}"));
            let from_env = env.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
            [from_file, from_env]
        })
        .flatten()
        .chain(external_ids)
        .collect()
}

struct Validated {
    governance: GovernanceConfig,
    sagemaker: SageMakerConfig,
    sync: SyncConfig,
    state_path: String,
    listen: SocketAddr,
}

struct Validator<'a> {
    key_error: &'a dyn Fn(String, String) -> ConfigError,
}

impl Validator<'_> {
    fn fail<T>(&self, key: &str, message: impl Into<String>) -> Result<T, ConfigError> {
        Err((self.key_error)(key.to_string(), message.into()))
    }

    fn duration(&self, key: &str, text: &str) -> Result<Duration, ConfigError> {
        match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => self.fail(key, "must be longer than zero"),
            Err(e) => self.fail(
                key,
                format!("\"{text}\" is not a duration ({e}); write e.g. \"30s\", \"5m\" or \"1h\""),
            ),
        }
    }

    fn range(&self, key: &str, value: i64, min: i64, max: i64) -> Result<i64, ConfigError> {
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            self.fail(
                key,
                format!("{value} is out of range; allowed {min} to {max}"),
            )
        }
    }

    /// Names go into OpenPages query statements inside `[...]`, so they must not be
    /// able to close the bracket or open a string.
    fn field_name(&self, key: &str, name: String) -> Result<String, ConfigError> {
        if name.trim().is_empty() {
            return self.fail(key, "must not be empty");
        }
        if let Some(c) = name
            .chars()
            .find(|c| matches!(c, '[' | ']' | '\'' | '"') || c.is_control())
        {
            return self.fail(
                key,
                format!("\"{name}\" contains {c:?}, which an OpenPages field or type name cannot"),
            );
        }
        Ok(name)
    }

    fn url(&self, key: &str, url: String) -> Result<String, ConfigError> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(host)
                if !host.is_empty()
                    && !host.starts_with('/')
                    && !url.contains(char::is_whitespace) =>
            {
                Ok(url.trim_end_matches('/').to_string())
            }
            _ => self.fail(key, format!("\"{url}\" is not an http:// or https:// URL")),
        }
    }

    fn config(&self, raw: RawConfig, file: &Path) -> Result<Validated, ConfigError> {
        let g = raw.governance;
        let governance = GovernanceConfig {
            base_url: self.url("governance.base_url", g.base_url)?,
            model_type: self.field_name("governance.model_type", g.model_type)?,
            status_field: self.field_name("governance.status_field", g.status_field)?,
            link_field: self.field_name("governance.link_field", g.link_field)?,
            page_size: self.range("governance.page_size", g.page_size, 1, 10_000)? as u32,
            connect_timeout: self.duration("governance.connect_timeout", &g.connect_timeout)?,
            request_timeout: self.duration("governance.request_timeout", &g.request_timeout)?,
            ca_bundle: g.ca_bundle.map(|p| relative_to(file, p)),
            auth: self.auth(g.auth, file)?,
        };

        let s = raw.sagemaker;
        if let Some(region) = &s.region
            && (region.is_empty()
                || !region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return self.fail(
                "sagemaker.region",
                format!("\"{region}\" is not an AWS region name like us-east-1"),
            );
        }
        for (i, group) in s.model_package_groups.iter().enumerate() {
            if let Err(why) = mapping::check_lifecycle_name("group", group) {
                return self.fail(&format!("sagemaker.model_package_groups[{i}]"), why);
            }
        }
        if !s.scopes.is_empty() {
            let with_scopes = "applies only when no [[sagemaker.scopes]] are configured; \
                               give each scope its regions and model_package_groups instead";
            if s.region.is_some() {
                return self.fail("sagemaker.region", with_scopes);
            }
            if !s.model_package_groups.is_empty() {
                return self.fail("sagemaker.model_package_groups", with_scopes);
            }
        }
        let scopes = scopes::validate(s.scopes, &|key, message| (self.key_error)(key, message))?;
        let sagemaker = SageMakerConfig {
            endpoint_url: s
                .endpoint_url
                .map(|u| self.url("sagemaker.endpoint_url", u))
                .transpose()?,
            sts_endpoint_url: s
                .sts_endpoint_url
                .map(|u| self.url("sagemaker.sts_endpoint_url", u))
                .transpose()?,
            region: s.region,
            model_package_groups: s.model_package_groups,
            scopes,
            retry_mode: s.retry_mode,
            max_attempts: self.range("sagemaker.max_attempts", s.max_attempts, 1, 10)? as u32,
            operation_timeout: self
                .duration("sagemaker.operation_timeout", &s.operation_timeout)?,
            attempt_timeout: self.duration("sagemaker.attempt_timeout", &s.attempt_timeout)?,
        };

        let y = raw.sync;
        if y.decommission_status.trim().is_empty() {
            return self.fail("sync.decommission_status", "must not be empty");
        }
        if let Err(why) = mapping::check_lifecycle_name("archive_stage", &y.archive_stage) {
            return self.fail("sync.archive_stage", why);
        }
        let max_decommissions_per_cycle = self.range(
            "sync.max_decommissions_per_cycle",
            y.max_decommissions_per_cycle,
            0,
            1_000_000,
        )? as usize;
        let sync = SyncConfig {
            interval: self.duration("sync.interval", &y.interval)?,
            policy: Policy {
                conflict: y.conflict_policy,
                decommission_status: GovernanceStatus::new(y.decommission_status),
                archive_stage: y.archive_stage,
                max_decommissions_per_cycle,
                max_decommissions_per_scope: match y.max_decommissions_per_scope {
                    Some(n) => {
                        self.range("sync.max_decommissions_per_scope", n, 0, 1_000_000)? as usize
                    }
                    None => max_decommissions_per_cycle,
                },
            },
            concurrency: self.range("sync.concurrency", y.concurrency, 1, 256)? as usize,
            mapping_file: y.mapping_file.map(|p| relative_to(file, p)),
            shutdown_grace: self.duration("sync.shutdown_grace", &y.shutdown_grace)?,
            read_model_cards: y.read_model_cards,
        };

        if raw.state.path.trim().is_empty() {
            return self.fail(
                "state.path",
                "must not be empty; use \":memory:\" for a store that is not kept",
            );
        }
        let listen = match raw.server.listen.parse() {
            Ok(addr) => addr,
            Err(_) => {
                return self.fail(
                    "server.listen",
                    format!(
                        "\"{}\" is not an address like 127.0.0.1:9464 or [::]:9464",
                        raw.server.listen
                    ),
                );
            }
        };
        Ok(Validated {
            governance,
            sagemaker,
            sync,
            state_path: match raw.state.path.as_str() {
                ":memory:" => raw.state.path,
                path => relative_to(file, PathBuf::from(path))
                    .to_string_lossy()
                    .into_owned(),
            },
            listen,
        })
    }

    fn auth(&self, a: RawAuth, file: &Path) -> Result<AuthConfig, ConfigError> {
        let secret = |name: &str, env: Option<String>, path: Option<PathBuf>| match (env, path) {
            (Some(var), None) if !var.is_empty() => Ok(SecretSource::Env(var)),
            (Some(_), None) => {
                self.fail(&format!("governance.auth.{name}_env"), "must not be empty")
            }
            (None, Some(path)) => Ok(SecretSource::File(relative_to(file, path))),
            (Some(_), Some(_)) => self.fail(
                &format!("governance.auth.{name}_env"),
                format!("set either {name}_env or {name}_file, not both"),
            ),
            (None, None) => self.fail(
                &format!("governance.auth.{name}_env"),
                format!(
                    "kind = \"{}\" needs the {name}: name an environment variable with {name}_env \
                     or a file with {name}_file (secrets are never written in this file)",
                    a.kind
                ),
            ),
        };
        let unused = |keys: &[(&str, bool)]| -> Result<(), ConfigError> {
            match keys.iter().find(|(_, set)| *set) {
                Some((key, _)) => self.fail(
                    &format!("governance.auth.{key}"),
                    format!("is not used with kind = \"{}\"; remove it", a.kind),
                ),
                None => Ok(()),
            }
        };
        let username = |username: Option<String>| match username {
            Some(u) if !u.is_empty() => Ok(u),
            _ => self.fail(
                "governance.auth.username",
                format!("kind = \"{}\" needs a username", a.kind),
            ),
        };
        match a.kind.as_str() {
            "basic" => {
                unused(&[
                    ("api_key_env", a.api_key_env.is_some()),
                    ("api_key_file", a.api_key_file.is_some()),
                    ("token_url", a.token_url.is_some()),
                ])?;
                Ok(AuthConfig::Basic {
                    username: username(a.username)?,
                    password: secret("password", a.password_env, a.password_file)?,
                })
            }
            "iam" => {
                unused(&[
                    ("username", a.username.is_some()),
                    ("password_env", a.password_env.is_some()),
                    ("password_file", a.password_file.is_some()),
                ])?;
                Ok(AuthConfig::Iam {
                    api_key: secret("api_key", a.api_key_env, a.api_key_file)?,
                    token_url: self.url(
                        "governance.auth.token_url",
                        a.token_url
                            .unwrap_or_else(|| DEFAULT_IAM_TOKEN_URL.to_string()),
                    )?,
                })
            }
            "zen" => {
                unused(&[
                    ("password_env", a.password_env.is_some()),
                    ("password_file", a.password_file.is_some()),
                    ("token_url", a.token_url.is_some()),
                ])?;
                Ok(AuthConfig::Zen {
                    username: username(a.username)?,
                    api_key: secret("api_key", a.api_key_env, a.api_key_file)?,
                })
            }
            other => self.fail(
                "governance.auth.kind",
                format!("unknown auth kind \"{other}\", expected one of: basic, iam, zen"),
            ),
        }
    }
}

/// A relative path in the config file is relative to the file's directory.
fn relative_to(file: &Path, path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(path),
        _ => path,
    }
}

#[cfg(test)]
mod tests;
