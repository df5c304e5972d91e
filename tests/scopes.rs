//! Several AWS accounts and regions against the mock: every scope reached through
//! aws-config's own providers (STS `GetCallerIdentity`, `AssumeRoleProvider`) and
//! the mock's STS, and the one hard rule — nothing concluded deleted, nothing
//! written, outside a scope observed in full this cycle.
//!
//! Long because each scenario (roles, denial, expiry, RAM shares, the default scope)
//! builds its own fleet; each test stands alone.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_smithy_async::time::TimeSource;
use govsync::config::Config;
use govsync::engine::{CycleError, CycleOptions, CycleReport, Engine};
use govsync::governance::OpenPagesClient;
use govsync::mock::Admin;
use govsync::mock::sagemaker::{MockSageMaker, Options, StsSettings};
use govsync::plan::ActionKind;
use govsync::sagemaker::{ConnectError, SageMakerRegistry, connect};
use serde_json::json;
use support::remote::Mocks;

const HUB_KEY: &str = "AKIDHUB";
const HUB: &str = "100000000000";
const SPOKES: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// The mock with the hub's access key known, and governance beside it.
async fn mocks() -> Mocks {
    Mocks::start_with(
        Options {
            accounts: BTreeMap::from([(HUB_KEY.to_string(), HUB.to_string())]),
            ..Options::default()
        },
        &[],
    )
    .await
}

/// A config over both mocks with `sagemaker_extra` in `[sagemaker]` (and after it).
fn config(mocks: &Mocks, sagemaker_extra: &str) -> Config {
    Config::from_toml(
        &format!(
            r#"
[governance]
base_url = "{gov}"
auth = {{ kind = "basic", username = "govsync", password_env = "PW" }}
[sagemaker]
endpoint_url = "{sm}"
sts_endpoint_url = "{sm}"
max_attempts = 2
{sagemaker_extra}
"#,
            gov = mocks.governance_url(),
            sm = mocks.sm_handle.url(),
        ),
        Path::new("scopes.toml"),
        &[],
    )
    .expect("valid config")
}

/// `[[sagemaker.scopes]]` for every spoke, through its `govsync` role, in both regions.
fn spoke_scopes() -> String {
    SPOKES
        .iter()
        .map(|account| {
            format!(
                "[[sagemaker.scopes]]\naccount_id = \"{account}\"\nregions = [\"us-east-1\", \"eu-west-1\"]\n\
                 role_arn = \"arn:aws:iam::{account}:role/govsync\"\n"
            )
        })
        .collect()
}

fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/govsync")
}

/// The engine the way `govsync` builds it: `connect` over `base`'s credentials.
async fn engine(
    mocks: &Mocks,
    config: &Config,
    base: &aws_config::SdkConfig,
) -> Engine<OpenPagesClient, SageMakerRegistry> {
    let registries = connect(&config.sagemaker, base, &|_: &str| None, None)
        .await
        .expect("connect");
    Engine::new(
        mocks.governance(500),
        registries,
        govsync::engine::EngineSettings {
            concurrency: 8,
            ..govsync::engine::EngineSettings::from_config(config)
        },
    )
}

async fn try_cycle(
    engine: &Engine<OpenPagesClient, SageMakerRegistry>,
    dry_run: bool,
) -> Result<CycleReport, CycleError> {
    engine
        .cycle(
            None,
            &CycleOptions {
                dry_run,
                ..CycleOptions::default()
            },
        )
        .await
}

async fn cycle(engine: &Engine<OpenPagesClient, SageMakerRegistry>, dry_run: bool) -> CycleReport {
    try_cycle(engine, dry_run).await.expect("cycle")
}

/// A package in `group` of `account` in `region`, with an optional lifecycle.
fn package(
    sm: &MockSageMaker,
    account: &str,
    region: &str,
    group: &str,
    lifecycle: Option<(&str, &str)>,
) -> String {
    // The group may exist already.
    let _ = sm.call_in(
        account,
        region,
        "CreateModelPackageGroup",
        json!({ "ModelPackageGroupName": group }),
    );
    let mut input = json!({ "ModelPackageGroupName": group });
    if let Some((stage, status)) = lifecycle {
        input["ModelLifeCycle"] = json!({ "Stage": stage, "StageStatus": status });
    }
    sm.call_in(account, region, "CreateModelPackage", input)
        .expect("package")["ModelPackageArn"]
        .as_str()
        .expect("arn")
        .to_string()
}

fn lifecycle_of(sm: &MockSageMaker, account: &str, region: &str, arn: &str) -> Option<String> {
    let d = sm
        .call_in(
            account,
            region,
            "DescribeModelPackage",
            json!({ "ModelPackageName": arn }),
        )
        .expect("describe");
    let l = d.get("ModelLifeCycle")?;
    Some(format!(
        "{}/{}",
        l["Stage"].as_str()?,
        l["StageStatus"].as_str()?
    ))
}

fn delete(sm: &MockSageMaker, account: &str, region: &str, arn: &str) {
    sm.call_in(
        account,
        region,
        "DeleteModelPackage",
        json!({ "ModelPackageName": arn }),
    )
    .expect("delete");
}

#[tokio::test]
async fn a_link_to_another_account_or_region_is_out_of_scope_and_never_decommissioned() {
    // The defect as a new user met it: one model linked in the observed account and
    // region, one to the same account in another region, one to another account.
    let mocks = Mocks::start(&["g"]).await;
    let (here, _) = mocks.pair(
        "g",
        "here",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    for (name, arn) in [
        (
            "other-region",
            "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1",
        ),
        (
            "other-account",
            "arn:aws:sagemaker:us-east-1:999999999999:model-package/g/1",
        ),
    ] {
        mocks
            .gov
            .create_model(name, Some("Deployed"), Some(arn))
            .expect("model");
    }
    let config = config(&mocks, "region = \"us-east-1\"");
    let engine = engine(&mocks, &config, &mocks.sm.client_config()).await;
    // The one scope is the default credentials' own account, from GetCallerIdentity.
    assert_eq!(engine.registries.len(), 1);
    assert_eq!(
        engine.registries[0].scope.id().as_str(),
        "123456789012/us-east-1"
    );
    assert_eq!(mocks.sm.counters().get("sts.GetCallerIdentity"), 1);

    let report = cycle(&engine, true).await;
    assert_eq!(
        report.count(ActionKind::Decommission),
        0,
        "{:#?}",
        report.results
    );
    assert_eq!(report.count(ActionKind::OutOfScope), 2);
    assert_eq!(report.count(ActionKind::InSync), 1);
    assert_eq!(
        mocks.sm.counters().get("DescribeModelPackage"),
        0,
        "an ARN in no scope is never described"
    );
    assert!(
        report
            .results
            .iter()
            .any(|r| r.decision.model_id.as_str() == here)
    );
    assert_eq!(
        report.exit_code(),
        0,
        "out of scope is reported, not an error"
    );
}

#[tokio::test]
async fn the_default_scope_is_the_account_the_credentials_belong_to() {
    let mocks = mocks().await;
    let hub = mocks.sm.client_config_for(HUB_KEY);
    let config = config(&mocks, "region = \"eu-west-1\"");
    let registries = connect(&config.sagemaker, &hub, &|_: &str| None, None)
        .await
        .expect("connect");
    assert_eq!(registries[0].scope.id().as_str(), "100000000000/eu-west-1");

    // A scope without a role must be the default credentials' own account.
    let wrong = self::config(
        &mocks,
        "[[sagemaker.scopes]]\naccount_id = \"111111111111\"\nregions = [\"us-east-1\"]",
    );
    let error = connect(&wrong.sagemaker, &hub, &|_: &str| None, None)
        .await
        .expect_err("wrong account");
    assert!(
        matches!(&error, ConnectError::WrongAccount { found, .. } if found == HUB),
        "{error}"
    );
    assert!(error.to_string().contains("set role_arn"), "{error}");
}

#[tokio::test]
async fn push_pull_and_decommission_work_in_every_account_and_region() {
    let mocks = mocks().await;
    let sm = &mocks.sm;
    let mut seeded = Vec::new();
    for account in SPOKES {
        for region in REGIONS {
            let push = package(sm, account, region, "g", None);
            let pull = package(sm, account, region, "g", Some(("Deployment", "Complete")));
            let gone = package(sm, account, region, "g", Some(("Deployment", "Complete")));
            delete(sm, account, region, &gone);
            let gov = &mocks.gov;
            let ids = (
                gov.create_model(
                    &format!("push {account} {region}"),
                    Some("Proposed"),
                    Some(&push),
                )
                .expect("model"),
                gov.create_model(&format!("pull {account} {region}"), None, Some(&pull))
                    .expect("model"),
                gov.create_model(
                    &format!("gone {account} {region}"),
                    Some("Deployed"),
                    Some(&gone),
                )
                .expect("model"),
            );
            seeded.push((account, region, push, ids));
        }
    }
    let outside = mocks
        .gov
        .create_model(
            "outside",
            Some("Proposed"),
            Some("arn:aws:sagemaker:us-east-1:444444444444:model-package/g/1"),
        )
        .expect("model");

    let config = config(&mocks, &spoke_scopes());
    let engine = engine(&mocks, &config, &sm.client_config_for(HUB_KEY)).await;
    let report = cycle(&engine, false).await;
    assert!(
        report.scopes.iter().all(|s| s.observed),
        "{:?}",
        report.scopes
    );
    assert_eq!(report.scopes.len(), 6);
    for (account, region, push, (push_id, pull_id, gone_id)) in &seeded {
        assert_eq!(
            lifecycle_of(sm, account, region, push).as_deref(),
            Some("Proposal/Approved"),
            "push in {account}/{region}"
        );
        assert_eq!(mocks.gov.status_of(push_id).as_deref(), Some("Proposed"));
        assert_eq!(
            mocks.gov.status_of(pull_id).as_deref(),
            Some("Deployed"),
            "pull in {account}/{region}"
        );
        assert_eq!(
            mocks.gov.status_of(gone_id).as_deref(),
            Some("Decommissioned"),
            "decommission in {account}/{region}"
        );
        assert!(
            sm.scope_counters()
                .get(&format!("{account}/{region}/ListModelPackages"))
                >= 1,
            "{account}/{region} listed with its own role's credentials"
        );
    }
    assert_eq!(mocks.gov.status_of(&outside).as_deref(), Some("Proposed"));
    assert_eq!(report.count(ActionKind::OutOfScope), 1);
    // Each scope assumed its account's role once; the hub listed nothing itself.
    assert_eq!(sm.counters().get("sts.AssumeRole"), 6);
    assert!(
        sm.scope_counters()
            .snapshot()
            .keys()
            .all(|k| !k.starts_with(HUB)),
        "{:?}",
        sm.scope_counters().snapshot()
    );
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_leaves_its_scopes_unobserved_and_the_others_sync() {
    let mocks = mocks().await;
    let sm = &mocks.sm;
    let mut models = Vec::new();
    for account in SPOKES {
        for region in REGIONS {
            let arn = package(sm, account, region, "g", Some(("Deployment", "Complete")));
            delete(sm, account, region, &arn);
            let id = mocks
                .gov
                .create_model(&format!("{account} {region}"), Some("Deployed"), Some(&arn))
                .expect("model");
            models.push((account, region, id));
        }
    }
    sm.set_sts(StsSettings {
        denied_roles: [role(SPOKES[1])].into(),
        ..StsSettings::default()
    });
    let config = config(&mocks, &spoke_scopes());
    let engine = engine(&mocks, &config, &sm.client_config_for(HUB_KEY)).await;
    let report = cycle(&engine, false).await;

    for (account, region, id) in &models {
        let expected = if *account == SPOKES[1] {
            "Deployed"
        } else {
            "Decommissioned"
        };
        assert_eq!(
            mocks.gov.status_of(id).as_deref(),
            Some(expected),
            "{account}/{region}"
        );
    }
    assert_eq!(report.count(ActionKind::ScopeNotObserved), 2);
    assert_eq!(report.count(ActionKind::Decommission), 4);
    let unobserved: Vec<_> = report.scopes.iter().filter(|s| !s.observed).collect();
    assert_eq!(unobserved.len(), 2);
    for scope in unobserved {
        assert!(scope.scope.as_str().starts_with(SPOKES[1]), "{scope:?}");
        let error = scope.error.as_deref().unwrap_or_default();
        // One readable line: the operation, STS's code and message, no SDK debug dump.
        assert!(
            error.contains("ListModelPackage")
                && error.contains("could not get credentials: AccessDenied")
                && error.contains("sts:AssumeRole"),
            "{error}"
        );
        assert!(
            !error.contains('\n') && !error.contains("SdkBody") && error.len() < 400,
            "{error}"
        );
    }
    // Nothing was ever described in the unobserved account.
    assert!(
        sm.scope_counters()
            .snapshot()
            .keys()
            .all(|k| !k.starts_with(SPOKES[1])),
        "{:?}",
        sm.scope_counters().snapshot()
    );
    assert_eq!(
        report.exit_code(),
        3,
        "models left unobserved are unresolved"
    );
}

/// The SDK's clock, moved forward with the mock's, so that credential expiry is
/// tested without waiting.
#[derive(Debug, Clone, Default)]
struct Clock(Arc<Mutex<Duration>>);

impl TimeSource for Clock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + *self.0.lock().expect("clock")
    }
}

#[tokio::test]
async fn assumed_credentials_that_expire_are_renewed_by_the_sdk() {
    let mocks = mocks().await;
    let sm = &mocks.sm;
    let account = SPOKES[0];
    let arn = package(sm, account, "us-east-1", "g", None);
    let id = mocks
        .gov
        .create_model("m", Some("Proposed"), Some(&arn))
        .expect("model");
    sm.set_sts(StsSettings {
        credential_lifetime_secs: 900,
        ..StsSettings::default()
    });
    let clock = Clock::default();
    let base = sm
        .client_config_for(HUB_KEY)
        .to_builder()
        .time_source(clock.clone())
        .build();
    let config = config(
        &mocks,
        &format!(
            "[[sagemaker.scopes]]\naccount_id = \"{account}\"\nregions = [\"us-east-1\"]\nrole_arn = \"{}\"",
            role(account)
        ),
    );
    let engine = engine(&mocks, &config, &base).await;
    let first = cycle(&engine, false).await;
    assert!(first.scopes[0].observed);
    assert_eq!(sm.counters().get("sts.AssumeRole"), 1);

    // 1,000 s later by the mock's clock only: the SDK still holds the old credentials
    // and the mock refuses them, so the only scope, and so the cycle, fails (the
    // mock checks expiry).
    sm.advance_clock(1000.0);
    let stale = try_cycle(&engine, false).await.expect_err("expired");
    assert!(
        matches!(&stale, CycleError::SageMaker(e) if e.message.contains("ExpiredTokenException")),
        "{stale}"
    );

    // The SDK's clock catches up: it sees the credentials expired and assumes the
    // role again on its own; the run goes on.
    *clock.0.lock().expect("clock") += Duration::from_secs(1000);
    let renewed = cycle(&engine, false).await;
    assert!(renewed.scopes[0].observed, "{:?}", renewed.scopes);
    assert_eq!(sm.counters().get("sts.AssumeRole"), 2);
    assert_eq!(mocks.gov.status_of(&id).as_deref(), Some("Proposed"));
    assert_eq!(
        lifecycle_of(sm, account, "us-east-1", &arn).as_deref(),
        Some("Proposal/Approved")
    );
}

#[tokio::test]
async fn a_group_shared_through_ram_is_listed_and_written_with_the_callers_credentials() {
    let mocks = mocks().await;
    let sm = &mocks.sm;
    let owner = "444455556666";
    let group_arn = format!("arn:aws:sagemaker:us-east-1:{owner}:model-package-group/shared");
    let arn = package(sm, owner, "us-east-1", "shared", None);
    let id = mocks
        .gov
        .create_model("central", Some("Proposed"), Some(&arn))
        .expect("model");
    let account = SPOKES[0];
    let config = config(
        &mocks,
        &format!(
            "[[sagemaker.scopes]]\naccount_id = \"{account}\"\nregions = [\"us-east-1\"]\n\
             role_arn = \"{}\"\nmodel_package_groups = [\"{group_arn}\"]",
            role(account)
        ),
    );
    let engine = engine(&mocks, &config, &sm.client_config_for(HUB_KEY)).await;

    // Not shared yet: the owner refuses the listing, so the only scope, and so the
    // cycle, fails and nothing is written.
    let refused = try_cycle(&engine, false).await.expect_err("not shared");
    assert!(
        matches!(&refused, CycleError::SageMaker(e) if e.message.contains("AccessDeniedException")),
        "{refused}"
    );
    assert_eq!(sm.counters().get("UpdateModelPackage"), 0);

    sm.share_group(&group_arn, account).expect("share");
    let shared = cycle(&engine, false).await;
    assert!(shared.scopes[0].observed);
    assert_eq!(
        lifecycle_of(sm, owner, "us-east-1", &arn).as_deref(),
        Some("Proposal/Approved"),
        "the owner's package carries the push"
    );
    delete(sm, owner, "us-east-1", &arn);
    let gone = cycle(&engine, false).await;
    assert_eq!(gone.count(ActionKind::Decommission), 1);
    assert_eq!(mocks.gov.status_of(&id).as_deref(), Some("Decommissioned"));
}
