//! The commands that sync or read what syncing did: `run`, `reconcile`, `history`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    ConfigArg, HistoryArgs, Output, ReconcileArgs, exit, lookup, runtime, shutdown_signal,
};
use crate::config::Config;
use crate::daemon::{self, LiveEngine, LoopStatus};
use crate::engine::{CycleOptions, Progress};
use crate::logging::{self, LogFormat};
use crate::metrics::Metrics;
use crate::store::{HistoryFilter, Store};

/// Builds the engine for a configuration: reads the governance secret, loads the AWS
/// configuration (credentials chain, region, endpoint).
pub async fn build(
    config: &Config,
    env: &[(String, String)],
    metrics: Arc<Metrics>,
) -> Result<LiveEngine, String> {
    let secret = config
        .governance_secret(&|name: &str| lookup(env, name).map(str::to_string))
        .map_err(|e| format!("{}: {e}", config.file.display()))?;
    let sdk = crate::sagemaker::client::load_sdk_config(&config.sagemaker).await;
    let registries = crate::sagemaker::connect(
        &config.sagemaker,
        &sdk,
        &|name: &str| lookup(env, name).map(str::to_string),
        Some(metrics.clone()),
    )
    .await
    .map_err(|e| e.to_string())?;
    for r in &registries {
        tracing::info!(scope = %r.scope, "SageMaker scope");
    }
    daemon::live_engine(config, secret, registries, metrics)
}

fn init_logging(env: &[(String, String)], format: LogFormat, level: &str) -> Result<(), String> {
    let filter = logging::filter(lookup(env, logging::FILTER_VAR), level)?;
    logging::init(format, filter);
    Ok(())
}

pub(super) fn run(
    args: ConfigArg,
    env: &[(String, String)],
    log_format: LogFormat,
) -> Result<(), String> {
    init_logging(env, log_format, "info")?;
    let config = Config::load(&args.config, env).map_err(|e| e.to_string())?;
    let store = Store::open(&config.state_path).map_err(|e| e.to_string())?;
    runtime()?.block_on(async {
        let metrics = Arc::new(Metrics::new());
        let engine = build(&config, env, metrics.clone()).await?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {} (server.listen): {e}", config.listen))?;
        let address = listener
            .local_addr()
            .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
        tracing::info!(
            listen = %address,
            interval = %humantime::format_duration(config.sync.interval),
            state = %config.state_path,
            "govsync running: /healthz, /readyz and /metrics on http://{address}"
        );
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested: starting no new write, finishing those in flight");
            trigger.cancel();
        });
        let (status, _) = watch::channel(LoopStatus::new(tokio::time::Instant::now()));
        let settings = daemon::Settings {
            interval: config.sync.interval,
            shutdown_grace: config.sync.shutdown_grace,
        };
        daemon::run(engine, store, settings, metrics, listener, status, shutdown)
            .await
            .map_err(|e| format!("the HTTP server on {address} failed: {e}"))?;
        tracing::info!("govsync stopped");
        Ok(())
    })
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
            let engine = build(&config, env, Arc::new(Metrics::new())).await?;
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
    let store = Store::open_read_only(&config.state_path).map_err(|e| e.to_string())?;
    let entries = store
        .history(&HistoryFilter {
            model: args.model,
            since: args.since,
        })
        .map_err(|e| e.to_string())?;
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
