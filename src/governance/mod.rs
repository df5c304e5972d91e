//! The governance side (IBM watsonx.governance, OpenPages REST API v2): the trait the
//! engine uses. The OpenPages client, its auth and the mock server live beside it.

pub(crate) mod auth;
pub mod client;

use std::future::Future;

use crate::domain::{GovernanceModel, GovernanceStatus, ModelId};
use crate::remote::{Listing, RemoteError, WriteOutcome};

/// What the engine needs from governance.
pub trait Governance: Send + Sync {
    /// Every model of the configured type, with its status and link, page by page
    /// until done. Malformed rows are returned in `rejected`, not as an error.
    fn list_models(
        &self,
    ) -> impl Future<Output = Result<Listing<GovernanceModel>, RemoteError>> + Send;

    /// One model by resource ID; `None` when governance has no such object.
    fn get_model(
        &self,
        model: &ModelId,
    ) -> impl Future<Output = Result<Option<GovernanceModel>, RemoteError>> + Send;

    /// Sets one model's status field.
    fn set_status(
        &self,
        model: &ModelId,
        status: &GovernanceStatus,
    ) -> impl Future<Output = WriteOutcome> + Send;
}

pub use client::{OpenPagesClient, RetryPolicy};
