//! The daemon's HTTP side: `/` (the status page), `/healthz` (the loop is alive),
//! `/readyz` (the last cycle reached both systems) and `/metrics` (Prometheus /
//! OpenMetrics text).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::daemon::{LoopStatus, Role, Settings};
use crate::metrics::Metrics;

/// A cycle must have started within this many intervals for `/healthz` to pass (or,
/// while a cycle runs, within this many full-cycle intervals: a full cycle of a big
/// fleet may take longer than a few short intervals).
pub const HEALTHY_INTERVALS: u32 = 3;

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

/// Liveness: `Ok` while a cycle started (or the loop began) within
/// [`HEALTHY_INTERVALS`] intervals of `now`, or, while a cycle runs, within as many
/// full-cycle intervals. The `Err` says why not.
pub fn liveness(status: &LoopStatus, settings: &Settings, now: Instant) -> Result<String, String> {
    if let Role::Standby { checked, .. } = &status.role {
        // A standby is alive while it keeps trying to lead.
        let age = now.saturating_duration_since(*checked);
        let limit = settings.standby_retry.max(settings.interval) * HEALTHY_INTERVALS;
        let age_text = humantime::format_duration(Duration::from_secs(age.as_secs()));
        return if age <= limit {
            Ok(format!("ok: standby, last tried to lead {age_text} ago\n"))
        } else {
            Err(format!(
                "unhealthy: standby, has not tried to lead for {age_text} (limit {})\n",
                humantime::format_duration(limit)
            ))
        };
    }
    let last = status.last_started.unwrap_or(status.since);
    let age = now.saturating_duration_since(last);
    let (limit, what) = match status.running {
        Some(kind) => (
            settings.full_interval * HEALTHY_INTERVALS,
            format!(
                "{HEALTHY_INTERVALS} full-cycle intervals, while a {} cycle runs",
                kind.as_str()
            ),
        ),
        None => (
            settings.interval * HEALTHY_INTERVALS,
            format!("{HEALTHY_INTERVALS} intervals"),
        ),
    };
    let age_text = humantime::format_duration(Duration::from_secs(age.as_secs()));
    if age <= limit {
        Ok(format!("ok: last cycle started {age_text} ago\n"))
    } else {
        Err(format!(
            "unhealthy: no cycle started for {age_text} (limit {} = {what})\n",
            humantime::format_duration(limit)
        ))
    }
}

/// Readiness: `Ok` once the configuration is loaded (it is, if this runs) and the last
/// finished cycle reached both systems.
/// Among replicas, a standby that reaches the database is ready (it is doing its
/// job: standing by) and says who leads; the leader is ready as a single replica is.
pub fn readiness(status: &LoopStatus) -> Result<String, String> {
    let role = match &status.role {
        Role::Single => "",
        Role::Leader { .. } => " (leader)",
        Role::Standby {
            error: Some(why), ..
        } => {
            return Err(format!(
                "not ready: standby, and the state store cannot be reached: {why}\n"
            ));
        }
        Role::Standby { leader, .. } => {
            return Ok(format!(
                "ready (standby): {}\n",
                leader.as_ref().map_or_else(
                    || "no leader has said who it is yet".to_string(),
                    |l| format!(
                        "the leader is {} (since {}, last heartbeat {})",
                        l.instance, l.since, l.heartbeat_at
                    )
                )
            ));
        }
    };
    match &status.last_result {
        None => Err(format!("not ready{role}: no cycle has finished yet\n")),
        Some(Ok(())) => Ok(format!("ready{role}\n")),
        Some(Err(why)) => Err(format!("not ready{role}: the last cycle failed: {why}\n")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(since: Instant) -> LoopStatus {
        LoopStatus::new(since)
    }

    fn settings() -> Settings {
        Settings {
            interval: Duration::from_secs(60),
            full_interval: Duration::from_secs(600),
            overlap: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            standby_retry: Duration::from_secs(3),
        }
    }

    #[test]
    fn liveness_allows_three_intervals_since_the_last_start() {
        let t0 = Instant::now();
        let mut s = status(t0);
        assert!(liveness(&s, &settings(), t0 + Duration::from_secs(180)).is_ok());
        let late = liveness(&s, &settings(), t0 + Duration::from_secs(181)).expect_err("refused");
        assert!(late.contains("no cycle started for 3m 1s"), "{late}");
        s.last_started = Some(t0 + Duration::from_secs(170));
        assert!(liveness(&s, &settings(), t0 + Duration::from_secs(300)).is_ok());
    }

    #[test]
    fn a_long_full_cycle_is_alive_for_three_full_intervals() {
        let t0 = Instant::now();
        let mut s = status(t0);
        s.last_started = Some(t0);
        s.running = Some(crate::engine::CycleKind::Full);
        assert!(liveness(&s, &settings(), t0 + Duration::from_secs(1800)).is_ok());
        let stuck = liveness(&s, &settings(), t0 + Duration::from_secs(1801)).expect_err("stuck");
        assert!(stuck.contains("while a full cycle runs"), "{stuck}");
        // Once it is over, the short limit is back.
        s.running = None;
        assert!(liveness(&s, &settings(), t0 + Duration::from_secs(181)).is_err());
    }

    #[test]
    fn readiness_needs_a_finished_cycle_that_reached_both_systems() {
        let mut s = status(Instant::now());
        assert!(
            readiness(&s)
                .expect_err("refused")
                .contains("no cycle has finished")
        );
        s.last_result = Some(Err("cannot list governance models: 503".into()));
        assert!(readiness(&s).expect_err("refused").contains("503"));
        s.last_result = Some(Ok(()));
        assert_eq!(readiness(&s), Ok("ready\n".to_string()));
        s.role = Role::Leader {
            instance: "a".into(),
        };
        assert_eq!(readiness(&s), Ok("ready (leader)\n".to_string()));
    }

    #[test]
    fn a_standby_is_ready_and_alive_while_it_reaches_the_database() {
        let t0 = Instant::now();
        let mut s = status(t0);
        s.role = Role::Standby {
            instance: "b".into(),
            leader: Some(crate::store::LeaderRow {
                instance: "a".into(),
                since: "2026-12-02T10:00:00Z".into(),
                heartbeat_at: "2026-12-02T10:05:00Z".into(),
            }),
            checked: t0,
            error: None,
        };
        let ready = readiness(&s).expect("a standby is ready");
        assert!(
            ready.contains("standby") && ready.contains("the leader is a"),
            "{ready}"
        );
        // Alive for three intervals after its last attempt, though it runs no cycle.
        assert!(liveness(&s, &settings(), t0 + Duration::from_secs(180)).is_ok());
        assert!(liveness(&s, &settings(), t0 + Duration::from_secs(181)).is_err());
        if let Role::Standby { error, .. } = &mut s.role {
            *error = Some("connection refused".into());
        }
        let not = readiness(&s).expect_err("cannot reach the database");
        assert!(not.contains("connection refused"), "{not}");
    }
}
