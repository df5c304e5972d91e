//! The mock's wire: `POST /` as SageMaker (AWS JSON 1.1) or STS (AWS Query), AWS
//! error responses, faults, and the admin endpoints under `/_mock/`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use std::time::SystemTime;

use super::{ApiError, CONTENT_TYPE, MockSageMaker, StsSettings, sts};
use crate::{Fault, dropped_connection, epoch_seconds};

/// An AWS JSON 1.1 error response.
pub(super) fn error_response(error: &ApiError) -> Response {
    (
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
        [
            ("content-type", CONTENT_TYPE.to_string()),
            ("x-amzn-errortype", error.code.to_string()),
            ("x-amzn-requestid", request_id()),
        ],
        json!({ "__type": error.code, "message": error.message }).to_string(),
    )
        .into_response()
}

pub(super) fn request_id() -> String {
    let n = fastrand::u128(..);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        n >> 96,
        (n >> 80) & 0xffff,
        (n >> 64) & 0xffff,
        (n >> 48) & 0xffff,
        n & 0xffff_ffff_ffff
    )
}

/// The fault a SageMaker request drew, as the answer to send instead of serving it.
pub(super) async fn fault(mock: &MockSageMaker, operation: &str) -> Option<Response> {
    match mock.shared.faults.roll(operation).await {
        Some(Fault::Throttle) => {
            let retry_after = mock.shared.faults.get().retry_after_ms;
            let mut response = error_response(&ApiError {
                status: 400,
                code: "ThrottlingException",
                message: "Rate exceeded".into(),
            });
            if retry_after > 0 {
                response
                    .headers_mut()
                    .insert("x-amz-retry-after", retry_after.into());
            }
            Some(response)
        }
        Some(Fault::ServerError) => Some(error_response(&ApiError {
            status: 500,
            code: "InternalFailure",
            message: "We encountered an internal error. Please try again.".into(),
        })),
        Some(Fault::Drop) => Some(dropped_connection()),
        None => None,
    }
}

/// `POST /`: SageMaker (AWS JSON 1.1, named by `X-Amz-Target`) or STS (AWS Query,
/// a form body naming its `Action`).
pub(super) async fn aws_json(
    State(mock): State<MockSageMaker>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target.is_empty() && form {
        return sts_request(&mock, &headers, &body).await;
    }
    let Some(operation) = target.strip_prefix("SageMaker.") else {
        return error_response(&ApiError {
            status: 400,
            code: "UnknownOperationException",
            message: format!("Unknown or missing X-Amz-Target \"{target}\""),
        });
    };
    mock.shared.counters.hit(operation);
    let (caller, region) = match mock.caller(&headers) {
        Ok(found) => found,
        Err(e) => return error_response(&e),
    };
    mock.shared
        .scope_counters
        .hit(&format!("{}/{region}/{operation}", caller.account));
    mock.shared.gate.pass(operation).await;
    if let Some(answer) = fault(&mock, operation).await {
        return answer;
    }
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error_response(&ApiError {
                    status: 400,
                    code: "SerializationException",
                    message: format!("Could not parse the request body: {e}"),
                });
            }
        }
    };
    match mock.call_in(&caller.account, &region, operation, input) {
        Ok(output) => (
            StatusCode::OK,
            [
                ("content-type", CONTENT_TYPE.to_string()),
                ("x-amzn-requestid", request_id()),
            ],
            output.to_string(),
        )
            .into_response(),
        Err(e) => error_response(&e),
    }
}

pub(super) async fn sts_request(
    mock: &MockSageMaker,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let id = request_id();
    let action = sts::action(body).unwrap_or_else(|| "UnknownAction".into());
    mock.shared.counters.hit(&format!("sts.{action}"));
    let answer = match mock.caller(headers) {
        Err(e) => sts::refused(&e, &id),
        Ok((caller, _)) => {
            // STS's faults in STS's own shape (XML), as its client expects them.
            match mock.shared.faults.roll(&format!("sts.{action}")).await {
                Some(Fault::Throttle) => sts::error(400, "Throttling", "Rate exceeded", &id),
                Some(Fault::ServerError) => sts::error(
                    500,
                    "InternalFailure",
                    "The request processing has failed because of an unknown error.",
                    &id,
                ),
                Some(Fault::Drop) => return dropped_connection(),
                None => {
                    let settings = mock.shared.sts.lock().expect("sts lock poisoned").clone();
                    let answer = sts::serve(
                        &mut mock.shared.fleet.lock().expect("fleet lock poisoned"),
                        &settings,
                        &caller,
                        body,
                        epoch_seconds(SystemTime::now()),
                        &id,
                    );
                    if action == "AssumeRole" && answer.0 == 200 {
                        mock.persist();
                    }
                    answer
                }
            }
        }
    };
    (
        StatusCode::from_u16(answer.0).unwrap_or(StatusCode::BAD_REQUEST),
        [
            ("content-type", "text/xml".to_string()),
            ("x-amzn-requestid", id),
        ],
        answer.1,
    )
        .into_response()
}

pub(super) async fn events(State(mock): State<MockSageMaker>) -> Json<Value> {
    Json(Value::Array(mock.events()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PackageStatus {
    model_package_arn: String,
    model_package_status: String,
}

pub(super) async fn package_status(
    State(mock): State<MockSageMaker>,
    Json(body): Json<PackageStatus>,
) -> Response {
    match mock.set_package_status(&body.model_package_arn, &body.model_package_status) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(&e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Share {
    model_package_group_arn: String,
    account: String,
}

pub(super) async fn share(State(mock): State<MockSageMaker>, Json(body): Json<Share>) -> Response {
    match mock.share_group(&body.model_package_group_arn, &body.account) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(&e),
    }
}

pub(super) async fn get_sts(State(mock): State<MockSageMaker>) -> Json<StsSettings> {
    Json(mock.shared.sts.lock().expect("sts lock poisoned").clone())
}

pub(super) async fn put_sts(
    State(mock): State<MockSageMaker>,
    Json(body): Json<StsSettings>,
) -> StatusCode {
    mock.set_sts(body);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
pub(super) struct Clock {
    advance_seconds: f64,
}

pub(super) async fn advance_clock(
    State(mock): State<MockSageMaker>,
    Json(body): Json<Clock>,
) -> StatusCode {
    mock.advance_clock(body.advance_seconds);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
pub(super) struct Seconds {
    seconds: f64,
}

/// `POST /_mock/age` `{"seconds"}`: every package's times that much into the past.
pub(super) async fn age(
    State(mock): State<MockSageMaker>,
    Json(body): Json<Seconds>,
) -> StatusCode {
    mock.age(std::time::Duration::from_secs_f64(body.seconds.max(0.0)));
    StatusCode::NO_CONTENT
}

/// `PUT /_mock/search-lag` `{"seconds"}`: how far `Search` lags behind.
pub(super) async fn set_search_lag(
    State(mock): State<MockSageMaker>,
    Json(body): Json<Seconds>,
) -> StatusCode {
    mock.set_search_lag(std::time::Duration::from_secs_f64(body.seconds.max(0.0)));
    StatusCode::NO_CONTENT
}

pub(super) async fn scope_counters(
    State(mock): State<MockSageMaker>,
) -> Json<std::collections::BTreeMap<String, u64>> {
    Json(mock.shared.scope_counters.snapshot())
}
