//! Workflow mode (`governance.write_mode = "workflow"`): a status is reached by the
//! workflow action its mapping row names (`governance_action`), performed on the
//! model's active workflow instance, as the Model Lifecycle workflow moves statuses
//! in watsonx.governance. An action not available from the instance's current stage
//! is a refused write, never forced with a field write.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::mapping::MappingTable;

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
