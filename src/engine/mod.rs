//! One sync cycle: observe both sides in bulk → confirm suspected deletions → plan
//! (the pure planner) → apply the writes with bounded concurrency → record the
//! baseline and the audit journal.
//!
//! A failure to observe either side ends the cycle before any write. One failed
//! write never stops the others.
//!
//! - here: the [`Engine`] and its cycle, stage by stage; `observe`: listing both
//!   sides and describing linked packages; `incremental`: what the daemon keeps
//!   between cycles and an incremental cycle's observation; `apply`: the writes, each journaled
//!   before it is made; `record`: the baseline, the journal, open intents;
//!   `report`: what a cycle hands back ([`CycleReport`], [`Outcome`], [`Summary`]);
//!   `state`: the state a cycle leaves each model in ([`ModelState`]); `live`: the
//!   engine govsync runs for real, over both clients, every call counted; `link`:
//!   a link a person asks for (`govsync link`); `events`: an event cycle, the
//!   packages SageMaker's events name read and their models planned at once.

use std::time::SystemTime;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, DEFAULT_CONCURRENCY};
use crate::domain::{GovernanceModel, ModelId, ModelPackage};
use crate::governance::Governance;
use crate::mapping::MappingTable;
use crate::plan::{Action, Plan, PlanInput, Policy, plan};
use crate::recovery::Observed;
use crate::remote::{Listing, RejectedRow, RemoteError};
use crate::sagemaker::{Registry, ScopedRegistry};
use crate::scope::Scopes;
use crate::store::{StateStore, Store, StoreError};

mod apply;
mod events;
mod incremental;
mod link;
pub mod live;
mod observe;
mod record;
mod report;
mod state;

pub use events::EventVerdict;
pub use incremental::{CycleKind, CycleMemory};
pub use live::{LiveEngine, governance_client, live_engine};
pub use record::IntentsResolved;
pub use report::{BaselineSource, CycleReport, ModelResult, Outcome, ScopeReport, Summary};
pub use state::ModelState;

/// What a cycle is asked to do.
#[derive(Debug, Clone, Default)]
pub struct CycleOptions {
    /// Plan only: no write anywhere, not even the store.
    pub dry_run: bool,
    /// Only this governance model.
    pub model: Option<ModelId>,
    /// Write only the links the packages' metadata asks for; every other write is
    /// planned, not made (`govsync link --from-metadata`).
    pub links_only: bool,
    /// Cancelled on shutdown: a cycle still observing stops with
    /// [`CycleError::Cancelled`]; one applying starts no new write, lets the writes in
    /// flight finish, and records them.
    pub cancel: CancellationToken,
    /// Where the cycle reports how far it got (for a progress line on a terminal).
    pub progress: Option<watch::Sender<Progress>>,
}

/// How far a cycle got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// Listing both sides.
    #[default]
    Observing,
    /// Describing linked packages (missing from the listing, or for their model cards).
    Describing {
        /// Packages to describe.
        total: usize,
    },
    /// Writing.
    Applying {
        /// Writes finished.
        done: usize,
        /// Writes planned.
        total: usize,
    },
    /// Finished.
    Done,
}
/// Why a cycle stopped before applying anything.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// Governance could not be listed.
    #[error("cannot list governance models: {0}")]
    Governance(RemoteError),
    /// No SageMaker scope could be listed.
    #[error("cannot list SageMaker model packages in any scope: {0}")]
    SageMaker(RemoteError),
    /// The state store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Shutdown began before any write.
    #[error("the cycle was cancelled by shutdown before any write")]
    Cancelled,
    /// An event cycle before any full cycle: nothing is known to plan against.
    #[error("no full cycle has read both sides yet; events wait for one")]
    NothingKnown,
}

/// How the engine plans and writes: the mapping table, the planner's policy and the
/// `[sync]` settings it reads. `Default` is govsync's own defaults.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The mapping table.
    pub mapping: MappingTable,
    /// The planner's policy.
    pub policy: Policy,
    /// Writes (and scope listings) in flight at once.
    pub concurrency: usize,
    /// Describe every linked package each full cycle to read its model card status.
    pub read_model_cards: bool,
    /// Describe a package right before updating its lifecycle, and write nothing if
    /// it changed since the listing (`sync.recheck_sagemaker`; a call per write).
    /// Governance statuses are always re-read before they are written.
    pub recheck_sagemaker: bool,
}

impl Default for EngineSettings {
    /// The built-in table, the default policy, [`DEFAULT_CONCURRENCY`] writes at once.
    fn default() -> EngineSettings {
        EngineSettings {
            mapping: MappingTable::built_in(),
            policy: Policy::default(),
            concurrency: DEFAULT_CONCURRENCY,
            read_model_cards: false,
            recheck_sagemaker: false,
        }
    }
}

impl EngineSettings {
    /// The settings a configuration gives.
    pub fn from_config(config: &Config) -> EngineSettings {
        EngineSettings {
            mapping: config.mapping.clone(),
            policy: config.sync.policy.clone(),
            concurrency: config.sync.concurrency,
            read_model_cards: config.sync.read_model_cards,
            recheck_sagemaker: config.sync.recheck_sagemaker,
        }
    }
}

/// The engine: both remote systems and how it plans and writes.
pub struct Engine<G, R> {
    /// Governance.
    pub governance: G,
    /// SageMaker: one client per scope, in the configured order. A linked ARN is
    /// routed to the first scope that covers it.
    pub registries: Vec<ScopedRegistry<R>>,
    /// The table, the policy and the `[sync]` settings.
    pub settings: EngineSettings,
}

impl<G, R> Engine<G, R> {
    /// The engine over `governance` and the SageMaker client of every scope.
    pub fn new(
        governance: G,
        registries: Vec<ScopedRegistry<R>>,
        settings: EngineSettings,
    ) -> Engine<G, R> {
        Engine {
            governance,
            registries,
            settings,
        }
    }
}

impl<G: Governance, R: Registry> Engine<G, R> {
    /// Runs one full cycle with nothing kept from earlier cycles (`reconcile`). With
    /// a store, reads the baseline from it and records the outcome; a dry run never
    /// writes to it.
    pub async fn cycle(
        &self,
        store: Option<&mut Store>,
        options: &CycleOptions,
    ) -> Result<CycleReport, CycleError> {
        let mut memory = CycleMemory::forgetful();
        self.run_cycle(store, options, &mut memory, CycleKind::Full)
            .await
    }

    /// Runs one cycle of `kind`, keeping in `memory` what it saw and wrote for the
    /// next (the daemon's loop). An incremental cycle needs a full one before it:
    /// with nothing known yet it runs as a full one.
    pub async fn run_cycle(
        &self,
        store: Option<&mut Store>,
        options: &CycleOptions,
        memory: &mut CycleMemory,
        kind: CycleKind,
    ) -> Result<CycleReport, CycleError> {
        let report = |p: Progress| {
            if let Some(tx) = &options.progress {
                tx.send_replace(p);
            }
        };
        report(Progress::Observing);
        let scopes = Scopes::new(self.registries.iter().map(|r| r.scope.clone()).collect());
        // An event cycle has its own entry (`run_event_cycle`): asked for here, the
        // cycle is an incremental one.
        let kind = match kind {
            _ if !memory.knows_both_sides(scopes.all().len()) => CycleKind::Full,
            CycleKind::Event => CycleKind::Incremental,
            kind => kind,
        };
        // Observe, both sides at once; governance failing, or every scope failing,
        // ends the cycle with no writes, and so does shutdown (nothing has been
        // written yet). A scope that fails alone leaves its models not observed.
        let observe = async {
            match kind {
                CycleKind::Full => {
                    self.observe_all(&scopes, options, memory.known(), &report)
                        .await
                }
                CycleKind::Incremental | CycleKind::Event => {
                    self.observe_changes(&scopes, memory).await
                }
            }
        };
        let seen = tokio::select! {
            biased;
            () = options.cancel.cancelled() => return Err(CycleError::Cancelled),
            seen = observe => seen?,
        };
        self.plan_and_write(store, options, memory, kind, &scopes, seen)
            .await
    }

    /// What every kind of cycle does with what it observed: resolve open intents (a
    /// full cycle), plan, apply and journal the writes, remember what was seen and
    /// written, record the outcome.
    async fn plan_and_write(
        &self,
        store: Option<&mut Store>,
        options: &CycleOptions,
        memory: &mut CycleMemory,
        kind: CycleKind,
        scopes: &Scopes,
        mut seen: Seen,
    ) -> Result<CycleReport, CycleError> {
        let report = |p: Progress| {
            if let Some(tx) = &options.progress {
                tx.send_replace(p);
            }
        };
        let cycle_id = new_cycle_id();
        let mut store = store;
        let baseline_source = if store.is_some() {
            BaselineSource::Store
        } else {
            BaselineSource::None
        };
        // Writes a killed process left without an outcome: decided from what a full
        // cycle sees now.
        let intents = match store.as_deref_mut() {
            Some(s) if !options.dry_run && kind == CycleKind::Full => {
                record::resolve_open_intents(
                    s,
                    &Observed {
                        models: &seen.models,
                        models_complete: options.model.is_none(),
                        packages: &seen.packages.items,
                        gone: &seen.gone,
                    },
                )
                .await?
            }
            _ => IntentsResolved::default(),
        };
        let baseline = match store.as_deref_mut() {
            Some(s) if kind != CycleKind::Full => {
                let models: Vec<&ModelId> = seen.models.iter().map(|m| &m.id).collect();
                s.baseline_of(&models).await?
            }
            Some(s) => s.baseline().await?,
            None => Default::default(),
        };
        // Only a full cycle of every model sees the whole fleet (see `whole_fleet`).
        let whole_fleet = kind == CycleKind::Full && options.model.is_none();
        let plan: Plan = plan(&PlanInput {
            models: &seen.models,
            whole_fleet,
            packages: &seen.packages.items,
            gone: &seen.gone,
            scopes,
            observed: &seen.observed,
            baseline: &baseline,
            mapping: &self.settings.mapping,
            policy: &self.settings.policy,
        });
        // The baseline of every model is in the plan's decisions now.
        drop(baseline);
        for trip in &plan.safety_valve {
            tracing::error!(
                count = trip.count,
                limit = trip.limit,
                scope = trip.scope.as_ref().map_or("(all)", |s| s.as_str()),
                "{trip}"
            );
        }
        if let Some((count, limit)) = plan.creates_withheld {
            tracing::error!(
                count,
                limit,
                "create valve: {count} governance models would be created in one cycle, more \
                 than sync.max_creates_per_cycle ({limit}); none was"
            );
        }
        if options.cancel.is_cancelled() {
            return Err(CycleError::Cancelled);
        }
        // The plan holds what the writes and the report need: a memory that keeps
        // nothing lets the observed models and packages go now, before the writes.
        if memory.is_forgetful() {
            seen.models = Vec::new();
            seen.packages.items = Vec::new();
        }

        let outcomes: Vec<(Outcome, Option<SystemTime>)> = if options.dry_run {
            apply::unapplied(&plan.decisions)
        } else {
            let journal = apply::WriteJournal {
                store: store.take().map(tokio::sync::Mutex::new),
                cycle: cycle_id.clone(),
            };
            let outcomes = self
                .apply(
                    &plan.decisions,
                    scopes,
                    &journal,
                    &options.cancel,
                    &report,
                    options.links_only,
                )
                .await;
            store = journal.store.map(tokio::sync::Mutex::into_inner);
            outcomes
        };
        let results: Vec<ModelResult> = plan
            .decisions
            .into_iter()
            .zip(outcomes)
            .map(|(decision, (outcome, sagemaker_sent))| ModelResult {
                decision,
                outcome,
                sagemaker_sent,
            })
            .collect();
        let rejected_packages = seen
            .packages
            .rejected
            .iter()
            .map(RejectedRow::to_string)
            .collect();
        let confirmed_deleted = seen.gone.len();
        let (rejected_models, deferred, scope_reports) = (
            std::mem::take(&mut seen.rejected_models),
            std::mem::take(&mut seen.deferred),
            std::mem::take(&mut seen.scope_reports),
        );
        if !options.dry_run && !memory.is_forgetful() {
            // What a full cycle saw replaces what was known (taken, not copied: the
            // plan is made), then what this cycle wrote is what is known.
            if kind == CycleKind::Full && options.model.is_none() {
                memory.remember_full(seen, scopes);
            }
            memory.remember_writes(&results);
        }

        if !options.dry_run
            && let Some(store) = store
        {
            record::record(store, &results, &cycle_id).await?;
        }
        report(Progress::Done);
        Ok(CycleReport {
            kind,
            results,
            unlinked_models: plan.unlinked_models,
            unlinked_packages: plan.unlinked_packages,
            ungoverned: if whole_fleet {
                plan.ungoverned
            } else {
                Vec::new()
            },
            link_conflicts: if whole_fleet {
                plan.link_conflicts
            } else {
                Vec::new()
            },
            creates_withheld: plan.creates_withheld,
            rejected_models,
            rejected_packages,
            confirmed_deleted,
            deferred,
            intents,
            cycle: cycle_id,
            scopes: scope_reports,
            safety_valve: plan.safety_valve,
            dry_run: options.dry_run,
            baseline: baseline_source,
        })
    }

    /// A full cycle's observation: every model, every scope listed, and the linked
    /// packages the listing did not show described.
    async fn observe_all(
        &self,
        scopes: &Scopes,
        options: &CycleOptions,
        known: &crate::known::KnownState,
        report: &(dyn Fn(Progress) + Sync),
    ) -> Result<Seen, CycleError> {
        let started = SystemTime::now();
        let (models, listings) = tokio::join!(self.governance.list_models(), self.list_scopes());
        let models = models.map_err(CycleError::Governance)?;
        let observed = observe::ScopesObserved::from(scopes, listings)?;
        let mut packages = observed.listing;
        let mut model_rows: Vec<GovernanceModel> = models.items;
        if let Some(only) = &options.model {
            model_rows.retain(|m| &m.id == only);
        }
        let gone = self
            .describe_linked(
                &model_rows,
                scopes,
                &observed.observed,
                &mut packages.items,
                report,
            )
            .await;
        // Packages no model links: what their metadata names (a cycle limited to
        // one model needs none of them).
        if options.model.is_none() {
            self.read_unlinked_metadata(&model_rows, scopes, &mut packages.items, known, report)
                .await;
        }
        Ok(Seen {
            started,
            models: model_rows,
            rejected_models: models.rejected.iter().map(RejectedRow::to_string).collect(),
            packages,
            gone,
            observed: observed.observed,
            scope_reports: observed.reports,
            deferred: Vec::new(),
        })
    }
}

/// What a cycle observed, whichever its kind.
pub(crate) struct Seen {
    /// When the observation began (the wall clock the remote systems compare with).
    started: SystemTime,
    /// The models to plan.
    models: Vec<GovernanceModel>,
    /// Governance rows skipped as malformed.
    rejected_models: Vec<String>,
    /// The packages observed (listed, described, or last known).
    packages: Listing<ModelPackage>,
    /// Linked packages confirmed gone (a full cycle only).
    gone: std::collections::HashSet<crate::domain::PackageArn>,
    /// Per scope: observed this cycle.
    observed: Vec<bool>,
    /// Per scope: what was seen.
    scope_reports: Vec<ScopeReport>,
    /// Models an incremental cycle left to the next full one.
    deferred: Vec<ModelId>,
}

/// A new cycle ID: the start time and a random suffix (`20261123T091800Z-3fa2`).
fn new_cycle_id() -> String {
    let now = crate::store::now_rfc3339().replace(['-', ':'], "");
    format!("{now}-{:04x}", fastrand::u16(..))
}

/// The outcome of an action that writes nothing.
fn passive(action: &Action) -> Outcome {
    match action {
        Action::InSync | Action::AlreadyDecommissioned => Outcome::Nothing,
        Action::DecommissionWithheld { .. } | Action::CreateWithheld { .. } => Outcome::Withheld,
        _ => Outcome::Reported,
    }
}
