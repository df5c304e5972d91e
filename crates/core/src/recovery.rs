//! What became of a write whose process died between its intent and its outcome:
//! decided from what a later cycle observes. Pure, like the planner: values in, a
//! verdict out.
//!
//! The remote shows the intent's target: the write was applied (`recovered`). It
//! shows something else: `unconfirmed` — the write did not happen, or someone changed
//! the value again since; either way nothing claims a write that cannot be seen. The
//! object cannot be seen this cycle (its scope was not listed, or the cycle looked at
//! one model only): no verdict yet, the intent stays open.

use std::collections::{HashMap, HashSet};

use crate::domain::{GovernanceModel, ModelId, ModelPackage, PackageArn};
use crate::journal::{Intent, WriteSystem};

/// The journal's action of a link written into a model's link field.
pub const LINK: &str = "link";

/// The journal's action of a governance model created for an ungoverned package.
pub const CREATE: &str = "create";

/// What a cycle saw, for resolving intents.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Governance models listed.
    pub models: &'a [GovernanceModel],
    /// True when `models` is every model (not a cycle limited to one).
    pub models_complete: bool,
    /// Packages listed or described, in observed scopes.
    pub packages: &'a [ModelPackage],
    /// Linked packages confirmed gone.
    pub gone: &'a HashSet<PackageArn>,
}

/// The verdict on one open intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The remote shows the target: the write was applied.
    Recovered(String),
    /// The remote does not show the target.
    Unconfirmed(String),
    /// Not observed this cycle: decide later.
    Open,
}

impl Verdict {
    /// The journal's outcome and detail; `None` for [`Verdict::Open`].
    pub fn outcome(&self) -> Option<(&'static str, &str)> {
        match self {
            Verdict::Recovered(detail) => Some(("recovered", detail)),
            Verdict::Unconfirmed(detail) => Some(("unconfirmed", detail)),
            Verdict::Open => None,
        }
    }
}

/// Resolves every intent against one observation.
pub fn resolve(intents: &[&Intent], observed: &Observed<'_>) -> Vec<Verdict> {
    let models: HashMap<&ModelId, &GovernanceModel> =
        observed.models.iter().map(|m| (&m.id, m)).collect();
    let packages: HashMap<&str, &ModelPackage> = observed
        .packages
        .iter()
        .map(|p| (p.arn.as_str(), p))
        .collect();
    intents
        .iter()
        .map(|intent| match intent.system {
            // A create is judged by whether some model now links the package: its
            // resource ID was unknown when the intent was recorded.
            WriteSystem::Governance if intent.action == CREATE => {
                match observed.models.iter().find(|m| {
                    m.link
                        .as_ref()
                        .is_some_and(|l| l.as_str() == intent.package_arn)
                }) {
                    Some(m) => Verdict::Recovered(format!(
                        "governance showed model {} linking the package after a restart",
                        m.id
                    )),
                    None if observed.models_complete => Verdict::Unconfirmed(
                        "no governance model linked the package after a restart".to_string(),
                    ),
                    None => Verdict::Open,
                }
            }
            WriteSystem::Governance => match models.get(&ModelId::new(intent.model_id.clone())) {
                // A link is judged by the link field, a status by the status field.
                Some(model) if intent.action == LINK => shows(
                    "governance",
                    &intent.to,
                    model.link.as_ref().map(PackageArn::as_str),
                ),
                Some(model) => {
                    let status = model.status.as_ref().map(|s| s.as_str());
                    shows(
                        "governance",
                        &intent.to,
                        status.map(str::to_string).as_deref(),
                    )
                }
                None if observed.models_complete => {
                    Verdict::Unconfirmed("the governance model no longer exists".to_string())
                }
                None => Verdict::Open,
            },
            WriteSystem::SageMaker => match packages.get(intent.package_arn.as_str()) {
                Some(package) => shows(
                    "SageMaker",
                    &intent.to,
                    package
                        .lifecycle
                        .as_ref()
                        .map(ToString::to_string)
                        .as_deref(),
                ),
                None if observed
                    .gone
                    .iter()
                    .any(|g| g.as_str() == intent.package_arn) =>
                {
                    Verdict::Unconfirmed("the package no longer exists".to_string())
                }
                None => Verdict::Open,
            },
        })
        .collect()
}

fn shows(system: &str, target: &str, now: Option<&str>) -> Verdict {
    match now {
        Some(value) if value == target => {
            Verdict::Recovered(format!("{system} showed \"{target}\" after a restart"))
        }
        Some(value) => Verdict::Unconfirmed(format!(
            "{system} showed \"{value}\", not \"{target}\", after a restart"
        )),
        None => Verdict::Unconfirmed(format!(
            "{system} showed no value, not \"{target}\", after a restart"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{GovernanceStatus, Lifecycle, PackageStatus};

    const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1";

    fn intent(system: WriteSystem, to: &str) -> Intent {
        Intent {
            cycle: "c".into(),
            model_id: "7".into(),
            model_name: "m".into(),
            package_arn: ARN.into(),
            system,
            action: "push".into(),
            from: None,
            to: to.into(),
            reason: "r".into(),
        }
    }

    fn model(status: &str) -> GovernanceModel {
        GovernanceModel {
            id: ModelId::new("7"),
            name: "m".into(),
            status: Some(GovernanceStatus::new(status)),
            link: PackageArn::parse(ARN).ok(),
        }
    }

    fn package(stage: &str, status: &str) -> ModelPackage {
        ModelPackage {
            arn: PackageArn::parse(ARN).expect("arn"),
            status: PackageStatus::Completed,
            lifecycle: Some(Lifecycle::new(stage, status)),
            model_card_status: None,
            metadata: None,
            description: None,
            last_modified: None,
        }
    }

    fn verdict(intent: &Intent, observed: Observed<'_>) -> Verdict {
        resolve(&[intent], &observed).remove(0)
    }

    #[test]
    fn a_target_the_remote_shows_is_recovered_and_another_value_unconfirmed() {
        let gone = HashSet::new();
        let models = [model("Deployed")];
        let packages = [package("Proposal", "Approved")];
        let observed = Observed {
            models: &models,
            models_complete: true,
            packages: &packages,
            gone: &gone,
        };
        assert!(matches!(
            verdict(&intent(WriteSystem::Governance, "Deployed"), observed),
            Verdict::Recovered(_)
        ));
        assert!(matches!(
            verdict(
                &intent(WriteSystem::SageMaker, "Proposal/Approved"),
                observed
            ),
            Verdict::Recovered(_)
        ));
        let not = verdict(&intent(WriteSystem::Governance, "Decommissioned"), observed);
        assert_eq!(
            not,
            Verdict::Unconfirmed(
                "governance showed \"Deployed\", not \"Decommissioned\", after a restart".into()
            )
        );
        assert!(matches!(
            verdict(
                &intent(WriteSystem::SageMaker, "Development/Complete"),
                observed
            ),
            Verdict::Unconfirmed(_)
        ));
    }

    #[test]
    fn a_link_is_judged_by_the_link_field() {
        let gone = HashSet::new();
        let mut unlinked = model("Proposed");
        unlinked.link = None;
        let observed = |models| Observed {
            models,
            models_complete: true,
            packages: &[],
            gone: &gone,
        };
        let mut link = intent(WriteSystem::Governance, ARN);
        link.action = LINK.into();
        let linked = [model("Proposed")];
        assert!(matches!(
            verdict(&link, observed(&linked)),
            Verdict::Recovered(_)
        ));
        let unlinked = [unlinked];
        assert_eq!(
            verdict(&link, observed(&unlinked)),
            Verdict::Unconfirmed(format!(
                "governance showed no value, not \"{ARN}\", after a restart"
            ))
        );
    }

    #[test]
    fn a_create_is_recovered_when_some_model_links_the_package() {
        let gone = HashSet::new();
        let mut create = intent(WriteSystem::Governance, "churn v1");
        create.action = CREATE.into();
        create.model_id = String::new();
        let linking = [model("Proposed")];
        let observed = |models, models_complete| Observed {
            models,
            models_complete,
            packages: &[],
            gone: &gone,
        };
        assert!(matches!(
            verdict(&create, observed(&linking, true)),
            Verdict::Recovered(_)
        ));
        assert!(matches!(
            verdict(&create, observed(&[], true)),
            Verdict::Unconfirmed(_)
        ));
        assert_eq!(verdict(&create, observed(&[], false)), Verdict::Open);
    }

    #[test]
    fn a_gone_object_is_unconfirmed_and_an_unobserved_one_stays_open() {
        let arn = PackageArn::parse(ARN).expect("arn");
        let gone: HashSet<PackageArn> = [arn].into();
        let nothing = HashSet::new();
        let observed = |models_complete, gone| Observed {
            models: &[],
            models_complete,
            packages: &[],
            gone,
        };
        assert_eq!(
            verdict(
                &intent(WriteSystem::Governance, "Deployed"),
                observed(true, &nothing)
            ),
            Verdict::Unconfirmed("the governance model no longer exists".into())
        );
        assert_eq!(
            verdict(
                &intent(WriteSystem::Governance, "Deployed"),
                observed(false, &nothing)
            ),
            Verdict::Open,
            "a cycle limited to one model says nothing of the others"
        );
        assert_eq!(
            verdict(
                &intent(WriteSystem::SageMaker, "Proposal/Approved"),
                observed(true, &gone)
            ),
            Verdict::Unconfirmed("the package no longer exists".into())
        );
        assert_eq!(
            verdict(
                &intent(WriteSystem::SageMaker, "Proposal/Approved"),
                observed(true, &nothing)
            ),
            Verdict::Open,
            "a package whose scope was not listed decides nothing"
        );
    }
}
