//! `govsync reconcile`: one cycle, then exit with what it found.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use tokio::sync::watch;

use super::{ConfigArg, Output, exit, init_logging, runtime};
use crate::config::Config;
use crate::engine::{CycleError, CycleOptions, Progress};
use crate::logging::LogFormat;
use crate::metrics::Metrics;

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
/// Why `reconcile` stopped before it had a report: what failed, and the message.
struct Failure {
    /// `config`, `store`, `start-up` (credentials, clients) or `observe` (a side
    /// could not be read; nothing was written).
    kind: &'static str,
    message: String,
}

fn failed(kind: &'static str) -> impl Fn(String) -> Failure {
    move |message| Failure { kind, message }
}

pub(super) fn reconcile(
    args: ReconcileArgs,
    env: &[(String, String)],
    log_format: LogFormat,
    out: &mut dyn Write,
) -> ExitCode {
    let output = args.output;
    let result = (|| -> Result<u8, Failure> {
        init_logging(env, log_format, "warn").map_err(failed("config"))?;
        let config =
            Config::load(&args.config.config, env).map_err(|e| failed("config")(e.to_string()))?;
        let (progress, watcher) = watch::channel(Progress::Observing);
        let options = CycleOptions {
            dry_run: args.dry_run,
            model: args.model.map(crate::domain::ModelId::new),
            progress: Some(progress),
            ..CycleOptions::default()
        };
        let report = runtime().map_err(failed("start-up"))?.block_on(async {
            let indicator = std::io::stderr()
                .is_terminal()
                .then(|| tokio::spawn(show_progress(watcher)));
            // A dry run writes nothing, so it needs no lead and creates nothing: it
            // reads the baseline beside a daemon, or plans from none before the
            // first real cycle.
            let lookup = |name: &str| super::lookup(env, name).map(str::to_string);
            let mut store = if options.dry_run {
                crate::store::open_for_dry_run(&config.state, &lookup)
                    .await
                    .map_err(failed("store"))?
            } else {
                Some(
                    crate::store::open(&config.state, &lookup, crate::store::Access::Write)
                        .await
                        .map_err(failed("store"))?,
                )
            };
            let sdk = crate::sagemaker::client::load_sdk_config(&config.sagemaker).await;
            let metrics = Arc::new(Metrics::new());
            let engine = super::run::build(&config, env, &sdk, metrics.clone())
                .await
                .map_err(failed("start-up"))?;
            // Events out: what this run writes is stored with its outcome and
            // published before it exits.
            let publisher = match (&mut store, options.dry_run) {
                (Some(store), false) => {
                    let publisher = super::run::publisher(&config, &sdk, metrics);
                    store.set_outbox(publisher.is_some());
                    publisher
                }
                _ => None,
            };
            let report = engine.cycle(store.as_mut(), &options).await;
            if let (Some(publisher), Some(store)) = (&publisher, &mut store) {
                let (published, left) = crate::events::outbox::publish_now(publisher, store).await;
                tracing::info!(published, left, "events out");
            }
            if let Some(indicator) = indicator {
                indicator.abort();
                eprint!("\r\x1b[2K");
            }
            report.map_err(|e| Failure {
                kind: match e {
                    CycleError::Store(_) => "store",
                    _ => "observe",
                },
                message: e.to_string(),
            })
        })?;
        let text = match output {
            Output::Table => crate::report::table(&report),
            Output::Json => crate::report::json(&report),
        };
        out.write_all(text.as_bytes())
            .map_err(|e| failed("output")(e.to_string()))?;
        Ok(report.exit_code())
    })();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            if output == Output::Json {
                // A script reading stdout gets an object saying what went wrong.
                let value = serde_json::json!({
                    "error": {
                        "kind": failure.kind,
                        "message": failure.message,
                        "exit_code": exit::CONFIG,
                    }
                });
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&value).expect("errors serialise")
                );
            }
            ExitCode::from(exit::CONFIG)
        }
    }
}
