//! What govsync knows of both sides between cycles: the last value it saw, or wrote,
//! of every governance model and model package. A full cycle replaces it; an
//! incremental cycle asks each side only for what changed, folds that in, and plans
//! the models it touched with the other side taken from here.
//!
//! Pure, like the planner: the caller passes every time in.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use crate::arn::PackageArn;
use crate::domain::{
    GovernanceModel, GovernanceStatus, Lifecycle, ModelId, ModelPackage, PackageStatus,
};
use crate::scope::Scopes;

/// The last known state of both sides.
#[derive(Debug, Clone, Default)]
pub struct KnownState {
    /// Every governance model, in the order governance listed them (new ones last).
    models: Vec<GovernanceModel>,
    /// Position of each model in `models`.
    index: HashMap<ModelId, usize>,
    /// Every package of the scopes observed.
    /// (Boxed: a map's table has room for up to twice its entries, and a package is
    /// some 200 bytes, its key 32.)
    packages: HashMap<PackageArn, Box<ModelPackage>>,
    /// What govsync's latest write of a package's lifecycle established, until a
    /// full cycle lists the package again or another change is seen.
    written: HashMap<PackageArn, Written>,
}

/// What one of govsync's own lifecycle writes established: the value before it, the
/// value it wrote, and when it was sent (the caller's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The lifecycle known before the write.
    pub before: Option<Lifecycle>,
    /// The lifecycle written.
    pub wrote: Lifecycle,
    /// When the write was sent.
    pub sent: SystemTime,
}

/// What an observation of a package is, next to govsync's own write of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// It shows the value govsync wrote.
    Consistent,
    /// It shows the value from before the write and was last modified at or before
    /// the write was sent: an index lagging behind the write. Ignored.
    Stale,
    /// Anything else — another value, or the old value modified after the write was
    /// sent (someone set it back), or no modification time to tell: a change to act on.
    Fresh,
}

impl Written {
    /// Judges an observation of the package written.
    pub fn judge(&self, observed: &ModelPackage) -> Observation {
        let lifecycle = observed.lifecycle.as_ref();
        if lifecycle == Some(&self.wrote) {
            Observation::Consistent
        } else if lifecycle == self.before.as_ref()
            && observed.last_modified.is_some_and(|m| m <= self.sent)
        {
            Observation::Stale
        } else {
            Observation::Fresh
        }
    }
}

/// What an incremental cycle plans: the models it touched (and every other model that
/// links the same package, so that a package linked twice is still seen as such), in
/// governance order, and the known packages they link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The models to plan.
    pub models: Vec<GovernanceModel>,
    /// The packages they link, as last known.
    pub packages: Vec<ModelPackage>,
    /// Touched models left to the next full cycle: their package, in a scope observed
    /// now, is not known or is being deleted, and only a full cycle may conclude that
    /// a package is gone.
    pub deferred: Vec<ModelId>,
}

impl KnownState {
    /// An empty state: nothing known yet (the first cycle is a full one).
    pub fn new() -> KnownState {
        KnownState::default()
    }

    /// Governance models known.
    pub fn model_count(&self) -> usize {
        self.models.len()
    }

    /// A model as last known.
    pub fn model(&self, id: &ModelId) -> Option<&GovernanceModel> {
        self.index.get(id).map(|&i| &self.models[i])
    }

    /// A package as last known.
    pub fn package(&self, arn: &PackageArn) -> Option<&ModelPackage> {
        self.packages.get(arn).map(Box::as_ref)
    }

    /// After a full cycle: governance's whole listing replaces the models; the
    /// packages of every scope observed (listed, or described) replace that scope's,
    /// and those of scopes not observed stay as they were. A model card status the
    /// listing does not carry is kept from what was known.
    pub fn replace(
        &mut self,
        models: Vec<GovernanceModel>,
        packages: Vec<ModelPackage>,
        scopes: &Scopes,
        observed: &[bool],
    ) {
        // The old index goes before the new one is built, not after.
        self.index = HashMap::new();
        self.models = models;
        self.index = index_of(&self.models);
        let is_observed = |arn: &PackageArn| {
            scopes
                .route(arn)
                .is_some_and(|i| observed.get(i) == Some(&true))
        };
        // In place (a second map of the fleet would double it at the daemon's peak):
        // the packages of observed scopes that are no longer listed go, then each
        // listed one replaces what was known of it.
        {
            let listed: HashSet<&PackageArn> = packages.iter().map(|p| &p.arn).collect();
            self.packages
                .retain(|arn, _| !is_observed(arn) || listed.contains(arn));
        }
        // Room for the new packages at once: a map grown by doubling holds its old
        // table and the new one at each step.
        let new = packages
            .iter()
            .filter(|p| !self.packages.contains_key(&p.arn))
            .count();
        self.packages.reserve(new);
        // Taken from the end, and the list's room given back as it empties: the
        // listing and the map it fills do not both hold the whole fleet at the end.
        let mut packages = packages;
        while let Some(mut p) = packages.pop() {
            if packages.len() < packages.capacity() / 2 {
                packages.shrink_to_fit();
            }
            match self.packages.get_mut(&p.arn) {
                Some(before) => {
                    if p.model_card_status.is_none() {
                        p.model_card_status = before.model_card_status.take();
                    }
                    // Metadata a describe or Search read is kept while the listing
                    // shows the package unchanged (a changed one is described again).
                    if p.metadata.is_none()
                        && before.status == p.status
                        && before.lifecycle == p.lifecycle
                    {
                        p.metadata = before.metadata.take();
                        p.description = before.description.take();
                    }
                    **before = p;
                }
                None => {
                    self.packages.insert(p.arn.clone(), Box::new(p));
                }
            }
        }
        self.written.retain(|arn, _| !is_observed(arn));
    }

    /// Folds in what an incremental cycle observed changed, and returns the models
    /// touched: those governance returned with another value than known (or new),
    /// and those linking a package SageMaker returned with another value. A package
    /// govsync wrote is judged against that write ([`Written::judge`]): a stale
    /// observation (an index lagging behind the write) is ignored.
    pub fn absorb(
        &mut self,
        models: Vec<GovernanceModel>,
        packages: Vec<ModelPackage>,
    ) -> HashSet<ModelId> {
        let mut touched = HashSet::new();
        for m in models {
            match self.index.get(&m.id) {
                Some(&i) if self.models[i] == m => {}
                Some(&i) => {
                    touched.insert(m.id.clone());
                    self.models[i] = m;
                }
                None => {
                    touched.insert(m.id.clone());
                    self.index.insert(m.id.clone(), self.models.len());
                    self.models.push(m);
                }
            }
        }
        let (more, _) = self.absorb_packages(packages);
        touched.extend(more);
        touched
    }

    /// Folds in packages read now (a search, or describes an event asked for), and
    /// returns the models linking a package seen with another value, and the packages
    /// so changed. A package govsync wrote is judged against that write
    /// ([`Written::judge`]): a stale observation is ignored.
    pub fn absorb_packages(
        &mut self,
        packages: Vec<ModelPackage>,
    ) -> (HashSet<ModelId>, HashSet<PackageArn>) {
        let mut touched = HashSet::new();
        let mut changed: HashSet<PackageArn> = HashSet::new();
        for mut p in packages {
            match self.written.get(&p.arn).map(|w| w.judge(&p)) {
                Some(Observation::Stale) => continue,
                Some(Observation::Fresh) => {
                    self.written.remove(&p.arn);
                }
                Some(Observation::Consistent) | None => {}
            }
            let old = self.packages.get(&p.arn);
            if p.model_card_status.is_none() {
                p.model_card_status = old.and_then(|o| o.model_card_status.clone());
            }
            if p.metadata.is_none() {
                p.metadata = old.and_then(|o| o.metadata.clone());
            }
            if old.is_some_and(|o| same_package(o, &p)) {
                continue;
            }
            changed.insert(p.arn.clone());
            self.packages.insert(p.arn.clone(), Box::new(p));
        }
        if !changed.is_empty() {
            for m in &self.models {
                if m.link.as_ref().is_some_and(|arn| changed.contains(arn)) {
                    touched.insert(m.id.clone());
                }
            }
        }
        (touched, changed)
    }

    /// The models an incremental cycle plans for `touched` (see [`Selection`]).
    /// `observed` says, per scope of `scopes`, whether it was asked for its changes
    /// this cycle.
    pub fn select(
        &self,
        touched: &HashSet<ModelId>,
        scopes: &Scopes,
        observed: &[bool],
    ) -> Selection {
        let touched_links: HashSet<&PackageArn> = touched
            .iter()
            .filter_map(|id| self.model(id)?.link.as_ref())
            .collect();
        let mut selection = Selection::default();
        let mut deferred_links: HashSet<&PackageArn> = HashSet::new();
        for arn in &touched_links {
            let in_observed_scope = scopes
                .route(arn)
                .is_some_and(|i| observed.get(i) == Some(&true));
            match self.packages.get(*arn) {
                Some(p) if p.status != PackageStatus::Deleting => {
                    selection.packages.push(ModelPackage::clone(p));
                }
                _ if in_observed_scope => {
                    deferred_links.insert(arn);
                }
                _ => {}
            }
        }
        for m in &self.models {
            let chosen = match &m.link {
                Some(arn) => touched_links.contains(arn),
                None => touched.contains(&m.id),
            };
            if !chosen {
                continue;
            }
            if m.link
                .as_ref()
                .is_some_and(|arn| deferred_links.contains(arn))
            {
                if touched.contains(&m.id) {
                    selection.deferred.push(m.id.clone());
                }
                continue;
            }
            selection.models.push(m.clone());
        }
        selection
    }

    /// Records a lifecycle govsync wrote, its request sent at `sent`.
    pub fn wrote_lifecycle(&mut self, arn: &PackageArn, lifecycle: &Lifecycle, sent: SystemTime) {
        let before = match self.packages.get_mut(arn) {
            Some(p) => p.lifecycle.replace(lifecycle.clone()),
            None => None,
        };
        self.written.insert(
            arn.clone(),
            Written {
                before,
                wrote: lifecycle.clone(),
                sent,
            },
        );
    }

    /// Forgets a package SageMaker said does not exist when govsync wrote to it:
    /// until a full cycle concludes what became of it, a model linking it is left
    /// alone ([`Selection::deferred`]).
    pub fn forget_package(&mut self, arn: &PackageArn) {
        self.packages.remove(arn);
        self.written.remove(arn);
    }

    /// Records a link govsync wrote into a model's link field.
    pub fn wrote_link(&mut self, model: &ModelId, arn: &PackageArn) {
        if let Some(&i) = self.index.get(model) {
            self.models[i].link = Some(arn.clone());
        }
    }

    /// Records a governance status govsync wrote.
    pub fn wrote_status(&mut self, model: &ModelId, status: &GovernanceStatus) {
        if let Some(&i) = self.index.get(model) {
            self.models[i].status = Some(status.clone());
        }
    }
}

fn index_of(models: &[GovernanceModel]) -> HashMap<ModelId, usize> {
    models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.clone(), i))
        .collect()
}

/// The same package as far as a sync decision goes (its modification time aside;
/// metadata only where both sides have read it: the listing does not carry it).
fn same_package(a: &ModelPackage, b: &ModelPackage) -> bool {
    a.status == b.status
        && a.lifecycle == b.lifecycle
        && a.model_card_status == b.model_card_status
        && (a.metadata.is_none() || b.metadata.is_none() || a.metadata == b.metadata)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::domain::ModelCardStatus;
    use crate::scope::Scope;

    const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/";

    fn arn(n: u32) -> PackageArn {
        PackageArn::parse(&format!("{ARN}{n}")).expect("arn")
    }

    fn model(id: &str, status: &str, link: Option<u32>) -> GovernanceModel {
        GovernanceModel {
            id: ModelId::new(id),
            name: format!("model {id}"),
            status: Some(GovernanceStatus::new(status)),
            link: link.map(arn),
        }
    }

    fn package(n: u32, stage: &str, modified: u64) -> ModelPackage {
        ModelPackage {
            arn: arn(n),
            status: PackageStatus::Completed,
            lifecycle: Some(Lifecycle::new(stage, "InProgress")),
            model_card_status: None,
            metadata: None,
            description: None,
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(modified)),
        }
    }

    fn scopes() -> Scopes {
        Scopes::new(vec![Scope {
            partition: "aws".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            groups: vec![],
        }])
    }

    fn known() -> KnownState {
        let mut k = KnownState::new();
        k.replace(
            vec![
                model("1", "Under Development", Some(1)),
                model("2", "Under Development", Some(2)),
                model("3", "Proposed", None),
            ],
            vec![package(1, "Development", 10), package(2, "Development", 10)],
            &scopes(),
            &[true],
        );
        k
    }

    fn ids(set: &HashSet<ModelId>) -> Vec<&str> {
        let mut v: Vec<&str> = set.iter().map(ModelId::as_str).collect();
        v.sort();
        v
    }

    #[test]
    fn a_change_on_either_side_touches_its_model_and_a_repeat_touches_nothing() {
        let mut k = known();
        let touched = k.absorb(vec![model("1", "Development Complete", Some(1))], vec![]);
        assert_eq!(ids(&touched), ["1"]);
        let touched = k.absorb(vec![], vec![package(2, "Testing", 20)]);
        assert_eq!(ids(&touched), ["2"]);
        // The same rows again (an overlap window returns them once more): nothing new.
        let again = k.absorb(
            vec![model("1", "Development Complete", Some(1))],
            vec![package(2, "Testing", 20)],
        );
        assert!(again.is_empty(), "{again:?}");
        // A model new to governance is touched and kept.
        let touched = k.absorb(vec![model("4", "Proposed", Some(1))], vec![]);
        assert_eq!(ids(&touched), ["4"]);
        assert_eq!(k.model_count(), 4);
    }

    #[test]
    fn an_observation_is_judged_by_the_value_govsyncs_write_established() {
        let written = Written {
            before: Some(Lifecycle::new("Development", "InProgress")),
            wrote: Lifecycle::new("Deployment", "InProgress"),
            sent: UNIX_EPOCH + Duration::from_secs(30),
        };
        let seen = |stage: &str, modified: Option<u64>| ModelPackage {
            last_modified: modified.map(|m| UNIX_EPOCH + Duration::from_secs(m)),
            ..package(1, stage, 0)
        };
        // The value written, whenever it was modified.
        assert_eq!(
            written.judge(&seen("Deployment", Some(31))),
            Observation::Consistent
        );
        assert_eq!(
            written.judge(&seen("Deployment", Some(10))),
            Observation::Consistent
        );
        // The old value, modified at or before the write was sent: a lagging index.
        assert_eq!(
            written.judge(&seen("Development", Some(25))),
            Observation::Stale
        );
        assert_eq!(
            written.judge(&seen("Development", Some(30))),
            Observation::Stale
        );
        // The old value modified after the write was sent: someone set it back.
        assert_eq!(
            written.judge(&seen("Development", Some(31))),
            Observation::Fresh
        );
        // Another value, even modified "before" the write (clock skew): a change.
        assert_eq!(
            written.judge(&seen("Testing", Some(20))),
            Observation::Fresh
        );
        // No modification time to tell by: acted on.
        assert_eq!(
            written.judge(&seen("Development", None)),
            Observation::Fresh
        );
    }

    #[test]
    fn a_change_right_after_govsyncs_write_is_taken_however_close_in_time() {
        let mut k = known();
        k.wrote_lifecycle(
            &arn(1),
            &Lifecycle::new("Deployment", "InProgress"),
            UNIX_EPOCH + Duration::from_secs(30),
        );
        // A pipeline sets another stage a moment later; within clock skew its
        // modification time even reads as before the write.
        let touched = k.absorb(vec![], vec![package(1, "Testing", 29)]);
        assert_eq!(ids(&touched), ["1"]);
    }

    #[test]
    fn an_observation_older_than_govsyncs_own_write_is_ignored() {
        let mut k = known();
        let deployment = Lifecycle::new("Deployment", "InProgress");
        k.wrote_lifecycle(&arn(1), &deployment, UNIX_EPOCH + Duration::from_secs(30));
        // A lagging index returns the package as it was before the write.
        let stale = k.absorb(vec![], vec![package(1, "Development", 25)]);
        assert!(stale.is_empty());
        assert_eq!(
            k.package(&arn(1)).and_then(|p| p.lifecycle.clone()),
            Some(deployment)
        );
        // A change made after the write is taken.
        let newer = k.absorb(vec![], vec![package(1, "Testing", 31)]);
        assert_eq!(ids(&newer), ["1"]);
        assert_eq!(
            k.package(&arn(1)).and_then(|p| p.lifecycle.clone()),
            Some(Lifecycle::new("Testing", "InProgress"))
        );
    }

    #[test]
    fn the_selection_takes_the_other_side_from_what_is_known() {
        let mut k = known();
        let touched = k.absorb(vec![model("1", "Development Complete", Some(1))], vec![]);
        let s = k.select(&touched, &scopes(), &[true]);
        assert_eq!(s.models, vec![model("1", "Development Complete", Some(1))]);
        assert_eq!(s.packages, vec![package(1, "Development", 10)]);
        assert!(s.deferred.is_empty());
    }

    #[test]
    fn every_model_linking_a_touched_package_is_planned_so_a_double_link_shows() {
        let mut k = known();
        k.absorb(vec![model("5", "Proposed", Some(2))], vec![]);
        let touched = k.absorb(vec![], vec![package(2, "Testing", 20)]);
        assert_eq!(ids(&touched), ["2", "5"]);
        let only_5: HashSet<ModelId> = [ModelId::new("5")].into();
        let s = k.select(&only_5, &scopes(), &[true]);
        let planned: Vec<&str> = s.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(planned, ["2", "5"]);
    }

    #[test]
    fn a_package_unknown_or_being_deleted_is_left_to_the_full_cycle() {
        let mut k = known();
        let mut deleting = package(2, "Development", 20);
        deleting.status = PackageStatus::Deleting;
        let touched = k.absorb(vec![model("1", "Proposed", Some(9))], vec![deleting]);
        let s = k.select(&touched, &scopes(), &[true]);
        assert!(s.models.is_empty(), "{:?}", s.models);
        let mut deferred: Vec<&str> = s.deferred.iter().map(ModelId::as_str).collect();
        deferred.sort();
        assert_eq!(deferred, ["1", "2"]);
        // In a scope not observed this cycle the planner says so itself.
        let s = k.select(&touched, &scopes(), &[false]);
        assert_eq!(s.models.len(), 2);
        assert!(s.deferred.is_empty());
    }

    #[test]
    fn a_full_cycle_replaces_observed_scopes_and_keeps_model_cards_the_listing_lacks() {
        let mut k = known();
        let mut archived = package(1, "Development", 40);
        archived.model_card_status = Some(ModelCardStatus::Archived);
        k.absorb(vec![], vec![archived]);
        k.wrote_lifecycle(&arn(2), &Lifecycle::new("Testing", "Review"), UNIX_EPOCH);
        // The listing carries no card and no longer shows package 2.
        let mut listed = package(1, "Development", 0);
        listed.last_modified = None;
        k.replace(
            vec![model("1", "Deployed", Some(1))],
            vec![listed],
            &scopes(),
            &[true],
        );
        assert_eq!(
            k.package(&arn(1)).and_then(|p| p.model_card_status.clone()),
            Some(ModelCardStatus::Archived)
        );
        assert!(k.package(&arn(2)).is_none());
        assert_eq!(k.model_count(), 1);
        // A scope not observed keeps what was known of it.
        k.replace(vec![], vec![], &scopes(), &[false]);
        assert!(k.package(&arn(1)).is_some());
    }

    #[test]
    fn govsyncs_own_status_write_is_what_is_known_next() {
        let mut k = known();
        k.wrote_status(&ModelId::new("1"), &GovernanceStatus::new("Deployed"));
        assert_eq!(
            k.model(&ModelId::new("1")).and_then(|m| m.status.clone()),
            Some(GovernanceStatus::new("Deployed"))
        );
        // Governance returning the written value touches nothing.
        assert!(
            k.absorb(vec![model("1", "Deployed", Some(1))], vec![])
                .is_empty()
        );
    }
}
