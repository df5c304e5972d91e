//! One sync cycle: observe both sides in bulk → confirm suspected deletions → plan
//! (the pure planner) → apply the writes with bounded concurrency → record the
//! baseline and the audit journal.
//!
//! A failure to observe either side ends the cycle before any write. One failed
//! write never stops the others.

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::domain::{GovernanceModel, ModelId};
use crate::governance::Governance;
use crate::mapping::MappingTable;
use crate::plan::{Action, ActionKind, Decision, Plan, PlanInput, Policy, SafetyValveTrip, plan};
use crate::recovery::Observed;
use crate::remote::{RejectedRow, RemoteError};
use crate::sagemaker::{Registry, ScopedRegistry};
use crate::scope::{ScopeId, Scopes};
use crate::store::{Store, StoreError};

mod apply;
mod observe;
mod record;

pub use record::IntentsResolved;

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
    #[serde(rename = "none")]
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
    /// Writes of a stopped process whose outcome this cycle decided.
    pub intents: IntentsResolved,
    /// This cycle's ID (it is on each journal entry the cycle made).
    pub cycle: String,
    /// Per scope, whether it was listed and what it held.
    pub scopes: Vec<ScopeReport>,
    /// Each time the safety valve withheld decommissions (per scope, or in total).
    pub safety_valve: Vec<SafetyValveTrip>,
    /// True for a dry run.
    pub dry_run: bool,
}

impl CycleReport {
    /// Count of results whose action has this kind.
    pub fn count(&self, kind: ActionKind) -> usize {
        self.results
            .iter()
            .filter(|r| r.decision.action.kind() == kind)
            .count()
    }

    /// Count of results whose action has this kind and which were written.
    pub fn applied(&self, kind: ActionKind) -> usize {
        self.results
            .iter()
            .filter(|r| r.decision.action.kind() == kind && r.outcome == Outcome::Applied)
            .count()
    }

    /// Count of results with this outcome.
    pub fn outcomes(&self, outcome: &Outcome) -> usize {
        self.results
            .iter()
            .filter(|r| &r.outcome == outcome)
            .count()
    }

    /// Decisions that write (planned this cycle, whatever became of them).
    pub fn planned_writes(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.decision.action.writes())
            .count()
    }

    /// Pushes and pulls that the conflict policy chose (both sides had changed).
    pub fn conflicts_resolved(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.decision.action.resolved_conflict())
            .count()
    }

    /// The counts a summary shows (the table's last line, the JSON's `summary`).
    pub fn summary(&self) -> Summary {
        Summary {
            linked: self.results.len(),
            in_sync: self.count(ActionKind::InSync),
            push: self.count(ActionKind::Push),
            pull: self.count(ActionKind::Pull),
            decommission: self.count(ActionKind::Decommission),
            drift: self.count(ActionKind::Drift),
            conflict: self.count(ActionKind::Conflict),
            conflicts_resolved: self.conflicts_resolved(),
            not_observed: self.count(ActionKind::ScopeNotObserved)
                + self.count(ActionKind::PackageNotObserved),
            out_of_scope: self.count(ActionKind::OutOfScope),
            failed: self.failures(),
            unlinked_models: self.unlinked_models,
            unlinked_packages: self.unlinked_packages,
            confirmed_deleted: self.confirmed_deleted,
        }
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

/// A cycle's counts, computed once ([`CycleReport::summary`]) for every output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Linked models planned.
    pub linked: usize,
    /// In sync.
    pub in_sync: usize,
    /// Pushes planned.
    pub push: usize,
    /// Pulls planned.
    pub pull: usize,
    /// Decommissions planned.
    pub decommission: usize,
    /// Drift reported.
    pub drift: usize,
    /// Conflicts left for a person (policy `skip`).
    pub conflict: usize,
    /// Conflicts the policy resolved (counted in `push` or `pull` too).
    pub conflicts_resolved: usize,
    /// Not observed (scope or package).
    pub not_observed: usize,
    /// Linked outside every scope.
    pub out_of_scope: usize,
    /// Writes that failed or were refused.
    pub failed: usize,
    /// Governance models without a link.
    pub unlinked_models: usize,
    /// Packages no model links to.
    pub unlinked_packages: usize,
    /// Packages confirmed deleted this cycle.
    pub confirmed_deleted: usize,
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
            let observed = observe::ScopesObserved::from(&scopes, listings)?;
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
        let cycle_id = new_cycle_id();
        let mut store = store;
        // Writes a killed process left without an outcome: decided from what is seen now.
        let intents = match store.as_deref_mut() {
            Some(s) if !options.dry_run => record::resolve_open_intents(
                s,
                &Observed {
                    models: &model_rows,
                    models_complete: options.model.is_none(),
                    packages: &packages.items,
                    gone: &gone,
                },
            )?,
            _ => IntentsResolved::default(),
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
            let journal = apply::WriteJournal {
                store: store.take().map(std::sync::Mutex::new),
                cycle: cycle_id.clone(),
            };
            let outcomes = self
                .apply(&plan.decisions, &scopes, &journal, &options.cancel, &report)
                .await;
            store = journal
                .store
                .map(|s| s.into_inner().expect("store lock poisoned"));
            outcomes
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
            record::record(store, &results, &cycle_id)?;
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
            intents,
            cycle: cycle_id,
            scopes: scope_reports,
            safety_valve: plan.safety_valve,
            dry_run: options.dry_run,
        })
    }
}

/// A new cycle ID: the start time and a random suffix (`20261123T091800Z-3fa2`).
fn new_cycle_id() -> String {
    let now = crate::store::now_rfc3339().replace(['-', ':'], "");
    format!("{now}-{:04x}", fastrand::u16(..))
}

/// The outcome of an action that writes nothing.
fn passive(action: &Action) -> Outcome {
    match action {
        Action::InSync | Action::AlreadyDecommissioned => Outcome::Nothing,
        Action::DecommissionWithheld { .. } => Outcome::Withheld,
        _ => Outcome::Reported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_outcome_is_the_name_tables_metrics_and_the_journal_use() {
        for outcome in [
            Outcome::Nothing,
            Outcome::Applied,
            Outcome::Reported,
            Outcome::Withheld,
            Outcome::Planned,
            Outcome::Cancelled,
            Outcome::Refused("r".into()),
            Outcome::NotFound("n".into()),
            Outcome::Failed("f".into()),
        ] {
            let json = serde_json::to_value(&outcome).expect("serialises");
            assert_eq!(json["outcome"], outcome.as_str(), "{json}");
        }
    }
}
