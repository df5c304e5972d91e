//! The journal's promise with the real binary: `govsync run` on 200 models against
//! both mocks with faults on, killed with SIGKILL ten times at random points of its
//! write phase and restarted on the same state file, then left to converge. Every
//! write the mocks received is in the journal as applied or recovered, and the
//! journal claims no write the mocks did not receive. Each run draws a new seed for
//! the faults and the kill points, and says it; `GOVSYNC_CRASH_SEED=N` replays one.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use govsync::mock::{Admin, Faults};
use govsync::store::StateStore;
use govsync::store::{HistoryFilter, Store};
use support::remote::{drained, received, tail, total};
use tokio::time::Instant;

const PUSHES: usize = 100;
const PULLS: usize = 100;
const KILLS: usize = 10;

/// Every kind of fault, and a delay after each request is served (so a kill often
/// lands after a write took effect and before govsync learnt so).
fn faults(seed: u64) -> Faults {
    Faults {
        throttle_rate: 0.2,
        error_rate: 0.05,
        drop_rate: 0.02,
        latency_ms: 10,
        jitter_ms: 60,
        retry_after_ms: 5,
        seed,
        ..Faults::default()
    }
}

fn spawn(config: &Path, dir: &Path) -> std::process::Child {
    support::spawn_logged(config, dir, "warn")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_that_reached_a_remote_is_journaled_across_sigkill() {
    let started = Instant::now();
    let mocks = support::remote::Mocks::start(&["g"]).await;
    let mut pushes = Vec::new();
    let mut pulls = Vec::new();
    for i in 0..PUSHES {
        pushes.push(mocks.pair("g", &format!("push-{i}"), Some("Proposed"), None));
    }
    for i in 0..PULLS {
        pulls.push(mocks.pair(
            "g",
            &format!("pull-{i}"),
            None,
            Some(("Deployment", "Complete")),
        ));
    }
    let push_arns: Vec<String> = pushes.iter().map(|(_, arn)| arn.clone()).collect();
    // A new seed every run (it is printed with every failure); set
    // GOVSYNC_CRASH_SEED to replay one.
    let seed = match std::env::var("GOVSYNC_CRASH_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|e| panic!("GOVSYNC_CRASH_SEED {text:?} is not a number: {e}")),
        Err(_) => fastrand::u64(1..),
    };
    eprintln!("crash test seed {seed} (replay: GOVSYNC_CRASH_SEED={seed} cargo test --test crash)");
    mocks.sm.set_faults(faults(seed)).expect("faults");
    mocks.gov.set_faults(faults(seed + 1)).expect("faults");

    let dir = tempfile::tempdir().expect("tempdir");
    let (config, state) = mocks.write_daemon_config(
        dir.path(),
        "max_attempts = 10",
        "interval = \"1s\"\nconcurrency = 4",
    );

    // Kill it ten times, each after a random number of new writes have landed and a
    // random few milliseconds more: between an intent and its write, a write and its
    // outcome, or anywhere else.
    let mut rng = fastrand::Rng::with_seed(seed);
    for kill in 0..KILLS {
        let before = total(&received(&mocks));
        let wanted = before + rng.usize(1..=12);
        let mut child = spawn(&config, dir.path());
        let deadline = Instant::now() + Duration::from_secs(20);
        while total(&received(&mocks)) < wanted && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..40))).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        drained(&mocks).await;
        eprintln!(
            "kill {}: {} writes received so far (seed {seed})",
            kill + 1,
            total(&received(&mocks))
        );
    }

    // Then let it run until both sides are exact and no intent is left open. The
    // faults stop here: what is under test is that the kills lost nothing, and
    // without faults convergence takes a few cycles, not the throttled retries'.
    mocks.sm.set_faults(Faults::default()).expect("faults");
    mocks.gov.set_faults(Faults::default()).expect("faults");
    let mut child = spawn(&config, dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let converged = support::remote::at_stage(&mocks, &push_arns, "Proposal")
            && pulls
                .iter()
                .all(|(id, _)| mocks.gov.status_of(id).as_deref() == Some("Deployed"));
        let open = match read(&state).await {
            Ok(mut store) => store.open_intents().await.map_or(usize::MAX, |o| o.len()),
            Err(_) => usize::MAX,
        };
        if converged && open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not converged (open intents: {open}, seed {seed}); govsync's log ends:\n{}",
            tail(&dir.path().join("govsync.log"))
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    drained(&mocks).await;

    let mut store = read(&state).await.expect("store");
    assert!(store.open_intents().await.expect("intents").is_empty());
    let entries = store
        .history(&HistoryFilter::default())
        .await
        .expect("history");
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for e in &entries {
        *outcomes.entry(e.outcome.clone()).or_default() += 1;
    }
    let journaled = support::remote::journaled(&entries);
    let received = received(&mocks);
    eprintln!(
        "{} writes received, {} journaled as applied or recovered (journal outcomes \
         {outcomes:?}), {:.1} s, seed {seed}",
        total(&received),
        total(&journaled),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        journaled,
        received,
        "every write the mocks received is journaled, and nothing else is (seed {seed}); \
         govsync's log ends:\n{}",
        tail(&dir.path().join("govsync.log"))
    );
    assert!(total(&received) >= PUSHES + PULLS);
}

/// The store at `path`, opened to read beside the daemon.
async fn read(path: &std::path::Path) -> Result<Store, String> {
    let location = govsync::store::Location::Sqlite(path.to_str().expect("utf-8").to_string());
    govsync::store::open_location(&location, govsync::store::Access::Read).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_right_after_a_creates_post_leaves_exactly_one_model() {
    let mocks = support::remote::Mocks::start(&["g"]).await;
    let package = mocks.register(serde_json::json!({ "ModelPackageGroupName": "g" }));
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, state) = mocks.write_daemon_config(dir.path(), "", "interval = \"1h\"");
    // Creation on: the one ungoverned package gets a model.
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replacen(
            "[sagemaker]",
            "[governance.create]\nparent_id = \"4242\"\n[sagemaker]",
            1,
        ),
    )
    .expect("config");
    // The model is created, then the answer is held while govsync is killed: it
    // never learns its POST landed.
    killed_after_the_write_landed(&mocks, &config, dir.path(), "contents.post").await;
    assert_eq!(
        mocks.gov.models().len(),
        1,
        "the POST landed before the kill"
    );

    // Restarted on the same state: its first full cycle sees the model linking the
    // package, creates no second one, and resolves the open intent.
    let create = journaled_after_restart(&config, &state, dir.path(), "create").await;
    let models = mocks.gov.models();
    assert_eq!(models.len(), 1, "exactly one model: {models:?}");
    assert_eq!(models[0].2.as_deref(), Some(package.as_str()));
    assert_eq!(create.outcome, "recovered", "{create:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_a_links_write_and_its_outcome_is_resolved_like_any_write() {
    let mocks = support::remote::Mocks::start(&["g"]).await;
    let model = mocks
        .gov
        .create_model("named-by-its-package", Some("Proposed"), None)
        .expect("model");
    let package = mocks.register(serde_json::json!({ "ModelPackageGroupName": "g",
        "CustomerMetadataProperties": { "governance-model-id": model } }));
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, state) = mocks.write_daemon_config(dir.path(), "", "interval = \"1h\"");
    // The link is written, then the answer is held while govsync is killed.
    killed_after_the_write_landed(&mocks, &config, dir.path(), "contents.put").await;
    // Restarted: the open intent is resolved from what the link field shows.
    let link = journaled_after_restart(&config, &state, dir.path(), "link").await;
    assert_eq!(link.outcome, "recovered", "{link:?}");
    assert_eq!(link.to.as_deref(), Some(package.as_str()));
    assert_eq!(
        mocks
            .gov
            .field_of(&model, "Integration:External ID")
            .as_deref(),
        Some(package.as_str())
    );
}

/// Runs govsync until its write to governance's `endpoint` has taken effect, holds
/// the answer at the mock while the process is SIGKILLed, then lets it go: the write
/// landed, and govsync never learnt so.
async fn killed_after_the_write_landed(
    mocks: &support::remote::Mocks,
    config: &Path,
    dir: &Path,
    endpoint: &str,
) {
    mocks.gov.answers().hold(endpoint);
    let mut child = spawn(config, dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while mocks.gov.answers().waiting(endpoint) == 0 {
        assert!(
            Instant::now() < deadline,
            "no {endpoint} within 60 s; govsync's log ends:\n{}",
            tail(&dir.join("govsync.log"))
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    mocks.gov.answers().release(endpoint);
}

/// Restarts govsync on the same state until the journal holds an entry of
/// `action` (the open intent resolved), stops it, and returns that entry.
async fn journaled_after_restart(
    config: &Path,
    state: &Path,
    dir: &Path,
    action: &str,
) -> govsync::store::JournalEntry {
    let mut child = spawn(config, dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    let entry = loop {
        let entries = match read(state).await {
            Ok(mut store) => store
                .history(&HistoryFilter::default())
                .await
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if let Some(entry) = entries.into_iter().find(|e| e.action == action) {
            break entry;
        }
        assert!(
            Instant::now() < deadline,
            "the open {action} was not resolved; govsync's log ends:\n{}",
            tail(&dir.join("govsync.log"))
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    entry
}
