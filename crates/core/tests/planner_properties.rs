//! Invariants of the planner over random tables and states: a plan applied and
//! planned again writes nothing; unlinked models are never touched; every write
//! follows its row's direction; planning is deterministic.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use govsync_core::domain::{GovernanceStatus, Lifecycle, ModelCardStatus, ModelId, PackageStatus};
use govsync_core::mapping::{Direction, MappingTable};
use govsync_core::plan::{Action, ConflictPolicy, Plan};
use govsync_core::scope::{Scope, Scopes};
use proptest::prelude::*;
use support::*;

const STATUSES: [&str; 6] = ["S0", "S1", "S2", "S3", "Decommissioned", "Decommissioning"];
const STAGES: [&str; 3] = ["Dev", "Prod", "Archived"];
const STAGE_STATUSES: [&str; 3] = ["InProgress", "Complete", "Review"];
const DIRECTIONS: [&str; 3] = [
    "governance-to-sagemaker",
    "sagemaker-to-governance",
    "bidirectional",
];

fn lifecycle(i: usize) -> Lifecycle {
    Lifecycle::new(STAGES[i / 3 % 3], STAGE_STATUSES[i % 3])
}

/// A random valid table: candidate rows from small pools, duplicates dropped.
fn table() -> impl Strategy<Value = MappingTable> {
    prop::collection::vec((0..STATUSES.len(), 0..9usize, 0..3usize), 1..8).prop_map(|rows| {
        let mut seen_status = HashSet::new();
        let mut seen_lifecycle = HashSet::new();
        let mut text = String::new();
        for (s, l, d) in rows {
            if !seen_status.insert(s) || !seen_lifecycle.insert(l) {
                continue;
            }
            let lc = lifecycle(l);
            text.push_str(&format!(
                "[[row]]\ngovernance_status = \"{}\"\nstage = \"{}\"\nstage_status = \"{}\"\ndirection = \"{}\"\n",
                STATUSES[s], lc.stage, lc.stage_status, DIRECTIONS[d]
            ));
        }
        MappingTable::parse(&text, Path::new("random.toml")).expect("generated tables are valid")
    })
}

#[derive(Debug, Clone)]
enum PackageState {
    Listed {
        lifecycle: Option<usize>,
        deleting: bool,
        card_archived: bool,
    },
    Gone,
    NotObserved,
}

fn package_state() -> impl Strategy<Value = PackageState> {
    prop_oneof![
        6 => (prop::option::of(0..10usize), prop::bool::weighted(0.1), prop::bool::weighted(0.15))
            .prop_map(|(l, deleting, card_archived)| PackageState::Listed {
                // 9 is a lifecycle no table maps.
                lifecycle: l,
                deleting,
                card_archived,
            }),
        1 => Just(PackageState::Gone),
        1 => Just(PackageState::NotObserved),
    ]
}

fn conflict_policy() -> impl Strategy<Value = ConflictPolicy> {
    prop_oneof![
        Just(ConflictPolicy::GovernanceWins),
        Just(ConflictPolicy::SagemakerWins),
        Just(ConflictPolicy::Skip)
    ]
}

/// A second scope: another account in another region.
fn other_scope() -> Scope {
    Scope {
        partition: "aws".into(),
        account: "210987654321".into(),
        region: "eu-west-1".into(),
        groups: vec![],
    }
}

/// Package `n`'s ARN in place 0 (the test scope), 1 (the other scope) or 2 (no scope).
fn arn_in(n: usize, place: usize) -> govsync_core::domain::PackageArn {
    let (region, account) = [
        ("us-east-1", "123456789012"),
        ("eu-west-1", "210987654321"),
        ("us-east-1", "999999999999"),
    ][place];
    govsync_core::domain::PackageArn::parse(&format!(
        "arn:aws:sagemaker:{region}:{account}:model-package/group-{}/{}",
        n % 3,
        n + 1
    ))
    .expect("test ARN is valid")
}

/// (status index or None (7 = unmapped "Other"), link to package index or None, baseline (status, lifecycle))
type ModelSpec = (Option<usize>, Option<usize>, Option<(usize, usize)>);

fn world() -> impl Strategy<Value = World> {
    (
        table(),
        prop::collection::vec(
            (
                prop::option::of(0..7usize),
                prop::option::weighted(0.8, 0..8usize),
                prop::option::of((0..6usize, 0..9usize)),
            ),
            0..10,
        ),
        prop::collection::vec(package_state(), 8),
        conflict_policy(),
        (0..4usize, 0..4usize),
        0..4usize,
        (
            prop::collection::vec(0..3usize, 8),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                mapping,
                models,
                packages,
                conflict,
                (limit, scope_limit),
                decommission,
                (places, a, b),
            )| {
                let mut world = World::new();
                world.mapping = mapping;
                world.policy.conflict = conflict;
                world.policy.max_decommissions_per_cycle = limit;
                world.policy.max_decommissions_per_scope = scope_limit;
                world.policy.decommission_status =
                    GovernanceStatus::new(STATUSES[decommission + 2]);
                // Two scopes, each observed or not; a third place is in no scope.
                world.scopes = Scopes::new(vec![test_scope(), other_scope()]);
                world.observed = vec![a, b];
                let arn = |n: usize| arn_in(n, places[n]);
                let specs: Vec<ModelSpec> = models;
                for (i, (status, link, base)) in specs.into_iter().enumerate() {
                    let status = status.map(|s| STATUSES.get(s).copied().unwrap_or("Other"));
                    world
                        .models
                        .push(model(&format!("m{i}"), status, link.map(arn)));
                    if let (Some(link), Some((s, l))) = (link, base) {
                        world.baseline.insert(
                            ModelId::new(format!("m{i}")),
                            baseline_entry(arn(link), STATUSES[s], &lifecycle(l)),
                        );
                    }
                }
                for (i, state) in packages.into_iter().enumerate() {
                    match state {
                        PackageState::Listed {
                            lifecycle: l,
                            deleting,
                            card_archived,
                        } => {
                            let lc = l.map(|l| {
                                if l == 9 {
                                    Lifecycle::new("Unmapped", "X")
                                } else {
                                    lifecycle(l)
                                }
                            });
                            let mut p = package(arn(i), lc.as_ref());
                            if deleting {
                                p.status = PackageStatus::Deleting;
                            }
                            if card_archived {
                                p.model_card_status = Some(ModelCardStatus::Archived);
                            }
                            world.packages.push(p);
                        }
                        PackageState::Gone => {
                            world.gone.insert(arn(i));
                        }
                        PackageState::NotObserved => {}
                    }
                }
                world
            },
        )
}

/// Performs a plan's writes on the world the way the engine would, baseline included.
fn apply(world: &mut World, plan: &Plan) {
    let mut statuses: HashMap<ModelId, GovernanceStatus> = HashMap::new();
    let mut lifecycles = HashMap::new();
    for d in &plan.decisions {
        match &d.action {
            Action::Push { to, .. } => {
                lifecycles.insert(d.arn.clone(), to.clone());
            }
            Action::Pull { to, .. } => {
                statuses.insert(d.model_id.clone(), to.clone());
            }
            Action::Decommission { to, then_push, .. } => {
                statuses.insert(d.model_id.clone(), to.clone());
                if let Some(l) = then_push {
                    lifecycles.insert(d.arn.clone(), l.clone());
                }
            }
            _ => {}
        }
        if let Some(entry) = d.baseline_after() {
            world.baseline.insert(d.model_id.clone(), entry);
        }
    }
    for m in &mut world.models {
        if let Some(s) = statuses.remove(&m.id) {
            m.status = Some(s);
        }
    }
    for p in &mut world.packages {
        if let Some(l) = lifecycles.remove(&p.arn) {
            p.lifecycle = Some(l);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn applying_a_plan_then_planning_again_writes_nothing(mut world in world()) {
        let first = world.plan();
        apply(&mut world, &first);
        let second = world.plan();
        let writes: Vec<_> = second.writes().map(|d| (&d.model_id, &d.action, &d.reason)).collect();
        prop_assert!(writes.is_empty(), "second plan still writes: {writes:?}");
    }

    #[test]
    fn unlinked_models_are_never_touched(world in world()) {
        let plan = world.plan();
        let unlinked: HashSet<&ModelId> = world.models.iter().filter(|m| m.link.is_none()).map(|m| &m.id).collect();
        prop_assert_eq!(plan.unlinked_models, unlinked.len());
        for d in &plan.decisions {
            prop_assert!(!unlinked.contains(&d.model_id), "{} is unlinked but got {:?}", d.model_id, d.action);
        }
        let linked = world.models.len() - unlinked.len();
        prop_assert_eq!(plan.decisions.len(), linked);
    }

    #[test]
    fn every_write_follows_its_rows_direction(world in world()) {
        let plan = world.plan();
        for d in plan.writes() {
            match &d.action {
                Action::Push { to, .. } => {
                    let status = d.governance_status.as_ref().expect("a push has a status");
                    let row = world.mapping.by_governance_status(status.as_str()).expect("a push has a row");
                    prop_assert!(row.direction.allows_push(), "pushed a {:?} row", row.direction);
                    prop_assert_eq!(to, &row.lifecycle);
                }
                Action::Pull { to, .. } => {
                    let lifecycle = d.lifecycle.as_ref().expect("a pull has a lifecycle");
                    let row = world.mapping.by_lifecycle(lifecycle).expect("a pull has a row");
                    prop_assert!(row.direction.allows_pull(), "pulled a {:?} row", row.direction);
                    prop_assert_ne!(row.direction, Direction::GovernanceToSageMaker);
                    prop_assert_eq!(to, &row.governance_status);
                }
                Action::Decommission { to, then_push, .. } => {
                    prop_assert_eq!(to, &world.policy.decommission_status);
                    if let Some(l) = then_push {
                        let row = world.mapping.by_governance_status(to.as_str()).expect("then_push has a row");
                        prop_assert!(row.direction.allows_push());
                        prop_assert_eq!(l, &row.lifecycle);
                    }
                }
                other => prop_assert!(false, "{other:?} is not a write"),
            }
        }
        let decommissions: Vec<_> = plan.writes().filter(|d| matches!(d.action, Action::Decommission { .. })).collect();
        prop_assert!(decommissions.len() <= world.policy.max_decommissions_per_cycle);
        for scope in world.scopes.all() {
            let in_scope = decommissions.iter().filter(|d| d.scope == Some(scope.id())).count();
            prop_assert!(in_scope <= world.policy.max_decommissions_per_scope, "{} decommissions in {}", in_scope, scope.id());
        }
        if plan.safety_valve.iter().any(|t| t.scope.is_none()) {
            prop_assert_eq!(decommissions.len(), 0);
        }
    }

    #[test]
    fn nothing_is_written_or_decommissioned_outside_an_observed_scope(world in world()) {
        let plan = world.plan();
        for d in &plan.decisions {
            match world.scopes.route(&d.arn) {
                None => {
                    prop_assert_eq!(&d.action, &Action::OutOfScope, "{} is in no scope", d.arn);
                    prop_assert_eq!(d.scope.as_ref(), None);
                }
                Some(i) if !world.observed[i] => {
                    prop_assert_eq!(&d.action, &Action::ScopeNotObserved, "{}'s scope was not observed", d.arn);
                }
                Some(i) => {
                    prop_assert_eq!(d.scope.as_ref(), Some(&world.scopes.all()[i].id()));
                    prop_assert!(!matches!(d.action, Action::OutOfScope | Action::ScopeNotObserved));
                }
            }
        }
    }

    #[test]
    fn planning_is_deterministic(world in world()) {
        prop_assert_eq!(world.plan(), world.plan());
    }

    #[test]
    fn links_from_metadata_go_only_into_empty_fields_never_twice_and_conflicts_write_nothing(
        mut world in world(),
        naming in prop::collection::vec(prop::option::of(0..12usize), 8),
    ) {
        // Each package may name a model: m0..m9 may exist, m10 and m11 do not.
        for (p, named) in world.packages.iter_mut().zip(&naming) {
            if let Some(k) = named {
                p.metadata = Some([("governance-model-id".to_string(), format!("m{k}"))].into());
            }
        }
        let plan = world.plan();
        let faults = link_faults(&world, &plan);
        prop_assert!(faults.is_empty(), "{faults:?}");
    }
}
