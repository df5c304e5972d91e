//! Clients of both remote systems pointed at the mock servers, shared by the
//! adapter and engine tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use govsync::mock::Admin;
use serde_json::Value;
use tokio::time::Instant;

use govsync::config::{AuthConfig, GovernanceConfig, RetryMode, SageMakerConfig};
use govsync::mock::sagemaker::MockSageMaker;
use govsync::sagemaker::{SageMakerRegistry, ScopedRegistry};
use govsync::scope::{GroupRef, Scope};

/// SageMaker settings for the mock at `endpoint` (its STS too), one scope: the
/// default credentials' own account and region.
pub fn sagemaker_config(endpoint: &str, max_attempts: u32) -> SageMakerConfig {
    SageMakerConfig {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.into()),
        sts_endpoint_url: Some(endpoint.into()),
        model_package_groups: vec![],
        scopes: vec![],
        retry_mode: RetryMode::Standard,
        max_attempts,
        operation_timeout: Duration::from_secs(60),
        attempt_timeout: Duration::from_secs(5),
        events: None,
    }
}

/// The SageMaker adapter for `mock` served at `endpoint`, with the mock's default
/// credentials and region.
pub fn registry(mock: &MockSageMaker, endpoint: &str, max_attempts: u32) -> SageMakerRegistry {
    SageMakerRegistry::new(
        &mock.client_config(),
        &sagemaker_config(endpoint, max_attempts),
        None,
    )
}

/// The mock's default account in its default region, only `groups` (none: all).
pub fn scope(groups: &[&str]) -> Scope {
    Scope {
        partition: "aws".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        groups: groups
            .iter()
            .map(|g| GroupRef::Own(g.to_string()))
            .collect(),
    }
}

/// Governance settings for the mock whose API is at `base_url`, with govsync's
/// default object type and fields.
pub fn governance_config(base_url: String, auth: AuthConfig, page_size: u32) -> GovernanceConfig {
    GovernanceConfig {
        base_url,
        model_type: "Model".into(),
        status_field: "MRG-Model:Status".into(),
        link_field: "Integration:External ID".into(),
        page_size,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        ca_bundle: None,
        auth,
        write_mode: govsync::config::WriteMode::Field,
        field_write_fallback: false,
        create: None,
        retry: govsync::config::RetryPolicy {
            max_retries: 4,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        },
    }
}

/// A daemon started by [`Mocks::run_daemon`].
pub struct RunningDaemon {
    /// Its HTTP address, `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    shutdown: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The loop's status, as the status page reads it.
    pub status: tokio::sync::watch::Receiver<govsync::status::LoopStatus>,
    /// Its metrics.
    pub metrics: std::sync::Arc<govsync::metrics::Metrics>,
}

impl RunningDaemon {
    /// Waits until `done` holds of the loop's status, at most `within`; fails saying
    /// `what` did not happen, with the status's events, outbox and journal tail.
    pub async fn until(
        &mut self,
        within: Duration,
        what: &str,
        done: impl Fn(&govsync::status::LoopStatus) -> bool,
    ) {
        let reached = tokio::time::timeout(within, self.status.wait_for(|s| done(s)))
            .await
            .map(|r| r.is_ok());
        if reached.is_err() {
            let s = self.status.borrow();
            panic!(
                "{what}: not within {within:?}; events in: {:?}; events out: {:?}; journal: {:?}",
                s.events, s.outbox, s.journal_tail
            );
        }
        assert_eq!(reached, Ok(true), "the loop stopped");
    }

    /// Shuts it down as SIGTERM would and waits for it to stop cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("join")
            .expect("the daemon stops cleanly");
    }
}

/// Both mock servers on ephemeral loopback ports (the governance mock accepts
/// `govsync` / `pw`), with the SageMaker groups given.
pub struct Mocks {
    /// The mock registry.
    pub sm: govsync::mock::sagemaker::MockSageMaker,
    /// The mock governance.
    pub gov: govsync::mock::governance::MockGovernance,
    /// Where the registry listens.
    pub sm_handle: govsync::mock::MockHandle,
    /// Where governance listens.
    pub gov_handle: govsync::mock::MockHandle,
}

impl Mocks {
    /// Starts both mocks and creates the groups.
    pub async fn start(groups: &[&str]) -> Mocks {
        Mocks::start_with(Default::default(), groups).await
    }

    /// Starts both mocks, the SageMaker one with `options`, and creates the groups in
    /// its default account and region.
    pub async fn start_with(options: govsync::mock::sagemaker::Options, groups: &[&str]) -> Mocks {
        Mocks::start_both(
            options,
            govsync::mock::governance::Options::new("govsync", secrecy::SecretString::from("pw")),
            groups,
        )
        .await
    }

    /// Starts both mocks with their options (governance must accept `govsync` /
    /// `pw`), and creates the groups.
    pub async fn start_both(
        options: govsync::mock::sagemaker::Options,
        governance: govsync::mock::governance::Options,
        groups: &[&str],
    ) -> Mocks {
        use govsync::mock::Admin;
        let sm = govsync::mock::sagemaker::MockSageMaker::new(options).expect("sm");
        let gov = govsync::mock::governance::MockGovernance::new(governance).expect("gov");
        let sm_handle = sm.spawn_on_loopback().await.expect("serve");
        let gov_handle = gov.spawn_on_loopback().await.expect("serve");
        for group in groups {
            sm.call(
                "CreateModelPackageGroup",
                serde_json::json!({ "ModelPackageGroupName": group }),
            )
            .expect("group");
        }
        Mocks {
            sm,
            gov,
            sm_handle,
            gov_handle,
        }
    }

    /// Writes `govsync.toml` into `dir` for a `govsync run` against both mocks,
    /// with `sagemaker_extra` added to `[sagemaker]` and `sync` as the `[sync]`
    /// section; the state store is `dir/state.db`. Returns (config, state) paths.
    pub fn write_daemon_config(
        &self,
        dir: &std::path::Path,
        sagemaker_extra: &str,
        sync: &str,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let state = dir.join("state.db");
        let config = dir.join("govsync.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[governance]
base_url = "{gov}"
auth = {{ kind = "basic", username = "govsync", password_env = "OPENPAGES_PASSWORD" }}
[sagemaker]
region = "us-east-1"
endpoint_url = "{sm}"
sts_endpoint_url = "{sm}"
{sagemaker_extra}
[sync]
{sync}
[state]
path = "{state}"
[server]
listen = "127.0.0.1:0"
"#,
                gov = self.governance_url(),
                sm = self.sm_handle.url(),
                state = state.display()
            ),
        )
        .expect("config");
        (config, state)
    }

    /// The governance API's base URL.
    pub fn governance_url(&self) -> String {
        format!(
            "{}{}",
            self.gov_handle.url(),
            govsync::mock::governance::API_BASE
        )
    }

    /// The OpenPages client for the governance mock, `page_size` rows a query.
    pub fn governance(&self, page_size: u32) -> govsync::governance::OpenPagesClient {
        govsync::governance::OpenPagesClient::new(
            &governance_config(
                self.governance_url(),
                AuthConfig::Basic {
                    username: "govsync".into(),
                    password: govsync::config::SecretSource::Env("UNUSED".into()),
                },
                page_size,
            ),
            secrecy::SecretString::from("pw"),
        )
        .expect("client")
    }

    /// The engine `govsync run` builds, over both mocks: each call counted in
    /// `metrics` (the SDK's attempts too), the built-in table, the default policy.
    pub fn live_engine(
        &self,
        metrics: std::sync::Arc<govsync::metrics::Metrics>,
    ) -> govsync::engine::LiveEngine {
        use govsync::metrics::Instrumented;
        govsync::engine::Engine::new(
            Instrumented {
                inner: self.governance(500),
                metrics: metrics.clone(),
            },
            vec![ScopedRegistry {
                scope: scope(&[]),
                registry: Instrumented {
                    inner: SageMakerRegistry::new(
                        &self.sm.client_config(),
                        &sagemaker_config(&self.sm_handle.url(), 3),
                        Some(metrics.clone()),
                    ),
                    metrics,
                },
            }],
            govsync::engine::EngineSettings {
                concurrency: 8,
                ..govsync::engine::EngineSettings::default()
            },
        )
    }

    /// `govsync run`'s loop and HTTP endpoints over both mocks, in this process, with
    /// an in-memory store and a one-hour interval; returns once the first cycle has
    /// finished.
    pub async fn run_daemon(&self) -> RunningDaemon {
        self.run_daemon_with(Duration::from_secs(3600), |_| (None, None))
            .await
    }

    /// [`Mocks::run_daemon`] with cycles every `interval` (full ones every hour),
    /// consuming the event queue and publishing to the bus `events` makes (given the
    /// daemon's metrics).
    pub async fn run_daemon_with(
        &self,
        interval: Duration,
        events: impl FnOnce(
            std::sync::Arc<govsync::metrics::Metrics>,
        ) -> (
            Option<govsync::events::EventQueue>,
            Option<govsync::events::Publisher>,
        ),
    ) -> RunningDaemon {
        let metrics = std::sync::Arc::new(govsync::metrics::Metrics::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (status, mut watcher) = tokio::sync::watch::channel(govsync::status::LoopStatus::new(
            tokio::time::Instant::now(),
        ));
        let shutdown = tokio_util::sync::CancellationToken::new();
        let (queue, publisher) = events(metrics.clone());
        let task = tokio::spawn(govsync::daemon::run(
            govsync::daemon::Daemon {
                engine: self.live_engine(metrics.clone()),
                state: govsync::store::Store::open_sqlite(":memory:")
                    .expect("store")
                    .into(),
                settings: govsync::status::Settings {
                    interval,
                    full_interval: Duration::from_secs(3600),
                    overlap: Duration::from_secs(60),
                    shutdown_grace: Duration::from_secs(5),
                    standby_retry: Duration::from_secs(3),
                },
                metrics: metrics.clone(),
                events: queue,
                publisher,
                reports: None,
            },
            listener,
            status,
            shutdown.clone(),
        ));
        watcher
            .wait_for(|s| s.cycles_finished >= 1)
            .await
            .expect("a cycle finishes");
        RunningDaemon {
            url,
            shutdown,
            task,
            status: watcher,
            metrics,
        }
    }

    /// The publisher to `bus` on the EventBridge server at `endpoint`, as `govsync
    /// run` makes it from `[events]`.
    pub fn publisher(
        &self,
        bus: &str,
        endpoint: &str,
        metrics: std::sync::Arc<govsync::metrics::Metrics>,
    ) -> govsync::events::Publisher {
        govsync::events::Publisher::new(
            &self.sm.client_config(),
            &sagemaker_config(&self.sm_handle.url(), 3),
            &govsync::config::PublishConfig {
                bus: bus.to_string(),
                eventbridge_endpoint_url: Some(endpoint.to_string()),
            },
            Some(metrics),
        )
    }

    /// The event queue at `url` on the SQS server at `endpoint`, as `govsync run`
    /// makes it from `[sagemaker.events]`.
    pub fn event_queue(
        &self,
        url: &str,
        endpoint: &str,
        metrics: std::sync::Arc<govsync::metrics::Metrics>,
    ) -> govsync::events::EventQueue {
        govsync::events::EventQueue::new(
            &self.sm.client_config(),
            &sagemaker_config(&self.sm_handle.url(), 3),
            &govsync::config::EventsConfig {
                queue_url: url.to_string(),
                sqs_endpoint_url: Some(endpoint.to_string()),
            },
            Some(metrics),
        )
    }

    /// The SageMaker adapter for the registry mock, 3 attempts.
    pub fn registry(&self) -> SageMakerRegistry {
        registry(&self.sm, &self.sm_handle.url(), 3)
    }

    /// The engine's SageMaker side for the registry mock: its one default scope.
    pub fn registries(&self) -> Vec<ScopedRegistry<SageMakerRegistry>> {
        vec![ScopedRegistry {
            scope: scope(&[]),
            registry: self.registry(),
        }]
    }

    /// Registers a model package (`CreateModelPackage` with `input`, which names its
    /// group) and returns its ARN.
    pub fn register(&self, input: serde_json::Value) -> String {
        self.sm.call("CreateModelPackage", input).expect("package")["ModelPackageArn"]
            .as_str()
            .expect("arn")
            .to_string()
    }

    /// The lifecycle SageMaker shows for `arn`: (stage, stage status).
    pub fn lifecycle(&self, arn: &str) -> Option<(String, String)> {
        let d = self
            .sm
            .call(
                "DescribeModelPackage",
                serde_json::json!({ "ModelPackageName": arn }),
            )
            .expect("describe");
        let l = d.get("ModelLifeCycle")?;
        Some((
            l["Stage"].as_str()?.to_string(),
            l["StageStatus"].as_str()?.to_string(),
        ))
    }

    /// Someone (a pipeline, a person) sets a package's lifecycle in SageMaker.
    pub fn set_lifecycle(&self, arn: &str, (stage, stage_status): (&str, &str)) {
        self.sm
            .call(
                "UpdateModelPackage",
                serde_json::json!({
                    "ModelPackageArn": arn,
                    "ModelLifeCycle": { "Stage": stage, "StageStatus": stage_status },
                }),
            )
            .expect("update");
    }

    /// A model at "Approved for Deployment" linked to a package in `group` at
    /// Deployment / Approved: in sync until the package goes to Deployment /
    /// Complete, which the table pulls as "Deployed". (model ID, package ARN).
    pub fn approved(&self, group: &str, name: &str) -> (String, String) {
        self.pair(
            group,
            name,
            Some("Approved for Deployment"),
            Some(("Deployment", "Approved")),
        )
    }

    /// A package in `group` with an optional lifecycle, and a governance model named
    /// `name` with an optional status linked to it: (model ID, package ARN).
    pub fn pair(
        &self,
        group: &str,
        name: &str,
        status: Option<&str>,
        lifecycle: Option<(&str, &str)>,
    ) -> (String, String) {
        let mut input = serde_json::json!({ "ModelPackageGroupName": group });
        if let Some((stage, stage_status)) = lifecycle {
            input["ModelLifeCycle"] =
                serde_json::json!({ "Stage": stage, "StageStatus": stage_status });
        }
        let arn = self.sm.call("CreateModelPackage", input).expect("package")["ModelPackageArn"]
            .as_str()
            .expect("arn")
            .to_string();
        let id = self
            .gov
            .create_model(name, status, Some(&arn))
            .expect("model");
        (id, arn)
    }
}

/// Writes govsync made that the mocks applied: `(system, object, value)` with their
/// counts. SageMaker's are the package events whose stage description govsync wrote.
pub fn received(mocks: &Mocks) -> BTreeMap<(String, String, String), usize> {
    let mut writes = BTreeMap::new();
    for event in mocks.sm.events() {
        let lifecycle = &event["detail"]["ModelLifeCycle"];
        let by_govsync = lifecycle["StageDescription"]
            .as_str()
            .is_some_and(|d| d.starts_with("Set by govsync"));
        if event["detail-type"] == "SageMaker Model Package State Change" && by_govsync {
            let key = (
                "sagemaker".to_string(),
                event["detail"]["ModelPackageArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                format!(
                    "{}/{}",
                    lifecycle["Stage"].as_str().unwrap_or_default(),
                    lifecycle["StageStatus"].as_str().unwrap_or_default()
                ),
            );
            *writes.entry(key).or_default() += 1;
        }
    }
    for write in mocks.gov.writes() {
        let status = write["fields"]
            .as_array()
            .and_then(|f| f.first())
            .map(|f| match &f["value"] {
                Value::Object(o) => o["name"].as_str().unwrap_or_default().to_string(),
                other => other.as_str().unwrap_or_default().to_string(),
            })
            .unwrap_or_default();
        let key = (
            "governance".to_string(),
            write["id"].as_str().unwrap_or_default().to_string(),
            status,
        );
        *writes.entry(key).or_default() += 1;
    }
    writes
}

/// The last lines of a log file, for a failure message.
pub fn tail(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

pub fn total(writes: &BTreeMap<(String, String, String), usize>) -> usize {
    writes.values().sum()
}

/// Waits (bounded) until no request is being served by either mock, so that no
/// write of a killed process can land after this.
pub async fn drained(mocks: &Mocks) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while mocks.sm.counters().in_flight() + mocks.gov.counters().in_flight() > 0 {
        assert!(Instant::now() < deadline, "the mocks did not drain");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The writes a journal says reached a remote (applied or recovered), keyed as
/// [`received`] keys them.
pub fn journaled(
    entries: &[govsync::store::JournalEntry],
) -> std::collections::BTreeMap<(String, String, String), usize> {
    let mut journaled = std::collections::BTreeMap::new();
    for e in entries {
        if !matches!(e.outcome.as_str(), "applied" | "recovered") {
            continue;
        }
        let key = match e.action.as_str() {
            "push" => ("sagemaker".to_string(), e.package_arn.clone()),
            _ => ("governance".to_string(), e.model_id.clone()),
        };
        *journaled
            .entry((key.0, key.1, e.to.clone().unwrap_or_default()))
            .or_default() += 1;
    }
    journaled
}

/// Whether every package in `arns` has reached `stage` (read back from the mock).
pub fn at_stage(mocks: &Mocks, arns: &[String], stage: &str) -> bool {
    arns.iter().all(|arn| {
        mocks
            .sm
            .call(
                "DescribeModelPackage",
                serde_json::json!({ "ModelPackageName": arn }),
            )
            .ok()
            .and_then(|d| Some(d.get("ModelLifeCycle")?["Stage"] == stage))
            .unwrap_or(false)
    })
}

/// What a [`Hooked`] registry does beside the real one: a pipeline or a person
/// acting at a chosen moment of a cycle.
pub type Hook = Box<dyn Fn(&govsync::domain::PackageArn) + Send + Sync>;

/// The SageMaker adapter with hooks: `before_describe` runs before each
/// `DescribeModelPackage`, `after_write` after each `UpdateModelPackage` govsync made
/// (its outcome already known, the cycle's other writes still going).
pub struct Hooked {
    pub inner: SageMakerRegistry,
    pub before_describe: Hook,
    pub after_write: Hook,
}

impl Hooked {
    /// The adapter for `mocks`' registry, with no hooks yet.
    pub fn new(mocks: &Mocks) -> Hooked {
        Hooked {
            inner: mocks.registry(),
            before_describe: Box::new(|_| {}),
            after_write: Box::new(|_| {}),
        }
    }

    /// As the engine's one scope (the mock's default account and region).
    pub fn scoped(self) -> Vec<ScopedRegistry<Hooked>> {
        vec![ScopedRegistry {
            scope: scope(&[]),
            registry: self,
        }]
    }
}

impl govsync::sagemaker::Registry for Hooked {
    async fn list_packages(
        &self,
        scope: &Scope,
    ) -> Result<govsync::remote::Listing<govsync::domain::ModelPackage>, govsync::remote::RemoteError>
    {
        self.inner.list_packages(scope).await
    }
    async fn list_changed(
        &self,
        scope: &Scope,
        since: std::time::SystemTime,
    ) -> Result<govsync::remote::Listing<govsync::domain::ModelPackage>, govsync::remote::RemoteError>
    {
        self.inner.list_changed(scope, since).await
    }
    async fn describe_package(
        &self,
        arn: &govsync::domain::PackageArn,
    ) -> Result<govsync::sagemaker::Described, govsync::remote::RemoteError> {
        (self.before_describe)(arn);
        self.inner.describe_package(arn).await
    }
    async fn set_lifecycle(
        &self,
        arn: &govsync::domain::PackageArn,
        lifecycle: &govsync::domain::Lifecycle,
        description: &str,
        approval: Option<govsync::domain::ApprovalStatus>,
    ) -> govsync::remote::WriteOutcome {
        let outcome = self
            .inner
            .set_lifecycle(arn, lifecycle, description, approval)
            .await;
        (self.after_write)(arn);
        outcome
    }
}
