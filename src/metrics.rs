//! Prometheus metrics of the sync loop, and the wrapper that counts every call to
//! either remote system. Label values come from small fixed sets (system, operation,
//! action kind, outcome, state), never a model ID or ARN.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry as PromRegistry;

use crate::domain::{
    ApprovalStatus, GovernanceModel, GovernanceStatus, Lifecycle, ModelId, PackageArn,
};
use crate::engine::{CycleError, CycleKind, CycleReport, ModelState};
use crate::governance::Governance;
use crate::plan::Action;
use crate::remote::{Listing, RemoteError, WriteOutcome};
use crate::sagemaker::{Described, Registry};
use crate::scope::Scope;

type Labels<const N: usize> = [(&'static str, &'static str); N];

/// The buckets of `govsync_cycle_duration_seconds`: 50 ms doubling to about 7 minutes.
fn cycle_duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

/// Every metric govsync exports, registered under the `govsync_` prefix.
pub struct Metrics {
    registry: PromRegistry,
    cycles: Family<Labels<2>, Counter>,
    cycle_duration: Family<Labels<1>, Histogram>,
    actions: Family<Labels<2>, Counter>,
    models: Family<Labels<1>, Gauge>,
    remote_calls: Family<Labels<3>, Counter>,
    last_success: Gauge<f64, AtomicU64>,
    scope_observed: Family<ScopeLabel, Gauge>,
    scope_packages: Family<ScopeLabel, Gauge>,
    scope_ungoverned: Family<ScopeLabel, Gauge>,
    sagemaker_attempts: Family<Labels<2>, Counter>,
    conflicts_resolved: Counter,
    ready: Gauge,
    leader: Gauge,
    lead_attempts: Counter,
    interval: Gauge<f64, AtomicU64>,
    events_received: Counter,
    events_published: Family<Labels<1>, Counter>,
    events_pending: Gauge,
    events: Family<Labels<1>, Counter>,
    event_age: Gauge<f64, AtomicU64>,
}

/// The label of per-scope series: `scope` is `<account>/<region>` of a configured
/// scope, so there are as many series as the configuration lists scopes.
type ScopeLabel = [(&'static str, String); 1];

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// A finished cycle's outcome (the `outcome` label of `govsync_cycles_total`, and the
/// status page's): `ok`, `unresolved` (drift, conflicts or the safety valve), `failed`
/// (a write failed), `error` (a side could not be read), `cancelled`.
pub fn cycle_outcome(result: Result<&CycleReport, &CycleError>) -> &'static str {
    match result {
        Ok(report) if report.failures() > 0 => "failed",
        Ok(report) if report.exit_code() != 0 => "unresolved",
        Ok(_) => "ok",
        Err(CycleError::Cancelled) => "cancelled",
        Err(_) => "error",
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = PromRegistry::with_prefix("govsync");
        let cycles = Family::<Labels<2>, Counter>::default();
        registry.register(
            "cycles",
            "Sync cycles by kind (full, incremental, event) and outcome (ok, unresolved, failed, error, cancelled)",
            cycles.clone(),
        );
        let cycle_duration = Family::<Labels<1>, Histogram>::new_with_constructor(
            cycle_duration_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "cycle_duration",
            "Duration of one sync cycle, by kind (full, incremental, event)",
            prometheus_client::registry::Unit::Seconds,
            cycle_duration.clone(),
        );
        let actions = Family::<Labels<2>, Counter>::default();
        registry.register(
            "actions",
            "Planned actions by kind (push, pull, decommission, drift, conflict, ...) and outcome",
            actions.clone(),
        );
        let models = Family::<Labels<1>, Gauge>::default();
        registry.register(
            "models",
            "Governance models by state after the last cycle",
            models.clone(),
        );
        let remote_calls = Family::<Labels<3>, Counter>::default();
        registry.register(
            "remote_calls",
            "Calls to governance and SageMaker by system, operation and outcome",
            remote_calls.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_successful_cycle_timestamp_seconds",
            "Unix time at which the last cycle that reached both systems finished",
            last_success.clone(),
        );
        let scope_observed = Family::<ScopeLabel, Gauge>::default();
        registry.register(
            "scope_observed",
            "Whether the last cycle listed the scope in full (1) or not (0)",
            scope_observed.clone(),
        );
        let scope_packages = Family::<ScopeLabel, Gauge>::default();
        registry.register(
            "scope_packages",
            "Model packages the last cycle listed in the scope",
            scope_packages.clone(),
        );
        let scope_ungoverned = Family::<ScopeLabel, Gauge>::default();
        registry.register(
            "ungoverned_packages",
            "Model packages the last full cycle listed in the scope that no governance model links (outside sync.ungoverned_ignore_groups)",
            scope_ungoverned.clone(),
        );
        let sagemaker_attempts = Family::<Labels<2>, Counter>::default();
        registry.register(
            "sagemaker_attempts",
            "HTTP attempts the AWS SDK made for SageMaker calls, by operation and attempt (first or retry)",
            sagemaker_attempts.clone(),
        );
        let conflicts_resolved = Counter::default();
        registry.register(
            "conflicts_resolved",
            "Conflicts (both sides changed) that the conflict policy resolved by a push or pull",
            conflicts_resolved.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "Whether the last cycle reached both systems (1) or not (0), as /readyz says",
            ready.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "Whether this process leads (1: it runs cycles and writes) or stands by (0); a single replica on SQLite always leads",
            leader.clone(),
        );
        let lead_attempts = Counter::default();
        registry.register(
            "lead_attempts",
            "Attempts of a replica on PostgreSQL to take the leader's lock (a standby tries every lease/5)",
            lead_attempts.clone(),
        );
        let interval = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "sync_interval",
            "The configured sync.interval (alerts count missed cycles in intervals)",
            prometheus_client::registry::Unit::Seconds,
            interval.clone(),
        );
        let events_received = Counter::default();
        registry.register(
            "events_received",
            "Messages received from the event queue ([sagemaker.events])",
            events_received.clone(),
        );
        let events = Family::<Labels<1>, Counter>::default();
        registry.register(
            "events",
            "Messages from the event queue by outcome: acted (the package showed something new), duplicate (its state was known), ignored (not a package event in scope; deleted), failed (left for redelivery)",
            events.clone(),
        );
        let event_age = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "event_age",
            "Age, when handled, of the oldest message the last batch acted on (from SQS's SentTimestamp)",
            prometheus_client::registry::Unit::Seconds,
            event_age.clone(),
        );
        let events_published = Family::<Labels<1>, Counter>::default();
        registry.register(
            "events_published",
            "govsync Status Change events sent to the [events] bus, by outcome (published; failed: left in the outbox for another try)",
            events_published.clone(),
        );
        let events_pending = Gauge::default();
        registry.register(
            "events_pending",
            "govsync Status Change events waiting in the state store's outbox",
            events_pending.clone(),
        );
        Metrics {
            registry,
            events_published,
            events_pending,
            events_received,
            events,
            event_age,
            conflicts_resolved,
            ready,
            leader,
            lead_attempts,
            interval,
            sagemaker_attempts,
            scope_observed,
            scope_packages,
            scope_ungoverned,
            cycles,
            cycle_duration,
            actions,
            models,
            remote_calls,
            last_success,
        }
    }

    /// Records whether this process leads; a standby that reaches the database is
    /// ready (as `/readyz` says), one that does not is not.
    pub fn set_role(&self, leads: bool, standby_ready: bool) {
        self.leader.set(i64::from(leads));
        if !leads {
            self.ready.set(i64::from(standby_ready));
        }
    }

    /// Counts one attempt to take the leader's lock.
    pub fn lead_attempt(&self) {
        self.lead_attempts.inc();
    }

    /// Records the configured interval (once, when the loop starts).
    pub fn set_interval(&self, interval: Duration) {
        self.interval.set(interval.as_secs_f64());
    }

    /// Records one finished cycle of `kind`; `fleet` counts every linked model by
    /// state as the cycles since the last full one left them, in
    /// [`ModelState::ALL`]'s order (for `govsync_models`); `unix_now` is the
    /// wall-clock time the cycle finished.
    pub fn cycle(
        &self,
        kind: CycleKind,
        result: Result<&CycleReport, &CycleError>,
        fleet: Option<&[usize; ModelState::ALL.len()]>,
        duration: Duration,
        unix_now: f64,
    ) {
        let outcome = cycle_outcome(result);
        let kind = kind.as_str();
        self.cycles
            .get_or_create(&[("kind", kind), ("outcome", outcome)])
            .inc();
        self.cycle_duration
            .get_or_create(&[("kind", kind)])
            .observe(duration.as_secs_f64());
        match result {
            Err(CycleError::Cancelled) => {}
            Err(_) => {
                self.ready.set(0);
            }
            Ok(_) => {
                self.ready.set(1);
            }
        }
        let Ok(report) = result else { return };
        self.last_success.set(unix_now);
        for scope in &report.scopes {
            let label = [("scope", scope.scope.to_string())];
            self.scope_observed
                .get_or_create(&label)
                .set(i64::from(scope.observed));
            // An incremental cycle's count is of changes, not of the scope.
            if report.kind == CycleKind::Full {
                self.scope_packages
                    .get_or_create(&label)
                    .set(scope.packages as i64);
                // A scope not listed keeps the count it last had.
                if scope.observed {
                    let ungoverned = report
                        .ungoverned
                        .iter()
                        .filter(|u| u.scope == scope.scope)
                        .count();
                    self.scope_ungoverned
                        .get_or_create(&label)
                        .set(ungoverned as i64);
                }
            }
        }
        for r in &report.results {
            if r.decision.action.resolved_conflict() {
                self.conflicts_resolved.inc();
            }
            if !matches!(r.decision.action, Action::InSync) {
                self.actions
                    .get_or_create(&[
                        ("kind", r.decision.action.kind().as_str()),
                        ("outcome", r.outcome.as_str()),
                    ])
                    .inc();
            }
        }
        for (state, count) in ModelState::ALL.iter().zip(fleet.into_iter().flatten()) {
            self.models
                .get_or_create(&[("state", state.as_str())])
                .set(*count as i64);
        }
    }

    /// Counts messages received from the event queue.
    pub fn events_received(&self, n: usize) {
        self.events_received.inc_by(n as u64);
    }

    /// Counts one message handled, by outcome (`acted`, `duplicate`, `ignored`,
    /// `failed`).
    pub fn event_handled(&self, outcome: &'static str) {
        self.events.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// Counts events sent to the bus: accepted, and not (left in the outbox).
    pub fn events_published(&self, published: usize, failed: usize) {
        self.events_published
            .get_or_create(&[("outcome", "published")])
            .inc_by(published as u64);
        self.events_published
            .get_or_create(&[("outcome", "failed")])
            .inc_by(failed as u64);
    }

    /// Records the events waiting in the outbox.
    pub fn set_events_pending(&self, n: u64) {
        self.events_pending.set(n as i64);
    }

    /// Records the age of the oldest message a batch acted on.
    pub fn event_age(&self, age: Duration) {
        self.event_age.set(age.as_secs_f64());
    }

    /// Counts one attempt the AWS SDK made for a SageMaker call.
    pub fn sagemaker_attempt(&self, operation: &'static str, retry: bool) {
        self.sagemaker_attempts
            .get_or_create(&[
                ("operation", operation),
                ("attempt", if retry { "retry" } else { "first" }),
            ])
            .inc();
    }

    /// Counts one remote call.
    pub fn remote_call(
        &self,
        system: &'static str,
        operation: &'static str,
        outcome: &'static str,
    ) {
        self.remote_calls
            .get_or_create(&[
                ("system", system),
                ("operation", operation),
                ("outcome", outcome),
            ])
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// The label of a call that returned.
fn result_label<T>(r: &Result<T, RemoteError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.kind.as_str(),
    }
}

fn write_label(w: &WriteOutcome) -> &'static str {
    match w {
        WriteOutcome::Applied => "ok",
        WriteOutcome::Refused(_) => "refused",
        WriteOutcome::NotFound => "not-found",
        WriteOutcome::Failed(e) => e.kind.as_str(),
    }
}

/// A remote system whose every call is counted in `govsync_remote_calls_total`.
pub struct Instrumented<T> {
    /// The real client.
    pub inner: T,
    /// Where the counts go.
    pub metrics: Arc<Metrics>,
}

const GOVERNANCE: &str = "governance";
const SAGEMAKER: &str = "sagemaker";

impl<G: Governance> Governance for Instrumented<G> {
    async fn get_model(&self, model: &ModelId) -> Result<Option<GovernanceModel>, RemoteError> {
        let r = self.inner.get_model(model).await;
        self.metrics
            .remote_call(GOVERNANCE, "get_model", result_label(&r));
        r
    }

    async fn list_models(&self) -> Result<Listing<GovernanceModel>, RemoteError> {
        let r = self.inner.list_models().await;
        self.metrics
            .remote_call(GOVERNANCE, "list_models", result_label(&r));
        r
    }

    async fn list_models_changed(
        &self,
        since: std::time::SystemTime,
    ) -> Result<Listing<GovernanceModel>, RemoteError> {
        let r = self.inner.list_models_changed(since).await;
        self.metrics
            .remote_call(GOVERNANCE, "list_models_changed", result_label(&r));
        r
    }

    fn date_only(&self) -> bool {
        self.inner.date_only()
    }

    async fn create_model(
        &self,
        name: &str,
        status: &GovernanceStatus,
        arn: &crate::domain::PackageArn,
    ) -> WriteOutcome {
        let w = self.inner.create_model(name, status, arn).await;
        self.metrics
            .remote_call(GOVERNANCE, "create_model", write_label(&w));
        w
    }

    async fn set_link(&self, model: &ModelId, arn: &crate::domain::PackageArn) -> WriteOutcome {
        let w = self.inner.set_link(model, arn).await;
        self.metrics
            .remote_call(GOVERNANCE, "set_link", write_label(&w));
        w
    }

    async fn set_status(&self, model: &ModelId, status: &GovernanceStatus) -> WriteOutcome {
        let w = self.inner.set_status(model, status).await;
        self.metrics
            .remote_call(GOVERNANCE, "set_status", write_label(&w));
        w
    }
}

impl<R: Registry> Registry for Instrumented<R> {
    async fn list_packages(
        &self,
        scope: &Scope,
    ) -> Result<Listing<crate::domain::ModelPackage>, RemoteError> {
        let r = self.inner.list_packages(scope).await;
        self.metrics
            .remote_call(SAGEMAKER, "list_packages", result_label(&r));
        r
    }

    async fn list_changed(
        &self,
        scope: &Scope,
        since: std::time::SystemTime,
    ) -> Result<Listing<crate::domain::ModelPackage>, RemoteError> {
        let r = self.inner.list_changed(scope, since).await;
        self.metrics
            .remote_call(SAGEMAKER, "list_changed", result_label(&r));
        r
    }

    async fn describe_package(&self, arn: &PackageArn) -> Result<Described, RemoteError> {
        let r = self.inner.describe_package(arn).await;
        self.metrics
            .remote_call(SAGEMAKER, "describe_package", result_label(&r));
        r
    }

    async fn set_lifecycle(
        &self,
        arn: &PackageArn,
        lifecycle: &Lifecycle,
        description: &str,
        approval: Option<ApprovalStatus>,
    ) -> WriteOutcome {
        let w = self
            .inner
            .set_lifecycle(arn, lifecycle, description, approval)
            .await;
        self.metrics
            .remote_call(SAGEMAKER, "set_lifecycle", write_label(&w));
        w
    }
}
