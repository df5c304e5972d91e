//! A mock SageMaker Model Registry that speaks AWS JSON 1.1, so any AWS client
//! (aws-sdk-rust, boto3, the AWS CLI) can use it unchanged: `POST /` with
//! `X-Amz-Target: SageMaker.<Operation>`. Requests must be signed (the signature is
//! not checked). Every package change appends an EventBridge-shaped event.
//!
//! Admin endpoints for tests and demos, under `/_mock/`:
//! `GET /_mock/counters` (requests per operation), `DELETE /_mock/counters`,
//! `GET /_mock/events`, `GET|PUT /_mock/faults`, and `POST /_mock/package-status`
//! (`{"ModelPackageArn", "ModelPackageStatus"}`, e.g. to mark a package `Deleting`).

mod store;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

pub use store::{ApiError, Change, Store};

use super::{
    Admin, Counters, Fault, FaultInjector, Faults, MockError, admin_routes, dropped_connection,
    epoch_seconds, start_state, write_atomically,
};

impl Admin for MockSageMaker {
    const NAME: &'static str = "mock SageMaker";

    /// The HTTP routes: the AWS JSON 1.1 endpoint and the admin endpoints.
    fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/", post(aws_json))
            .route("/_mock/events", get(events))
            .route("/_mock/package-status", post(package_status))
            .merge(admin_routes())
            .with_state(self.clone())
    }

    fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    fn faults(&self) -> &FaultInjector {
        &self.shared.faults
    }
}

/// The AWS JSON 1.1 content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// How to start the mock.
#[derive(Debug, Clone)]
pub struct Options {
    /// The region in ARNs and events.
    pub region: String,
    /// The account in ARNs and events.
    pub account: String,
    /// Faults from the start.
    pub faults: Faults,
    /// Keep the registry in this JSON file (loaded at start, written after each change).
    pub state_file: Option<PathBuf>,
    /// Append each event as a JSON line to this file.
    pub events_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            faults: Faults::default(),
            state_file: None,
            events_file: None,
        }
    }
}

struct Shared {
    store: Mutex<Store>,
    faults: FaultInjector,
    counters: Counters,
    events: Mutex<Vec<Value>>,
    options: Options,
}

/// The mock registry. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MockSageMaker {
    shared: Arc<Shared>,
}

impl MockSageMaker {
    /// A mock with the given options (loading its state file if there is one).
    pub fn new(options: Options) -> Result<MockSageMaker, MockError> {
        let (faults, loaded) =
            start_state::<MockSageMaker, Store>(&options.faults, options.state_file.as_deref())?;
        let store = loaded.unwrap_or_else(|| Store::new(&options.region, &options.account));
        Ok(MockSageMaker {
            shared: Arc::new(Shared {
                store: Mutex::new(store),
                faults,
                counters: Counters::default(),
                events: Mutex::new(Vec::new()),
                options,
            }),
        })
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Value> {
        self.shared
            .events
            .lock()
            .expect("events lock poisoned")
            .clone()
    }

    /// Runs an operation directly (no faults, not counted): seeds tests and the demo
    /// fast. Changes still emit events and persist.
    pub fn call(&self, operation: &str, input: Value) -> Result<Value, ApiError> {
        self.execute(operation, input)
    }

    /// An AWS SDK configuration for clients of this mock: its region and static
    /// credentials (the mock checks that a request is signed, not by whom).
    pub fn client_config(&self) -> aws_config::SdkConfig {
        use aws_config::{BehaviorVersion, Region};
        use aws_sdk_sagemaker::config::{Credentials, SharedCredentialsProvider};
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.shared.options.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDMOCK",
                "mock-secret",
                None,
                None,
                "govsync-mock",
            )))
            .build()
    }

    /// Admin: sets a package's `ModelPackageStatus`.
    pub fn set_package_status(&self, arn: &str, status: &str) -> Result<(), ApiError> {
        let now = epoch_seconds(SystemTime::now());
        let state = self
            .shared
            .store
            .lock()
            .expect("store lock poisoned")
            .set_package_status(arn, status, now)?;
        self.record(Change::Package(state));
        Ok(())
    }

    fn execute(&self, operation: &str, input: Value) -> Result<Value, ApiError> {
        let now = epoch_seconds(SystemTime::now());
        let (output, change) = self
            .shared
            .store
            .lock()
            .expect("store lock poisoned")
            .call(operation, input, now)?;
        self.record(change);
        Ok(output)
    }

    /// Appends the event for a change, and persists the registry.
    fn record(&self, change: Change) {
        let (region, account) = (&self.shared.options.region, &self.shared.options.account);
        let event = match change {
            Change::None => return,
            Change::Package(state) => event(
                "SageMaker Model Package State Change",
                region,
                account,
                state["ModelPackageArn"].clone(),
                state,
            ),
            Change::Deleted(arn) => event(
                "AWS API Call via CloudTrail",
                region,
                account,
                json!(arn),
                json!({
                    "eventSource": "sagemaker.amazonaws.com",
                    "eventName": "DeleteModelPackage",
                    "awsRegion": region,
                    "requestParameters": { "modelPackageName": arn },
                }),
            ),
        };
        if let Some(file) = &self.shared.options.events_file
            && let Err(e) = append_line(file, &event)
        {
            tracing::warn!(file = %file.display(), error = %e, "mock SageMaker could not append to the events file");
        }
        self.shared
            .events
            .lock()
            .expect("events lock poisoned")
            .push(event);
        if let Some(file) = &self.shared.options.state_file {
            let snapshot = serde_json::to_string_pretty(
                &*self.shared.store.lock().expect("store lock poisoned"),
            )
            .expect("the store serialises");
            if let Err(e) = write_atomically(file, &snapshot) {
                tracing::warn!(file = %file.display(), error = %e, "mock SageMaker could not persist its state");
            }
        }
    }
}

fn event(detail_type: &str, region: &str, account: &str, arn: Value, detail: Value) -> Value {
    let now = SystemTime::now();
    json!({
        "version": "0",
        "id": format!("{:032x}", fastrand::u128(..)),
        "detail-type": detail_type,
        "source": "aws.sagemaker",
        "account": account,
        "time": humantime::format_rfc3339_seconds(now).to_string(),
        "region": region,
        "resources": [arn],
        "detail": detail,
    })
}

fn append_line(file: &Path, value: &Value) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    writeln!(f, "{value}")
}

/// An AWS JSON 1.1 error response.
fn error_response(error: &ApiError) -> Response {
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

fn request_id() -> String {
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

async fn aws_json(State(mock): State<MockSageMaker>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix("SageMaker.") else {
        return error_response(&ApiError {
            status: 400,
            code: "UnknownOperationException",
            message: format!("Unknown or missing X-Amz-Target \"{target}\""),
        });
    };
    mock.shared.counters.hit(operation);
    if !headers.contains_key("authorization") {
        return error_response(&ApiError {
            status: 400,
            code: "MissingAuthenticationTokenException",
            message: "Missing Authentication Token".into(),
        });
    }
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
            return response;
        }
        Some(Fault::ServerError) => {
            return error_response(&ApiError {
                status: 500,
                code: "InternalFailure",
                message: "We encountered an internal error. Please try again.".into(),
            });
        }
        Some(Fault::Drop) => return dropped_connection(),
        None => {}
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
    match mock.execute(operation, input) {
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

async fn events(State(mock): State<MockSageMaker>) -> Json<Value> {
    Json(Value::Array(mock.events()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PackageStatus {
    model_package_arn: String,
    model_package_status: String,
}

async fn package_status(
    State(mock): State<MockSageMaker>,
    Json(body): Json<PackageStatus>,
) -> Response {
    match mock.set_package_status(&body.model_package_arn, &body.model_package_status) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(&e),
    }
}
