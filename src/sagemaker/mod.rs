//! The SageMaker side (Model Registry via aws-sdk-sagemaker): the trait the engine
//! uses. The SDK adapter and the mock server live beside it.

pub mod client;

use std::future::Future;

use crate::domain::{Lifecycle, ModelPackage, PackageArn};
use crate::remote::{Listing, RemoteError, WriteOutcome};

pub use client::SageMakerRegistry;

/// The answer to "does this package exist?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Described {
    /// It exists; here it is, with its model card status.
    Found(ModelPackage),
    /// SageMaker says it does not exist.
    NotFound,
}

/// What the engine needs from the SageMaker Model Registry.
pub trait Registry: Send + Sync {
    /// Every package in scope (all groups, or the configured ones), with lifecycle
    /// and status, from `ListModelPackages` pages. Malformed rows go to `rejected`.
    fn list_packages(
        &self,
    ) -> impl Future<Output = Result<Listing<ModelPackage>, RemoteError>> + Send;

    /// One package, to confirm that a linked package missing from the listing is gone.
    fn describe_package(
        &self,
        arn: &PackageArn,
    ) -> impl Future<Output = Result<Described, RemoteError>> + Send;

    /// Sets a package's `ModelLifeCycle`; `description` becomes its `StageDescription`.
    fn set_lifecycle(
        &self,
        arn: &PackageArn,
        lifecycle: &Lifecycle,
        description: &str,
    ) -> impl Future<Output = WriteOutcome> + Send;
}
