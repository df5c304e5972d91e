//! A link a person asks for (`govsync link --model ID --package ARN`): the package
//! must exist in a configured scope and the model in governance; the link is
//! written through the write-ahead journal like any write, replacing what the link
//! field held (the way to move governance to a new version of a model).

use tokio_util::sync::CancellationToken;

use super::{
    CycleError, CycleKind, CycleReport, Engine, ModelResult, Outcome, Progress, ScopeReport,
    apply::WriteJournal, new_cycle_id,
};
use crate::domain::{ModelId, PackageArn};
use crate::governance::Governance;
use crate::plan::{Action, Decision};
use crate::remote::{ErrorKind, RemoteError};
use crate::sagemaker::{Described, Registry};
use crate::scope::Scopes;
use crate::store::Store;

impl<G: Governance, R: Registry> Engine<G, R> {
    /// Links `model` to `arn` (or, with `dry_run`, says what it would do). Fails,
    /// writing nothing, when the model or the package cannot be found.
    pub async fn link(
        &self,
        store: Option<&mut Store>,
        model: &ModelId,
        arn: &PackageArn,
        dry_run: bool,
    ) -> Result<CycleReport, CycleError> {
        let scopes = Scopes::new(self.registries.iter().map(|r| r.scope.clone()).collect());
        let not_found = |message: String| {
            CycleError::Governance(RemoteError {
                kind: ErrorKind::Rejected,
                message,
            })
        };
        let Some(found) = self
            .governance
            .get_model(model)
            .await
            .map_err(CycleError::Governance)?
        else {
            return Err(not_found(format!(
                "governance has no model {model} (--model takes its resource ID)"
            )));
        };
        let Some(scope) = scopes.route(arn) else {
            return Err(CycleError::SageMaker(RemoteError {
                kind: ErrorKind::Rejected,
                message: format!(
                    "{arn} is in no configured scope (sagemaker.scopes): govsync would never sync it"
                ),
            }));
        };
        let package = match self.registries[scope]
            .registry
            .describe_package(arn)
            .await
            .map_err(CycleError::SageMaker)?
        {
            Described::Found(p) => p,
            Described::NotFound => {
                return Err(CycleError::SageMaker(RemoteError {
                    kind: ErrorKind::Rejected,
                    message: format!("SageMaker has no model package {arn}"),
                }));
            }
        };
        let (action, reason) = match &found.link {
            Some(linked) if linked == arn => (
                Action::InSync,
                "the model already links this package".to_string(),
            ),
            Some(linked) => (
                Action::Link {
                    replaces: Some(linked.clone()),
                },
                format!("asked for with govsync link: the model linked {linked} until now"),
            ),
            None => (
                Action::Link { replaces: None },
                "asked for with govsync link".to_string(),
            ),
        };
        let decision = Decision {
            model_id: found.id.clone(),
            model_name: found.name.clone(),
            arn: arn.clone(),
            scope: Some(scopes.all()[scope].id()),
            governance_status: found.status.clone(),
            lifecycle: package.lifecycle.clone(),
            action,
            reason,
        };
        let cycle = new_cycle_id();
        let outcome = if !decision.action.writes() {
            Outcome::Nothing
        } else if dry_run {
            Outcome::Planned
        } else {
            let journal = WriteJournal {
                store: store.map(tokio::sync::Mutex::new),
                cycle: cycle.clone(),
            };
            let mut outcomes = self
                .apply(
                    std::slice::from_ref(&decision),
                    &scopes,
                    &journal,
                    &CancellationToken::new(),
                    &|_: Progress| {},
                    false,
                )
                .await;
            outcomes.remove(0).0
        };
        Ok(CycleReport {
            scopes: vec![ScopeReport {
                scope: scopes.all()[scope].id(),
                observed: true,
                packages: 1,
                error: None,
            }],
            dry_run,
            ..CycleReport::of_results(
                CycleKind::Full,
                vec![ModelResult {
                    decision,
                    outcome,
                    sagemaker_sent: None,
                }],
                cycle,
            )
        })
    }
}
