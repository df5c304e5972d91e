//! Observing: every scope listed (concurrently, each through its own client), and the
//! linked packages the listing did not show described to confirm they are gone.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;

use super::{CycleError, Engine, Progress, ScopeReport};
use crate::domain::{GovernanceModel, ModelPackage, PackageArn};
use crate::governance::Governance;
use crate::plan::decommission_statuses;
use crate::remote::{Listing, RemoteError};
use crate::sagemaker::{Described, Registry};
use crate::scope::Scopes;

impl<G: Governance, R: Registry> Engine<G, R> {
    /// Lists every scope, at most `concurrency` at once, each through its own client.
    pub(super) async fn list_scopes(&self) -> Vec<Result<Listing<ModelPackage>, RemoteError>> {
        // By index, so that each future borrows `self` alone (a closure over
        // `&ScopedRegistry` items makes the daemon's future not `Send`).
        futures_util::stream::iter(0..self.registries.len())
            .map(|i| {
                let r = &self.registries[i];
                r.registry.list_packages(&r.scope)
            })
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await
    }

    /// Describes, one call each through the package's scope: every linked package of
    /// an observed scope that the listing did not show (to confirm a deletion), and
    /// with `read_model_cards` every listed linked package whose model is not already
    /// decommissioning (the listing does not carry the model card). Packages in no
    /// scope, or in a scope not observed, are never described. Gone packages are
    /// returned; described ones replace or join the listed ones.
    pub(super) async fn describe_linked(
        &self,
        models: &[GovernanceModel],
        scopes: &Scopes,
        observed: &[bool],
        packages: &mut Vec<ModelPackage>,
        report: &(dyn Fn(Progress) + Sync),
    ) -> HashSet<PackageArn> {
        let mut position: HashMap<PackageArn, usize> = packages
            .iter()
            .enumerate()
            .map(|(i, p)| (p.arn.clone(), i))
            .collect();
        let decommissioning = decommission_statuses(&self.settings.mapping, &self.settings.policy);
        let mut wanted: Vec<(PackageArn, usize)> = models
            .iter()
            .filter_map(|m| {
                let arn = m.link.as_ref()?;
                let scope = scopes.route(arn).filter(|&i| observed[i])?;
                let wanted = !position.contains_key(arn)
                    || (self.settings.read_model_cards
                        && !m
                            .status
                            .as_ref()
                            .is_some_and(|s| decommissioning.contains(s.as_str())));
                wanted.then(|| (arn.clone(), scope))
            })
            .collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return HashSet::new();
        }
        report(Progress::Describing {
            total: wanted.len(),
        });
        let described: Vec<(PackageArn, Result<Described, RemoteError>)> =
            futures_util::stream::iter(wanted)
                .map(|(arn, scope)| async move {
                    let d = self.registries[scope].registry.describe_package(&arn).await;
                    (arn, d)
                })
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect()
                .await;
        let mut gone = HashSet::new();
        for (arn, result) in described {
            match result {
                Ok(Described::NotFound) => {
                    gone.insert(arn);
                }
                Ok(Described::Found(p)) => match position.get(&arn) {
                    Some(&i) => packages[i] = p,
                    None => {
                        position.insert(arn, packages.len());
                        packages.push(p);
                    }
                },
                Err(e) => {
                    tracing::warn!(arn = %arn, error = %e, "could not describe a linked package")
                }
            }
        }
        // A package listed a moment ago and gone now: drop its stale summary.
        packages.retain(|p| !gone.contains(&p.arn));
        gone
    }
}

/// What the scope listings of one cycle add up to.
pub(super) struct ScopesObserved {
    pub(super) listing: Listing<ModelPackage>,
    pub(super) observed: Vec<bool>,
    pub(super) reports: Vec<ScopeReport>,
}

impl ScopesObserved {
    /// Joins the listings (in the order of `scopes`); fails only when no scope at all
    /// could be listed.
    pub(super) fn from(
        scopes: &Scopes,
        listings: Vec<Result<Listing<ModelPackage>, RemoteError>>,
    ) -> Result<ScopesObserved, CycleError> {
        let mut joined = ScopesObserved {
            listing: Listing::default(),
            observed: Vec::with_capacity(listings.len()),
            reports: Vec::with_capacity(listings.len()),
        };
        let mut first_error = None;
        for (scope, listing) in scopes.all().iter().zip(listings) {
            let (observed, packages, error) = match listing {
                Ok(mut listing) => {
                    let n = listing.items.len();
                    joined.listing.items.append(&mut listing.items);
                    joined.listing.rejected.append(&mut listing.rejected);
                    (true, n, None)
                }
                Err(e) => {
                    tracing::error!(scope = %scope.id(), error = %e, "scope not observed this cycle");
                    let message = e.message.clone();
                    first_error.get_or_insert(e);
                    (false, 0, Some(message))
                }
            };
            joined.observed.push(observed);
            joined.reports.push(ScopeReport {
                scope: scope.id(),
                observed,
                packages,
                error,
            });
        }
        match first_error {
            Some(e) if !joined.observed.contains(&true) => Err(CycleError::SageMaker(e)),
            _ => Ok(joined),
        }
    }
}
