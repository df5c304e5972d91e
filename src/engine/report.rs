//! What a cycle hands back: each model's decision and outcome, the scopes, the
//! safety valve, and the counts computed once for every output.

use std::collections::HashMap;

use serde::Serialize;

use super::{CycleKind, IntentsResolved};
use crate::domain::ModelId;
use crate::plan::{ActionKind, Decision, SafetyValveTrip};
use crate::scope::ScopeId;

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
    /// Not written: the value changed since the cycle observed it (a person in the
    /// console, a pipeline); the next cycle decides from the new value.
    ChangedDuringCycle(String),
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
            Outcome::ChangedDuringCycle(_) => "changed-during-cycle",
        }
    }

    /// The error of a failed write.
    pub fn error(&self) -> Option<String> {
        match self {
            Outcome::Refused(e)
            | Outcome::NotFound(e)
            | Outcome::Failed(e)
            | Outcome::ChangedDuringCycle(e) => Some(e.clone()),
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
    /// When govsync's SageMaker write for this model was sent (its own clock), if it
    /// made one: later observations of the package are judged against it
    /// ([`crate::known::Written`]).
    #[serde(skip)]
    pub sagemaker_sent: Option<std::time::SystemTime>,
}

/// Everything one cycle saw and did.
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    /// Full or incremental.
    pub kind: CycleKind,
    /// Per linked model planned, in governance order (an incremental cycle plans
    /// only the models it touched).
    pub results: Vec<ModelResult>,
    /// Governance models with no link.
    pub unlinked_models: usize,
    /// Packages no model links.
    pub unlinked_packages: usize,
    /// Those packages by name, outside `sync.ungoverned_ignore_groups` (a full
    /// cycle of the whole fleet only: an incremental one, or one limited to one
    /// model, does not see every package).
    pub ungoverned: Vec<crate::plan::Ungoverned>,
    /// Links a package's metadata asks for that cannot be made (the same full
    /// cycles only): reported, nothing written.
    pub link_conflicts: Vec<crate::plan::LinkConflict>,
    /// The creates the create valve withheld: (planned, limit).
    pub creates_withheld: Option<(usize, usize)>,
    /// Rows skipped as malformed, from governance.
    pub rejected_models: Vec<String>,
    /// Rows skipped as malformed, from SageMaker.
    pub rejected_packages: Vec<String>,
    /// Linked packages confirmed deleted this cycle.
    pub confirmed_deleted: usize,
    /// Models an incremental cycle touched but left to the next full cycle (their
    /// package is not known or is being deleted).
    pub deferred: Vec<ModelId>,
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
    /// Where the baseline came from: the state store, or none (a dry run before
    /// any store exists plans from an empty one).
    pub baseline: BaselineSource,
}

/// Where a cycle's baseline came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaselineSource {
    /// The state store.
    Store,
    /// No store yet: planned from an empty baseline, so a model whose two sides may
    /// both be written is decided by the conflict policy.
    None,
}

impl CycleReport {
    /// A report of `results` alone, from the store's baseline: nothing else seen,
    /// nothing else done (a link made by hand; a test's report).
    pub fn of_results(kind: CycleKind, results: Vec<ModelResult>, cycle: String) -> CycleReport {
        CycleReport {
            kind,
            results,
            unlinked_models: 0,
            unlinked_packages: 0,
            ungoverned: Vec::new(),
            link_conflicts: Vec::new(),
            creates_withheld: None,
            rejected_models: Vec::new(),
            rejected_packages: Vec::new(),
            confirmed_deleted: 0,
            deferred: Vec::new(),
            intents: IntentsResolved::default(),
            cycle,
            scopes: Vec::new(),
            safety_valve: Vec::new(),
            dry_run: false,
            baseline: BaselineSource::Store,
        }
    }

    /// Folds a later incremental cycle into this view of the fleet (the last full
    /// cycle's report, and the incremental ones since): its results replace those
    /// of the same models, models new to governance join at the end, and its cycle,
    /// deferred models and safety valve trips are added. The counts of unlinked
    /// models and packages, the ungoverned packages, rejected rows, resolved intents
    /// and the scopes' package counts stay the full cycle's: an incremental cycle
    /// does not see everything.
    pub fn absorb(&mut self, newer: &CycleReport) {
        let mut fresh: HashMap<&ModelId, &ModelResult> = newer
            .results
            .iter()
            .map(|r| (&r.decision.model_id, r))
            .collect();
        for r in &mut self.results {
            if let Some(n) = fresh.remove(&r.decision.model_id) {
                *r = n.clone();
            }
        }
        // What is left is new, in the newer report's order.
        for n in &newer.results {
            if fresh.contains_key(&n.decision.model_id) {
                self.results.push(n.clone());
            }
        }
        self.kind = newer.kind;
        self.cycle.clone_from(&newer.cycle);
        self.deferred.clone_from(&newer.deferred);
        self.safety_valve.extend(newer.safety_valve.iter().cloned());
        for (mine, theirs) in self.scopes.iter_mut().zip(&newer.scopes) {
            mine.observed = theirs.observed;
            mine.error.clone_from(&theirs.error);
        }
    }

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
            link: self.count(ActionKind::Link),
            create: self.count(ActionKind::Create),
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

    /// Models left for a person or a later cycle: in a state that needs a person
    /// ([`super::ModelState::needs_a_person`]) other than a failed write (which has
    /// its own exit code), not observed, or whose value changed during the cycle.
    pub fn unresolved(&self) -> usize {
        use super::ModelState;
        self.results
            .iter()
            .filter(|r| {
                let state = ModelState::of(r);
                (state.needs_a_person() && state != ModelState::Failed)
                    || state == ModelState::NotObserved
                    || matches!(r.outcome, Outcome::ChangedDuringCycle(_))
            })
            .count()
    }

    /// The exit code of `reconcile`: 2 if a write failed, else 3 if anything is left
    /// unresolved ([`CycleReport::unresolved`]) or the safety valve tripped, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.failures() > 0 {
            2
        } else if self.unresolved() > 0
            || !self.safety_valve.is_empty()
            || self.creates_withheld.is_some()
        {
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
    /// Links planned (a package's metadata names a model whose link field is empty).
    pub link: usize,
    /// Governance models planned for ungoverned packages (`[governance.create]`).
    pub create: usize,
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
            Outcome::ChangedDuringCycle("c".into()),
        ] {
            let json = serde_json::to_value(&outcome).expect("serialises");
            assert_eq!(json["outcome"], outcome.as_str(), "{json}");
        }
    }
}
