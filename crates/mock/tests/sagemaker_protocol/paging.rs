//! Listing: opaque tokens, filters, creation-time order and bounds.

use super::*;

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
