//! Linking from the package side against both mocks: a pipeline registers packages
//! that name their governance model in `CustomerMetadataProperties`; govsync writes
//! the links (journaled), syncs the models by the table from the next cycle, and
//! reports every link it cannot make without writing anything.

use super::support;
use govsync::engine::CycleKind;
use govsync::mock::Admin;
use govsync::plan::{ActionKind, Policy};
use govsync::store::{HistoryFilter, StateStore};
use serde_json::json;
use support::world::{owned, world};

/// Registers a package in `group` naming governance model `model` (or nothing),
/// with a lifecycle; its ARN.
fn register(
    w: &support::world::World,
    group: &str,
    model: Option<&str>,
    lifecycle: (&str, &str),
) -> String {
    let mut input = json!({
        "ModelPackageGroupName": group,
        "ModelLifeCycle": { "Stage": lifecycle.0, "StageStatus": lifecycle.1 },
    });
    if let Some(model) = model {
        input["CustomerMetadataProperties"] = json!({ "governance-model-id": model });
    }
    w.mocks.register(input)
}

#[tokio::test]
async fn packages_naming_their_model_are_linked_then_synced_and_conflicts_write_nothing() {
    let mut w = world(Policy::default()).await;
    // Governance models with an empty link field.
    let pushed = w
        .gov
        .create_model("churn-v1", Some("Development Complete"), None)
        .expect("model");
    let pulled = w.gov.create_model("fraud-v1", None, None).expect("model");
    let taken = w
        .gov
        .create_model("taken", Some("Proposed"), None)
        .expect("model");
    // A pipeline registers one package per model, two naming `taken`, one naming a
    // model that does not exist, and one naming nothing.
    let push_arn = register(&w, "churn", Some(&pushed), ("Development", "InProgress"));
    let pull_arn = register(&w, "fraud", Some(&pulled), ("Deployment", "Complete"));
    let twice_a = register(&w, "churn", Some(&taken), ("Proposal", "Approved"));
    let twice_b = register(&w, "churn", Some(&taken), ("Proposal", "Approved"));
    let typo = register(&w, "fraud", Some("999999"), ("Proposal", "Approved"));
    let plain = register(&w, "fraud", None, ("Development", "InProgress"));

    w.sm.counters().reset();
    let first = w.run(CycleKind::Full).await;
    assert_eq!(first.applied(ActionKind::Link), 2, "{:?}", first.results);
    // The groups, one listing page per group (a first listing lists each group on
    // its own), and one describe for each of the six packages no model links (their
    // metadata); the links are one PUT each.
    assert_eq!(w.sm.counters().get("ListModelPackageGroups"), 1);
    assert_eq!(w.sm.counters().get("ListModelPackages"), 2);
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 6);
    assert_eq!(w.gov.counters().get("contents.put"), 2);
    let link_of = |id: &str| {
        w.gov
            .field_of(id, "Integration:External ID")
            .unwrap_or_default()
    };
    assert_eq!(link_of(&pushed), push_arn);
    assert_eq!(link_of(&pulled), pull_arn);
    assert_eq!(link_of(&taken), "", "two packages name it: nothing written");
    // The conflicts name both sides; the package naming nothing is ungoverned.
    let mut conflicts: Vec<(String, Vec<String>)> = first
        .link_conflicts
        .iter()
        .map(|c| {
            let mut arns: Vec<String> = c.packages.iter().map(ToString::to_string).collect();
            arns.sort();
            (c.model_id.to_string(), arns)
        })
        .collect();
    conflicts.sort();
    let mut both = vec![twice_a.clone(), twice_b.clone()];
    both.sort();
    let mut expected = vec![("999999".to_string(), vec![typo]), (taken.clone(), both)];
    expected.sort();
    assert_eq!(conflicts, expected);
    let ungoverned: Vec<String> = first.ungoverned.iter().map(|u| u.arn.to_string()).collect();
    assert_eq!(ungoverned, [plain]);
    // Each link is journaled like any write.
    let journal = w
        .store
        .history(&HistoryFilter::default())
        .await
        .expect("history");
    let links: Vec<(&str, &str, &str)> = journal
        .iter()
        .filter(|e| e.action == "link")
        .map(|e| {
            (
                e.model_id.as_str(),
                e.to.as_deref().unwrap_or_default(),
                e.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(links.len(), 2, "{journal:?}");
    assert!(links.contains(&(pushed.as_str(), push_arn.as_str(), "applied")));

    // The next cycle syncs them by the table: a push and a pull.
    let second = w.run(CycleKind::Full).await;
    assert_eq!(second.applied(ActionKind::Push), 1, "{:?}", second.results);
    assert_eq!(second.applied(ActionKind::Pull), 1, "{:?}", second.results);
    assert_eq!(w.gov.status_of(&pulled).as_deref(), Some("Deployed"));
    // And a third changes nothing, reads no package's metadata again, and still
    // reports the conflicts.
    w.sm.counters().reset();
    let writes = w.writes();
    let third = w.run(CycleKind::Full).await;
    assert_eq!(w.writes(), writes);
    assert_eq!(third.count(ActionKind::InSync), 2);
    assert_eq!(third.link_conflicts.len(), 2);
    assert_eq!(
        w.sm.counters().get("DescribeModelPackage"),
        0,
        "metadata is read once per new or changed package"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_registered_by_a_pipeline_with_boto3_is_linked_and_then_synced() {
    let mut w = world(Policy::default()).await;
    let model = w
        .gov
        .create_model("registered-by-pipeline", Some("Development Complete"), None)
        .expect("model");
    // The registration step of an ML pipeline, with AWS's own Python client: the
    // package names its governance model in CustomerMetadataProperties.
    let python = support::programs::python_with("boto3");
    let endpoint = w.mocks.sm_handle.url();
    let id = model.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args([
                "-c",
                "import boto3, sys\n\
                 c = boto3.client('sagemaker', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                     aws_access_key_id='AKIDTEST', aws_secret_access_key='test-secret')\n\
                 p = c.create_model_package(ModelPackageGroupName='churn',\n\
                     ModelLifeCycle={'Stage': 'Development', 'StageStatus': 'InProgress'},\n\
                     CustomerMetadataProperties={'governance-model-id': sys.argv[2]})\n\
                 print(p['ModelPackageArn'])",
                &endpoint,
                &id,
            ])
            .output()
            .expect("python runs")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let arn = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let first = w.run(CycleKind::Full).await;
    assert_eq!(first.applied(ActionKind::Link), 1, "{:?}", first.results);
    assert_eq!(
        w.gov.field_of(&model, "Integration:External ID").as_deref(),
        Some(arn.as_str())
    );
    // Then the table: "Development Complete" pushes Development/Complete.
    let second = w.run(CycleKind::Full).await;
    assert_eq!(second.applied(ActionKind::Push), 1, "{:?}", second.results);
    assert_eq!(w.lifecycle(&arn), owned(("Development", "Complete")));
}

#[tokio::test]
async fn with_creation_on_each_ungoverned_package_gets_one_journaled_model_and_a_rerun_changes_nothing()
 {
    let mocks = support::remote::Mocks::start(&["churn", "fraud"]).await;
    let mut config = support::remote::governance_config(
        mocks.governance_url(),
        govsync::config::AuthConfig::Basic {
            username: "govsync".into(),
            password: govsync::config::SecretSource::Env("UNUSED".into()),
        },
        500,
    );
    config.create = Some(govsync::config::CreateConfig {
        parent_id: "4242".into(),
        name: "{description} ({group} v{version})".into(),
        status: "Proposed".into(),
    });
    let governance =
        govsync::governance::OpenPagesClient::new(&config, secrecy::SecretString::from("pw"))
            .expect("client");
    let policy = Policy {
        create: Some(govsync::plan::CreatePolicy {
            name: "{description} ({group} v{version})".into(),
            status: govsync::domain::GovernanceStatus::new("Proposed"),
            max_per_cycle: 20,
        }),
        ..Policy::default()
    };
    let engine = govsync::engine::Engine::new(
        governance,
        mocks.registries(),
        govsync::engine::EngineSettings {
            policy,
            ..govsync::engine::EngineSettings::default()
        },
    );
    let mut w = support::world::World::new(mocks, engine);
    // Two packages no model links: one whose lifecycle pulls "Deployed", one with none.
    let deployed = w.mocks.register(json!({ "ModelPackageGroupName": "fraud",
        "ModelPackageDescription": "Card fraud scorer",
        "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }));
    let bare = w
        .mocks
        .register(json!({ "ModelPackageGroupName": "churn" }));

    let first = w.run(CycleKind::Full).await;
    assert_eq!(first.applied(ActionKind::Create), 2, "{:?}", first.results);
    let models = w.gov.models();
    let mut created: Vec<(&str, Option<&str>)> = models
        .iter()
        .map(|(_, name, link)| (name.as_str(), link.as_deref()))
        .collect();
    created.sort();
    assert_eq!(
        created,
        [
            ("(churn v1)", Some(bare.as_str())),
            ("Card fraud scorer (fraud v1)", Some(deployed.as_str()))
        ]
    );
    for (id, _, _) in &models {
        assert_eq!(w.gov.parent_of(id).as_deref(), Some("4242"));
    }
    let status_of_linked = |arn: &str| {
        let (id, _, _) = models
            .iter()
            .find(|(_, _, link)| link.as_deref() == Some(arn))
            .expect("a model links it");
        w.gov.status_of(id)
    };
    assert_eq!(status_of_linked(&deployed).as_deref(), Some("Deployed"));
    assert_eq!(status_of_linked(&bare).as_deref(), Some("Proposed"));
    let journal = w
        .store
        .history(&HistoryFilter::default())
        .await
        .expect("history");
    assert_eq!(
        journal
            .iter()
            .filter(|e| e.action == "create" && e.outcome == "applied")
            .count(),
        2,
        "{journal:?}"
    );
    // The next cycles find them linked: nothing more is created.
    let second = w.run(CycleKind::Full).await;
    assert_eq!(second.count(ActionKind::Create), 0, "{:?}", second.results);
    assert!(second.ungoverned.is_empty());
    assert_eq!(w.gov.models().len(), 2);
}
