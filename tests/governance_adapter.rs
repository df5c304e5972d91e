//! The OpenPages adapter (reqwest) against the in-process mock governance server,
//! in each auth mode, with faults, token expiry and malformed rows.
//!
//! Long because each auth mode and fault gets its own scenario; each stands alone.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use govsync::config::{AuthConfig, GovernanceConfig, SecretSource};
use govsync::domain::{GovernanceStatus, ModelId};
use govsync::governance::{Governance, OpenPagesClient, RetryPolicy};
use govsync::mock::Admin;
use govsync::mock::governance::{API_BASE, MockGovernance, Options, TOKEN_PATH};
use govsync::mock::{Faults, MockHandle};
use govsync::remote::{ErrorKind, WriteOutcome};
use secrecy::SecretString;
use serde_json::json;

const SECRET: &str = "s3cr3t-api-key-0123456789";
const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/1";

#[derive(Clone, Copy)]
enum Mode {
    Basic,
    Iam,
    Zen,
}

struct Setup {
    mock: MockGovernance,
    handle: MockHandle,
}

async fn start(options: Options) -> Setup {
    let mock = MockGovernance::new(options).expect("options");
    let handle = mock.spawn_on_loopback().await.expect("serve");
    Setup { mock, handle }
}

fn options() -> Options {
    Options::new("govsync", SecretString::from(SECRET))
}

fn config(setup: &Setup, mode: Mode, page_size: u32) -> GovernanceConfig {
    let secret = SecretSource::Env("UNUSED_IN_TESTS".into());
    let auth = match mode {
        Mode::Basic => AuthConfig::Basic {
            username: "govsync".into(),
            password: secret,
        },
        Mode::Iam => AuthConfig::Iam {
            api_key: secret,
            token_url: format!("{}{TOKEN_PATH}", setup.handle.url()),
        },
        Mode::Zen => AuthConfig::Zen {
            username: "govsync".into(),
            api_key: secret,
        },
    };
    support::remote::governance_config(format!("{}{API_BASE}", setup.handle.url()), auth, page_size)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 10,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
    }
}

fn client_with(setup: &Setup, mode: Mode, page_size: u32, secret: &str) -> OpenPagesClient {
    let mut config = config(setup, mode, page_size);
    config.retry = fast_retries();
    OpenPagesClient::new(&config, SecretString::from(secret)).expect("client")
}

fn client(setup: &Setup, mode: Mode, page_size: u32) -> OpenPagesClient {
    client_with(setup, mode, page_size, SECRET)
}

fn seed(mock: &MockGovernance, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let link = format!(
                "arn:aws:sagemaker:us-east-1:123456789012:model-package/g{}/{}",
                i % 7,
                i + 1
            );
            mock.create_model(
                &format!("model {i}"),
                Some("Under Development"),
                Some(&link),
            )
            .expect("seed")
        })
        .collect()
}

fn status(s: &str) -> GovernanceStatus {
    GovernanceStatus::new(s)
}

#[tokio::test]
async fn listing_2000_models_in_pages_of_500_takes_4_queries() {
    let setup = start(options()).await;
    let ids = seed(&setup.mock, 2000);
    let listing = client(&setup, Mode::Basic, 500)
        .list_models()
        .await
        .expect("list");
    assert_eq!(listing.items.len(), 2000);
    assert!(listing.rejected.is_empty());
    let mut listed: Vec<&str> = listing.items.iter().map(|m| m.id.as_str()).collect();
    listed.sort();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(listed, expected, "every model exactly once");
    let m = &listing.items[0];
    assert_eq!(m.status, Some(status("Under Development")));
    assert!(m.link.is_some());
    assert_eq!(setup.mock.counters().get("query"), 4);
}

#[tokio::test]
async fn a_listing_that_does_not_fill_its_last_page_takes_ceil_n_over_page_queries() {
    let setup = start(options()).await;
    seed(&setup.mock, 1201);
    let listing = client(&setup, Mode::Basic, 500)
        .list_models()
        .await
        .expect("list");
    assert_eq!(listing.items.len(), 1201);
    assert_eq!(setup.mock.counters().get("query"), 3);
}

#[tokio::test]
async fn a_second_listing_asks_for_its_pages_at_once_and_still_reads_each_model_once() {
    let mut faults = options();
    faults.faults.latency_ms = 30;
    let setup = start(faults).await;
    seed(&setup.mock, 2000);
    let client = client(&setup, Mode::Basic, 500);
    client.list_models().await.expect("list");
    assert_eq!(
        setup.mock.counters().peak_in_flight(),
        1,
        "nothing learned yet"
    );
    // The fleet grew: the 4 pages of last time at once, then a fifth.
    seed(&setup.mock, 300);
    setup.mock.counters().reset();
    let grown = client.list_models().await.expect("list");
    assert_eq!(grown.items.len(), 2300);
    let distinct: std::collections::HashSet<&str> =
        grown.items.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(distinct.len(), 2300, "every model once");
    assert_eq!(setup.mock.counters().get("query"), 5);
    assert!(
        setup.mock.counters().peak_in_flight() >= 2,
        "pages at once: {}",
        setup.mock.counters().peak_in_flight()
    );
    // 5 pages are expected now; were the fleet to shrink, the pages past its end
    // come back empty and nothing else changes.
    setup.mock.counters().reset();
    let again = client.list_models().await.expect("list");
    assert_eq!(again.items.len(), 2300);
    assert_eq!(setup.mock.counters().get("query"), 5);
}

#[tokio::test]
async fn set_status_then_list_shows_it_in_every_auth_mode() {
    for mode in [Mode::Basic, Mode::Iam, Mode::Zen] {
        let setup = start(options()).await;
        let ids = seed(&setup.mock, 3);
        let client = client(&setup, mode, 500);
        let target = ModelId::new(&ids[1]);
        assert_eq!(
            client
                .set_status(&target, &status("Development Complete"))
                .await,
            WriteOutcome::Applied
        );
        let listing = client.list_models().await.expect("list");
        let changed = listing
            .items
            .iter()
            .find(|m| m.id == target)
            .expect("listed");
        assert_eq!(changed.status, Some(status("Development Complete")));
        assert_eq!(
            setup.mock.status_of(&ids[1]).as_deref(),
            Some("Development Complete")
        );
        assert_eq!(setup.mock.counters().get("unauthorized"), 0);

        assert_eq!(changed.name, "model 1");
    }
}

#[tokio::test]
async fn a_status_the_workflow_refuses_is_typed_refused_and_not_retried() {
    let setup = start(options()).await;
    let ids = seed(&setup.mock, 1);
    let outcome = client(&setup, Mode::Basic, 500)
        .set_status(&ModelId::new(&ids[0]), &status("Shipped To Mars"))
        .await;
    match outcome {
        WriteOutcome::Refused(message) => {
            assert!(message.contains("OP-10253"), "{message}");
            assert!(message.contains(&ids[0]), "names the model: {message}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(setup.mock.counters().get("contents.put"), 1);
    assert_eq!(
        setup.mock.status_of(&ids[0]).as_deref(),
        Some("Under Development")
    );
    assert_eq!(
        client(&setup, Mode::Basic, 500)
            .set_status(&ModelId::new("424242"), &status("Development Complete"))
            .await,
        WriteOutcome::NotFound
    );
}

#[tokio::test]
async fn an_iam_token_about_to_expire_is_refreshed_without_a_failed_call() {
    // A token of 1,000 s: the client's clock (tokio's) is moved by hand, and the
    // few milliseconds the calls themselves take are far from any threshold.
    let mut options = options();
    options.token_lifetime = Duration::from_secs(1000);
    let setup = start(options).await;
    seed(&setup.mock, 10);
    let client = client(&setup, Mode::Iam, 500);
    client.list_models().await.expect("first list");
    client.list_models().await.expect("second list, same token");
    assert_eq!(setup.mock.counters().get("token"), 1, "the token is cached");
    // Past 80% of the token's life on the client's (tokio's) clock: the next call
    // renews it before it runs out. The mock's clock has not moved, so a call with
    // the old token would still succeed: only the client's own refresh counts.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(750)).await;
    tokio::time::resume();
    client
        .list_models()
        .await
        .expect("third list, same token (75% of its life)");
    assert_eq!(
        setup.mock.counters().get("token"),
        1,
        "not renewed before 80%"
    );
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(100)).await;
    tokio::time::resume();
    client.list_models().await.expect("fourth list");
    assert_eq!(setup.mock.counters().get("token"), 2);
    assert_eq!(
        setup.mock.counters().get("unauthorized"),
        0,
        "no call failed"
    );
}

#[tokio::test]
async fn a_401_triggers_exactly_one_reauthentication() {
    let setup = start(options()).await;
    seed(&setup.mock, 5);
    let client = client(&setup, Mode::Iam, 500);
    client.list_models().await.expect("list");
    setup.mock.revoke_tokens();
    let listing = client.list_models().await.expect("list after revocation");
    assert_eq!(listing.items.len(), 5);
    let counters = setup.mock.counters();
    assert_eq!(counters.get("unauthorized"), 1);
    assert_eq!(counters.get("token"), 2, "one re-authentication");
    assert_eq!(counters.get("query"), 3);
}

#[tokio::test]
async fn wrong_credentials_are_an_auth_error_without_a_retry_storm() {
    let setup = start(options()).await;
    for mode in [Mode::Basic, Mode::Zen] {
        setup.mock.counters().reset();
        let error = client_with(&setup, mode, 500, "wrong-secret")
            .list_models()
            .await
            .expect_err("refused");
        assert_eq!(error.kind, ErrorKind::Auth, "{}", error.message);
        assert!(error.message.contains("401"), "{}", error.message);
        assert_eq!(setup.mock.counters().get("unauthorized"), 1);
    }
    let error = client_with(&setup, Mode::Iam, 500, "wrong-key")
        .list_models()
        .await
        .expect_err("refused");
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(
        error.message.contains("API key could not be found"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn throttling_and_503_at_30_percent_are_absorbed() {
    let mut options = options();
    options.faults = Faults {
        throttle_rate: 0.15,
        error_rate: 0.15,
        seed: 99,
        ..Faults::default()
    };
    let setup = start(options).await;
    let ids = seed(&setup.mock, 2000);
    let client = client(&setup, Mode::Iam, 500);
    for id in ids.iter().step_by(100) {
        assert_eq!(
            client
                .set_status(&ModelId::new(id), &status("Development Complete"))
                .await,
            WriteOutcome::Applied
        );
    }
    let listing = client.list_models().await.expect("list despite faults");
    assert_eq!(listing.items.len(), 2000);
    let ready = listing
        .items
        .iter()
        .filter(|m| m.status == Some(status("Development Complete")))
        .count();
    assert_eq!(ready, 20);
    let counters = setup.mock.counters();
    let requests = counters.get("query") + counters.get("contents.put");
    assert!(
        requests > 24,
        "faults were injected and retried: {requests} requests for 24 calls"
    );
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let mut options = options();
    options.faults = Faults {
        drop_rate: 0.4,
        seed: 5,
        ..Faults::default()
    };
    let setup = start(options).await;
    seed(&setup.mock, 1000);
    let listing = client(&setup, Mode::Basic, 100)
        .list_models()
        .await
        .expect("list despite drops");
    assert_eq!(listing.items.len(), 1000);
    assert!(setup.mock.counters().get("query") > 10);
}

#[tokio::test]
async fn a_throttled_write_is_retried_and_applied() {
    // The first PUT is answered 429; the client retries it at once (its own backoff,
    // 1-20 ms). How long a retry waits when the server sends Retry-After is a unit
    // test beside the client (`a_retry_waits_at_least_what_the_server_asks`), and
    // reading the header another (`retry_after_reads_seconds_and_http_dates`).
    let mut options = options();
    options.faults = Faults {
        throttle_first: 1,
        ..Faults::default()
    };
    let setup = start(options).await;
    let ids = seed(&setup.mock, 1);
    let outcome = client(&setup, Mode::Basic, 500)
        .set_status(&ModelId::new(&ids[0]), &status("Development Complete"))
        .await;
    assert_eq!(outcome, WriteOutcome::Applied);
    assert_eq!(setup.mock.counters().get("contents.put"), 2);
}

#[tokio::test]
async fn persistent_503s_end_as_a_retryable_error_after_the_retries() {
    let mut options = options();
    options.faults = Faults {
        error_rate: 1.0,
        ..Faults::default()
    };
    let setup = start(options).await;
    let error = client(&setup, Mode::Basic, 500)
        .list_models()
        .await
        .expect_err("always 503");
    assert_eq!(error.kind, ErrorKind::Retryable);
    assert!(error.message.contains("503"), "{}", error.message);
    assert_eq!(
        setup.mock.counters().get("query"),
        11,
        "1 attempt + 10 retries"
    );
}

#[tokio::test]
async fn malformed_rows_are_skipped_and_reported() {
    let setup = start(options()).await;
    seed(&setup.mock, 3);
    let bad_link = setup
        .mock
        .create_model("bad link", Some("Deployed"), Some("not-an-arn"))
        .expect("create");
    setup.mock.inject_rows(vec![
        json!({ "fields": [{ "name": "Name", "value": "no id" }] }),
        json!({ "fields": [{ "name": "Resource ID", "value": "9001" }, { "name": "MRG-Model:Status", "value": 17 }] }),
        json!({ "fields": [{ "name": "Resource ID", "value": "9002" }, { "name": "Integration:External ID", "value": ["x"] }] }),
        json!({ "no_fields": true }),
    ]);
    let listing = client(&setup, Mode::Basic, 500)
        .list_models()
        .await
        .expect("list");
    assert_eq!(listing.items.len(), 3);
    let reasons: Vec<String> = listing.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    assert!(
        reasons[0].starts_with(&format!("model {bad_link}: ")) && reasons[0].contains("not-an-arn"),
        "{}",
        reasons[0]
    );
    assert_eq!(
        reasons[0]
            .matches("is not a SageMaker model package ARN")
            .count(),
        1,
        "says it once: {}",
        reasons[0]
    );
    assert!(reasons[1].contains("no Resource ID"), "{}", reasons[1]);
    assert!(
        reasons[2].starts_with("model 9001")
            && reasons[2].contains("MRG-Model:Status is not a string"),
        "{}",
        reasons[2]
    );
    assert!(
        reasons[3].starts_with("model 9002")
            && reasons[3].contains("Integration:External ID is not a string"),
        "{}",
        reasons[3]
    );
    assert!(reasons[4].contains("no \"fields\""), "{}", reasons[4]);
}

#[tokio::test]
async fn the_query_statement_is_built_from_the_configured_names() {
    let setup = start(options()).await;
    let client = client(&setup, Mode::Basic, 500);
    assert_eq!(
        client.statement(),
        "SELECT [Resource ID], [Name], [MRG-Model:Status], [Integration:External ID] FROM [Model] \
         ORDER BY [Resource ID] ASC"
    );
    let _ = ARN;
}

/// A `Write` that appends to a shared buffer, for capturing log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_appears_in_any_log_line_or_error() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut options = options();
    options.faults = Faults {
        throttle_rate: 0.2,
        error_rate: 0.2,
        seed: 4,
        ..Faults::default()
    };
    let setup = start(options).await;
    let ids = seed(&setup.mock, 50);
    let mut errors = Vec::new();
    for mode in [Mode::Basic, Mode::Iam, Mode::Zen] {
        let client = client(&setup, mode, 10);
        client.list_models().await.expect("list");
        setup.mock.revoke_tokens();
        let _ = client
            .set_status(&ModelId::new(&ids[0]), &status("Nope"))
            .await;
        let _ = client
            .set_status(&ModelId::new(&ids[0]), &status("Deployed"))
            .await;
        errors.push(format!(
            "{:?}",
            client_with(&setup, mode, 10, "wrong-secret-value")
                .list_models()
                .await
        ));
    }
    let text = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        text.contains("retrying"),
        "the capture works and saw the retries:\n{text}"
    );
    assert!(text.contains("renewing the IAM token"), "{text}");
    for secret in [SECRET, "wrong-secret-value"] {
        support::assert_no_secret(&text, "govsync", secret, "the adapter's logs");
        for e in &errors {
            support::assert_no_secret(e, "govsync", secret, "an adapter error");
        }
    }
    assert!(!text.contains("mock-iam-"), "an IAM token is in the logs");
    for e in &errors {
        assert!(!e.contains("mock-iam-"), "an IAM token is in an error: {e}");
    }
}

#[tokio::test]
async fn a_string_status_field_is_written_as_a_string_after_discovery() {
    let mut options = options();
    options.object_type.status_is_string = true;
    let setup = start(options).await;
    let ids = seed(&setup.mock, 1);
    let mut client = client(&setup, Mode::Basic, 500);
    // Before discovery the client writes an enum value, which a string field refuses.
    let before = client
        .set_status(&ModelId::new(&ids[0]), &status("Development Complete"))
        .await;
    assert!(matches!(before, WriteOutcome::Refused(_)), "{before:?}");
    let statuses = vec!["Development Complete".to_string()];
    let found = client.discover(&statuses).await.expect("discovered");
    assert!(found.summary.contains("string"), "{}", found.summary);
    assert_eq!(
        client
            .set_status(&ModelId::new(&ids[0]), &status("Development Complete"))
            .await,
        WriteOutcome::Applied
    );
    assert_eq!(
        setup.mock.status_of(&ids[0]).as_deref(),
        Some("Development Complete")
    );
    assert_eq!(setup.mock.counters().get("types.get"), 1);
}
