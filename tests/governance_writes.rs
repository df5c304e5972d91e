//! Governance as it really runs, end to end over HTTP against both mocks: a person's
//! change between the listing and the write, the approval status column, workflow
//! transitions, and the SageMaker re-check.

mod support;

use govsync::domain::{GovernanceModel, GovernanceStatus, ModelId};
use govsync::engine::{CycleOptions, Engine, EngineSettings};
use govsync::governance::{Governance, OpenPagesClient};
use govsync::mapping::MappingTable;
use govsync::mock::Admin;
use govsync::mock::governance::MockGovernance;
use govsync::plan::ActionKind;
use govsync::plan::Policy;
use govsync::remote::{Listing, RemoteError, WriteOutcome};
use govsync::store::HistoryFilter;
use govsync::store::StateStore;
use serde_json::{Value, json};
use support::world::{World, owned, world};

/// Governance where a person changes one model's status in the console right
/// after the cycle's listing, before govsync re-reads it to write.
struct PersonActsMidCycle {
    inner: OpenPagesClient,
    mock: MockGovernance,
    model: String,
    status: &'static str,
}

impl Governance for PersonActsMidCycle {
    async fn list_models(&self) -> Result<Listing<GovernanceModel>, RemoteError> {
        self.inner.list_models().await
    }
    async fn list_models_changed(
        &self,
        since: std::time::SystemTime,
    ) -> Result<Listing<GovernanceModel>, RemoteError> {
        self.inner.list_models_changed(since).await
    }
    async fn get_model(&self, model: &ModelId) -> Result<Option<GovernanceModel>, RemoteError> {
        self.mock
            .set_status(&self.model, self.status)
            .expect("console");
        self.inner.get_model(model).await
    }
    async fn set_status(&self, model: &ModelId, status: &GovernanceStatus) -> WriteOutcome {
        self.inner.set_status(model, status).await
    }
    async fn set_link(&self, model: &ModelId, arn: &govsync::domain::PackageArn) -> WriteOutcome {
        self.inner.set_link(model, arn).await
    }
    async fn create_model(
        &self,
        name: &str,
        status: &GovernanceStatus,
        arn: &govsync::domain::PackageArn,
    ) -> WriteOutcome {
        self.inner.create_model(name, status, arn).await
    }
}

#[tokio::test]
async fn a_console_change_between_observe_and_write_is_left_alone_and_reported() {
    let mut w = world(Policy::default()).await;
    let (id, arn) = w.pair(
        "reviewed",
        Some("Under Development"),
        Some(("Development", "InProgress")),
    );
    assert_eq!(w.cycle().await.count(ActionKind::InSync), 1);
    // The pipeline completes development: a pull of "Development Complete" is due.
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": arn, "ModelLifeCycle": { "Stage": "Development", "StageStatus": "Complete" } }),
    )
    .expect("update");
    let engine = Engine::new(
        PersonActsMidCycle {
            inner: w.mocks.governance(500),
            mock: w.gov.clone(),
            model: id.clone(),
            status: "On Hold - Development",
        },
        w.mocks.registries(),
        EngineSettings::default(),
    );
    let writes_before = w.gov.writes().len();
    let report = engine
        .cycle(Some(&mut w.store), &CycleOptions::default())
        .await
        .expect("cycle");
    let r = &report.results[0];
    assert_eq!(r.decision.action.kind(), ActionKind::Pull, "{r:?}");
    assert_eq!(r.outcome.as_str(), "changed-during-cycle", "{r:?}");
    let why = r.outcome.error().unwrap_or_default();
    assert!(why.contains("now \"On Hold - Development\""), "{why}");
    assert_eq!(w.gov.writes().len(), writes_before, "nothing written");
    assert_eq!(
        w.gov.status_of(&id).as_deref(),
        Some("On Hold - Development"),
        "the person's value stays"
    );
    assert_eq!(report.exit_code(), 3, "not in sync: the next cycle decides");
    let journal = w
        .store
        .history(&HistoryFilter::default())
        .await
        .expect("history");
    assert!(
        journal
            .iter()
            .any(|e| e.model_id == id && e.outcome == "changed-during-cycle"),
        "{journal:?}"
    );
}

/// The built-in table with the two approval lines docs/governance.md suggests.
fn table_with_approvals() -> MappingTable {
    let text = govsync::mapping::DEFAULT_MAPPING_TOML
        .replace(
            "stage_status = \"Approved\"\n",
            "stage_status = \"Approved\"\napproval_status = \"Approved\"\n",
        )
        .replace(
            "stage_status = \"Rejected\"\n",
            "stage_status = \"Rejected\"\napproval_status = \"Rejected\"\n",
        );
    MappingTable::parse(&text, std::path::Path::new("approvals.toml")).expect("table")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_with_an_approval_status_sets_it_with_the_lifecycle_as_boto3_sees_it() {
    let mut w = world(Policy::default()).await;
    w.engine.settings.mapping = table_with_approvals();
    let (_, approved) = w.pair(
        "approved",
        Some("Approved for Deployment"),
        Some(("Deployment", "PendingApproval")),
    );
    let (_, plain) = w.pair(
        "plain",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Push), 2, "{:#?}", report.results);
    let describe = |arn: &str| {
        w.sm.call("DescribeModelPackage", json!({ "ModelPackageName": arn }))
            .expect("describe")
    };
    let a = describe(&approved);
    assert_eq!(a["ModelApprovalStatus"], "Approved", "{a}");
    assert!(
        a["ApprovalDescription"]
            .as_str()
            .is_some_and(|d| d.contains("Approved for Deployment")),
        "says why: {a}"
    );
    // A row without an approval status leaves it as it was.
    assert_eq!(
        describe(&plain)["ModelApprovalStatus"],
        "PendingManualApproval"
    );

    // What SageMaker Projects' templates deploy on, read by boto3 over the wire.
    let python = support::programs::python_with("boto3");
    let endpoint = w.mocks.sm_handle.url();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args([
                "-c",
                "import boto3, json, sys\n\
                 c = boto3.client('sagemaker', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                     aws_access_key_id='AKIDTEST', aws_secret_access_key='test-secret')\n\
                 p = c.describe_model_package(ModelPackageName=sys.argv[2])\n\
                 print(json.dumps({'approval': p['ModelApprovalStatus'],\n\
                     'description': p.get('ApprovalDescription'),\n\
                     'lifecycle': p['ModelLifeCycle']}))",
                &endpoint,
                &approved,
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
    let seen: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(seen["approval"], "Approved", "{seen}");
    assert_eq!(seen["lifecycle"]["Stage"], "Deployment", "{seen}");
    assert_eq!(seen["lifecycle"]["StageStatus"], "Approved", "{seen}");
}

/// Governance with a workflow that moves "Approved for Deployment" to "Deployed" by
/// the action "Deploy", and refuses plain field writes of the status.
async fn workflow_world() -> World {
    use govsync::mock::governance::{Options, Transition, Workflow};
    let mut governance = Options::new("govsync", secrecy::SecretString::from("pw"));
    governance.workflow = Some(Workflow {
        transitions: vec![Transition {
            from: "Approved for Deployment".into(),
            action: "Deploy".into(),
            to: "Deployed".into(),
        }],
        lock_status_field: true,
    });
    let mocks =
        support::remote::Mocks::start_both(Default::default(), governance, &["fraud", "churn"])
            .await;
    let text = govsync::mapping::DEFAULT_MAPPING_TOML.replace(
        "governance_status = \"Deployed\"\n",
        "governance_status = \"Deployed\"\ngovernance_action = \"Deploy\"\n",
    );
    let table = MappingTable::parse(&text, std::path::Path::new("workflow.toml")).expect("table");
    let mut governance = mocks.governance(500);
    governance.use_workflow(&table, false);
    let engine = Engine::new(
        governance,
        mocks.registries(),
        EngineSettings {
            mapping: table,
            ..EngineSettings::default()
        },
    );
    World::new(mocks, engine)
}

#[tokio::test]
async fn in_workflow_mode_a_pull_transitions_the_instance_or_is_refused_from_the_wrong_stage() {
    let mut w = workflow_world().await;
    let (ready, ready_arn) = w.pair(
        "ready",
        Some("Approved for Deployment"),
        Some(("Deployment", "Approved")),
    );
    let (early, early_arn) = w.pair(
        "early",
        Some("Under Development"),
        Some(("Development", "InProgress")),
    );
    assert_eq!(w.cycle().await.count(ActionKind::InSync), 2);
    // The deployment pipeline completes both: a pull of "Deployed" for each.
    for arn in [&ready_arn, &early_arn] {
        w.sm.call(
            "UpdateModelPackage",
            json!({ "ModelPackageArn": arn, "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
        )
        .expect("update");
    }
    let report = w.cycle().await;
    let outcome = |id: &str| {
        report
            .results
            .iter()
            .find(|r| r.decision.model_id.as_str() == id)
            .map(|r| r.outcome.clone())
            .expect("result")
    };
    assert_eq!(outcome(&ready).as_str(), "applied", "{:?}", outcome(&ready));
    assert_eq!(w.gov.status_of(&ready).as_deref(), Some("Deployed"));
    let refused = outcome(&early);
    assert_eq!(refused.as_str(), "refused", "{refused:?}");
    let why = refused.error().unwrap_or_default();
    assert!(why.contains("\"Deploy\""), "{why}");
    assert!(
        why.contains("\"Under Development\""),
        "names the stage it was in: {why}"
    );
    assert_eq!(
        w.gov.status_of(&early).as_deref(),
        Some("Under Development")
    );
    // Every governance write went through the workflow; no field write was tried.
    let writes = w.gov.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0]["workflow_action"], "Deploy");
    assert_eq!(w.gov.counters().get("contents.put"), 0);
    assert_eq!(w.gov.counters().get("workflows.transition"), 2);
}

#[tokio::test]
async fn in_workflow_mode_a_status_without_an_action_is_refused_unless_field_writes_are_allowed() {
    let mut w = workflow_world().await;
    // SageMaker archives a package: a decommission to "Decommissioned", whose row
    // names no action.
    let (id, arn) = w.pair(
        "archived",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": arn, "ModelLifeCycle": { "Stage": "Archived", "StageStatus": "Complete" } }),
    )
    .expect("archive");
    let report = w.cycle().await;
    let r = &report.results[0];
    assert_eq!(r.decision.action.kind(), ActionKind::Decommission);
    assert_eq!(r.outcome.as_str(), "refused", "{r:?}");
    assert!(
        r.outcome
            .error()
            .unwrap_or_default()
            .contains("names no governance_action"),
        "{r:?}"
    );
    assert_eq!(w.gov.status_of(&id).as_deref(), Some("Deployed"));
    assert_eq!(w.gov.counters().get("contents.put"), 0, "no field write");
}

#[tokio::test]
async fn with_recheck_sagemaker_a_pipeline_change_mid_cycle_is_left_alone() {
    let mut w = world(Policy::default()).await;
    let (id, arn) = w.pair(
        "piped",
        Some("Under Development"),
        Some(("Development", "InProgress")),
    );
    assert_eq!(w.cycle().await.count(ActionKind::InSync), 1);
    w.gov
        .set_status(&id, "Development Complete")
        .expect("reviewer");
    // A pipeline moves the package on just as govsync re-checks it before writing.
    let mut registry = support::remote::Hooked::new(&w.mocks);
    let mock = w.sm.clone();
    registry.before_describe = Box::new(move |arn| {
        mock.call(
            "UpdateModelPackage",
            json!({ "ModelPackageArn": arn.as_str(), "ModelLifeCycle": { "Stage": "Testing", "StageStatus": "InProgress" } }),
        )
        .expect("pipeline");
    });
    let engine = Engine::new(
        w.mocks.governance(500),
        registry.scoped(),
        EngineSettings {
            recheck_sagemaker: true,
            ..EngineSettings::default()
        },
    );
    let updates = w.sm.counters().get("UpdateModelPackage");
    let report = engine
        .cycle(Some(&mut w.store), &CycleOptions::default())
        .await
        .expect("cycle");
    let r = &report.results[0];
    assert_eq!(r.decision.action.kind(), ActionKind::Push, "{r:?}");
    assert_eq!(r.outcome.as_str(), "changed-during-cycle", "{r:?}");
    assert!(
        r.outcome
            .error()
            .unwrap_or_default()
            .contains("Testing/InProgress"),
        "{r:?}"
    );
    // govsync sent no update (the pipeline's change is made in the mock directly,
    // which the request counters do not count); the lifecycle is the pipeline's.
    assert_eq!(w.sm.counters().get("UpdateModelPackage"), updates);
    assert_eq!(w.lifecycle(&arn), owned(("Testing", "InProgress")));
}
