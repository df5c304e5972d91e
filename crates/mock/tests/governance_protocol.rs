//! The mock governance server on the wire: raw HTTP in the OpenPages REST API v2
//! shapes, the mock IAM token endpoint, auth enforcement, faults and persistence.
//! Just over 500 lines: one scenario per documented behaviour, each standing alone.

use govsync_mock::Admin;
use govsync_mock::MockHandle;
use govsync_mock::governance::{API_BASE, MockGovernance, Options, TOKEN_PATH};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

const BASIC: &str = "Basic Z292c3luYzpzZWNyZXQ="; // govsync:secret

struct Wire {
    mock: MockGovernance,
    handle: MockHandle,
    http: reqwest::Client,
}

async fn start_with(options: Options) -> Wire {
    let mock = MockGovernance::new(options).expect("options");
    let handle = mock.spawn_on_loopback().await.expect("serve");
    Wire {
        mock,
        handle,
        http: reqwest::Client::new(),
    }
}

fn options() -> Options {
    Options::new("govsync", SecretString::from("secret"))
}

impl Wire {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.handle.url()));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}"))
        };
        (status, headers, body)
    }

    async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self
            .send(method, &format!("{API_BASE}{path}"), Some(BASIC), body)
            .await;
        (status, body)
    }

    async fn query(&self, statement: &str, offset: u64, limit: u64) -> (StatusCode, Value) {
        self.api(
            reqwest::Method::POST,
            "/query",
            Some(json!({ "statement": statement, "offset": offset, "limit": limit })),
        )
        .await
    }
}

fn op_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    let message = body["message"]
        .as_str()
        .expect("an OpenPages-style message");
    assert!(
        message.starts_with(code),
        "{message} should start with {code}"
    );
}

#[tokio::test]
async fn contents_are_created_read_and_updated_with_enum_fields() {
    let wire = start_with(options()).await;
    let (status, created) = wire
        .api(
            reqwest::Method::POST,
            "/contents",
            Some(json!({
                "name": "fraud model",
                "type_definition_id": "Model",
                "fields": [
                    { "name": "MRG-Model:Status", "value": { "name": "Proposed" } },
                    { "name": "Integration:External ID", "value": "arn:aws:sagemaker:us-east-1:1:model-package/g/1" },
                ],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id is a string").to_string();
    assert_eq!(created["type_definition_id"], "Model");

    let (status, got) = wire
        .api(reqwest::Method::GET, &format!("/contents/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], "fraud model");
    let fields = got["fields"].as_array().expect("fields");
    let status_field = fields
        .iter()
        .find(|f| f["name"] == "MRG-Model:Status")
        .expect("status field");
    assert_eq!(status_field["data_type"], "ENUM_TYPE");
    assert_eq!(
        status_field["value"],
        json!({ "name": "Proposed", "localized_label": "Proposed" })
    );
    let link = fields
        .iter()
        .find(|f| f["name"] == "Integration:External ID")
        .expect("link field");
    assert_eq!(link["data_type"], "STRING_TYPE");

    let (status, updated) = wire
        .api(
            reqwest::Method::PUT,
            &format!("/contents/{id}"),
            Some(json!({ "fields": [{ "name": "MRG-Model:Status", "value": { "name": "Deployed" } }] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(wire.mock.status_of(&id).as_deref(), Some("Deployed"));

    for (body, code) in [
        (
            json!({ "fields": [{ "name": "MRG-Model:Status", "value": { "name": "Teleported" } }] }),
            "OP-10253",
        ),
        (
            json!({ "fields": [{ "name": "No Such Field", "value": "x" }] }),
            "OP-01004",
        ),
        (
            json!({ "fields": [{ "name": "MRG-Model:Status", "value": 3 }] }),
            "OP-10251",
        ),
        (
            json!({ "fields": [{ "name": "Resource ID", "value": "7" }] }),
            "OP-01020",
        ),
    ] {
        let (status, error) = wire
            .api(reqwest::Method::PUT, &format!("/contents/{id}"), Some(body))
            .await;
        op_error(status, &error, StatusCode::BAD_REQUEST, code);
    }
    assert_eq!(
        wire.mock.status_of(&id).as_deref(),
        Some("Deployed"),
        "refused writes change nothing"
    );
    let (status, error) = wire.api(reqwest::Method::GET, "/contents/4040", None).await;
    op_error(status, &error, StatusCode::NOT_FOUND, "OP-00404");
    let (status, error) = wire
        .api(
            reqwest::Method::POST,
            "/contents",
            Some(json!({ "name": "x", "type_definition_id": "Risk" })),
        )
        .await;
    op_error(status, &error, StatusCode::BAD_REQUEST, "OP-01010");
}

#[tokio::test]
async fn the_query_endpoint_selects_filters_orders_and_pages() {
    let wire = start_with(options()).await;
    for (name, status) in [
        ("c", "Deployed"),
        ("a", "Proposed"),
        ("b", "Deployed"),
        ("d", "Rejected"),
    ] {
        wire.mock
            .create_model(name, Some(status), None)
            .expect("seed");
    }
    let (status, rows) = wire
        .query("SELECT [Resource ID], [Name], [MRG-Model:Status] FROM [Model] WHERE [MRG-Model:Status] = 'Deployed' ORDER BY [Name] DESC", 0, 10)
        .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let rows = rows["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["fields"],
        json!([
            { "name": "Resource ID", "data_type": "STRING_TYPE", "value": "1" },
            { "name": "Name", "data_type": "STRING_TYPE", "value": "c" },
            { "name": "MRG-Model:Status", "data_type": "ENUM_TYPE", "value": { "name": "Deployed", "localized_label": "Deployed" } },
        ])
    );
    assert_eq!(rows[1]["fields"][1]["value"], "b");

    let names = |v: &Value| -> Vec<String> {
        v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["fields"][0]["value"].as_str().expect("name").to_string())
            .collect()
    };
    let (_, page) = wire
        .query("SELECT [Name] FROM [Model] ORDER BY [Name] ASC", 1, 2)
        .await;
    assert_eq!(names(&page), ["b", "c"]);
    let (_, page) = wire
        .query("SELECT [Name] FROM [Model] ORDER BY [Name] ASC", 3, 2)
        .await;
    assert_eq!(names(&page), ["d"]);

    let (status, error) = wire.query("SELECT [Nope] FROM [Model]", 0, 10).await;
    op_error(status, &error, StatusCode::BAD_REQUEST, "OP-01004");
    let (status, error) = wire.query("SELECT [Name] FROM [Risk]", 0, 10).await;
    op_error(status, &error, StatusCode::BAD_REQUEST, "OP-01010");
    let (status, error) = wire.query("SELECT Name FROM Model", 0, 10).await;
    op_error(status, &error, StatusCode::BAD_REQUEST, "OP-00210");
    let (status, error) = wire.query("SELECT [Name] FROM [Model]", 0, 0).await;
    op_error(status, &error, StatusCode::BAD_REQUEST, "OP-00211");
}

#[tokio::test]
async fn every_api_call_needs_valid_credentials_in_one_of_the_three_modes() {
    let wire = start_with(options()).await;
    let path = format!("{API_BASE}/contents/1");
    wire.mock.create_model("m", None, None).expect("seed");
    let zen = "ZenApiKey Z292c3luYzpzZWNyZXQ=";
    for auth in [
        None,
        Some("Basic Z292c3luYzp3cm9uZw=="),
        Some("Bearer made-up"),
        Some("ZenApiKey bm9wZQ=="),
    ] {
        let (status, headers, body) = wire.send(reqwest::Method::GET, &path, auth, None).await;
        op_error(status, &body, StatusCode::UNAUTHORIZED, "OP-00401");
        assert!(headers.contains_key("www-authenticate"));
    }
    for auth in [BASIC, zen] {
        assert_eq!(
            wire.send(reqwest::Method::GET, &path, Some(auth), None)
                .await
                .0,
            StatusCode::OK
        );
    }

    let token_url = format!("{}{TOKEN_PATH}", wire.handle.url());
    let grant = [
        ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
        ("apikey", "secret"),
    ];
    let issued: Value = wire
        .http
        .post(&token_url)
        .form(&grant)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 3600);
    assert!(issued["expiration"].is_u64());
    let bearer = format!("Bearer {}", issued["access_token"].as_str().expect("token"));
    assert_eq!(
        wire.send(reqwest::Method::GET, &path, Some(&bearer), None)
            .await
            .0,
        StatusCode::OK
    );
    wire.mock.revoke_tokens();
    assert_eq!(
        wire.send(reqwest::Method::GET, &path, Some(&bearer), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let refused = wire
        .http
        .post(&token_url)
        .form(&[grant[0], ("apikey", "wrong")])
        .send()
        .await
        .expect("token");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["errorCode"], "BXNIM0415E");
    let counters: Value = wire
        .http
        .get(format!("{}/_mock/counters", wire.handle.url()))
        .send()
        .await
        .expect("c")
        .json()
        .await
        .expect("j");
    assert_eq!(counters["unauthorized"], 5);
    assert_eq!(counters["token"], 2);
    assert_eq!(counters["contents.get"], 8);
}

#[tokio::test]
async fn faults_answer_429_with_retry_after_and_503() {
    let wire = start_with(options()).await;
    let faults = format!("{}/_mock/faults", wire.handle.url());
    let put = |body: Value| wire.http.put(&faults).json(&body).send();
    assert_eq!(
        put(json!({ "throttle_rate": 1.0, "retry_after_ms": 1500 }))
            .await
            .expect("put")
            .status(),
        StatusCode::NO_CONTENT
    );
    let (status, headers, body) = wire
        .send(
            reqwest::Method::POST,
            &format!("{API_BASE}/query"),
            Some(BASIC),
            Some(json!({})),
        )
        .await;
    op_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "OP-00429");
    assert_eq!(headers["retry-after"], "2", "whole seconds, rounded up");
    put(json!({ "error_rate": 1.0 })).await.expect("put");
    let (status, _, body) = wire
        .send(
            reqwest::Method::POST,
            &format!("{API_BASE}/query"),
            Some(BASIC),
            Some(json!({})),
        )
        .await;
    op_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, "OP-00503");
}

#[tokio::test]
async fn the_console_admin_endpoint_changes_a_status_within_the_workflow() {
    let wire = start_with(options()).await;
    let id = wire
        .mock
        .create_model("m", Some("Proposed"), None)
        .expect("seed");
    let url = format!("{}/_mock/models/{id}/status", wire.handle.url());
    let ok = wire
        .http
        .put(&url)
        .json(&json!({ "status": "On Hold - Proposal" }))
        .send()
        .await
        .expect("put");
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        wire.mock.status_of(&id).as_deref(),
        Some("On Hold - Proposal")
    );
    let refused = wire
        .http
        .put(&url)
        .json(&json!({ "status": "Whatever" }))
        .send()
        .await
        .expect("put");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn models_persist_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = options();
    options.state_file = Some(dir.path().join("governance.json"));
    let id = {
        let wire = start_with(options.clone()).await;
        let id = wire
            .mock
            .create_model("kept", Some("Proposed"), None)
            .expect("seed");
        wire.mock.set_status(&id, "Deployed").expect("status");
        wire.handle.stop().await.expect("stop");
        id
    };
    let wire = start_with(options.clone()).await;
    assert_eq!(wire.mock.status_of(&id).as_deref(), Some("Deployed"));
    // Folded into the snapshot at start; from then on a change appends one line.
    let state_file = options.state_file.clone().expect("file");
    let log = dir.path().join("governance.json.log");
    assert!(!log.exists());
    let snapshot = std::fs::read(&state_file).expect("snapshot");
    let next = wire.mock.create_model("next", None, None).expect("seed");
    assert_ne!(next, id, "IDs are not reused");
    wire.mock.set_status(&next, "Proposed").expect("status");
    assert_eq!(std::fs::read(&state_file).expect("snapshot"), snapshot);
    assert_eq!(
        std::fs::read_to_string(&log).expect("log").lines().count(),
        2
    );
    wire.handle.stop().await.expect("stop");
    let wire = start_with(options.clone()).await;
    assert_eq!(wire.mock.status_of(&next).as_deref(), Some("Proposed"));

    std::fs::write(options.state_file.as_ref().expect("file"), "[").expect("write");
    let error = MockGovernance::new(options)
        .err()
        .expect("a corrupt state file is refused");
    assert!(error.to_string().contains("governance.json"), "{error}");
}

#[tokio::test]
async fn the_last_modification_date_is_kept_and_compared_in_queries() {
    let wire = start_with(options()).await;
    let first = wire
        .mock
        .create_model("first", Some("Proposed"), None)
        .expect("model");
    let second = wire
        .mock
        .create_model("second", Some("Proposed"), None)
        .expect("model");
    let (status, all) = wire
        .query(
            "SELECT [Resource ID], [Last Modification Date] FROM [Model] ORDER BY [Last Modification Date] ASC",
            0,
            10,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let date = |row: &Value| {
        row["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["name"] == "Last Modification Date")
            .and_then(|f| f["value"].as_str())
            .expect("a date")
            .to_string()
    };
    let rows = all["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    // Both were last changed a minute ago; a console change now moves one date past
    // the watermark (no waiting for the clock to tick over a millisecond).
    wire.mock.age(std::time::Duration::from_secs(60));
    let (_, aged) = wire
        .query(
            "SELECT [Resource ID], [Last Modification Date] FROM [Model] ORDER BY [Last Modification Date] ASC",
            0,
            10,
        )
        .await;
    let watermark = date(&aged["rows"][1]);
    assert!(watermark < date(&rows[1]), "aged: {watermark}");
    wire.mock
        .set_status(&first, "Model Definition")
        .expect("console");
    let (_, newer) = wire
        .query(
            &format!(
                "SELECT [Resource ID] FROM [Model] WHERE [Last Modification Date] > '{watermark}'"
            ),
            0,
            10,
        )
        .await;
    let ids: Vec<&str> = newer["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["fields"][0]["value"].as_str())
        .collect();
    assert_eq!(ids, [first.as_str()], "{newer}");
    let (_, at_or_before) = wire
        .query(
            &format!(
                "SELECT [Resource ID] FROM [Model] WHERE [Last Modification Date] <= '{watermark}'"
            ),
            0,
            10,
        )
        .await;
    assert_eq!(at_or_before["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        at_or_before["rows"][0]["fields"][0]["value"],
        second.as_str()
    );
    // It is the system's: a write to it is refused.
    let (status, body) = wire
        .api(
            reqwest::Method::PUT,
            &format!("/contents/{second}"),
            Some(json!({ "fields": [{ "name": "Last Modification Date", "value": "2000-01-01T00:00:00Z" }] })),
        )
        .await;
    op_error(status, &body, StatusCode::BAD_REQUEST, "OP-01020");
}
