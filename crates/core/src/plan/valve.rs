//! The safety valve: decommissions withheld when too many are planned, per scope
//! and in total.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{Action, Decision, Policy};
use crate::scope::ScopeId;

/// The safety valve tripped: `count` decommissions were planned, more than `limit`,
/// in one scope (`scope`) or in the whole cycle (`scope` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetyValveTrip {
    /// Decommissions the plan would have made (in the scope, or in all).
    pub count: usize,
    /// The configured limit.
    pub limit: usize,
    /// The scope whose decommissions were withheld; `None`: every scope's.
    pub scope: Option<ScopeId>,
}

impl fmt::Display for SafetyValveTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Some(scope) => write!(
                f,
                "safety valve: {} models of scope {scope} would be decommissioned in one cycle, \
                 more than the limit of {} per scope; none of them were. Check that the \
                 credentials (role) of scope {scope} reach the right AWS account, region and \
                 model package groups, then raise sync.max_decommissions_per_scope if the \
                 decommissions are real",
                self.count, self.limit
            ),
            None => write!(
                f,
                "safety valve: {} models would be decommissioned in one cycle, more than the \
                 limit of {}; none were. Check that govsync looks at the right AWS accounts, \
                 regions and model package groups, then raise sync.max_decommissions_per_cycle \
                 if the decommissions are real",
                self.count, self.limit
            ),
        }
    }
}

/// Withholds the decommissions of every scope that has more than the per-scope limit,
/// then all of them if more than the per-cycle limit remain.
pub(super) fn apply_safety_valve(
    decisions: &mut [Decision],
    policy: &Policy,
) -> Vec<SafetyValveTrip> {
    let is_decommission = |d: &Decision| matches!(d.action, Action::Decommission { .. });
    let mut per_scope: BTreeMap<ScopeId, usize> = BTreeMap::new();
    for d in decisions.iter().filter(|d| is_decommission(d)) {
        if let Some(scope) = &d.scope {
            *per_scope.entry(scope.clone()).or_default() += 1;
        }
    }
    let mut trips = Vec::new();
    for (scope, count) in per_scope {
        if count > policy.max_decommissions_per_scope {
            withhold(decisions, |d| d.scope.as_ref() == Some(&scope));
            trips.push(SafetyValveTrip {
                count,
                limit: policy.max_decommissions_per_scope,
                scope: Some(scope),
            });
        }
    }
    let count = decisions.iter().filter(|d| is_decommission(d)).count();
    if count > policy.max_decommissions_per_cycle {
        withhold(decisions, |_| true);
        trips.push(SafetyValveTrip {
            count,
            limit: policy.max_decommissions_per_cycle,
            scope: None,
        });
    }
    trips
}

/// Turns the decommissions of the decisions `which` picks into withheld ones. The
/// reason says so once; the plan's `safety_valve` carries the whole story.
fn withhold(decisions: &mut [Decision], which: impl Fn(&Decision) -> bool) {
    for decision in decisions.iter_mut().filter(|d| which(d)) {
        if let Action::Decommission { to, cause, .. } = &decision.action {
            decision.action = Action::DecommissionWithheld {
                to: to.clone(),
                cause: *cause,
            };
            decision.reason = format!("{}; withheld by the safety valve", decision.reason);
        }
    }
}
