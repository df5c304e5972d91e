//! Scopes: what one SageMaker listing covers — a partition, an account, a region and
//! optionally some model package groups (the account's own, by name, or groups shared
//! through AWS RAM, by ARN).
//!
//! Every linked package ARN is routed to the scope that covers it, here and only here.
//! The planner uses the routing to keep its one hard rule: "deleted" is concluded only
//! inside a scope observed in full this cycle.

use std::fmt;

use serde::Serialize;

use crate::arn::{GroupArn, PackageArn};

/// A scope's name in reports, logs and metric labels: `<account>/<region>`. Scopes come
/// from the configuration, so there are only as many as it lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ScopeId(String);

impl ScopeId {
    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One model package group a scope lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// A group of the scope's own account, by name.
    Own(String),
    /// A group named by ARN: shared with the scope's account through AWS RAM (or the
    /// account's own, written as an ARN). Its packages carry the owner's account.
    Arn(GroupArn),
}

impl GroupRef {
    /// What `ListModelPackages` takes as `ModelPackageGroupName`: a name or an ARN.
    pub fn as_request(&self) -> &str {
        match self {
            GroupRef::Own(name) => name,
            GroupRef::Arn(arn) => arn.as_str(),
        }
    }
}

/// What one listing covers: one account (with the credentials that reach it) in one
/// region, all its groups or only some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// The 12-digit account whose credentials list it.
    pub account: String,
    /// The region.
    pub region: String,
    /// Only these groups; empty means every group of `account` in `region`.
    pub groups: Vec<GroupRef>,
}

impl Scope {
    /// `<account>/<region>`.
    pub fn id(&self) -> ScopeId {
        ScopeId(format!("{}/{}", self.account, self.region))
    }

    /// True when a package with this ARN is one this scope's listing shows, if it exists.
    pub fn covers(&self, arn: &PackageArn) -> bool {
        if arn.partition() != self.partition || arn.region() != self.region {
            return false;
        }
        if self.groups.is_empty() {
            return arn.account() == self.account;
        }
        self.groups.iter().any(|group| match group {
            GroupRef::Own(name) => arn.account() == self.account && arn.group() == name,
            GroupRef::Arn(g) => arn.account() == g.account() && arn.group() == g.name(),
        })
    }

    /// The listings that make up this scope: `None` lists every group of the account,
    /// `Some(name or ARN)` one group.
    pub fn listings(&self) -> Vec<Option<&str>> {
        if self.groups.is_empty() {
            vec![None]
        } else {
            self.groups.iter().map(|g| Some(g.as_request())).collect()
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (partition {}", self.id(), self.partition)?;
        if self.groups.is_empty() {
            write!(f, ", every group)")
        } else {
            let groups: Vec<&str> = self.groups.iter().map(GroupRef::as_request).collect();
            write!(f, ", groups {})", groups.join(", "))
        }
    }
}

/// The configured scopes, in order. An ARN belongs to the first scope that covers it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// The scopes, as given.
    pub fn new(scopes: Vec<Scope>) -> Scopes {
        Scopes(scopes)
    }

    /// The index of the scope that covers `arn`; `None`: out of scope.
    pub fn route(&self, arn: &PackageArn) -> Option<usize> {
        self.0.iter().position(|s| s.covers(arn))
    }

    /// Every scope.
    pub fn all(&self) -> &[Scope] {
        &self.0
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(text: &str) -> PackageArn {
        PackageArn::parse(text).expect("valid")
    }

    fn scope(account: &str, region: &str, groups: Vec<GroupRef>) -> Scope {
        Scope {
            partition: "aws".into(),
            account: account.into(),
            region: region.into(),
            groups,
        }
    }

    #[test]
    fn a_scope_covers_its_account_and_region_only() {
        let s = scope("111122223333", "us-east-1", vec![]);
        assert!(s.covers(&arn(
            "arn:aws:sagemaker:us-east-1:111122223333:model-package/g/1"
        )));
        assert!(!s.covers(&arn(
            "arn:aws:sagemaker:eu-west-1:111122223333:model-package/g/1"
        )));
        assert!(!s.covers(&arn(
            "arn:aws:sagemaker:us-east-1:999999999999:model-package/g/1"
        )));
        assert!(!s.covers(&arn(
            "arn:aws-cn:sagemaker:us-east-1:111122223333:model-package/g/1"
        )));
        assert_eq!(s.listings(), vec![None]);
        assert_eq!(s.id().as_str(), "111122223333/us-east-1");
    }

    #[test]
    fn named_groups_narrow_a_scope_and_shared_groups_reach_another_account() {
        let shared =
            GroupArn::parse("arn:aws:sagemaker:us-east-1:444455556666:model-package-group/shared")
                .expect("group arn");
        let s = scope(
            "111122223333",
            "us-east-1",
            vec![GroupRef::Own("churn".into()), GroupRef::Arn(shared.clone())],
        );
        assert!(s.covers(&arn(
            "arn:aws:sagemaker:us-east-1:111122223333:model-package/churn/3"
        )));
        assert!(!s.covers(&arn(
            "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud/3"
        )));
        assert!(s.covers(&arn(
            "arn:aws:sagemaker:us-east-1:444455556666:model-package/shared/1"
        )));
        // The owner's other groups are not shared.
        assert!(!s.covers(&arn(
            "arn:aws:sagemaker:us-east-1:444455556666:model-package/churn/1"
        )));
        assert_eq!(s.listings(), vec![Some("churn"), Some(shared.as_str())]);
    }

    #[test]
    fn routing_picks_the_scope_that_covers_the_arn_or_none() {
        let scopes = Scopes::new(vec![
            scope("111122223333", "us-east-1", vec![]),
            scope("111122223333", "eu-west-1", vec![]),
        ]);
        assert_eq!(
            scopes.route(&arn(
                "arn:aws:sagemaker:eu-west-1:111122223333:model-package/g/1"
            )),
            Some(1)
        );
        assert_eq!(
            scopes.route(&arn(
                "arn:aws:sagemaker:us-west-2:111122223333:model-package/g/1"
            )),
            None
        );
    }
}
