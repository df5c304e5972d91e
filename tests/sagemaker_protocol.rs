//! The mock SageMaker server on the wire: raw HTTP requests in AWS JSON 1.1, as any
//! AWS client sends them, checking status codes, headers and JSON shapes.
//!
//! Long because the wire has many documented behaviours (operations, paging, sorting,
//! validation messages, faults, admin endpoints); each test stands alone.

use govsync::mock::Admin;
use govsync::mock::MockHandle;
use govsync::mock::sagemaker::{MockSageMaker, Options};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ARN_1: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/1";

struct Wire {
    mock: MockSageMaker,
    handle: MockHandle,
    http: reqwest::Client,
}

async fn start_with(options: Options) -> Wire {
    let mock = MockSageMaker::new(options).expect("options");
    let handle = mock.spawn_on_loopback().await.expect("serve");
    Wire {
        mock,
        handle,
        http: reqwest::Client::new(),
    }
}

async fn start() -> Wire {
    start_with(Options::default()).await
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Wire {
    async fn raw(&self, target: Option<&str>, auth: bool, body: &str) -> Reply {
        let mut request = self
            .http
            .post(self.handle.url())
            .header("content-type", "application/x-amz-json-1.1")
            .body(body.to_string());
        if let Some(target) = target {
            request = request.header("x-amz-target", target);
        }
        if auth {
            request = request.header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/us-east-1/sagemaker/aws4_request, \
                 SignedHeaders=host;x-amz-date;x-amz-target, Signature=00",
            );
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(&self, operation: &str, input: Value) -> Reply {
        self.raw(
            Some(&format!("SageMaker.{operation}")),
            true,
            &input.to_string(),
        )
        .await
    }

    async fn ok(&self, operation: &str, input: Value) -> Value {
        let reply = self.call(operation, input).await;
        assert_eq!(reply.status, StatusCode::OK, "{operation}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/x-amz-json-1.1");
        assert!(reply.headers.contains_key("x-amzn-requestid"));
        reply.body
    }

    async fn admin(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.handle.url()))
            .send()
            .await
            .expect("admin")
            .json()
            .await
            .expect("admin JSON")
    }

    async fn seed_one(&self) {
        self.ok(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": "fraud" }),
        )
        .await;
        self.ok(
            "CreateModelPackage",
            json!({
                "ModelPackageGroupName": "fraud",
                "ModelPackageDescription": "first",
                "ModelApprovalStatus": "PendingManualApproval",
                "CustomerMetadataProperties": { "team": "risk" },
                "ModelCard": { "ModelCardStatus": "Draft" },
                "ModelLifeCycle": { "Stage": "Development", "StageStatus": "InProgress", "StageDescription": "new" },
            }),
        )
        .await;
    }
}

/// Asserts an AWS JSON 1.1 error: status, `x-amzn-errortype`, `__type` and a message.
fn assert_error(reply: &Reply, status: u16, code: &str, message_part: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.headers["x-amzn-errortype"], code);
    assert_eq!(reply.body["__type"], code);
    let message = reply.body["message"].as_str().expect("message is a string");
    assert!(
        message.contains(message_part),
        "{message:?} lacks {message_part:?}"
    );
}

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
async fn list_model_packages_pages_with_an_opaque_token_and_filters() {
    let wire = start().await;
    for group in ["a", "b"] {
        wire.ok(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": group }),
        )
        .await;
        for n in 0..15 {
            let approval = if n % 5 == 0 {
                "Approved"
            } else {
                "PendingManualApproval"
            };
            wire.ok(
                "CreateModelPackage",
                json!({ "ModelPackageGroupName": group, "ModelApprovalStatus": approval }),
            )
            .await;
        }
    }
    // Without a group or type, the documented default (Unversioned) lists none of these.
    let default = wire.ok("ListModelPackages", json!({})).await;
    assert_eq!(default["ModelPackageSummaryList"], json!([]));

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut input = json!({ "ModelPackageType": "Versioned", "MaxResults": 7 });
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = wire.ok("ListModelPackages", input).await;
        pages += 1;
        let list = page["ModelPackageSummaryList"].as_array().expect("list");
        assert!(list.len() <= 7);
        for s in list {
            for field in [
                "ModelPackageArn",
                "ModelPackageGroupName",
                "ModelPackageStatus",
                "ModelApprovalStatus",
            ] {
                assert!(s[field].is_string(), "summary has {field}: {s}");
            }
            assert!(s["CreationTime"].is_number() && s["ModelPackageVersion"].is_number());
            seen.push(s["ModelPackageArn"].as_str().expect("arn").to_string());
        }
        match page.get("NextToken").and_then(Value::as_str) {
            Some(t) => {
                assert!(!t.contains("offset"), "the token is opaque: {t}");
                token = Some(t.to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, 5); // ceil(30 / 7)
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 30);

    let in_b = wire
        .ok(
            "ListModelPackages",
            json!({ "ModelPackageGroupName": "b", "MaxResults": 100 }),
        )
        .await;
    assert_eq!(
        in_b["ModelPackageSummaryList"].as_array().map(Vec::len),
        Some(15)
    );
    let approved = wire
        .ok(
            "ListModelPackages",
            json!({ "ModelPackageType": "Versioned", "ModelApprovalStatus": "Approved", "MaxResults": 100 }),
        )
        .await;
    assert_eq!(
        approved["ModelPackageSummaryList"].as_array().map(Vec::len),
        Some(6)
    );
    let newest_first = wire
        .ok(
            "ListModelPackages",
            json!({ "ModelPackageGroupName": "a", "SortOrder": "Descending", "MaxResults": 1 }),
        )
        .await;
    assert_eq!(
        newest_first["ModelPackageSummaryList"][0]["ModelPackageVersion"],
        15
    );

    for max in [0, 101] {
        let reply = wire
            .call("ListModelPackages", json!({ "MaxResults": max }))
            .await;
        assert_error(&reply, 400, "ValidationException", "maxResults");
    }
    let bad_token = wire
        .call(
            "ListModelPackages",
            json!({ "ModelPackageType": "Versioned", "NextToken": "garbage" }),
        )
        .await;
    assert_error(&bad_token, 400, "ValidationException", "pagination token");
    let bad_status = wire
        .call(
            "ListModelPackages",
            json!({ "ModelApprovalStatus": "Maybe" }),
        )
        .await;
    assert_error(&bad_status, 400, "ValidationException", "enum value set");
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

#[tokio::test]
async fn faults_are_injected_and_changed_at_runtime() {
    let wire = start().await;
    let put = |faults: Value| {
        let http = wire.http.clone();
        let url = format!("{}/_mock/faults", wire.handle.url());
        async move {
            http.put(url)
                .json(&faults)
                .send()
                .await
                .expect("put faults")
                .status()
        }
    };
    assert_eq!(
        put(json!({ "throttle_rate": 1.0, "retry_after_ms": 250 })).await,
        StatusCode::NO_CONTENT
    );
    let throttled = wire.call("ListModelPackages", json!({})).await;
    assert_error(&throttled, 400, "ThrottlingException", "Rate exceeded");
    assert_eq!(throttled.headers["x-amz-retry-after"], "250");

    assert_eq!(
        put(json!({ "error_rate": 1.0 })).await,
        StatusCode::NO_CONTENT
    );
    let failed = wire.call("ListModelPackages", json!({})).await;
    assert_error(&failed, 500, "InternalFailure", "internal error");

    assert_eq!(
        put(json!({ "rate_limit": 2.0 })).await,
        StatusCode::NO_CONTENT
    );
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            wire.call("ListModelPackages", json!({}))
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 400, 400], "a bucket of 2 per second");
    assert_eq!(
        wire.call(
            "DescribeModelPackageGroup",
            json!({ "ModelPackageGroupName": "x" })
        )
        .await
        .body["__type"],
        "ValidationException",
        "the bucket is per operation"
    );

    assert_eq!(
        put(json!({ "throttle_rate": 2.0 })).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(put(json!({ "typo_rate": 0.1 })).await.as_u16(), 422);
    assert_eq!(
        wire.admin("/_mock/faults").await["rate_limit"],
        2.0,
        "a refused change keeps the old faults"
    );

    assert_eq!(
        put(json!({ "drop_rate": 1.0 })).await,
        StatusCode::NO_CONTENT
    );
    let dropped = wire
        .http
        .post(wire.handle.url())
        .header("x-amz-target", "SageMaker.ListModelPackages")
        .header("authorization", "AWS4-HMAC-SHA256 x")
        .body("{}")
        .send()
        .await;
    let body = match dropped {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(body.is_err(), "the connection ends before a full response");
}

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
async fn a_group_pages_in_creation_order_both_ways_without_losing_a_package() {
    let wire = start().await;
    wire.mock
        .call(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": "big" }),
        )
        .expect("group");
    wire.mock
        .call(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": "other" }),
        )
        .expect("group");
    for i in 0..250 {
        let group = if i % 5 == 0 { "other" } else { "big" };
        wire.mock
            .call(
                "CreateModelPackage",
                json!({ "ModelPackageGroupName": group }),
            )
            .expect("package");
    }
    for order in ["Ascending", "Descending"] {
        let mut versions = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut input =
                json!({ "ModelPackageGroupName": "big", "MaxResults": 100, "SortOrder": order });
            if let Some(t) = &token {
                input["NextToken"] = json!(t);
            }
            let page = wire.ok("ListModelPackages", input).await;
            pages += 1;
            for p in page["ModelPackageSummaryList"].as_array().expect("list") {
                assert_eq!(p["ModelPackageGroupName"], "big");
                versions.push(p["ModelPackageVersion"].as_u64().expect("version"));
            }
            match page["NextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        let mut expected: Vec<u64> = (1..=200).collect();
        if order == "Descending" {
            expected.reverse();
        }
        assert_eq!(versions, expected, "{order}");
        assert_eq!(
            pages, 2,
            "200 packages are two full pages and no empty third"
        );
    }
    let refused = wire
        .call(
            "ListModelPackages",
            json!({ "ModelPackageGroupName": "big", "NextToken": "bm9wZQ==" }),
        )
        .await;
    assert_error(
        &refused,
        400,
        "ValidationException",
        "Invalid pagination token",
    );
}

#[tokio::test]
async fn every_group_pages_in_creation_order_within_creation_time_bounds() {
    const GROUPS: [&str; 3] = ["a", "b", "c"];
    let wire = start().await;
    for group in GROUPS {
        wire.mock
            .call(
                "CreateModelPackageGroup",
                json!({ "ModelPackageGroupName": group }),
            )
            .expect("group");
    }
    let mut created = Vec::new();
    for i in 0..250 {
        let arn = wire
            .mock
            .call(
                "CreateModelPackage",
                json!({ "ModelPackageGroupName": GROUPS[i % 3] }),
            )
            .expect("package")["ModelPackageArn"]
            .as_str()
            .expect("arn")
            .to_string();
        let described = wire
            .mock
            .call("DescribeModelPackage", json!({ "ModelPackageName": arn }))
            .expect("describe");
        created.push((arn, described["CreationTime"].as_f64().expect("time")));
    }
    // Every page of a listing across groups, in creation order both ways, and
    // between two creation times (both bounds exclusive, as SageMaker's).
    let list = |bounds: Value, order: &'static str| {
        let wire = &wire;
        async move {
            let mut arns = Vec::new();
            let mut token: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut input = json!({ "ModelPackageType": "Versioned", "MaxResults": 100,
                                        "SortOrder": order });
                for (k, v) in bounds.as_object().expect("bounds") {
                    input[k] = v.clone();
                }
                if let Some(t) = &token {
                    input["NextToken"] = json!(t);
                }
                let page = wire.ok("ListModelPackages", input).await;
                pages += 1;
                for p in page["ModelPackageSummaryList"].as_array().expect("list") {
                    arns.push(p["ModelPackageArn"].as_str().expect("arn").to_string());
                }
                match page["NextToken"].as_str() {
                    Some(t) => token = Some(t.to_string()),
                    None => return (arns, pages),
                }
            }
        }
    };
    let all: Vec<String> = created.iter().map(|(arn, _)| arn.clone()).collect();
    let (ascending, pages) = list(json!({}), "Ascending").await;
    assert_eq!((ascending.clone(), pages), (all.clone(), 3));
    let (mut descending, _) = list(json!({}), "Descending").await;
    descending.reverse();
    assert_eq!(descending, all);
    let (after, before) = (created[49].1, created[150].1);
    let (between, pages) = list(
        json!({ "CreationTimeAfter": after, "CreationTimeBefore": before }),
        "Ascending",
    )
    .await;
    assert_eq!((between, pages), (all[50..150].to_vec(), 1));
    let (last, _) = list(json!({ "CreationTimeAfter": before }), "Ascending").await;
    assert_eq!(last, all[151..].to_vec());
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

#[tokio::test]
async fn search_finds_model_packages_by_modification_time_group_and_lifecycle() {
    let wire = start().await;
    for group in ["fraud", "churn"] {
        wire.ok(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": group }),
        )
        .await;
    }
    let mut arns = Vec::new();
    for (group, stage) in [
        ("fraud", "Development"),
        ("fraud", "Deployment"),
        ("churn", "Development"),
    ] {
        let created = wire
            .ok(
                "CreateModelPackage",
                json!({ "ModelPackageGroupName": group, "ModelCard": { "ModelCardStatus": "Draft" },
                        "ModelLifeCycle": { "Stage": stage, "StageStatus": "InProgress" } }),
            )
            .await;
        arns.push(
            created["ModelPackageArn"]
                .as_str()
                .expect("arn")
                .to_string(),
        );
    }
    let search = |filters: Value, extra: Value| {
        let mut input =
            json!({ "Resource": "ModelPackage", "SearchExpression": { "Filters": filters } });
        for (k, v) in extra.as_object().expect("object") {
            input[k] = v.clone();
        }
        input
    };
    // Everything modified after the epoch, newest first by default, whole packages.
    let all = wire
        .ok(
            "Search",
            search(
                json!([{ "Name": "LastModifiedTime", "Operator": "GreaterThan", "Value": "0" }]),
                json!({}),
            ),
        )
        .await;
    let results = all["Results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "{all}");
    let first = &results[0]["ModelPackage"];
    assert_eq!(first["ModelPackageArn"], arns[2], "newest first: {all}");
    assert_eq!(
        first["ModelCard"]["ModelCardStatus"], "Draft",
        "the whole package"
    );
    // By group and stage, joined by And.
    let one = wire
        .ok(
            "Search",
            search(
                json!([{ "Name": "ModelPackageGroupName", "Operator": "Equals", "Value": "fraud" },
                       { "Name": "ModelLifeCycle.Stage", "Operator": "Equals", "Value": "Deployment" }]),
                json!({}),
            ),
        )
        .await;
    assert_eq!(one["Results"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(
        one["Results"][0]["ModelPackage"]["ModelPackageArn"],
        arns[1]
    );
    // Time And (one group Or another): SubExpressions, each level its own Operator.
    let either = wire
        .ok(
            "Search",
            search(
                json!([{ "Name": "LastModifiedTime", "Operator": "GreaterThan", "Value": "0" }]),
                json!({ "SearchExpression": {
                    "Filters": [{ "Name": "LastModifiedTime", "Operator": "GreaterThan", "Value": "0" }],
                    "SubExpressions": [{ "Operator": "Or", "Filters": [
                        { "Name": "ModelPackageGroupName", "Operator": "Equals", "Value": "churn" },
                        { "Name": "ModelPackageGroupName", "Operator": "Equals", "Value": "nope" }
                    ] }]
                } }),
            ),
        )
        .await;
    assert_eq!(
        either["Results"].as_array().map(Vec::len),
        Some(1),
        "{either}"
    );
    assert_eq!(
        either["Results"][0]["ModelPackage"]["ModelPackageArn"],
        arns[2]
    );
    let too_many: Vec<Value> = (0..51)
        .map(|i| json!({ "Name": "ModelPackageGroupName", "Operator": "Equals", "Value": format!("g{i}") }))
        .collect();
    let refused = wire
        .call(
            "Search",
            search(
                json!([]),
                json!({ "SearchExpression": { "Operator": "Or", "Filters": too_many } }),
            ),
        )
        .await;
    assert_error(&refused, 400, "ValidationException", "at most 50");
    // Paging, ascending.
    let page = wire
        .ok(
            "Search",
            search(
                json!([]),
                json!({ "MaxResults": 2, "SortOrder": "Ascending" }),
            ),
        )
        .await;
    assert_eq!(page["Results"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        page["Results"][0]["ModelPackage"]["ModelPackageArn"],
        arns[0]
    );
    let token = page["NextToken"].as_str().expect("a next page");
    let rest = wire
        .ok(
            "Search",
            search(
                json!([]),
                json!({ "MaxResults": 2, "SortOrder": "Ascending", "NextToken": token }),
            ),
        )
        .await;
    assert_eq!(
        rest["Results"][0]["ModelPackage"]["ModelPackageArn"],
        arns[2]
    );
    assert!(rest.get("NextToken").is_none());
    // A time in the future finds nothing; bad input is refused by name.
    let none = wire
        .ok(
            "Search",
            search(
                json!([{ "Name": "LastModifiedTime", "Operator": "GreaterThan", "Value": "2999-01-01T00:00:00Z" }]),
                json!({}),
            ),
        )
        .await;
    assert_eq!(none["Results"], json!([]));
    let refused = wire
        .call(
            "Search",
            search(
                json!([{ "Name": "Tags", "Operator": "Equals", "Value": "x" }]),
                json!({}),
            ),
        )
        .await;
    assert_error(
        &refused,
        400,
        "ValidationException",
        "does not search on Tags",
    );
    let refused = wire
        .call("Search", search(json!([]), json!({ "MaxResults": 101 })))
        .await;
    assert_error(&refused, 400, "ValidationException", "between 1 and 100");

    // The index lags: with a lag of an hour, nothing just changed is found yet.
    let lag = wire
        .http
        .put(format!("{}/_mock/search-lag", wire.handle.url()))
        .json(&json!({ "seconds": 3600 }))
        .send()
        .await
        .expect("admin");
    assert_eq!(lag.status(), StatusCode::NO_CONTENT);
    let lagging = wire.ok("Search", search(json!([]), json!({}))).await;
    assert_eq!(lagging["Results"], json!([]), "{lagging}");
}
