//! Links from the package side: a package whose metadata names a governance model
//! (`sync.link_metadata_key` in its `CustomerMetadataProperties`) is linked to it
//! when the model's link field is empty. A link that disagrees with another — the
//! model links another package, several packages name it, it does not exist, or
//! the package is linked by another model — is a conflict to report, never something
//! to overwrite.

use std::collections::{BTreeMap, HashMap};

use super::{Action, Decision, LinkConflict, PlanInput, Policy};
use crate::domain::{GovernanceModel, ModelId, ModelPackage, PackageArn};
use crate::scope::Scopes;

/// The governance model a package's metadata names, if it names one.
pub(super) fn named_model<'p>(package: &'p ModelPackage, policy: &Policy) -> Option<&'p str> {
    package
        .metadata
        .as_ref()?
        .get(&policy.link_metadata_key)
        .map(|id| id.trim())
        .filter(|id| !id.is_empty())
}

/// What the packages' metadata asks for: the links to write (by model), and the
/// conflicts.
pub(super) struct Linking<'a> {
    pub(super) link: HashMap<ModelId, &'a ModelPackage>,
    pub(super) conflicts: Vec<LinkConflict>,
}

impl Linking<'_> {
    /// Nothing asked for (a plan of part of the fleet plans no link).
    pub(super) fn none() -> Self {
        Linking {
            link: HashMap::new(),
            conflicts: Vec::new(),
        }
    }
}

/// Decides every link the packages' metadata asks for. `links` counts, per ARN, the
/// models whose link field holds it.
pub(super) fn plan_links<'a>(
    input: &PlanInput<'a>,
    links: &HashMap<&PackageArn, usize>,
) -> Linking<'a> {
    let models: HashMap<&str, &GovernanceModel> =
        input.models.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut naming: BTreeMap<&str, Vec<&ModelPackage>> = BTreeMap::new();
    for package in input.packages {
        if let Some(id) = named_model(package, input.policy) {
            naming.entry(id).or_default().push(package);
        }
    }
    let mut linking = Linking {
        link: HashMap::new(),
        conflicts: Vec::new(),
    };
    let key = &input.policy.link_metadata_key;
    for (id, packages) in naming {
        let arns: Vec<PackageArn> = packages.iter().map(|p| p.arn.clone()).collect();
        let listed = arns
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let conflict = |linked: Option<&PackageArn>, reason: String| LinkConflict {
            model_id: ModelId::new(id),
            packages: arns.clone(),
            linked: linked.cloned(),
            reason,
        };
        let Some(model) = models.get(id) else {
            linking.conflicts.push(conflict(
                None,
                format!(
                    "{listed} names governance model {id} ({key}), which is not a model \
                     governance listed: correct the package's {key}"
                ),
            ));
            continue;
        };
        match (&model.link, packages.as_slice()) {
            // The link is there already.
            (Some(linked), [package]) if *linked == package.arn => {}
            (Some(linked), _) => {
                let others: Vec<String> = arns
                    .iter()
                    .filter(|a| *a != linked)
                    .map(ToString::to_string)
                    .collect();
                linking.conflicts.push(conflict(
                    Some(linked),
                    format!(
                        "{} names model {id} ({}), which links {linked}: a new version? \
                         nothing is overwritten; `govsync link --model {id} --package \
                         ARN` moves governance to the package that should be governed",
                        others.join(", "),
                        model.name
                    ),
                ));
            }
            (None, [package]) if links.contains_key(&package.arn) => {
                linking.conflicts.push(conflict(
                    None,
                    format!(
                        "{} names model {id} ({}), but another model already links it: \
                         a package is governed by one model",
                        package.arn, model.name
                    ),
                ));
            }
            (None, [package]) => {
                linking.link.insert(model.id.clone(), package);
            }
            (None, _) => {
                linking.conflicts.push(conflict(
                    None,
                    format!(
                        "{} packages name model {id} ({}): {listed}; a model links one \
                         package: correct all but one package's {key}",
                        packages.len(),
                        model.name
                    ),
                ));
            }
        }
    }
    linking
}

/// The decision to write `package`'s ARN into `model`'s empty link field.
pub(super) fn link_decision(
    model: &GovernanceModel,
    package: &ModelPackage,
    scopes: &Scopes,
) -> Decision {
    Decision {
        model_id: model.id.clone(),
        model_name: model.name.clone(),
        arn: package.arn.clone(),
        scope: scopes.route(&package.arn).map(|i| scopes.all()[i].id()),
        governance_status: model.status.clone(),
        lifecycle: package.lifecycle.clone(),
        action: Action::Link { replaces: None },
        reason: "the package names this model in its metadata and the model's link field \
                 is empty: link them (the table syncs them from the next cycle)"
            .to_string(),
    }
}
