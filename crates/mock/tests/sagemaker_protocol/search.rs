//! `Search` over model packages.

use super::*;

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
