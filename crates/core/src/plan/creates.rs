//! Governance models created for ungoverned packages (`[governance.create]`, off by
//! default): one per ungoverned package, linked to it, with the status its lifecycle
//! pulls (or the configured one), all withheld when more than the valve allows.

use super::{Action, CreatePolicy, Decision, PlanInput, Ungoverned};
use crate::domain::ModelId;

/// Adds a create decision for each ungoverned package to `decisions`; when there
/// are more than `create.max_per_cycle`, each is withheld instead, and (planned,
/// limit) is returned.
pub(super) fn plan_creates(
    create: &CreatePolicy,
    ungoverned: &[Ungoverned],
    input: &PlanInput<'_>,
    decisions: &mut Vec<Decision>,
) -> Option<(usize, usize)> {
    let withhold = ungoverned.len() > create.max_per_cycle;
    for u in ungoverned {
        // The status the package's lifecycle pulls, if its row lets it flow to
        // governance; else the configured one.
        let pulled = u
            .lifecycle
            .as_ref()
            .and_then(|l| input.mapping.by_lifecycle(l))
            .filter(|row| row.direction.allows_pull())
            .map(|row| row.governance_status.clone());
        let status = pulled.unwrap_or_else(|| create.status.clone());
        let (action, reason) = if withhold {
            (
                Action::CreateWithheld { status },
                format!(
                    "no governance model links this package; {} would be created this cycle, \
                     more than sync.max_creates_per_cycle ({}): none was",
                    ungoverned.len(),
                    create.max_per_cycle
                ),
            )
        } else {
            (
                Action::Create { status },
                "no governance model links this package: create one linked to it \
                 ([governance.create])"
                    .to_string(),
            )
        };
        decisions.push(Decision {
            // The model has no resource ID until governance gives it one.
            model_id: ModelId::new(""),
            model_name: create.name_for(&u.arn, u.description.as_deref()),
            arn: u.arn.clone(),
            scope: Some(u.scope.clone()),
            governance_status: None,
            lifecycle: u.lifecycle.clone(),
            action,
            reason,
        });
    }
    withhold.then_some((ungoverned.len(), create.max_per_cycle))
}
