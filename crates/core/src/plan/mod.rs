//! The planner: a pure function from what both systems hold now (plus the baseline,
//! the mapping table and the policy) to one decision per linked model.
//!
//! No IO, no clock, no randomness: every sync rule (README, "How each linked model
//! is decided") lives here and is tested
//! without a server. The engine performs the writes the decisions ask for.
//!
//! - here: the inputs (policy, baseline), the [`Decision`] and [`Plan`], and [`plan`]
//!   itself: out of scope and unobserved scopes first, then per model the rules.
//! - `action`: [`Action`] and [`ActionKind`]; `rules`: decommissioning and the
//!   mapping table row by row; `valve`: the safety valve; `links`: links a
//!   package's metadata asks for, and their conflicts; `creates`: models created
//!   for ungoverned packages, and their valve.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::domain::{
    GovernanceModel, GovernanceStatus, Lifecycle, ModelId, ModelPackage, PackageArn,
};
use crate::mapping::MappingTable;
use crate::scope::{ScopeId, Scopes};

mod action;
mod creates;
mod links;
mod rules;
mod valve;

pub use action::{Action, ActionKind, DecommissionCause, DriftKind};
pub use valve::SafetyValveTrip;

use rules::Planner;
use valve::apply_safety_valve;

/// What to do when both sides may be written and both changed since the baseline
/// (or there is no baseline yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// Write governance's status to SageMaker (the default).
    #[default]
    GovernanceWins,
    /// Write SageMaker's lifecycle to governance.
    SagemakerWins,
    /// Write nothing; report the conflict until a person resolves it.
    Skip,
}

impl ConflictPolicy {
    /// The config-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictPolicy::GovernanceWins => "governance-wins",
            ConflictPolicy::SagemakerWins => "sagemaker-wins",
            ConflictPolicy::Skip => "skip",
        }
    }
}

/// The settings the planner follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Conflict resolution when both sides changed.
    pub conflict: ConflictPolicy,
    /// The governance status a deleted or archived package's model is set to.
    pub decommission_status: GovernanceStatus,
    /// The SageMaker stage that means "archived".
    pub archive_stage: String,
    /// More decommissions than this in one plan withholds all of them (a wrong
    /// account or region makes every package look deleted).
    pub max_decommissions_per_cycle: usize,
    /// More decommissions than this in one scope withholds that scope's (a wrong role
    /// in one account makes that account's packages look deleted).
    pub max_decommissions_per_scope: usize,
    /// Model package groups whose packages are never listed as ungoverned (they are
    /// still synced when a model links them).
    pub ungoverned_ignore_groups: std::collections::BTreeSet<String>,
    /// The `CustomerMetadataProperties` key in which a package names the governance
    /// model (its resource ID) it belongs to.
    pub link_metadata_key: String,
    /// Create a governance model for each ungoverned package (off: `None`).
    pub create: Option<CreatePolicy>,
}

/// How governance models are created for ungoverned packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePolicy {
    /// The new model's name: `{group}`, `{version}`, `{arn}` and `{description}`
    /// (empty when it has none) are the package's.
    pub name: String,
    /// Its status when the package's lifecycle pulls none.
    pub status: GovernanceStatus,
    /// More creates than this in one plan withholds them all (a scope of packages
    /// nobody meant to govern makes a flood of models).
    pub max_per_cycle: usize,
}

impl CreatePolicy {
    /// The name of the model for `package`.
    pub fn name_for(&self, package: &PackageArn, description: Option<&str>) -> String {
        self.name
            .replace("{group}", package.group())
            .replace("{version}", &package.version().to_string())
            .replace("{arn}", package.as_str())
            .replace("{description}", description.unwrap_or_default())
            .trim()
            .to_string()
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            conflict: ConflictPolicy::GovernanceWins,
            decommission_status: GovernanceStatus::new("Decommissioned"),
            archive_stage: "Archived".to_string(),
            max_decommissions_per_cycle: 10,
            max_decommissions_per_scope: 10,
            ungoverned_ignore_groups: std::collections::BTreeSet::new(),
            link_metadata_key: "governance-model-id".to_string(),
            create: None,
        }
    }
}

/// The last pair seen in sync for one model: lets the planner tell which side changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaselineEntry {
    /// The package the model was linked to then; a baseline for another package is ignored.
    pub arn: PackageArn,
    /// Governance status at that time.
    pub governance_status: GovernanceStatus,
    /// SageMaker lifecycle at that time.
    pub lifecycle: Lifecycle,
}

/// Baselines by model.
pub type Baseline = HashMap<ModelId, BaselineEntry>;

/// Everything the planner looks at.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// Every governance model observed (linked or not).
    pub models: &'a [GovernanceModel],
    /// True when `models` and `packages` are the whole fleet (a full cycle of every
    /// model). Only then are packages no model links planned for — linked from
    /// their metadata, listed as ungoverned, models created for them: a cycle that
    /// sees part of the fleet would take every package outside that part for one.
    pub whole_fleet: bool,
    /// Every SageMaker package observed (listed, or described to confirm it exists).
    pub packages: &'a [ModelPackage],
    /// Linked packages confirmed not to exist any more.
    pub gone: &'a HashSet<PackageArn>,
    /// The configured scopes: every linked ARN is routed to one, or is out of scope.
    pub scopes: &'a Scopes,
    /// Per scope (in the order of `scopes`), whether it was listed in full this
    /// cycle. Nothing is written, and nothing concluded deleted, for a model whose
    /// scope was not.
    pub observed: &'a [bool],
    /// Last pairs seen in sync.
    pub baseline: &'a Baseline,
    /// The mapping table.
    pub mapping: &'a MappingTable,
    /// The policy.
    pub policy: &'a Policy,
}

/// The planner's answer for one linked model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The governance model.
    pub model_id: ModelId,
    /// Its display name.
    pub model_name: String,
    /// The linked package.
    pub arn: PackageArn,
    /// The scope the package belongs to; `None`: out of scope.
    pub scope: Option<ScopeId>,
    /// Governance status observed.
    pub governance_status: Option<GovernanceStatus>,
    /// SageMaker lifecycle observed (`None`: none set, or the package is gone).
    pub lifecycle: Option<Lifecycle>,
    /// What to do.
    pub action: Action,
    /// Why, in words a person can check against the table.
    pub reason: String,
}

impl Decision {
    /// The pair as observed, for people and the journal: `status | stage/status`.
    pub fn observed_pair(&self) -> String {
        format!(
            "{} | {}",
            crate::render::or_none(self.governance_status.as_ref()),
            crate::render::or_none(self.lifecycle.as_ref())
        )
    }
}

impl Decision {
    /// The baseline to record once this decision's writes have succeeded (or right
    /// away, for `InSync`); `None` when the result is not a pair in sync.
    pub fn baseline_after(&self) -> Option<BaselineEntry> {
        let entry = |status: &GovernanceStatus, lifecycle: &Lifecycle| {
            Some(BaselineEntry {
                arn: self.arn.clone(),
                governance_status: status.clone(),
                lifecycle: lifecycle.clone(),
            })
        };
        match &self.action {
            Action::InSync => entry(self.governance_status.as_ref()?, self.lifecycle.as_ref()?),
            Action::Push { to, .. } => entry(self.governance_status.as_ref()?, to),
            Action::Pull { to, .. } => entry(to, self.lifecycle.as_ref()?),
            Action::Decommission {
                to,
                then_push: Some(lifecycle),
                ..
            } => entry(to, lifecycle),
            _ => None,
        }
    }
}

/// A registered package no governance model links: listed by name, so that no
/// package stays outside governance unnoticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ungoverned {
    /// The package.
    pub arn: PackageArn,
    /// Its scope.
    pub scope: ScopeId,
    /// Its model package group.
    pub group: String,
    /// Its lifecycle, if one is set.
    pub lifecycle: Option<Lifecycle>,
    /// Its description, when it was read.
    #[serde(skip)]
    pub description: Option<String>,
}

/// A link a package's metadata asks for that cannot be made: the model it names
/// does not exist, already links another package, or is named by several packages,
/// or the package is linked by another model. Both sides are named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkConflict {
    /// The governance model the metadata names.
    pub model_id: ModelId,
    /// The packages naming it.
    pub packages: Vec<PackageArn>,
    /// The package the model's link field holds, if any.
    pub linked: Option<PackageArn>,
    /// What is wrong, and what to do.
    pub reason: String,
}

/// The whole plan for one cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// One decision per linked model, in the order governance listed the models.
    pub decisions: Vec<Decision>,
    /// Governance models with no link: counted, never touched.
    pub unlinked_models: usize,
    /// Observed packages that no governance model links: counted, never touched.
    pub unlinked_packages: usize,
    /// Of those, the ones that name no governance model in their metadata, outside
    /// `ungoverned_ignore_groups`, by ARN: every registered package is governed,
    /// being linked, in a link conflict, or listed here.
    pub ungoverned: Vec<Ungoverned>,
    /// Packages naming a governance model that cannot be linked to it: reported,
    /// nothing written.
    pub link_conflicts: Vec<LinkConflict>,
    /// The creates the create valve withheld: (planned, limit).
    pub creates_withheld: Option<(usize, usize)>,
    /// Each time the safety valve withheld decommissions: per scope, then in total.
    pub safety_valve: Vec<SafetyValveTrip>,
}

impl Plan {
    /// The decisions that write to a remote system.
    pub fn writes(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.action.writes())
    }
}

/// Plans one cycle. Pure: the same input always gives the same plan.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let packages: HashMap<&PackageArn, &ModelPackage> =
        input.packages.iter().map(|p| (&p.arn, p)).collect();
    let mut links: HashMap<&PackageArn, usize> = HashMap::new();
    for arn in input.models.iter().filter_map(|m| m.link.as_ref()) {
        *links.entry(arn).or_default() += 1;
    }
    let linking = if input.whole_fleet {
        links::plan_links(input, &links)
    } else {
        links::Linking::none()
    };
    let decommission_statuses = decommission_statuses(input.mapping, input.policy);
    let planner = Planner {
        input,
        decommission_statuses,
    };

    let mut decisions = Vec::with_capacity(links.len());
    let mut unlinked_models = 0;
    for model in input.models {
        let Some(arn) = &model.link else {
            unlinked_models += 1;
            if let Some(package) = linking.link.get(&model.id) {
                decisions.push(links::link_decision(model, package, input.scopes));
            }
            continue;
        };
        let package = packages.get(arn).copied();
        let scope = input.scopes.route(arn);
        let (action, reason) = match scope {
            // Out of scope and unobserved scopes come first: whatever else is known
            // about the package, nothing is concluded where nothing was observed.
            None => (
                Action::OutOfScope,
                format!(
                    "the package's account {} and region {} are in no configured scope \
                     (sagemaker.scopes); nothing is read or written for it",
                    arn.account(),
                    arn.region()
                ),
            ),
            Some(i) if !input.observed.get(i).copied().unwrap_or(false) => (
                Action::ScopeNotObserved,
                format!(
                    "scope {} could not be listed this cycle; nothing is written for it \
                     until it can",
                    input.scopes.all()[i].id()
                ),
            ),
            Some(_) if links[arn] > 1 => (
                Action::Drift {
                    drift: DriftKind::PackageLinkedTwice,
                },
                format!(
                    "{} governance models link this package; link it from one model only",
                    links[arn]
                ),
            ),
            Some(_) => planner.decide(model, arn, package),
        };
        decisions.push(Decision {
            model_id: model.id.clone(),
            model_name: model.name.clone(),
            arn: arn.clone(),
            scope: scope.map(|i| input.scopes.all()[i].id()),
            governance_status: model.status.clone(),
            lifecycle: package.and_then(|p| p.lifecycle.clone()),
            action,
            reason,
        });
    }

    let safety_valve = apply_safety_valve(&mut decisions, input.policy);
    let unlinked: Vec<&ModelPackage> = input
        .packages
        .iter()
        .filter(|p| !links.contains_key(&p.arn))
        .collect();
    let ungoverned: Vec<Ungoverned> = unlinked
        .iter()
        .filter(|_| input.whole_fleet)
        .filter(|p| links::named_model(p, input.policy).is_none())
        .filter(|p| {
            !input
                .policy
                .ungoverned_ignore_groups
                .contains(p.arn.group())
        })
        .filter_map(|p| {
            let scope = input.scopes.route(&p.arn)?;
            Some(Ungoverned {
                arn: p.arn.clone(),
                scope: input.scopes.all()[scope].id(),
                group: p.arn.group().to_string(),
                lifecycle: p.lifecycle.clone(),
                description: p.description.clone(),
            })
        })
        .collect();
    let creates_withheld = input
        .policy
        .create
        .as_ref()
        .and_then(|create| creates::plan_creates(create, &ungoverned, input, &mut decisions));
    Plan {
        decisions,
        unlinked_models,
        unlinked_packages: unlinked.len(),
        ungoverned,
        link_conflicts: linking.conflicts,
        creates_withheld,
        safety_valve,
    }
}

/// Governance statuses that already mean "being or been decommissioned": the
/// decommission status and every status whose row's stage is the archive stage
/// (`Decommissioning` and `Decommissioned` in the default table).
pub fn decommission_statuses<'a>(
    mapping: &'a MappingTable,
    policy: &'a Policy,
) -> HashSet<&'a str> {
    mapping
        .rows()
        .iter()
        .filter(|row| row.lifecycle.stage == policy.archive_stage)
        .map(|row| row.governance_status.as_str())
        .chain([policy.decommission_status.as_str()])
        .collect()
}
