//! Events in, against a real SQS (moto's server): SageMaker's events reach governance
//! through an event cycle, with no scheduled cycle between; duplicated, reordered,
//! stale and foreign messages cause no wrong or repeated write; a message that keeps
//! failing ends in the dead-letter queue; a SIGKILL between the write and the delete
//! causes a redelivery and no second write.
//!
//! The daemon's interval here is a minute, and every test checks from the cycles'
//! kinds that no scheduled cycle ran after the first: a write seen came from an
//! event cycle.

mod support;

use std::time::{Duration, Instant};

use govsync::mock::{Admin, Faults};
use govsync::status::LoopStatus;
use support::moto::{Moto, package_event};
use support::remote::{Mocks, RunningDaemon, received, tail};

/// The daemon's interval with events on: a minute, the binary's default with events
/// (no scheduled cycle runs within any deadline here but the first).
const INTERVAL: Duration = Duration::from_secs(60);

/// Messages the daemon handled so far (acted, duplicate, ignored, failed).
fn handled(s: &LoopStatus) -> u64 {
    s.events
        .as_ref()
        .map_or(0, |e| e.acted + e.duplicate + e.ignored + e.failed)
}

/// The kinds of the cycles the daemon finished, oldest first.
fn kinds(daemon: &RunningDaemon) -> Vec<&'static str> {
    daemon
        .status
        .borrow()
        .recent_cycles
        .iter()
        .rev()
        .map(|c| c.kind)
        .collect()
}

/// Waits until the queue at `url` is empty (nothing visible, nothing in flight).
async fn drained_queue(moto: &Moto, url: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let depth = moto.depth(url).await;
        if depth == (0, 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the queue still holds {depth:?} (visible, in flight)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What SageMaker's side moves to in these tests, from Deployment / Approved: the
/// table pulls it as "Deployed".
const DEPLOYED: (&str, &str) = ("Deployment", "Complete");

/// moto's SQS with a queue, both mocks with one pair in sync (see
/// [`Mocks::approved`]), and the daemon consuming the queue, its first cycle done.
struct Consuming {
    moto: Moto,
    queue: support::moto::TestQueue,
    mocks: Mocks,
    model: String,
    package: String,
    daemon: RunningDaemon,
}

async fn consuming(queue: &str) -> Consuming {
    let moto = Moto::start().await;
    let queue = moto.queue(queue, Duration::from_secs(30), 3).await;
    let mocks = Mocks::start(&["g"]).await;
    let (model, package) = mocks.approved("g", "churn");
    let daemon = mocks
        .run_daemon_with(INTERVAL, |m| {
            (Some(mocks.event_queue(&queue.url, &moto.url, m)), None)
        })
        .await;
    Consuming {
        moto,
        queue,
        mocks,
        model,
        package,
        daemon,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sagemaker_change_reaches_governance_through_an_event_with_no_cycle_between() {
    let Consuming {
        moto,
        queue,
        mocks,
        model,
        package,
        mut daemon,
    } = consuming("latency").await;
    assert_eq!(kinds(&daemon), ["full"]);
    // The queue is polled before anything is sent (events flow).
    daemon
        .until(Duration::from_secs(30), "the queue answers", |s| {
            s.events.as_ref().is_some_and(|e| e.last_polled.is_some())
        })
        .await;

    mocks.set_lifecycle(&package, DEPLOYED);
    let sent = Instant::now();
    // The event exactly as AWS documents it: no ModelLifeCycle; the package is read.
    moto.send(&queue.url, &package_event(&package, None)).await;
    let deadline = sent + Duration::from_secs(30);
    while mocks.gov.status_of(&model).as_deref() != Some("Deployed") {
        assert!(
            Instant::now() < deadline,
            "governance not updated within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let latency = sent.elapsed();
    println!(
        "event to governance write: {:.0} ms (cargo test --test events a_sagemaker_change -- --nocapture)",
        latency.as_secs_f64() * 1000.0
    );
    daemon
        .until(Duration::from_secs(10), "the event is handled", |s| {
            handled(s) == 1
        })
        .await;
    assert_eq!(
        kinds(&daemon),
        ["full", "event"],
        "no scheduled cycle ran between"
    );
    let status = daemon
        .status
        .borrow()
        .events
        .clone()
        .expect("events status");
    assert_eq!((status.received, status.acted), (1, 1));
    drained_queue(&moto, &queue.url, Duration::from_secs(10)).await;
    let metrics = daemon.metrics.encode();
    assert_eq!(
        support::metric_sample(&metrics, "govsync_events_total{outcome=\"acted\"}"),
        Some(1.0)
    );
    assert!(
        support::metric_sample(&metrics, "govsync_event_age_seconds").is_some_and(|a| a < 30.0),
        "the age of the message acted on is recorded"
    );
    // The message was received and deleted, with calls the IAM policy allows.
    let called = support::called_operations(&metrics, "sqs");
    assert!(
        called.contains("ReceiveMessage") && called.contains("DeleteMessageBatch"),
        "{called:?}"
    );
    assert!(
        called
            .iter()
            .all(|op| govsync::events::QUEUE_OPERATIONS.contains(&op.as_str())),
        "{called:?}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_reordered_stale_and_foreign_messages_cause_no_wrong_or_repeated_write() {
    let Consuming {
        moto,
        queue,
        mocks,
        model,
        package,
        mut daemon,
    } = consuming("noise").await;
    let before = mocks.sm.events().len();
    mocks.set_lifecycle(&package, DEPLOYED);
    // The mock's own event of that change (it carries ModelLifeCycle), forwarded.
    let forwarded = mocks.sm.events()[before..]
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    assert_eq!(forwarded.len(), 1);
    let other_account = "arn:aws:sagemaker:us-east-1:999999999999:model-package/g/1";
    let messages = [
        // Stale, and before the change it reports in the queue: Deployment /
        // Approved is what the package showed before.
        package_event(&package, Some(("Deployment", "Approved"))),
        forwarded[0].clone(),
        // The same change again, as SageMaker may send it, documented shape.
        package_event(&package, None),
        forwarded[0].clone(),
        // Foreign: another source, a package in no scope, not JSON.
        r#"{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}"#.to_string(),
        package_event(other_account, None),
        "hello".to_string(),
    ];
    for m in &messages {
        moto.send(&queue.url, m).await;
    }
    daemon
        .until(Duration::from_secs(30), "every message is handled", |s| {
            handled(s) == messages.len() as u64
        })
        .await;
    drained_queue(&moto, &queue.url, Duration::from_secs(10)).await;
    assert_eq!(mocks.gov.status_of(&model).as_deref(), Some("Deployed"));
    let writes = received(&mocks);
    assert_eq!(
        writes.into_iter().collect::<Vec<_>>(),
        [(
            (
                "governance".to_string(),
                model.clone(),
                "Deployed".to_string()
            ),
            1
        )],
        "one write, to the value the package shows now, and none to SageMaker"
    );
    let status = daemon.status.borrow().events.clone().expect("events");
    assert_eq!(status.ignored, 3, "{status:?}");
    assert_eq!(status.failed, 0, "{status:?}");
    assert_eq!(status.acted + status.duplicate, 4, "{status:?}");
    assert!(status.acted >= 1, "{status:?}");
    assert_eq!(kinds(&daemon)[0], "full");
    assert!(kinds(&daemon)[1..].iter().all(|k| *k == "event"));

    // An event that echoes what is known costs no read.
    let describes = mocks.sm.counters().get("DescribeModelPackage");
    moto.send(&queue.url, &forwarded[0]).await;
    daemon
        .until(Duration::from_secs(30), "the echo is handled", |s| {
            handled(s) == messages.len() as u64 + 1
        })
        .await;
    assert_eq!(
        mocks.sm.counters().get("DescribeModelPackage"),
        describes,
        "an echo is not read"
    );
    assert_eq!(
        daemon.status.borrow().events.as_ref().map(|e| e.duplicate),
        Some(status.duplicate + 1)
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_failing_ends_in_the_dead_letter_queue() {
    let moto = Moto::start().await;
    let queue = moto.queue("failing", Duration::from_secs(30), 2).await;
    let mocks = Mocks::start(&["g"]).await;
    let (model, package) = mocks.approved("g", "churn");
    let mut consumed = None;
    let mut daemon = mocks
        .run_daemon_with(INTERVAL, |m| {
            let events = mocks.event_queue(&queue.url, &moto.url, m);
            consumed = Some(events.clone());
            (Some(events), None)
        })
        .await;
    // What `govsync run` checks at start-up, counted in the daemon's metrics.
    let settings = consumed
        .expect("the queue")
        .settings()
        .await
        .expect("settings");
    assert!(settings.redrive, "the redrive policy is read");
    assert_eq!(settings.visibility_timeout, Some(Duration::from_secs(30)));
    // A message handled and deleted first.
    moto.send(&queue.url, &package_event(&package, None)).await;
    daemon
        .until(Duration::from_secs(30), "the first message", |s| {
            handled(s) == 1
        })
        .await;
    // SageMaker fails every call from now on: the package cannot be read.
    mocks
        .sm
        .set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        })
        .expect("faults");
    mocks.set_lifecycle(&package, DEPLOYED);
    moto.send(&queue.url, &package_event(&package, None)).await;
    // Received twice (the second after retry_delay(1) = 5 s), failed both times;
    // the next receive moves it to the dead-letter queue.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if moto.depth(&queue.dead_letters).await.0 == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the message never reached the dead-letter queue"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = daemon.status.borrow().events.clone().expect("events");
    assert_eq!(
        (status.failed, status.acted, status.duplicate),
        (2, 0, 1),
        "{status:?}"
    );
    assert_eq!(moto.depth(&queue.url).await, (0, 0));
    assert_eq!(
        mocks.gov.status_of(&model).as_deref(),
        Some("Approved for Deployment"),
        "a failed read writes nothing"
    );
    // The calls the consumer made are what the IAM policy allows (tests/deploy.rs).
    assert_eq!(
        support::called_operations(&daemon.metrics.encode(), "sqs"),
        govsync::events::QUEUE_OPERATIONS
            .into_iter()
            .map(String::from)
            .collect(),
        "QUEUE_OPERATIONS names every SQS call and no other"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_the_write_and_the_delete_redelivers_without_a_second_write() {
    let moto = Moto::start().await;
    // Visible again 2 s after a receipt that was not deleted.
    let queue = moto.queue("killed", Duration::from_secs(2), 5).await;
    let mocks = Mocks::start(&["g"]).await;
    let (model, package) = mocks.approved("g", "churn");
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, _state) = mocks.write_daemon_config(
        dir.path(),
        &format!(
            "[sagemaker.events]\nqueue_url = \"{}\"\nsqs_endpoint_url = \"{}\"",
            queue.url, moto.url
        ),
        "interval = \"60s\"",
    );
    let spawn = || support::spawn_logged(&config, dir.path(), "info");
    // The first process: its first full cycle finds the pair in sync; then the
    // event's write lands in governance, its answer held while govsync is killed.
    let mut first = spawn();
    let endpoint = "contents.put";
    mocks.gov.answers().hold(endpoint);
    wait_for(
        dir.path(),
        "the first cycle",
        Duration::from_secs(60),
        || {
            std::fs::read_to_string(dir.path().join("govsync.log"))
                .is_ok_and(|l| l.contains("cycle finished"))
        },
    )
    .await;
    mocks.set_lifecycle(&package, DEPLOYED);
    moto.send(&queue.url, &package_event(&package, None)).await;
    wait_for(
        dir.path(),
        "the held write",
        Duration::from_secs(60),
        || mocks.gov.answers().waiting(endpoint) > 0,
    )
    .await;
    first.kill().expect("SIGKILL");
    first.wait().expect("wait");
    mocks.gov.answers().release(endpoint);
    assert_eq!(mocks.gov.status_of(&model).as_deref(), Some("Deployed"));
    assert_eq!(
        moto.depth(&queue.url).await.0 + moto.depth(&queue.url).await.1,
        1,
        "not deleted"
    );

    // The second process: the message comes back and is handled as a duplicate.
    let mut second = spawn();
    drained_queue(&moto, &queue.url, Duration::from_secs(60)).await;
    second.kill().expect("SIGKILL");
    second.wait().expect("wait");
    let log = tail(&dir.path().join("govsync.log"));
    let governance_writes: usize = received(&mocks)
        .into_iter()
        .filter(|((system, _, _), _)| system == "governance")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(governance_writes, 1, "one write in all; log:\n{log}");
    // The second process received the message again and found nothing to do.
    let (_, restarted) = log
        .rsplit_once("govsync running")
        .expect("the second process started");
    let event_cycle = restarted
        .lines()
        .find(|l| l.contains("cycle finished") && l.contains("kind=\"event\""))
        .unwrap_or_else(|| panic!("no event cycle after the restart; log:\n{log}"));
    assert!(event_cycle.contains(" applied=0 "), "{event_cycle}");
}

/// Polls `done` until it holds, at most `within`; fails with govsync's log in `dir`.
async fn wait_for(dir: &std::path::Path, what: &str, within: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}; govsync's log ends:\n{}",
            tail(&dir.join("govsync.log"))
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
