//! Links from the package side: a package whose metadata names a governance model
//! is linked to it only when the model's link field is empty, and every other
//! case is a conflict that writes nothing.

mod support;

use govsync_core::domain::{Lifecycle, ModelPackage, PackageArn};
use govsync_core::plan::{Action, ActionKind};
use support::*;

/// A package naming governance model `model` in its metadata.
fn naming(arn: PackageArn, model: &str) -> ModelPackage {
    let mut p = package(arn, Some(&Lifecycle::new("Development", "InProgress")));
    p.metadata = Some([("governance-model-id".to_string(), model.to_string())].into());
    p
}

fn kinds(world: &World) -> Vec<(String, ActionKind)> {
    world
        .plan()
        .decisions
        .iter()
        .map(|d| (d.model_id.to_string(), d.action.kind()))
        .collect()
}

#[test]
fn a_package_naming_a_model_with_an_empty_link_field_is_linked() {
    let mut world = World::new();
    world.models.push(model("m1", Some("Proposed"), None));
    world.packages.push(naming(arn(1), "m1"));
    let plan = world.plan();
    assert_eq!(plan.decisions.len(), 1);
    let d = &plan.decisions[0];
    assert_eq!(d.action, Action::Link { replaces: None });
    assert_eq!(d.arn, arn(1));
    assert!(d.action.writes());
    assert!(
        plan.ungoverned.is_empty(),
        "a package being linked is not ungoverned"
    );
    assert!(plan.link_conflicts.is_empty());
}

#[test]
fn a_link_already_there_needs_nothing_and_the_table_syncs_it() {
    let mut world = World::new();
    world
        .models
        .push(model("m1", Some("Under Development"), Some(arn(1))));
    world.packages.push(naming(arn(1), "m1"));
    assert_eq!(kinds(&world), [("m1".to_string(), ActionKind::InSync)]);
    assert!(world.plan().link_conflicts.is_empty());
}

#[test]
fn a_new_version_naming_a_model_that_links_the_old_one_is_a_conflict_not_a_write() {
    let mut world = World::new();
    world
        .models
        .push(model("m1", Some("Under Development"), Some(arn(1))));
    world.packages.push(package(
        arn(1),
        Some(&Lifecycle::new("Development", "InProgress")),
    ));
    world.packages.push(naming(arn(4), "m1"));
    let plan = world.plan();
    // m1 keeps its link and its sync; v2 is reported with both ARNs, not ungoverned.
    assert_eq!(plan.decisions.len(), 1);
    assert_eq!(plan.decisions[0].action, Action::InSync);
    assert_eq!(plan.link_conflicts.len(), 1);
    let c = &plan.link_conflicts[0];
    assert_eq!(c.packages, [arn(4)]);
    assert_eq!(c.linked, Some(arn(1)));
    assert!(
        c.reason.contains(arn(4).as_str()) && c.reason.contains(arn(1).as_str()),
        "{}",
        c.reason
    );
    assert!(plan.ungoverned.is_empty());
}

#[test]
fn two_packages_naming_one_model_a_missing_model_or_a_package_linked_elsewhere_write_nothing() {
    let mut world = World::new();
    world.models.push(model("m1", Some("Proposed"), None));
    world
        .models
        .push(model("m2", Some("Proposed"), Some(arn(3))));
    world.models.push(model("m3", Some("Proposed"), None));
    // Two name m1; one names a model that does not exist; the package m2 links
    // names m3.
    world.packages.push(naming(arn(1), "m1"));
    world.packages.push(naming(arn(2), "m1"));
    world.packages.push(naming(arn(5), "m9"));
    world.packages.push(naming(arn(3), "m3"));
    let plan = world.plan();
    assert!(
        plan.decisions
            .iter()
            .all(|d| !matches!(d.action, Action::Link { .. })),
        "{:?}",
        plan.decisions
    );
    let mut conflicts: Vec<(&str, usize)> = plan
        .link_conflicts
        .iter()
        .map(|c| (c.model_id.as_str(), c.packages.len()))
        .collect();
    conflicts.sort();
    assert_eq!(conflicts, [("m1", 2), ("m3", 1), ("m9", 1)]);
}

#[test]
fn never_two_links_to_one_package_or_one_model() {
    // Every combination of three models (linked or not) and three packages naming
    // any of them or none: at most one link per model and per package, only into
    // an empty link field, and none for a package in conflict.
    let names = ["m0", "m1", "m2", "none"];
    for a in names {
        for b in names {
            for c in names {
                for linked in [None, Some(0usize), Some(1)] {
                    let mut world = World::new();
                    for (i, id) in ["m0", "m1", "m2"].iter().enumerate() {
                        let link = (linked == Some(i)).then(|| arn(i + 10));
                        world.models.push(model(id, Some("Proposed"), link));
                    }
                    for (n, named) in [a, b, c].iter().enumerate() {
                        world.packages.push(if *named == "none" {
                            package(arn(n), None)
                        } else {
                            naming(arn(n), named)
                        });
                    }
                    let plan = world.plan();
                    let faults = link_faults(&world, &plan);
                    assert!(faults.is_empty(), "{a} {b} {c} {linked:?}: {faults:?}");
                }
            }
        }
    }
}

fn creating(max: usize) -> govsync_core::plan::CreatePolicy {
    govsync_core::plan::CreatePolicy {
        name: "{group} v{version}".into(),
        status: govsync_core::domain::GovernanceStatus::new("Proposed"),
        max_per_cycle: max,
    }
}

#[test]
fn with_creation_on_each_ungoverned_package_gets_one_model_with_the_status_its_lifecycle_pulls() {
    let mut world = World::new();
    world.policy.create = Some(creating(20));
    world
        .models
        .push(model("m1", Some("Proposed"), Some(arn(0))));
    world.packages.push(package(
        arn(0),
        Some(&Lifecycle::new("Proposal", "Approved")),
    ));
    // Deployment/Complete pulls "Deployed"; Development/Review pulls nothing.
    world.packages.push(package(
        arn(1),
        Some(&Lifecycle::new("Deployment", "Complete")),
    ));
    world.packages.push(package(
        arn(2),
        Some(&Lifecycle::new("Development", "Review")),
    ));
    // One naming a model is being linked, not created.
    world.packages.push(naming(arn(4), "m9"));
    let plan = world.plan();
    let creates: Vec<(String, String, Option<String>)> = plan
        .decisions
        .iter()
        .filter(|d| d.action.kind() == ActionKind::Create)
        .map(|d| (d.model_name.clone(), d.arn.to_string(), d.action.target()))
        .collect();
    assert_eq!(
        creates,
        [
            (
                "group-1 v2".to_string(),
                arn(1).to_string(),
                Some("Deployed".to_string())
            ),
            (
                "group-2 v3".to_string(),
                arn(2).to_string(),
                Some("Proposed".to_string())
            ),
        ]
    );
    assert_eq!(plan.creates_withheld, None);
    // Without the setting, nothing is created.
    world.policy.create = None;
    assert!(
        world
            .plan()
            .decisions
            .iter()
            .all(|d| d.action.kind() != ActionKind::Create)
    );
}

#[test]
fn more_creates_than_the_valve_allows_are_all_withheld() {
    let mut world = World::new();
    world.policy.create = Some(creating(2));
    for n in 0..3 {
        world.packages.push(package(arn(n), None));
    }
    let plan = world.plan();
    assert_eq!(plan.creates_withheld, Some((3, 2)));
    assert!(plan.decisions.iter().all(|d| !d.action.writes()));
    assert_eq!(
        plan.decisions
            .iter()
            .filter(|d| d.action.kind() == ActionKind::CreateWithheld)
            .count(),
        3
    );
}

#[test]
fn a_plan_of_part_of_the_fleet_links_creates_and_lists_nothing_outside_it() {
    // `reconcile --model ID` plans one model against every package: the others'
    // packages are not ungoverned, and nothing is linked or created for them.
    let mut world = World::new();
    world.policy.create = Some(creating(20));
    world.models.push(model("m1", Some("Proposed"), None));
    world.packages.push(naming(arn(1), "m1"));
    world.packages.push(package(arn(2), None));
    world.whole_fleet = false;
    let plan = world.plan();
    assert!(plan.decisions.is_empty(), "{:?}", plan.decisions);
    assert!(plan.ungoverned.is_empty());
    assert!(plan.link_conflicts.is_empty());
    // The same fleet seen whole: one link, one create.
    world.whole_fleet = true;
    let kinds: Vec<ActionKind> = world
        .plan()
        .decisions
        .iter()
        .map(|d| d.action.kind())
        .collect();
    assert_eq!(kinds, [ActionKind::Link, ActionKind::Create]);
}
