//! Applying: every write of the plan, at most `concurrency` at once, each journaled —
//! its intent recorded before it reaches the remote system and its outcome right
//! after — so that a process killed at any instant leaves no write unaccounted for.

use std::future::Future;
use std::time::SystemTime;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{Engine, Outcome, Progress, passive};
use crate::domain::{ApprovalStatus, Lifecycle};
use crate::governance::Governance;
use crate::plan::{Action, Decision};
use crate::remote::WriteOutcome;
use crate::render::or_none;
use crate::sagemaker::{Described, Registry};
use crate::scope::Scopes;
use crate::store::{Intent, StateStore, Store, WriteSystem};

/// Where a cycle's writes are journaled: the store (none for a store-less cycle) and
/// the cycle's ID. The lock is held only for one short transaction, never across a
/// remote call.
pub(super) struct WriteJournal<'s> {
    pub(super) store: Option<tokio::sync::Mutex<&'s mut Store>>,
    pub(super) cycle: String,
}

impl WriteJournal<'_> {
    /// Records the intent; `Ok(None)` without a store.
    async fn intent(&self, intent: &Intent) -> Result<Option<i64>, String> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let mut store = store.lock().await;
        store
            .record_intent(intent)
            .await
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// Completes the intent with the write's outcome. If that fails, the intent stays
    /// open and the next cycle resolves it from what it observes.
    async fn complete(&self, id: Option<i64>, outcome: &Outcome) {
        let (Some(store), Some(id)) = (&self.store, id) else {
            return;
        };
        let error = outcome.error();
        let mut store = store.lock().await;
        if let Err(e) = store
            .complete_intent(id, outcome.as_str(), error.as_deref())
            .await
        {
            tracing::error!(
                intent = id,
                error = %e,
                "could not record a write's outcome; the next cycle resolves it"
            );
        }
    }
}

/// Every decision's outcome before any write: `planned` for a write, what the
/// action reports for the others (a dry run's outcomes; `apply` starts from them).
pub(super) fn unapplied(decisions: &[Decision]) -> Vec<(Outcome, Option<SystemTime>)> {
    decisions
        .iter()
        .map(|d| match &d.action {
            a if a.writes() => (Outcome::Planned, None),
            a => (passive(a), None),
        })
        .collect()
}

/// The `StageDescription` govsync writes with a lifecycle.
fn stage_description(decision: &Decision, status: &str) -> String {
    format!(
        "Set by govsync from watsonx.governance model {} ({}) status \"{status}\"",
        decision.model_id, decision.model_name
    )
}

impl<G: Governance, R: Registry> Engine<G, R> {
    /// Performs every write of the plan (with `links_only`, only the links: the
    /// other writes are planned, not made), at most `concurrency` at once. Once
    /// `cancel` fires, no further write starts; those in flight finish.
    pub(super) async fn apply(
        &self,
        decisions: &[Decision],
        scopes: &Scopes,
        journal: &WriteJournal<'_>,
        cancel: &CancellationToken,
        report: &(dyn Fn(Progress) + Sync),
        links_only: bool,
    ) -> Vec<(Outcome, Option<SystemTime>)> {
        let mut outcomes = unapplied(decisions);
        let planned: Vec<usize> = (0..decisions.len())
            .filter(|&i| decisions[i].action.writes())
            .filter(|&i| !links_only || matches!(decisions[i].action, Action::Link { .. }))
            .collect();
        for &i in &planned {
            outcomes[i].0 = Outcome::Cancelled;
        }
        let total = planned.len();
        report(Progress::Applying { done: 0, total });
        let writes = futures_util::stream::iter(planned)
            .take_until(cancel.cancelled())
            .map(|i| async move { (i, self.write(&decisions[i], scopes, journal).await) })
            .buffer_unordered(self.settings.concurrency.max(1));
        let mut writes = std::pin::pin!(writes);
        let mut done = 0;
        while let Some((i, outcome)) = writes.next().await {
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

    /// The writes of one decision: one remote call, or two for a decommission that
    /// also moves the package to the decommission row. With the outcome, when its
    /// SageMaker write was sent, if it made one.
    async fn write(
        &self,
        d: &Decision,
        scopes: &Scopes,
        journal: &WriteJournal<'_>,
    ) -> (Outcome, Option<SystemTime>) {
        // The planner writes only inside an observed scope, so every SageMaker write
        // has one; were that ever not so, refuse rather than use another's client.
        let registry = scopes.route(&d.arn).map(|i| &self.registries[i].registry);
        let no_scope = || Outcome::Failed(format!("{} is in no configured scope", d.arn));
        let status = d.governance_status.as_ref().map_or("", |s| s.as_str());
        match &d.action {
            Action::Push { to, .. } => {
                let Some(registry) = registry else {
                    return (no_scope(), None);
                };
                if let Err(changed) = self.sagemaker_unchanged(registry, d).await {
                    return (changed, None);
                }
                let description = stage_description(d, status);
                let (outcome, sent) = journaled(
                    journal,
                    d,
                    WriteSystem::SageMaker,
                    "push",
                    to.to_string(),
                    || registry.set_lifecycle(&d.arn, to, &description, self.approval_for(to)),
                )
                .await;
                (outcome, Some(sent))
            }
            Action::Pull { to, .. } => {
                if let Err(changed) = self.governance_unchanged(d).await {
                    return (changed, None);
                }
                let (outcome, _) = journaled(
                    journal,
                    d,
                    WriteSystem::Governance,
                    "pull",
                    to.to_string(),
                    || self.governance.set_status(&d.model_id, to),
                )
                .await;
                (outcome, None)
            }
            Action::Decommission { to, then_push, .. } => {
                if let Err(changed) = self.governance_unchanged(d).await {
                    return (changed, None);
                }
                let (first, _) = journaled(
                    journal,
                    d,
                    WriteSystem::Governance,
                    "decommission",
                    to.to_string(),
                    || self.governance.set_status(&d.model_id, to),
                )
                .await;
                match (first, then_push, registry) {
                    (Outcome::Applied, Some(lifecycle), Some(registry)) => {
                        let description = stage_description(d, to.as_str());
                        let (outcome, sent) = journaled(
                            journal,
                            d,
                            WriteSystem::SageMaker,
                            "push",
                            lifecycle.to_string(),
                            || {
                                registry.set_lifecycle(
                                    &d.arn,
                                    lifecycle,
                                    &description,
                                    self.approval_for(lifecycle),
                                )
                            },
                        )
                        .await;
                        (outcome, Some(sent))
                    }
                    (Outcome::Applied, Some(_), None) => (no_scope(), None),
                    (first, _, _) => (first, None),
                }
            }
            Action::Link { replaces } => {
                if let Err(changed) = self.link_field_unchanged(d, replaces.as_ref()).await {
                    return (changed, None);
                }
                let (outcome, _) = journaled(
                    journal,
                    d,
                    WriteSystem::Governance,
                    crate::recovery::LINK,
                    d.arn.to_string(),
                    || self.governance.set_link(&d.model_id, &d.arn),
                )
                .await;
                (outcome, None)
            }
            Action::Create { status } => {
                let (outcome, _) = journaled(
                    journal,
                    d,
                    WriteSystem::Governance,
                    crate::recovery::CREATE,
                    d.model_name.clone(),
                    || self.governance.create_model(&d.model_name, status, &d.arn),
                )
                .await;
                (outcome, None)
            }
            other => (passive(other), None),
        }
    }
}

impl<G: Governance, R: Registry> Engine<G, R> {
    /// Re-reads the governance model right before its status is written: the write
    /// goes ahead only if the status is still the one the cycle observed, so that a
    /// person's change in the console is never overwritten.
    async fn governance_unchanged(&self, d: &Decision) -> Result<(), Outcome> {
        match self.governance.get_model(&d.model_id).await {
            Ok(Some(now)) if now.status == d.governance_status => Ok(()),
            Ok(Some(now)) => Err(Outcome::ChangedDuringCycle(format!(
                "the governance status is now {} ({} when the cycle listed it): nothing written; \
                 the next cycle decides",
                quoted(now.status.as_ref()),
                quoted(d.governance_status.as_ref())
            ))),
            Ok(None) => Err(Outcome::NotFound(
                "the governance model no longer exists".into(),
            )),
            Err(e) => Err(Outcome::Failed(format!(
                "not written: could not re-read the model first: {e}"
            ))),
        }
    }

    /// Re-reads the governance model right before a link is written into it: the
    /// link field must still hold what the decision replaces (nothing, for a link
    /// the planner made: a person may have filled it since).
    async fn link_field_unchanged(
        &self,
        d: &Decision,
        replaces: Option<&crate::domain::PackageArn>,
    ) -> Result<(), Outcome> {
        match self.governance.get_model(&d.model_id).await {
            Ok(Some(now)) if now.link.as_ref() == replaces => Ok(()),
            Ok(Some(now)) => Err(Outcome::ChangedDuringCycle(format!(
                "the model's link field now holds {}: nothing written; the next cycle decides",
                now.link.map_or_else(String::new, |l| l.to_string())
            ))),
            Ok(None) => Err(Outcome::NotFound(
                "the governance model no longer exists".into(),
            )),
            Err(e) => Err(Outcome::Failed(format!(
                "not written: could not re-read the model first: {e}"
            ))),
        }
    }

    /// The approval status the row of `lifecycle` sets with it, if any.
    fn approval_for(&self, lifecycle: &Lifecycle) -> Option<ApprovalStatus> {
        self.settings
            .mapping
            .by_lifecycle(lifecycle)
            .and_then(|row| row.approval_status)
    }

    /// With `recheck_sagemaker`, describes the package right before its lifecycle
    /// is written, likewise.
    async fn sagemaker_unchanged(&self, registry: &R, d: &Decision) -> Result<(), Outcome> {
        if !self.settings.recheck_sagemaker {
            return Ok(());
        }
        match registry.describe_package(&d.arn).await {
            Ok(Described::Found(now)) if now.lifecycle == d.lifecycle => Ok(()),
            Ok(Described::Found(now)) => Err(Outcome::ChangedDuringCycle(format!(
                "the SageMaker lifecycle is now {} ({} when the cycle listed it): nothing \
                 written; the next cycle decides",
                or_none(now.lifecycle.as_ref()),
                or_none(d.lifecycle.as_ref())
            ))),
            Ok(Described::NotFound) => Err(Outcome::NotFound(
                "the model package no longer exists".into(),
            )),
            Err(e) => Err(Outcome::Failed(format!(
                "not written: could not describe the package first: {e}"
            ))),
        }
    }
}

/// A status in quotes, or `no status`.
fn quoted(status: Option<&crate::domain::GovernanceStatus>) -> String {
    status.map_or_else(|| "no status".to_string(), |s| format!("\"{s}\""))
}

/// One remote write: its intent first (no intent, no write), the call, its outcome
/// journaled and logged. With the outcome, when the call was sent (this write's own
/// time: what a later observation of the value it wrote is judged against).
async fn journaled<F, Fut>(
    journal: &WriteJournal<'_>,
    d: &Decision,
    system: WriteSystem,
    action: &'static str,
    to: String,
    call: F,
) -> (Outcome, SystemTime)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = WriteOutcome>,
{
    let intent = Intent {
        cycle: journal.cycle.clone(),
        model_id: d.model_id.to_string(),
        model_name: d.model_name.clone(),
        package_arn: d.arn.to_string(),
        system,
        action: action.to_string(),
        from: Some(d.observed_pair()),
        to: to.clone(),
        reason: d.reason.clone(),
    };
    let mut sent = SystemTime::now();
    let outcome = match journal.intent(&intent).await {
        Ok(id) => {
            sent = SystemTime::now();
            let outcome = outcome_of(call().await);
            journal.complete(id, &outcome).await;
            outcome
        }
        Err(e) => Outcome::Failed(format!(
            "not written: the state store could not record the intent first: {e}"
        )),
    };
    tracing::info!(
        target: "govsync::transition",
        model = %d.model_id,
        name = %d.model_name,
        arn = %d.arn,
        action,
        from = %intent.from.as_deref().unwrap_or_default(),
        to = %to,
        outcome = outcome.as_str(),
        error = outcome.error().unwrap_or_default(),
        cycle = %journal.cycle,
        "transition"
    );
    (outcome, sent)
}

fn outcome_of(w: WriteOutcome) -> Outcome {
    match w {
        WriteOutcome::Applied => Outcome::Applied,
        WriteOutcome::Refused(m) => Outcome::Refused(m),
        WriteOutcome::NotFound => Outcome::NotFound("the object does not exist".into()),
        WriteOutcome::Failed(e) => Outcome::Failed(e.message),
    }
}
