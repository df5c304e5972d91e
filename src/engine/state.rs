//! The state a cycle leaves a linked model in, written once: the `state` label of
//! `govsync_models`, the status page's counts and its "needs a person" table, and
//! what `reconcile` counts as unresolved all read it from here.

use super::{ModelResult, Outcome};
use crate::plan::{Action, DriftKind};

/// The state of a linked model after a cycle (and `Unlinked` for the models with no
/// link, which are counted, never planned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelState {
    /// Both sides in one row, or its write applied (a conflict the policy resolved
    /// included), or already decommissioned.
    InSync,
    /// A write planned (dry run), not started (shutdown), or not made because the
    /// value changed during the cycle, or a link just written: the next cycle
    /// decides.
    Pending,
    /// A write failed or was refused.
    Failed,
    /// Both sides changed and the policy (`skip`) left it to a person.
    Conflict,
    /// Neither side's value is in the table.
    Unmapped,
    /// No row lets either value flow, or a package is linked twice.
    Drift,
    /// A decommission the safety valve held back (or a create the create valve did).
    Withheld,
    /// Its scope or package could not be read this cycle.
    NotObserved,
    /// Its package is in no configured scope.
    OutOfScope,
    /// A governance model with no link (counted, never planned).
    Unlinked,
}

impl ModelState {
    /// Every state, in the order the status page shows them.
    pub const ALL: [ModelState; 10] = [
        ModelState::InSync,
        ModelState::Pending,
        ModelState::Drift,
        ModelState::Unmapped,
        ModelState::Conflict,
        ModelState::Withheld,
        ModelState::NotObserved,
        ModelState::OutOfScope,
        ModelState::Failed,
        ModelState::Unlinked,
    ];

    /// Its place in [`ModelState::ALL`].
    pub fn index(self) -> usize {
        ModelState::ALL
            .iter()
            .position(|s| *s == self)
            .expect("every state is listed")
    }

    /// The state one result leaves its model in.
    pub fn of(result: &ModelResult) -> ModelState {
        match (&result.decision.action, &result.outcome) {
            (_, Outcome::Cancelled | Outcome::Planned | Outcome::ChangedDuringCycle(_)) => {
                ModelState::Pending
            }
            (_, o) if o.is_failure() => ModelState::Failed,
            // Linked now; the table syncs it from the next cycle.
            (Action::Link { .. } | Action::Create { .. }, _) => ModelState::Pending,
            (Action::CreateWithheld { .. }, _) => ModelState::Withheld,
            (Action::Conflict, _) => ModelState::Conflict,
            (
                Action::Drift {
                    drift: DriftKind::Unmapped,
                },
                _,
            ) => ModelState::Unmapped,
            (Action::Drift { .. }, _) => ModelState::Drift,
            (Action::DecommissionWithheld { .. }, _) => ModelState::Withheld,
            (Action::PackageNotObserved | Action::ScopeNotObserved, _) => ModelState::NotObserved,
            (Action::OutOfScope, _) => ModelState::OutOfScope,
            _ => ModelState::InSync,
        }
    }

    /// The short, fixed name (a metric label, a CSS data attribute).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::InSync => "in-sync",
            ModelState::Pending => "pending",
            ModelState::Failed => "failed",
            ModelState::Conflict => "conflict",
            ModelState::Unmapped => "unmapped",
            ModelState::Drift => "drift",
            ModelState::Withheld => "withheld",
            ModelState::NotObserved => "not-observed",
            ModelState::OutOfScope => "out-of-scope",
            ModelState::Unlinked => "unlinked",
        }
    }

    /// The words a person reads.
    pub fn words(self) -> &'static str {
        match self {
            ModelState::InSync => "in sync",
            ModelState::NotObserved => "not observed",
            ModelState::OutOfScope => "out of scope",
            other => other.as_str(),
        }
    }

    /// Whether a person must act: drift (unmapped included), a conflict the policy
    /// left alone, a withheld decommission, a failed or refused write. Models not
    /// observed or out of scope wait on access, pending ones on the next cycle.
    pub fn needs_a_person(self) -> bool {
        matches!(
            self,
            ModelState::Drift
                | ModelState::Unmapped
                | ModelState::Conflict
                | ModelState::Withheld
                | ModelState::Failed
        )
    }
}
