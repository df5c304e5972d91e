//! What the daemon shows: the loop's status (role, cycles, the fleet as the last
//! cycles left it, the journal's tail), its timing, and the two answers read from
//! them — liveness and readiness. A leaf: the daemon fills it; the HTTP endpoints,
//! the status page and the demo read it, and none of them reads another.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::SyncConfig;
use crate::engine::{CycleKind, CycleReport};
use crate::journal::JournalEntry;
use crate::store::LeaderRow;

/// A cycle must have started within this many intervals for `/healthz` to pass (or,
/// while a cycle runs, within this many full-cycle intervals: a full cycle of a big
/// fleet may take longer than a few short intervals).
pub const HEALTHY_INTERVALS: u32 = 3;

/// How the loop is doing; the HTTP endpoints and the demo read it.
#[derive(Debug, Clone)]
pub struct LoopStatus {
    /// When the loop began.
    pub since: Instant,
    /// When the last cycle started.
    pub last_started: Option<Instant>,
    /// Cycles finished (including failed ones).
    pub cycles_finished: u64,
    /// Whether the last finished cycle reached both systems, and if not why.
    pub last_result: Option<Result<(), String>>,
    /// The last cycle that reached both systems.
    pub last_report: Option<FinishedCycle>,
    /// The latest cycles, newest first (at most [`RECENT_CYCLES`]).
    pub recent_cycles: VecDeque<CycleRecord>,
    /// The latest journal entries, newest first (at most [`RECENT_JOURNAL`]).
    pub journal_tail: Vec<JournalEntry>,
    /// Per model that needs a person: the action of its latest journal entry and
    /// when it was made.
    pub model_since: HashMap<String, (String, String)>,
    /// The kind of the cycle running now, if one is.
    pub running: Option<CycleKind>,
    /// Whether this process leads.
    pub role: Role,
    /// Governance accepts only date literals for `[Last Modification Date]`:
    /// incremental cycles read a day or two of its changes each time.
    pub governance_date_only: bool,
    /// Events in, when `[sagemaker.events]` is set and this process consumes.
    pub events: Option<crate::events::EventsStatus>,
    /// Events out, when `[events]` is set and this process publishes.
    pub outbox: Option<crate::events::outbox::OutboxStatus>,
}

/// This process's part among replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The only writer (a SQLite store).
    Single,
    /// The leader among replicas on PostgreSQL (this instance).
    Leader {
        /// This process's instance name.
        instance: String,
    },
    /// A standby: ready to lead when the leader's lock is free.
    Standby {
        /// This process's instance name.
        instance: String,
        /// Who leads, as the database said at the last attempt.
        leader: Option<LeaderRow>,
        /// When this process last tried to lead.
        checked: Instant,
        /// Why the last attempt could not reach the database, if it could not.
        error: Option<String>,
    },
}

/// How many cycles and journal entries the status keeps for the status page.
pub const RECENT_CYCLES: usize = 10;
/// See [`RECENT_CYCLES`].
pub const RECENT_JOURNAL: usize = 15;

/// One finished cycle, as the status page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleRecord {
    /// `full` or `incremental`.
    pub kind: &'static str,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// How long it took.
    pub duration: Duration,
    /// Writes that took effect.
    pub writes: usize,
    /// As `govsync_cycles_total`'s `outcome`.
    pub outcome: &'static str,
    /// Why it failed, for `error`.
    pub error: Option<String>,
}

/// The last cycle that reached both systems, and the fleet as it left it.
#[derive(Debug, Clone)]
pub struct FinishedCycle {
    /// When it started.
    pub started: Instant,
    /// Every linked model as the cycles since the last full one left it: the last
    /// full cycle's report with the results of each later incremental cycle's
    /// models in place of theirs ([`CycleReport::absorb`]).
    pub report: Arc<CycleReport>,
}

impl LoopStatus {
    /// A loop that began at `since` and has run no cycle.
    pub fn new(since: Instant) -> LoopStatus {
        LoopStatus {
            since,
            last_started: None,
            cycles_finished: 0,
            last_result: None,
            last_report: None,
            recent_cycles: VecDeque::new(),
            journal_tail: Vec::new(),
            model_since: HashMap::new(),
            running: None,
            role: Role::Single,
            governance_date_only: false,
            events: None,
            outbox: None,
        }
    }
}

/// The loop's timing.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Time between the starts of two cycles (before jitter).
    pub interval: Duration,
    /// Time between the starts of two full cycles; the cycles between are
    /// incremental. Equal to `interval`: every cycle is full.
    pub full_interval: Duration,
    /// How far before its last question an incremental cycle asks from.
    pub overlap: Duration,
    /// How long shutdown waits for writes in flight.
    pub shutdown_grace: Duration,
    /// How often a standby tries to lead (unused by a single replica).
    pub standby_retry: Duration,
}

impl Settings {
    /// The loop's timing from the `[sync]` settings.
    pub fn from_config(sync: &SyncConfig) -> Settings {
        Settings {
            interval: sync.interval,
            full_interval: sync.full_interval,
            overlap: sync.overlap,
            shutdown_grace: sync.shutdown_grace,
            standby_retry: sync.interval,
        }
    }
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
