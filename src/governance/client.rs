//! The OpenPages REST API v2 adapter (reqwest with rustls) behind the
//! [`Governance`] trait: `contents/{id}` for reading and setting a status, workflow
//! transitions, type discovery (listing is in `listing.rs`). Retries (backon, `governance.max_retries` and its delays) cover what
//! `http::meaning` says to retry now (429, 502/503/504) and connection
//! errors, honouring `Retry-After`.

use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, StatusCode, Url};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::Governance;
use super::auth::Auth;
use super::http::{
    Endpoint, Meaning, describe_reqwest, error_text, html_text, is_html, meaning, retry_after,
};
use super::listing::Paging;
use super::rows::{RowShape, Since, list_statement};
use super::types::{self, Discovered, StatusFormat, TypeDefinition};
use super::workflow::WorkflowWrites;
use crate::config::{GovernanceConfig, RetryPolicy};
use crate::domain::{GovernanceModel, GovernanceStatus, ModelId};
use crate::mapping::MappingTable;
use crate::remote::{ErrorKind, Listing, RemoteError, WriteOutcome};

/// The OpenPages endpoints govsync calls (names for logs and metrics).
pub const OPERATIONS: [&str; 6] = [
    "query",
    "contents.get",
    "contents.put",
    "types.get",
    "workflows.search",
    "workflows.transition",
];

/// The longest `Retry-After` honoured; a server asking for more gets a failed call
/// (retried next cycle) rather than a stuck one.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// watsonx.governance through the OpenPages REST API v2.
pub struct OpenPagesClient {
    http: reqwest::Client,
    base: Url,
    pub(super) model_type: String,
    pub(super) rows: RowShape,
    pub(super) page_size: u32,
    statement: String,
    /// Rows the last full listing held: the next one asks for that many pages at once.
    pub(super) expected_rows: std::sync::atomic::AtomicU64,
    /// Set once governance refused a timestamp literal in `[Last Modification Date]`
    /// and answered the same statement with a date literal: kept for the process's
    /// life.
    date_only: std::sync::atomic::AtomicBool,
    auth: Auth,
    retry: RetryPolicy,
    status_format: StatusFormat,
    workflow: Option<WorkflowWrites>,
}

/// A failed attempt: worth retrying (with the server's `Retry-After`) or final.
#[derive(Debug)]
enum Attempt {
    Transient {
        error: RemoteError,
        retry_after: Option<Duration>,
    },
    Final(RemoteError),
}

impl Attempt {
    fn into_error(self) -> RemoteError {
        match self {
            Attempt::Transient { error, .. } | Attempt::Final(error) => error,
        }
    }

    fn error(&self) -> &RemoteError {
        match self {
            Attempt::Transient { error, .. } | Attempt::Final(error) => error,
        }
    }
}

/// A response that reached govsync (any status), with its body.
pub(super) struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl OpenPagesClient {
    /// A client for `config`, authenticating with `secret` (already read from its
    /// variable or file). Fails if the CA bundle cannot be read.
    pub fn new(
        config: &GovernanceConfig,
        secret: SecretString,
    ) -> Result<OpenPagesClient, RemoteError> {
        let fail = |message: String| RemoteError {
            kind: ErrorKind::Other,
            message,
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("govsync/", env!("CARGO_PKG_VERSION")));
        if let Some(bundle) = &config.ca_bundle {
            let pem = std::fs::read(bundle)
                .map_err(|e| fail(format!("governance.ca_bundle {}: {e}", bundle.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                fail(format!(
                    "governance.ca_bundle {}: not a PEM bundle: {e}",
                    bundle.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(fail(format!(
                    "governance.ca_bundle {}: holds no certificate",
                    bundle.display()
                )));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| fail(format!("cannot build the HTTP client: {e}")))?;
        let base = Url::parse(&format!("{}/", config.base_url))
            .map_err(|e| fail(format!("governance.base_url {}: {e}", config.base_url)))?;
        let rows = RowShape {
            status_field: config.status_field.clone(),
            link_field: config.link_field.clone(),
        };
        Ok(OpenPagesClient {
            http,
            base,
            statement: list_statement(&config.model_type, &rows, None),
            model_type: config.model_type.clone(),
            rows,
            page_size: config.page_size,
            expected_rows: std::sync::atomic::AtomicU64::new(0),
            date_only: std::sync::atomic::AtomicBool::new(false),
            auth: Auth::new(&config.auth, secret)?,
            retry: config.retry,
            status_format: StatusFormat::Enum,
            workflow: None,
        })
    }

    /// Workflow mode: statuses are reached by the workflow actions `table` names
    /// (`governance_action`); with `fallback`, a status without one is written as a
    /// field, otherwise refused.
    pub fn use_workflow(&mut self, table: &MappingTable, fallback: bool) {
        self.workflow = Some(WorkflowWrites::new(table, fallback));
    }

    /// The model's active workflow instance and its stage (the stage is known only
    /// when the search ran now): from the cache, else by paging through
    /// `GET /workflows/instances/search` for the model type.
    async fn find_instance(
        &self,
        workflow: &WorkflowWrites,
        model: &ModelId,
    ) -> Result<Option<(String, Option<String>)>, RemoteError> {
        if let Some(instance) = workflow.cached(model.as_str()) {
            return Ok(Some((instance, None)));
        }
        const PAGE: usize = 500;
        let mut offset = 0;
        loop {
            let mut url = self.url(&["workflows", "instances", "search"]);
            url.query_pairs_mut()
                .append_pair("type_definition", &self.model_type)
                .append_pair("limit", &PAGE.to_string())
                .append_pair("offset", &offset.to_string());
            let what = format!("workflow instances of {} from {offset}", self.model_type);
            let reply = self
                .call("workflows.search", Method::GET, url, None, &what)
                .await?;
            let value = self.success(reply, &what)?;
            let page = value
                .get("activity_instances")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut found = None;
            let mut seen = Vec::with_capacity(page.len());
            for instance in &page {
                let id = instance.get("id").and_then(Value::as_str);
                let object = instance["grc_object"]["id"].as_str();
                if let (Some(id), Some(object)) = (id, object) {
                    if object == model.as_str() {
                        let stage = instance["stage"]["name"].as_str().map(str::to_string);
                        found = Some((id.to_string(), stage));
                    }
                    seen.push((object.to_string(), id.to_string()));
                }
            }
            workflow.remember(seen);
            if found.is_some() || page.len() < PAGE {
                return Ok(found);
            }
            offset += PAGE;
        }
    }

    /// Performs the workflow action that leads to `status` on the model's instance.
    async fn transition(
        &self,
        workflow: &WorkflowWrites,
        model: &ModelId,
        status: &GovernanceStatus,
        action: &str,
    ) -> WriteOutcome {
        let what = format!("workflow action \"{action}\" of model {model} (to \"{status}\")");
        for attempt in 0..2 {
            let (instance, stage) = match self.find_instance(workflow, model).await {
                Ok(Some(found)) => found,
                Ok(None) => {
                    return WriteOutcome::Refused(format!(
                        "governance refused {what}: the model has no active workflow instance"
                    ));
                }
                Err(e) => return WriteOutcome::Failed(e),
            };
            let url = self.url(&["workflows", "instances", &instance, "transition", action]);
            let reply = match self
                .call("workflows.transition", Method::POST, url, None, &what)
                .await
            {
                Ok(reply) => reply,
                Err(e) => return WriteOutcome::Failed(e),
            };
            return match meaning(Endpoint::OpenPages, reply.status) {
                Meaning::Success => WriteOutcome::Applied,
                // A stale cached instance: look it up again, once.
                Meaning::NotFound if attempt == 0 => {
                    workflow.forget(model.as_str());
                    continue;
                }
                Meaning::NotFound => WriteOutcome::NotFound,
                Meaning::Refused => WriteOutcome::Refused(format!(
                    "governance refused {what}{}: {}",
                    stage
                        .map(|s| format!(" from the stage \"{s}\""))
                        .unwrap_or_default(),
                    error_text(&reply.body)
                )),
                Meaning::RetryNow | Meaning::Failed(_) => {
                    WriteOutcome::Failed(status_error(reply.status, &reply.body, &what))
                }
            };
        }
        WriteOutcome::NotFound
    }

    /// The model type's definition (`GET /types/{model_type}`).
    pub async fn type_definition(&self) -> Result<TypeDefinition, RemoteError> {
        let what = format!("type definition of {}", self.model_type);
        let reply = self
            .call(
                "types.get",
                Method::GET,
                self.url(&["types", &self.model_type]),
                None,
                &what,
            )
            .await?;
        let value = self.success(reply, &what)?;
        serde_json::from_value(value).map_err(|e| RemoteError {
            kind: ErrorKind::Other,
            message: format!("governance {what}: unreadable: {e}"),
        })
    }

    /// Asks for the model type's definition and checks it against the configured
    /// fields and `statuses` (every status govsync writes:
    /// [`types::statuses_written`]); from then on statuses are written in the field's
    /// format. Start-up calls this once per process.
    pub async fn discover(&mut self, statuses: &[String]) -> Result<Discovered, String> {
        let definition = self.type_definition().await.map_err(|e| e.to_string())?;
        let discovered = types::check(
            &definition,
            &self.model_type,
            &self.rows.status_field,
            &self.rows.link_field,
            statuses,
        )?;
        self.status_format = discovered.status_format;
        Ok(discovered)
    }

    /// The statement the listing sends.
    pub fn statement(&self) -> &str {
        &self.statement
    }

    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http(s) base URL has path segments")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// One call with retries; `what` names it in errors (path and model ID, never a secret).
    pub(super) async fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<Value>,
        what: &str,
    ) -> Result<Reply, RemoteError> {
        let attempt = || self.attempt(operation, method.clone(), url.clone(), body.as_ref(), what);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        attempt
            .retry(backoff)
            .when(|e| matches!(e, Attempt::Transient { .. }))
            .adjust(wait_before_retry)
            .notify(|e, delay| {
                tracing::warn!(operation, error = %e.error(), retry_in = ?delay, "governance call failed; retrying");
            })
            .await
            .map_err(Attempt::into_error)
    }

    async fn attempt(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, Attempt> {
        let mut renewed = false;
        loop {
            let auth = self
                .auth
                .header(&self.http, false)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::Retryable => Attempt::Transient {
                        error: e,
                        retry_after: None,
                    },
                    _ => Attempt::Final(e),
                })?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header("authorization", auth)
                .header("accept", "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let transient = |why: String, retry_after: Option<Duration>| Attempt::Transient {
                error: RemoteError {
                    kind: ErrorKind::Retryable,
                    message: format!("governance {what}: {why}"),
                },
                retry_after,
            };
            // A timeout is not retried here (it already took the whole request
            // timeout); other transport failures (refused, reset) are.
            let transport = |e: reqwest::Error| {
                if e.is_timeout() {
                    Attempt::Final(RemoteError {
                        kind: ErrorKind::Retryable,
                        message: format!("governance {what}: {}", describe_reqwest(&e)),
                    })
                } else {
                    transient(describe_reqwest(&e), None)
                }
            };
            let response = request.send().await.map_err(transport)?;
            let status = response.status();
            let after = retry_after(response.headers(), std::time::SystemTime::now());
            let bytes = response.bytes().await.map_err(transport)?;
            tracing::debug!(operation, %status, "governance call");
            match (status.as_u16(), meaning(Endpoint::OpenPages, status)) {
                (401, _) if !renewed && self.auth.can_renew() => {
                    tracing::info!(
                        operation,
                        "governance answered 401; renewing the IAM token once"
                    );
                    self.auth
                        .header(&self.http, true)
                        .await
                        .map_err(Attempt::Final)?;
                    renewed = true;
                    continue;
                }
                (_, Meaning::RetryNow) => {
                    let text = error_text(&bytes);
                    let after = after.filter(|a| *a <= MAX_RETRY_AFTER);
                    return Err(transient(format!("HTTP {status}: {text}"), after));
                }
                _ => {
                    return Ok(Reply {
                        status,
                        body: bytes.to_vec(),
                    });
                }
            }
        }
    }

    /// The JSON of a 2xx reply, or the error that the status means.
    pub(super) fn success(&self, reply: Reply, what: &str) -> Result<Value, RemoteError> {
        if !reply.status.is_success() {
            return Err(status_error(reply.status, &reply.body, what));
        }
        if is_html(&reply.body) {
            return Err(RemoteError {
                kind: ErrorKind::Other,
                message: format!("governance {what}: answered {}", html_text(&reply.body)),
            });
        }
        serde_json::from_slice(&reply.body).map_err(|e| RemoteError {
            kind: ErrorKind::Other,
            message: format!("governance {what}: the answer is not JSON: {e}"),
        })
    }
}

/// How long to wait before retrying after `attempt`, given the backoff's `delay`
/// (`None`: no retry left): at least what the server asked for with `Retry-After`.
fn wait_before_retry(attempt: &Attempt, delay: Option<Duration>) -> Option<Duration> {
    match (attempt, delay) {
        (
            Attempt::Transient {
                retry_after: Some(after),
                ..
            },
            Some(delay),
        ) => Some(delay.max(*after)),
        (_, delay) => delay,
    }
}

fn status_error(status: StatusCode, body: &[u8], what: &str) -> RemoteError {
    RemoteError {
        kind: meaning(Endpoint::OpenPages, status).kind(),
        message: format!("governance {what}: HTTP {status}: {}", error_text(body)),
    }
}

impl Governance for OpenPagesClient {
    async fn get_model(&self, id: &ModelId) -> Result<Option<GovernanceModel>, RemoteError> {
        let what = format!("model {id}");
        let reply = self
            .call(
                "contents.get",
                Method::GET,
                self.url(&["contents", id.as_str()]),
                None,
                &what,
            )
            .await?;
        if meaning(Endpoint::OpenPages, reply.status) == Meaning::NotFound {
            return Ok(None);
        }
        let value = self.success(reply, &what)?;
        let mut fields: Vec<Value> = value
            .get("fields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        fields.push(json!({ "name": "Resource ID", "value": value.get("id").cloned().unwrap_or(json!(id.as_str())) }));
        if let Some(name) = value.get("name") {
            fields.push(json!({ "name": "Name", "value": name }));
        }
        self.rows
            .model_from(&fields, &what)
            .map(Some)
            .map_err(|r| RemoteError {
                kind: ErrorKind::Other,
                message: format!("governance {r}"),
            })
    }

    async fn list_models(&self) -> Result<Listing<GovernanceModel>, RemoteError> {
        self.list(&self.statement, Paging::AsLastTime).await
    }

    /// With a timestamp literal; once governance refuses that (a 4xx) and answers the
    /// same statement with a date literal, with date literals from then on (said
    /// once in the log; [`Governance::date_only`] tells the status page).
    async fn list_models_changed(
        &self,
        since: SystemTime,
    ) -> Result<Listing<GovernanceModel>, RemoteError> {
        use std::sync::atomic::Ordering;
        let changed = |since: Since| list_statement(&self.model_type, &self.rows, Some(since));
        if self.date_only.load(Ordering::Relaxed) {
            return self
                .list(&changed(Since::DayBefore(since)), Paging::OneByOne)
                .await;
        }
        let refused = match self
            .list(&changed(Since::Timestamp(since)), Paging::OneByOne)
            .await
        {
            Err(e) if e.kind == ErrorKind::Rejected => e,
            answered => return answered,
        };
        // Probe: the same statement with a date literal. Only if that is answered is
        // the refusal taken to be about the literal.
        let listing = self
            .list(&changed(Since::DayBefore(since)), Paging::OneByOne)
            .await
            .map_err(|_| refused.clone())?;
        if !self.date_only.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                refused = %refused,
                "governance refused a timestamp in [Last Modification Date] and accepts a date: \
                 incremental cycles now ask for the models changed since the day before their \
                 watermark (correct, but they read a day or two of changes each time)"
            );
        }
        Ok(listing)
    }

    fn date_only(&self) -> bool {
        self.date_only.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn set_status(&self, model: &ModelId, status: &GovernanceStatus) -> WriteOutcome {
        if let Some(workflow) = &self.workflow {
            match workflow.action_for(status.as_str()) {
                Some(action) => return self.transition(workflow, model, status, action).await,
                None if workflow.fallback => {}
                None => {
                    return WriteOutcome::Refused(format!(
                        "governance status \"{status}\" of model {model} is reached by no workflow \
                         action: its mapping row names no governance_action (and \
                         governance.field_write_fallback is off)"
                    ));
                }
            }
        }
        self.set_field(model, status).await
    }
}

impl OpenPagesClient {
    /// Writes the status field (`PUT /contents/{id}`).
    async fn set_field(&self, model: &ModelId, status: &GovernanceStatus) -> WriteOutcome {
        let what = format!("status of model {model} to \"{status}\"");
        let value = match self.status_format {
            StatusFormat::Enum => json!({ "name": status.as_str() }),
            StatusFormat::String => json!(status.as_str()),
        };
        let body = json!({ "fields": [{ "name": self.rows.status_field, "value": value }] });
        let reply = match self
            .call(
                "contents.put",
                Method::PUT,
                self.url(&["contents", model.as_str()]),
                Some(body),
                &what,
            )
            .await
        {
            Ok(reply) => reply,
            Err(e) => return WriteOutcome::Failed(e),
        };
        match meaning(Endpoint::OpenPages, reply.status) {
            Meaning::Success => WriteOutcome::Applied,
            Meaning::NotFound => WriteOutcome::NotFound,
            Meaning::Refused => WriteOutcome::Refused(format!(
                "governance refused {what}: {}",
                error_text(&reply.body)
            )),
            Meaning::RetryNow | Meaning::Failed(_) => {
                WriteOutcome::Failed(status_error(reply.status, &reply.body, &what))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_at_least_what_the_server_asks() {
        let error = RemoteError {
            kind: ErrorKind::Retryable,
            message: "429".into(),
        };
        let asked = |after: Option<Duration>| Attempt::Transient {
            error: error.clone(),
            retry_after: after,
        };
        let ms = Duration::from_millis;
        assert_eq!(
            wait_before_retry(&asked(Some(ms(1000))), Some(ms(20))),
            Some(ms(1000)),
            "Retry-After longer than the backoff wins"
        );
        assert_eq!(
            wait_before_retry(&asked(Some(ms(5))), Some(ms(20))),
            Some(ms(20)),
            "the backoff when it is longer"
        );
        assert_eq!(wait_before_retry(&asked(None), Some(ms(20))), Some(ms(20)));
        assert_eq!(
            wait_before_retry(&asked(Some(ms(1000))), None),
            None,
            "no retry left: none"
        );
        assert_eq!(
            wait_before_retry(&Attempt::Final(error.clone()), Some(ms(20))),
            Some(ms(20))
        );
    }
}
