//! A mock SageMaker Model Registry that speaks AWS JSON 1.1, so any AWS client
//! (aws-sdk-rust, boto3, the AWS CLI) can use it unchanged: `POST /` with
//! `X-Amz-Target: SageMaker.<Operation>`. Requests must be signed (the signature is
//! not checked): the access key says which account a request is from (keys it was
//! told about, sessions its STS issued, else the default account), the SigV4
//! credential scope which region. Every package change appends an EventBridge-shaped
//! event. STS (`AssumeRole`, `GetCallerIdentity`) answers on the same port.
//!
//! Admin endpoints for tests and demos, under `/_mock/`:
//! `GET /_mock/counters` (requests per operation), `GET /_mock/counters/scopes`
//! (per `<account>/<region>`), `DELETE /_mock/counters`, `GET /_mock/events`,
//! `GET|PUT /_mock/faults`, `POST /_mock/package-status`
//! (`{"ModelPackageArn", "ModelPackageStatus"}`, e.g. to mark a package `Deleting`),
//! `POST /_mock/shares` (`{"ModelPackageGroupArn", "Account"}`, as AWS RAM shares a
//! group), `GET|PUT /_mock/sts` (denied roles, credential lifetime) and
//! `POST /_mock/clock` (`{"advance_seconds"}`: issued credentials age).

mod fleet;
mod http;
mod paging;
mod registry;
mod search;
mod shapes;
mod sts;
mod validation;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

pub use fleet::{Fleet, Identity, Logged};
pub use registry::{AccountRegistry, ApiError, Change};
pub use sts::StsSettings;

use http::{
    advance_clock, age, aws_json, events, get_sts, package_status, put_sts, scope_counters,
    set_search_lag, share,
};

use super::{
    Admin, Counters, FaultInjector, Faults, MockError, StateFile, admin_routes, epoch_seconds,
    start_state,
};

impl Admin for MockSageMaker {
    const NAME: &'static str = "mock SageMaker";

    /// The HTTP routes: the AWS JSON 1.1 endpoint and the admin endpoints.
    fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/", post(aws_json))
            .route("/_mock/events", get(events))
            .route("/_mock/package-status", post(package_status))
            .route("/_mock/shares", post(share))
            .route("/_mock/sts", get(get_sts).put(put_sts))
            .route("/_mock/clock", post(advance_clock))
            .route("/_mock/search-lag", put(set_search_lag))
            .route("/_mock/age", post(age))
            .route("/_mock/counters/scopes", get(scope_counters))
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
    /// The region of requests whose signature names none, and of [`MockSageMaker::call`].
    pub region: String,
    /// The account of credentials it was not told about, and of [`MockSageMaker::call`].
    pub account: String,
    /// Access key ID → account: credentials of other accounts.
    pub accounts: BTreeMap<String, String>,
    /// Its STS's settings.
    pub sts: StsSettings,
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
            accounts: BTreeMap::new(),
            sts: StsSettings::default(),
            faults: Faults::default(),
            state_file: None,
            events_file: None,
        }
    }
}

struct Shared {
    fleet: Mutex<Fleet>,
    /// Where changes are logged, with a state file.
    state_file: Mutex<Option<StateFile>>,
    sts: Mutex<StsSettings>,
    faults: FaultInjector,
    /// Requests held until a test lets them through.
    gate: crate::Gate,
    counters: Counters,
    /// Requests per `<account>/<region>/<Operation>`.
    scope_counters: Counters,
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
        let (faults, state) = start_state::<MockSageMaker, Fleet, fleet::Logged>(
            &options.faults,
            options.state_file.as_deref(),
            Fleet::replay,
        )?;
        let (state_file, loaded) = state.unzip();
        let mut fleet = loaded.flatten().unwrap_or_default();
        fleet.reindex();
        fleet.registry(&options.account, &options.region);
        Ok(MockSageMaker {
            shared: Arc::new(Shared {
                fleet: Mutex::new(fleet),
                state_file: Mutex::new(state_file),
                sts: Mutex::new(options.sts.clone()),
                faults,
                gate: crate::Gate::default(),
                counters: Counters::default(),
                scope_counters: Counters::default(),
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

    /// Runs an operation directly in the default account and region (no faults, not
    /// counted): seeds tests and the demo fast. Changes still emit events and persist.
    pub fn call(&self, operation: &str, input: Value) -> Result<Value, ApiError> {
        let (account, region) = (&self.shared.options.account, &self.shared.options.region);
        self.call_in(account, region, operation, input)
    }

    /// An AWS SDK configuration for clients of this mock: its default region and
    /// static credentials of its default account.
    pub fn client_config(&self) -> aws_config::SdkConfig {
        self.client_config_for("AKIDMOCK")
    }

    /// An AWS SDK configuration with the static access key `access_key` (tell the
    /// mock its account with [`Options::accounts`]) and the default region.
    pub fn client_config_for(&self, access_key: &str) -> aws_config::SdkConfig {
        use aws_config::{BehaviorVersion, Region};
        use aws_credential_types::{Credentials, provider::SharedCredentialsProvider};
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .time_source(aws_smithy_async::time::SystemTimeSource::new())
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
            .region(Region::new(self.shared.options.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                access_key,
                "mock-secret",
                None,
                None,
                "govsync-mock",
            )))
            .build()
    }

    /// Admin: sets a package's `ModelPackageStatus`.
    pub fn set_package_status(&self, arn: &str, status: &str) -> Result<(), ApiError> {
        let (state, place) = {
            let mut fleet = self.shared.fleet.lock().expect("fleet lock poisoned");
            let now = fleet.tick(epoch_seconds(SystemTime::now()));
            let store = fleet.holding(arn).ok_or_else(|| {
                ApiError::validation(format!("ModelPackage {arn} does not exist."))
            })?;
            let place = (store.account().to_string(), store.region().to_string());
            (store.set_package_status(arn, status, now)?, place)
        };
        self.record(state, &place);
        Ok(())
    }

    /// Admin: shares a group (by ARN) with another account, as AWS RAM does.
    pub fn share_group(&self, group_arn: &str, account: &str) -> Result<(), ApiError> {
        self.shared
            .fleet
            .lock()
            .expect("fleet lock poisoned")
            .share(group_arn, account)?;
        self.persist();
        Ok(())
    }

    /// The gate SageMaker requests pass (a test holds an operation's requests in
    /// flight, and lets them through).
    pub fn gate(&self) -> &crate::Gate {
        &self.shared.gate
    }

    /// Admin: replaces the STS settings (denied roles, credential lifetime).
    pub fn set_sts(&self, settings: StsSettings) {
        *self.shared.sts.lock().expect("sts lock poisoned") = settings;
    }

    /// Admin: how far the `Search` index lags behind (a package changed less than
    /// this ago is not found yet).
    pub fn set_search_lag(&self, lag: std::time::Duration) {
        self.shared
            .fleet
            .lock()
            .expect("fleet lock poisoned")
            .set_search_lag(lag.as_secs_f64());
    }

    /// Admin: moves every package's creation and modification time `by` into the
    /// past, as if the registries had been filled that much earlier (a fleet whose
    /// last changes are older than an incremental cycle looks back).
    pub fn age(&self, by: std::time::Duration) {
        self.shared
            .fleet
            .lock()
            .expect("fleet lock poisoned")
            .age(by.as_secs_f64());
        self.persist();
    }

    /// Admin: moves the mock's clock forward, so that issued credentials expire.
    pub fn advance_clock(&self, seconds: f64) {
        self.shared
            .fleet
            .lock()
            .expect("fleet lock poisoned")
            .advance_clock(seconds);
    }

    /// Requests served per `<account>/<region>/<Operation>`.
    pub fn scope_counters(&self) -> &Counters {
        &self.shared.scope_counters
    }

    /// Like [`MockSageMaker::call`], as a caller of `account` in `region` (the HTTP
    /// endpoint runs requests through this too, after faults and counters).
    pub fn call_in(
        &self,
        account: &str,
        region: &str,
        operation: &str,
        input: Value,
    ) -> Result<Value, ApiError> {
        let now = epoch_seconds(SystemTime::now());
        let (output, change, place) = self
            .shared
            .fleet
            .lock()
            .expect("fleet lock poisoned")
            .call(account, region, operation, input, now)?;
        self.record(change, &place);
        Ok(output)
    }

    /// Appends the event for a change in the registry of `place`, and logs the
    /// change to the state file.
    fn record(&self, change: Change, place: &fleet::Place) {
        let (account, region) = (&place.0, &place.1);
        let event = match &change {
            Change::None => return,
            Change::Group(_) => None,
            Change::Package(package) => {
                let state = registry::full(package);
                Some(event(
                    "SageMaker Model Package State Change",
                    region,
                    account,
                    state["ModelPackageArn"].clone(),
                    state,
                ))
            }
            Change::Deleted(arn) => Some(event(
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
            )),
        };
        if let Some(event) = event {
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
        }
        let mut state_file = self
            .shared
            .state_file
            .lock()
            .expect("state file lock poisoned");
        if let Some(file) = state_file.as_mut() {
            let logged = fleet::Logged {
                place: place.clone(),
                change,
            };
            let result = match file.append(&logged) {
                Ok(true) => file.compact(&*self.shared.fleet.lock().expect("fleet lock poisoned")),
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::warn!(file = %file.path().display(), error = %e, "mock SageMaker could not persist its state");
            }
        }
    }

    /// Writes the whole state to the state file: for the rare changes the log does
    /// not carry (shared groups, issued credentials).
    fn persist(&self) {
        let mut state_file = self
            .shared
            .state_file
            .lock()
            .expect("state file lock poisoned");
        if let Some(file) = state_file.as_mut()
            && let Err(e) = file.compact(&*self.shared.fleet.lock().expect("fleet lock poisoned"))
        {
            tracing::warn!(file = %file.path().display(), error = %e, "mock SageMaker could not persist its state");
        }
    }

    /// Who signed a request, and in which region: from the SigV4 `Authorization`
    /// header's credential scope (`Credential=<key>/<date>/<region>/<service>/…`).
    fn caller(&self, headers: &HeaderMap) -> Result<(Identity, String), ApiError> {
        let Some(authorization) = headers.get("authorization") else {
            return Err(ApiError {
                status: 400,
                code: "MissingAuthenticationTokenException",
                message: "Missing Authentication Token".into(),
            });
        };
        // The signature is not checked; a header without a credential scope is the
        // default account in the default region.
        let credential = authorization
            .to_str()
            .ok()
            .and_then(|v| v.split("Credential=").nth(1))
            .map_or("", |v| v.split([',', ' ']).next().unwrap_or_default());
        let mut parts = credential.split('/');
        let access_key = parts.next().unwrap_or_default();
        let region = parts
            .nth(1)
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.shared.options.region)
            .to_string();
        let identity = self
            .shared
            .fleet
            .lock()
            .expect("fleet lock poisoned")
            .identify(
                access_key,
                &self.shared.options.accounts,
                &self.shared.options.account,
                epoch_seconds(SystemTime::now()),
            )?;
        Ok((identity, region))
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
