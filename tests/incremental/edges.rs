//! Incremental cycles at their edges: a change right after govsync's own write, a
//! governance that takes only date literals, rows that shift between the pages of a
//! full listing, a scope that could not be listed at start.

use govsync::engine::CycleKind;
use govsync::mock::Admin;
use govsync::plan::ActionKind;
use serde_json::json;

use super::support;
use super::support::world::{World, owned};

#[tokio::test]
async fn a_change_right_after_govsyncs_own_write_is_acted_on_by_the_next_incremental_cycle() {
    let mocks = support::remote::Mocks::start(&["g"]).await;
    // 300 models whose package has no lifecycle yet: the first full cycle pushes
    // Proposal/Approved to each, 4 at a time.
    let pairs: Vec<(String, String)> = (0..300)
        .map(|i| mocks.pair("g", &format!("m{i}"), Some("Proposed"), None))
        .collect();
    let (target_model, target) = pairs[0].clone();
    // A pipeline sets the target to Deployment/Complete right after govsync's own
    // write of it returns, while the rest of the write phase runs.
    let acted_after = std::sync::Arc::new(std::sync::Mutex::new(None::<u64>));
    let mut registry = support::remote::Hooked::new(&mocks);
    let (mock, seen) = (mocks.sm.clone(), acted_after.clone());
    registry.after_write = Box::new(move |arn| {
        if arn.as_str() == target {
            let served = mock.counters().get("UpdateModelPackage");
            mock.call(
                "UpdateModelPackage",
                json!({ "ModelPackageArn": arn.as_str(),
                        "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
            )
            .expect("pipeline");
            *seen.lock().expect("lock") = Some(served);
        }
    });
    let engine = govsync::engine::Engine::new(
        mocks.governance(500),
        registry.scoped(),
        govsync::engine::EngineSettings::default(),
    );
    let mut w = World::new(mocks, engine);
    let full = w.run(CycleKind::Full).await;
    assert_eq!(full.applied(ActionKind::Push), 300);
    let acted_after = acted_after
        .lock()
        .expect("lock")
        .expect("the pipeline acted");
    assert!(
        acted_after < 300,
        "the pipeline acted while govsync's write phase was still running ({acted_after} of 300 writes served)"
    );
    // No full cycle in between: incremental ones see the pipeline's change and pull
    // "Deployed" (Deployment/Complete flows SageMaker → governance).
    for _ in 0..2 {
        let report = w.run(CycleKind::Incremental).await;
        assert_eq!(report.kind, CycleKind::Incremental);
        if w.gov.status_of(&target_model).as_deref() == Some("Deployed") {
            return;
        }
    }
    panic!(
        "the pipeline's change made right after govsync's write was ignored: governance shows {:?}",
        w.gov.status_of(&target_model)
    );
}

/// A writer that keeps what the log says, for a test to read.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn with_a_governance_that_takes_only_date_literals_incremental_cycles_still_propagate() {
    let mut governance =
        govsync::mock::governance::Options::new("govsync", secrecy::SecretString::from("pw"));
    governance.object_type.date_literals_only = true;
    let mocks =
        support::remote::Mocks::start_both(Default::default(), governance, &["fraud", "churn"])
            .await;
    let engine = govsync::engine::Engine::new(
        mocks.governance(500),
        mocks.registries(),
        govsync::engine::EngineSettings::default(),
    );
    let mut w = World::new(mocks, engine);
    let pairs: Vec<(String, String)> = (0..4)
        .map(|i| {
            w.pair(
                &format!("m{i}"),
                Some("Under Development"),
                Some(("Development", "InProgress")),
            )
        })
        .collect();
    let log = Captured::default();
    let writer = log.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    assert_eq!(w.run(CycleKind::Full).await.count(ActionKind::InSync), 4);
    // Governance → SageMaker, then SageMaker → governance, each in an incremental cycle.
    w.gov
        .set_status(&pairs[0].0, "Development Complete")
        .expect("console");
    let report = w.run(CycleKind::Incremental).await;
    assert_eq!(report.kind, CycleKind::Incremental);
    assert_eq!(w.lifecycle(&pairs[0].1), owned(("Development", "Complete")));
    assert!(
        govsync::governance::Governance::date_only(&w.engine.governance),
        "governance is now asked with date literals"
    );
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": pairs[1].1,
                "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
    )
    .expect("pipeline");
    let report = w.run(CycleKind::Incremental).await;
    assert_eq!(report.kind, CycleKind::Incremental);
    assert_eq!(w.gov.status_of(&pairs[1].0).as_deref(), Some("Deployed"));
    // Models that did not change are read again (a day's worth), but nothing is
    // written for them.
    let again = w.run(CycleKind::Incremental).await;
    assert!(
        again.results.iter().all(|r| !r.decision.action.writes()),
        "{:?}",
        again.results
    );
    let said = String::from_utf8(log.0.lock().expect("log").clone()).expect("utf-8");
    assert_eq!(
        said.matches("accepts a date").count(),
        1,
        "the fallback is said once:\n{said}"
    );
}

/// A governance `POST /query` over a table that gains a model (sorted first) right
/// after the first page of a listing is answered, while the other pages wait for
/// that: the shift repeats a row on the next page.
#[derive(Clone)]
struct ShiftingTable {
    rows: std::sync::Arc<std::sync::Mutex<Vec<u32>>>,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    first_page: std::sync::Arc<tokio::sync::Notify>,
}

async fn shifting_query(
    axum::extract::State(table): axum::extract::State<ShiftingTable>,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> axum::Json<serde_json::Value> {
    use std::sync::atomic::Ordering;
    let offset = body["offset"].as_u64().unwrap_or(0) as usize;
    let limit = body["limit"].as_u64().unwrap_or(50) as usize;
    let armed = table.armed.load(Ordering::SeqCst);
    if armed && offset > 0 {
        table.first_page.notified().await;
    }
    let page: Vec<serde_json::Value> = {
        let mut rows = table.rows.lock().expect("rows");
        let page = rows
            .iter()
            .skip(offset)
            .take(limit)
            .map(|id| {
                json!({ "fields": [
                    { "name": "Resource ID", "value": id.to_string() },
                    { "name": "Name", "value": format!("model {id}") },
                    { "name": "MRG-Model:Status", "value": { "name": "Proposed" } },
                    { "name": "Integration:External ID", "value": null },
                ] })
            })
            .collect();
        if armed && offset == 0 {
            rows.insert(0, 0);
            table.armed.store(false, Ordering::SeqCst);
        }
        page
    };
    if armed && offset == 0 {
        table.first_page.notify_waiters();
    }
    axum::Json(json!({ "rows": page }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_inserted_between_the_pages_of_a_full_listing_leaves_every_model_listed_once() {
    use govsync::governance::Governance;
    let table = ShiftingTable {
        rows: std::sync::Arc::new(std::sync::Mutex::new((1..=7).collect())),
        armed: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        first_page: std::sync::Arc::new(tokio::sync::Notify::new()),
    };
    let app = axum::Router::new()
        .route("/api/v2/query", axum::routing::post(shifting_query))
        .with_state(table.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/api/v2", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = govsync::governance::OpenPagesClient::new(
        &support::remote::governance_config(
            base,
            govsync::config::AuthConfig::Basic {
                username: "govsync".into(),
                password: govsync::config::SecretSource::Env("UNUSED".into()),
            },
            2,
        ),
        secrecy::SecretString::from("pw"),
    )
    .expect("client");
    // The first listing learns there are 4 pages; the second asks for them at once.
    assert_eq!(client.list_models().await.expect("list").items.len(), 7);
    table.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let listed = client.list_models().await.expect("list");
    let ids: Vec<&str> = listed.items.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7"], "each model once");
    assert!(listed.rejected.is_empty());
    assert!(
        !table.armed.load(std::sync::atomic::Ordering::SeqCst),
        "the table shifted"
    );
}

#[tokio::test]
async fn a_scope_that_could_not_be_listed_at_start_syncs_before_the_next_full_cycle() {
    use govsync::mock::sagemaker::{Options, StsSettings};
    const HUB_KEY: &str = "AKIDHUB";
    const HUB: &str = "100000000000";
    const SPOKE: &str = "111111111111";
    let spoke_role = format!("arn:aws:iam::{SPOKE}:role/govsync");
    let mocks = support::remote::Mocks::start_with(
        Options {
            accounts: [(HUB_KEY.to_string(), HUB.to_string())].into(),
            ..Options::default()
        },
        &[],
    )
    .await;
    let mut linked = Vec::new();
    for account in [HUB, SPOKE] {
        mocks
            .sm
            .call_in(
                account,
                "us-east-1",
                "CreateModelPackageGroup",
                json!({ "ModelPackageGroupName": "g" }),
            )
            .expect("group");
        let arn = mocks
            .sm
            .call_in(
                account,
                "us-east-1",
                "CreateModelPackage",
                json!({ "ModelPackageGroupName": "g" }),
            )
            .expect("package")["ModelPackageArn"]
            .as_str()
            .expect("arn")
            .to_string();
        let id = mocks
            .gov
            .create_model(&format!("m-{account}"), Some("Proposed"), Some(&arn))
            .expect("model");
        linked.push((id, arn));
    }
    // The spoke's role cannot be assumed at start.
    mocks.sm.set_sts(StsSettings {
        denied_roles: [spoke_role.clone()].into(),
        ..StsSettings::default()
    });
    let config = govsync::config::Config::from_toml(
        &format!(
            "[governance]\nbase_url = \"{gov}\"\nauth = {{ kind = \"basic\", username = \"govsync\", password_env = \"PW\" }}\n\
             [sagemaker]\nendpoint_url = \"{sm}\"\nsts_endpoint_url = \"{sm}\"\nmax_attempts = 1\n\
             [[sagemaker.scopes]]\naccount_id = \"{HUB}\"\nregions = [\"us-east-1\"]\n\
             [[sagemaker.scopes]]\naccount_id = \"{SPOKE}\"\nregions = [\"us-east-1\"]\nrole_arn = \"{spoke_role}\"\n",
            gov = mocks.governance_url(),
            sm = mocks.sm_handle.url(),
        ),
        std::path::Path::new("scopes.toml"),
        &[],
    )
    .expect("config");
    let registries = govsync::sagemaker::connect(
        &config.sagemaker,
        &mocks.sm.client_config_for(HUB_KEY),
        &|_: &str| None,
        None,
    )
    .await
    .expect("connect");
    let engine = govsync::engine::Engine::new(
        mocks.governance(500),
        registries,
        govsync::engine::EngineSettings::from_config(&config),
    );
    let mut w = World::new(mocks, engine);
    let full = w.run(CycleKind::Full).await;
    assert_eq!(full.count(ActionKind::ScopeNotObserved), 1);
    assert_eq!(
        full.applied(ActionKind::Push),
        1,
        "the hub's model is pushed"
    );
    // The role can be assumed now: the next incremental cycle lists the spoke in
    // full and pushes its model, with no full cycle in between.
    w.sm.set_sts(StsSettings::default());
    let report = w.run(CycleKind::Incremental).await;
    assert_eq!(report.kind, CycleKind::Incremental);
    assert_eq!(report.applied(ActionKind::Push), 1, "{:?}", report.results);
    let spoke_package =
        w.sm.call_in(
            SPOKE,
            "us-east-1",
            "DescribeModelPackage",
            json!({ "ModelPackageName": linked[1].1 }),
        )
        .expect("describe");
    assert_eq!(spoke_package["ModelLifeCycle"]["Stage"], "Proposal");
    // From then on the spoke is asked for its changes like the hub.
    w.sm.counters().reset();
    let quiet = w.run(CycleKind::Incremental).await;
    assert!(quiet.results.is_empty(), "{:?}", quiet.results);
    assert_eq!(w.sm.counters().get("Search"), 2);
    assert_eq!(w.sm.counters().get("ListModelPackages"), 0);
}
