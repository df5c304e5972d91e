//! Workflow mode (`governance.write_mode = "workflow"`): a status is reached by the
//! workflow action its mapping row names (`governance_action`), performed on the
//! model's active workflow instance, as the Model Lifecycle workflow moves statuses
//! in watsonx.governance. An action not available from the instance's current stage
//! is a refused write, never forced with a field write.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::Method;
use serde_json::Value;

use super::client::OpenPagesClient;
use super::http::{Endpoint, Meaning, error_text, meaning};
use super::transport::status_error;
use crate::domain::{GovernanceStatus, ModelId};
use crate::mapping::MappingTable;
use crate::remote::{RemoteError, WriteOutcome};

/// The actions by status, and the instance of each model once found.
#[derive(Debug)]
pub(super) struct WorkflowWrites {
    actions: HashMap<String, String>,
    /// Write a status with no action as a field instead of refusing it.
    pub(super) fallback: bool,
    /// Model ID → workflow instance ID (instances outlive cycles).
    instances: Mutex<HashMap<String, String>>,
}

impl WorkflowWrites {
    /// The actions the table names, and the fallback setting.
    pub(super) fn new(table: &MappingTable, fallback: bool) -> WorkflowWrites {
        WorkflowWrites {
            actions: table
                .rows()
                .iter()
                .filter_map(|r| {
                    Some((
                        r.governance_status.as_str().to_string(),
                        r.governance_action.clone()?,
                    ))
                })
                .collect(),
            fallback,
            instances: Mutex::new(HashMap::new()),
        }
    }

    /// The action that leads to `status`.
    pub(super) fn action_for(&self, status: &str) -> Option<&str> {
        self.actions.get(status).map(String::as_str)
    }

    /// A model's instance, if already found.
    pub(super) fn cached(&self, model: &str) -> Option<String> {
        self.lock().get(model).cloned()
    }

    /// Remembers instances seen in a search.
    pub(super) fn remember(&self, found: impl IntoIterator<Item = (String, String)>) {
        self.lock().extend(found);
    }

    /// Forgets a model's instance (it answered 404).
    pub(super) fn forget(&self, model: &str) {
        self.lock().remove(model);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.instances.lock().expect("instance cache lock poisoned")
    }
}

impl OpenPagesClient {
    /// The model's active workflow instance and its stage (the stage is known only
    /// when the search ran now): from the cache, else by paging through
    /// `GET /workflows/instances/search` for the model type.
    pub(super) async fn find_instance(
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
    pub(super) async fn transition(
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
}
