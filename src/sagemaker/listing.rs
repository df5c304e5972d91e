//! A full listing of a scope: every configured group (or every group of the account)
//! as chains of `ListModelPackages` pages, several chains at once.
//!
//! A `NextToken` chain is sequential by nature, so one big group (or one account
//! listed across groups) would take as many round trips as it has pages. Each
//! listing is therefore split by creation time (`CreationTimeAfter` /
//! `CreationTimeBefore`) where its previous listing showed that whole pages fall,
//! into at most [`CHAINS_PER_LISTING`] chains listed at once: the number of calls
//! stays at one per 100 packages, the wall time falls with the number of chains. An
//! account's first listing (nothing learned yet: a fresh `reconcile`) lists its
//! groups first and each group as a chain of its own. One group alone (the account's
//! only one, or a scope's one configured group) is read from its oldest page: if
//! more follow, its newest package's time is asked for and the rest is split into
//! equal spans of creation time between the two. The split only ever changes
//! how fast a listing is, never what it holds: the ranges cover every time, and a
//! package seen by two chains (were a bound ever inclusive) is kept once.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use aws_sdk_sagemaker::operation::list_model_packages::ListModelPackagesOutput;
use aws_sdk_sagemaker::primitives::DateTime;
use aws_sdk_sagemaker::types::{ModelPackageSortBy, ModelPackageType, SortOrder};
use futures_util::StreamExt;

use super::client::{
    LIST_PAGE_SIZE, SageMakerRegistry, package_from_summary, page_with_retries, remote_error,
};
use crate::domain::ModelPackage;
use crate::remote::{Listing, RejectedRow, RemoteError};

/// The most chains one listing (a group, or an account across groups) is split into.
pub const CHAINS_PER_LISTING: usize = 8;

/// The most chains of one scope's listings in flight at once.
pub const CHAINS_AT_ONCE: usize = 8;

/// Where each listing of one registry splits next time: per listing (`None`: the
/// account across groups), the [`Split`]s between its chains; a listing not there
/// has not been listed yet.
#[derive(Debug, Default)]
pub(super) struct Splits(Mutex<HashMap<Option<String>, Vec<Split>>>);

/// Where one chain ends and the next begins: the creation time (epoch seconds) of
/// the last package of the one, and of the first package of the other, as the last
/// listing saw them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Split {
    last: f64,
    first: f64,
}

impl Splits {
    fn get(&self, listing: Option<&str>) -> Option<Vec<Split>> {
        self.0
            .lock()
            .expect("splits lock poisoned")
            .get(&listing.map(str::to_string))
            .cloned()
    }

    fn set(&self, listing: Option<&str>, splits: Vec<Split>) {
        self.0
            .lock()
            .expect("splits lock poisoned")
            .insert(listing.map(str::to_string), splits);
    }
}

/// One chain: a listing's packages created in `(after, before)`.
#[derive(Debug, Clone)]
struct Chain {
    /// Which listing of the scope it belongs to.
    listing: usize,
    group: Option<String>,
    after: Option<f64>,
    before: Option<f64>,
}

impl Chain {
    /// A whole listing as one chain, at every creation time.
    fn whole(listing: usize, group: Option<String>) -> Chain {
        Chain {
            listing,
            group,
            after: None,
            before: None,
        }
    }
}

/// What one chain read: packages with their creation times, and rejected rows.
type ChainRead = (Vec<(ModelPackage, Option<f64>)>, Vec<RejectedRow>);

impl SageMakerRegistry {
    /// Lists `listings` (each a group name or ARN, or `None` for every group of the
    /// account) in full, as chains of pages [`CHAINS_AT_ONCE`] at a time; fails if
    /// any chain does (the scope then counts as not observed).
    pub(super) async fn list_all(
        &self,
        listings: &[Option<String>],
    ) -> Result<Listing<ModelPackage>, RemoteError> {
        let mut chains: Vec<Chain> = Vec::new();
        let mut per_listing: Vec<ChainRead> = vec![(Vec::new(), Vec::new()); listings.len()];
        for (i, group) in listings.iter().enumerate() {
            // A first listing here has nothing learned to split it by.
            let (more, mut read) = match (self.splits.get(group.as_deref()), group) {
                (Some(splits), _) => (chains_of(i, group.clone(), &splits), ChainRead::default()),
                (None, None) => self.first_chains(i).await?,
                (None, Some(name)) if listings.len() == 1 => self.first_of_group(i, name).await?,
                (None, Some(_)) => (vec![Chain::whole(i, group.clone())], ChainRead::default()),
            };
            chains.extend(more);
            per_listing[i].0.append(&mut read.0);
            per_listing[i].1.append(&mut read.1);
        }
        let reads = futures_util::stream::iter(chains)
            .map(|chain| async move {
                let read = self.list_chain(&chain).await;
                (chain.listing, read)
            })
            .buffer_unordered(CHAINS_AT_ONCE);
        let mut reads = std::pin::pin!(reads);
        while let Some((i, read)) = reads.next().await {
            let (mut packages, mut rejected) = read?;
            per_listing[i].0.append(&mut packages);
            per_listing[i].1.append(&mut rejected);
        }
        let mut listing = Listing::default();
        for (group, (packages, rejected)) in listings.iter().zip(per_listing) {
            let mut seen = HashSet::new();
            let mut created = Vec::with_capacity(packages.len());
            for (package, time) in packages {
                if seen.insert(package.arn.clone()) {
                    created.extend(time);
                    listing.items.push(package);
                }
            }
            let mut seen_rows = HashSet::new();
            listing.rejected.extend(
                rejected
                    .into_iter()
                    .filter(|r| seen_rows.insert(r.to_string())),
            );
            self.splits.set(group.as_deref(), splits_of(created));
        }
        Ok(listing)
    }

    /// An account's first listing, with nothing learned yet: its groups
    /// (`ListModelPackageGroups`), each group a chain of its own, listed
    /// [`CHAINS_AT_ONCE`] at a time; one group alone is read as
    /// [`Self::first_of_group`] does. Returns the chains still to list and what was
    /// read already.
    async fn first_chains(&self, listing: usize) -> Result<(Vec<Chain>, ChainRead), RemoteError> {
        let groups = self.list_groups().await?;
        Ok(match groups.as_slice() {
            [] => (vec![Chain::whole(listing, None)], ChainRead::default()),
            [one] => return self.first_of_group(listing, one).await,
            _ => (
                groups
                    .into_iter()
                    .map(|name| Chain::whole(listing, Some(name)))
                    .collect(),
                ChainRead::default(),
            ),
        })
    }

    /// The first listing of one group (a name or an ARN) with nothing learned about
    /// it: its oldest page, in creation order; if more follow, its newest package
    /// (one summary, newest first), and the packages between the two split into
    /// [`CHAINS_PER_LISTING`] equal spans of creation time, the last one open (for
    /// packages created meanwhile). A group of one page costs one call; a bigger one
    /// two, plus at most a partial page per span more than one chain would take.
    /// Returns the chains still to list and the oldest page, read.
    async fn first_of_group(
        &self,
        listing: usize,
        group: &str,
    ) -> Result<(Vec<Chain>, ChainRead), RemoteError> {
        let whole = Chain::whole(listing, Some(group.to_string()));
        let mut read = ChainRead::default();
        let oldest = self
            .list_page(&whole, SortOrder::Ascending, LIST_PAGE_SIZE, None)
            .await?;
        let more = oldest.next_token().is_some_and(|t| !t.is_empty());
        read_page(&oldest, &mut read);
        if !more {
            return Ok((Vec::new(), read));
        }
        let last_read = read.0.iter().filter_map(|(_, time)| *time).reduce(f64::max);
        let newest = self
            .list_page(&whole, SortOrder::Descending, 1, None)
            .await?
            .model_package_summary_list()
            .first()
            .and_then(|s| s.creation_time())
            .map(DateTime::as_secs_f64);
        let Some(from) = last_read else {
            // No creation times to split by: the rest as one chain from the start.
            return Ok((vec![whole], ChainRead::default()));
        };
        // The bounds are exclusive: neighbouring chains overlap by a millisecond
        // (creation times have milliseconds), and a package two of them see is kept
        // once; the first begins a millisecond before the last package read, so
        // that packages created in the same instant are not lost.
        const OVERLAP: f64 = 0.001;
        let chain = |after: f64, before: Option<f64>| Chain {
            after: Some(after),
            before,
            ..whole.clone()
        };
        let chains = match newest {
            Some(to) if to > from + OVERLAP => {
                let n = CHAINS_PER_LISTING;
                let span = (to - from) / n as f64;
                (0..n)
                    .map(|k| {
                        let after = from + span * k as f64 - OVERLAP;
                        let before = (k + 1 < n).then_some(from + span * (k + 1) as f64 + OVERLAP);
                        chain(after, before)
                    })
                    .collect()
            }
            _ => vec![chain(from - OVERLAP, None)],
        };
        Ok((chains, read))
    }

    /// The names of the account's model package groups.
    async fn list_groups(&self) -> Result<Vec<String>, RemoteError> {
        let mut groups = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = self
                .client
                .list_model_package_groups()
                .max_results(LIST_PAGE_SIZE)
                .set_next_token(token.clone());
            let page = page_with_retries("ListModelPackageGroups", "the account", || async {
                request
                    .clone()
                    .send()
                    .await
                    .map_err(|e| remote_error("ListModelPackageGroups", "the account", e))
            })
            .await?;
            for g in page.model_package_group_summary_list() {
                if let Some(name) = g.model_package_group_name() {
                    groups.push(name.to_string());
                }
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(groups),
            }
        }
    }

    /// One chain, page by page, in creation order.
    async fn list_chain(&self, chain: &Chain) -> Result<ChainRead, RemoteError> {
        let mut read = ChainRead::default();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .list_page(chain, SortOrder::Ascending, LIST_PAGE_SIZE, token.take())
                .await?;
            read_page(&page, &mut read);
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(read),
            }
        }
    }

    /// One page of a chain: up to `max` packages in creation `order`, from `token`.
    async fn list_page(
        &self,
        chain: &Chain,
        order: SortOrder,
        max: i32,
        token: Option<String>,
    ) -> Result<ListModelPackagesOutput, RemoteError> {
        let subject = chain.group.as_deref().unwrap_or("all groups");
        // Without a group the documented default type is Unversioned, which would
        // miss every Model Registry package: ask for versioned ones explicitly.
        let request = self
            .client
            .list_model_packages()
            .max_results(max)
            .model_package_type(ModelPackageType::Versioned)
            .sort_by(ModelPackageSortBy::CreationTime)
            .sort_order(order)
            .set_model_package_group_name(chain.group.clone())
            .set_creation_time_after(chain.after.map(DateTime::from_secs_f64))
            .set_creation_time_before(chain.before.map(DateTime::from_secs_f64))
            .set_next_token(token);
        page_with_retries("ListModelPackages", subject, || async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| remote_error("ListModelPackages", subject, e))
        })
        .await
    }
}

/// Adds a page's packages (with their creation times) and rejected rows to `read`.
fn read_page(page: &ListModelPackagesOutput, read: &mut ChainRead) {
    for summary in page.model_package_summary_list() {
        match package_from_summary(summary) {
            Ok(package) => read
                .0
                .push((package, summary.creation_time().map(DateTime::as_secs_f64))),
            Err(rejected) => read.1.push(rejected),
        }
    }
}

/// The chains of one listing, split at `splits`: created before the first split's
/// `first`, after its `last` and before the next one's `first`, …, after the last
/// one's `last`. SageMaker's time bounds are exclusive, so every time falls in one
/// chain: one that is not before a `first` is after the `last` before it.
fn chains_of(listing: usize, group: Option<String>, splits: &[Split]) -> Vec<Chain> {
    let mut chains = Vec::with_capacity(splits.len() + 1);
    let mut after = None;
    for split in splits {
        chains.push(Chain {
            listing,
            group: group.clone(),
            after,
            before: Some(split.first),
        });
        after = Some(split.last);
    }
    chains.push(Chain {
        listing,
        group,
        after,
        before: None,
    });
    chains
}

/// Where the next listing of these packages splits (by their creation times, in
/// seconds): into at most [`CHAINS_PER_LISTING`] chains of whole pages each. A split
/// goes between two different times (packages created in the same instant cannot
/// be told apart), so a chain may hold a few more.
fn splits_of(mut created: Vec<f64>) -> Vec<Split> {
    created.sort_by(f64::total_cmp);
    let page = LIST_PAGE_SIZE as usize;
    let pages = created.len().div_ceil(page);
    let chains = pages.clamp(1, CHAINS_PER_LISTING);
    let pages_per_chain = pages.div_ceil(chains).max(1);
    let mut splits: Vec<Split> = Vec::with_capacity(chains);
    for j in 1..chains {
        let mut i = j * pages_per_chain * page;
        while i < created.len() && created[i - 1] >= created[i] {
            i += 1;
        }
        if i >= created.len() {
            break;
        }
        let split = Split {
            last: created[i - 1],
            first: created[i],
        };
        if splits.last().is_none_or(|s| s.first < split.first) {
            splits.push(split);
        }
    }
    splits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_splits_into_chains_of_whole_pages() {
        let times: Vec<f64> = (0..1_050).map(|i| 1000.0 + f64::from(i)).collect();
        // 11 pages: 8 chains of at most 2 pages; each split is between the last
        // package of a chain and the first of the next.
        let firsts: Vec<f64> = splits_of(times.clone()).iter().map(|s| s.first).collect();
        assert_eq!(
            firsts,
            [1200.0, 1400.0, 1600.0, 1800.0, 2000.0],
            "6 chains: 2, 2, 2, 2, 2 and 1 page"
        );
        assert_eq!(splits_of(times.clone())[0].last, 1199.0);
        assert!(
            splits_of(times[..100].to_vec()).is_empty(),
            "one page: one chain"
        );
        assert!(splits_of(Vec::new()).is_empty());
        let big: Vec<f64> = (0..10_000).map(f64::from).collect();
        assert_eq!(splits_of(big).len(), CHAINS_PER_LISTING - 1);
    }

    #[test]
    fn packages_created_in_the_same_instant_stay_in_one_chain() {
        // 300 packages, the 100th to 150th at one instant: the first split moves
        // past them.
        let times: Vec<f64> = (0..300)
            .map(|i| {
                if (99..150).contains(&i) {
                    99.0
                } else {
                    f64::from(i)
                }
            })
            .collect();
        let splits = splits_of(times);
        assert_eq!(
            splits[0],
            Split {
                last: 99.0,
                first: 150.0
            }
        );
    }

    #[test]
    fn the_chains_cover_every_time() {
        let splits = [
            Split {
                last: 9.5,
                first: 10.0,
            },
            Split {
                last: 19.0,
                first: 20.0,
            },
        ];
        let chains = chains_of(0, None, &splits);
        let bounds: Vec<(Option<f64>, Option<f64>)> =
            chains.iter().map(|c| (c.after, c.before)).collect();
        assert_eq!(
            bounds,
            [
                (None, Some(10.0)),
                (Some(9.5), Some(20.0)),
                (Some(19.0), None)
            ]
        );
        for t in [0.0, 9.5, 9.7, 10.0, 19.0, 19.5, 20.0, 99.0] {
            let holding = chains
                .iter()
                .filter(|c| c.after.is_none_or(|a| t > a) && c.before.is_none_or(|b| t < b))
                .count();
            assert!(holding >= 1, "{t} is in no chain");
        }
        assert_eq!(chains_of(3, Some("g".into()), &[]).len(), 1);
    }
}
