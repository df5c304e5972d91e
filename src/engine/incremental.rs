//! Full and incremental cycles, and what the daemon keeps between them.
//!
//! A full cycle lists everything in scope and is the only one that may conclude
//! that a package is gone. An incremental cycle asks each side only for what changed
//! since it last asked (less an overlap window, so that clock skew, commit lag and
//! an index that lags lose nothing), folds that into the last known state, and plans
//! the models touched, with the other side taken from what is known.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;

use super::{CycleError, Engine, ModelResult, Outcome, Seen, observe::ScopesObserved};
use crate::domain::ModelId;
use crate::governance::Governance;
use crate::known::KnownState;
use crate::plan::Action;
use crate::remote::{ErrorKind, Listing, RemoteError};
use crate::sagemaker::Registry;
use crate::scope::Scopes;

/// Which kind of cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CycleKind {
    /// Everything listed: the only kind that may conclude that a package is gone.
    #[default]
    Full,
    /// Only what changed since the last cycle, on either side.
    Incremental,
}

impl CycleKind {
    /// `full` or `incremental` (logs, metrics, the status page).
    pub fn as_str(self) -> &'static str {
        match self {
            CycleKind::Full => "full",
            CycleKind::Incremental => "incremental",
        }
    }
}

/// What the daemon keeps from one cycle to the next: the last known state of both
/// sides, when each side was last asked, and the models to plan again.
#[derive(Debug, Clone)]
pub struct CycleMemory {
    known: KnownState,
    /// How far before the last question the next one asks from.
    overlap: Duration,
    /// When governance was last read in full or for its changes.
    governance_seen: Option<SystemTime>,
    /// Per scope, when it was last listed or searched.
    scopes_seen: Vec<Option<SystemTime>>,
    /// Models to plan in the next incremental cycle whatever it observes: touched by
    /// a cycle that did not get to write, or whose write failed or was not started.
    again: HashSet<ModelId>,
}

impl CycleMemory {
    /// Nothing known yet; incremental cycles will ask from `overlap` before their
    /// last question.
    pub fn new(overlap: Duration) -> CycleMemory {
        CycleMemory {
            known: KnownState::new(),
            overlap,
            governance_seen: None,
            scopes_seen: Vec::new(),
            again: HashSet::new(),
        }
    }

    /// The last known state of both sides.
    pub fn known(&self) -> &KnownState {
        &self.known
    }

    /// True once a full cycle has read governance and listed the scopes.
    pub(super) fn knows_both_sides(&self, scopes: usize) -> bool {
        self.governance_seen.is_some() && self.scopes_seen.len() == scopes
    }

    /// After a full cycle's observation: it replaces what is known (keeping what the
    /// listing cannot tell: model card statuses `Search` showed, and the packages of
    /// scopes the cycle could not list).
    pub(super) fn remember_full(&mut self, seen: Seen, scopes: &Scopes) {
        self.known
            .replace(seen.models, seen.packages.items, scopes, &seen.observed);
        self.governance_seen = Some(seen.started);
        self.scopes_seen.resize(scopes.all().len(), None);
        for (i, observed) in seen.observed.iter().enumerate() {
            if *observed {
                self.scopes_seen[i] = Some(seen.started);
            }
        }
        self.again.clear();
    }

    /// After the writes: what govsync wrote is what is known now (each lifecycle
    /// write with its own send time), and a model whose write failed or was not
    /// started is planned again next time.
    pub(super) fn remember_writes(&mut self, results: &[ModelResult]) {
        self.again.clear();
        for r in results {
            let d = &r.decision;
            // Every applied SageMaker write has its send time; were one missing, "now"
            // only makes a later change look stale for longer, never a stale one fresh.
            let sent = r.sagemaker_sent.unwrap_or_else(SystemTime::now);
            match (&d.action, &r.outcome) {
                (Action::Push { to, .. }, Outcome::Applied) => {
                    self.known.wrote_lifecycle(&d.arn, to, sent);
                }
                (Action::Pull { to, .. }, Outcome::Applied) => {
                    self.known.wrote_status(&d.model_id, to);
                }
                (Action::Decommission { to, then_push, .. }, Outcome::Applied) => {
                    self.known.wrote_status(&d.model_id, to);
                    if let Some(lifecycle) = then_push {
                        self.known.wrote_lifecycle(&d.arn, lifecycle, sent);
                    }
                }
                (Action::Push { .. }, Outcome::NotFound(_)) => {
                    self.known.forget_package(&d.arn);
                }
                (_, Outcome::Failed(_) | Outcome::Cancelled) => {
                    self.again.insert(d.model_id.clone());
                }
                _ => {}
            }
        }
    }

    /// When to ask from: `overlap` before the last question.
    fn since(&self, seen: SystemTime) -> SystemTime {
        seen.checked_sub(self.overlap)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

impl<G: Governance, R: Registry> Engine<G, R> {
    /// An incremental cycle's observation: governance's models changed since it was
    /// last read, each scope's packages changed since it was last listed or searched
    /// (a scope never listed in full is left to the next full cycle), folded into
    /// `memory`, and the models touched selected with the other side as known.
    pub(super) async fn observe_changes(
        &self,
        scopes: &Scopes,
        memory: &mut CycleMemory,
    ) -> Result<Seen, CycleError> {
        let started = SystemTime::now();
        let governance_since = memory.since(memory.governance_seen.unwrap_or(started));
        let scope_since: Vec<Option<SystemTime>> = memory
            .scopes_seen
            .iter()
            .map(|seen| seen.map(|t| memory.since(t)))
            .collect();
        let (models, changes) = tokio::join!(
            self.governance.list_models_changed(governance_since),
            self.changes_of_scopes(&scope_since)
        );
        let models = models.map_err(CycleError::Governance)?;
        let observed = ScopesObserved::from(scopes, changes)?;
        memory.governance_seen = Some(started);
        for (i, observed) in observed.observed.iter().enumerate() {
            if *observed {
                memory.scopes_seen[i] = Some(started);
            }
        }
        let rejected_models = models.rejected.iter().map(ToString::to_string).collect();
        let touched = memory.known.absorb(models.items, observed.listing.items);
        // Until this cycle's writes are remembered, its touched models are due again.
        memory.again.extend(touched);
        let selection = memory
            .known
            .select(&memory.again, scopes, &observed.observed);
        Ok(Seen {
            started,
            models: selection.models,
            rejected_models,
            packages: Listing {
                items: selection.packages,
                rejected: observed.listing.rejected,
            },
            gone: HashSet::new(),
            observed: observed.observed,
            scope_reports: observed.reports,
            deferred: selection.deferred,
        })
    }

    /// Each scope's changes since its time, at most `concurrency` scopes at once; a
    /// scope without a time (never listed in full) is not asked.
    async fn changes_of_scopes(
        &self,
        since: &[Option<SystemTime>],
    ) -> Vec<Result<Listing<crate::domain::ModelPackage>, RemoteError>> {
        futures_util::stream::iter(0..self.registries.len())
            .map(|i| {
                let r = &self.registries[i];
                let since = since.get(i).copied().flatten();
                async move {
                    match since {
                        Some(since) => r.registry.list_changed(&r.scope, since).await,
                        None => Err(RemoteError {
                            kind: ErrorKind::Other,
                            message: format!(
                                "scope {} has not been listed in full yet; the next full \
                                 cycle lists it",
                                r.scope.id()
                            ),
                        }),
                    }
                }
            })
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await
    }
}
