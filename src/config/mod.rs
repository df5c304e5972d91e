//! Configuration: `govsync.toml`, overridden by `GOVSYNC_…` environment variables,
//! validated once at start-up into typed settings. Every refusal names the file and
//! the key (and the variable, when an override set it).
//!
//! - `types`: the validated settings ([`Config`] and its sections) and [`ConfigError`].
//! - `file`: the file's shape as serde reads it, every default, the override schema.
//! - `load`: file → overrides → validation → mapping table.
//! - `validate`: each setting checked; `scopes`: `[[sagemaker.scopes]]`.
//! - `overrides`: `GOVSYNC_…` variables; `secret`: where a secret is read from.

mod file;
mod load;
mod overrides;
mod scopes;
mod secret;
pub mod starter;
mod types;
mod validate;

pub use file::schema;

/// Writes (and scope listings) in flight at once unless `sync.concurrency` says
/// otherwise: from `cargo bench --bench scale -- writes` (docs/performance.md).
pub const DEFAULT_CONCURRENCY: usize = 4;
pub use overrides::{Override, OverrideKeys, RESERVED as RESERVED_ENV_VARS};
pub use scopes::{AssumeRole, DEFAULT_SESSION_NAME, ScopeConfig};
pub use secret::{SecretError, SecretSource};
pub use types::*;

use crate::plan::ConflictPolicy;

/// The default config file path, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config/govsync.toml";

/// The default IBM Cloud IAM token endpoint.
pub const DEFAULT_IAM_TOKEN_URL: &str = "https://iam.cloud.ibm.com/identity/token";

#[cfg(test)]
mod tests;
