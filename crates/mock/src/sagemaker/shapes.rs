//! Shapes of the SageMaker API that both the registry and its validation rules
//! read: an AWS JSON error, `ModelLifeCycle`, a package's `ModelCard`.

use serde::{Deserialize, Serialize};

/// An AWS JSON error: HTTP status, `__type` code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The error code (`__type`).
    pub code: &'static str,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ApiError {
    pub(super) fn validation(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "ValidationException",
            message: message.into(),
        }
    }

    pub(super) fn serialization(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "SerializationException",
            message: message.into(),
        }
    }
}

/// `ModelLifeCycle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifeCycle {
    /// Stage.
    pub stage: String,
    /// Stage status.
    pub stage_status: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_description: Option<String>,
}

/// `ModelCard` of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelCard {
    #[serde(skip_serializing_if = "Option::is_none")]
    model_card_content: Option<String>,
    pub(super) model_card_status: String,
}
