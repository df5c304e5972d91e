//! Groups and packages: create, describe, update, and the validation SageMaker applies.

use super::*;

#[tokio::test]
async fn groups_are_created_described_and_listed() {
    let wire = start().await;
    let created = wire
        .ok(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": "fraud", "ModelPackageGroupDescription": "fraud models" }),
        )
        .await;
    assert_eq!(
        created,
        json!({ "ModelPackageGroupArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/fraud" })
    );
    let described = wire
        .ok(
            "DescribeModelPackageGroup",
            json!({ "ModelPackageGroupName": "fraud" }),
        )
        .await;
    assert_eq!(described["ModelPackageGroupName"], "fraud");
    assert_eq!(described["ModelPackageGroupDescription"], "fraud models");
    assert_eq!(described["ModelPackageGroupStatus"], "Completed");
    assert!(
        described["CreationTime"].is_f64(),
        "timestamps are epoch seconds"
    );

    wire.ok(
        "CreateModelPackageGroup",
        json!({ "ModelPackageGroupName": "churn" }),
    )
    .await;
    let listed = wire
        .ok("ListModelPackageGroups", json!({ "SortBy": "Name" }))
        .await;
    let names: Vec<&str> = listed["ModelPackageGroupSummaryList"]
        .as_array()
        .expect("list")
        .iter()
        .map(|g| g["ModelPackageGroupName"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["churn", "fraud"]);

    let again = wire
        .call(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": "fraud" }),
        )
        .await;
    assert_error(&again, 400, "ValidationException", "already exists");
    let missing = wire
        .call(
            "DescribeModelPackageGroup",
            json!({ "ModelPackageGroupName": "nope" }),
        )
        .await;
    assert_error(&missing, 400, "ValidationException", "does not exist");
}

#[tokio::test]
async fn a_package_is_created_and_described_with_the_documented_fields() {
    let wire = start().await;
    wire.seed_one().await;
    let d = wire
        .ok("DescribeModelPackage", json!({ "ModelPackageName": ARN_1 }))
        .await;
    assert_eq!(d["ModelPackageArn"], ARN_1);
    assert_eq!(d["ModelPackageName"], "fraud");
    assert_eq!(d["ModelPackageGroupName"], "fraud");
    assert_eq!(d["ModelPackageVersion"], 1);
    assert_eq!(d["ModelPackageDescription"], "first");
    assert_eq!(d["ModelPackageStatus"], "Completed");
    assert_eq!(d["ModelApprovalStatus"], "PendingManualApproval");
    assert_eq!(d["CustomerMetadataProperties"], json!({ "team": "risk" }));
    assert_eq!(d["ModelCard"], json!({ "ModelCardStatus": "Draft" }));
    assert_eq!(
        d["ModelLifeCycle"],
        json!({ "Stage": "Development", "StageStatus": "InProgress", "StageDescription": "new" })
    );
    assert!(d["CreationTime"].is_number() && d["LastModifiedTime"].is_number());

    // Versions count up per group.
    let second = wire
        .ok(
            "CreateModelPackage",
            json!({ "ModelPackageGroupName": "fraud" }),
        )
        .await;
    assert_eq!(
        second["ModelPackageArn"],
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/2"
    );
    let no_group = wire
        .call(
            "CreateModelPackage",
            json!({ "ModelPackageGroupName": "nope" }),
        )
        .await;
    assert_error(&no_group, 400, "ValidationException", "does not exist");
}

#[tokio::test]
async fn update_model_package_changes_each_documented_member() {
    let wire = start().await;
    wire.seed_one().await;
    wire.ok(
        "UpdateModelPackage",
        json!({
            "ModelPackageArn": ARN_1,
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "looks good",
            "CustomerMetadataProperties": { "owner": "ana" },
            "CustomerMetadataPropertiesToRemove": ["team"],
            "ModelCard": { "ModelCardStatus": "Archived" },
            "ModelLifeCycle": { "Stage": "Staging", "StageStatus": "Complete" },
        }),
    )
    .await;
    let d = wire
        .ok("DescribeModelPackage", json!({ "ModelPackageName": ARN_1 }))
        .await;
    assert_eq!(d["ModelApprovalStatus"], "Approved");
    assert_eq!(d["ApprovalDescription"], "looks good");
    assert_eq!(d["CustomerMetadataProperties"], json!({ "owner": "ana" }));
    assert_eq!(d["ModelCard"]["ModelCardStatus"], "Archived");
    assert_eq!(
        d["ModelLifeCycle"],
        json!({ "Stage": "Staging", "StageStatus": "Complete" })
    );
}

#[tokio::test]
async fn model_lifecycle_is_validated_as_sagemaker_does() {
    let wire = start().await;
    wire.seed_one().await;
    let cases = [
        (
            json!({ "Stage": "Bad Stage", "StageStatus": "Complete" }),
            "modelLifeCycle.stage",
        ),
        (
            json!({ "Stage": "-Dev", "StageStatus": "Complete" }),
            "modelLifeCycle.stage",
        ),
        (
            json!({ "Stage": "x".repeat(64), "StageStatus": "Complete" }),
            "modelLifeCycle.stage",
        ),
        (
            json!({ "Stage": "Dev", "StageStatus": "" }),
            "modelLifeCycle.stageStatus",
        ),
        (
            json!({ "Stage": "Dev", "StageStatus": "Complete", "StageDescription": "d".repeat(1025) }),
            "modelLifeCycle.stageDescription",
        ),
    ];
    for (lifecycle, field) in cases {
        let reply = wire
            .call(
                "UpdateModelPackage",
                json!({ "ModelPackageArn": ARN_1, "ModelLifeCycle": lifecycle }),
            )
            .await;
        assert_error(&reply, 400, "ValidationException", field);
    }
    let missing_member = wire
        .call(
            "UpdateModelPackage",
            json!({ "ModelPackageArn": ARN_1, "ModelLifeCycle": { "Stage": "Dev" } }),
        )
        .await;
    assert_error(
        &missing_member,
        400,
        "SerializationException",
        "StageStatus",
    );
    // 63 characters and a 1024-character description are fine.
    wire.ok(
        "UpdateModelPackage",
        json!({
            "ModelPackageArn": ARN_1,
            "ModelLifeCycle": { "Stage": "x".repeat(63), "StageStatus": "a-b--c", "StageDescription": "d".repeat(1024) },
        }),
    )
    .await;
    let card = wire
        .call(
            "UpdateModelPackage",
            json!({ "ModelPackageArn": ARN_1, "ModelCard": { "ModelCardStatus": "Gone" } }),
        )
        .await;
    assert_error(
        &card,
        400,
        "ValidationException",
        "modelCard.modelCardStatus",
    );
}

#[tokio::test]
async fn unknown_and_deleted_packages_are_validation_errors() {
    let wire = start().await;
    wire.seed_one().await;
    wire.ok("DeleteModelPackage", json!({ "ModelPackageName": ARN_1 }))
        .await;
    for (op, input) in [
        ("DescribeModelPackage", json!({ "ModelPackageName": ARN_1 })),
        (
            "UpdateModelPackage",
            json!({ "ModelPackageArn": ARN_1, "ModelApprovalStatus": "Approved" }),
        ),
        ("DeleteModelPackage", json!({ "ModelPackageName": ARN_1 })),
    ] {
        let reply = wire.call(op, input).await;
        assert_error(
            &reply,
            400,
            "ValidationException",
            &format!("ModelPackage {ARN_1} does not exist"),
        );
    }
    // Versions are not reused after a delete.
    let next = wire
        .ok(
            "CreateModelPackage",
            json!({ "ModelPackageGroupName": "fraud" }),
        )
        .await;
    assert!(
        next["ModelPackageArn"]
            .as_str()
            .is_some_and(|a| a.ends_with("/fraud/2"))
    );
}

#[tokio::test]
async fn requests_aws_would_refuse_are_refused_the_same_way() {
    let wire = start().await;
    let unsigned = wire
        .raw(Some("SageMaker.ListModelPackages"), false, "{}")
        .await;
    assert_error(
        &unsigned,
        400,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    );
    let no_target = wire.raw(None, true, "{}").await;
    assert_error(&no_target, 400, "UnknownOperationException", "X-Amz-Target");
    let unknown = wire.raw(Some("SageMaker.CreateEndpoint"), true, "{}").await;
    assert_error(&unknown, 400, "UnknownOperationException", "CreateEndpoint");
    let bad_json = wire
        .raw(Some("SageMaker.ListModelPackages"), true, "{not json")
        .await;
    assert_error(&bad_json, 400, "SerializationException", "parse");
    let wrong_type = wire
        .call("ListModelPackages", json!({ "MaxResults": "ten" }))
        .await;
    assert_error(&wrong_type, 400, "SerializationException", "");
    let counters = wire.admin("/_mock/counters").await;
    assert_eq!(
        counters["ListModelPackages"], 3,
        "counted per operation, refused ones too: {counters}"
    );
}
