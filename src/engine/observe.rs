//! Observing: every scope listed (concurrently, each through its own client), and the
//! linked packages the listing did not show described to confirm they are gone.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;

use super::{CycleError, Engine, Progress, ScopeReport};
use crate::domain::{GovernanceModel, ModelPackage, PackageArn};
use crate::governance::Governance;
use crate::known::KnownState;
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
        let listed: HashSet<&PackageArn> = packages.iter().map(|p| &p.arn).collect();
        let decommissioning = decommission_statuses(&self.settings.mapping, &self.settings.policy);
        let wanted: Vec<(PackageArn, usize)> = models
            .iter()
            .filter_map(|m| {
                let arn = m.link.as_ref()?;
                let scope = scopes.route(arn).filter(|&i| observed[i])?;
                let wanted = !listed.contains(arn)
                    || (self.settings.read_model_cards
                        && !m
                            .status
                            .as_ref()
                            .is_some_and(|s| decommissioning.contains(s.as_str())));
                wanted.then(|| (arn.clone(), scope))
            })
            .collect();
        self.describe_into(wanted, packages, report).await
    }

    /// Reads the metadata (`CustomerMetadataProperties`, where a pipeline names the
    /// governance model a package belongs to) of every listed package no model
    /// links: taken from what `known` holds while the listing shows the package
    /// unchanged, else described (once per new or changed package, not per cycle).
    pub(super) async fn read_unlinked_metadata(
        &self,
        models: &[GovernanceModel],
        scopes: &Scopes,
        packages: &mut Vec<ModelPackage>,
        known: &KnownState,
        report: &(dyn Fn(Progress) + Sync),
    ) {
        let linked: HashSet<&PackageArn> = models.iter().filter_map(|m| m.link.as_ref()).collect();
        let mut wanted = Vec::new();
        for p in packages.iter_mut() {
            if p.metadata.is_some() || linked.contains(&p.arn) {
                continue;
            }
            match known.package(&p.arn) {
                Some(k)
                    if k.metadata.is_some()
                        && k.status == p.status
                        && k.lifecycle == p.lifecycle =>
                {
                    p.metadata = k.metadata.clone();
                }
                _ => {
                    if let Some(scope) = scopes.route(&p.arn) {
                        wanted.push((p.arn.clone(), scope));
                    }
                }
            }
        }
        // A package listed a moment ago and gone now is simply not there.
        let gone = self.describe_into(wanted, packages, report).await;
        packages.retain(|p| !gone.contains(&p.arn));
    }

    /// Describes `wanted` (each through its scope's client, `concurrency` at once):
    /// found ones replace or join `packages`; gone ones are returned (and dropped
    /// from `packages`); one that cannot be described is left as listed.
    async fn describe_into(
        &self,
        mut wanted: Vec<(PackageArn, usize)>,
        packages: &mut Vec<ModelPackage>,
        report: &(dyn Fn(Progress) + Sync),
    ) -> HashSet<PackageArn> {
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return HashSet::new();
        }
        let mut position: HashMap<PackageArn, usize> = packages
            .iter()
            .enumerate()
            .map(|(i, p)| (p.arn.clone(), i))
            .collect();
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
                    tracing::warn!(arn = %arn, error = %e, "could not describe a package")
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
