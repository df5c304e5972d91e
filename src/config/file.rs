//! The configuration file's shape as serde reads it (every key, its default), and the
//! schema of `GOVSYNC_…` overrides derived from it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConflictPolicy, DEFAULT_IAM_TOKEN_URL, OverrideKeys, RetryMode, scopes};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) governance: RawGovernance,
    #[serde(default)]
    pub(super) sagemaker: RawSageMaker,
    #[serde(default)]
    pub(super) sync: RawSync,
    #[serde(default)]
    pub(super) state: RawState,
    #[serde(default)]
    pub(super) server: RawServer,
    pub(super) events: Option<RawPublish>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPublish {
    pub(super) bus: String,
    pub(super) eventbridge_endpoint_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGovernance {
    pub(super) base_url: String,
    #[serde(default = "defaults::model_type")]
    pub(super) model_type: String,
    #[serde(default = "defaults::status_field")]
    pub(super) status_field: String,
    #[serde(default = "defaults::link_field")]
    pub(super) link_field: String,
    #[serde(default = "defaults::page_size")]
    pub(super) page_size: i64,
    #[serde(default = "defaults::connect_timeout")]
    pub(super) connect_timeout: String,
    #[serde(default = "defaults::request_timeout")]
    pub(super) request_timeout: String,
    #[serde(default = "defaults::write_mode")]
    pub(super) write_mode: String,
    #[serde(default)]
    pub(super) field_write_fallback: bool,
    #[serde(default = "defaults::max_retries")]
    pub(super) max_retries: i64,
    #[serde(default = "defaults::retry_min_delay")]
    pub(super) retry_min_delay: String,
    #[serde(default = "defaults::retry_max_delay")]
    pub(super) retry_max_delay: String,
    pub(super) ca_bundle: Option<PathBuf>,
    pub(super) auth: RawAuth,
    pub(super) create: Option<RawCreate>,
}

/// `[governance.create]`: governance models created for ungoverned packages.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCreate {
    pub(super) parent_id: String,
    #[serde(default = "defaults::create_name")]
    pub(super) name: String,
    #[serde(default = "defaults::create_status")]
    pub(super) status: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) kind: String,
    pub(super) username: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) api_key_env: Option<String>,
    pub(super) api_key_file: Option<PathBuf>,
    pub(super) token_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSageMaker {
    pub(super) region: Option<String>,
    pub(super) endpoint_url: Option<String>,
    pub(super) sts_endpoint_url: Option<String>,
    #[serde(default)]
    pub(super) model_package_groups: Vec<String>,
    #[serde(default)]
    pub(super) scopes: Vec<scopes::RawScope>,
    #[serde(default = "defaults::retry_mode")]
    pub(super) retry_mode: RetryMode,
    #[serde(default = "defaults::max_attempts")]
    pub(super) max_attempts: i64,
    #[serde(default = "defaults::operation_timeout")]
    pub(super) operation_timeout: String,
    #[serde(default = "defaults::attempt_timeout")]
    pub(super) attempt_timeout: String,
    pub(super) events: Option<RawEvents>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    pub(super) queue_url: String,
    pub(super) sqs_endpoint_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    #[serde(default = "defaults::interval")]
    pub(super) interval: String,
    /// Default: [`defaults::full_interval`], or `interval` if that is longer.
    pub(super) full_interval: Option<String>,
    #[serde(default = "defaults::overlap")]
    pub(super) overlap: String,
    #[serde(default)]
    pub(super) conflict_policy: ConflictPolicy,
    #[serde(default = "defaults::decommission_status")]
    pub(super) decommission_status: String,
    #[serde(default = "defaults::archive_stage")]
    pub(super) archive_stage: String,
    #[serde(default = "defaults::max_decommissions")]
    pub(super) max_decommissions_per_cycle: i64,
    pub(super) max_decommissions_per_scope: Option<i64>,
    #[serde(default = "defaults::concurrency")]
    pub(super) concurrency: i64,
    pub(super) mapping_file: Option<PathBuf>,
    #[serde(default = "defaults::shutdown_grace")]
    pub(super) shutdown_grace: String,
    #[serde(default)]
    pub(super) read_model_cards: bool,
    #[serde(default)]
    pub(super) recheck_sagemaker: bool,
    #[serde(default)]
    pub(super) ungoverned_ignore_groups: Vec<String>,
    #[serde(default = "defaults::link_metadata_key")]
    pub(super) link_metadata_key: String,
    #[serde(default = "defaults::max_creates")]
    pub(super) max_creates_per_cycle: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    /// Default: [`defaults::state_path`], unless `url` is set.
    pub(super) path: Option<String>,
    pub(super) url: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) instance: Option<String>,
    #[serde(default = "defaults::lease")]
    pub(super) lease: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    #[serde(default = "defaults::listen")]
    pub(super) listen: String,
}

/// Defaults, one function each (serde's `default = "…"` needs a path).
pub(super) mod defaults {
    use crate::config::RetryMode;
    use crate::plan::Policy;
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
    pub fn write_mode() -> String {
        "field".into()
    }
    pub fn max_retries() -> i64 {
        4
    }
    pub fn retry_min_delay() -> String {
        "500ms".into()
    }
    pub fn retry_max_delay() -> String {
        "10s".into()
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
        "10s".into()
    }
    /// Unless `sync.interval` is longer.
    pub fn full_interval() -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }
    pub fn overlap() -> String {
        "60s".into()
    }
    // The sync policy's defaults are the planner's (`Policy::default`), not a copy.
    pub fn decommission_status() -> String {
        Policy::default().decommission_status.as_str().to_string()
    }
    pub fn archive_stage() -> String {
        Policy::default().archive_stage
    }
    pub fn max_decommissions() -> i64 {
        i64::try_from(Policy::default().max_decommissions_per_cycle).unwrap_or(i64::MAX)
    }
    /// From `cargo bench --bench scale -- writes` (docs/performance.md).
    pub fn concurrency() -> i64 {
        super::super::DEFAULT_CONCURRENCY as i64
    }
    pub fn create_name() -> String {
        "{group} v{version}".into()
    }
    pub fn create_status() -> String {
        "Proposed".into()
    }
    pub fn max_creates() -> i64 {
        20
    }
    pub fn link_metadata_key() -> String {
        Policy::default().link_metadata_key
    }
    pub fn shutdown_grace() -> String {
        "30s".into()
    }
    pub fn state_path() -> String {
        "govsync-state.db".into()
    }
    pub fn lease() -> String {
        "15s".into()
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
    pub(super) fn full_example() -> RawConfig {
        let some = |s: &str| Some(s.to_string());
        RawConfig {
            governance: RawGovernance {
                base_url: "https://example/opgrc/api/v2".into(),
                model_type: defaults::model_type(),
                status_field: defaults::status_field(),
                link_field: defaults::link_field(),
                page_size: defaults::page_size(),
                connect_timeout: defaults::connect_timeout(),
                request_timeout: defaults::request_timeout(),
                write_mode: defaults::write_mode(),
                field_write_fallback: false,
                max_retries: defaults::max_retries(),
                retry_min_delay: defaults::retry_min_delay(),
                retry_max_delay: defaults::retry_max_delay(),
                ca_bundle: Some(PathBuf::from("ca.pem")),
                create: Some(RawCreate {
                    parent_id: "1234".into(),
                    name: defaults::create_name(),
                    status: defaults::create_status(),
                }),
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
                events: Some(RawEvents {
                    queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/govsync-events"
                        .into(),
                    sqs_endpoint_url: some("http://127.0.0.1:5000"),
                }),
                ..RawSageMaker::default()
            },
            sync: RawSync {
                mapping_file: Some(PathBuf::from("mapping.toml")),
                max_decommissions_per_scope: Some(defaults::max_decommissions()),
                full_interval: Some("10m".into()),
                ungoverned_ignore_groups: vec!["sandbox".into()],
                ..RawSync::default()
            },
            state: RawState {
                path: some("govsync-state.db"),
                url: some("postgres://govsync@db/govsync"),
                password_env: some("P"),
                password_file: Some(PathBuf::from("p")),
                instance: some("govsync-0"),
                lease: defaults::lease(),
            },
            server: RawServer::default(),
            events: Some(RawPublish {
                bus: "govsync-changes".into(),
                eventbridge_endpoint_url: some("http://127.0.0.1:5000"),
            }),
        }
    }
}

/// The schema of overridable keys, derived from the config structure.
pub fn schema() -> OverrideKeys {
    let example = toml::Table::try_from(RawConfig::full_example())
        .expect("the config structure serialises to a TOML table");
    OverrideKeys::from_example(&example)
}
