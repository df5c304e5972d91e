//! The sync rules for one linked model in an observed scope: decommissioning, then
//! the mapping table row by row, in its documented direction.

use std::collections::HashSet;

use super::{Action, ConflictPolicy, DecommissionCause, DriftKind, PlanInput};
use crate::domain::{
    GovernanceModel, GovernanceStatus, Lifecycle, ModelCardStatus, ModelPackage, PackageArn,
    PackageStatus,
};
use crate::mapping::MappingRow;

pub(super) struct Planner<'a> {
    pub(super) input: &'a PlanInput<'a>,
    pub(super) decommission_statuses: HashSet<&'a str>,
}

impl Planner<'_> {
    pub(super) fn decide(
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
        let describe = Quoted { status, lifecycle };

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
struct Quoted<'a> {
    status: Option<&'a GovernanceStatus>,
    lifecycle: Option<&'a Lifecycle>,
}

impl Quoted<'_> {
    fn status(&self) -> String {
        self.status
            .map_or_else(|| "no status".to_string(), |s| format!("\"{s}\""))
    }

    fn lifecycle(&self) -> String {
        self.lifecycle
            .map_or_else(|| "no lifecycle".to_string(), ToString::to_string)
    }
}
