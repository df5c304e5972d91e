//! One sync cycle: observe both sides in bulk → confirm suspected deletions → plan
//! (the pure planner) → apply the writes with bounded concurrency → record the
//! baseline and the audit journal.
//!
//! A failure to observe either side ends the cycle before any write. One failed
//! write never stops the others.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::domain::{GovernanceModel, ModelId, ModelPackage, PackageArn};
use crate::governance::Governance;
use crate::mapping::MappingTable;
use crate::plan::{
    Action, BaselineEntry, Decision, Plan, PlanInput, Policy, SafetyValveTrip,
    decommission_statuses, plan,
};
use crate::remote::{Listing, RejectedRow, RemoteError, WriteOutcome};
use crate::sagemaker::{Described, Registry, ScopedRegistry};
use crate::scope::{ScopeId, Scopes};
use crate::store::{JournalEntry, Store, StoreError, now_rfc3339};

/// What a cycle is asked to do.
#[derive(Debug, Clone, Default)]
pub struct CycleOptions {
    /// Plan only: no write anywhere, not even the store.
    pub dry_run: bool,
    /// Only this governance model.
    pub model: Option<ModelId>,
    /// Cancelled on shutdown: a cycle still observing stops with
    /// [`CycleError::Cancelled`]; one applying starts no new write, lets the writes in
    /// flight finish, and records them.
    pub cancel: CancellationToken,
    /// Where the cycle reports how far it got (for a progress line on a terminal).
    pub progress: Option<watch::Sender<Progress>>,
}

/// How far a cycle got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// Listing both sides.
    #[default]
    Observing,
    /// Describing linked packages (missing from the listing, or for their model cards).
    Describing {
        /// Packages to describe.
        total: usize,
    },
    /// Writing.
    Applying {
        /// Writes finished.
        done: usize,
        /// Writes planned.
        total: usize,
    },
    /// Finished.
    Done,
}

/// What became of one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "kebab-case")]
pub enum Outcome {
    /// Nothing to write (in sync, already decommissioned).
    Nothing,
    /// Written.
    Applied,
    /// Reported only (drift, conflict under `skip`, package not observed).
    Reported,
    /// Held back by the safety valve.
    Withheld,
    /// Would be written (dry run).
    Planned,
    /// Not started: the process is shutting down (the next cycle will make it).
    Cancelled,
    /// The remote system refused the value.
    Refused(String),
    /// The object is gone.
    NotFound(String),
    /// The write failed.
    Failed(String),
}

impl Outcome {
    /// A short name (tables, metrics, the journal).
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Nothing => "none",
            Outcome::Applied => "applied",
            Outcome::Reported => "reported",
            Outcome::Withheld => "withheld",
            Outcome::Planned => "planned",
            Outcome::Cancelled => "cancelled",
            Outcome::Refused(_) => "refused",
            Outcome::NotFound(_) => "not-found",
            Outcome::Failed(_) => "failed",
        }
    }

    /// The error of a failed write.
    pub fn error(&self) -> Option<String> {
        match self {
            Outcome::Refused(e) | Outcome::NotFound(e) | Outcome::Failed(e) => Some(e.clone()),
            _ => None,
        }
    }

    /// True when a write was attempted and did not happen.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Refused(_) | Outcome::NotFound(_) | Outcome::Failed(_)
        )
    }
}

/// A decision and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelResult {
    /// What the planner decided.
    #[serde(flatten)]
    pub decision: Decision,
    /// What happened (`"outcome"`, and `"detail"` for an error).
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Everything one cycle saw and did.
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    /// Per linked model, in governance order.
    pub results: Vec<ModelResult>,
    /// Governance models with no link.
    pub unlinked_models: usize,
    /// Packages no model links.
    pub unlinked_packages: usize,
    /// Rows skipped as malformed, from governance.
    pub rejected_models: Vec<String>,
    /// Rows skipped as malformed, from SageMaker.
    pub rejected_packages: Vec<String>,
    /// Linked packages confirmed deleted this cycle.
    pub confirmed_deleted: usize,
    /// Per scope, whether it was listed and what it held.
    pub scopes: Vec<ScopeReport>,
    /// Each time the safety valve withheld decommissions (per scope, or in total).
    pub safety_valve: Vec<SafetyValveTrip>,
    /// True for a dry run.
    pub dry_run: bool,
}

impl CycleReport {
    /// Count of results whose action has this kind.
    pub fn count(&self, kind: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.decision.action.kind() == kind)
            .count()
    }

    /// Writes that failed.
    pub fn failures(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome.is_failure())
            .count()
    }

    /// Models left in drift or conflict, withheld by the safety valve, or not
    /// observed because their scope could not be listed.
    pub fn unresolved(&self) -> usize {
        self.results
            .iter()
            .filter(|r| {
                matches!(
                    r.decision.action,
                    Action::Drift { .. }
                        | Action::Conflict
                        | Action::DecommissionWithheld { .. }
                        | Action::ScopeNotObserved
                )
            })
            .count()
    }

    /// The exit code of `reconcile`: 2 if a write failed, else 3 if drift or
    /// conflicts remain, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.failures() > 0 {
            2
        } else if self.unresolved() > 0 || !self.safety_valve.is_empty() {
            3
        } else {
            0
        }
    }
}

/// One scope's listing this cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeReport {
    /// The scope.
    pub scope: ScopeId,
    /// True when it was listed in full.
    pub observed: bool,
    /// Packages listed (0 when not observed).
    pub packages: usize,
    /// Why it could not be listed.
    pub error: Option<String>,
}

/// Why a cycle stopped before applying anything.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// Governance could not be listed.
    #[error("cannot list governance models: {0}")]
    Governance(RemoteError),
    /// No SageMaker scope could be listed.
    #[error("cannot list SageMaker model packages in any scope: {0}")]
    SageMaker(RemoteError),
    /// The state store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Shutdown began before any write.
    #[error("the cycle was cancelled by shutdown before any write")]
    Cancelled,
}

/// The engine: both remote systems, the table and the policy.
pub struct Engine<G, R> {
    /// Governance.
    pub governance: G,
    /// SageMaker: one client per scope, in the configured order. A linked ARN is
    /// routed to the first scope that covers it.
    pub registries: Vec<ScopedRegistry<R>>,
    /// The mapping table.
    pub mapping: MappingTable,
    /// The planner's policy.
    pub policy: Policy,
    /// Writes (and scope listings) in flight at once.
    pub concurrency: usize,
    /// Describe every linked package each cycle to read its model card status.
    pub read_model_cards: bool,
}

/// The `StageDescription` govsync writes with a lifecycle.
fn stage_description(decision: &Decision, status: &str) -> String {
    format!(
        "Set by govsync from watsonx.governance model {} ({}) status \"{status}\"",
        decision.model_id, decision.model_name
    )
}

impl<G: Governance, R: Registry> Engine<G, R> {
    /// Runs one cycle. With a store, reads the baseline from it and records the
    /// outcome; a dry run never writes to it.
    pub async fn cycle(
        &self,
        store: Option<&mut Store>,
        options: &CycleOptions,
    ) -> Result<CycleReport, CycleError> {
        let report = |p: Progress| {
            if let Some(tx) = &options.progress {
                tx.send_replace(p);
            }
        };
        report(Progress::Observing);
        let scopes = Scopes::new(self.registries.iter().map(|r| r.scope.clone()).collect());
        // Observe, both sides at once; governance failing, or every scope failing,
        // ends the cycle with no writes, and so does shutdown (nothing has been
        // written yet). A scope that fails alone leaves its models not observed.
        let observe = async {
            let (models, listings) =
                tokio::join!(self.governance.list_models(), self.list_scopes());
            let models = models.map_err(CycleError::Governance)?;
            let observed = ScopesObserved::from(&scopes, listings)?;
            let mut packages = observed.listing;
            let mut model_rows: Vec<GovernanceModel> = models.items;
            if let Some(only) = &options.model {
                model_rows.retain(|m| &m.id == only);
            }
            let gone = self
                .describe_linked(
                    &model_rows,
                    &scopes,
                    &observed.observed,
                    &mut packages.items,
                    &report,
                )
                .await;
            Ok::<_, CycleError>((
                model_rows,
                models.rejected,
                packages,
                gone,
                observed.observed,
                observed.reports,
            ))
        };
        let (model_rows, rejected_models, packages, gone, observed, scope_reports) = tokio::select! {
            biased;
            () = options.cancel.cancelled() => return Err(CycleError::Cancelled),
            observed = observe => observed?,
        };
        let baseline = match store.as_deref() {
            Some(s) => s.baseline()?,
            None => Default::default(),
        };
        let plan: Plan = plan(&PlanInput {
            models: &model_rows,
            packages: &packages.items,
            gone: &gone,
            scopes: &scopes,
            observed: &observed,
            baseline: &baseline,
            mapping: &self.mapping,
            policy: &self.policy,
        });
        for trip in &plan.safety_valve {
            tracing::error!(
                count = trip.count,
                limit = trip.limit,
                scope = trip.scope.as_ref().map_or("(all)", |s| s.as_str()),
                "{trip}"
            );
        }
        if options.cancel.is_cancelled() {
            return Err(CycleError::Cancelled);
        }

        let outcomes: Vec<Outcome> = if options.dry_run {
            plan.decisions
                .iter()
                .map(|d| {
                    if d.action.writes() {
                        Outcome::Planned
                    } else {
                        passive(&d.action)
                    }
                })
                .collect()
        } else {
            self.apply(&plan.decisions, &scopes, &options.cancel, &report)
                .await
        };
        let results: Vec<ModelResult> = plan
            .decisions
            .iter()
            .cloned()
            .zip(outcomes)
            .map(|(decision, outcome)| ModelResult { decision, outcome })
            .collect();

        if !options.dry_run
            && let Some(store) = store
        {
            record(store, &results)?;
        }
        report(Progress::Done);
        Ok(CycleReport {
            results,
            unlinked_models: plan.unlinked_models,
            unlinked_packages: plan.unlinked_packages,
            rejected_models: rejected_models.iter().map(RejectedRow::to_string).collect(),
            rejected_packages: packages
                .rejected
                .iter()
                .map(RejectedRow::to_string)
                .collect(),
            confirmed_deleted: gone.len(),
            scopes: scope_reports,
            safety_valve: plan.safety_valve,
            dry_run: options.dry_run,
        })
    }

    /// Lists every scope, at most `concurrency` at once, each through its own client.
    async fn list_scopes(&self) -> Vec<Result<Listing<ModelPackage>, RemoteError>> {
        // By index, so that each future borrows `self` alone (a closure over
        // `&ScopedRegistry` items makes the daemon's future not `Send`).
        futures_util::stream::iter(0..self.registries.len())
            .map(|i| {
                let r = &self.registries[i];
                r.registry.list_packages(&r.scope)
            })
            .buffered(self.concurrency.max(1))
            .collect()
            .await
    }

    /// Describes, one call each through the package's scope: every linked package of
    /// an observed scope that the listing did not show (to confirm a deletion), and
    /// with `read_model_cards` every listed linked package whose model is not already
    /// decommissioning (the listing does not carry the model card). Packages in no
    /// scope, or in a scope not observed, are never described. Gone packages are
    /// returned; described ones replace or join the listed ones.
    async fn describe_linked(
        &self,
        models: &[GovernanceModel],
        scopes: &Scopes,
        observed: &[bool],
        packages: &mut Vec<ModelPackage>,
        report: &(dyn Fn(Progress) + Sync),
    ) -> HashSet<PackageArn> {
        let mut position: HashMap<PackageArn, usize> = packages
            .iter()
            .enumerate()
            .map(|(i, p)| (p.arn.clone(), i))
            .collect();
        let decommissioning = decommission_statuses(&self.mapping, &self.policy);
        let mut wanted: Vec<(PackageArn, usize)> = models
            .iter()
            .filter_map(|m| {
                let arn = m.link.as_ref()?;
                let scope = scopes.route(arn).filter(|&i| observed[i])?;
                let wanted = !position.contains_key(arn)
                    || (self.read_model_cards
                        && !m
                            .status
                            .as_ref()
                            .is_some_and(|s| decommissioning.contains(s.as_str())));
                wanted.then(|| (arn.clone(), scope))
            })
            .collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return HashSet::new();
        }
        report(Progress::Describing {
            total: wanted.len(),
        });
        let described: Vec<(PackageArn, Result<Described, RemoteError>)> =
            futures_util::stream::iter(wanted)
                .map(|(arn, scope)| async move {
                    let d = self.registries[scope].registry.describe_package(&arn).await;
                    (arn, d)
                })
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
        let mut gone = HashSet::new();
        for (arn, result) in described {
            match result {
                Ok(Described::NotFound) => {
                    gone.insert(arn);
                }
                Ok(Described::Found(p)) => match position.get(&arn) {
                    Some(&i) => packages[i] = p,
                    None => {
                        position.insert(arn, packages.len());
                        packages.push(p);
                    }
                },
                Err(e) => {
                    tracing::warn!(arn = %arn, error = %e, "could not describe a linked package")
                }
            }
        }
        // A package listed a moment ago and gone now: drop its stale summary.
        packages.retain(|p| !gone.contains(&p.arn));
        gone
    }

    /// Performs every write of the plan, at most `concurrency` at once. Once `cancel`
    /// fires, no further write starts; those in flight finish.
    async fn apply(
        &self,
        decisions: &[Decision],
        scopes: &Scopes,
        cancel: &CancellationToken,
        report: &(dyn Fn(Progress) + Sync),
    ) -> Vec<Outcome> {
        let mut outcomes: Vec<Outcome> = decisions.iter().map(|d| passive(&d.action)).collect();
        let planned: Vec<usize> = (0..decisions.len())
            .filter(|&i| decisions[i].action.writes())
            .collect();
        for &i in &planned {
            outcomes[i] = Outcome::Cancelled;
        }
        let total = planned.len();
        report(Progress::Applying { done: 0, total });
        let writes = futures_util::stream::iter(planned)
            .take_until(cancel.cancelled())
            .map(|i| async move { (i, self.write(&decisions[i], scopes).await) })
            .buffer_unordered(self.concurrency.max(1));
        let mut writes = std::pin::pin!(writes);
        let mut done = 0;
        while let Some((i, outcome)) = writes.next().await {
            let d = &decisions[i];
            tracing::info!(
                target: "govsync::transition",
                model = %d.model_id,
                name = %d.model_name,
                arn = %d.arn,
                action = d.action.kind(),
                from = %describe_from(d),
                to = %describe_to(&d.action),
                outcome = outcome.as_str(),
                error = outcome.error().unwrap_or_default(),
                "transition"
            );
            outcomes[i] = outcome;
            done += 1;
            report(Progress::Applying { done, total });
        }
        if done < total {
            tracing::warn!(
                not_started = total - done,
                "shutting down: writes not started are left to the next cycle"
            );
        }
        outcomes
    }

    async fn write(&self, d: &Decision, scopes: &Scopes) -> Outcome {
        // The planner writes only inside an observed scope, so every SageMaker write
        // has one; were that ever not so, refuse rather than use another's client.
        let registry = scopes.route(&d.arn).map(|i| &self.registries[i].registry);
        let no_scope = || Outcome::Failed(format!("{} is in no configured scope", d.arn));
        match &d.action {
            Action::Push { to, .. } => {
                let Some(registry) = registry else {
                    return no_scope();
                };
                let status = d.governance_status.as_ref().map_or("", |s| s.as_str());
                outcome_of(
                    registry
                        .set_lifecycle(&d.arn, to, &stage_description(d, status))
                        .await,
                )
            }
            Action::Pull { to, .. } => {
                outcome_of(self.governance.set_status(&d.model_id, to).await)
            }
            Action::Decommission { to, then_push, .. } => {
                let first = outcome_of(self.governance.set_status(&d.model_id, to).await);
                match (first, then_push, registry) {
                    (Outcome::Applied, Some(lifecycle), Some(registry)) => outcome_of(
                        registry
                            .set_lifecycle(&d.arn, lifecycle, &stage_description(d, to.as_str()))
                            .await,
                    ),
                    (Outcome::Applied, Some(_), None) => no_scope(),
                    (first, _, _) => first,
                }
            }
            other => passive(other),
        }
    }
}

/// What the scope listings of one cycle add up to.
struct ScopesObserved {
    listing: Listing<ModelPackage>,
    observed: Vec<bool>,
    reports: Vec<ScopeReport>,
}

impl ScopesObserved {
    /// Joins the listings (in the order of `scopes`); fails only when no scope at all
    /// could be listed.
    fn from(
        scopes: &Scopes,
        listings: Vec<Result<Listing<ModelPackage>, RemoteError>>,
    ) -> Result<ScopesObserved, CycleError> {
        let mut joined = ScopesObserved {
            listing: Listing::default(),
            observed: Vec::with_capacity(listings.len()),
            reports: Vec::with_capacity(listings.len()),
        };
        let mut first_error = None;
        for (scope, listing) in scopes.all().iter().zip(listings) {
            let (observed, packages, error) = match listing {
                Ok(mut listing) => {
                    let n = listing.items.len();
                    joined.listing.items.append(&mut listing.items);
                    joined.listing.rejected.append(&mut listing.rejected);
                    (true, n, None)
                }
                Err(e) => {
                    tracing::error!(scope = %scope.id(), error = %e, "scope not observed this cycle");
                    let message = e.message.clone();
                    first_error.get_or_insert(e);
                    (false, 0, Some(message))
                }
            };
            joined.observed.push(observed);
            joined.reports.push(ScopeReport {
                scope: scope.id(),
                observed,
                packages,
                error,
            });
        }
        match first_error {
            Some(e) if !joined.observed.contains(&true) => Err(CycleError::SageMaker(e)),
            _ => Ok(joined),
        }
    }
}

fn outcome_of(w: WriteOutcome) -> Outcome {
    match w {
        WriteOutcome::Applied => Outcome::Applied,
        WriteOutcome::Refused(m) => Outcome::Refused(m),
        WriteOutcome::NotFound => Outcome::NotFound("the object does not exist".into()),
        WriteOutcome::Failed(e) => Outcome::Failed(e.message),
    }
}

/// The outcome of an action that writes nothing.
fn passive(action: &Action) -> Outcome {
    match action {
        Action::InSync | Action::AlreadyDecommissioned => Outcome::Nothing,
        Action::DecommissionWithheld { .. } => Outcome::Withheld,
        _ => Outcome::Reported,
    }
}

/// The pair as observed: `status ⇄ stage/status`.
pub fn describe_from(d: &Decision) -> String {
    format!(
        "{} | {}",
        d.governance_status
            .as_ref()
            .map_or("(none)", |s| s.as_str()),
        d.lifecycle
            .as_ref()
            .map_or_else(|| "(none)".to_string(), ToString::to_string)
    )
}

/// The value an action writes, if any.
pub fn describe_to(action: &Action) -> String {
    match action {
        Action::Push { to, .. } => to.to_string(),
        Action::Pull { to, .. }
        | Action::Decommission { to, .. }
        | Action::DecommissionWithheld { to, .. } => to.to_string(),
        _ => String::new(),
    }
}

/// Records a cycle: baselines of pairs now in sync, and journal entries for every
/// write and for reports that changed since the model's last entry.
fn record(store: &mut Store, results: &[ModelResult]) -> Result<(), StoreError> {
    let latest = store.latest_by_model()?;
    let mut baselines: Vec<(ModelId, BaselineEntry)> = Vec::new();
    let mut entries = Vec::new();
    let at = now_rfc3339();
    for r in results {
        let d = &r.decision;
        let done = matches!(r.outcome, Outcome::Applied) || matches!(d.action, Action::InSync);
        if done && let Some(b) = d.baseline_after() {
            baselines.push((d.model_id.clone(), b));
        }
        let from = describe_from(d);
        let action = match (&d.action, &r.outcome) {
            (_, Outcome::Cancelled) => continue,
            (_, Outcome::Refused(_)) => "refused".to_string(),
            (Action::InSync | Action::AlreadyDecommissioned, _) => continue,
            (a, _) => a.kind().to_string(),
        };
        let reported = !d.action.writes();
        if reported && latest.get(d.model_id.as_str()) == Some(&(action.clone(), from.clone())) {
            continue;
        }
        let to = describe_to(&d.action);
        entries.push(JournalEntry {
            at: at.clone(),
            model_id: d.model_id.to_string(),
            model_name: d.model_name.clone(),
            package_arn: d.arn.to_string(),
            action,
            from: Some(from),
            to: (!to.is_empty()).then_some(to),
            reason: d.reason.clone(),
            outcome: r.outcome.as_str().to_string(),
            error: r.outcome.error(),
        });
    }
    store.record(&baselines, &entries)
}
