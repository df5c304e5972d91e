//! The values both remote systems are reduced to: governance models, SageMaker model
//! packages, and the identifiers that must not be mixed up.

use std::borrow::Borrow;
use std::fmt;

use serde::Serialize;

pub use crate::arn::PackageArn;

/// A governance (OpenPages) resource ID of a model object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ModelId(String);

impl ModelId {
    /// Wraps a resource ID as governance returned it.
    pub fn new(id: impl Into<String>) -> ModelId {
        ModelId(id.into())
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value of the governance status field (for example `Under Development`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct GovernanceStatus(String);

impl GovernanceStatus {
    /// Wraps a status name.
    pub fn new(status: impl Into<String>) -> GovernanceStatus {
        GovernanceStatus(status.into())
    }

    /// The status as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for GovernanceStatus {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GovernanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A package's `ModelApprovalStatus`, which SageMaker Projects' MLOps templates
/// deploy on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalStatus {
    /// `Approved`.
    Approved,
    /// `Rejected`.
    Rejected,
    /// `PendingManualApproval`.
    PendingManualApproval,
}

impl ApprovalStatus {
    /// Every value, as SageMaker spells them.
    pub const ALL: [ApprovalStatus; 3] = [
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::PendingManualApproval,
    ];

    /// SageMaker's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Approved => "Approved",
            ApprovalStatus::Rejected => "Rejected",
            ApprovalStatus::PendingManualApproval => "PendingManualApproval",
        }
    }

    /// The value SageMaker spells `text`.
    pub fn parse(text: &str) -> Option<ApprovalStatus> {
        ApprovalStatus::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ApprovalStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A SageMaker `ModelLifeCycle` without its free-text description: the pair the
/// mapping table is keyed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Lifecycle {
    /// `ModelLifeCycle.Stage`, for example `Development`.
    pub stage: String,
    /// `ModelLifeCycle.StageStatus`, for example `InProgress`.
    pub stage_status: String,
}

impl Lifecycle {
    /// A lifecycle from its stage and stage status.
    pub fn new(stage: impl Into<String>, stage_status: impl Into<String>) -> Lifecycle {
        Lifecycle {
            stage: stage.into(),
            stage_status: stage_status.into(),
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stage, self.stage_status)
    }
}

/// A model as governance holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GovernanceModel {
    /// The resource ID.
    pub id: ModelId,
    /// The display name (for people; never used to match).
    pub name: String,
    /// The status field's value; `None` when the field is empty.
    pub status: Option<GovernanceStatus>,
    /// The linked SageMaker model package, from the configured link field; `None`
    /// for an unlinked model. A malformed link never gets here: the adapter reports
    /// and skips that row.
    pub link: Option<PackageArn>,
}

/// `ModelPackageStatus` of a SageMaker model package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum PackageStatus {
    /// `Pending`.
    Pending,
    /// `InProgress`.
    InProgress,
    /// `Completed`.
    Completed,
    /// `Failed`.
    Failed,
    /// `Deleting`: the package is going away and counts as deleted.
    Deleting,
    /// A value this version does not know; treated like a live package.
    Other(String),
}

impl PackageStatus {
    /// Parses SageMaker's spelling.
    pub fn parse(text: &str) -> PackageStatus {
        match text {
            "Pending" => PackageStatus::Pending,
            "InProgress" => PackageStatus::InProgress,
            "Completed" => PackageStatus::Completed,
            "Failed" => PackageStatus::Failed,
            "Deleting" => PackageStatus::Deleting,
            other => PackageStatus::Other(other.to_string()),
        }
    }
}

/// `ModelCard.ModelCardStatus` of a model package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum ModelCardStatus {
    /// `Draft`.
    Draft,
    /// `PendingReview`.
    PendingReview,
    /// `Approved`.
    Approved,
    /// `Archived`: the package counts as archived in SageMaker.
    Archived,
    /// A value this version does not know.
    Other(String),
}

impl ModelCardStatus {
    /// Parses SageMaker's spelling.
    pub fn parse(text: &str) -> ModelCardStatus {
        match text {
            "Draft" => ModelCardStatus::Draft,
            "PendingReview" => ModelCardStatus::PendingReview,
            "Approved" => ModelCardStatus::Approved,
            "Archived" => ModelCardStatus::Archived,
            other => ModelCardStatus::Other(other.to_string()),
        }
    }
}

/// A SageMaker model package as the registry reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelPackage {
    /// The package ARN.
    pub arn: PackageArn,
    /// `ModelPackageStatus`.
    pub status: PackageStatus,
    /// `ModelLifeCycle` (stage and stage status); `None` if none was ever set.
    pub lifecycle: Option<Lifecycle>,
    /// The model card status, when known (the listing does not carry it).
    pub model_card_status: Option<ModelCardStatus>,
    /// `CustomerMetadataProperties`, when read (`DescribeModelPackage` and `Search`
    /// carry them, the listing does not): a pipeline names there the governance
    /// model the package belongs to (`sync.link_metadata_key`).
    pub metadata: Option<std::collections::BTreeMap<String, String>>,
    /// `ModelPackageDescription`, when read with the metadata (the listing does not
    /// carry it): what `{description}` names in a created model's name.
    pub description: Option<String>,
    /// `LastModifiedTime`, when known (`Search` and `DescribeModelPackage` carry it,
    /// the listing does not): tells an observation older than govsync's own write
    /// apart from a newer change. The planner does not look at it.
    #[serde(skip)]
    pub last_modified: Option<std::time::SystemTime>,
}
