//! Full and incremental cycles, and what the daemon keeps between them.
//!
//! A full cycle lists everything in scope and is the only one that may conclude
//! that a package is gone. An incremental cycle asks each side only for what changed
//! since it last asked, folds that into the last known state, and plans the models
//! touched, with the other side taken from what is known.
//!
//! How far back a question reaches ([`Watermark`]): a change can become visible
//! after a question that should have seen it (clock skew, a commit that lands late,
//! `Search`'s index lagging). Every cycle asks from [`LAG`] before its last question,
//! which covers skew and commit lag; once per `sync.overlap` a *wide* question asks
//! from `overlap` before the last wide one, which covers any delay up to `overlap`.
//! A change is so read by the one or two narrow questions after it and at most two
//! wide ones, not by every cycle for a whole overlap (60 at a 1 s interval).

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

/// How far before its last question every incremental question reaches (at most
/// `sync.overlap`): clock skew between this host and the remote, and commits that
/// land a moment after their time.
pub const LAG: Duration = Duration::from_secs(2);

/// When one side (governance, or one scope) was last asked, and last asked wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    /// The last question's time (this host's clock, taken before asking).
    asked: SystemTime,
    /// The last wide question's time (a full listing is the widest).
    wide: SystemTime,
}

/// The window of one question: changes after `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Changes after this time are asked for.
    pub since: SystemTime,
    /// True for a wide question (reaching back the whole overlap).
    pub wide: bool,
}

impl Watermark {
    /// A side read in full at `at`.
    pub fn listed(at: SystemTime) -> Watermark {
        Watermark {
            asked: at,
            wide: at,
        }
    }

    /// The window of a question asked at `now`: from [`LAG`] before the last
    /// question; or, once `overlap` has passed since the last wide question, from
    /// `overlap` before that one (a change that became visible up to `overlap` after
    /// its time is then seen, whenever it became visible).
    pub fn next(&self, now: SystemTime, overlap: Duration) -> Window {
        let back =
            |from: SystemTime, by: Duration| from.checked_sub(by).unwrap_or(SystemTime::UNIX_EPOCH);
        let due = now
            .duration_since(self.wide)
            .is_ok_and(|since_wide| since_wide >= overlap);
        if due {
            Window {
                since: back(self.wide, overlap),
                wide: true,
            }
        } else {
            Window {
                since: back(self.asked, LAG.min(overlap)),
                wide: false,
            }
        }
    }

    /// The question of `window`, asked at `at`, was answered.
    pub fn answered(&mut self, window: Window, at: SystemTime) {
        self.asked = at;
        if window.wide {
            self.wide = at;
        }
    }
}

/// What the daemon keeps from one cycle to the next: the last known state of both
/// sides, when each side was last asked, and the models to plan again.
#[derive(Debug, Clone)]
pub struct CycleMemory {
    known: KnownState,
    /// How far back a wide question reaches (`sync.overlap`).
    overlap: Duration,
    /// Governance's watermark, once read in full.
    governance_seen: Option<Watermark>,
    /// Per scope, its watermark once listed in full.
    scopes_seen: Vec<Option<Watermark>>,
    /// Models to plan in the next incremental cycle whatever it observes: touched by
    /// a cycle that did not get to write, or whose write failed or was not started.
    again: HashSet<ModelId>,
}

impl CycleMemory {
    /// Nothing known yet; `overlap` is how far back a wide question reaches.
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
        self.governance_seen = Some(Watermark::listed(seen.started));
        self.scopes_seen.resize(scopes.all().len(), None);
        for (i, observed) in seen.observed.iter().enumerate() {
            if *observed {
                self.scopes_seen[i] = Some(Watermark::listed(seen.started));
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
        let overlap = memory.overlap;
        let governance_window = memory
            .governance_seen
            .map(|w| w.next(started, overlap))
            .unwrap_or(Window {
                since: started,
                wide: true,
            });
        let scope_windows: Vec<Option<Window>> = memory
            .scopes_seen
            .iter()
            .map(|seen| seen.map(|w| w.next(started, overlap)))
            .collect();
        let since: Vec<Option<SystemTime>> =
            scope_windows.iter().map(|w| w.map(|w| w.since)).collect();
        let (models, changes) = tokio::join!(
            self.governance.list_models_changed(governance_window.since),
            self.changes_of_scopes(&since)
        );
        let models = models.map_err(CycleError::Governance)?;
        let observed = ScopesObserved::from(scopes, changes)?;
        if let Some(w) = &mut memory.governance_seen {
            w.answered(governance_window, started);
        }
        for (i, observed) in observed.observed.iter().enumerate() {
            if let (true, Some(w), Some(window)) =
                (*observed, &mut memory.scopes_seen[i], scope_windows[i])
            {
                w.answered(window, started);
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

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(1);
    const OVERLAP: Duration = Duration::from_secs(60);

    /// The windows of questions asked every `INTERVAL` for `cycles` cycles after a
    /// full listing at `start`: (since, asked at).
    fn questions(start: SystemTime, cycles: u32) -> Vec<(SystemTime, SystemTime)> {
        let mut mark = Watermark::listed(start);
        (1..=cycles)
            .map(|i| {
                let at = start + INTERVAL * i;
                let window = mark.next(at, OVERLAP);
                mark.answered(window, at);
                (window.since, at)
            })
            .collect()
    }

    #[test]
    fn a_burst_is_read_a_few_times_not_once_per_cycle_of_the_overlap() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let asked = questions(start, 300);
        // Changes at every tenth of a second in the first 200 s, each visible at once.
        for tenth in 1..2_000u64 {
            let t = start + Duration::from_millis(tenth * 100);
            let reads = asked
                .iter()
                .filter(|(since, at)| *since < t && t <= *at)
                .count();
            // The one or two narrow questions after it (LAG at a 1 s interval: up to
            // three) and at most two wide ones; the overlap alone would be 60.
            assert!(
                (1..=5).contains(&reads),
                "a change {} ms after the full listing is read {reads} times",
                tenth * 100
            );
        }
    }

    #[test]
    fn a_change_that_becomes_visible_up_to_an_overlap_late_is_still_read() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let asked = questions(start, 400);
        for tenth in 1..1_500u64 {
            let t = start + Duration::from_millis(tenth * 100);
            for delay_s in [0, 1, 2, 3, 10, 30, 59, 60] {
                let visible = t + Duration::from_secs(delay_s);
                let read = asked.iter().any(|(since, at)| *since < t && visible <= *at);
                assert!(
                    read,
                    "a change at +{} ms visible {delay_s} s later is never read",
                    tenth * 100
                );
            }
        }
    }
}
