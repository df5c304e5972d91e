//! `govsync demo`: govsync at work with nothing to set up. Both mock servers run
//! in-process on loopback, seeded with a realistic inventory; the daemon's loop runs
//! against them over their real wire protocols while a short script changes one side
//! or the other, and every transition is printed as the loop makes it.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::daemon;
use crate::engine::{CycleKind, CycleReport};
use crate::metrics::Metrics;
use crate::mock::Admin;
use crate::mock::governance::{API_BASE, MockGovernance, Options as GovernanceOptions};
use crate::mock::sagemaker::MockSageMaker;
use crate::plan::Action;
use crate::status::{LoopStatus, Settings};
use crate::store::Store;

/// The cycle interval of the demo's loop.
const INTERVAL: Duration = Duration::from_secs(1);
/// The full-cycle interval of the demo's loop: a deleted package is concluded gone by
/// a full cycle only.
const FULL_INTERVAL: Duration = Duration::from_secs(3);
/// The demo never waits longer than this for a cycle.
const CYCLE_WAIT: Duration = Duration::from_secs(20);
const PASSWORD_VAR: &str = "DEMO_GOVERNANCE_PASSWORD";

/// The seeded inventory: (model package group, model name, governance status). The
/// package of each model starts at the lifecycle of its status's row, so all start in
/// sync.
const INVENTORY: [(&str, &str, &str); 25] = [
    ("churn-prediction", "churn-propensity-v1", "Proposed"),
    (
        "churn-prediction",
        "churn-propensity-v2",
        "Model Definition",
    ),
    ("churn-prediction", "churn-xgb-2026-10", "Under Development"),
    ("churn-prediction", "churn-tabnet-v1", "Data Acquisition"),
    (
        "churn-prediction",
        "churn-tabnet-v2",
        "Data Acquisition Complete",
    ),
    (
        "churn-prediction",
        "churn-features-v3",
        "Feature Engineering",
    ),
    (
        "churn-prediction",
        "churn-features-v4",
        "Feature Engineering Complete",
    ),
    ("churn-prediction", "churn-lgbm-v5", "Development Complete"),
    (
        "churn-prediction",
        "churn-lgbm-v6",
        "Pre Implementation Review",
    ),
    ("churn-prediction", "churn-lgbm-v7", "Validation Complete"),
    ("churn-prediction", "churn-lgbm-v8", "Awaiting Approval"),
    (
        "churn-prediction",
        "churn-lgbm-v9",
        "Approved for Deployment",
    ),
    ("churn-prediction", "churn-lgbm-v4", "Deployed"),
    ("fraud-detection", "fraud-gbm-v3", "Deployed"),
    ("fraud-detection", "fraud-gbm-v4", "Deployed"),
    ("fraud-detection", "fraud-gbm-v5", "Deployed"),
    (
        "fraud-detection",
        "fraud-gnn-v1",
        "Model Change in Progress",
    ),
    ("fraud-detection", "fraud-gnn-v2", "Rejected"),
    ("fraud-detection", "fraud-rules-v1", "On Hold - Proposal"),
    ("fraud-detection", "fraud-rules-v2", "On Hold - Development"),
    ("fraud-detection", "fraud-gbm-v1", "Decommissioning"),
    ("fraud-detection", "fraud-gbm-v2", "Decommissioned"),
    ("fraud-detection", "fraud-autoenc-v1", "Under Development"),
    ("fraud-detection", "fraud-autoenc-v2", "Validation Complete"),
    ("fraud-detection", "fraud-autoenc-v3", "Awaiting Approval"),
];

/// One seeded model.
struct Seeded {
    id: String,
    arn: String,
}

/// One change of the script, made directly on a mock as a person or pipeline would.
enum Change {
    GovernanceStatus(&'static str),
    Lifecycle(&'static str, &'static str),
    DeletePackage,
}

/// The script: which model, what happens to it, and what govsync should do.
const SCRIPT: [(&str, Change, &str); 5] = [
    (
        "churn-xgb-2026-10",
        Change::GovernanceStatus("Development Complete"),
        "watsonx.governance: a reviewer moves churn-xgb-2026-10 to \"Development Complete\"",
    ),
    (
        "churn-lgbm-v9",
        Change::Lifecycle("Deployment", "Complete"),
        "SageMaker: the deployment pipeline marks churn-lgbm-v9 Deployment / Complete",
    ),
    (
        "churn-lgbm-v4",
        Change::DeletePackage,
        "SageMaker: someone deletes churn-lgbm-v4's model package",
    ),
    (
        "fraud-gbm-v3",
        Change::Lifecycle("Archived", "Complete"),
        "SageMaker: fraud-gbm-v3's package is archived (stage Archived / Complete)",
    ),
    (
        "fraud-gbm-v4",
        Change::Lifecycle("Production", "InService"),
        "SageMaker: fraud-gbm-v4 is set to Production / InService, a lifecycle outside the table",
    ),
];

/// Runs the demo, printing to `out`; `pause` is the wait between script steps.
pub fn run(pause: Duration, out: &mut dyn Write) -> Result<(), String> {
    crate::cli::runtime()?.block_on(async {
        tokio::select! {
            result = play(pause, out) => result,
            () = crate::cli::shutdown_signal() => Err("interrupted".to_string()),
        }
    })
}

fn say(out: &mut dyn Write, text: impl AsRef<str>) -> Result<(), String> {
    writeln!(out, "{}", text.as_ref())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the demo's output: {e}"))
}

async fn play(pause: Duration, out: &mut dyn Write) -> Result<(), String> {
    let started = Instant::now();
    let password = format!("demo-{}", fastrand::u64(..));
    let gov = MockGovernance::new(GovernanceOptions::new(
        "govsync",
        SecretString::from(password.clone()),
    ))
    .map_err(|e| e.to_string())?;
    let sm = MockSageMaker::new(Default::default()).map_err(|e| e.to_string())?;
    let loopback = |e: std::io::Error| format!("cannot listen on loopback: {e}");
    let gov_handle = gov.spawn_on_loopback().await.map_err(loopback)?;
    let sm_handle = sm.spawn_on_loopback().await.map_err(loopback)?;
    say(
        out,
        format!(
            "govsync demo: mock SageMaker at {}, mock watsonx.governance at {}{API_BASE}",
            sm_handle.url(),
            gov_handle.url()
        ),
    )?;

    let config = Config::from_toml(
        &format!(
            r#"
[governance]
base_url = "{gov}{API_BASE}"
auth = {{ kind = "basic", username = "govsync", password_env = "{PASSWORD_VAR}" }}
[sagemaker]
endpoint_url = "{sm}"
sts_endpoint_url = "{sm}"
region = "us-east-1"
[sync]
interval = "{interval}s"
full_interval = "{full}s"
overlap = "5s"
[state]
path = ":memory:"
"#,
            gov = gov_handle.url(),
            sm = sm_handle.url(),
            interval = INTERVAL.as_secs(),
            full = FULL_INTERVAL.as_secs()
        ),
        Path::new("<demo>"),
        &[],
    )
    .map_err(|e| e.to_string())?;
    let seeded = seed(&gov, &sm, &config)?;
    say(
        out,
        format!(
            "Seeded {} governance models: {} linked to packages in churn-prediction and \
             fraud-detection, 1 not linked.",
            seeded.len() + 1,
            seeded.len()
        ),
    )?;

    let metrics = Arc::new(Metrics::new());
    let registries = crate::sagemaker::connect(
        &config.sagemaker,
        &sm.client_config(),
        &|_: &str| None,
        Some(metrics.clone()),
    )
    .await
    .map_err(|e| e.to_string())?;
    let engine = crate::engine::live_engine(
        &config,
        crate::engine::governance_client(&config, SecretString::from(password))?,
        registries,
        metrics.clone(),
    );
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(loopback)?;
    let base_url = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .map_err(|e| e.to_string())?;
    let (status, _) = watch::channel(LoopStatus::new(Instant::now()));
    let (reports, received) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    say(
        out,
        format!(
            "Running the govsync loop: a cycle every {}s (a full one every {}s, incremental \
             ones between); the status page at {base_url}/ (served while the demo runs), \
             Prometheus metrics at {base_url}/metrics\n",
            INTERVAL.as_secs(),
            FULL_INTERVAL.as_secs()
        ),
    )?;
    let store = Store::open_sqlite(":memory:").map_err(|e| e.to_string())?;
    let settings = Settings {
        shutdown_grace: Duration::from_secs(5),
        ..Settings::from_config(&config.sync)
    };
    let loop_ = daemon::run(
        daemon::Daemon {
            engine,
            state: store.into(),
            settings,
            metrics: metrics.clone(),
            events: None,
            publisher: None,
            reports: Some(reports),
        },
        listener,
        status,
        shutdown.clone(),
    );
    let script = async {
        let result = script(out, &gov, &sm, &seeded, received, pause).await;
        shutdown.cancel();
        result
    };
    let (served, played) = tokio::join!(loop_, script);
    let last = played?;
    served.map_err(|e| e.to_string())?;

    say(out, "\nThe last cycle, model by model:\n")?;
    say(out, crate::report::table(&last).trim_end())?;
    let (sm_writes, gov_writes) = (
        sm.counters().get("UpdateModelPackage"),
        gov.counters().get("contents.put"),
    );
    say(
        out,
        format!(
            "\nWrites made: {sm_writes} UpdateModelPackage to SageMaker, {gov_writes} status \
             updates to governance; {} ListModelPackages and {} governance queries in all.\n\
             Done in {:.0?}. Run `govsync reconcile --help` or `govsync run --help` next.",
            sm.counters().get("ListModelPackages"),
            gov.counters().get("query"),
            started.elapsed()
        ),
    )?;
    drop((gov_handle, sm_handle));
    Ok(())
}

/// Creates the inventory on both mocks.
fn seed(
    gov: &MockGovernance,
    sm: &MockSageMaker,
    config: &Config,
) -> Result<Vec<(String, Seeded)>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("seeding the demo failed: {e}");
    for group in ["churn-prediction", "fraud-detection"] {
        sm.call(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": group }),
        )
        .map_err(|e| fail(&e))?;
    }
    let mut seeded = Vec::new();
    for (group, name, status) in INVENTORY {
        let row = config
            .mapping
            .by_governance_status(status)
            .ok_or_else(|| fail(&format!("\"{status}\" is not in the mapping table")))?;
        let created = sm
            .call(
                "CreateModelPackage",
                json!({
                    "ModelPackageGroupName": group,
                    "ModelPackageDescription": name,
                    "ModelLifeCycle": {
                        "Stage": row.lifecycle.stage,
                        "StageStatus": row.lifecycle.stage_status,
                    },
                }),
            )
            .map_err(|e| fail(&e))?;
        let arn = created["ModelPackageArn"]
            .as_str()
            .ok_or_else(|| fail(&"CreateModelPackage returned no ARN"))?
            .to_string();
        let id = gov
            .create_model(name, Some(status), Some(&arn))
            .map_err(|e| fail(&e))?;
        seeded.push((name.to_string(), Seeded { id, arn }));
    }
    gov.create_model("fraud-notebook-experiment", Some("Proposed"), None)
        .map_err(|e| fail(&e))?;
    Ok(seeded)
}

/// Waits for the first finished cycle that started after `after` (any, for `None`),
/// of any kind or, with `full`, a full one; folds every cycle it receives into
/// `fleet` (a full cycle's report replaces it, an incremental one's is absorbed),
/// and returns it.
async fn next_cycle<'f>(
    reports: &mut mpsc::UnboundedReceiver<(Instant, CycleReport)>,
    fleet: &'f mut Option<CycleReport>,
    after: Option<Instant>,
    full: bool,
) -> Result<&'f CycleReport, String> {
    let deadline = Instant::now() + CYCLE_WAIT;
    loop {
        let (started, report) = tokio::time::timeout_at(deadline, reports.recv())
            .await
            .map_err(|_| format!("no cycle finished within {}s", CYCLE_WAIT.as_secs()))?
            .ok_or_else(|| "the govsync loop stopped".to_string())?;
        let wanted =
            after.is_none_or(|after| started > after) && (!full || report.kind == CycleKind::Full);
        match fleet {
            Some(view) if report.kind != CycleKind::Full => view.absorb(&report),
            _ => *fleet = Some(report),
        }
        if wanted {
            return Ok(fleet.as_ref().expect("just folded"));
        }
    }
}

/// Prints what a cycle did that was not printed before; returns how many lines.
fn print_transitions(
    out: &mut dyn Write,
    report: &CycleReport,
    printed: &mut HashSet<(String, String, String)>,
) -> Result<usize, String> {
    let mut lines = 0;
    for r in &report.results {
        let d = &r.decision;
        if matches!(d.action, Action::InSync | Action::AlreadyDecommissioned) {
            continue;
        }
        let from = d.observed_pair();
        if !printed.insert((
            d.model_id.to_string(),
            d.action.kind().to_string(),
            from.clone(),
        )) {
            continue;
        }
        let change = match d.action.target() {
            None => format!("{from} (nothing written)"),
            Some(to) => format!("{from}  →  {to}"),
        };
        say(
            out,
            format!(
                "    {:<13} {:<18} {change}  [{}]\n    {:<13} {}",
                d.action.kind(),
                d.model_name,
                r.outcome.as_str(),
                "",
                d.reason
            ),
        )?;
        lines += 1;
    }
    Ok(lines)
}

async fn script(
    out: &mut dyn Write,
    gov: &MockGovernance,
    sm: &MockSageMaker,
    seeded: &[(String, Seeded)],
    mut reports: mpsc::UnboundedReceiver<(Instant, CycleReport)>,
    pause: Duration,
) -> Result<CycleReport, String> {
    let mut printed = HashSet::new();
    let mut fleet = None;
    let first = next_cycle(&mut reports, &mut fleet, None, false).await?;
    let in_sync = first
        .results
        .iter()
        .filter(|r| matches!(r.decision.action, Action::InSync))
        .count();
    say(
        out,
        format!(
            "First cycle: {in_sync} of {} linked models in sync, {} not linked (left alone).",
            first.results.len(),
            first.unlinked_models
        ),
    )?;
    print_transitions(out, first, &mut printed)?;
    for (step, (name, change, story)) in SCRIPT.iter().enumerate() {
        tokio::time::sleep(pause).await;
        say(out, format!("\n[{}/{}] {story}", step + 1, SCRIPT.len()))?;
        let model = seeded
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
            .expect("the script names seeded models");
        let changed = Instant::now();
        let done = match change {
            Change::GovernanceStatus(status) => {
                gov.set_status(&model.id, status).map_err(|e| e.to_string())
            }
            Change::Lifecycle(stage, stage_status) => sm
                .call(
                    "UpdateModelPackage",
                    json!({ "ModelPackageArn": model.arn,
                            "ModelLifeCycle": { "Stage": stage, "StageStatus": stage_status } }),
                )
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Change::DeletePackage => sm
                .call(
                    "DeleteModelPackage",
                    json!({ "ModelPackageName": model.arn }),
                )
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        done.map_err(|e| format!("step {} of the script failed: {e}", step + 1))?;
        // Only a full cycle concludes that a package is gone.
        let full = matches!(change, Change::DeletePackage);
        let report = next_cycle(&mut reports, &mut fleet, Some(changed), full).await?;
        if print_transitions(out, report, &mut printed)? == 0 {
            say(out, "    (no change)")?;
        }
    }
    // One more cycle: everything written is now seen in sync; only the drift remains.
    let last = next_cycle(&mut reports, &mut fleet, Some(Instant::now()), false).await?;
    print_transitions(out, last, &mut printed)?;
    Ok(last.clone())
}
