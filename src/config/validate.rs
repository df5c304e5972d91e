//! The validator: every setting checked, each refusal naming its key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{RawAuth, RawConfig, RawState, defaults};
use super::{
    AuthConfig, ConfigError, DEFAULT_IAM_TOKEN_URL, EventsConfig, GovernanceConfig, PostgresConfig,
    PublishConfig, RetryPolicy, SageMakerConfig, SecretSource, StateConfig, SyncConfig, WriteMode,
    scopes,
};
use crate::domain::GovernanceStatus;
use crate::mapping;
use crate::plan::Policy;

pub(super) struct Validated {
    pub(super) governance: GovernanceConfig,
    pub(super) sagemaker: SageMakerConfig,
    pub(super) sync: SyncConfig,
    pub(super) state: StateConfig,
    pub(super) listen: SocketAddr,
    pub(super) events: Option<PublishConfig>,
}

pub(super) struct Validator<'a> {
    pub(super) key_error: &'a dyn Fn(String, String) -> ConfigError,
    /// This process's default instance name among replicas (`state.instance`),
    /// asked for only when a PostgreSQL store names none.
    pub(super) default_instance: &'a dyn Fn() -> String,
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

    pub(super) fn config(&self, raw: RawConfig, file: &Path) -> Result<Validated, ConfigError> {
        let file_governance = raw.governance;
        let governance = GovernanceConfig {
            base_url: self.url("governance.base_url", file_governance.base_url)?,
            model_type: self.field_name("governance.model_type", file_governance.model_type)?,
            status_field: self
                .field_name("governance.status_field", file_governance.status_field)?,
            link_field: self.field_name("governance.link_field", file_governance.link_field)?,
            page_size: self.range("governance.page_size", file_governance.page_size, 1, 10_000)?
                as u32,
            connect_timeout: self.duration(
                "governance.connect_timeout",
                &file_governance.connect_timeout,
            )?,
            request_timeout: self.duration(
                "governance.request_timeout",
                &file_governance.request_timeout,
            )?,
            write_mode: match file_governance.write_mode.as_str() {
                "field" => WriteMode::Field,
                "workflow" => WriteMode::Workflow,
                other => {
                    return self.fail(
                        "governance.write_mode",
                        format!("unknown write mode \"{other}\", expected one of: field, workflow"),
                    );
                }
            },
            field_write_fallback: file_governance.field_write_fallback,
            create: match file_governance.create {
                None => None,
                Some(create) => {
                    if create.parent_id.trim().is_empty() {
                        return self.fail(
                            "governance.create.parent_id",
                            "must be the resource ID of the object new models are created under",
                        );
                    }
                    let unknown = create
                        .name
                        .replace("{group}", "")
                        .replace("{version}", "")
                        .replace("{arn}", "")
                        .replace("{description}", "");
                    if create.name.trim().is_empty() || unknown.contains(['{', '}']) {
                        return self.fail(
                            "governance.create.name",
                            format!(
                                "\"{}\": a name template may use {{group}}, {{version}}, {{arn}} and {{description}}",
                                create.name
                            ),
                        );
                    }
                    if create.status.trim().is_empty() {
                        return self.fail("governance.create.status", "must name a status");
                    }
                    Some(super::CreateConfig {
                        parent_id: create.parent_id.trim().to_string(),
                        name: create.name,
                        status: create.status.trim().to_string(),
                    })
                }
            },
            retry: RetryPolicy {
                max_retries: self.range(
                    "governance.max_retries",
                    file_governance.max_retries,
                    0,
                    20,
                )? as usize,
                min_delay: self.duration(
                    "governance.retry_min_delay",
                    &file_governance.retry_min_delay,
                )?,
                max_delay: self.duration(
                    "governance.retry_max_delay",
                    &file_governance.retry_max_delay,
                )?,
            },
            ca_bundle: file_governance.ca_bundle.map(|p| relative_to(file, p)),
            auth: self.auth(file_governance.auth, file)?,
        };

        let file_sagemaker = raw.sagemaker;
        if let Some(region) = &file_sagemaker.region
            && !crate::arn::is_region_name(region)
        {
            return self.fail(
                "sagemaker.region",
                format!("\"{region}\" is not an AWS region name like us-east-1"),
            );
        }
        for (i, group) in file_sagemaker.model_package_groups.iter().enumerate() {
            if let Err(why) = mapping::check_lifecycle_name("group", group) {
                return self.fail(&format!("sagemaker.model_package_groups[{i}]"), why);
            }
        }
        if !file_sagemaker.scopes.is_empty() {
            let with_scopes = "applies only when no [[sagemaker.scopes]] are configured; \
                               give each scope its regions and model_package_groups instead";
            if file_sagemaker.region.is_some() {
                return self.fail("sagemaker.region", with_scopes);
            }
            if !file_sagemaker.model_package_groups.is_empty() {
                return self.fail("sagemaker.model_package_groups", with_scopes);
            }
        }
        let scopes = scopes::validate(file_sagemaker.scopes, &|key, message| {
            (self.key_error)(key, message)
        })?;
        let sagemaker = SageMakerConfig {
            endpoint_url: file_sagemaker
                .endpoint_url
                .map(|u| self.url("sagemaker.endpoint_url", u))
                .transpose()?,
            sts_endpoint_url: file_sagemaker
                .sts_endpoint_url
                .map(|u| self.url("sagemaker.sts_endpoint_url", u))
                .transpose()?,
            region: file_sagemaker.region,
            model_package_groups: file_sagemaker.model_package_groups,
            scopes,
            retry_mode: file_sagemaker.retry_mode,
            max_attempts: self.range(
                "sagemaker.max_attempts",
                file_sagemaker.max_attempts,
                1,
                10,
            )? as u32,
            operation_timeout: self.duration(
                "sagemaker.operation_timeout",
                &file_sagemaker.operation_timeout,
            )?,
            attempt_timeout: self
                .duration("sagemaker.attempt_timeout", &file_sagemaker.attempt_timeout)?,
            events: file_sagemaker
                .events
                .map(|e| -> Result<EventsConfig, ConfigError> {
                    Ok(EventsConfig {
                        queue_url: self.url("sagemaker.events.queue_url", e.queue_url)?,
                        sqs_endpoint_url: e
                            .sqs_endpoint_url
                            .map(|u| self.url("sagemaker.events.sqs_endpoint_url", u))
                            .transpose()?,
                    })
                })
                .transpose()?,
        };

        let file_sync = raw.sync;
        if file_sync.decommission_status.trim().is_empty() {
            return self.fail("sync.decommission_status", "must not be empty");
        }
        if let Err(why) = mapping::check_lifecycle_name("archive_stage", &file_sync.archive_stage) {
            return self.fail("sync.archive_stage", why);
        }
        let max_decommissions_per_cycle = self.range(
            "sync.max_decommissions_per_cycle",
            file_sync.max_decommissions_per_cycle,
            0,
            1_000_000,
        )? as usize;
        let interval = self.duration("sync.interval", &file_sync.interval)?;
        let full_interval = match &file_sync.full_interval {
            None => super::file::defaults::full_interval().max(interval),
            Some(text) => {
                let full_interval = self.duration("sync.full_interval", text)?;
                if full_interval < interval {
                    return self.fail(
                        "sync.full_interval",
                        format!(
                            "{text} is shorter than sync.interval ({}); make it at least as \
                             long (equal: every cycle is a full one)",
                            file_sync.interval
                        ),
                    );
                }
                full_interval
            }
        };
        let sync = SyncConfig {
            interval,
            full_interval,
            overlap: self.duration("sync.overlap", &file_sync.overlap)?,
            policy: Policy {
                conflict: file_sync.conflict_policy,
                decommission_status: GovernanceStatus::new(file_sync.decommission_status),
                archive_stage: file_sync.archive_stage,
                max_decommissions_per_cycle,
                max_decommissions_per_scope: match file_sync.max_decommissions_per_scope {
                    Some(n) => {
                        self.range("sync.max_decommissions_per_scope", n, 0, 1_000_000)? as usize
                    }
                    None => max_decommissions_per_cycle,
                },
                ungoverned_ignore_groups: {
                    for (i, group) in file_sync.ungoverned_ignore_groups.iter().enumerate() {
                        if let Err(why) = mapping::check_lifecycle_name("group", group) {
                            return self.fail(&format!("sync.ungoverned_ignore_groups[{i}]"), why);
                        }
                    }
                    file_sync.ungoverned_ignore_groups.into_iter().collect()
                },
                // CustomerMetadataProperties keys are 1-128 characters.
                create: match &governance.create {
                    None => None,
                    Some(create) => Some(crate::plan::CreatePolicy {
                        name: create.name.clone(),
                        status: GovernanceStatus::new(create.status.clone()),
                        max_per_cycle: self.range(
                            "sync.max_creates_per_cycle",
                            file_sync.max_creates_per_cycle,
                            0,
                            1_000_000,
                        )? as usize,
                    }),
                },
                link_metadata_key: match file_sync.link_metadata_key.trim() {
                    key if (1..=128).contains(&key.chars().count()) => key.to_string(),
                    _ => {
                        return self.fail(
                            "sync.link_metadata_key",
                            "must be a CustomerMetadataProperties key of 1 to 128 characters"
                                .to_string(),
                        );
                    }
                },
            },
            concurrency: self.range("sync.concurrency", file_sync.concurrency, 1, 256)? as usize,
            mapping_file: file_sync.mapping_file.map(|p| relative_to(file, p)),
            shutdown_grace: self.duration("sync.shutdown_grace", &file_sync.shutdown_grace)?,
            read_model_cards: file_sync.read_model_cards,
            recheck_sagemaker: file_sync.recheck_sagemaker,
        };

        let state = self.state(raw.state, file)?;
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
        let events = match raw.events {
            None => None,
            Some(e) if !crate::events::publish::is_bus(&e.bus) => {
                return self.fail(
                    "events.bus",
                    format!(
                        "\"{}\" is not an event bus name (letters, digits, . _ - /) or an \
                         arn:aws:events:<region>:<account>:event-bus/<name> ARN",
                        e.bus
                    ),
                );
            }
            Some(e) => Some(PublishConfig {
                bus: e.bus,
                eventbridge_endpoint_url: e
                    .eventbridge_endpoint_url
                    .map(|u| self.url("events.eventbridge_endpoint_url", u))
                    .transpose()?,
            }),
        };
        Ok(Validated {
            governance,
            sagemaker,
            sync,
            state,
            listen,
            events,
        })
    }

    /// Where a secret is read from: `{key}_env` or `{key}_file` (relative to the
    /// config file), one of them at most; `None` when neither is set.
    fn secret_source(
        &self,
        key: &str,
        env: Option<String>,
        path: Option<PathBuf>,
        file: &Path,
    ) -> Result<Option<SecretSource>, ConfigError> {
        match (env, path) {
            (Some(var), None) if !var.is_empty() => Ok(Some(SecretSource::Env(var))),
            (Some(_), None) => self.fail(&format!("{key}_env"), "must not be empty"),
            (None, Some(path)) => Ok(Some(SecretSource::File(relative_to(file, path)))),
            (Some(_), Some(_)) => {
                let name = key.rsplit('.').next().unwrap_or(key);
                self.fail(
                    &format!("{key}_env"),
                    format!("set either {name}_env or {name}_file, not both"),
                )
            }
            (None, None) => Ok(None),
        }
    }

    fn state(&self, state: RawState, file: &Path) -> Result<StateConfig, ConfigError> {
        let sqlite = |path: String| -> Result<StateConfig, ConfigError> {
            if path.trim().is_empty() {
                return self.fail(
                    "state.path",
                    "must not be empty; use \":memory:\" for a store that is not kept",
                );
            }
            Ok(StateConfig::Sqlite {
                path: match path.as_str() {
                    ":memory:" => path,
                    path => relative_to(file, PathBuf::from(path))
                        .to_string_lossy()
                        .into_owned(),
                },
            })
        };
        let postgres_only = [
            ("password_env", state.password_env.is_some()),
            ("password_file", state.password_file.is_some()),
            ("instance", state.instance.is_some()),
        ];
        // A SQLite store with a PostgreSQL-only key set is a mistake worth saying.
        let sqlite_only = |path: String| match postgres_only.iter().find(|(_, set)| *set) {
            Some((key, _)) => self.fail(
                &format!("state.{key}"),
                "is for a PostgreSQL store (state.url = \"postgres://…\"); remove it",
            ),
            None => sqlite(path),
        };
        let url = match (state.url, state.path) {
            (Some(_), Some(_)) => {
                return self.fail(
                    "state.url",
                    "set either state.url or state.path (the SQLite file), not both",
                );
            }
            (None, path) => return sqlite_only(path.unwrap_or_else(defaults::state_path)),
            (Some(url), None) => url,
        };
        let url = match crate::store::Location::parse(&url) {
            Ok(crate::store::Location::Sqlite(path)) => return sqlite_only(path),
            Ok(crate::store::Location::Postgres(url)) => url,
            Err(message) => return self.fail("state.url", message),
        };
        let password = self.secret_source(
            "state.password",
            state.password_env,
            state.password_file,
            file,
        )?;
        let instance = state.instance.unwrap_or_else(self.default_instance);
        if instance.trim().is_empty() || instance.chars().any(char::is_control) {
            return self.fail("state.instance", "must be a non-empty name");
        }
        let lease = self.duration("state.lease", &state.lease)?;
        if lease < Duration::from_secs(3) {
            return self.fail(
                "state.lease",
                "must be at least 3s (the heartbeat runs every third of it)",
            );
        }
        Ok(StateConfig::Postgres(PostgresConfig {
            url,
            password,
            instance,
            lease,
        }))
    }

    fn auth(&self, a: RawAuth, file: &Path) -> Result<AuthConfig, ConfigError> {
        let secret = |name: &str, env: Option<String>, path: Option<PathBuf>| match self
            .secret_source(&format!("governance.auth.{name}"), env, path, file)?
        {
            Some(source) => Ok(source),
            None => self.fail(
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
