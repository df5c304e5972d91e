//! `govsync history`: the audit journal.

use std::io::Write;

use clap::Args;

use super::{ConfigArg, Output};
use crate::config::Config;
use crate::store::Access;
use crate::store::{HistoryFilter, StateStore};

/// Arguments of `govsync history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only this governance model (its resource ID).
    #[arg(long)]
    pub model: Option<String>,
    /// Only entries at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Runs `govsync history`.
pub(super) fn history(
    args: HistoryArgs,
    env: &[(String, String)],
    out: &mut dyn Write,
) -> Result<(), String> {
    let config = Config::load(&args.config.config, env).map_err(|e| e.to_string())?;
    if let Some(since) = &args.since {
        humantime::parse_rfc3339_weak(since)
            .map_err(|e| format!("--since {since:?} is not an RFC 3339 time: {e}"))?;
    }
    let filter = HistoryFilter {
        model: args.model,
        since: args.since,
    };
    let entries = super::runtime()?.block_on(async {
        let mut store = crate::store::open(
            &config.state,
            &|name: &str| super::lookup(env, name).map(str::to_string),
            Access::Read,
        )
        .await?;
        store.history(&filter).await.map_err(|e| e.to_string())
    })?;
    let text = match args.output {
        Output::Json => {
            serde_json::to_string_pretty(&entries).expect("journal entries serialise") + "\n"
        }
        Output::Table => {
            let rows: Vec<[String; 8]> = entries
                .iter()
                .map(|e| {
                    [
                        e.at.clone(),
                        e.model_id.clone(),
                        e.model_name.clone(),
                        e.action.clone(),
                        e.from.clone().unwrap_or_default(),
                        e.to.clone().unwrap_or_default(),
                        e.outcome.clone(),
                        e.error.clone().unwrap_or_else(|| e.reason.clone()),
                    ]
                })
                .collect();
            crate::render::columns(
                &[
                    "TIME", "MODEL", "NAME", "ACTION", "FROM", "TO", "OUTCOME", "WHY",
                ],
                &rows,
            )
        }
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}
