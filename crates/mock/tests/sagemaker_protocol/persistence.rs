//! Events and state: the EventBridge event log and the state file across restarts.

use super::*;

#[tokio::test]
async fn every_change_is_an_eventbridge_event_readable_over_admin_and_from_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events_file = dir.path().join("events.jsonl");
    let wire = start_with(Options {
        events_file: Some(events_file.clone()),
        ..Options::default()
    })
    .await;
    wire.seed_one().await;
    wire.ok(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": ARN_1, "ModelLifeCycle": { "Stage": "Development", "StageStatus": "Complete" } }),
    )
    .await;
    wire.ok(
        "ListModelPackages",
        json!({ "ModelPackageType": "Versioned" }),
    )
    .await;
    let status = wire
        .http
        .post(format!("{}/_mock/package-status", wire.handle.url()))
        .json(&json!({ "ModelPackageArn": ARN_1, "ModelPackageStatus": "Deleting" }))
        .send()
        .await
        .expect("admin")
        .status();
    assert_eq!(status, StatusCode::NO_CONTENT);
    wire.ok("DeleteModelPackage", json!({ "ModelPackageName": ARN_1 }))
        .await;

    let events = wire.admin("/_mock/events").await;
    let events = events.as_array().expect("array");
    assert_eq!(
        events.len(),
        4,
        "create, update, status, delete; reads emit nothing"
    );
    let update = &events[1];
    assert_eq!(update["version"], "0");
    assert_eq!(update["source"], "aws.sagemaker");
    assert_eq!(
        update["detail-type"],
        "SageMaker Model Package State Change"
    );
    assert_eq!(update["account"], "123456789012");
    assert_eq!(update["region"], "us-east-1");
    assert_eq!(update["resources"], json!([ARN_1]));
    assert!(update["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(update["detail"]["ModelPackageArn"], ARN_1);
    assert_eq!(update["detail"]["ModelPackageName"], "fraud");
    assert_eq!(
        update["detail"]["ModelLifeCycle"]["StageStatus"],
        "Complete"
    );
    assert_eq!(events[2]["detail"]["ModelPackageStatus"], "Deleting");
    assert_eq!(events[3]["detail"]["eventName"], "DeleteModelPackage");

    let lines: Vec<Value> = std::fs::read_to_string(&events_file)
        .expect("events file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.as_slice(), events);
}

#[tokio::test]
async fn a_change_appends_one_line_to_the_state_log_instead_of_rewriting_the_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_file = dir.path().join("registry.json");
    let log = dir.path().join("registry.json.log");
    let options = Options {
        state_file: Some(state_file.clone()),
        ..Options::default()
    };
    let arn = {
        let wire = start_with(options.clone()).await;
        wire.mock
            .call(
                "CreateModelPackageGroup",
                json!({ "ModelPackageGroupName": "g" }),
            )
            .expect("group");
        let created = wire
            .mock
            .call(
                "CreateModelPackage",
                json!({ "ModelPackageGroupName": "g" }),
            )
            .expect("package");
        assert_eq!(
            std::fs::read_to_string(&log).expect("log").lines().count(),
            2,
            "one line per change: the group, the package"
        );
        wire.handle.stop().await.expect("stop");
        created["ModelPackageArn"]
            .as_str()
            .expect("arn")
            .to_string()
    };
    {
        // A restart folds the log into the snapshot; later changes only append.
        let wire = start_with(options.clone()).await;
        assert!(!log.exists(), "folded into the snapshot at start");
        let snapshot = std::fs::read(&state_file).expect("the snapshot written at start");
        for stage in ["Development", "Staging", "Production"] {
            wire.ok(
                "UpdateModelPackage",
                json!({ "ModelPackageArn": arn,
                        "ModelLifeCycle": { "Stage": stage, "StageStatus": "Approved" } }),
            )
            .await;
        }
        assert_eq!(
            std::fs::read(&state_file).expect("snapshot"),
            snapshot,
            "the snapshot is not rewritten per change"
        );
        assert_eq!(
            std::fs::read_to_string(&log).expect("log").lines().count(),
            3
        );
        wire.handle.stop().await.expect("stop");
    }
    // A crash cut the last line short: it is ignored, the rest replayed.
    let mut text = std::fs::read_to_string(&log).expect("log");
    text.push_str("{\"place\":[\"1");
    std::fs::write(&log, text).expect("torn line");
    let wire = start_with(options).await;
    let described = wire
        .ok("DescribeModelPackage", json!({ "ModelPackageName": arn }))
        .await;
    assert_eq!(described["ModelLifeCycle"]["Stage"], "Production");
    assert!(!log.exists(), "folded into the snapshot at start");
}

#[tokio::test]
async fn the_registry_persists_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_file = dir.path().join("registry.json");
    let options = Options {
        state_file: Some(state_file.clone()),
        ..Options::default()
    };
    {
        let wire = start_with(options.clone()).await;
        wire.seed_one().await;
        wire.ok("DeleteModelPackage", json!({ "ModelPackageName": ARN_1 }))
            .await;
        wire.ok(
            "CreateModelPackage",
            json!({ "ModelPackageGroupName": "fraud" }),
        )
        .await;
        wire.handle.stop().await.expect("stop");
    }
    let wire = start_with(options).await;
    let listed = wire
        .ok(
            "ListModelPackages",
            json!({ "ModelPackageGroupName": "fraud" }),
        )
        .await;
    let arns: Vec<&Value> = listed["ModelPackageSummaryList"]
        .as_array()
        .expect("list")
        .iter()
        .map(|s| &s["ModelPackageArn"])
        .collect();
    assert_eq!(
        arns,
        [&json!(
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/2"
        )]
    );
    let third = wire
        .ok(
            "CreateModelPackage",
            json!({ "ModelPackageGroupName": "fraud" }),
        )
        .await;
    assert!(
        third["ModelPackageArn"]
            .as_str()
            .is_some_and(|a| a.ends_with("/fraud/3"))
    );

    std::fs::write(&state_file, "{ broken").expect("write");
    let error = MockSageMaker::new(Options {
        state_file: Some(state_file.clone()),
        ..Options::default()
    })
    .err()
    .expect("a corrupt state file is refused");
    assert!(error.to_string().contains("registry.json"), "{error}");
    drop(wire.mock);
}
