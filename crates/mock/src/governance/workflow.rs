//! The mock's workflow engine: one instance per object of the model type, whose
//! stage is the object's status; actions move it along the configured transitions,
//! and an action not available from the current stage is refused. Served under
//! `/workflows/…` as public OpenPages client code calls it:
//! `GET /workflows/instances/search?type_definition=…&limit=…&offset=…` and
//! `POST /workflows/instances/{id}/transition/{action}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::objects::OpError;
use super::{MockGovernance, op_response};

/// One transition: from a stage (a status), by an action, to a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The stage (status) it starts from.
    pub from: String,
    /// The action's name.
    pub action: String,
    /// The stage (status) it leads to.
    pub to: String,
}

/// The workflow: its transitions, and whether plain field writes of the status are
/// refused (a locked-down installation where only the workflow moves it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    /// The transitions.
    pub transitions: Vec<Transition>,
    /// Refuse `PUT /contents/{id}` writes of the status field.
    #[serde(default)]
    pub lock_status_field: bool,
}

impl Workflow {
    /// Where `action` leads from `stage`, or the refusal naming the stage and the
    /// actions it has.
    pub fn next(&self, stage: &str, action: &str) -> Result<&str, OpError> {
        if let Some(t) = self
            .transitions
            .iter()
            .find(|t| t.from == stage && t.action == action)
        {
            return Ok(&t.to);
        }
        let available: Vec<&str> = self
            .transitions
            .iter()
            .filter(|t| t.from == stage)
            .map(|t| t.action.as_str())
            .collect();
        Err(OpError {
            status: 409,
            message: format!(
                "OP-20001: The action '{action}' is not available from the stage '{stage}'. \
                 Available actions: {}.",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            ),
        })
    }
}

/// The instance ID of an object's workflow.
fn instance_id(object_id: u64) -> String {
    format!("WF-{object_id}")
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    type_definition: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /workflows/instances/search`: the active instances, a page at a time.
pub(super) async fn search(
    State(mock): State<MockGovernance>,
    Query(query): Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = mock.gate("workflows.search", &headers).await {
        return refused;
    }
    let options = mock.options();
    let Some(_) = &options.workflow else {
        return Json(json!({ "activity_instances": [] })).into_response();
    };
    let object_type = &options.object_type;
    if query
        .type_definition
        .as_deref()
        .is_some_and(|t| t != object_type.model_type)
    {
        return Json(json!({ "activity_instances": [] })).into_response();
    }
    let store = mock.objects();
    let instances: Vec<Value> = store
        .all()
        .skip(query.offset.unwrap_or(0))
        .take(query.limit.unwrap_or(50).clamp(1, 1000))
        .map(|o| {
            let stage = o.fields.get(&object_type.status_field).cloned();
            json!({
                "id": instance_id(o.id),
                "grc_object": { "id": o.id.to_string(), "name": o.name },
                "stage": { "name": stage },
            })
        })
        .collect();
    Json(json!({ "activity_instances": instances })).into_response()
}

/// `POST /workflows/instances/{id}/transition/{action}`.
pub(super) async fn transition(
    State(mock): State<MockGovernance>,
    Path((instance, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = mock.gate("workflows.transition", &headers).await {
        return refused;
    }
    let Some(workflow) = mock.options().workflow.clone() else {
        return op_response(&OpError {
            status: 404,
            message: "OP-20404: There is no workflow.".into(),
        });
    };
    let Some(object_id) = instance
        .strip_prefix("WF-")
        .filter(|id| id.parse::<u64>().is_ok())
    else {
        return op_response(&OpError {
            status: 404,
            message: format!("OP-20404: The workflow instance '{instance}' does not exist."),
        });
    };
    let status_field = mock.options().object_type.status_field.clone();
    let result = mock.mutate(|store, object_type| {
        let stage = store
            .get(object_id)?
            .fields
            .get(&status_field)
            .cloned()
            .unwrap_or_default();
        let to = workflow.next(&stage, &action)?.to_string();
        store.set_status(object_type, object_id, &to)?;
        Ok((stage, to))
    });
    match result {
        Ok((from, to)) => {
            mock.log_write(json!({
                "id": object_id,
                "workflow_action": action,
                "from": from,
                "to": to,
            }));
            Json(json!({ "id": instance, "stage": { "name": to } })).into_response()
        }
        Err(e) => op_response(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_moves_only_from_its_stage() {
        let workflow = Workflow {
            transitions: vec![Transition {
                from: "Approved for Deployment".into(),
                action: "Deploy".into(),
                to: "Deployed".into(),
            }],
            lock_status_field: false,
        };
        assert_eq!(
            workflow
                .next("Approved for Deployment", "Deploy")
                .expect("moves"),
            "Deployed"
        );
        let refused = workflow
            .next("Under Development", "Deploy")
            .expect_err("not from here");
        assert_eq!(refused.status, 409);
        assert!(
            refused
                .message
                .contains("not available from the stage 'Under Development'"),
            "{}",
            refused.message
        );
    }
}
