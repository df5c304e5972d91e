//! Builders shared by the tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod remote;

use std::collections::HashSet;

use govsync::domain::{
    GovernanceModel, GovernanceStatus, Lifecycle, ModelCardStatus, ModelId, ModelPackage,
    PackageArn, PackageStatus,
};
use govsync::mapping::MappingTable;
use govsync::plan::{Baseline, BaselineEntry, Plan, PlanInput, Policy, plan};
use govsync::scope::{Scope, Scopes};

/// `govsync run --config <config>` of the binary under test, with nothing of this
/// machine's environment: the mocks' governance password, static AWS test
/// credentials, and empty AWS config files (made in `dir`), no instance metadata.
pub fn govsync_run(config: &std::path::Path, dir: &std::path::Path) -> std::process::Command {
    let nowhere = dir.join("empty-aws-config");
    std::fs::write(&nowhere, "").expect("empty AWS config");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_govsync"));
    command
        .args(["run", "--config"])
        .arg(config)
        .env_clear()
        .env("OPENPAGES_PASSWORD", "pw")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere);
    command
}

/// The value of one sample line of an OpenMetrics exposition, e.g. for the series
/// `govsync_models{state="in-sync"}`.
pub fn metric_sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

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
        }
    }

    pub fn plan(&self) -> Plan {
        plan(&PlanInput {
            models: &self.models,
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

/// Fails if `text` holds `secret` in any form it could leak in: itself (for short
/// secrets, as a quoted or assigned value), standard or URL-safe base64 of itself or
/// of `user:secret` (a Basic or ZenApiKey header), or percent-encoded.
pub fn assert_no_secret(text: &str, user: &str, secret: &str, what: &str) {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut forms: Vec<String> = if secret.len() >= 6 {
        vec![secret.to_string()]
    } else {
        // Too short to look for on its own: look for it as a value.
        vec![
            format!("\"{secret}\""),
            format!("={secret}"),
            format!(": {secret}"),
            format!("'{secret}'"),
        ]
    };
    for plain in [secret.to_string(), format!("{user}:{secret}")] {
        forms.push(STANDARD_NO_PAD.encode(&plain));
        forms.push(URL_SAFE_NO_PAD.encode(&plain));
    }
    let encoded: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if encoded != secret {
        forms.push(encoded);
    }
    for form in forms {
        assert!(
            !text.contains(&form),
            "{what} holds the secret (as {form:?}):\n{text}"
        );
    }
}
