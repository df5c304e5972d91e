//! An event cycle: the packages a batch of SageMaker events names, read now and
//! folded into what is known, and the models linking them planned at once through
//! the same planner, without waiting for the next cycle.
//!
//! An event is a trigger, never the truth: its package is read
//! (`DescribeModelPackage`) unless the event only echoes what is known. Like an
//! incremental cycle, an event cycle never concludes that a package is gone: a
//! package SageMaker says does not exist is left to the next full cycle.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;

use super::{CycleError, CycleMemory, CycleOptions, CycleReport, Engine, Outcome, Seen};
use crate::domain::{ModelPackage, PackageArn};
use crate::event::PackageEvent;
use crate::governance::Governance;
use crate::remote::Listing;
use crate::sagemaker::{Described, Registry};
use crate::scope::Scopes;
use crate::store::Store;

/// What became of one event in an event cycle: what the queue consumer counts, and
/// whether it deletes the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventVerdict {
    /// Its package was read and showed something new: the models linking it were
    /// planned (and their writes journaled), or it is a package new to govsync.
    Acted,
    /// Its package's state was already known (read, or echoed by the event): nothing
    /// to do.
    Duplicate,
    /// Nothing to read: why (a package in no configured scope).
    Ignored(String),
    /// The work may succeed later (SageMaker, governance or the store unavailable,
    /// a write that failed): the message is left for redelivery. Why.
    Failed(String),
}

impl EventVerdict {
    /// Its metric label and log word.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventVerdict::Acted => "acted",
            EventVerdict::Duplicate => "duplicate",
            EventVerdict::Ignored(_) => "ignored",
            EventVerdict::Failed(_) => "failed",
        }
    }
}

impl<G: Governance, R: Registry> Engine<G, R> {
    /// Runs an event cycle for `events` (see the module's comment), keeping in
    /// `memory` what it read and wrote. Returns the cycle's report and one verdict
    /// per event, in order. Needs a full cycle before it (`memory` knows both
    /// sides): without one, [`CycleError::NothingKnown`].
    pub async fn run_event_cycle(
        &self,
        store: Option<&mut Store>,
        options: &CycleOptions,
        memory: &mut CycleMemory,
        events: &[PackageEvent],
    ) -> Result<(CycleReport, Vec<EventVerdict>), CycleError> {
        let scopes = Scopes::new(self.registries.iter().map(|r| r.scope.clone()).collect());
        if !memory.knows_both_sides(scopes.all().len()) {
            return Err(CycleError::NothingKnown);
        }
        let (seen, mut verdicts) = self.observe_events(&scopes, memory, events).await;
        let report = self
            .plan_and_write(
                store,
                options,
                memory,
                super::CycleKind::Event,
                &scopes,
                seen,
            )
            .await?;
        // A write that failed, or was not started, leaves its event for redelivery.
        let unfinished: HashMap<&PackageArn, String> = report
            .results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Failed(why) => Some((&r.decision.arn, why.clone())),
                Outcome::Cancelled => Some((&r.decision.arn, "cancelled by shutdown".into())),
                _ => None,
            })
            .collect();
        for (event, verdict) in events.iter().zip(&mut verdicts) {
            if let Some(why) = unfinished.get(&event.arn) {
                *verdict = EventVerdict::Failed(format!("a write it caused failed: {why}"));
            }
        }
        Ok((report, verdicts))
    }

    /// Reads the packages `events` name (each once, at most `concurrency` at once;
    /// none for an event that only echoes the known state), folds them into
    /// `memory`, and selects the models to plan: those linking a package read with
    /// another value, and those due again.
    async fn observe_events(
        &self,
        scopes: &Scopes,
        memory: &mut CycleMemory,
        events: &[PackageEvent],
    ) -> (Seen, Vec<EventVerdict>) {
        let started = std::time::SystemTime::now();
        let mut verdicts: Vec<Option<EventVerdict>> = vec![None; events.len()];
        let mut to_read: Vec<(PackageArn, usize)> = Vec::new();
        let mut asked: HashSet<&PackageArn> = HashSet::new();
        for (i, event) in events.iter().enumerate() {
            match scopes.route(&event.arn) {
                None => {
                    verdicts[i] = Some(EventVerdict::Ignored(
                        "its package is in no configured scope".into(),
                    ));
                }
                Some(_) if event.echoes(memory.known().package(&event.arn)) => {
                    verdicts[i] = Some(EventVerdict::Duplicate);
                }
                Some(scope) => {
                    if asked.insert(&event.arn) {
                        to_read.push((event.arn.clone(), scope));
                    }
                }
            }
        }
        let read: Vec<(PackageArn, Result<Described, crate::remote::RemoteError>)> =
            futures_util::stream::iter(to_read)
                .map(|(arn, scope)| {
                    let registry = &self.registries[scope].registry;
                    async move {
                        let described = registry.describe_package(&arn).await;
                        (arn, described)
                    }
                })
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect()
                .await;
        let mut found: Vec<ModelPackage> = Vec::new();
        let mut outcome: HashMap<PackageArn, EventVerdict> = HashMap::new();
        for (arn, result) in read {
            match result {
                Ok(Described::Found(p)) => found.push(p),
                Ok(Described::NotFound) => {
                    // Only a full cycle concludes "gone"; this one plans nothing for it.
                    tracing::info!(arn = %arn, "an event names a package SageMaker says does not exist; the next full cycle decides what became of it");
                    outcome.insert(arn, EventVerdict::Duplicate);
                }
                Err(e) => {
                    let why = format!("reading {arn}: {e}");
                    outcome.insert(arn, EventVerdict::Failed(why));
                }
            }
        }
        let (touched, changed) = memory.known.absorb_packages(found);
        // The first event of a package in the batch is the one that acted; a later
        // one of the same package is a duplicate (a failed read fails them all).
        let mut first: HashSet<&PackageArn> = HashSet::new();
        for (i, event) in events.iter().enumerate() {
            if verdicts[i].is_some() {
                continue;
            }
            let is_first = first.insert(&event.arn);
            verdicts[i] = Some(match outcome.get(&event.arn) {
                Some(v) => v.clone(),
                None if is_first && changed.contains(&event.arn) => EventVerdict::Acted,
                None => EventVerdict::Duplicate,
            });
        }
        // Until this cycle's writes are remembered, its touched models are due again.
        memory.again.extend(touched);
        let observed: Vec<bool> = (0..scopes.all().len())
            .map(|i| memory.scopes_seen.get(i).is_some_and(Option::is_some))
            .collect();
        let selection = memory.known.select(&memory.again, scopes, &observed);
        let seen = Seen {
            started,
            models: selection.models,
            rejected_models: Vec::new(),
            packages: Listing {
                items: selection.packages,
                rejected: Vec::new(),
            },
            gone: HashSet::new(),
            observed,
            scope_reports: Vec::new(),
            deferred: selection.deferred,
        };
        let verdicts = verdicts
            .into_iter()
            .map(|v| v.expect("every event has a verdict"))
            .collect();
        (seen, verdicts)
    }
}
