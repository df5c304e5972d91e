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
    /// The packages SageMaker's events named, read now (`[sagemaker.events]`).
    Event,
}

impl CycleKind {
    /// `full` or `incremental` (logs, metrics, the status page).
    pub fn as_str(self) -> &'static str {
        match self {
            CycleKind::Full => "full",
            CycleKind::Incremental => "incremental",
            CycleKind::Event => "event",
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
    pub(super) known: KnownState,
    /// How far back a wide question reaches (`sync.overlap`).
    overlap: Duration,
    /// Governance's watermark, once read in full.
    governance_seen: Option<Watermark>,
    /// Per scope, its watermark once listed in full.
    pub(super) scopes_seen: Vec<Option<Watermark>>,
    /// Models to plan in the next incremental cycle whatever it observes: touched by
    /// a cycle that did not get to write, or whose write failed or was not started.
    pub(super) again: HashSet<ModelId>,
    /// Per scope that could not be listed in full: when incremental cycles try again.
    scope_retry: Vec<Option<ScopeRetry>>,
    /// The most incremental cycles between two tries of such a scope.
    retry_cap: u32,
    /// A one-shot cycle's: keeps nothing (there is no next cycle).
    forgetful: bool,
}

/// A scope not listed in full yet: incremental cycles list it again after 1, 2, 4, …
/// of them (at most the memory's cap, a full interval's worth), so that it syncs as
/// soon as it can be listed rather than at the next full cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScopeRetry {
    /// Tries that failed so far (the full cycle's included).
    failures: u32,
    /// Incremental cycles to let pass before the next try.
    wait: u32,
}

impl ScopeRetry {
    /// After `failures` failed tries: wait 2^(failures-1) - 1 cycles, at most `cap`.
    fn after(failures: u32, cap: u32) -> ScopeRetry {
        let wait = 2u32
            .saturating_pow(failures.saturating_sub(1))
            .saturating_sub(1)
            .min(cap);
        ScopeRetry { failures, wait }
    }
}

/// What an incremental cycle asks of one scope.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// Its changes since a time (`Search`).
    Changes(SystemTime),
    /// Its whole listing: it has not been listed in full yet, and a retry is due.
    Listing,
    /// Nothing this cycle: not listed in full yet, next try in this many cycles.
    Wait(u32),
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
            scope_retry: Vec::new(),
            retry_cap: 60,
            forgetful: false,
        }
    }

    /// For a one-shot cycle (`reconcile`): nothing is kept, so what the cycle saw can
    /// go as soon as its plan is made (one copy of the fleet fewer at the peak).
    pub fn forgetful() -> CycleMemory {
        CycleMemory {
            forgetful: true,
            ..CycleMemory::new(Duration::ZERO)
        }
    }

    /// Whether this memory keeps nothing ([`CycleMemory::forgetful`]).
    pub(super) fn is_forgetful(&self) -> bool {
        self.forgetful
    }

    /// At most `cycles` incremental cycles between two tries of a scope that could not
    /// be listed in full (the daemon: a full interval's worth; default 60).
    pub fn with_retry_cap(mut self, cycles: u32) -> CycleMemory {
        self.retry_cap = cycles.max(1);
        self
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
        self.scope_retry.resize(scopes.all().len(), None);
        for (i, observed) in seen.observed.iter().enumerate() {
            if *observed {
                self.scopes_seen[i] = Some(Watermark::listed(seen.started));
                self.scope_retry[i] = None;
            } else {
                let failures = self.scope_retry[i].map_or(0, |r| r.failures) + 1;
                self.scope_retry[i] = Some(ScopeRetry::after(failures, self.retry_cap));
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
                (Action::Link { .. }, Outcome::Applied) => {
                    self.known.wrote_link(&d.model_id, &d.arn);
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
        let asks: Vec<Ask> = scope_windows
            .iter()
            .enumerate()
            .map(
                |(i, window)| match (window, memory.scope_retry.get(i).copied().flatten()) {
                    (Some(w), _) => Ask::Changes(w.since),
                    (None, Some(ScopeRetry { wait: 0, .. }) | None) => Ask::Listing,
                    (None, Some(retry)) => Ask::Wait(retry.wait),
                },
            )
            .collect();
        let (models, changes) = tokio::join!(
            self.governance.list_models_changed(governance_window.since),
            self.changes_of_scopes(&asks)
        );
        let models = models.map_err(CycleError::Governance)?;
        let observed = ScopesObserved::from(scopes, changes)?;
        if let Some(w) = &mut memory.governance_seen {
            w.answered(governance_window, started);
        }
        for (i, ask) in asks.iter().enumerate() {
            match (observed.observed[i], ask) {
                (true, Ask::Changes(_)) => {
                    if let (Some(w), Some(window)) = (&mut memory.scopes_seen[i], scope_windows[i])
                    {
                        w.answered(window, started);
                    }
                }
                // Listed in full at last: from now on its changes are asked for.
                (true, Ask::Listing) => {
                    tracing::info!(scope = %scopes.all()[i].id(), "a scope not listed until now was listed in full");
                    memory.scopes_seen[i] = Some(Watermark::listed(started));
                    memory.scope_retry[i] = None;
                }
                (false, Ask::Listing) => {
                    let failures = memory.scope_retry[i].map_or(0, |r| r.failures) + 1;
                    memory.scope_retry[i] = Some(ScopeRetry::after(failures, memory.retry_cap));
                }
                (false, Ask::Wait(_)) => {
                    if let Some(retry) = &mut memory.scope_retry[i] {
                        retry.wait = retry.wait.saturating_sub(1);
                    }
                }
                _ => {}
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

    /// What each scope is asked ([`Ask`]), at most `concurrency` scopes at once: its
    /// changes, its whole listing (a scope not listed in full yet, when a retry is
    /// due; new packages then touch the models that link them), or nothing yet.
    async fn changes_of_scopes(
        &self,
        asks: &[Ask],
    ) -> Vec<Result<Listing<crate::domain::ModelPackage>, RemoteError>> {
        futures_util::stream::iter(0..self.registries.len())
            .map(|i| {
                let r = &self.registries[i];
                let ask = asks.get(i).copied().unwrap_or(Ask::Listing);
                async move {
                    match ask {
                        Ask::Changes(since) => r.registry.list_changed(&r.scope, since).await,
                        Ask::Listing => r.registry.list_packages(&r.scope).await,
                        Ask::Wait(cycles) => Err(RemoteError {
                            kind: ErrorKind::Other,
                            message: format!(
                                "scope {} has not been listed in full yet; an incremental cycle \
                                 tries again in {} cycles, the next full cycle in any case",
                                r.scope.id(),
                                cycles
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
    fn a_scope_that_cannot_be_listed_is_tried_again_after_1_2_4_cycles_up_to_the_cap() {
        let waits: Vec<u32> = (1..=8).map(|f| ScopeRetry::after(f, 60).wait).collect();
        assert_eq!(waits, [0, 1, 3, 7, 15, 31, 60, 60]);
        assert_eq!(ScopeRetry::after(40, 5).wait, 5);
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
