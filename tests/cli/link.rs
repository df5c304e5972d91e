//! `govsync link` through the binary against both mocks: governance moved to a new
//! version of a model by hand, journaled; a dry run writes nothing; a model or
//! package that does not exist is refused naming it.

use super::support;
use super::text;
use support::remote::Mocks;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_is_moved_to_a_new_version_by_hand_through_the_journal() {
    let mocks = Mocks::start(&["churn"]).await;
    let (model, v1) = mocks.pair(
        "churn",
        "churn-model",
        Some("Under Development"),
        Some(("Development", "InProgress")),
    );
    let v2 = mocks.register(serde_json::json!({ "ModelPackageGroupName": "churn" }));
    let dir = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("temp dir");
    let (config, _) = mocks.write_daemon_config(dir.path(), "", "");
    let link = |extra: &[&str]| {
        let mut args = vec!["link", "--model", &model, "--package", &v2];
        args.extend_from_slice(extra);
        support::govsync_command(&args, &config, home.path())
    };
    let run = |command: std::process::Command| async move {
        let mut command = command;
        tokio::task::spawn_blocking(move || command.output().expect("runs"))
            .await
            .expect("join")
    };
    let link_field = || {
        mocks
            .gov
            .field_of(&model, "Integration:External ID")
            .unwrap_or_default()
    };

    let dry = run(link(&["--dry-run"])).await;
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout).contains("planned"),
        "{}",
        text(&dry.stdout)
    );
    assert_eq!(link_field(), v1, "a dry run writes nothing");

    let done = run(link(&["--output", "json"])).await;
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let report: serde_json::Value = serde_json::from_slice(&done.stdout).expect("JSON");
    assert_eq!(report["models"][0]["action"]["kind"], "link", "{report}");
    assert_eq!(report["models"][0]["outcome"], "applied", "{report}");
    assert!(
        report["models"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(&v1),
        "says what it replaced: {report}"
    );
    assert_eq!(link_field(), v2);
    let history = run(support::govsync_command(
        &["history", "--output", "json"],
        &config,
        home.path(),
    ))
    .await;
    let entries: serde_json::Value = serde_json::from_slice(&history.stdout).expect("JSON");
    let links: Vec<&serde_json::Value> = entries
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "link")
        .collect();
    assert_eq!(links.len(), 1, "{entries}");
    assert_eq!(links[0]["to"], v2.as_str());

    // Nothing to find: refused, naming what.
    let mut missing = support::govsync_command(
        &["link", "--model", "424242", "--package", &v2],
        &config,
        home.path(),
    );
    missing.env("GOVSYNC_LOG", "off");
    let missing = run(missing).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("governance has no model 424242"),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_metadata_writes_every_link_the_packages_ask_for_and_nothing_else() {
    let mocks = Mocks::start(&["churn"]).await;
    // A model to link (its package names it), and a linked one whose push is due.
    let unlinked = mocks
        .gov
        .create_model("named-by-its-package", Some("Proposed"), None)
        .expect("model");
    let named = mocks.register(serde_json::json!({ "ModelPackageGroupName": "churn",
                                "CustomerMetadataProperties": { "governance-model-id": unlinked } }));
    let (_, due) = mocks.pair(
        "churn",
        "push-due",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("temp dir");
    let (config, _) = mocks.write_daemon_config(dir.path(), "", "");
    let mut command = support::govsync_command(
        &["link", "--from-metadata", "--output", "json"],
        &config,
        home.path(),
    );
    let out = tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("join");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["summary"]["link"], 1, "{report}");
    assert_eq!(
        mocks
            .gov
            .field_of(&unlinked, "Integration:External ID")
            .as_deref(),
        Some(named.as_str())
    );
    // The push is planned, not made.
    assert_eq!(report["summary"]["push"], 1, "{report}");
    let described = mocks
        .sm
        .call(
            "DescribeModelPackage",
            serde_json::json!({ "ModelPackageName": due }),
        )
        .expect("describe");
    assert_eq!(described["ModelLifeCycle"]["StageStatus"], "InProgress");
}
