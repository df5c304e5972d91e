//! The journal's values: entries, write-ahead intents, and the systems written.
//!
//! Pure data shared by the planner's recovery rule ([`crate::recovery`]) and every
//! state store; how they are kept is the store's business.

use serde::Serialize;

/// Per model: its latest journal entry's action and "from", to tell a new report
/// from one already journaled.
pub type Latest = std::collections::HashMap<String, (String, String)>;

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The governance model.
    pub model_id: String,
    /// Its name.
    pub model_name: String,
    /// The linked package.
    pub package_arn: String,
    /// push, pull, decommission, conflict, drift, out-of-scope, …
    pub action: String,
    /// The value before.
    pub from: Option<String>,
    /// The value written (or that would have been).
    pub to: Option<String>,
    /// Why.
    pub reason: String,
    /// applied, refused, not-found, failed (a write); recovered, unconfirmed (a write
    /// whose process died before its outcome was recorded); reported, withheld.
    pub outcome: String,
    /// The error, when it failed; for a recovered or unconfirmed write, what the
    /// next cycle saw.
    pub error: Option<String>,
    /// The cycle that made it (writes).
    pub cycle: Option<String>,
}

/// A filter for the store's history.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// Only this model.
    pub model: Option<String>,
    /// Only entries at or after this RFC 3339 time.
    pub since: Option<String>,
}

/// Which system a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteSystem {
    /// Governance: the model's status.
    Governance,
    /// SageMaker: the package's lifecycle.
    SageMaker,
}

impl WriteSystem {
    /// How the store spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteSystem::Governance => "governance",
            WriteSystem::SageMaker => "sagemaker",
        }
    }

    /// The system a store spelling names; `None` for anything else.
    pub fn parse(text: &str) -> Option<WriteSystem> {
        match text {
            "governance" => Some(WriteSystem::Governance),
            "sagemaker" => Some(WriteSystem::SageMaker),
            _ => None,
        }
    }
}

/// A write about to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The cycle making it.
    pub cycle: String,
    /// The governance model.
    pub model_id: String,
    /// Its name.
    pub model_name: String,
    /// The linked package.
    pub package_arn: String,
    /// The system written.
    pub system: WriteSystem,
    /// push, pull, decommission.
    pub action: String,
    /// The pair before.
    pub from: Option<String>,
    /// The value to write: a governance status, or `Stage/StageStatus`.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// An intent still open in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIntent {
    /// Its key.
    pub id: i64,
    /// The intent.
    pub intent: Intent,
}
