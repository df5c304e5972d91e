//! The planner: a pure function from what both systems hold now (plus the baseline,
//! the mapping table and the policy) to one decision per linked model.
//!
//! No IO, no clock, no randomness: every rule of DESIGN.md lives here and is tested
//! without a server. The engine performs the writes the decisions ask for.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{
    GovernanceModel, GovernanceStatus, Lifecycle, ModelCardStatus, ModelId, ModelPackage,
    PackageArn, PackageStatus,
};
use crate::mapping::{MappingRow, MappingTable};
use crate::scope::{ScopeId, Scopes};

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
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            conflict: ConflictPolicy::GovernanceWins,
            decommission_status: GovernanceStatus::new("Decommissioned"),
            archive_stage: "Archived".to_string(),
            max_decommissions_per_cycle: 10,
            max_decommissions_per_scope: 10,
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

/// Why a model is being decommissioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecommissionCause {
    /// The package was confirmed not to exist.
    PackageDeleted,
    /// The package's status is `Deleting`.
    PackageDeleting,
    /// The package's lifecycle stage is the archive stage.
    ArchivedStage,
    /// The package's model card status is `Archived`.
    ArchivedModelCard,
}

/// Why a linked model cannot be synced: reported, nothing written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// Neither the governance status nor the lifecycle is in the table.
    Unmapped,
    /// Both are mapped (or one is) but no row lets either value flow to the other side.
    NoPermittedDirection,
    /// Several governance models link the same package; writing would make them fight.
    PackageLinkedTwice,
}

/// What the engine should do for one linked model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Both sides are in the same row: nothing to write; record the baseline.
    InSync,
    /// Write this lifecycle to the SageMaker package.
    Push {
        /// The lifecycle to set.
        to: Lifecycle,
        /// True when both sides could be written and the conflict policy chose this.
        conflict: bool,
    },
    /// Write this status to the governance model.
    Pull {
        /// The status to set.
        to: GovernanceStatus,
        /// True when both sides could be written and the conflict policy chose this.
        conflict: bool,
    },
    /// Set the governance model to the decommission status.
    Decommission {
        /// The decommission status.
        to: GovernanceStatus,
        /// Why.
        cause: DecommissionCause,
        /// When the package still exists and the decommission status's row pushes to
        /// SageMaker, the lifecycle to write there next (so the next cycle finds both
        /// sides in sync instead of making that write then).
        then_push: Option<Lifecycle>,
    },
    /// A decommission the safety valve held back this cycle.
    DecommissionWithheld {
        /// The status it would have set.
        to: GovernanceStatus,
        /// Why it would have.
        cause: DecommissionCause,
    },
    /// The package is gone and governance already shows the decommission status.
    AlreadyDecommissioned,
    /// Both sides changed and the conflict policy is `skip`: reported, nothing written.
    Conflict,
    /// The pair cannot be synced by the table: reported, nothing written.
    Drift {
        /// What kind of drift.
        drift: DriftKind,
    },
    /// The linked package was neither listed nor confirmed gone (its scope was listed
    /// but describing it failed): nothing written.
    PackageNotObserved,
    /// The linked package's scope could not be listed this cycle: nothing written,
    /// nothing decommissioned, until it can.
    ScopeNotObserved,
    /// The linked ARN is in no configured scope: reported, never described, never
    /// written, never decommissioned.
    OutOfScope,
}

impl Action {
    /// True if the engine must write to a remote system for this action.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Action::Push { .. } | Action::Pull { .. } | Action::Decommission { .. }
        )
    }

    /// Which kind of action this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::InSync => ActionKind::InSync,
            Action::Push { .. } => ActionKind::Push,
            Action::Pull { .. } => ActionKind::Pull,
            Action::Decommission { .. } => ActionKind::Decommission,
            Action::DecommissionWithheld { .. } => ActionKind::DecommissionWithheld,
            Action::AlreadyDecommissioned => ActionKind::AlreadyDecommissioned,
            Action::Conflict => ActionKind::Conflict,
            Action::Drift { .. } => ActionKind::Drift,
            Action::PackageNotObserved => ActionKind::PackageNotObserved,
            Action::ScopeNotObserved => ActionKind::ScopeNotObserved,
            Action::OutOfScope => ActionKind::OutOfScope,
        }
    }

    /// The value this action writes (or would): a lifecycle or a governance status.
    pub fn target(&self) -> Option<String> {
        match self {
            Action::Push { to, .. } => Some(to.to_string()),
            Action::Pull { to, .. }
            | Action::Decommission { to, .. }
            | Action::DecommissionWithheld { to, .. } => Some(to.to_string()),
            _ => None,
        }
    }

    /// True for a push or pull that the conflict policy chose (both sides changed).
    pub fn resolved_conflict(&self) -> bool {
        matches!(
            self,
            Action::Push { conflict: true, .. } | Action::Pull { conflict: true, .. }
        )
    }
}

/// The kinds of [`Action`], by the short fixed names that metric labels, tables,
/// JSON and the journal use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    /// `in-sync`
    InSync,
    /// `push`
    Push,
    /// `pull`
    Pull,
    /// `decommission`
    Decommission,
    /// `decommission-withheld`
    DecommissionWithheld,
    /// `already-decommissioned`
    AlreadyDecommissioned,
    /// `conflict`
    Conflict,
    /// `drift`
    Drift,
    /// `package-not-observed`
    PackageNotObserved,
    /// `scope-not-observed`
    ScopeNotObserved,
    /// `out-of-scope`
    OutOfScope,
}

impl ActionKind {
    /// Every kind.
    pub const ALL: [ActionKind; 11] = [
        ActionKind::InSync,
        ActionKind::Push,
        ActionKind::Pull,
        ActionKind::Decommission,
        ActionKind::DecommissionWithheld,
        ActionKind::AlreadyDecommissioned,
        ActionKind::Conflict,
        ActionKind::Drift,
        ActionKind::PackageNotObserved,
        ActionKind::ScopeNotObserved,
        ActionKind::OutOfScope,
    ];

    /// The short, fixed name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::InSync => "in-sync",
            ActionKind::Push => "push",
            ActionKind::Pull => "pull",
            ActionKind::Decommission => "decommission",
            ActionKind::DecommissionWithheld => "decommission-withheld",
            ActionKind::AlreadyDecommissioned => "already-decommissioned",
            ActionKind::Conflict => "conflict",
            ActionKind::Drift => "drift",
            ActionKind::PackageNotObserved => "package-not-observed",
            ActionKind::ScopeNotObserved => "scope-not-observed",
            ActionKind::OutOfScope => "out-of-scope",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for ActionKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
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

/// The safety valve tripped: `count` decommissions were planned, more than `limit`,
/// in one scope (`scope`) or in the whole cycle (`scope` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetyValveTrip {
    /// Decommissions the plan would have made (in the scope, or in all).
    pub count: usize,
    /// The configured limit.
    pub limit: usize,
    /// The scope whose decommissions were withheld; `None`: every scope's.
    pub scope: Option<ScopeId>,
}

impl fmt::Display for SafetyValveTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Some(scope) => write!(
                f,
                "safety valve: {} models of scope {scope} would be decommissioned in one cycle, \
                 more than the limit of {} per scope; none of them were. Check that the \
                 credentials (role) of scope {scope} reach the right AWS account, region and \
                 model package groups, then raise sync.max_decommissions_per_scope if the \
                 decommissions are real",
                self.count, self.limit
            ),
            None => write!(
                f,
                "safety valve: {} models would be decommissioned in one cycle, more than the \
                 limit of {}; none were. Check that govsync looks at the right AWS accounts, \
                 regions and model package groups, then raise sync.max_decommissions_per_cycle \
                 if the decommissions are real",
                self.count, self.limit
            ),
        }
    }
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
    let unlinked_packages = input
        .packages
        .iter()
        .filter(|p| !links.contains_key(&p.arn))
        .count();
    Plan {
        decisions,
        unlinked_models,
        unlinked_packages,
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

/// Withholds the decommissions of every scope that has more than the per-scope limit,
/// then all of them if more than the per-cycle limit remain.
fn apply_safety_valve(decisions: &mut [Decision], policy: &Policy) -> Vec<SafetyValveTrip> {
    let is_decommission = |d: &Decision| matches!(d.action, Action::Decommission { .. });
    let mut per_scope: BTreeMap<ScopeId, usize> = BTreeMap::new();
    for d in decisions.iter().filter(|d| is_decommission(d)) {
        if let Some(scope) = &d.scope {
            *per_scope.entry(scope.clone()).or_default() += 1;
        }
    }
    let mut trips = Vec::new();
    for (scope, count) in per_scope {
        if count > policy.max_decommissions_per_scope {
            withhold(decisions, |d| d.scope.as_ref() == Some(&scope));
            trips.push(SafetyValveTrip {
                count,
                limit: policy.max_decommissions_per_scope,
                scope: Some(scope),
            });
        }
    }
    let count = decisions.iter().filter(|d| is_decommission(d)).count();
    if count > policy.max_decommissions_per_cycle {
        withhold(decisions, |_| true);
        trips.push(SafetyValveTrip {
            count,
            limit: policy.max_decommissions_per_cycle,
            scope: None,
        });
    }
    trips
}

/// Turns the decommissions of the decisions `which` picks into withheld ones. The
/// reason says so once; the plan's `safety_valve` carries the whole story.
fn withhold(decisions: &mut [Decision], which: impl Fn(&Decision) -> bool) {
    for decision in decisions.iter_mut().filter(|d| which(d)) {
        if let Action::Decommission { to, cause, .. } = &decision.action {
            decision.action = Action::DecommissionWithheld {
                to: to.clone(),
                cause: *cause,
            };
            decision.reason = format!("{}; withheld by the safety valve", decision.reason);
        }
    }
}

struct Planner<'a> {
    input: &'a PlanInput<'a>,
    decommission_statuses: HashSet<&'a str>,
}

impl Planner<'_> {
    fn decide(
        &self,
        model: &GovernanceModel,
        arn: &PackageArn,
        package: Option<&ModelPackage>,
    ) -> (Action, String) {
        let policy = self.input.policy;
        let status = model.status.as_ref();
        let in_decommission =
            status.is_some_and(|s| self.decommission_statuses.contains(s.as_str()));

        // Rule 1: deleted.
        let deleted = if self.input.gone.contains(arn) {
            Some(DecommissionCause::PackageDeleted)
        } else if package.is_some_and(|p| p.status == PackageStatus::Deleting) {
            Some(DecommissionCause::PackageDeleting)
        } else {
            None
        };
        if let Some(cause) = deleted {
            let what = match cause {
                DecommissionCause::PackageDeleting => "the package is being deleted",
                _ => "the package no longer exists",
            };
            if status == Some(&policy.decommission_status) {
                return (
                    Action::AlreadyDecommissioned,
                    format!(
                        "{what}; governance already shows \"{}\"",
                        policy.decommission_status
                    ),
                );
            }
            return (
                Action::Decommission {
                    to: policy.decommission_status.clone(),
                    cause,
                    then_push: None,
                },
                format!("{what}: decommission the governance model"),
            );
        }

        let Some(package) = package else {
            return (
                Action::PackageNotObserved,
                "the package was not in its scope's listing and could not be described to \
                 confirm that it is gone; nothing is written until it can"
                    .to_string(),
            );
        };
        let lifecycle = package.lifecycle.as_ref();

        // Rule 2: archived in SageMaker.
        let archived = if lifecycle.is_some_and(|l| l.stage == policy.archive_stage) {
            Some(DecommissionCause::ArchivedStage)
        } else if package.model_card_status == Some(ModelCardStatus::Archived) {
            Some(DecommissionCause::ArchivedModelCard)
        } else {
            None
        };
        if let Some(cause) = archived
            && !in_decommission
        {
            let then_push = self
                .input
                .mapping
                .by_governance_status(policy.decommission_status.as_str())
                .filter(|row| row.direction.allows_push() && Some(&row.lifecycle) != lifecycle)
                .map(|row| row.lifecycle.clone());
            let what = match cause {
                DecommissionCause::ArchivedStage => {
                    format!(
                        "the package is in the archive stage \"{}\"",
                        policy.archive_stage
                    )
                }
                _ => "the package's model card is Archived".to_string(),
            };
            return (
                Action::Decommission {
                    to: policy.decommission_status.clone(),
                    cause,
                    then_push,
                },
                format!("{what}: decommission the governance model"),
            );
        }

        // Rule 3: the table. An archived package never pulls a model out of
        // decommissioning, or the next cycle would decommission it again.
        self.by_table(model, arn, lifecycle, archived.is_some())
    }

    fn by_table(
        &self,
        model: &GovernanceModel,
        arn: &PackageArn,
        lifecycle: Option<&Lifecycle>,
        archived: bool,
    ) -> (Action, String) {
        let mapping = self.input.mapping;
        let status = model.status.as_ref();
        let g = status.and_then(|s| mapping.by_governance_status(s.as_str()));
        let s = lifecycle.and_then(|l| mapping.by_lifecycle(l));
        let describe = Describe { status, lifecycle };

        if let (Some(g), Some(s)) = (g, s)
            && g.governance_status == s.governance_status
        {
            return (
                Action::InSync,
                format!("both sides are in row \"{}\"", g.governance_status),
            );
        }
        let may_push = g.filter(|row| row.direction.allows_push());
        let may_pull = s.filter(|row| row.direction.allows_pull() && !archived);
        let push = |row: &MappingRow, conflict: bool, why: String| {
            (
                Action::Push {
                    to: row.lifecycle.clone(),
                    conflict,
                },
                format!(
                    "{why}governance status \"{}\" maps to {} ({}); SageMaker has {}",
                    row.governance_status,
                    row.lifecycle,
                    row.direction.arrow(),
                    describe.lifecycle()
                ),
            )
        };
        let pull = |row: &MappingRow, conflict: bool, why: String| {
            (
                Action::Pull {
                    to: row.governance_status.clone(),
                    conflict,
                },
                format!(
                    "{why}SageMaker lifecycle {} maps to \"{}\" ({}); governance has {}",
                    row.lifecycle,
                    row.governance_status,
                    row.direction.arrow(),
                    describe.status()
                ),
            )
        };

        match (may_push, may_pull) {
            (Some(g), None) => push(g, false, String::new()),
            (None, Some(s)) => pull(s, false, String::new()),
            (Some(g), Some(s)) => {
                let baseline = self.input.baseline.get(&model.id).filter(|b| &b.arn == arn);
                let changed = baseline.map(|b| {
                    (
                        status != Some(&b.governance_status),
                        lifecycle != Some(&b.lifecycle),
                    )
                });
                match changed {
                    Some((true, false)) => {
                        push(g, false, "governance changed since the last sync: ".into())
                    }
                    Some((false, true)) => {
                        pull(s, false, "SageMaker changed since the last sync: ".into())
                    }
                    _ => {
                        let why = if baseline.is_some() {
                            "conflict: both sides changed since the last sync"
                        } else {
                            "conflict: no baseline yet to tell which side changed"
                        };
                        match self.input.policy.conflict {
                            ConflictPolicy::GovernanceWins => {
                                push(g, true, format!("{why}, governance wins: "))
                            }
                            ConflictPolicy::SagemakerWins => {
                                pull(s, true, format!("{why}, SageMaker wins: "))
                            }
                            ConflictPolicy::Skip => (
                                Action::Conflict,
                                format!(
                                    "{why}; governance has {} and SageMaker has {}; policy is skip, \
                                     set one side by hand",
                                    describe.status(),
                                    describe.lifecycle()
                                ),
                            ),
                        }
                    }
                }
            }
            (None, None) => {
                let drift = if g.is_none() && s.is_none() {
                    DriftKind::Unmapped
                } else {
                    DriftKind::NoPermittedDirection
                };
                let side = |mapped: Option<&MappingRow>, what: String, flow: &str| match mapped {
                    None => format!("{what} is not in the mapping table"),
                    Some(row) => format!("{what} only flows {} ({flow})", row.direction.arrow()),
                };
                let mut reason = format!(
                    "{}; {}",
                    side(
                        g,
                        format!("governance status {}", describe.status()),
                        "cannot be pushed"
                    ),
                    side(
                        s,
                        format!("SageMaker lifecycle {}", describe.lifecycle()),
                        "cannot be pulled"
                    ),
                );
                if archived && s.is_some_and(|row| row.direction.allows_pull()) {
                    reason.push_str("; an archived package is never pulled into governance");
                }
                (Action::Drift { drift }, reason)
            }
        }
    }
}

/// Quoted or placeholder renderings of the observed values, for reasons.
struct Describe<'a> {
    status: Option<&'a GovernanceStatus>,
    lifecycle: Option<&'a Lifecycle>,
}

impl Describe<'_> {
    fn status(&self) -> String {
        self.status
            .map_or_else(|| "no status".to_string(), |s| format!("\"{s}\""))
    }

    fn lifecycle(&self) -> String {
        self.lifecycle
            .map_or_else(|| "no lifecycle".to_string(), ToString::to_string)
    }
}
