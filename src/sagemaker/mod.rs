//! The SageMaker side (Model Registry via aws-sdk-sagemaker): the trait the engine
//! uses, and the SDK adapter behind it (`client`, `listing`, `changes`), one client
//! per scope (`connect`), the SDK's attempts counted (`attempts`), and errors a
//! person can read (`error`). The mock server is another crate (`govsync-mock`).

pub mod attempts;
mod changes;
pub mod client;
pub mod connect;
pub mod error;
pub mod listing;

use std::future::Future;
use std::time::SystemTime;

use crate::domain::{ApprovalStatus, Lifecycle, ModelPackage, PackageArn};
use crate::remote::{Listing, RemoteError, WriteOutcome};
use crate::scope::Scope;

pub use client::SageMakerRegistry;

/// The SageMaker operations govsync calls: the IAM policy must allow exactly these.
pub const OPERATIONS: [&str; 5] = [
    "ListModelPackageGroups",
    "ListModelPackages",
    "DescribeModelPackage",
    "UpdateModelPackage",
    "Search",
];
pub use connect::{ConnectError, ScopedRegistry, connect};

/// The answer to "does this package exist?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Described {
    /// It exists; here it is, with its model card status.
    Found(ModelPackage),
    /// SageMaker says it does not exist.
    NotFound,
}

/// What the engine needs from the SageMaker Model Registry, through the credentials
/// and region of one scope.
pub trait Registry: Send + Sync {
    /// Every package `scope` covers (all the account's groups, or the scope's
    /// groups), with lifecycle and status, from `ListModelPackages` pages. Malformed
    /// rows go to `rejected`. An error means the scope was not listed in full.
    fn list_packages(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Listing<ModelPackage>, RemoteError>> + Send;

    /// The packages `scope` covers that were modified after `since` (as far as the
    /// SageMaker index knows yet), with lifecycle, status, model card status and
    /// modification time: an incremental cycle's view. An error means the scope's
    /// changes were not read.
    fn list_changed(
        &self,
        scope: &Scope,
        since: SystemTime,
    ) -> impl Future<Output = Result<Listing<ModelPackage>, RemoteError>> + Send;

    /// One package, to confirm that a linked package missing from the listing is gone.
    fn describe_package(
        &self,
        arn: &PackageArn,
    ) -> impl Future<Output = Result<Described, RemoteError>> + Send;

    /// Sets a package's `ModelLifeCycle`; `description` becomes its `StageDescription`.
    /// With `approval`, the same update also sets `ModelApprovalStatus`, with
    /// `description` as its `ApprovalDescription`.
    fn set_lifecycle(
        &self,
        arn: &PackageArn,
        lifecycle: &Lifecycle,
        description: &str,
        approval: Option<ApprovalStatus>,
    ) -> impl Future<Output = WriteOutcome> + Send;
}
