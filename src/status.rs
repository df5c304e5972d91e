//! What the daemon shows: the loop's status (role, cycles, the fleet as the last
//! cycles left it, the journal's tail), its timing, and the two answers read from
//! them — liveness and readiness. A leaf: the daemon fills it; the HTTP endpoints,
//! the status page and the demo read it, and none of them reads another.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::SyncConfig;
use crate::domain::ModelId;
use crate::engine::{CycleKind, CycleReport, ModelResult, ModelState};
use crate::journal::JournalEntry;
use crate::plan::{LinkConflict, Ungoverned};
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
    /// The fleet as the cycles that reached both systems left it.
    pub fleet: Option<FleetView>,
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

/// The fleet as the cycles since the last full one left it, as the status page and
/// `govsync_models` show it: each linked model's state, the models that need a
/// person in full, and the last full cycle's unlinked models, ungoverned packages
/// and link conflicts. Not the cycles' reports: a report holds every model's
/// decision, and keeping one would carry a second copy of the fleet (besides the
/// engine's known state) from cycle to cycle and through the next full cycle.
#[derive(Debug, Clone)]
pub struct FleetView {
    /// When the last cycle folded in started.
    pub started: Instant,
    /// Its kind.
    pub kind: CycleKind,
    /// Each linked model's place in the order its cycles planned them (governance
    /// order; models new since the full cycle at the end), and its state.
    states: HashMap<ModelId, (usize, ModelState)>,
    /// The models that need a person ([`ModelState::needs_a_person`]), in that
    /// order.
    pub people: Vec<ModelResult>,
    /// Governance models with no link (the full cycle's count).
    pub unlinked_models: usize,
    /// The full cycle's ungoverned packages.
    pub ungoverned: Vec<Ungoverned>,
    /// The full cycle's link conflicts.
    pub link_conflicts: Vec<LinkConflict>,
}

impl FleetView {
    /// The fleet as a full cycle (or the first cycle) that started at `started` left
    /// it.
    pub fn of(report: &CycleReport, started: Instant) -> FleetView {
        let mut states = HashMap::with_capacity(report.results.len());
        let mut people = Vec::new();
        for (place, r) in report.results.iter().enumerate() {
            let state = ModelState::of(r);
            states.insert(r.decision.model_id.clone(), (place, state));
            if state.needs_a_person() {
                people.push(r.clone());
            }
        }
        FleetView {
            started,
            kind: report.kind,
            states,
            people,
            unlinked_models: report.unlinked_models,
            ungoverned: report.ungoverned.clone(),
            link_conflicts: report.link_conflicts.clone(),
        }
    }

    /// Folds a later incremental (or event) cycle in, as [`CycleReport::absorb`]
    /// folds reports: its models' states and results replace theirs, models new to
    /// governance join at the end, [`FleetView::people`] lists the models that need a
    /// person now in the fleet's order, and the count of unlinked models, the
    /// ungoverned packages and the link conflicts stay the full cycle's.
    pub fn absorb(&mut self, newer: &CycleReport, started: Instant) {
        let mut fresh: HashMap<&ModelId, &ModelResult> = HashMap::new();
        for r in &newer.results {
            let next = self.states.len();
            let entry = self
                .states
                .entry(r.decision.model_id.clone())
                .or_insert((next, ModelState::InSync));
            entry.1 = ModelState::of(r);
            fresh.insert(&r.decision.model_id, r);
        }
        self.people
            .retain(|person| !fresh.contains_key(&person.decision.model_id));
        self.people.extend(
            fresh
                .into_values()
                .filter(|r| ModelState::of(r).needs_a_person())
                .cloned(),
        );
        let place = |r: &ModelResult| self.states.get(&r.decision.model_id).map(|(p, _)| *p);
        self.people.sort_by_key(place);
        self.started = started;
        self.kind = newer.kind;
    }

    /// How many models are in each state, in [`ModelState::ALL`]'s order
    /// (`Unlinked`: the governance models without a link).
    pub fn state_counts(&self) -> [usize; ModelState::ALL.len()] {
        let mut counts = [0usize; ModelState::ALL.len()];
        for (_, state) in self.states.values() {
            counts[state.index()] += 1;
        }
        counts[ModelState::Unlinked.index()] = self.unlinked_models;
        counts
    }
}

impl LoopStatus {
    /// A loop that began at `since` and has run no cycle.
    pub fn new(since: Instant) -> LoopStatus {
        LoopStatus {
            since,
            last_started: None,
            cycles_finished: 0,
            last_result: None,
            fleet: None,
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

    fn report(kind: CycleKind, results: &[(&str, crate::plan::Action)]) -> CycleReport {
        use crate::engine::Outcome;
        let results = results
            .iter()
            .map(|(id, action)| ModelResult {
                decision: crate::plan::Decision {
                    model_id: ModelId::new(*id),
                    model_name: format!("model {id}"),
                    arn: crate::arn::PackageArn::parse(
                        "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/1",
                    )
                    .expect("arn"),
                    scope: None,
                    governance_status: None,
                    lifecycle: None,
                    action: action.clone(),
                    reason: format!("why {id}"),
                },
                outcome: Outcome::Nothing,
                sagemaker_sent: None,
            })
            .collect();
        CycleReport {
            unlinked_models: 2,
            ..CycleReport::of_results(kind, results, "c".into())
        }
    }

    #[test]
    fn the_fleet_view_folds_later_cycles_as_the_reports_would_fold() {
        use crate::plan::{Action, DriftKind};
        let drift = || Action::Drift {
            drift: DriftKind::NoPermittedDirection,
        };
        let t0 = Instant::now();
        let full = report(
            CycleKind::Full,
            &[
                ("a", Action::InSync),
                ("b", drift()),
                ("c", Action::Conflict),
                ("d", Action::InSync),
            ],
        );
        let mut view = FleetView::of(&full, t0);
        let ids = |v: &FleetView| {
            v.people
                .iter()
                .map(|r| r.decision.model_id.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&view), ["b", "c"]);
        assert_eq!(view.state_counts(), full_counts(&full));
        // b is settled, c stays a conflict with a new reason, d drifts, e is new.
        let mut later = report(
            CycleKind::Incremental,
            &[
                ("e", Action::Conflict),
                ("d", drift()),
                ("c", Action::Conflict),
                ("b", Action::InSync),
            ],
        );
        later.results[2].decision.reason = "still".into();
        let t1 = t0 + Duration::from_secs(1);
        view.absorb(&later, t1);
        // The same list and counts the folded reports give, in their order.
        let mut folded = full.clone();
        folded.absorb(&later);
        let people: Vec<&ModelResult> = folded
            .results
            .iter()
            .filter(|r| ModelState::of(r).needs_a_person())
            .collect();
        assert_eq!(view.people.iter().collect::<Vec<_>>(), people);
        assert_eq!(ids(&view), ["c", "d", "e"]);
        assert_eq!(view.people[0].decision.reason, "still");
        assert_eq!(view.state_counts(), full_counts(&folded));
        assert_eq!(view.state_counts()[ModelState::InSync.index()], 2);
        assert_eq!(view.state_counts()[ModelState::Unlinked.index()], 2);
        assert_eq!((view.started, view.kind), (t1, CycleKind::Incremental));
    }

    /// The counts, straight from a report's results.
    fn full_counts(report: &CycleReport) -> [usize; ModelState::ALL.len()] {
        let mut counts = [0; ModelState::ALL.len()];
        for r in &report.results {
            counts[ModelState::of(r).index()] += 1;
        }
        counts[ModelState::Unlinked.index()] = report.unlinked_models;
        counts
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
