//! Where a secret comes from: an environment variable or a mounted file, never the
//! config file itself. The value is held in a `SecretString`, whose `Debug` prints
//! `[REDACTED]`, and no error message ever includes it.

use std::path::PathBuf;

use secrecy::SecretString;

/// Names where a secret is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable's name.
    Env(String),
    /// A file (for example a Kubernetes Secret volume); one trailing newline is ignored.
    File(PathBuf),
}

/// Why a secret could not be read. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set, or is empty.
    #[error("`{key}_env` names the environment variable {var}, which is not set or empty")]
    EnvMissing {
        /// The config key without its `_env` suffix.
        key: String,
        /// The variable.
        var: String,
    },
    /// The file could not be read, or is empty.
    #[error("`{key}_file` names {file}, which cannot be read: {reason}")]
    File {
        /// The config key without its `_file` suffix.
        key: String,
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
}

impl SecretSource {
    /// Reads the secret now. `key` is the config key it belongs to (for messages);
    /// `env` looks an environment variable up.
    pub fn resolve(
        &self,
        key: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SecretString, SecretError> {
        match self {
            SecretSource::Env(var) => env(var)
                .filter(|v| !v.is_empty())
                .map(SecretString::from)
                .ok_or_else(|| SecretError::EnvMissing {
                    key: key.to_string(),
                    var: var.clone(),
                }),
            SecretSource::File(file) => {
                let fail = |reason: String| SecretError::File {
                    key: key.to_string(),
                    file: file.clone(),
                    reason,
                };
                let text = std::fs::read_to_string(file).map_err(|e| fail(e.to_string()))?;
                let value = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                if value.is_empty() {
                    return Err(fail("the file is empty".into()));
                }
                Ok(SecretString::from(value.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn env_secret_is_read_and_never_printed() {
        let env = |name: &str| (name == "PW").then(|| "hunter2".to_string());
        let secret = SecretSource::Env("PW".into())
            .resolve("governance.auth.password", &env)
            .expect("set");
        assert_eq!(secret.expose_secret(), "hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));

        let err = SecretSource::Env("MISSING".into())
            .resolve("governance.auth.password", &env)
            .expect_err("unset");
        assert_eq!(
            err.to_string(),
            "`governance.auth.password_env` names the environment variable MISSING, which is not set or empty"
        );
    }

    #[test]
    fn file_secret_drops_one_trailing_newline() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("key");
        std::fs::write(&path, "s3cr3t\n").expect("write");
        let secret = SecretSource::File(path.clone())
            .resolve("governance.auth.api_key", &|_| None)
            .expect("readable");
        assert_eq!(secret.expose_secret(), "s3cr3t");

        std::fs::write(&path, "").expect("write");
        let err = SecretSource::File(path)
            .resolve("governance.auth.api_key", &|_| None)
            .expect_err("empty")
            .to_string();
        assert!(
            err.contains("`governance.auth.api_key_file`") && err.contains("empty"),
            "{err}"
        );
    }
}
