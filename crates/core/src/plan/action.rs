//! What the planner decides for one model: the [`Action`], its kind and its causes.

use std::fmt;

use serde::Serialize;

use crate::domain::{GovernanceStatus, Lifecycle, PackageArn};

/// Why a model is being decommissioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecommissionCause {
    /// The package was confirmed not to exist.
    PackageDeleted,
    /// The package's status is `Deleting`.
    PackageDeleting,
    /// The package's lifecycle stage is the archive stage.
    ArchivedStage,
    /// The package's model card status is `Archived`.
    ArchivedModelCard,
}

/// Why a linked model cannot be synced: reported, nothing written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// Neither the governance status nor the lifecycle is in the table.
    Unmapped,
    /// Both are mapped (or one is) but no row lets either value flow to the other side.
    NoPermittedDirection,
    /// Several governance models link the same package; writing would make them fight.
    PackageLinkedTwice,
}

/// What the engine should do for one linked model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Both sides are in the same row: nothing to write; record the baseline.
    InSync,
    /// Write this lifecycle to the SageMaker package.
    Push {
        /// The lifecycle to set.
        to: Lifecycle,
        /// True when both sides could be written and the conflict policy chose this.
        conflict: bool,
    },
    /// Write this status to the governance model.
    Pull {
        /// The status to set.
        to: GovernanceStatus,
        /// True when both sides could be written and the conflict policy chose this.
        conflict: bool,
    },
    /// Set the governance model to the decommission status.
    Decommission {
        /// The decommission status.
        to: GovernanceStatus,
        /// Why.
        cause: DecommissionCause,
        /// When the package still exists and the decommission status's row pushes to
        /// SageMaker, the lifecycle to write there next (so the next cycle finds both
        /// sides in sync instead of making that write then).
        then_push: Option<Lifecycle>,
    },
    /// A decommission the safety valve held back this cycle.
    DecommissionWithheld {
        /// The status it would have set.
        to: GovernanceStatus,
        /// Why it would have.
        cause: DecommissionCause,
    },
    /// The package is gone and governance already shows the decommission status.
    AlreadyDecommissioned,
    /// Both sides changed and the conflict policy is `skip`: reported, nothing written.
    Conflict,
    /// The pair cannot be synced by the table: reported, nothing written.
    Drift {
        /// What kind of drift.
        drift: DriftKind,
    },
    /// The linked package was neither listed nor confirmed gone (its scope was listed
    /// but describing it failed): nothing written.
    PackageNotObserved,
    /// The linked package's scope could not be listed this cycle: nothing written,
    /// nothing decommissioned, until it can.
    ScopeNotObserved,
    /// The linked ARN is in no configured scope: reported, never described, never
    /// written, never decommissioned.
    OutOfScope,
    /// Write the package's ARN into the model's link field: the package names the
    /// model in its metadata (`sync.link_metadata_key`) and the field is empty, or a
    /// person asked for it (`govsync link`). The model is synced by the table from
    /// the next cycle on.
    Link {
        /// The ARN the field holds now, which the link replaces (only ever one a person
        /// named: the planner links into empty fields alone).
        replaces: Option<PackageArn>,
    },
    /// Create a governance model for an ungoverned package (`[governance.create]`),
    /// named by the decision's model name, linked to the package, with this status.
    Create {
        /// Its initial status.
        status: GovernanceStatus,
    },
    /// A create the create valve held back this cycle.
    CreateWithheld {
        /// The status it would have had.
        status: GovernanceStatus,
    },
}

impl Action {
    /// True if the engine must write to a remote system for this action.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Action::Push { .. }
                | Action::Pull { .. }
                | Action::Decommission { .. }
                | Action::Link { .. }
                | Action::Create { .. }
        )
    }

    /// Which kind of action this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::InSync => ActionKind::InSync,
            Action::Push { .. } => ActionKind::Push,
            Action::Pull { .. } => ActionKind::Pull,
            Action::Decommission { .. } => ActionKind::Decommission,
            Action::DecommissionWithheld { .. } => ActionKind::DecommissionWithheld,
            Action::AlreadyDecommissioned => ActionKind::AlreadyDecommissioned,
            Action::Conflict => ActionKind::Conflict,
            Action::Drift { .. } => ActionKind::Drift,
            Action::PackageNotObserved => ActionKind::PackageNotObserved,
            Action::ScopeNotObserved => ActionKind::ScopeNotObserved,
            Action::OutOfScope => ActionKind::OutOfScope,
            Action::Link { .. } => ActionKind::Link,
            Action::Create { .. } => ActionKind::Create,
            Action::CreateWithheld { .. } => ActionKind::CreateWithheld,
        }
    }

    /// The value this action writes (or would): a lifecycle or a governance status.
    pub fn target(&self) -> Option<String> {
        match self {
            Action::Push { to, .. } => Some(to.to_string()),
            Action::Pull { to, .. }
            | Action::Decommission { to, .. }
            | Action::DecommissionWithheld { to, .. } => Some(to.to_string()),
            Action::Create { status } | Action::CreateWithheld { status } => {
                Some(status.to_string())
            }
            _ => None,
        }
    }

    /// True for a push or pull that the conflict policy chose (both sides changed).
    pub fn resolved_conflict(&self) -> bool {
        matches!(
            self,
            Action::Push { conflict: true, .. } | Action::Pull { conflict: true, .. }
        )
    }
}

/// The kinds of [`Action`], by the short fixed names that metric labels, tables,
/// JSON and the journal use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    /// `in-sync`
    InSync,
    /// `push`
    Push,
    /// `pull`
    Pull,
    /// `decommission`
    Decommission,
    /// `decommission-withheld`
    DecommissionWithheld,
    /// `already-decommissioned`
    AlreadyDecommissioned,
    /// `conflict`
    Conflict,
    /// `drift`
    Drift,
    /// `package-not-observed`
    PackageNotObserved,
    /// `scope-not-observed`
    ScopeNotObserved,
    /// `out-of-scope`
    OutOfScope,
    /// `link`
    Link,
    /// `create`
    Create,
    /// `create-withheld`
    CreateWithheld,
}

impl ActionKind {
    /// Every kind.
    pub const ALL: [ActionKind; 14] = [
        ActionKind::InSync,
        ActionKind::Push,
        ActionKind::Pull,
        ActionKind::Decommission,
        ActionKind::DecommissionWithheld,
        ActionKind::AlreadyDecommissioned,
        ActionKind::Conflict,
        ActionKind::Drift,
        ActionKind::PackageNotObserved,
        ActionKind::ScopeNotObserved,
        ActionKind::OutOfScope,
        ActionKind::Link,
        ActionKind::Create,
        ActionKind::CreateWithheld,
    ];

    /// The short, fixed name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::InSync => "in-sync",
            ActionKind::Push => "push",
            ActionKind::Pull => "pull",
            ActionKind::Decommission => "decommission",
            ActionKind::DecommissionWithheld => "decommission-withheld",
            ActionKind::AlreadyDecommissioned => "already-decommissioned",
            ActionKind::Conflict => "conflict",
            ActionKind::Drift => "drift",
            ActionKind::PackageNotObserved => "package-not-observed",
            ActionKind::ScopeNotObserved => "scope-not-observed",
            ActionKind::OutOfScope => "out-of-scope",
            ActionKind::Link => "link",
            ActionKind::Create => "create",
            ActionKind::CreateWithheld => "create-withheld",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for ActionKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
