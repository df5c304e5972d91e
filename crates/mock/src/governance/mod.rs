//! A mock watsonx.governance: the OpenPages REST API v2 subset govsync uses, under
//! `/opgrc/api/v2`, and a mock IBM Cloud IAM token endpoint at `/identity/token`.
//!
//! - `POST /opgrc/api/v2/query` — `{"statement", "offset", "limit"}`; see [`query`]
//!   for the statements it understands.
//! - `GET|PUT /opgrc/api/v2/contents/{id}`, `POST /opgrc/api/v2/contents`.
//! - The status field is an enum that only accepts the configured workflow's statuses.
//! - Auth: every API request needs `Basic base64(user:secret)`, `ZenApiKey
//!   base64(user:secret)` or `Bearer <token>` from `/identity/token` (form
//!   `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=<secret>`), whose
//!   tokens live `token_lifetime`.
//!
//! Requests are counted per endpoint (`query`, `contents.get`, `contents.put`,
//! `contents.post`, `token`), and `unauthorized` for each 401 sent.
//!
//! Admin, under `/_mock/`: `counters`, `faults` (as on the SageMaker mock),
//! `PUT /_mock/models/{id}/status` (`{"status": …}`, as a person in the governance
//! console would), `POST /_mock/revoke-tokens`, `POST /_mock/rows` (rows every query
//! appends verbatim, to test malformed data), `GET /_mock/writes` (every API write
//! that took effect).

mod http;
mod objects;
pub mod query;
mod workflow;

use http::{
    admin_status, age_handler, create_handler, get_handler, inject_rows, put_handler,
    query_handler, revoke_tokens, token_handler, type_handler, writes_handler,
};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

pub use objects::{Object, ObjectType, Objects, OpError};
pub use workflow::{Transition, Workflow};

use super::{
    Admin, Counters, Fault, FaultInjector, Faults, MockError, StateFile, admin_routes,
    dropped_connection, start_state,
};

/// The API base path.
pub const API_BASE: &str = "/opgrc/api/v2";

/// The IAM token path.
pub const TOKEN_PATH: &str = "/identity/token";

/// How to start the mock.
#[derive(Debug, Clone)]
pub struct Options {
    /// The user for Basic and ZenApiKey.
    pub username: String,
    /// The password (Basic) and API key (IAM, ZenApiKey).
    pub secret: SecretString,
    /// Object type, status field, workflow statuses, string fields.
    pub object_type: ObjectType,
    /// Lifetime of the IAM tokens it issues.
    pub token_lifetime: Duration,
    /// Faults from the start (throttling is a 429 with `Retry-After`, server errors 503).
    pub faults: Faults,
    /// Keep the objects in this JSON file across restarts.
    pub state_file: Option<PathBuf>,
    /// A workflow engine over the objects (none: no workflow instances).
    pub workflow: Option<Workflow>,
}

/// The statuses of watsonx.governance's out-of-the-box Model Lifecycle workflow, as
/// IBM documents them (written out here, not taken from govsync's mapping table, so
/// that a table naming a status the workflow lacks is refused by the mock).
pub const MODEL_LIFECYCLE_STATUSES: &[&str] = &[
    "Proposed",
    "Model Definition",
    "Under Development",
    "Data Acquisition",
    "Data Acquisition Complete",
    "Feature Engineering",
    "Feature Engineering Complete",
    "Development Complete",
    "Pre Implementation Review",
    "Validation Complete",
    "Awaiting Approval",
    "Approved for Deployment",
    "Deployed",
    "Model Change in Progress",
    "Rejected",
    "On Hold - Proposal",
    "On Hold - Development",
    "Decommissioning",
    "Decommissioned",
];

impl Options {
    /// A mock for `username` and `secret`, with govsync's default object type and
    /// fields, and the statuses of watsonx.governance's Model Lifecycle workflow.
    pub fn new(username: &str, secret: SecretString) -> Options {
        let statuses = MODEL_LIFECYCLE_STATUSES
            .iter()
            .map(|s| s.to_string())
            .collect();
        Options {
            username: username.to_string(),
            secret,
            object_type: ObjectType {
                model_type: "Model".into(),
                status_field: "MRG-Model:Status".into(),
                statuses,
                string_fields: vec!["Integration:External ID".into(), "Description".into()],
                status_is_string: false,
                date_literals_only: false,
                required_fields: Vec::new(),
            },
            token_lifetime: Duration::from_secs(3600),
            faults: Faults::default(),
            state_file: None,
            workflow: None,
        }
    }
}

struct Shared {
    store: Mutex<Objects>,
    /// Where changes are logged, with a state file.
    state_file: Mutex<Option<StateFile>>,
    tokens: Mutex<HashMap<String, Instant>>,
    faults: FaultInjector,
    /// Answers held (the object already created or changed) until a test lets them
    /// through, by endpoint.
    answers: crate::Gate,
    counters: Counters,
    /// Every `PUT /contents/{id}` that changed an object: `{"id", "fields", "at"}`.
    writes: Mutex<Vec<Value>>,
    options: Options,
}

/// The mock governance server. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MockGovernance {
    shared: Arc<Shared>,
}

impl Admin for MockGovernance {
    const NAME: &'static str = "mock governance";

    /// The routes: the API, the IAM token endpoint and the admin endpoints.
    fn router(&self) -> axum::Router {
        axum::Router::new()
            .route(&format!("{API_BASE}/query"), post(query_handler))
            .route(&format!("{API_BASE}/contents"), post(create_handler))
            .route(
                &format!("{API_BASE}/contents/{{id}}"),
                get(get_handler).put(put_handler),
            )
            .route(&format!("{API_BASE}/types/{{type}}"), get(type_handler))
            .route(
                &format!("{API_BASE}/workflows/instances/search"),
                get(workflow::search),
            )
            .route(
                &format!("{API_BASE}/workflows/instances/{{id}}/transition/{{action}}"),
                post(workflow::transition),
            )
            .route(TOKEN_PATH, post(token_handler))
            .route("/_mock/models/{id}/status", put(admin_status))
            .route("/_mock/revoke-tokens", post(revoke_tokens))
            .route("/_mock/rows", post(inject_rows))
            .route("/_mock/writes", get(writes_handler))
            .route("/_mock/age", post(age_handler))
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

pub(super) fn op_response(error: &OpError) -> Response {
    (
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(json!({ "message": error.message })),
    )
        .into_response()
}

impl MockGovernance {
    /// A mock with these options (loading its state file if there is one).
    pub fn new(options: Options) -> Result<MockGovernance, MockError> {
        let (faults, state) = start_state::<MockGovernance, Objects, Object>(
            &options.faults,
            options.state_file.as_deref(),
            Objects::replay,
        )?;
        let (state_file, loaded) = state.unzip();
        let mut store = loaded.flatten().unwrap_or_default();
        store.reindex();
        Ok(MockGovernance {
            shared: Arc::new(Shared {
                store: Mutex::new(store),
                state_file: Mutex::new(state_file),
                tokens: Mutex::new(HashMap::new()),
                faults,
                answers: crate::Gate::default(),
                counters: Counters::default(),
                writes: Mutex::new(Vec::new()),
                options,
            }),
        })
    }

    /// The gate answers pass once their request is served: a test holds, say,
    /// `contents.post`'s answers to kill a client after the model exists but before
    /// it learns so.
    pub fn answers(&self) -> &crate::Gate {
        &self.shared.answers
    }

    /// Creates a model directly (no auth, faults or counting): seeds tests and the demo.
    /// Returns its resource ID.
    pub fn create_model(
        &self,
        name: &str,
        status: Option<&str>,
        link: Option<&str>,
    ) -> Result<String, OpError> {
        let object_type = &self.shared.options.object_type;
        let mut fields = Vec::new();
        if let Some(s) = status {
            let value = if object_type.status_is_string {
                json!(s)
            } else {
                json!({ "name": s })
            };
            fields.push(json!({ "name": object_type.status_field, "value": value }));
        }
        if let Some(l) = link
            && let Some(link_field) = object_type.string_fields.first()
        {
            fields.push(json!({ "name": link_field, "value": l }));
        }
        let body =
            json!({ "name": name, "type_definition_id": object_type.model_type, "fields": fields });
        let created = self.mutate(|store, object_type| store.create(object_type, body))?;
        Ok(created["id"].as_str().unwrap_or_default().to_string())
    }

    /// The object a model was created under (`primary_parent_id`), if any.
    pub fn parent_of(&self, id: &str) -> Option<String> {
        let store = self.shared.store.lock().expect("store lock poisoned");
        store.get(id).ok()?.parent.clone()
    }

    /// Every model's ID, name and link field, in ID order.
    pub fn models(&self) -> Vec<(String, String, Option<String>)> {
        let store = self.shared.store.lock().expect("store lock poisoned");
        let link_field = self
            .shared
            .options
            .object_type
            .string_fields
            .first()
            .cloned();
        store
            .all()
            .map(|o| {
                (
                    o.id.to_string(),
                    o.name.clone(),
                    link_field.as_ref().and_then(|f| o.fields.get(f).cloned()),
                )
            })
            .collect()
    }

    /// A model's status as the mock holds it.
    pub fn status_of(&self, id: &str) -> Option<String> {
        self.field_of(id, &self.shared.options.object_type.status_field)
    }

    /// A field of a model as the mock holds it (`None`: no such model, or the
    /// field is empty).
    pub fn field_of(&self, id: &str, field: &str) -> Option<String> {
        let store = self.shared.store.lock().expect("store lock poisoned");
        let object = store.get(id).ok()?;
        object.fields.get(field).cloned()
    }

    /// Admin: moves every object's `Last Modification Date` `by` into the past, as
    /// if the models had last changed that much earlier.
    pub fn age(&self, by: std::time::Duration) {
        let _ = self.mutate(|store, _| {
            store.age(by.as_secs_f64());
            Ok::<(), OpError>(())
        });
    }

    /// Sets a status as a person in the governance console would.
    pub fn set_status(&self, id: &str, status: &str) -> Result<(), OpError> {
        self.mutate(|store, object_type| store.set_status(object_type, id, status))
    }

    /// Every API write that took effect (`PUT /contents/{id}`), oldest first:
    /// `{"id", "fields", "at"}`. Changes made through the admin endpoints are not here.
    pub fn writes(&self) -> Vec<Value> {
        self.shared
            .writes
            .lock()
            .expect("writes lock poisoned")
            .clone()
    }

    /// Forgets every issued token: the next bearer request gets a 401.
    pub fn revoke_tokens(&self) {
        self.shared
            .tokens
            .lock()
            .expect("token lock poisoned")
            .clear();
    }

    /// Adds rows that every query returns verbatim (malformed-data tests).
    pub fn inject_rows(&self, rows: Vec<Value>) {
        self.shared
            .store
            .lock()
            .expect("store lock poisoned")
            .inject_rows(rows);
    }

    /// How it was started.
    fn options(&self) -> &Options {
        &self.shared.options
    }

    /// The objects, locked.
    fn objects(&self) -> std::sync::MutexGuard<'_, Objects> {
        self.shared.store.lock().expect("store lock poisoned")
    }

    /// Appends an API write that took effect to the write log.
    fn log_write(&self, mut entry: Value) {
        entry["at"] =
            json!(humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string());
        self.shared
            .writes
            .lock()
            .expect("writes lock poisoned")
            .push(entry);
    }

    /// Runs a change on the store and persists it.
    fn mutate<T>(
        &self,
        change: impl FnOnce(&mut Objects, &ObjectType) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        let mut store = self.shared.store.lock().expect("store lock poisoned");
        let out = change(&mut store, &self.shared.options.object_type);
        let changed = store.take_changed();
        let mut state_file = self
            .shared
            .state_file
            .lock()
            .expect("state file lock poisoned");
        if let Some(file) = state_file.as_mut() {
            let logged = changed.iter().try_fold(false, |due, object| {
                file.append(object).map(|now_due| due || now_due)
            });
            let result = match logged {
                Ok(true) => file.compact(&*store),
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::warn!(file = %file.path().display(), error = %e, "mock governance could not persist its state");
            }
        }
        out
    }
}
