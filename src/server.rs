//! The daemon's HTTP side: `/` (the status page), `/healthz` (the loop is alive),
//! `/readyz` (the last cycle reached both systems) and `/metrics` (Prometheus /
//! OpenMetrics text).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::status::{LoopStatus, Settings, liveness, readiness};

/// What the endpoints read.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// The metrics to expose.
    pub metrics: Arc<Metrics>,
    /// The loop's progress.
    pub status: watch::Receiver<LoopStatus>,
    /// The loop's timing.
    pub settings: Settings,
}

fn text(result: Result<String, String>) -> Response {
    match result {
        Ok(body) => (StatusCode::OK, body).into_response(),
        Err(body) => (StatusCode::SERVICE_UNAVAILABLE, body).into_response(),
    }
}

async fn healthz(State(state): State<ServerState>) -> Response {
    text(liveness(
        &state.status.borrow(),
        &state.settings,
        Instant::now(),
    ))
}

async fn status_page(State(state): State<ServerState>) -> Response {
    let page = crate::status_page::render(&state.status.borrow(), state.settings.interval);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

async fn readyz(State(state): State<ServerState>) -> Response {
    text(readiness(&state.status.borrow()))
}

async fn metrics(State(state): State<ServerState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

/// The routes.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves the routes on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}
