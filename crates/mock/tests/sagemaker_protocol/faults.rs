//! Fault injection, set at start and changed at runtime.

use super::*;

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
