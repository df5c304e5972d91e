//! Recording: the baselines of pairs now in sync and the reports (drift, conflicts,
//! out of scope, …) of a cycle, and the verdicts on intents a dead process left open.
//! The writes themselves are journaled as they are made ([`super::apply`]).

use super::{ModelResult, Outcome};
use crate::domain::ModelId;
use crate::plan::{Action, BaselineEntry};
use crate::recovery::{Observed, resolve};
use crate::store::{JournalEntry, StateStore, Store, StoreError, now_rfc3339};

/// Records a cycle's end: baselines of pairs now in sync, and journal entries for
/// reports that changed since the model's last entry (writes are already journaled).
pub(super) async fn record(
    store: &mut Store,
    results: &[ModelResult],
    cycle: &str,
) -> Result<(), StoreError> {
    // A report repeated from the model's latest entry is not journaled again; only
    // reports need that lookup (writes and states in sync are never compared).
    let reported: Vec<&str> = results
        .iter()
        .filter(|r| is_report(&r.decision.action))
        .map(|r| r.decision.model_id.as_str())
        .collect();
    let latest = store.latest_by_model(&reported).await?;
    let mut baselines: Vec<(ModelId, BaselineEntry)> = Vec::new();
    let mut entries = Vec::new();
    let at = now_rfc3339();
    for r in results {
        let d = &r.decision;
        let done = matches!(r.outcome, Outcome::Applied) || matches!(d.action, Action::InSync);
        if done && let Some(b) = d.baseline_after() {
            baselines.push((d.model_id.clone(), b));
        }
        // A write left undone because the value changed is journaled here (it had
        // no intent); other writes were journaled as they were made.
        let changed = matches!(r.outcome, Outcome::ChangedDuringCycle(_));
        if !changed && !is_report(&d.action) {
            continue;
        }
        let from = d.observed_pair();
        let action = d.action.kind().to_string();
        if !changed && latest.get(d.model_id.as_str()) == Some(&(action.clone(), from.clone())) {
            continue;
        }
        entries.push(JournalEntry {
            at: at.clone(),
            model_id: d.model_id.to_string(),
            model_name: d.model_name.clone(),
            package_arn: d.arn.to_string(),
            action,
            from: Some(from),
            to: d.action.target(),
            reason: d.reason.clone(),
            outcome: r.outcome.as_str().to_string(),
            error: r.outcome.error(),
            cycle: Some(cycle.to_string()),
        });
    }
    store.record(&baselines, &entries).await
}

/// An action journaled here as a report (drift, conflict, out of scope, …): not a
/// write (journaled as it is made) nor a state that needs no entry.
fn is_report(action: &Action) -> bool {
    // A withheld create has no model to journal it under: the cycle's report and
    // log say it, once for all of them.
    !action.writes()
        && !matches!(
            action,
            Action::InSync | Action::AlreadyDecommissioned | Action::CreateWithheld { .. }
        )
}

/// How the intents left open by an earlier process were resolved this cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IntentsResolved {
    /// The remote showed the target: journaled as `recovered`.
    pub recovered: usize,
    /// It did not: journaled as `unconfirmed`.
    pub unconfirmed: usize,
    /// Not observed this cycle: still open.
    pub open: usize,
}

/// Resolves every open intent against what this cycle observed, and journals each
/// verdict reached.
pub(super) async fn resolve_open_intents(
    store: &mut Store,
    observed: &Observed<'_>,
) -> Result<IntentsResolved, StoreError> {
    let open = store.open_intents().await?;
    if open.is_empty() {
        return Ok(IntentsResolved::default());
    }
    let intents: Vec<_> = open.iter().map(|o| &o.intent).collect();
    let mut resolved = IntentsResolved::default();
    for (open, verdict) in open.iter().zip(resolve(&intents, observed)) {
        let Some((outcome, detail)) = verdict.outcome() else {
            resolved.open += 1;
            continue;
        };
        tracing::warn!(
            target: "govsync::transition",
            model = %open.intent.model_id,
            arn = %open.intent.package_arn,
            action = %open.intent.action,
            to = %open.intent.to,
            outcome,
            detail,
            cycle = %open.intent.cycle,
            "a write whose outcome a stopped process did not record"
        );
        store
            .complete_intent(open.id, outcome, Some(detail))
            .await?;
        match outcome {
            "recovered" => resolved.recovered += 1,
            _ => resolved.unconfirmed += 1,
        }
    }
    Ok(resolved)
}
