//! Events out, against a real EventBridge (moto's server) whose rule delivers to an
//! SQS queue the tests read, as a pipeline would: every applied write publishes one
//! `govsync Status Change` event with the documented fields, a failed write none; a
//! SIGKILL between the outcome and the publish loses none; a bus that does not
//! answer for a while holds no cycle up, and its events go out when it answers.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use govsync::mock::{Admin, Faults};
use serde_json::Value;
use support::moto::Moto;
use support::remote::{Mocks, tail};
use support::world::owned;

const BUS: &str = "govsync-changes";

/// Adds `[events]` to a `govsync run` config: the bus [`BUS`] on moto's server.
fn publish_to_moto(config: &std::path::Path, moto: &Moto) {
    let text = std::fs::read_to_string(config).expect("config");
    let events = format!(
        "\n[events]\nbus = \"{BUS}\"\neventbridge_endpoint_url = \"{}\"\n",
        moto.url
    );
    std::fs::write(config, text + &events).expect("config");
}

/// What SageMaker's side moves to in these tests, from Deployment / Approved: the
/// table pulls it as "Deployed".
const DEPLOYED: (&str, &str) = ("Deployment", "Complete");

/// The loop has published `n` events and none waits.
fn all_published(n: u64) -> impl Fn(&govsync::status::LoopStatus) -> bool {
    move |s| {
        s.outbox
            .as_ref()
            .is_some_and(|o| o.published == n && o.pending == 0)
    }
}

/// Reads the target queue until `n` events arrived (and a moment more, for any
/// extra), at most 30 s.
async fn events(moto: &Moto, queue: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut all = Vec::new();
    while all.len() < n {
        assert!(
            Instant::now() < deadline,
            "{} events of {n} arrived: {all:#?}",
            all.len()
        );
        all.extend(moto.drain(queue).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    all.extend(moto.drain(queue).await);
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_applied_write_publishes_one_event_with_the_documented_fields() {
    let moto = Moto::start().await;
    let target = moto.bus_to_queue(BUS).await;
    let mocks = Mocks::start(&["g"]).await;
    // Three pairs in sync; then a pull, a push.
    let (pulled, pulled_arn) = mocks.approved("g", "pulled");
    let (pushed, pushed_arn) = mocks.pair(
        "g",
        "pushed",
        Some("Under Development"),
        Some(("Development", "InProgress")),
    );
    let (later, later_arn) = mocks.pair(
        "g",
        "later",
        Some("Under Development"),
        Some(("Development", "InProgress")),
    );
    let mut daemon = mocks
        .run_daemon_with(Duration::from_secs(1), |m| {
            (None, Some(mocks.publisher(BUS, &moto.url, m)))
        })
        .await;
    mocks.set_lifecycle(&pulled_arn, DEPLOYED);
    mocks
        .gov
        .set_status(&pushed, "Development Complete")
        .expect("status");
    daemon
        .until(Duration::from_secs(30), "the pull and the push", |s| {
            s.outbox.as_ref().is_some_and(|o| o.published == 2)
        })
        .await;
    assert_eq!(mocks.gov.status_of(&pulled).as_deref(), Some("Deployed"));
    assert_eq!(
        mocks.lifecycle(&pushed_arn),
        owned(("Development", "Complete"))
    );

    // A push that fails: SageMaker throttles every attempt of the update (and the
    // first of each other call, which the listing retries).
    mocks
        .sm
        .set_faults(Faults {
            throttle_first: 3,
            ..Faults::default()
        })
        .expect("faults");
    mocks
        .gov
        .set_status(&later, "Development Complete")
        .expect("status");
    daemon
        .until(Duration::from_secs(60), "the failed push", |s| {
            s.journal_tail
                .iter()
                .any(|e| e.model_id == later && e.action == "push" && e.outcome == "failed")
        })
        .await;
    // SageMaker answers again: the push is made, and published.
    mocks.sm.set_faults(Faults::default()).expect("faults");
    daemon
        .until(Duration::from_secs(60), "three published", all_published(3))
        .await;
    assert_eq!(
        mocks.lifecycle(&later_arn),
        owned(("Development", "Complete"))
    );

    let events = events(&moto, &target, 3).await;
    assert_eq!(events.len(), 3, "one event per applied write: {events:#?}");
    let by_model: BTreeMap<&str, &Value> = events
        .iter()
        .map(|e| (e["detail"]["model"]["id"].as_str().expect("model id"), e))
        .collect();
    assert_eq!(by_model.len(), 3, "one per model: {events:#?}");
    for e in &events {
        assert_eq!(e["source"], "govsync");
        assert_eq!(e["detail-type"], "govsync Status Change");
        assert_eq!(e["resources"][0], e["detail"]["packageArn"]);
        for key in ["reason", "cycle", "at", "value"] {
            assert!(e["detail"][key].is_string(), "{key}: {e:#}");
        }
        assert_eq!(e["detail"]["outcome"], "applied");
    }
    let pull = &by_model[pulled.as_str()]["detail"];
    assert_eq!(pull["action"], "pull");
    assert_eq!(pull["direction"], "sagemaker-to-governance");
    assert_eq!(pull["packageArn"], pulled_arn.as_str());
    assert_eq!(pull["model"]["name"], "pulled");
    assert_eq!(pull["governance"]["from"], "Approved for Deployment");
    assert_eq!(pull["governance"]["to"], "Deployed");
    assert_eq!(pull["sagemaker"]["from"]["stage"], "Deployment");
    assert_eq!(pull["sagemaker"]["from"]["stageStatus"], "Complete");
    assert_eq!(pull["sagemaker"]["to"], pull["sagemaker"]["from"]);
    let push = &by_model[pushed.as_str()]["detail"];
    assert_eq!(push["action"], "push");
    assert_eq!(push["direction"], "governance-to-sagemaker");
    assert_eq!(push["sagemaker"]["from"]["stageStatus"], "InProgress");
    assert_eq!(push["sagemaker"]["to"]["stageStatus"], "Complete");
    assert_eq!(push["governance"]["from"], "Development Complete");
    assert_eq!(push["governance"]["to"], "Development Complete");
    let again = &by_model[later.as_str()]["detail"];
    assert_eq!(again["action"], "push");
    // The publisher's calls are what the IAM policy allows (tests/deploy.rs).
    let metrics = daemon.metrics.encode();
    assert_eq!(
        support::called_operations(&metrics, "eventbridge"),
        govsync::events::publish::PUBLISH_OPERATIONS
            .into_iter()
            .map(String::from)
            .collect(),
        "PUBLISH_OPERATIONS names every EventBridge call and no other"
    );
    assert_eq!(
        support::metric_sample(
            &metrics,
            "govsync_events_published_total{outcome=\"published\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        support::metric_sample(&metrics, "govsync_events_pending"),
        Some(0.0)
    );
    // The sequence numbers are the journal's: distinct, and the failed write's entry
    // (journaled, not published) lies between the first two writes and the last.
    let mut seqs: Vec<i64> = events
        .iter()
        .map(|e| e["detail"]["sequence"].as_i64().expect("sequence"))
        .collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 3);
    assert!(
        seqs[2] > seqs[1] + 1,
        "the failed write has a sequence number too: {seqs:?}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_the_outcome_and_the_publish_loses_no_event() {
    let moto = Moto::start().await;
    let mocks = Mocks::start(&["g"]).await;
    let (model, package) = mocks.approved("g", "pulled");
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, state) = mocks.write_daemon_config(dir.path(), "", "interval = \"1s\"");
    publish_to_moto(&config, &moto);
    let spawn = || support::spawn_logged(&config, dir.path(), "info");
    let log = || tail(&dir.path().join("govsync.log"));
    // The bus does not exist yet: the write's outcome and its event are recorded,
    // the publish fails, and the process is killed before any other try.
    let mut first = spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log().contains("cycle finished") {
        assert!(Instant::now() < deadline, "no first cycle; log:\n{}", log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mocks.set_lifecycle(&package, DEPLOYED);
    while !log().contains("events could not be published") {
        assert!(
            Instant::now() < deadline,
            "no failed publish; log:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("wait");
    assert_eq!(mocks.gov.status_of(&model).as_deref(), Some("Deployed"));
    let seq = {
        let mut store = govsync::store::open_location(
            &govsync::store::Location::Sqlite(state.to_str().expect("utf-8").to_string()),
            govsync::store::Access::Read,
        )
        .await
        .expect("store");
        use govsync::store::StateStore;
        let pending = store.pending_events(10).await.expect("outbox");
        assert_eq!(
            pending.len(),
            1,
            "the event waits in the outbox: {pending:?}"
        );
        assert_eq!(pending[0].1.action, "pull");
        pending[0].0
    };

    // The bus appears; a new process publishes the event after its first cycle.
    let target = moto.bus_to_queue(BUS).await;
    let mut second = spawn();
    let events = events(&moto, &target, 1).await;
    second.kill().expect("SIGKILL");
    second.wait().expect("wait");
    assert!(
        !events.is_empty() && events.len() <= 2,
        "once (or twice after a kill right after the send): {events:#?}"
    );
    for e in &events {
        assert_eq!(
            e["detail"]["sequence"], seq,
            "the same sequence number: {e:#}"
        );
        assert_eq!(e["detail"]["model"]["id"], model.as_str());
    }
}

/// A TCP proxy to `to` that, while `open` is false, accepts connections and never
/// answers (a bus that does not answer), and forwards them while it is true.
async fn proxy(to: String, open: Arc<AtomicBool>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let to = to.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let open = open.clone();
            let to = to.clone();
            tokio::spawn(async move {
                if !open.load(Ordering::SeqCst) {
                    // Held, unanswered, until the client gives up.
                    tokio::time::sleep(Duration::from_secs(120)).await;
                    return;
                }
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_that_does_not_answer_holds_no_cycle_up_and_gets_its_events_later() {
    let moto = Moto::start().await;
    let target = moto.bus_to_queue(BUS).await;
    let open = Arc::new(AtomicBool::new(false));
    let endpoint = proxy(moto.url.clone(), open.clone()).await;
    let mocks = Mocks::start(&["g"]).await;
    let (model, package) = mocks.approved("g", "pulled");
    let mut daemon = mocks
        .run_daemon_with(Duration::from_secs(1), |m| {
            (None, Some(mocks.publisher(BUS, &endpoint, m)))
        })
        .await;
    mocks.set_lifecycle(&package, DEPLOYED);
    daemon
        .until(Duration::from_secs(30), "the pull", |s| {
            s.outbox.as_ref().is_some_and(|o| o.pending == 1)
        })
        .await;
    assert_eq!(mocks.gov.status_of(&model).as_deref(), Some("Deployed"));
    // The publish hangs on the silent bus; the cycles go on, one a second.
    let cycles = daemon.status.borrow().cycles_finished;
    daemon
        .until(Duration::from_secs(30), "cycles go on", |s| {
            s.cycles_finished >= cycles + 5
        })
        .await;
    let waiting = daemon.status.borrow().outbox.clone().expect("outbox");
    assert_eq!((waiting.pending, waiting.published), (1, 0), "{waiting:?}");
    assert!(moto.drain(&target).await.is_empty());

    // The bus answers again: the event goes out at the next try.
    open.store(true, Ordering::SeqCst);
    daemon
        .until(Duration::from_secs(90), "published", all_published(1))
        .await;
    let events = events(&moto, &target, 1).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["detail"]["model"]["id"], model.as_str());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_reconcile_publishes_what_it_wrote_before_it_exits() {
    let moto = Moto::start().await;
    let target = moto.bus_to_queue(BUS).await;
    let mocks = Mocks::start(&["g"]).await;
    let (model, arn) = mocks.pair("g", "proposed", Some("Proposed"), None);
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, _) = mocks.write_daemon_config(dir.path(), "", "");
    publish_to_moto(&config, &moto);
    let out = support::govsync_command(&["reconcile"], &config, dir.path())
        .output()
        .expect("reconcile");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mocks.lifecycle(&arn), owned(("Proposal", "Approved")));
    // Already in the queue when reconcile has exited.
    let events = moto.drain(&target).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["detail"]["model"]["id"], model.as_str());
    assert_eq!(events[0]["detail"]["action"], "push");
}
