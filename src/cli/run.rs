//! `govsync run`: the daemon.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{ConfigArg, init_logging, lookup, runtime, shutdown_signal};
use crate::config::{Config, StateConfig};
use crate::daemon::{self, StateSource};
use crate::engine::{LiveEngine, governance_client, live_engine};
use crate::logging::LogFormat;
use crate::metrics::Metrics;
use crate::status::{LoopStatus, Settings};
use crate::store::Store;

/// Builds the engine for a configuration: reads the governance secret, checks the
/// governance model type against what govsync writes (type discovery: a renamed
/// status is refused, and said first if SageMaker fails too) while it connects every scope on
/// the AWS configuration `sdk` ([`crate::sagemaker::client::load_sdk_config`]: the
/// credentials chain, region, endpoint), which the event queue and bus share.
pub async fn build(
    config: &Config,
    env: &[(String, String)],
    sdk: &aws_config::SdkConfig,
    metrics: Arc<Metrics>,
) -> Result<LiveEngine, String> {
    let secret = config
        .governance_secret(&|name: &str| lookup(env, name).map(str::to_string))
        .map_err(|e| format!("{}: {e}", config.file.display()))?;
    let mut governance = governance_client(config, secret)?;
    // Both sides' start-up checks at once (each is a round trip or more); a
    // governance refusal is still the one reported when both fail.
    let (discovered, registries) = tokio::join!(
        async {
            governance
                .discover(&crate::governance::types::statuses_written(config))
                .await
                .map_err(|e| format!("governance type discovery: {e}"))
        },
        async {
            crate::sagemaker::connect(
                &config.sagemaker,
                sdk,
                &|name: &str| lookup(env, name).map(str::to_string),
                Some(metrics.clone()),
            )
            .await
            .map_err(|e| e.to_string())
        },
    );
    let discovered = discovered?;
    let registries = registries?;
    tracing::info!(found = %discovered.summary, "governance type");
    for r in &registries {
        tracing::info!(scope = %r.scope, "SageMaker scope");
    }
    Ok(live_engine(config, governance, registries, metrics))
}

/// The event queue of `[sagemaker.events]`, checked: a queue that cannot be read
/// refuses the start (a wrong URL, a missing permission), and one without a
/// dead-letter queue is warned about.
async fn event_queue(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    metrics: Arc<Metrics>,
) -> Result<Option<crate::events::EventQueue>, String> {
    let Some(events) = &config.sagemaker.events else {
        return Ok(None);
    };
    let queue = crate::events::EventQueue::new(sdk, &config.sagemaker, events, Some(metrics));
    let settings = queue
        .settings()
        .await
        .map_err(|e| format!("sagemaker.events.queue_url: cannot read the queue: {e}"))?;
    if !settings.redrive {
        tracing::warn!(
            queue = queue.url(),
            "the event queue has no redrive policy: a message that keeps failing comes back forever instead of moving to a dead-letter queue (deploy/eventbridge/events-hub.template.json sets one)"
        );
    }
    tracing::info!(
        queue = queue.url(),
        visibility_timeout_s = settings.visibility_timeout.map(|d| d.as_secs()),
        "events in: SageMaker's events trigger event cycles; the cycles stay as the backstop"
    );
    Ok(Some(queue))
}

/// The publisher of `[events]`. The bus is not checked here: an unreachable one
/// keeps the events in the outbox until it answers, and the cycles go on.
pub(super) fn publisher(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    metrics: Arc<Metrics>,
) -> Option<crate::events::Publisher> {
    let events = config.events.as_ref()?;
    tracing::info!(bus = %events.bus, "events out: every write govsync applies is published to the bus");
    Some(crate::events::Publisher::new(
        sdk,
        &config.sagemaker,
        events,
        Some(metrics),
    ))
}

/// Runs `govsync run`.
pub(super) fn run(
    args: ConfigArg,
    env: &[(String, String)],
    log_format: LogFormat,
) -> Result<(), String> {
    init_logging(env, log_format, "info")?;
    let config = Config::load(&args.config, env).map_err(|e| e.to_string())?;
    let lookup_env = |name: &str| lookup(env, name).map(str::to_string);
    // A bad store (a locked SQLite file, a password that cannot be read) is refused
    // before anything starts; a PostgreSQL server that does not answer yet is waited
    // for, standing by.
    let mut settings = Settings::from_config(&config.sync);
    let state = match &config.state {
        StateConfig::Sqlite { path } => {
            StateSource::Store(Store::open_sqlite(path).map_err(|e| e.to_string())?)
        }
        StateConfig::Postgres(pg) => {
            let election = crate::store::election(pg, &lookup_env)?;
            settings.standby_retry = election.retry();
            StateSource::Election(Box::new(election))
        }
    };
    runtime()?.block_on(async {
        let metrics = Arc::new(Metrics::new());
        let sdk = crate::sagemaker::client::load_sdk_config(&config.sagemaker).await;
        let engine = build(&config, env, &sdk, metrics.clone()).await?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {} (server.listen): {e}", config.listen))?;
        let address = listener
            .local_addr()
            .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
        tracing::info!(
            listen = %address,
            interval = %humantime::format_duration(config.sync.interval),
            full_interval = %humantime::format_duration(config.sync.full_interval),
            state = %config.state.describe(),
            "govsync running: the status page at http://{address}/, and /healthz, /readyz and /metrics"
        );
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested: starting no new write, finishing those in flight");
            trigger.cancel();
        });
        let (status, _) = watch::channel(LoopStatus::new(tokio::time::Instant::now()));
        let events = event_queue(&config, &sdk, metrics.clone()).await?;
        let publisher = publisher(&config, &sdk, metrics.clone());
        let daemon = daemon::Daemon {
            engine,
            state,
            settings,
            metrics,
            events,
            publisher,
            reports: None,
        };
        daemon::run(daemon, listener, status, shutdown)
            .await
            .map_err(|e| format!("the HTTP server on {address} failed: {e}"))?;
        tracing::info!("govsync stopped");
        Ok(())
    })
}
