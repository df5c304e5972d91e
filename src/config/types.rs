//! The validated settings govsync runs with, and why a configuration is refused.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Override, ScopeConfig, SecretSource};
use govsync_core::toml_text::TomlFileError;

use crate::mapping::{MappingError, MappingTable};
use crate::plan::Policy;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read, or is not valid TOML.
    #[error(transparent)]
    File(#[from] TomlFileError),
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
    /// How calls are retried.
    pub retry: RetryPolicy,
    /// How a status is written.
    pub write_mode: WriteMode,
    /// In workflow mode, a status whose row names no `governance_action` is written
    /// as a field instead of refused.
    pub field_write_fallback: bool,
    /// Governance models created for ungoverned packages (`None`: off).
    pub create: Option<CreateConfig>,
}

/// `[governance.create]`: where and how govsync creates a governance model for a
/// package no model links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateConfig {
    /// The resource ID of the object new models are created under.
    pub parent_id: String,
    /// The name template (`{group}`, `{version}`, `{arn}`).
    pub name: String,
    /// The status when the package's lifecycle pulls none.
    pub status: String,
}

/// How govsync writes a governance status (`governance.write_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `PUT /contents/{id}` of the status field.
    Field,
    /// The workflow action the mapping row names (`governance_action`), performed on
    /// the model's active workflow instance.
    Workflow,
}

impl WriteMode {
    /// How the config spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMode::Field => "field",
            WriteMode::Workflow => "workflow",
        }
    }
}

/// How often and how patiently a governance call is retried on 429, 502/503/504 and
/// connection errors (`governance.max_retries`, `retry_min_delay`, `retry_max_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// The first backoff (doubled each time, with jitter).
    pub min_delay: Duration,
    /// The longest backoff (a longer `Retry-After`, up to a minute, is honoured).
    pub max_delay: Duration,
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
    /// Events in (`[sagemaker.events]`): the queue SageMaker's events arrive in;
    /// `None`: cycles only.
    pub events: Option<EventsConfig>,
}

/// `[events]`: the EventBridge bus govsync publishes a `govsync Status Change` event
/// to for every write it applies (events out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishConfig {
    /// The bus's name, or its ARN (whose region then wins).
    pub bus: String,
    /// A custom EventBridge endpoint (a test server); `None` uses the AWS default
    /// (`AWS_ENDPOINT_URL_EVENTS` also works).
    pub eventbridge_endpoint_url: Option<String>,
}

/// `[sagemaker.events]`: the SQS queue an EventBridge rule sends SageMaker's model
/// package and model card events to (one queue for every scope: spoke accounts
/// forward their events to the hub's bus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// The queue's URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
    pub queue_url: String,
    /// A custom SQS endpoint (a test server); `None` uses the AWS default
    /// (`AWS_ENDPOINT_URL_SQS` also works).
    pub sqs_endpoint_url: Option<String>,
}

/// Sync loop settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Time between the starts of two cycles.
    pub interval: Duration,
    /// Time between the starts of two full cycles (the only ones that may conclude
    /// that a package is gone); the cycles between are incremental.
    pub full_interval: Duration,
    /// How far before its last question an incremental cycle asks each side for
    /// changes, so that clock skew, commit lag and an index that lags lose nothing.
    pub overlap: Duration,
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
    /// Describe a package right before updating it (no lost updates on SageMaker too).
    pub recheck_sagemaker: bool,
}

/// Where state is kept (`[state]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateConfig {
    /// Embedded SQLite: a file path, or `:memory:`. One replica.
    Sqlite {
        /// The file.
        path: String,
    },
    /// PostgreSQL: several replicas, one leads.
    Postgres(PostgresConfig),
}

/// A PostgreSQL state store (`state.url = "postgres://…"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// The URL, without a password (it is refused there); `sslmode`, `sslrootcert`
    /// and the other libpq parameters as query parameters.
    pub url: String,
    /// Where the password comes from (none: the URL's user logs in without one, or
    /// through `PGPASSWORD` / `~/.pgpass`).
    pub password: Option<SecretSource>,
    /// This process's name among the replicas (the pod name, the task ID).
    pub instance: String,
    /// A leader that stops proving it leads loses the lock within about this long.
    pub lease: Duration,
}

impl StateConfig {
    /// What the store is, for people (never a password).
    pub fn describe(&self) -> String {
        match self {
            StateConfig::Sqlite { path } => format!("sqlite {path}"),
            StateConfig::Postgres(pg) => format!(
                "postgres {} (instance {}, lease {})",
                pg.url,
                pg.instance,
                humantime::format_duration(pg.lease)
            ),
        }
    }

    /// The SQLite file, when the store is one.
    pub fn sqlite_path(&self) -> Option<&str> {
        match self {
            StateConfig::Sqlite { path } => Some(path),
            StateConfig::Postgres(_) => None,
        }
    }
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
    /// The state store.
    pub state: StateConfig,
    /// The HTTP address for health, readiness and metrics.
    pub listen: SocketAddr,
    /// Events out (`[events]`): the bus govsync publishes its changes to; `None`:
    /// none are published.
    pub events: Option<PublishConfig>,
    /// The loaded mapping table.
    pub mapping: MappingTable,
    /// The environment overrides that were applied.
    pub overrides: Vec<Override>,
}
