//! The binary's exit codes and output, as a user or a script sees them.

#[path = "../support/mod.rs"]
mod support;

mod first_contact;
mod link;

use std::process::{Command, Output};

/// The binary with `args`, in the repository, with only `env` in its environment:
/// nothing of the machine's (a `GOVSYNC_…` variable there would be read as an
/// override, and refused if it is none).
fn govsync(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_govsync"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear();
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn mapping_check_passes_on_the_shipped_table() {
    let out = govsync(&["mapping", "check", "config/mapping.toml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("config/mapping.toml: valid, 19 rows"));
}

#[test]
fn an_invalid_mapping_exits_1_naming_the_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("m.toml");
    std::fs::write(&file, "[[row]]\ngovernance_status = \"A\"\nstage = \"S\"\nstage_status = \"X\"\ndirection = \"up\"\n")
        .expect("write");
    let out = govsync(
        &["mapping", "check", file.to_str().expect("utf-8 path")],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("m.toml: row 1 (line 1): unknown direction \"up\""),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn config_check_reads_the_secret_without_printing_it() {
    let secret = "pa55-w0rd-never-shown";
    let out = govsync(
        &["config", "check", "--offline"],
        &[
            ("OPENPAGES_PASSWORD", secret),
            ("GOVSYNC_SYNC_INTERVAL", "2m"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("every 2m") && stdout.contains("sync.interval from GOVSYNC_SYNC_INTERVAL"),
        "{stdout}"
    );
    support::assert_no_secret(&stdout, "govsync", secret, "config check's output");
    support::assert_no_secret(
        &text(&out.stderr),
        "govsync",
        secret,
        "config check's errors",
    );
}

#[test]
fn config_check_exits_1_when_the_secret_is_missing() {
    // No environment at all: OPENPAGES_PASSWORD is not set.
    let out = govsync(&["config", "check", "config/govsync.toml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("OPENPAGES_PASSWORD, which is not set"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_bad_override_exits_1_naming_the_variable() {
    let out = govsync(
        &["config", "check"],
        &[
            ("OPENPAGES_PASSWORD", "x"),
            ("GOVSYNC_SYNC_INTERVAL", "often"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "`sync.interval` (set by GOVSYNC_SYNC_INTERVAL): \"often\" is not a duration"
        ),
        "{stderr}"
    );
}

#[test]
fn the_demo_plays_every_kind_of_transition_and_exits_0() {
    let out = govsync(&["demo", "--pause", "0s"], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for expected in [
        "First cycle: 25 of 25 linked models in sync, 1 not linked",
        "the status page at http://127.0.0.1:",
        "push          churn-xgb-2026-10  Development Complete | Development/InProgress  →  Development/Complete  [applied]",
        "pull          churn-lgbm-v9      Approved for Deployment | Deployment/Complete  →  Deployed  [applied]",
        "decommission  churn-lgbm-v4      Deployed | (none)  →  Decommissioned  [applied]",
        "decommission  fraud-gbm-v3       Deployed | Archived/Complete  →  Decommissioned  [applied]",
        "drift         fraud-gbm-v4       Deployed | Production/InService (nothing written)  [reported]",
        "Writes made: 1 UpdateModelPackage to SageMaker, 3 status updates to governance",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // Each step's transition is printed under that step (a deletion under its own,
    // though only a full cycle concludes it).
    let steps: Vec<usize> = (1..=5)
        .map(|n| stdout.find(&format!("[{n}/5]")).expect("step header"))
        .chain([stdout.len()])
        .collect();
    for (n, transition) in [
        "push          churn-xgb-2026-10",
        "pull          churn-lgbm-v9",
        "decommission  churn-lgbm-v4",
        "decommission  fraud-gbm-v3",
        "drift         fraud-gbm-v4",
    ]
    .iter()
    .enumerate()
    {
        let at = stdout.find(transition).expect("printed");
        assert!(
            (steps[n]..steps[n + 1]).contains(&at),
            "{transition:?} is not under step {}:\n{stdout}",
            n + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_aws_credentials_are_said_in_one_sentence_that_names_the_ways_to_provide_them() {
    // Governance answers; SageMaker, asked at the same time, is never reached.
    use govsync::mock::Admin;
    let governance = govsync::mock::governance::MockGovernance::new(
        govsync::mock::governance::Options::new("u", secrecy::SecretString::from("pw")),
    )
    .expect("mock");
    let handle = governance.spawn_on_loopback().await.expect("serve");
    let dir = tempfile::tempdir().expect("temp dir");
    let nowhere = dir.path().join("empty");
    std::fs::write(&nowhere, "").expect("empty AWS config");
    let config = dir.path().join("govsync.toml");
    std::fs::write(
        &config,
        format!(
            "[governance]\nbase_url = \"{}{}\"\n\
             auth = {{ kind = \"basic\", username = \"u\", password_env = \"PW\" }}\n\
             [sagemaker]\nregion = \"us-east-1\"\nsts_endpoint_url = \"http://127.0.0.1:9\"\n\
             [state]\npath = \":memory:\"\n",
            handle.url(),
            govsync::mock::governance::API_BASE
        ),
    )
    .expect("config");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_govsync"))
            .args(["reconcile", "--config"])
            .arg(&config)
            .env_clear()
            .env("PW", "pw")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &nowhere)
            .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere)
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let error = errors[0];
    assert!(
        error.contains("no AWS credentials were found")
            && error.contains("AWS_ACCESS_KEY_ID")
            && error.contains("AWS_PROFILE")
            && error.contains("IRSA")
            && error.contains("ECS task role")
            && error.contains("instance profile"),
        "{error}"
    );
    assert_eq!(
        error.matches("credentials").count(),
        1,
        "said once: {error}"
    );
    assert!(error.len() < 400, "{} characters: {error}", error.len());
}

#[test]
fn reconcile_json_prints_the_error_as_an_object_on_stdout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("govsync.toml");
    std::fs::write(&config, "[governance]\nbase_url = \"not a url\"\n").expect("write");
    let config = config.to_str().expect("utf-8 path");
    let out = govsync(&["reconcile", "--config", config, "--output", "json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}", text(&out.stdout)));
    assert_eq!(value["error"]["kind"], "config", "{value}");
    assert_eq!(value["error"]["exit_code"], 1);
    let message = value["error"]["message"].as_str().expect("message");
    assert!(message.contains("governance"), "{message}");
    assert!(
        text(&out.stderr).contains(message),
        "the same message on stderr"
    );
    // The table output keeps stdout empty on errors.
    let out = govsync(&["reconcile", "--config", config], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

/// `govsync config check FILE` (with discovery) against a mock governance whose
/// workflow has `statuses`, or a string status field.
async fn config_check_against(statuses: Option<Vec<String>>, string_field: bool) -> Output {
    run_against(statuses, string_field, &["config", "check"]).await
}

/// `govsync ARGS… FILE` (`--config FILE` unless the command is `config check`)
/// against a mock governance whose workflow has `statuses`, or a string status field.
async fn run_against(statuses: Option<Vec<String>>, string_field: bool, args: &[&str]) -> Output {
    use govsync::mock::Admin;
    use govsync::mock::governance::{API_BASE, MockGovernance, Options};
    let mut options = Options::new("govsync", secrecy::SecretString::from("pw"));
    if let Some(statuses) = statuses {
        options.object_type.statuses = statuses;
    }
    options.object_type.status_is_string = string_field;
    let mock = MockGovernance::new(options).expect("mock");
    let handle = mock.spawn_on_loopback().await.expect("serve");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("govsync.toml");
    std::fs::write(
        &file,
        format!(
            "[governance]\nbase_url = \"{}{API_BASE}\"\n\
             auth = {{ kind = \"basic\", username = \"govsync\", password_env = \"PW\" }}\n",
            handle.url()
        ),
    )
    .expect("write");
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if args[0] != "config" {
        args.push("--config".into());
    }
    args.push(file.to_str().expect("utf-8 path").to_string());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = govsync(&args, &[("PW", "pw")]);
        drop(dir);
        out
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_discovers_the_model_type() {
    let out = config_check_against(None, false).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "type discovery   Model: status field \"MRG-Model:Status\" (enum, 19 values, every status govsync writes among them), link field \"Integration:External ID\" (string)"
        ),
        "{stdout}"
    );
    let out = config_check_against(None, true).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(string: statuses are written as text)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_status_is_refused_at_start_up_by_name() {
    // A customised workflow that calls "Deployed" "In Production".
    let statuses: Vec<String> = govsync::mock::governance::MODEL_LIFECYCLE_STATUSES
        .iter()
        .map(|s| if *s == "Deployed" { "In Production" } else { s }.to_string())
        .collect();
    let out = config_check_against(Some(statuses), false).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("has no value \"Deployed\""), "{stderr}");
    assert!(
        stderr.contains("In Production"),
        "lists the valid values: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn config_check_names_a_postgres_store_and_needs_its_password_without_showing_it() {
    let url = "postgres://govsync@db.example.com:5432/govsync?sslmode=verify-full";
    let store = [
        ("OPENPAGES_PASSWORD", "x"),
        ("GOVSYNC_STATE_URL", url),
        ("GOVSYNC_STATE_PASSWORD_ENV", "DATABASE_PASSWORD"),
        ("GOVSYNC_STATE_INSTANCE", "pod-a"),
    ];
    let missing = govsync(&["config", "check", "--offline"], &store);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains("state.password_env") && stderr.contains("DATABASE_PASSWORD"),
        "{stderr}"
    );
    let secret = "db-pa55-never-shown";
    let mut with_password = store.to_vec();
    with_password.push(("DATABASE_PASSWORD", secret));
    let out = govsync(&["config", "check", "--offline"], &with_password);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("postgres {url} (instance pod-a, lease 15s)")),
        "{stdout}"
    );
    support::assert_no_secret(&stdout, "govsync", secret, "config check's output");
}

#[test]
fn state_copy_refuses_a_password_in_a_url_without_repeating_it() {
    let out = govsync(
        &[
            "state",
            "copy",
            "--from",
            "sqlite:///nonexistent/state.db",
            "--to",
            "postgres://govsync:hunter2@db/govsync",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--to must not hold a password"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn state_copy_copies_a_store_and_a_second_run_adds_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = dir.path().join("from.db");
    let to = dir.path().join("to.db");
    {
        let mut store =
            govsync::store::SqliteStore::open(from.to_str().expect("utf-8")).expect("store");
        let entry = |model: &str| govsync::store::JournalEntry {
            at: "2026-12-01T00:00:00Z".into(),
            model_id: model.into(),
            model_name: format!("model {model}"),
            package_arn: "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1".into(),
            action: "drift".into(),
            from: None,
            to: None,
            reason: "both changed".into(),
            outcome: "reported".into(),
            error: None,
            cycle: Some("c1".into()),
        };
        store
            .record(&[], &[entry("1"), entry("2"), entry("3")])
            .expect("record");
    }
    let args = |output: &str| {
        vec![
            "state".to_string(),
            "copy".into(),
            "--from".into(),
            format!("sqlite://{}", from.display()),
            "--to".into(),
            format!("sqlite://{}", to.display()),
            "--output".into(),
            output.into(),
        ]
    };
    let run = |output: &str| {
        let args = args(output);
        govsync(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    };
    let first = run("table");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(
        text(&first.stdout),
        "copied 3 journal entries (0 already there), 0 baselines, 0 open intents\n"
    );
    let second = run("json");
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).expect("json");
    assert_eq!(report["journal_copied"], 0);
    assert_eq!(report["journal_present"], 3);
}
