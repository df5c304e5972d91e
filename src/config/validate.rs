//! The validator: every setting checked, each refusal naming its key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{RawAuth, RawConfig};
use super::load::relative_to;
use super::{
    AuthConfig, ConfigError, DEFAULT_IAM_TOKEN_URL, GovernanceConfig, SageMakerConfig,
    SecretSource, SyncConfig, scopes,
};
use crate::domain::GovernanceStatus;
use crate::mapping;
use crate::plan::Policy;

pub(super) struct Validated {
    pub(super) governance: GovernanceConfig,
    pub(super) sagemaker: SageMakerConfig,
    pub(super) sync: SyncConfig,
    pub(super) state_path: String,
    pub(super) listen: SocketAddr,
}

pub(super) struct Validator<'a> {
    pub(super) key_error: &'a dyn Fn(String, String) -> ConfigError,
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
