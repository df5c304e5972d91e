//! `govsync reconcile`: one cycle, then exit with what it found.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use tokio::sync::watch;

use super::{ConfigArg, Output, exit, init_logging, runtime};
use crate::config::Config;
use crate::engine::{CycleOptions, Progress};
use crate::logging::LogFormat;
use crate::metrics::Metrics;
use crate::store::Store;

/// Arguments of `govsync reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Print the plan and write nothing anywhere (not even the state store).
    #[arg(long)]
    pub dry_run: bool,
    /// Only this governance model (its resource ID).
    #[arg(long)]
    pub model: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// A one-line progress indicator on standard error, redrawn as the cycle moves.
async fn show_progress(mut progress: watch::Receiver<Progress>) {
    let mut stderr = std::io::stderr();
    while progress.changed().await.is_ok() {
        let line = match *progress.borrow_and_update() {
            Progress::Observing => "listing governance models and SageMaker packages…".into(),
            Progress::Describing { total } => format!("describing {total} linked packages…"),
            Progress::Applying { done, total } => format!("applying changes: {done}/{total}"),
            Progress::Done => String::new(),
        };
        let _ = write!(stderr, "\r\x1b[2K{line}");
        let _ = stderr.flush();
    }
}

/// Runs `govsync reconcile`.
pub(super) fn reconcile(
    args: ReconcileArgs,
    env: &[(String, String)],
    log_format: LogFormat,
    out: &mut dyn Write,
) -> ExitCode {
    let result = (|| -> Result<u8, String> {
        init_logging(env, log_format, "warn")?;
        let config = Config::load(&args.config.config, env).map_err(|e| e.to_string())?;
        let mut store = Store::open(&config.state_path).map_err(|e| e.to_string())?;
        let (progress, watcher) = watch::channel(Progress::Observing);
        let options = CycleOptions {
            dry_run: args.dry_run,
            model: args.model.map(crate::domain::ModelId::new),
            progress: Some(progress),
            ..CycleOptions::default()
        };
        let report = runtime()?.block_on(async {
            let indicator = std::io::stderr()
                .is_terminal()
                .then(|| tokio::spawn(show_progress(watcher)));
            let engine = super::run::build(&config, env, Arc::new(Metrics::new())).await?;
            let report = engine.cycle(Some(&mut store), &options).await;
            if let Some(indicator) = indicator {
                indicator.abort();
                eprint!("\r\x1b[2K");
            }
            report.map_err(|e| e.to_string())
        })?;
        let text = match args.output {
            Output::Table => crate::report::table(&report),
            Output::Json => crate::report::json(&report),
        };
        out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        Ok(report.exit_code())
    })();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::CONFIG)
        }
    }
}
