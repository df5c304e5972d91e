//! The OpenPages REST API v2 adapter (reqwest with rustls) behind the
//! [`Governance`] trait: the client, `contents/{id}` for reading and setting a
//! status, type discovery.
//!
//! The client's methods are split by concern over files of their own, each an
//! `impl OpenPagesClient` block: `transport.rs` (one call, its retries, its reply),
//! `listing.rs` (paging a query), `workflow.rs` (workflow transitions). They import
//! the type from here and this file calls what they define: a circle between the
//! parts of one type, on purpose; nothing outside `governance/` sees it.

use std::time::SystemTime;

use reqwest::{Method, Url};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::Governance;
use super::auth::Auth;
use super::http::{Endpoint, Meaning, error_text, meaning};
use super::listing::Paging;
use super::rows::{RowShape, Since, list_statement};
use super::transport::{Reply, status_error};
use super::types::{self, Discovered, StatusFormat, TypeDefinition};
use super::workflow::WorkflowWrites;
use crate::config::{GovernanceConfig, RetryPolicy};
use crate::domain::{GovernanceModel, GovernanceStatus, ModelId, PackageArn};
use crate::mapping::MappingTable;
use crate::remote::{ErrorKind, Listing, RemoteError, WriteOutcome};

/// watsonx.governance through the OpenPages REST API v2.
pub struct OpenPagesClient {
    pub(super) http: reqwest::Client,
    pub(super) base: Url,
    pub(super) model_type: String,
    pub(super) rows: RowShape,
    pub(super) page_size: u32,
    pub(super) statement: String,
    /// Rows the last full listing held: the next one asks for that many pages at once.
    pub(super) expected_rows: std::sync::atomic::AtomicU64,
    /// Set once governance refused a timestamp literal in `[Last Modification Date]`
    /// and answered the same statement with a date literal: kept for the process's
    /// life.
    date_only: std::sync::atomic::AtomicBool,
    pub(super) auth: Auth,
    pub(super) retry: RetryPolicy,
    pub(super) status_format: StatusFormat,
    pub(super) workflow: Option<WorkflowWrites>,
    /// The parent new models are created under (`governance.create.parent_id`);
    /// `None`: govsync creates no model.
    create_parent: Option<String>,
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
            create_parent: config.create.as_ref().map(|c| c.parent_id.clone()),
        })
    }

    /// Workflow mode: statuses are reached by the workflow actions `table` names
    /// (`governance_action`); with `fallback`, a status without one is written as a
    /// field, otherwise refused.
    pub fn use_workflow(&mut self, table: &MappingTable, fallback: bool) {
        self.workflow = Some(WorkflowWrites::new(table, fallback));
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
        if self.create_parent.is_some() {
            let missing: Vec<&str> = definition
                .field_definitions
                .iter()
                .filter(|f| f.required && !f.read_only)
                .map(|f| f.name.as_str())
                .filter(|n| {
                    *n != "Name" && *n != self.rows.status_field && *n != self.rows.link_field
                })
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "governance.create: type {} requires the field(s) {}, which govsync does not set when it creates a model; leave [governance.create] out, or give those fields defaults in governance",
                    self.model_type,
                    missing.join(", ")
                ));
            }
        }
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

    async fn create_model(
        &self,
        name: &str,
        status: &GovernanceStatus,
        arn: &PackageArn,
    ) -> WriteOutcome {
        let what = format!("a model \"{name}\" for {arn}");
        let Some(parent) = &self.create_parent else {
            return WriteOutcome::Refused(format!(
                "not creating {what}: [governance.create] is not configured"
            ));
        };
        let body = json!({
            "name": name,
            "type_definition_id": self.model_type,
            "primary_parent_id": parent,
            "fields": [
                { "name": self.rows.status_field, "value": self.status_value(status) },
                { "name": self.rows.link_field, "value": arn.as_str() },
            ],
        });
        let reply = self
            .call_once(
                "contents.post",
                Method::POST,
                self.url(&["contents"]),
                Some(body),
                &what,
            )
            .await;
        write_outcome(reply, &what)
    }

    async fn set_link(&self, model: &ModelId, arn: &PackageArn) -> WriteOutcome {
        let what = format!("link of model {model} to {arn}");
        self.put_field(model, &self.rows.link_field, json!(arn.as_str()), &what)
            .await
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
        self.put_field(
            model,
            &self.rows.status_field,
            self.status_value(status),
            &what,
        )
        .await
    }

    /// Writes one field of a model (`PUT /contents/{id}` with only that field).
    async fn put_field(
        &self,
        model: &ModelId,
        field: &str,
        value: Value,
        what: &str,
    ) -> WriteOutcome {
        let body = json!({ "fields": [{ "name": field, "value": value }] });
        let reply = self
            .call(
                "contents.put",
                Method::PUT,
                self.url(&["contents", model.as_str()]),
                Some(body),
                what,
            )
            .await;
        write_outcome(reply, what)
    }

    /// A status as the status field takes it: an enum value, or text.
    fn status_value(&self, status: &GovernanceStatus) -> Value {
        match self.status_format {
            StatusFormat::Enum => json!({ "name": status.as_str() }),
            StatusFormat::String => json!(status.as_str()),
        }
    }
}

/// What a write's reply means: applied, not found, refused (with governance's words),
/// or failed.
fn write_outcome(reply: Result<Reply, RemoteError>, what: &str) -> WriteOutcome {
    let reply = match reply {
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
            WriteOutcome::Failed(status_error(reply.status, &reply.body, what))
        }
    }
}
