//! `govsync run`: the loop's timing (paused clock), the HTTP endpoints against both
//! mock servers, and a clean shutdown of the real binary on SIGTERM mid-cycle.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use govsync::daemon;
use govsync::domain::{
    ApprovalStatus, GovernanceModel, GovernanceStatus, Lifecycle, ModelId, ModelPackage, PackageArn,
};
use govsync::engine::Engine;
use govsync::governance::Governance;
use govsync::metrics::Metrics;
use govsync::mock::Admin;
use govsync::remote::{Listing, RemoteError, WriteOutcome};
use govsync::sagemaker::{Described, Registry, ScopedRegistry};
use govsync::scope::Scope;
use govsync::status::{LoopStatus, Settings};
use govsync::store::StateStore;
use govsync::store::Store;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

// ---- the loop's timing, with a paused clock and in-memory sides ----------------------

/// Governance with no models.
struct NoModels;

impl Governance for NoModels {
    async fn list_models(&self) -> Result<Listing<GovernanceModel>, RemoteError> {
        Ok(Listing::default())
    }
    async fn list_models_changed(
        &self,
        _: std::time::SystemTime,
    ) -> Result<Listing<GovernanceModel>, RemoteError> {
        Ok(Listing::default())
    }
    async fn get_model(&self, _: &ModelId) -> Result<Option<GovernanceModel>, RemoteError> {
        Ok(None)
    }
    async fn set_status(&self, _: &ModelId, _: &GovernanceStatus) -> WriteOutcome {
        WriteOutcome::Applied
    }
    async fn set_link(&self, _: &ModelId, _: &govsync::domain::PackageArn) -> WriteOutcome {
        WriteOutcome::Applied
    }
    async fn create_model(
        &self,
        _: &str,
        _: &GovernanceStatus,
        _: &govsync::domain::PackageArn,
    ) -> WriteOutcome {
        WriteOutcome::Applied
    }
}

/// A registry whose listing (full, or of changes) takes `durations[n]` on the n-th
/// cycle, and which notes when each starts, which kind it is, and how many run at
/// once.
#[derive(Default)]
struct SlowListing {
    durations: Vec<Duration>,
    starts: std::sync::Mutex<Vec<(Instant, &'static str)>>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

impl SlowListing {
    async fn list(&self, kind: &'static str) -> Result<Listing<ModelPackage>, RemoteError> {
        let n = {
            let mut starts = self.starts.lock().expect("lock");
            starts.push((Instant::now(), kind));
            starts.len() - 1
        };
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.durations.get(n).copied().unwrap_or_default()).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(Listing::default())
    }
}

/// The registry handed to the engine; the test keeps another handle on the listing.
struct Slow(Arc<SlowListing>);

impl Registry for Slow {
    async fn list_packages(&self, _: &Scope) -> Result<Listing<ModelPackage>, RemoteError> {
        self.0.list("full").await
    }
    async fn list_changed(
        &self,
        _: &Scope,
        _: std::time::SystemTime,
    ) -> Result<Listing<ModelPackage>, RemoteError> {
        self.0.list("incremental").await
    }
    async fn describe_package(&self, _: &PackageArn) -> Result<Described, RemoteError> {
        Ok(Described::NotFound)
    }
    async fn set_lifecycle(
        &self,
        _: &PackageArn,
        _: &Lifecycle,
        _: &str,
        _: Option<ApprovalStatus>,
    ) -> WriteOutcome {
        WriteOutcome::Applied
    }
}

#[tokio::test(start_paused = true)]
async fn cycles_start_every_interval_with_jitter_and_a_slow_one_delays_the_next() {
    let interval = Duration::from_secs(60);
    let registry = Arc::new(SlowListing {
        // The third cycle takes 150 s: longer than two intervals.
        durations: vec![
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(150),
        ],
        ..SlowListing::default()
    });
    let engine = Engine::new(
        NoModels,
        vec![ScopedRegistry {
            scope: support::remote::scope(&[]),
            registry: Slow(registry.clone()),
        }],
        govsync::engine::EngineSettings {
            concurrency: 8,
            ..govsync::engine::EngineSettings::default()
        },
    );
    let mut store = Store::open_sqlite(":memory:").expect("store");
    let metrics = Metrics::new();
    let (status, watcher) = watch::channel(LoopStatus::new(Instant::now()));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let t0 = Instant::now();
    let stopper = async {
        tokio::time::sleep(Duration::from_secs(400)).await;
        stop.cancel();
    };
    let settings = Settings {
        interval,
        full_interval: Duration::from_secs(180),
        overlap: Duration::from_secs(60),
        shutdown_grace: Duration::from_secs(5),
        standby_retry: Duration::from_secs(3),
    };
    tokio::join!(
        daemon::run_loop(
            &engine,
            &mut store,
            settings,
            &metrics,
            &status,
            &shutdown,
            Default::default()
        ),
        stopper
    );
    let (starts, kinds): (Vec<Duration>, Vec<&str>) = registry
        .starts
        .lock()
        .expect("lock")
        .iter()
        .map(|(s, kind)| (s.duration_since(t0), *kind))
        .unzip();
    assert_eq!(starts[0], Duration::ZERO, "the first cycle starts at once");
    for pair in starts[..3].windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (Duration::from_secs(54)..=Duration::from_secs(66)).contains(&gap),
            "{starts:?}"
        );
    }
    // The 150 s cycle ends after its next start was due: the next starts right after it.
    assert_eq!(
        starts[3],
        starts[2] + Duration::from_secs(150),
        "{starts:?}"
    );
    // The first cycle is full, those within sync.full_interval (180 s ± 10%) of it
    // incremental, and the first one after that full again.
    assert_eq!(
        kinds[..4],
        ["full", "incremental", "incremental", "full"],
        "{starts:?}"
    );
    assert_eq!(
        registry.most_at_once.load(Ordering::SeqCst),
        1,
        "never two cycles at once"
    );
    assert_eq!(watcher.borrow().cycles_finished, starts.len() as u64);
    let text = metrics.encode();
    for kind in ["full", "incremental"] {
        let n = kinds.iter().filter(|k| **k == kind).count();
        assert!(
            text.contains(&format!(
                "govsync_cycles_total{{kind=\"{kind}\",outcome=\"ok\"}} {n}"
            )),
            "{text}"
        );
    }
}

// ---- the HTTP endpoints against both mocks ------------------------------------------

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_running_daemon_reports_health_readiness_and_metrics() {
    let mocks = support::remote::Mocks::start(&["fraud"]).await;
    for i in 0..3 {
        let status = if i == 0 {
            "Approved for Deployment"
        } else {
            "Deployed"
        };
        mocks.pair(
            "fraud",
            &format!("m{i}"),
            Some(status),
            Some(("Deployment", "Complete")),
        );
    }
    mocks
        .gov
        .create_model("unlinked", Some("Proposed"), None)
        .expect("model");

    let daemon = mocks.run_daemon().await;
    let url = daemon.url.clone();

    assert_eq!(get(&format!("{url}/healthz")).await.0, 200);
    // The container health check asks the same endpoint.
    let base = url.clone();
    let probe = move |path: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_govsync"))
            .args(["healthcheck", "--url", &format!("{base}{path}")])
            .env_clear()
            .output()
            .expect("run govsync healthcheck")
    };
    let (healthy, missing) =
        tokio::task::spawn_blocking(move || (probe("/healthz"), probe("/nowhere")))
            .await
            .expect("join");
    assert!(healthy.status.success(), "{healthy:?}");
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert_eq!(
        get(&format!("{url}/readyz")).await,
        (200, "ready\n".to_string())
    );
    let (code, text) = get(&format!("{url}/metrics")).await;
    assert_eq!(code, 200);
    // Every metric and label the alerting rules and the dashboard use is here.
    let expressions = support::monitoring_expressions();
    assert!(expressions.len() > 15, "{expressions:?}");
    for (expression, legend) in &expressions {
        support::assert_expression_metrics_exist(expression, legend, &text);
    }
    // m0: Approved for Deployment while SageMaker says Deployment/Complete, no
    // baseline: the conflict policy (governance wins) pushes it back; once that push
    // is applied the model is in sync, not a conflict left for a person.
    assert_eq!(
        support::metric_sample(&text, r#"govsync_cycles_total{kind="full",outcome="ok"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        support::metric_sample(&text, r#"govsync_models{state="in-sync"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        support::metric_sample(&text, r#"govsync_models{state="conflict"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        support::metric_sample(&text, r#"govsync_models{state="unlinked"}"#),
        Some(1.0),
        "{text}"
    );
    // Every package is linked: none ungoverned in the one scope.
    assert_eq!(
        support::metric_sample(
            &text,
            r#"govsync_ungoverned_packages{scope="123456789012/us-east-1"}"#
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        support::metric_sample(
            &text,
            r#"govsync_actions_total{kind="push",outcome="applied"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        support::metric_sample(
            &text,
            r#"govsync_remote_calls_total{system="sagemaker",operation="set_lifecycle",outcome="ok"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        support::metric_sample(
            &text,
            r#"govsync_remote_calls_total{system="governance",operation="list_models",outcome="ok"}"#
        ),
        Some(1.0),
        "{text}"
    );
    // m0's push was the conflict policy's choice: counted as a resolved conflict.
    assert_eq!(
        support::metric_sample(&text, "govsync_conflicts_resolved_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(support::metric_sample(&text, "govsync_ready"), Some(1.0));
    assert_eq!(
        support::metric_sample(&text, "govsync_sync_interval_seconds"),
        Some(3600.0)
    );
    assert_eq!(
        support::metric_sample(
            &text,
            r#"govsync_cycle_duration_seconds_count{kind="full"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        support::metric_sample(&text, "govsync_last_successful_cycle_timestamp_seconds")
            .is_some_and(|t| t > 1.7e9)
    );
    for line in text.lines().filter(|l| l.starts_with("govsync_")) {
        assert!(
            !line.contains("arn:") && !line.contains("m0"),
            "no identifiers in labels: {line}"
        );
    }

    daemon.stop().await;
}

// ---- the real binary, stopped by SIGTERM mid-cycle -----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_cycle_finishes_the_write_in_flight_records_it_and_exits_0() {
    let mocks = support::remote::Mocks::start(&["fraud"]).await;
    for i in 0..3 {
        mocks.pair(
            "fraud",
            &format!("m{i}"),
            Some("Development Complete"),
            Some(("Development", "InProgress")),
        );
    }
    let sm = &mocks.sm;
    // The first write is held at the mock's gate until the daemon has taken the
    // signal in: it is in flight for as long as the test needs, not for a latency.
    sm.gate().hold("UpdateModelPackage");

    let dir = tempfile::tempdir().expect("tempdir");
    let (config, state) = mocks.write_daemon_config(
        dir.path(),
        "",
        "interval = \"1h\"\nconcurrency = 1\nshutdown_grace = \"20s\"",
    );
    let mut child = support::govsync_run(&config, dir.path())
        .env("GOVSYNC_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn govsync");
    // Its log, line by line, as it comes.
    let (lines, mut log) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    while sm.gate().waiting("UpdateModelPackage") == 0 {
        assert!(Instant::now() < deadline, "no write started within 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut logged: Vec<String> = Vec::new();
    while !logged.iter().any(|l| l.contains("shutdown requested")) {
        let line = tokio::time::timeout_at(deadline, log.recv())
            .await
            .unwrap_or_else(|_| panic!("the daemon did not take SIGTERM in: {logged:?}"))
            .unwrap_or_else(|| panic!("the daemon's log ended: {logged:?}"));
        logged.push(line);
    }
    sm.gate().release("UpdateModelPackage");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    while let Some(line) = log.recv().await {
        logged.push(line);
    }
    let logs = logged.join("\n");
    assert_eq!(status.code(), Some(0), "{logs}");

    assert_eq!(
        sm.counters().get("UpdateModelPackage"),
        1,
        "no write started after SIGTERM"
    );
    let events: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    let transitions: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["target"] == "govsync::transition")
        .collect();
    assert_eq!(transitions.len(), 1, "{logs}");
    assert_eq!(transitions[0]["action"], "push");
    assert_eq!(transitions[0]["outcome"], "applied");
    assert!(
        events.iter().any(|e| e["message"] == "govsync stopped"),
        "{logs}"
    );
    // The cycle's count says what happened, not what was planned.
    let finished = events
        .iter()
        .find(|e| e["message"] == "cycle finished")
        .unwrap_or_else(|| panic!("no cycle finished line: {logs}"));
    assert_eq!(
        (
            &finished["planned"],
            &finished["applied"],
            &finished["cancelled"],
            &finished["failed"],
            &finished["pushed"]
        ),
        (&3.into(), &1.into(), &2.into(), &0.into(), &1.into()),
        "{finished}"
    );
    // The password never reaches a log line, in any form (the Basic header's base64 too).
    support::assert_no_secret(&logs, "govsync", "pw", "the daemon's logs");

    let mut store = Store::open_sqlite(state.to_str().expect("utf-8 path")).expect("store");
    assert_eq!(
        store.journal_len().await.expect("journal"),
        1,
        "the finished write is recorded"
    );
}
