//! `govsync run`: a cycle every interval (with jitter, never two at once), the HTTP
//! endpoints beside it, and a shutdown that finishes and records the writes in flight.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::{
    CycleError, CycleKind, CycleMemory, CycleOptions, CycleReport, Engine, Outcome,
};
use crate::events::outbox::Outbox;
use crate::events::{EventBatch, EventQueue, Publisher, consume};
use crate::governance::Governance;
use crate::metrics::{Metrics, cycle_outcome};
use crate::plan::ActionKind;
use crate::sagemaker::Registry;
use crate::server::{ServerState, serve};
use crate::store::{Election, Lead};
use crate::store::{PgStore, StateStore, Store};

use crate::status::{
    CycleRecord, FleetView, LoopStatus, RECENT_CYCLES, RECENT_JOURNAL, Role, Settings,
};

/// Each wait between cycle starts is the interval plus or minus up to this share of it,
/// so that many instances do not hit the APIs in step.
pub const JITTER: f64 = 0.1;

/// The wait from one cycle's start to the next: `interval` moved by up to
/// ±[`JITTER`] of itself; `unit` is a random number in 0..1.
pub fn next_wait(interval: Duration, unit: f64) -> Duration {
    interval.mul_f64(1.0 + JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0))
}

/// Runs cycles until `shutdown` is cancelled, with events in and out as `events`
/// says: each batch of SageMaker events from the queue becomes an event cycle
/// between the scheduled ones (the schedule is not moved), and what each cycle
/// writes is published from the outbox beside the cycles.
pub async fn run_loop<G: Governance, R: Registry>(
    engine: &Engine<G, R>,
    store: &mut Store,
    settings: Settings,
    metrics: &Metrics,
    status: &watch::Sender<LoopStatus>,
    shutdown: &CancellationToken,
    events: Events<'_>,
) {
    Loop {
        engine,
        settings,
        metrics,
        status,
        events,
        reports: None,
    }
    .run(store, shutdown)
    .await;
}

/// Events in and out, when configured: the queue to consume, the bus to publish to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Events<'a> {
    /// The queue SageMaker's events arrive in (`[sagemaker.events]`).
    pub queue: Option<&'a EventQueue>,
    /// The bus govsync's changes are published to (`[events]`).
    pub publisher: Option<&'a Publisher>,
}

/// What starts a cycle.
enum Start {
    /// The schedule: a full or incremental cycle.
    Scheduled,
    /// A batch of events: an event cycle.
    Events(EventBatch),
}

/// The next batch of events, or never when there is no consumer.
async fn next_batch(batches: &mut mpsc::Receiver<EventBatch>) -> EventBatch {
    match batches.recv().await {
        Some(batch) => batch,
        None => std::future::pending().await,
    }
}

/// What every stretch of cycles runs with: the engine, the timing, where progress
/// goes, and the event queue to consume while leading.
struct Loop<'a, G, R> {
    engine: &'a Engine<G, R>,
    settings: Settings,
    metrics: &'a Metrics,
    status: &'a watch::Sender<LoopStatus>,
    events: Events<'a>,
    reports: Option<&'a FinishedReports>,
}

impl<G: Governance, R: Registry> Loop<'_, G, R> {
    /// Cycles until `shutdown`, with the event queue's consumer and the outbox's
    /// publisher beside them.
    async fn run(&self, store: &mut Store, shutdown: &CancellationToken) {
        let (to_cycles, batches) = mpsc::channel(1);
        let stop_beside = CancellationToken::new();
        let (mut outbox, publisher) = Outbox::new(
            self.events.publisher,
            self.metrics,
            self.status,
            &stop_beside,
        );
        store.set_outbox(outbox.on());
        let consumer = async {
            match self.events.queue {
                Some(queue) => {
                    consume(queue, to_cycles, self.metrics, self.status, &stop_beside).await;
                }
                None => drop(to_cycles),
            }
        };
        let cycles = async {
            self.run_cycles(store, shutdown, batches, &mut outbox).await;
            stop_beside.cancel();
        };
        tokio::join!(cycles, consumer, publisher);
    }

    /// Runs cycles until `shutdown` is cancelled. A cycle runs to its end before the
    /// next is scheduled; a cycle longer than the interval delays the next instead of
    /// piling up. On shutdown mid-cycle, no new write starts, the writes in flight get
    /// `shutdown_grace` to finish and are recorded; past that the cycle is abandoned
    /// (every write is idempotent, so the next run repairs what was not recorded).
    async fn run_cycles(
        &self,
        store: &mut Store,
        shutdown: &CancellationToken,
        mut batches: mpsc::Receiver<EventBatch>,
        outbox: &mut Outbox<'_>,
    ) {
        let Loop {
            engine,
            settings,
            metrics,
            status,
            ..
        } = *self;
        metrics.set_interval(settings.interval);
        // A scope that could not be listed is tried again at least once per full
        // interval's worth of incremental cycles.
        let cap = settings.full_interval.as_secs_f64() / settings.interval.as_secs_f64().max(0.001);
        let mut memory = CycleMemory::new(settings.overlap).with_retry_cap(cap as u32);
        let mut next = Instant::now();
        // The first cycle is a full one; so is every cycle after a full one failed.
        let mut next_full = next;
        loop {
            let start = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                wake = outbox.wake() => {
                    outbox.handle(wake, store).await;
                    continue;
                }
                () = tokio::time::sleep_until(next) => Start::Scheduled,
                batch = next_batch(&mut batches) => Start::Events(batch),
            };
            let started = Instant::now();
            let started_at = crate::store::now_rfc3339();
            let kind = match &start {
                Start::Events(_) => CycleKind::Event,
                Start::Scheduled if started >= next_full => CycleKind::Full,
                Start::Scheduled => CycleKind::Incremental,
            };
            status.send_modify(|s| {
                s.last_started = Some(started);
                s.running = Some(kind);
            });
            let options = CycleOptions {
                cancel: shutdown.clone(),
                ..CycleOptions::default()
            };
            let cycle = async {
                match &start {
                    Start::Scheduled => (
                        engine
                            .run_cycle(Some(store), &options, &mut memory, kind)
                            .await,
                        None,
                    ),
                    Start::Events(batch) => {
                        match engine
                            .run_event_cycle(Some(store), &options, &mut memory, &batch.events)
                            .await
                        {
                            Ok((report, verdicts)) => (Ok(report), Some(verdicts)),
                            Err(e) => (Err(e), None),
                        }
                    }
                }
            };
            let grace_over = async {
                shutdown.cancelled().await;
                tokio::time::sleep(settings.shutdown_grace).await;
            };
            let (result, verdicts) = tokio::select! {
                result = cycle => result,
                () = grace_over => {
                    tracing::error!(
                        grace = %humantime::format_duration(settings.shutdown_grace),
                        "writes in flight did not finish within the shutdown grace period; \
                         they are not recorded and the next run will redo them"
                    );
                    break;
                }
            };
            if let Start::Events(batch) = start {
                // The event cycle's writes are journaled: its messages may be acknowledged.
                let answer = match (&result, verdicts) {
                    (_, Some(verdicts)) => Ok(verdicts),
                    (Err(e), None) => Err(e.to_string()),
                    (Ok(_), None) => Err("the event cycle gave no verdicts".to_string()),
                };
                let _ = batch.reply.send(answer);
                if matches!(result, Err(CycleError::NothingKnown)) {
                    status.send_modify(|s| s.running = None);
                    continue;
                }
            }
            // An incremental cycle runs as a full one while nothing is known yet.
            let kind = result.as_ref().map_or(kind, |r| r.kind);
            if kind == CycleKind::Full && result.is_ok() {
                next_full = started + next_wait(settings.full_interval, fastrand::f64());
            }
            let elapsed = started.elapsed();
            self.finish_cycle(store, result, kind, (started, started_at), elapsed)
                .await;
            // What the cycle wrote is published beside the next ones.
            outbox.offer(store).await;
            if shutdown.is_cancelled() {
                break;
            }
            if kind != CycleKind::Event {
                next =
                    (started + next_wait(settings.interval, fastrand::f64())).max(Instant::now());
            }
        }
    }

    /// What a finished cycle leaves: a log line, its metrics, and the status page's
    /// view (the cycle listed, the fleet's view folded, the journal's tail).
    async fn finish_cycle(
        &self,
        store: &mut Store,
        result: Result<CycleReport, CycleError>,
        kind: CycleKind,
        (started, started_at): (Instant, String),
        elapsed: Duration,
    ) {
        let Loop {
            engine,
            metrics,
            status,
            reports,
            ..
        } = *self;
        let unix_now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        log_cycle(&result, kind, elapsed);
        let record = CycleRecord {
            kind: kind.as_str(),
            started_at,
            duration: elapsed,
            writes: result.as_ref().map_or(0, |r| r.outcomes(&Outcome::Applied)),
            outcome: cycle_outcome(result.as_ref()),
            error: result.as_ref().err().map(ToString::to_string),
        };
        // What the status page shows of the journal; a store that cannot be read
        // now leaves the last view in place (the cycle itself said what failed).
        let journal = store.recent_journal(RECENT_JOURNAL).await.ok();
        let mut people: Vec<String> = Vec::new();
        // One update, so that a reader never sees the cycle listed but not counted.
        // The fleet's view is folded in place, under the lock readers take.
        let date_only = engine.governance.date_only();
        status.send_modify(|s| {
            s.running = None;
            s.governance_date_only = date_only;
            s.recent_cycles.push_front(record);
            s.recent_cycles.truncate(RECENT_CYCLES);
            if let Some(journal) = journal {
                s.journal_tail = journal;
            }
            match result {
                Ok(report) => {
                    s.cycles_finished += 1;
                    s.last_result = Some(Ok(()));
                    // A full cycle's report becomes the fleet's view; an incremental
                    // one's is folded into it.
                    let fleet = match (s.fleet.take(), report.kind) {
                        (Some(mut fleet), CycleKind::Incremental | CycleKind::Event) => {
                            fleet.absorb(&report, started);
                            fleet
                        }
                        _ => FleetView::of(&report, started),
                    };
                    metrics.cycle(
                        kind,
                        Ok(&report),
                        Some(&fleet.state_counts()),
                        elapsed,
                        unix_now,
                    );
                    people = fleet
                        .people
                        .iter()
                        .map(|r| r.decision.model_id.to_string())
                        .collect();
                    s.fleet = Some(fleet);
                    if let Some(reports) = reports {
                        let _ = reports.send((started, report));
                    }
                }
                Err(e) => {
                    metrics.cycle(kind, Err(&e), None, elapsed, unix_now);
                    if !matches!(e, CycleError::Cancelled) {
                        s.cycles_finished += 1;
                        s.last_result = Some(Err(e.to_string()));
                    }
                }
            }
        });
        // Since when each model that needs a person has been in its state.
        let people: Vec<&str> = people.iter().map(String::as_str).collect();
        if let Ok(since) = store.since_by_model(&people).await {
            status.send_modify(|s| s.model_since = since);
        }
    }
}

fn log_cycle(result: &Result<CycleReport, CycleError>, kind: CycleKind, elapsed: Duration) {
    let duration_ms = elapsed.as_millis() as u64;
    let kind = kind.as_str();
    match result {
        Ok(r) => tracing::info!(
            duration_ms,
            kind,
            deferred = r.deferred.len(),
            cycle = %r.cycle,
            models = r.results.len(),
            planned = r.planned_writes(),
            applied = r.outcomes(&Outcome::Applied),
            failed = r.failures(),
            cancelled = r.outcomes(&Outcome::Cancelled),
            pushed = r.applied(ActionKind::Push),
            pulled = r.applied(ActionKind::Pull),
            decommissioned = r.applied(ActionKind::Decommission),
            recovered = r.intents.recovered,
            unconfirmed = r.intents.unconfirmed,
            unresolved = r.unresolved(),
            unlinked_models = r.unlinked_models,
            rejected_rows = r.rejected_models.len() + r.rejected_packages.len(),
            "cycle finished"
        ),
        Err(CycleError::Cancelled) => {
            tracing::info!(
                duration_ms,
                kind,
                "cycle cancelled by shutdown before any write"
            )
        }
        Err(e) => tracing::error!(duration_ms, kind, error = %e, "cycle failed"),
    }
}

/// Where the loop keeps its state: a store it alone writes (SQLite), or an
/// election on PostgreSQL, which it must win before each stretch of cycles.
pub enum StateSource {
    /// The one store (a single replica).
    Store(Store),
    /// Replicas on PostgreSQL: lead, or stand by (boxed: its connection options are
    /// large, and it is made once).
    Election(Box<Election>),
}

impl From<Store> for StateSource {
    fn from(store: Store) -> StateSource {
        StateSource::Store(store)
    }
}

/// What `govsync run` runs: the engine, where it keeps its state, its timing, its
/// metrics, and the event queue it consumes and the bus it publishes to while it
/// leads.
pub struct Daemon<G, R> {
    /// The engine over both remote systems.
    pub engine: Engine<G, R>,
    /// The store, or the election among replicas.
    pub state: StateSource,
    /// The loop's timing.
    pub settings: Settings,
    /// Where the loop counts.
    pub metrics: Arc<Metrics>,
    /// The event queue, when events in are on.
    pub events: Option<EventQueue>,
    /// The bus, when events out are on.
    pub publisher: Option<Publisher>,
    /// Where each cycle that reached both systems is sent, with when it started,
    /// for a caller that shows the cycles one by one (the demo); `None` keeps no
    /// report past its cycle.
    pub reports: Option<FinishedReports>,
}

/// See [`Daemon::reports`].
pub type FinishedReports = mpsc::UnboundedSender<(Instant, CycleReport)>;

/// Runs the daemon: the HTTP endpoints on `listener` and the loop (with events on,
/// the queue's consumer beside it while this process leads), until `shutdown` is
/// cancelled and the loop has wound down. `status` receives the loop's progress.
pub async fn run<G: Governance, R: Registry>(
    daemon: Daemon<G, R>,
    listener: tokio::net::TcpListener,
    status: watch::Sender<LoopStatus>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let Daemon {
        engine,
        state,
        settings,
        metrics,
        events,
        publisher,
        reports,
    } = daemon;
    let stop_server = CancellationToken::new();
    let server = tokio::spawn(serve(
        listener,
        ServerState {
            metrics: metrics.clone(),
            status: status.subscribe(),
            settings,
        },
        stop_server.clone(),
    ));
    let cycles = Loop {
        engine: &engine,
        settings,
        metrics: &metrics,
        status: &status,
        events: Events {
            queue: events.as_ref(),
            publisher: publisher.as_ref(),
        },
        reports: reports.as_ref(),
    };
    match state {
        StateSource::Store(mut store) => {
            metrics.set_role(true, true);
            cycles.run(&mut store, &shutdown).await;
        }
        StateSource::Election(election) => {
            cycles.lead_or_stand_by(*election, &shutdown).await;
        }
    }
    stop_server.cancel();
    match server.await {
        Ok(result) => result,
        Err(e) => Err(std::io::Error::other(format!(
            "the HTTP server task failed: {e}"
        ))),
    }
}

impl<G: Governance, R: Registry> Loop<'_, G, R> {
    /// Stands by until this process leads, runs cycles while it leads, and stands by
    /// again if it loses the lead (its database session gone: every write after that
    /// is refused by the store, and the cycle running stops starting new ones).
    async fn lead_or_stand_by(&self, mut election: Election, shutdown: &CancellationToken) {
        let Loop {
            settings,
            metrics,
            status,
            ..
        } = *self;
        let instance = election.instance().to_string();
        let mut announced = None;
        loop {
            let attempt = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                attempt = election.try_lead() => attempt,
            };
            metrics.lead_attempt();
            // Who leads as far as this attempt tells, and why this replica is not ready.
            let (leader, error) = match attempt {
                Ok(Lead::Leads(store)) => {
                    announced = None;
                    tracing::info!(instance = %instance, database = %election.target(), "leading: this govsync runs the cycles");
                    self.lead(store, &instance, shutdown).await;
                    if shutdown.is_cancelled() {
                        return;
                    }
                    tracing::error!(
                        instance = %instance,
                        "lost the lead (the database session that held the lock is gone): standing by"
                    );
                    (
                        None,
                        Some("this govsync lost the lead; trying again".to_string()),
                    )
                }
                Ok(Lead::Standby(leader)) => {
                    let who = leader.as_ref().map(|l| l.instance.clone());
                    if announced.as_ref() != Some(&who) {
                        tracing::info!(
                            leader = who.as_deref().unwrap_or("(not yet known)"),
                            instance = %instance,
                            "standing by: another govsync leads"
                        );
                        announced = Some(who);
                    }
                    (leader, None)
                }
                Err(e) => {
                    let error = e.to_string();
                    // Said once per new reason, not every retry.
                    let said = matches!(&status.borrow().role, Role::Standby { error: Some(old), .. } if *old == error);
                    if !said {
                        tracing::warn!(error = %e, "cannot reach the state store to lead or stand by; retrying");
                    }
                    (None, Some(error))
                }
            };
            metrics.set_role(false, error.is_none());
            status.send_modify(|s| {
                // Without news of the leader, the last known stays.
                let known = match &s.role {
                    Role::Standby { leader, .. } => leader.clone(),
                    _ => None,
                };
                s.running = None;
                s.role = Role::Standby {
                    instance: instance.clone(),
                    leader: leader.or(known),
                    checked: Instant::now(),
                    error,
                };
            });
            wait(settings.standby_retry, shutdown).await;
        }
    }

    /// Runs cycles on `store` while this process leads: until shutdown, or until the
    /// store's session is lost (then the cycle running starts no new write).
    async fn lead(&self, store: PgStore, instance: &str, shutdown: &CancellationToken) {
        let Loop {
            metrics, status, ..
        } = *self;
        metrics.set_role(true, true);
        status.send_modify(|s| {
            s.role = Role::Leader {
                instance: instance.to_string(),
            };
        });
        let lost = store.lost();
        let leading = shutdown.child_token();
        let mut store = Store::Postgres(store);
        let watch_lost = async {
            tokio::select! {
                () = lost.cancelled() => leading.cancel(),
                () = leading.cancelled() => {}
            }
        };
        tokio::join!(
            async {
                self.run(&mut store, &leading).await;
                // Ends the watcher when the loop ended for shutdown.
                leading.cancel();
            },
            watch_lost
        );
        // The store, its session and its heartbeat end here.
        lost.cancel();
    }
}

/// Sleeps `period`, or until shutdown.
async fn wait(period: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(period) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_stays_within_ten_percent_of_the_interval() {
        let i = Duration::from_secs(60);
        assert_eq!(next_wait(i, 0.0), Duration::from_secs(54));
        assert_eq!(next_wait(i, 0.5), Duration::from_secs(60));
        assert_eq!(next_wait(i, 1.0), Duration::from_secs(66));
        assert_eq!(next_wait(i, 7.0), Duration::from_secs(66));
    }
}
