//! The mock governance server's HTTP side: the OpenPages REST API v2 handlers, the
//! IAM token endpoint, the admin endpoints, and the gate every API request passes
//! (count, auth, faults).

use super::*;

impl MockGovernance {
    /// Counts, checks auth, and injects faults; `Some` is the response to send instead.
    pub(super) async fn gate(&self, endpoint: &str, headers: &HeaderMap) -> Option<Response> {
        self.shared.counters.hit(endpoint);
        if !self.authorized(headers) {
            self.shared.counters.hit("unauthorized");
            return Some(
                (
                    StatusCode::UNAUTHORIZED,
                    [("www-authenticate", "Basic realm=\"OpenPages\", Bearer")],
                    Json(json!({ "message": "OP-00401: Authentication is required or the credentials are not valid." })),
                )
                    .into_response(),
            );
        }
        match self.shared.faults.roll(endpoint).await {
            Some(Fault::Throttle) => {
                let retry_after = self.shared.faults.get().retry_after_ms.div_ceil(1000);
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({ "message": "OP-00429: Too many requests." })),
                )
                    .into_response();
                if retry_after > 0 {
                    response
                        .headers_mut()
                        .insert("retry-after", retry_after.into());
                }
                Some(response)
            }
            Some(Fault::ServerError) => Some(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({ "message": "OP-00503: The service is temporarily unavailable." })),
                )
                    .into_response(),
            ),
            Some(Fault::Drop) => Some(dropped_connection()),
            None => None,
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let options = &self.shared.options;
        let expected = format!("{}:{}", options.username, options.secret.expose_secret());
        let decoded_matches = |encoded: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .is_ok_and(|d| d == expected.as_bytes())
        };
        match value.split_once(' ') {
            Some(("Basic", encoded)) | Some(("ZenApiKey", encoded)) => decoded_matches(encoded),
            Some(("Bearer", token)) => self
                .shared
                .tokens
                .lock()
                .expect("token lock poisoned")
                .get(token.trim())
                .is_some_and(|expires| Instant::now() < *expires),
            _ => false,
        }
    }
}

pub(super) async fn query_handler(
    State(mock): State<MockGovernance>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = mock.gate("query", &headers).await {
        return refused;
    }
    let store = mock.shared.store.lock().expect("store lock poisoned");
    match store.query(&mock.shared.options.object_type, body) {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => op_response(&e),
    }
}

pub(super) async fn type_handler(
    State(mock): State<MockGovernance>,
    Path(type_name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = mock.gate("types.get", &headers).await {
        return refused;
    }
    let object_type = &mock.shared.options.object_type;
    if type_name == object_type.model_type {
        Json(object_type.definition()).into_response()
    } else {
        op_response(&OpError {
            status: 404,
            message: format!("OP-01010: The object type '{type_name}' does not exist."),
        })
    }
}

pub(super) async fn get_handler(
    State(mock): State<MockGovernance>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = mock.gate("contents.get", &headers).await {
        return refused;
    }
    let store = mock.shared.store.lock().expect("store lock poisoned");
    match store.get(&id) {
        Ok(object) => Json(mock.shared.options.object_type.object_json(object)).into_response(),
        Err(e) => op_response(&e),
    }
}

pub(super) async fn put_handler(
    State(mock): State<MockGovernance>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = mock.gate("contents.put", &headers).await {
        return refused;
    }
    let fields = body.get("fields").cloned().unwrap_or(Value::Null);
    let status_field = &mock.options().object_type.status_field;
    let writes_status = fields
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["name"] == json!(status_field)));
    if writes_status
        && mock
            .options()
            .workflow
            .as_ref()
            .is_some_and(|w| w.lock_status_field)
    {
        return op_response(&OpError {
            status: 409,
            message: format!(
                "OP-20010: The field '{status_field}' is controlled by the workflow; use a workflow action."
            ),
        });
    }
    let updated = mock.mutate(|store, object_type| store.update(object_type, &id, body));
    if updated.is_ok() {
        mock.log_write(json!({ "id": id, "fields": fields }));
    }
    mock.shared.answers.pass("contents.put").await;
    match updated {
        Ok(object) => Json(object).into_response(),
        Err(e) => op_response(&e),
    }
}

pub(super) async fn create_handler(
    State(mock): State<MockGovernance>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = mock.gate("contents.post", &headers).await {
        return refused;
    }
    let created = mock.mutate(|store, object_type| store.create(object_type, body));
    mock.shared.answers.pass("contents.post").await;
    match created {
        Ok(object) => (StatusCode::CREATED, Json(object)).into_response(),
        Err(e) => op_response(&e),
    }
}

pub(super) async fn token_handler(
    State(mock): State<MockGovernance>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    mock.shared.counters.hit("token");
    let iam_error = |code: &str, message: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "errorCode": code, "errorMessage": message, "context": {} })),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str) != Some("urn:ibm:params:oauth:grant-type:apikey")
    {
        return iam_error("BXNIM0109E", "Property missing or empty: grant_type");
    }
    if form.get("apikey").map(String::as_str) != Some(mock.shared.options.secret.expose_secret()) {
        return iam_error("BXNIM0415E", "Provided API key could not be found.");
    }
    let lifetime = mock.shared.options.token_lifetime;
    let token = format!("mock-iam-{:032x}", fastrand::u128(..));
    mock.shared
        .tokens
        .lock()
        .expect("token lock poisoned")
        .insert(token.clone(), Instant::now() + lifetime);
    let now = crate::epoch_seconds(std::time::SystemTime::now()) as u64;
    Json(json!({
        "access_token": token,
        "refresh_token": "not_supported",
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "expiration": now + lifetime.as_secs(),
        "scope": "ibm openid",
    }))
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct StatusBody {
    status: String,
}

pub(super) async fn admin_status(
    State(mock): State<MockGovernance>,
    Path(id): Path<String>,
    Json(body): Json<StatusBody>,
) -> Response {
    match mock.set_status(&id, &body.status) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => op_response(&e),
    }
}

pub(super) async fn revoke_tokens(State(mock): State<MockGovernance>) -> StatusCode {
    mock.revoke_tokens();
    StatusCode::NO_CONTENT
}

pub(super) async fn inject_rows(
    State(mock): State<MockGovernance>,
    Json(rows): Json<Vec<Value>>,
) -> StatusCode {
    mock.inject_rows(rows);
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
pub(super) struct Seconds {
    seconds: f64,
}

/// `POST /_mock/age` `{"seconds"}`: every model's modification date that much
/// into the past.
pub(super) async fn age_handler(
    State(mock): State<MockGovernance>,
    axum::Json(body): axum::Json<Seconds>,
) -> StatusCode {
    mock.age(std::time::Duration::from_secs_f64(body.seconds.max(0.0)));
    StatusCode::NO_CONTENT
}

pub(super) async fn writes_handler(State(mock): State<MockGovernance>) -> Json<Value> {
    Json(Value::Array(mock.writes()))
}
