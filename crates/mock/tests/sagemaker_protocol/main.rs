//! The mock SageMaker server on the wire: raw HTTP requests in AWS JSON 1.1, as any
//! AWS client sends them, checking status codes, headers and JSON shapes.
//!
//! One test binary, a module per area: `packages`, `paging`, `search`, `faults`,
//! `persistence`; the wire helpers are here.

use govsync_mock::Admin;
use govsync_mock::MockHandle;
use govsync_mock::sagemaker::{MockSageMaker, Options};
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

mod faults;
mod packages;
mod paging;
mod persistence;
mod search;
