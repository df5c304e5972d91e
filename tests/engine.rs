//! The engine end to end over HTTP against both mock servers: every mapping row in
//! its direction, decommissioning, conflicts, idempotence, crash recovery, the API
//! budget and dry runs.
//!
//! Long because each behaviour gets its own end-to-end scenario; each stands alone.

mod support;

use govsync::domain::ModelId;
use govsync::domain::{GovernanceModel, GovernanceStatus};
use govsync::engine::{CycleOptions, Engine};
use govsync::governance::{Governance, OpenPagesClient};
use govsync::mapping::MappingTable;
use govsync::mock::Admin;
use govsync::mock::governance::MockGovernance;
use govsync::mock::sagemaker::MockSageMaker;
use govsync::plan::ActionKind;
use govsync::plan::Policy;
use govsync::remote::{Listing, RemoteError, WriteOutcome};
use govsync::sagemaker::SageMakerRegistry;
use govsync::store::{HistoryFilter, Store};
use serde_json::{Value, json};

struct World {
    sm: MockSageMaker,
    gov: MockGovernance,
    mocks: support::remote::Mocks,
    engine: Engine<OpenPagesClient, SageMakerRegistry>,
    store: Store,
}

async fn world(policy: Policy) -> World {
    let mocks = support::remote::Mocks::start(&["fraud", "churn"]).await;
    World {
        sm: mocks.sm.clone(),
        gov: mocks.gov.clone(),
        engine: Engine {
            governance: mocks.governance(500),
            registries: mocks.registries(),
            mapping: MappingTable::built_in(),
            policy,
            concurrency: 8,
            read_model_cards: false,
            recheck_sagemaker: false,
        },
        mocks,
        store: Store::open(":memory:").expect("store"),
    }
}

impl World {
    /// A package (with an optional lifecycle) and a governance model linked to it.
    fn pair(
        &self,
        name: &str,
        status: Option<&str>,
        lifecycle: Option<(&str, &str)>,
    ) -> (String, String) {
        let group = if name.len().is_multiple_of(2) {
            "fraud"
        } else {
            "churn"
        };
        self.mocks.pair(group, name, status, lifecycle)
    }

    fn lifecycle(&self, arn: &str) -> Option<(String, String)> {
        let d = self
            .sm
            .call("DescribeModelPackage", json!({ "ModelPackageName": arn }))
            .expect("describe");
        let l = d.get("ModelLifeCycle")?;
        Some((
            l["Stage"].as_str()?.to_string(),
            l["StageStatus"].as_str()?.to_string(),
        ))
    }

    fn writes(&self) -> (u64, u64) {
        (
            self.sm.counters().get("UpdateModelPackage"),
            self.gov.counters().get("contents.put"),
        )
    }

    async fn cycle(&mut self) -> govsync::engine::CycleReport {
        self.engine
            .cycle(Some(&mut self.store), &CycleOptions::default())
            .await
            .expect("cycle")
    }
}

fn owned(l: (&str, &str)) -> Option<(String, String)> {
    Some((l.0.to_string(), l.1.to_string()))
}

#[tokio::test]
async fn every_row_propagates_in_its_direction_and_never_the_other() {
    let mut w = world(Policy::default()).await;
    let table = MappingTable::built_in();
    let mut checks = Vec::new();
    for (i, row) in table.rows().iter().enumerate() {
        let (g, lc) = (
            row.governance_status.as_str(),
            (
                row.lifecycle.stage.as_str(),
                row.lifecycle.stage_status.as_str(),
            ),
        );
        // Governance holds the row's status, SageMaker no lifecycle: only a push can apply.
        let push = w.pair(&format!("push-{i}"), Some(g), None);
        // SageMaker holds the row's lifecycle, governance no status: only a pull can apply.
        let pull = w.pair(&format!("pull-{i}"), None, Some(lc));
        checks.push((row.clone(), push, pull));
    }
    let report = w.cycle().await;
    assert_eq!(report.failures(), 0);
    for (row, (_, push_arn), (pull_id, _)) in &checks {
        let lc = (
            row.lifecycle.stage.as_str(),
            row.lifecycle.stage_status.as_str(),
        );
        if row.direction.allows_push() {
            assert_eq!(
                w.lifecycle(push_arn),
                owned(lc),
                "row {} pushes",
                row.governance_status
            );
        } else {
            assert_eq!(
                w.lifecycle(push_arn),
                None,
                "row {} must not push",
                row.governance_status
            );
        }
        let archived = row.lifecycle.stage == "Archived";
        if row.direction.allows_pull() {
            assert_eq!(
                w.gov.status_of(pull_id).as_deref(),
                Some(row.governance_status.as_str()),
                "row pulls"
            );
        } else if !archived {
            assert_eq!(
                w.gov.status_of(pull_id),
                None,
                "row {} must not pull",
                row.governance_status
            );
        } else {
            // The archive stage decommissions whatever the direction (DESIGN rule 2).
            assert_eq!(w.gov.status_of(pull_id).as_deref(), Some("Decommissioned"));
        }
    }
    let bidirectional = table
        .rows()
        .iter()
        .filter(|r| r.direction.allows_push() && r.direction.allows_pull())
        .count();
    assert_eq!(bidirectional, 2);
}

#[tokio::test]
async fn a_second_cycle_writes_nothing_and_a_crash_before_recording_converges() {
    let mut w = world(Policy::default()).await;
    for i in 0..10 {
        w.pair(
            &format!("m{i}"),
            Some("Development Complete"),
            Some(("Development", "InProgress")),
        );
    }
    let deployed = w.pair("deployed", None, Some(("Deployment", "Complete")));
    // The "crash": the first cycle applies its writes but records nothing.
    let first = w
        .engine
        .cycle(None, &CycleOptions::default())
        .await
        .expect("cycle");
    assert_eq!(first.count(ActionKind::Push), 10);
    assert_eq!(first.count(ActionKind::Pull), 1);
    assert_eq!(w.gov.status_of(&deployed.0).as_deref(), Some("Deployed"));
    let after_first = w.writes();
    assert_eq!(after_first, (10, 1));
    // Restart with the store: nothing is written twice.
    let second = w.cycle().await;
    assert_eq!(second.count(ActionKind::InSync), 11);
    assert_eq!(w.writes(), after_first, "no duplicate write");
    let third = w.cycle().await;
    assert_eq!(third.exit_code(), 0);
    assert_eq!(w.writes(), after_first);
    assert_eq!(w.store.baseline().expect("baseline").len(), 11);
}

#[tokio::test]
async fn deleted_deleting_and_archived_packages_decommission_their_models() {
    let mut w = world(Policy::default()).await;
    let deleted = w.pair(
        "deleted",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    let deleting = w.pair(
        "deleting",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    let archived = w.pair(
        "archived",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    let fine = w.pair("fine", Some("Deployed"), Some(("Deployment", "Complete")));
    w.cycle().await;
    w.sm.call(
        "DeleteModelPackage",
        json!({ "ModelPackageName": deleted.1 }),
    )
    .expect("delete");
    w.sm.set_package_status(&deleting.1, "Deleting")
        .expect("deleting");
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": archived.1, "ModelLifeCycle": { "Stage": "Archived", "StageStatus": "Complete" } }),
    )
    .expect("archive");
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Decommission), 3);
    assert_eq!(report.confirmed_deleted, 1);
    assert_eq!(
        w.sm.counters().get("DescribeModelPackage"),
        1,
        "one describe per missing package"
    );
    for id in [&deleted.0, &deleting.0, &archived.0] {
        assert_eq!(w.gov.status_of(id).as_deref(), Some("Decommissioned"));
    }
    assert_eq!(w.gov.status_of(&fine.0).as_deref(), Some("Deployed"));
    let journal = w
        .store
        .history(&HistoryFilter {
            model: Some(deleted.0.clone()),
            since: None,
        })
        .expect("history");
    assert_eq!(
        journal.last().map(|e| e.action.as_str()),
        Some("decommission")
    );
}

#[tokio::test]
async fn an_archived_model_card_decommissions_when_model_cards_are_read() {
    let mut w = world(Policy::default()).await;
    let carded = w.pair("carded", Some("Deployed"), Some(("Deployment", "Complete")));
    let fine = w.pair("fine", Some("Deployed"), Some(("Deployment", "Complete")));
    let gone = w.pair(
        "gone",
        Some("Decommissioned"),
        Some(("Archived", "Complete")),
    );
    w.cycle().await;
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": carded.1, "ModelCard": { "ModelCardStatus": "Archived" } }),
    )
    .expect("archive the card");

    // Off (the default): the listing does not carry the card, so nothing notices.
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Decommission), 0);
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 0);

    // On: one describe per linked package whose model is not already decommissioning.
    w.engine.read_model_cards = true;
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Decommission), 1);
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 2);
    let d = &report
        .results
        .iter()
        .find(|r| r.decision.model_id.as_str() == carded.0)
        .expect("carded")
        .decision;
    assert!(d.reason.contains("model card is Archived"), "{}", d.reason);
    assert_eq!(
        w.gov.status_of(&carded.0).as_deref(),
        Some("Decommissioned")
    );
    assert_eq!(w.gov.status_of(&fine.0).as_deref(), Some("Deployed"));
    assert_eq!(w.gov.status_of(&gone.0).as_deref(), Some("Decommissioned"));
}

#[tokio::test]
async fn shutdown_before_the_writes_stops_the_cycle_and_during_them_starts_no_new_one() {
    let mut w = world(Policy::default()).await;
    let pairs: Vec<_> = (0..4)
        .map(|i| {
            w.pair(
                &format!("m{i}"),
                Some("Development Complete"),
                Some(("Development", "InProgress")),
            )
        })
        .collect();

    let cancelled = CycleOptions::default();
    cancelled.cancel.cancel();
    let early = w.engine.cycle(Some(&mut w.store), &cancelled).await;
    assert!(
        matches!(early, Err(govsync::engine::CycleError::Cancelled)),
        "{early:?}"
    );
    assert_eq!(w.writes(), (0, 0));

    // Cancel once the first write is in flight: with one write at a time, it finishes
    // and is recorded; the other three never start.
    w.engine.concurrency = 1;
    w.sm.set_faults(govsync::mock::Faults {
        latency_ms: 300,
        ..Default::default()
    })
    .expect("faults");
    let options = CycleOptions::default();
    let cancel = options.cancel.clone();
    let sm = w.sm.clone();
    let watcher = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while sm.counters().get("UpdateModelPackage") == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no write started within 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        cancel.cancel();
    });
    let report = w
        .engine
        .cycle(Some(&mut w.store), &options)
        .await
        .expect("cycle");
    watcher.await.expect("watcher");
    let outcomes: Vec<&str> = report.results.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "applied").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "cancelled").count(),
        3,
        "{outcomes:?}"
    );
    assert_eq!(w.writes(), (1, 0));
    assert_eq!(
        w.store.journal_len().expect("len"),
        1,
        "the finished write is recorded"
    );
    assert_eq!(report.exit_code(), 0);

    // The next cycle makes the three writes left.
    w.sm.set_faults(govsync::mock::Faults::default())
        .expect("faults");
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Push), 3);
    for (_, arn) in &pairs {
        assert_eq!(w.lifecycle(arn), owned(("Development", "Complete")));
    }
}

#[tokio::test]
async fn the_safety_valve_decommissions_nothing_when_too_many_vanish() {
    let mut w = world(Policy {
        max_decommissions_per_cycle: 2,
        ..Policy::default()
    })
    .await;
    let pairs: Vec<_> = (0..3)
        .map(|i| {
            w.pair(
                &format!("m{i}"),
                Some("Deployed"),
                Some(("Deployment", "Complete")),
            )
        })
        .collect();
    w.cycle().await;
    for (_, arn) in &pairs {
        w.sm.call("DeleteModelPackage", json!({ "ModelPackageName": arn }))
            .expect("delete");
    }
    let report = w.cycle().await;
    let messages: Vec<String> = report.safety_valve.iter().map(|t| t.to_string()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("3 models") && m.contains("limit of 2")),
        "{messages:?}"
    );
    assert_eq!(report.exit_code(), 3);
    assert_eq!(w.writes(), (0, 0));
    for (id, _) in &pairs {
        assert_eq!(w.gov.status_of(id).as_deref(), Some("Deployed"));
    }
}

#[tokio::test]
async fn when_both_sides_changed_the_conflict_policy_decides_and_it_is_reported() {
    let mut w = world(Policy::default()).await;
    let (id, arn) = w.pair(
        "both",
        Some("Under Development"),
        Some(("Development", "InProgress")),
    );
    assert_eq!(w.cycle().await.count(ActionKind::InSync), 1);
    w.gov
        .set_status(&id, "Development Complete")
        .expect("console");
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": arn, "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
    )
    .expect("update");
    let report = w.cycle().await;
    let value = serde_json::to_value(&report.results[0]).expect("json");
    assert_eq!(value["action"]["kind"], "push");
    assert_eq!(value["action"]["conflict"], true, "{value}");
    // The summary counts it (a script reading only the summary sees the conflict).
    let summary = report.summary();
    assert_eq!(
        (summary.conflicts_resolved, summary.push, summary.conflict),
        (1, 1, 0)
    );
    let json: serde_json::Value =
        serde_json::from_str(&govsync::report::json(&report)).expect("json");
    assert_eq!(json["summary"]["conflicts_resolved"], 1);
    assert!(
        govsync::report::table(&report).contains("0 conflict (1 resolved by the policy)"),
        "{}",
        govsync::report::table(&report)
    );
    assert_eq!(
        w.lifecycle(&arn),
        owned(("Development", "Complete")),
        "governance wins by default"
    );
    assert_eq!(
        w.gov.status_of(&id).as_deref(),
        Some("Development Complete")
    );
}

#[tokio::test]
async fn a_cycle_over_1000_linked_models_in_sync_stays_within_the_api_budget() {
    let mut w = world(Policy::default()).await;
    for i in 0..1000 {
        w.pair(
            &format!("m{i}"),
            Some("Deployed"),
            Some(("Deployment", "Complete")),
        );
    }
    w.cycle().await;
    w.sm.counters().reset();
    w.gov.counters().reset();
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::InSync), 1000);
    assert_eq!(w.sm.counters().get("ListModelPackages"), 10);
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 0);
    assert_eq!(w.gov.counters().get("query"), 2);
    assert_eq!(w.writes(), (0, 0));
}

#[tokio::test]
async fn a_dry_run_writes_nothing_anywhere() {
    let mut w = world(Policy::default()).await;
    let (id, arn) = w.pair(
        "m",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    let report = w
        .engine
        .cycle(
            Some(&mut w.store),
            &CycleOptions {
                dry_run: true,
                ..CycleOptions::default()
            },
        )
        .await
        .expect("cycle");
    let value: Value = serde_json::to_value(&report.results[0]).expect("json");
    assert_eq!(value["outcome"], "planned");
    assert_eq!(w.writes(), (0, 0));
    assert_eq!(w.store.journal_len().expect("len"), 0);
    assert!(w.store.baseline().expect("baseline").is_empty());
    assert_eq!(w.lifecycle(&arn), owned(("Development", "InProgress")));
    let _ = id;
}

#[tokio::test]
async fn the_model_filter_plans_and_writes_that_model_only() {
    let mut w = world(Policy::default()).await;
    let (wanted, wanted_arn) = w.pair(
        "wanted",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    let (_, other_arn) = w.pair(
        "other",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    let cycle = |model: &str| CycleOptions {
        model: Some(ModelId::new(model)),
        ..CycleOptions::default()
    };
    let none = w
        .engine
        .cycle(Some(&mut w.store), &cycle("nope"))
        .await
        .expect("cycle");
    assert!(none.results.is_empty(), "{:?}", none.results);
    assert_eq!(w.writes(), (0, 0));

    let only = w
        .engine
        .cycle(Some(&mut w.store), &cycle(wanted.as_str()))
        .await
        .expect("cycle");
    let ids: Vec<&str> = only
        .results
        .iter()
        .map(|r| r.decision.model_id.as_str())
        .collect();
    assert_eq!(ids, [wanted.as_str()]);
    assert_eq!(w.writes(), (1, 0), "one push, for the wanted model");
    assert_eq!(w.lifecycle(&wanted_arn), owned(("Development", "Complete")));
    assert_eq!(
        w.lifecycle(&other_arn),
        owned(("Development", "InProgress"))
    );
}

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
    async fn get_model(&self, model: &ModelId) -> Result<Option<GovernanceModel>, RemoteError> {
        self.mock
            .set_status(&self.model, self.status)
            .expect("console");
        self.inner.get_model(model).await
    }
    async fn set_status(&self, model: &ModelId, status: &GovernanceStatus) -> WriteOutcome {
        self.inner.set_status(model, status).await
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
    let engine = Engine {
        governance: PersonActsMidCycle {
            inner: w.mocks.governance(500),
            mock: w.gov.clone(),
            model: id.clone(),
            status: "On Hold - Development",
        },
        registries: w.mocks.registries(),
        mapping: MappingTable::built_in(),
        policy: Policy::default(),
        concurrency: 8,
        read_model_cards: false,
        recheck_sagemaker: false,
    };
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
    let journal = w.store.history(&HistoryFilter::default()).expect("history");
    assert!(
        journal
            .iter()
            .any(|e| e.model_id == id && e.outcome == "changed-during-cycle"),
        "{journal:?}"
    );
}

/// The built-in table with the two approval lines README suggests.
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

/// A Python with boto3: `BOTO3_PYTHON` (set by .ci/run), else `python3`.
fn python_with_boto3() -> String {
    let python = std::env::var("BOTO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import boto3"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "this test reads the package back with boto3: set BOTO3_PYTHON to a Python \
         with boto3 installed (.ci/run does), or pip install boto3"
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_with_an_approval_status_sets_it_with_the_lifecycle_as_boto3_sees_it() {
    let mut w = world(Policy::default()).await;
    w.engine.mapping = table_with_approvals();
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
    let python = python_with_boto3();
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
    World {
        sm: mocks.sm.clone(),
        gov: mocks.gov.clone(),
        engine: Engine {
            governance,
            registries: mocks.registries(),
            mapping: table,
            policy: Policy::default(),
            concurrency: 8,
            read_model_cards: false,
            recheck_sagemaker: false,
        },
        mocks,
        store: Store::open(":memory:").expect("store"),
    }
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

/// A registry where a pipeline moves one package right after the cycle's listing,
/// before govsync describes it to write.
struct PipelineActsMidCycle {
    inner: SageMakerRegistry,
    mock: MockSageMaker,
}

impl govsync::sagemaker::Registry for PipelineActsMidCycle {
    async fn list_packages(
        &self,
        scope: &govsync::scope::Scope,
    ) -> Result<Listing<govsync::domain::ModelPackage>, RemoteError> {
        self.inner.list_packages(scope).await
    }
    async fn describe_package(
        &self,
        arn: &govsync::domain::PackageArn,
    ) -> Result<govsync::sagemaker::Described, RemoteError> {
        self.mock
            .call(
                "UpdateModelPackage",
                json!({ "ModelPackageArn": arn.as_str(), "ModelLifeCycle": { "Stage": "Testing", "StageStatus": "InProgress" } }),
            )
            .expect("pipeline");
        self.inner.describe_package(arn).await
    }
    async fn set_lifecycle(
        &self,
        arn: &govsync::domain::PackageArn,
        lifecycle: &govsync::domain::Lifecycle,
        description: &str,
        approval: Option<govsync::domain::ApprovalStatus>,
    ) -> WriteOutcome {
        self.inner
            .set_lifecycle(arn, lifecycle, description, approval)
            .await
    }
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
    let engine = Engine {
        governance: w.mocks.governance(500),
        registries: vec![govsync::sagemaker::ScopedRegistry {
            scope: support::remote::scope(&[]),
            registry: PipelineActsMidCycle {
                inner: w.mocks.registry(),
                mock: w.sm.clone(),
            },
        }],
        mapping: MappingTable::built_in(),
        policy: Policy::default(),
        concurrency: 8,
        read_model_cards: false,
        recheck_sagemaker: true,
    };
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
