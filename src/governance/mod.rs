//! The governance side (IBM watsonx.governance, OpenPages REST API v2): the trait the
//! engine uses, and the OpenPages client behind it.
//!
//! - `client`: the client, contents (reading and setting a status), type
//!   discovery; `transport`: one call with its retries and its reply; `listing`:
//!   paging a query, several pages at once; `auth`: Basic, IAM tokens, ZenApiKey.
//! - `http`: the one table from an HTTP status to what govsync does about it.
//! - `rows`: the listing statement and reading a row into a model.
//! - [`types`]: type discovery, checked against what govsync writes.
//! - `workflow`: workflow mode, statuses reached by workflow actions.

pub(crate) mod auth;
pub mod client;
mod http;
pub mod listing;
mod rows;
mod transport;
pub mod types;
mod workflow;

use std::future::Future;
use std::time::SystemTime;

use crate::domain::{GovernanceModel, GovernanceStatus, ModelId, PackageArn};
use crate::remote::{Listing, RemoteError, WriteOutcome};

/// What the engine needs from governance.
pub trait Governance: Send + Sync {
    /// Every model of the configured type, with its status and link, page by page
    /// until done. Malformed rows are returned in `rejected`, not as an error.
    fn list_models(
        &self,
    ) -> impl Future<Output = Result<Listing<GovernanceModel>, RemoteError>> + Send;

    /// The models changed after `since` (by governance's own `[Last Modification
    /// Date]`), as [`Governance::list_models`] reads them: an incremental cycle's view.
    fn list_models_changed(
        &self,
        since: SystemTime,
    ) -> impl Future<Output = Result<Listing<GovernanceModel>, RemoteError>> + Send;

    /// True once governance is asked for changes with date literals only (it refused
    /// a timestamp in `[Last Modification Date]`): incremental cycles then read a day
    /// or two of changes each time. For the status page and the log.
    fn date_only(&self) -> bool {
        false
    }

    /// One model by resource ID, read now; `None` when governance has no such object.
    /// The engine re-reads a model right before writing its status, so that a
    /// person's change since the cycle's listing is never overwritten.
    fn get_model(
        &self,
        model: &ModelId,
    ) -> impl Future<Output = Result<Option<GovernanceModel>, RemoteError>> + Send;

    /// Writes a package's ARN into one model's link field.
    fn set_link(
        &self,
        model: &ModelId,
        arn: &PackageArn,
    ) -> impl Future<Output = WriteOutcome> + Send;

    /// Creates a governance model named `name` with `status`, linked to `arn`, under
    /// the configured parent (`[governance.create]`).
    fn create_model(
        &self,
        name: &str,
        status: &GovernanceStatus,
        arn: &PackageArn,
    ) -> impl Future<Output = WriteOutcome> + Send;

    /// Sets one model's status field.
    fn set_status(
        &self,
        model: &ModelId,
        status: &GovernanceStatus,
    ) -> impl Future<Output = WriteOutcome> + Send;
}

pub use crate::config::RetryPolicy;
pub use client::OpenPagesClient;
