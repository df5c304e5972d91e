//! Log output through `tracing`: human-readable on a terminal, JSON lines otherwise or
//! when asked. The filter comes from `GOVSYNC_LOG` (tracing's `EnvFilter` syntax).

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// The variable holding the log filter, e.g. `info` or `govsync=debug,warn`.
pub const FILTER_VAR: &str = "GOVSYNC_LOG";

/// Noisy dependencies are held at `warn` unless the filter names them.
const QUIET_DEPENDENCIES: &str =
    "aws_config=warn,aws_smithy=warn,aws_sdk_sagemaker=warn,hyper=warn,reqwest=warn";

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable when standard error is a terminal, JSON lines otherwise.
    #[default]
    Auto,
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Whether this format writes JSON, given whether standard error is a terminal.
    pub fn is_json(self, terminal: bool) -> bool {
        match self {
            LogFormat::Auto => !terminal,
            LogFormat::Human => false,
            LogFormat::Json => true,
        }
    }
}

/// The filter: `GOVSYNC_LOG` when set (an error names it when it does not parse),
/// else `default_level` for govsync and `warn` for noisy dependencies.
pub fn filter(var: Option<&str>, default_level: &str) -> Result<EnvFilter, String> {
    match var.filter(|v| !v.trim().is_empty()) {
        Some(text) => EnvFilter::try_new(text)
            .map_err(|e| format!("{FILTER_VAR}={text:?} is not a log filter: {e}")),
        None => Ok(EnvFilter::new(format!(
            "{default_level},{QUIET_DEPENDENCIES}"
        ))),
    }
}

/// Installs the global subscriber writing to standard error. A second call (tests)
/// leaves the first in place.
pub fn init(format: LogFormat, filter: EnvFilter) {
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format.is_json(terminal) {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.with_ansi(terminal).try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_means_json_unless_on_a_terminal() {
        assert!(LogFormat::Auto.is_json(false));
        assert!(!LogFormat::Auto.is_json(true));
        assert!(LogFormat::Json.is_json(true));
        assert!(!LogFormat::Human.is_json(false));
    }

    #[test]
    fn a_bad_filter_is_named() {
        let e = filter(Some("govsync=loud"), "info").expect_err("refused");
        assert!(
            e.starts_with("GOVSYNC_LOG=\"govsync=loud\" is not a log filter"),
            "{e}"
        );
        assert!(filter(None, "info").is_ok());
        assert!(filter(Some("debug"), "info").is_ok());
    }
}
