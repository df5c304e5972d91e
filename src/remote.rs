//! What both remote systems' adapters hand back: listings with their rejected rows,
//! typed write outcomes and errors. The engine treats both systems alike through these.

use std::fmt;

/// The result of listing one side: the rows that parsed, and the ones that did not
/// (reported and skipped: a bad row never aborts a listing nor causes a write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    /// Rows that parsed.
    pub items: Vec<T>,
    /// Rows that did not, with why.
    pub rejected: Vec<RejectedRow>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            items: Vec::new(),
            rejected: Vec::new(),
        }
    }
}

/// A row from a remote system that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// What identifies the row: a model ID or package ARN when it has one, else its position.
    pub row: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.row, self.reason)
    }
}

/// How a remote call failed, in a small fixed set (also used as a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Throttling, 5xx, timeouts, dropped connections: worth another cycle.
    Retryable,
    /// Credentials refused (401/403).
    Auth,
    /// The request was wrong or refused for good (validation, 4xx).
    Rejected,
    /// Anything else (a response that could not be read, configuration).
    Other,
}

impl ErrorKind {
    /// The label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Retryable => "retryable",
            ErrorKind::Auth => "auth",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Other => "other",
        }
    }
}

/// A failed remote call. The message names the thing (model ID, ARN, URL path) and
/// never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

/// The outcome of one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The value was set.
    Applied,
    /// The remote system refused the value for good (for example the governance
    /// workflow does not allow that status): reported, not retried.
    Refused(String),
    /// The object does not exist.
    NotFound,
    /// The write failed; see the error's kind.
    Failed(RemoteError),
}
