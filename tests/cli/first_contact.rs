//! A newcomer's first steps, through the binary: `config init`, a dry run before
//! any state exists (it writes nothing anywhere), the start-up errors that say what
//! to do, and the test command's one skip policy.

use std::process::{Command, Output};

use super::support;
use super::text;
use support::remote::Mocks;

/// Runs a command built by the test on a blocking thread (the mocks serve on this
/// runtime meanwhile).
async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .expect("join")
}

/// The files in `dir`, sorted.
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_dry_run_plans_from_no_state_and_leaves_nothing_behind() {
    let mocks = Mocks::start(&["churn"]).await;
    // One model to push, one in sync, one in drift.
    mocks.pair(
        "churn",
        "to-push",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    mocks.pair(
        "churn",
        "in-sync",
        Some("Proposed"),
        Some(("Proposal", "Approved")),
    );
    mocks.pair(
        "churn",
        "drifting",
        Some("Deployed"),
        Some(("Production", "InService")),
    );
    // A package registered with no governance model linking it.
    let ungoverned = mocks.register(serde_json::json!({ "ModelPackageGroupName": "churn" }));
    let dir = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("temp dir for the AWS config files");
    let (config, state) = mocks.write_daemon_config(dir.path(), "", "");
    let before = files(dir.path());
    let dry_run = |format: &str| {
        support::govsync_command(
            &["reconcile", "--dry-run", "--output", format],
            &config,
            home.path(),
        )
    };

    let table = output(dry_run("table")).await;
    let stdout = text(&table.stdout);
    // Drift remains: exit code 3, as documented; the push is only planned.
    assert_eq!(
        table.status.code(),
        Some(3),
        "{stdout}\n{}",
        text(&table.stderr)
    );
    assert!(
        stdout.contains("push → Development/Complete") && stdout.contains("planned"),
        "{stdout}"
    );
    assert!(
        stdout.contains("dry run (nothing written): 3 linked"),
        "{stdout}"
    );
    assert!(
        stdout.contains("no baseline: there is no state store yet"),
        "{stdout}"
    );
    let json = output(dry_run("json")).await;
    assert_eq!(json.status.code(), Some(3), "{}", text(&json.stderr));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["baseline"], "none");
    assert_eq!(report["summary"]["push"], 1, "{report}");
    // The package no model links is named, not only counted.
    assert_eq!(
        report["ungoverned"],
        serde_json::json!([{
            "arn": ungoverned,
            "scope": "123456789012/us-east-1",
            "group": "churn",
            "lifecycle": null
        }]),
        "{report}"
    );
    assert!(
        stdout.contains(&format!(
            "ungoverned: 1 packages no governance model links:\n  {ungoverned}"
        )),
        "{stdout}"
    );
    // Nothing anywhere: no store, no lock, no journal, no write to either side.
    assert_eq!(files(dir.path()), before, "the dry run left files behind");
    assert!(!state.exists());
    assert!(
        support::remote::received(&mocks).is_empty(),
        "a dry run wrote to a mock"
    );

    // A real reconcile creates the store; a dry run after it reads the baseline.
    let real = output(support::govsync_command(
        &["reconcile"],
        &config,
        home.path(),
    ))
    .await;
    assert_eq!(real.status.code(), Some(3), "{}", text(&real.stderr));
    assert!(state.exists());
    let again = output(dry_run("json")).await;
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(report["baseline"], "store", "{report}");
    assert_eq!(report["summary"]["push"], 0, "the push was made: {report}");
    assert_eq!(report["summary"]["in_sync"], 2, "{report}");
}

#[test]
fn config_init_writes_a_file_that_config_check_passes_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("conf/govsync.toml");
    let init = |extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_govsync"));
        command
            .args(["config", "init"])
            .arg(&file)
            .args(["--governance-url", "https://op.example.com/opgrc/api/v2"])
            .args(extra)
            .env_clear();
        command.output().expect("the binary runs")
    };
    let first = init(&[
        "--auth",
        "zen",
        "--username",
        "govsync",
        "--scope",
        "111122223333:us-east-1,eu-west-1:arn:aws:iam::111122223333:role/govsync",
        "--groups",
        "churn,fraud",
    ]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("govsync config check"),
        "says what is next"
    );
    let written = std::fs::read_to_string(&file).expect("written");
    assert!(
        written.contains("api_key_env = \"CPD_API_KEY\""),
        "{written}"
    );

    let check = Command::new(env!("CARGO_BIN_EXE_govsync"))
        .args(["config", "check", "--offline"])
        .arg(&file)
        .env_clear()
        .env("CPD_API_KEY", "k")
        .output()
        .expect("the binary runs");
    let stdout = text(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}\n{written}",
        text(&check.stderr)
    );
    assert!(stdout.contains("(auth: zen)"), "{stdout}");
    assert!(
        stdout.contains(
            "scope            111122223333/eu-west-1 (partition aws, groups churn, fraud), \
             role arn:aws:iam::111122223333:role/govsync"
        ),
        "{stdout}"
    );

    // A second init refuses to overwrite, and leaves the file as it was.
    let second = init(&["--auth", "iam"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("already exists: not overwritten"),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("still there"),
        written
    );

    // A bad answer is refused by the key it would set, and nothing is written.
    let other = dir.path().join("other.toml");
    let bad = Command::new(env!("CARGO_BIN_EXE_govsync"))
        .args(["config", "init"])
        .arg(&other)
        .args([
            "--governance-url",
            "https://op.example.com/opgrc/api/v2",
            "--auth",
            "iam",
            "--region",
            "mars-1",
        ])
        .env_clear()
        .output()
        .expect("the binary runs");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("sagemaker.region"),
        "{}",
        text(&bad.stderr)
    );
    assert!(!other.exists());
}

/// A `govsync reconcile` against `config_text`'s governance (whatever answers
/// there) with static AWS credentials `key`, nothing of this machine's environment.
async fn reconcile_with(config_text: String, key: (&str, &str, Option<&str>)) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("govsync.toml");
    std::fs::write(&config, config_text).expect("config");
    let mut command = support::govsync_command(&["reconcile"], &config, dir.path());
    command
        .env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1);
    if let Some(token) = key.2 {
        command.env("AWS_SESSION_TOKEN", token);
    }
    let out = output(command).await;
    drop(dir);
    out
}

/// The one `error:` line of a failed start.
fn the_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    errors[0].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_sagemaker_endpoint_without_sts_says_to_set_the_sts_endpoint() {
    let mocks = Mocks::start(&["g"]).await;
    let config = format!(
        "[governance]\nbase_url = \"{}\"\n\
         auth = {{ kind = \"basic\", username = \"govsync\", password_env = \"OPENPAGES_PASSWORD\" }}\n\
         [sagemaker]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n[state]\npath = \":memory:\"\n",
        mocks.governance_url(),
        mocks.sm_handle.url()
    );
    // AWS's real STS endpoint cannot be reached from a test: a closed network and
    // a machine without AWS's DNS behave alike (the request never gets an answer).
    let error = the_error(&reconcile_with(config, ("AKIDTEST", "test-secret", None)).await);
    assert!(
        error.contains("set sagemaker.sts_endpoint_url (or AWS_ENDPOINT_URL_STS)")
            && error.contains("cannot tell which AWS account"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_credentials_are_named_with_how_to_renew_them() {
    let mocks = Mocks::start(&["g"]).await;
    // Credentials the mock's STS issued (through AWS's own client), then let
    // expire on its clock.
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&mocks.sm.client_config())
            .endpoint_url(mocks.sm_handle.url())
            .build(),
    );
    let assumed = sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/govsync")
        .role_session_name("expiring")
        .send()
        .await
        .expect("assume role");
    let issued = assumed.credentials().expect("credentials");
    mocks.sm.advance_clock(7200.0);
    let config = format!(
        "[governance]\nbase_url = \"{}\"\n\
         auth = {{ kind = \"basic\", username = \"govsync\", password_env = \"OPENPAGES_PASSWORD\" }}\n\
         [sagemaker]\nregion = \"us-east-1\"\nendpoint_url = \"{sm}\"\nsts_endpoint_url = \"{sm}\"\n\
         [state]\npath = \":memory:\"\n",
        mocks.governance_url(),
        sm = mocks.sm_handle.url()
    );
    let error = the_error(
        &reconcile_with(
            config,
            (
                issued.access_key_id(),
                issued.secret_access_key(),
                Some(issued.session_token()),
            ),
        )
        .await,
    );
    assert!(
        error.contains("ExpiredToken") && error.contains("have expired: renew them"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_governance_url_that_answers_a_login_page_says_which_setting_to_fix() {
    // A web console's sign-in page where the REST API was expected.
    let page = "<!DOCTYPE html><html><head><title>Sign in | watsonx.governance</title></head>\
                <body><form>…</form></body></html>";
    let app = axum::Router::new()
        .fallback(move || async move { ([("content-type", "text/html; charset=utf-8")], page) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/login", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = format!(
        "[governance]\nbase_url = \"{url}\"\n\
         auth = {{ kind = \"basic\", username = \"govsync\", password_env = \"OPENPAGES_PASSWORD\" }}\n\
         [state]\npath = \":memory:\"\n"
    );
    let error = the_error(&reconcile_with(config, ("AKIDTEST", "test-secret", None)).await);
    assert!(
        error.contains("an HTML page, not an answer of the OpenPages REST API")
            && error.contains("governance.base_url must be the API's base")
            && error.contains("Sign in | watsonx.governance"),
        "{error}"
    );
}

#[test]
fn a_test_whose_program_is_missing_fails_naming_it() {
    let failed = std::panic::catch_unwind(|| {
        support::programs::on_path(&["govsync-no-such-program"]).unwrap_or_else(|| {
            support::programs::missing("govsync-no-such-program", "apt-get install it")
        })
    });
    let message = failed
        .expect_err("a missing program fails the test")
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(
        message.contains("needs govsync-no-such-program") && message.contains("scripts/test"),
        "{message}"
    );
}
