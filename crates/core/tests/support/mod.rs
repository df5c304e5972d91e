//! Builders the planner's tests share: models, packages, baselines, and a whole
//! planner input owned by one value ([`World`]).
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashSet;

use govsync_core::domain::{
    GovernanceModel, GovernanceStatus, Lifecycle, ModelCardStatus, ModelId, ModelPackage,
    PackageArn, PackageStatus,
};
use govsync_core::mapping::MappingTable;
use govsync_core::plan::{Baseline, BaselineEntry, Plan, PlanInput, Policy, plan};
use govsync_core::scope::{Scope, Scopes};

pub fn arn(n: usize) -> PackageArn {
    PackageArn::parse(&format!(
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/group-{}/{}",
        n % 3,
        n + 1
    ))
    .expect("test ARN is valid")
}

pub fn model(id: &str, status: Option<&str>, link: Option<PackageArn>) -> GovernanceModel {
    GovernanceModel {
        id: ModelId::new(id),
        name: format!("model {id}"),
        status: status.map(GovernanceStatus::new),
        link,
    }
}

pub fn package(arn: PackageArn, lifecycle: Option<&Lifecycle>) -> ModelPackage {
    ModelPackage {
        arn,
        status: PackageStatus::Completed,
        lifecycle: lifecycle.cloned(),
        model_card_status: None,
        metadata: None,
        description: None,
        last_modified: None,
    }
}

pub fn with_card(mut package: ModelPackage, card: ModelCardStatus) -> ModelPackage {
    package.model_card_status = Some(card);
    package
}

pub fn baseline_entry(arn: PackageArn, status: &str, lifecycle: &Lifecycle) -> BaselineEntry {
    BaselineEntry {
        arn,
        governance_status: GovernanceStatus::new(status),
        lifecycle: lifecycle.clone(),
    }
}

/// Everything one planner call needs, owned.
#[derive(Debug)]
pub struct World {
    pub models: Vec<GovernanceModel>,
    pub packages: Vec<ModelPackage>,
    pub gone: HashSet<PackageArn>,
    pub baseline: Baseline,
    pub mapping: MappingTable,
    pub policy: Policy,
    /// One scope covering [`arn`]'s account and region unless a test changes it.
    pub scopes: Scopes,
    /// Per scope, whether it was observed (all by default).
    pub observed: Vec<bool>,
    /// Whether the models are every model (true by default).
    pub whole_fleet: bool,
}

/// The scope of the test ARNs: account 123456789012 in us-east-1, every group.
pub fn test_scope() -> Scope {
    Scope {
        partition: "aws".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        groups: vec![],
    }
}

impl World {
    pub fn new() -> World {
        World {
            models: Vec::new(),
            packages: Vec::new(),
            gone: HashSet::new(),
            baseline: Baseline::new(),
            mapping: MappingTable::built_in(),
            policy: Policy::default(),
            scopes: Scopes::new(vec![test_scope()]),
            observed: vec![true],
            whole_fleet: true,
        }
    }

    pub fn plan(&self) -> Plan {
        plan(&PlanInput {
            models: &self.models,
            whole_fleet: self.whole_fleet,
            packages: &self.packages,
            gone: &self.gone,
            scopes: &self.scopes,
            observed: &self.observed,
            baseline: &self.baseline,
            mapping: &self.mapping,
            policy: &self.policy,
        })
    }
}

/// What is wrong with the links `plan` makes for `world`, if anything: a model or a
/// package linked twice, a link into a field that holds one, a package another
/// model links, a package of a link conflict linked anyway.
pub fn link_faults(world: &World, plan: &Plan) -> Vec<String> {
    use govsync_core::plan::Action;
    let links: Vec<_> = plan
        .decisions
        .iter()
        .filter(|d| matches!(d.action, Action::Link { .. }))
        .collect();
    let mut faults = Vec::new();
    let mut models: Vec<_> = links.iter().map(|d| &d.model_id).collect();
    let mut arns: Vec<_> = links.iter().map(|d| &d.arn).collect();
    models.sort();
    models.dedup();
    arns.sort();
    arns.dedup();
    if models.len() != links.len() {
        faults.push("a model linked twice".to_string());
    }
    if arns.len() != links.len() {
        faults.push("a package linked twice".to_string());
    }
    for d in &links {
        let model = world.models.iter().find(|m| m.id == d.model_id);
        if model.is_none_or(|m| m.link.is_some()) {
            faults.push(format!("not into an empty field: {d:?}"));
        }
        if world.models.iter().any(|m| m.link.as_ref() == Some(&d.arn)) {
            faults.push(format!(
                "the package is linked by another model already: {d:?}"
            ));
        }
    }
    for c in &plan.link_conflicts {
        if links.iter().any(|d| c.packages.contains(&d.arn)) {
            faults.push(format!("a conflict's package linked: {c:?}"));
        }
    }
    faults
}
