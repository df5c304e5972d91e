//! The planner against the documented table: every row in every situation, and the
//! decommission, conflict, drift and safety-valve rules.
//!
//! Long because it walks the whole table: one test per rule and per row situation,
//! each standing alone.

mod support;

use govsync_core::domain::{GovernanceStatus, Lifecycle, ModelCardStatus, ModelId, PackageStatus};
use govsync_core::mapping::{Direction, MappingRow, MappingTable};
use govsync_core::plan::{
    Action, ConflictPolicy, Decision, DecommissionCause, DriftKind, SafetyValveTrip,
};
use support::*;

/// The row other rows are compared against: governance → SageMaker only.
fn push_only_row(table: &MappingTable, not: &MappingRow) -> MappingRow {
    let name = if not.governance_status.as_str() == "Proposed" {
        "Model Definition"
    } else {
        "Proposed"
    };
    table.by_governance_status(name).cloned().expect("row")
}

/// A bidirectional row other than `not`.
fn bidirectional_row(table: &MappingTable, not: &MappingRow) -> MappingRow {
    let name = if not.governance_status.as_str() == "Under Development" {
        "Development Complete"
    } else {
        "Under Development"
    };
    let row = table.by_governance_status(name).cloned().expect("row");
    assert_eq!(row.direction, Direction::Bidirectional);
    row
}

/// Plans one linked model and returns its decision.
fn decide(
    status: Option<&str>,
    lifecycle: Option<&Lifecycle>,
    baseline: Option<(&str, &Lifecycle)>,
    conflict: ConflictPolicy,
) -> Decision {
    let mut world = World::new();
    world.policy.conflict = conflict;
    world.models.push(model("m1", status, Some(arn(1))));
    world.packages.push(package(arn(1), lifecycle));
    if let Some((s, l)) = baseline {
        world
            .baseline
            .insert(ModelId::new("m1"), baseline_entry(arn(1), s, l));
    }
    let plan = world.plan();
    assert_eq!(plan.decisions.len(), 1);
    plan.decisions.into_iter().next().expect("one decision")
}

fn push(to: &Lifecycle, conflict: bool) -> Action {
    Action::Push {
        to: to.clone(),
        conflict,
    }
}

fn pull(to: &GovernanceStatus, conflict: bool) -> Action {
    Action::Pull {
        to: to.clone(),
        conflict,
    }
}

fn decommission(cause: DecommissionCause, then_push: Option<Lifecycle>) -> Action {
    Action::Decommission {
        to: GovernanceStatus::new("Decommissioned"),
        cause,
        then_push,
    }
}

fn is_archive(row: &MappingRow) -> bool {
    row.lifecycle.stage == "Archived"
}

fn decommissioned_lifecycle() -> Lifecycle {
    Lifecycle::new("Archived", "Complete")
}

/// What a SageMaker-side archive stage turns into when governance is not decommissioning.
fn archived_by_stage(current: &Lifecycle) -> Action {
    let then_push = (current != &decommissioned_lifecycle()).then(decommissioned_lifecycle);
    decommission(DecommissionCause::ArchivedStage, then_push)
}

#[test]
fn every_row_in_every_situation() {
    let table = MappingTable::built_in();
    assert_eq!(table.rows().len(), 19);
    for r in table.rows() {
        let status = r.governance_status.as_str();
        let b = push_only_row(&table, r);
        let c = bidirectional_row(&table, r);
        let context = format!("row \"{status}\"");
        let check = |scenario: &str, decision: Decision, expected: Action| {
            assert_eq!(
                decision.action, expected,
                "{context}, {scenario}: {}",
                decision.reason
            );
            assert!(!decision.reason.is_empty());
        };
        for policy in [
            ConflictPolicy::GovernanceWins,
            ConflictPolicy::SagemakerWins,
            ConflictPolicy::Skip,
        ] {
            let decide =
                |s: Option<&str>, l: Option<&Lifecycle>, base: Option<(&str, &Lifecycle)>| {
                    decide(s, l, base, policy)
                };

            // In sync: same row on both sides.
            check(
                "in sync",
                decide(Some(status), Some(&r.lifecycle), None),
                Action::InSync,
            );

            // Governance changed to r; SageMaker still at the push-only row b.
            let d = decide(
                Some(status),
                Some(&b.lifecycle),
                Some((b.governance_status.as_str(), &b.lifecycle)),
            );
            let expected = if r.direction.allows_push() {
                push(&r.lifecycle, false)
            } else {
                Action::Drift {
                    drift: DriftKind::NoPermittedDirection,
                }
            };
            check("governance changed", d, expected);

            // SageMaker changed to r; governance still at the push-only row b.
            let d = decide(
                Some(b.governance_status.as_str()),
                Some(&r.lifecycle),
                Some((b.governance_status.as_str(), &b.lifecycle)),
            );
            let expected = if is_archive(r) {
                archived_by_stage(&r.lifecycle)
            } else if r.direction.allows_pull() {
                pull(&r.governance_status, false)
            } else {
                // A governance → SageMaker row is never pulled: governance's value goes back.
                push(&b.lifecycle, false)
            };
            check("SageMaker changed", d, expected);

            // Both changed (and, separately, no baseline): governance at r, SageMaker at c.
            for (scenario, base) in [
                (
                    "both changed",
                    Some((b.governance_status.as_str(), &b.lifecycle)),
                ),
                ("no baseline", None),
            ] {
                let d = decide(Some(status), Some(&c.lifecycle), base);
                let expected = if !r.direction.allows_push() {
                    pull(&c.governance_status, false)
                } else {
                    match policy {
                        ConflictPolicy::GovernanceWins => push(&r.lifecycle, true),
                        ConflictPolicy::SagemakerWins => pull(&c.governance_status, true),
                        ConflictPolicy::Skip => Action::Conflict,
                    }
                };
                check(&format!("{scenario}, {policy:?}"), d, expected);
            }

            // No lifecycle on the package yet.
            let expected = if r.direction.allows_push() {
                push(&r.lifecycle, false)
            } else {
                Action::Drift {
                    drift: DriftKind::NoPermittedDirection,
                }
            };
            check(
                "no lifecycle yet",
                decide(Some(status), None, None),
                expected,
            );

            // Governance status unmapped; SageMaker at r.
            let d = decide(Some("Retired"), Some(&r.lifecycle), None);
            let expected = if is_archive(r) {
                archived_by_stage(&r.lifecycle)
            } else if r.direction.allows_pull() {
                pull(&r.governance_status, false)
            } else {
                Action::Drift {
                    drift: DriftKind::NoPermittedDirection,
                }
            };
            check("governance unmapped", d, expected);

            // SageMaker lifecycle unmapped; governance at r.
            let d = decide(Some(status), Some(&Lifecycle::new("Custom", "Thing")), None);
            let expected = if r.direction.allows_push() {
                push(&r.lifecycle, false)
            } else {
                Action::Drift {
                    drift: DriftKind::NoPermittedDirection,
                }
            };
            check("SageMaker unmapped", d, expected);
        }
    }
}

#[test]
fn bidirectional_rows_flow_both_ways() {
    let table = MappingTable::built_in();
    let proposed = table.by_governance_status("Proposed").expect("row").clone();
    for name in ["Under Development", "Development Complete"] {
        let row = table.by_governance_status(name).expect("row");
        let base = Some(("Proposed", &proposed.lifecycle));
        let d = decide(
            Some(name),
            Some(&proposed.lifecycle),
            base,
            ConflictPolicy::Skip,
        );
        assert_eq!(d.action, push(&row.lifecycle, false), "{name} pushed");
        let d = decide(
            Some("Proposed"),
            Some(&row.lifecycle),
            base,
            ConflictPolicy::Skip,
        );
        assert_eq!(
            d.action,
            pull(&row.governance_status, false),
            "{name} pulled"
        );
    }
}

#[test]
fn deployed_is_only_ever_pulled() {
    let deployed = Lifecycle::new("Deployment", "Complete");
    let approved = Lifecycle::new("Deployment", "Approved");
    // The usual flow: governance approved, SageMaker followed, then deployment finished there.
    let base = Some(("Approved for Deployment", &approved));
    let d = decide(
        Some("Approved for Deployment"),
        Some(&deployed),
        base,
        ConflictPolicy::GovernanceWins,
    );
    assert_eq!(d.action, pull(&GovernanceStatus::new("Deployed"), false));
    assert!(
        d.reason
            .contains("SageMaker lifecycle Deployment/Complete maps to \"Deployed\""),
        "{}",
        d.reason
    );

    // Governance says Deployed but SageMaker does not: Deployed is never pushed.
    let d = decide(
        Some("Deployed"),
        Some(&Lifecycle::new("Deployment", "Approved")),
        None,
        ConflictPolicy::GovernanceWins,
    );
    assert_eq!(
        d.action,
        Action::Drift {
            drift: DriftKind::NoPermittedDirection
        }
    );
    assert!(
        d.reason.contains("only flows SageMaker → governance"),
        "{}",
        d.reason
    );
}

#[test]
fn unmapped_on_both_sides_is_drift() {
    let d = decide(
        Some("Retired"),
        Some(&Lifecycle::new("Custom", "Thing")),
        None,
        ConflictPolicy::GovernanceWins,
    );
    assert_eq!(
        d.action,
        Action::Drift {
            drift: DriftKind::Unmapped
        }
    );
    assert!(
        d.reason.contains("\"Retired\" is not in the mapping table"),
        "{}",
        d.reason
    );
    let d = decide(None, None, None, ConflictPolicy::GovernanceWins);
    assert_eq!(
        d.action,
        Action::Drift {
            drift: DriftKind::Unmapped
        }
    );
}

#[test]
fn a_baseline_for_another_package_is_ignored() {
    let mut world = World::new();
    let dev = Lifecycle::new("Development", "InProgress");
    let done = Lifecycle::new("Development", "Complete");
    world.policy.conflict = ConflictPolicy::Skip;
    world
        .models
        .push(model("m1", Some("Under Development"), Some(arn(1))));
    world.packages.push(package(arn(1), Some(&done)));
    // The baseline says only SageMaker changed, but it was for package 2.
    world.baseline.insert(
        ModelId::new("m1"),
        baseline_entry(arn(2), "Under Development", &dev),
    );
    assert_eq!(world.plan().decisions[0].action, Action::Conflict);
    world.baseline.insert(
        ModelId::new("m1"),
        baseline_entry(arn(1), "Under Development", &dev),
    );
    assert_eq!(
        world.plan().decisions[0].action,
        pull(&GovernanceStatus::new("Development Complete"), false)
    );
}

#[test]
fn deleted_packages_decommission() {
    let deployed = Lifecycle::new("Deployment", "Complete");
    let mut world = World::new();
    world
        .models
        .push(model("gone", Some("Deployed"), Some(arn(1))));
    world.gone.insert(arn(1));
    world
        .models
        .push(model("deleting", Some("Deployed"), Some(arn(2))));
    let mut deleting = package(arn(2), Some(&deployed));
    deleting.status = PackageStatus::Deleting;
    world.packages.push(deleting);
    world
        .models
        .push(model("done", Some("Decommissioned"), Some(arn(3))));
    world.gone.insert(arn(3));
    let plan = world.plan();
    assert_eq!(
        plan.decisions[0].action,
        decommission(DecommissionCause::PackageDeleted, None)
    );
    assert!(plan.decisions[0].reason.contains("no longer exists"));
    assert_eq!(
        plan.decisions[1].action,
        decommission(DecommissionCause::PackageDeleting, None)
    );
    assert_eq!(plan.decisions[2].action, Action::AlreadyDecommissioned);
    assert_eq!(plan.writes().count(), 2);
    assert_eq!(
        plan.decisions[2].lifecycle, None,
        "a gone package has no lifecycle"
    );
}

#[test]
fn deleted_while_decommissioning_still_completes_the_decommission() {
    let mut world = World::new();
    world
        .models
        .push(model("m", Some("Decommissioning"), Some(arn(1))));
    world.gone.insert(arn(1));
    assert_eq!(
        world.plan().decisions[0].action,
        decommission(DecommissionCause::PackageDeleted, None)
    );
}

#[test]
fn archived_packages_decommission() {
    let deployed = Lifecycle::new("Deployment", "Complete");
    let archiving = Lifecycle::new("Archived", "InProgress");
    let mut world = World::new();
    world
        .models
        .push(model("stage", Some("Deployed"), Some(arn(1))));
    world.packages.push(package(arn(1), Some(&archiving)));
    world
        .models
        .push(model("card", Some("Deployed"), Some(arn(2))));
    world.packages.push(with_card(
        package(arn(2), Some(&deployed)),
        ModelCardStatus::Archived,
    ));
    world
        .models
        .push(model("card-approved", Some("Deployed"), Some(arn(3))));
    world.packages.push(with_card(
        package(arn(3), Some(&deployed)),
        ModelCardStatus::Approved,
    ));
    let plan = world.plan();
    assert_eq!(
        plan.decisions[0].action,
        decommission(
            DecommissionCause::ArchivedStage,
            Some(decommissioned_lifecycle())
        )
    );
    assert_eq!(
        plan.decisions[1].action,
        decommission(
            DecommissionCause::ArchivedModelCard,
            Some(decommissioned_lifecycle())
        )
    );
    assert_eq!(plan.decisions[2].action, Action::InSync);
}

#[test]
fn an_archived_package_never_pulls_a_model_out_of_decommissioning() {
    let deployed = Lifecycle::new("Deployment", "Complete");
    for policy in [
        ConflictPolicy::GovernanceWins,
        ConflictPolicy::SagemakerWins,
        ConflictPolicy::Skip,
    ] {
        let mut world = World::new();
        world.policy.conflict = policy;
        world
            .models
            .push(model("m", Some("Decommissioned"), Some(arn(1))));
        world.packages.push(with_card(
            package(arn(1), Some(&deployed)),
            ModelCardStatus::Archived,
        ));
        // Deployed would pull, but the card is archived: only the table's push remains.
        assert_eq!(
            world.plan().decisions[0].action,
            push(&decommissioned_lifecycle(), false),
            "{policy:?}"
        );
    }
    let mut world = World::new();
    world
        .models
        .push(model("m", Some("Decommissioning"), Some(arn(1))));
    world.packages.push(package(
        arn(1),
        Some(&Lifecycle::new("Archived", "InProgress")),
    ));
    assert_eq!(world.plan().decisions[0].action, Action::InSync);
}

#[test]
fn decommission_statuses_follow_a_custom_archive_stage() {
    let table = MappingTable::parse(
        "[[row]]\ngovernance_status = \"Live\"\nstage = \"Prod\"\nstage_status = \"Complete\"\ndirection = \"bidirectional\"\n\
         [[row]]\ngovernance_status = \"Retiring\"\nstage = \"Retired\"\nstage_status = \"InProgress\"\ndirection = \"governance-to-sagemaker\"\n",
        std::path::Path::new("custom.toml"),
    )
    .expect("valid");
    let mut world = World::new();
    world.mapping = table;
    world.policy.archive_stage = "Retired".into();
    world.policy.decommission_status = GovernanceStatus::new("Gone");
    world.models.push(model("a", Some("Live"), Some(arn(1))));
    world.packages.push(package(
        arn(1),
        Some(&Lifecycle::new("Retired", "InProgress")),
    ));
    world
        .models
        .push(model("b", Some("Retiring"), Some(arn(2))));
    world.packages.push(package(
        arn(2),
        Some(&Lifecycle::new("Retired", "InProgress")),
    ));
    let plan = world.plan();
    assert_eq!(
        plan.decisions[0].action,
        Action::Decommission {
            to: GovernanceStatus::new("Gone"),
            cause: DecommissionCause::ArchivedStage,
            then_push: None
        }
    );
    assert_eq!(plan.decisions[1].action, Action::InSync);
}

#[test]
fn safety_valve_at_below_and_above_its_limit() {
    let world_with = |deleted: usize, limit: usize| {
        let mut world = World::new();
        world.policy.max_decommissions_per_cycle = limit;
        world.policy.max_decommissions_per_scope = 1000;
        for i in 0..deleted {
            world
                .models
                .push(model(&format!("m{i}"), Some("Deployed"), Some(arn(i))));
            world.gone.insert(arn(i));
        }
        // One healthy model whose push must not be held back.
        world
            .models
            .push(model("live", Some("Proposed"), Some(arn(100))));
        world.packages.push(package(arn(100), None));
        world.plan()
    };
    for (deleted, limit) in [(2, 3), (3, 3)] {
        let plan = world_with(deleted, limit);
        assert_eq!(plan.safety_valve, vec![], "{deleted} of {limit}");
        assert_eq!(plan.writes().count(), deleted + 1);
    }
    let plan = world_with(4, 3);
    assert_eq!(
        plan.safety_valve,
        vec![SafetyValveTrip {
            count: 4,
            limit: 3,
            scope: None
        }]
    );
    let withheld = plan
        .decisions
        .iter()
        .filter(|d| matches!(d.action, Action::DecommissionWithheld { .. }))
        .count();
    assert_eq!(withheld, 4);
    assert_eq!(plan.writes().count(), 1, "only the push remains");
    let message = plan.safety_valve[0].to_string();
    assert!(
        message.contains("4 models would be decommissioned") && message.contains("limit of 3"),
        "{message}"
    );
    assert!(
        plan.decisions[0]
            .reason
            .ends_with("; withheld by the safety valve"),
        "the reason says it once, without the whole message: {}",
        plan.decisions[0].reason
    );

    let plan = world_with(1, 0);
    assert_eq!(
        plan.safety_valve,
        vec![SafetyValveTrip {
            count: 1,
            limit: 0,
            scope: None
        }],
        "0 disables decommissioning"
    );
}

#[test]
fn unlinked_models_and_packages_are_counted_not_touched() {
    let mut world = World::new();
    world.models.push(model("free", Some("Proposed"), None));
    world
        .models
        .push(model("linked", Some("Proposed"), Some(arn(1))));
    world.packages.push(package(arn(1), None));
    world.packages.push(package(
        arn(2),
        Some(&Lifecycle::new("Development", "InProgress")),
    ));
    let plan = world.plan();
    assert_eq!(plan.unlinked_models, 1);
    assert_eq!(plan.unlinked_packages, 1);
    let ids: Vec<&str> = plan.decisions.iter().map(|d| d.model_id.as_str()).collect();
    assert_eq!(ids, ["linked"]);
}

#[test]
fn every_package_no_model_links_is_listed_as_ungoverned_unless_its_group_is_ignored() {
    let mut world = World::new();
    world
        .models
        .push(model("linked", Some("Proposed"), Some(arn(0))));
    // arn(n) puts package n in group-(n % 3).
    for n in 0..6 {
        world.packages.push(package(
            arn(n),
            Some(&Lifecycle::new("Development", "InProgress")),
        ));
    }
    let plan = world.plan();
    let listed: Vec<String> = plan.ungoverned.iter().map(|u| u.arn.to_string()).collect();
    assert_eq!(
        listed,
        (1..6).map(|n| arn(n).to_string()).collect::<Vec<_>>(),
        "each unlinked package by name, in listing order"
    );
    let first = &plan.ungoverned[0];
    assert_eq!(first.group, "group-1");
    assert_eq!(first.scope.as_str(), "123456789012/us-east-1");
    assert_eq!(
        first.lifecycle,
        Some(Lifecycle::new("Development", "InProgress"))
    );
    assert_eq!(plan.unlinked_packages, 5);
    // A group left out of the list: its packages are still counted as unlinked.
    world.policy.ungoverned_ignore_groups = ["group-2".to_string()].into();
    let plan = world.plan();
    assert!(plan.ungoverned.iter().all(|u| u.group != "group-2"));
    assert_eq!(plan.ungoverned.len(), 3);
    assert_eq!(plan.unlinked_packages, 5);
}

#[test]
fn a_package_outside_the_listing_is_not_touched() {
    let mut world = World::new();
    world
        .models
        .push(model("m", Some("Proposed"), Some(arn(1))));
    let plan = world.plan();
    assert_eq!(plan.decisions[0].action, Action::PackageNotObserved);
    assert_eq!(plan.writes().count(), 0);
}

#[test]
fn a_package_linked_by_two_models_is_drift_for_both() {
    let mut world = World::new();
    world
        .models
        .push(model("a", Some("Proposed"), Some(arn(1))));
    world
        .models
        .push(model("b", Some("Model Definition"), Some(arn(1))));
    world.packages.push(package(arn(1), None));
    let plan = world.plan();
    for d in &plan.decisions {
        assert_eq!(
            d.action,
            Action::Drift {
                drift: DriftKind::PackageLinkedTwice
            }
        );
        assert!(
            d.reason.contains("2 governance models link this package"),
            "{}",
            d.reason
        );
    }
    assert_eq!(plan.decisions.len(), 2);
}

#[test]
fn baseline_after_records_the_pair_each_write_leaves() {
    let dev = Lifecycle::new("Development", "InProgress");
    let d = decide(
        Some("Under Development"),
        None,
        None,
        ConflictPolicy::GovernanceWins,
    );
    let after = d.baseline_after().expect("a push leaves a pair in sync");
    assert_eq!(
        (after.governance_status.as_str(), &after.lifecycle),
        ("Under Development", &dev)
    );

    let d = decide(
        Some("Proposed"),
        Some(&Lifecycle::new("Deployment", "Complete")),
        None,
        ConflictPolicy::GovernanceWins,
    );
    assert_eq!(
        d.action,
        push(&Lifecycle::new("Proposal", "Approved"), true),
        "no baseline: the policy decides"
    );

    let d = decide(
        Some("Retired"),
        Some(&dev),
        None,
        ConflictPolicy::GovernanceWins,
    );
    let after = d.baseline_after().expect("a pull leaves a pair in sync");
    assert_eq!(after.governance_status.as_str(), "Under Development");

    let d = decide(
        Some("Retired"),
        Some(&Lifecycle::new("X", "Y")),
        None,
        ConflictPolicy::GovernanceWins,
    );
    assert_eq!(d.baseline_after(), None, "drift records no baseline");
}

#[test]
fn reasons_name_the_values_and_the_row() {
    let d = decide(
        Some("Model Definition"),
        Some(&Lifecycle::new("Development", "InProgress")),
        None,
        ConflictPolicy::GovernanceWins,
    );
    assert_eq!(
        d.reason,
        "conflict: no baseline yet to tell which side changed, governance wins: governance status \"Model Definition\" \
         maps to Development/Review (governance → SageMaker); SageMaker has Development/InProgress"
    );
    assert_eq!(
        d.action,
        push(&Lifecycle::new("Development", "Review"), true)
    );
}
