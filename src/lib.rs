//! govsync keeps IBM watsonx.governance model statuses and Amazon SageMaker Model
//! Registry lifecycles (`ModelLifeCycle` stage and stage status) in step, row by row
//! of a mapping table, each row in its documented direction, and decommissions the
//! governance model when its SageMaker package is deleted or archived.
//!
//! # Layout
//!
//! The workspace's crates are the architecture. A cycle is observe → plan → apply →
//! record; only *plan* is pure, and it lives in its own crate.
//!
//! **`govsync-core`** (`crates/core`; no async runtime, no IO, no clock), re-exported here:
//! - [`domain`], [`arn`]: the values both systems are reduced to (models, packages,
//!   lifecycles) and the identifiers that must not be mixed up.
//! - [`scope`]: what one SageMaker listing covers (account, region, groups) and the
//!   routing of a package ARN to its scope.
//! - [`mapping`]: the mapping table, parsed and validated (plus [`mapping::load`],
//!   reading it from a file, here).
//! - [`plan`]: the planner, where every sync rule lives (`plan/rules.rs`: the rules
//!   per model; `plan/valve.rs`: the safety valve; `plan/links.rs`: links a package's
//!   metadata asks for and their conflicts; `plan/creates.rs`: models created for
//!   ungoverned packages; `plan/action.rs`: what it decides).
//! - [`event`]: SageMaker's EventBridge events read as triggers (which package, and
//!   whether an event only echoes what is known).
//! - [`known`]: what the last cycles saw of both sides, which an incremental cycle
//!   plans from (and how an observation is judged against govsync's own write).
//! - [`journal`], [`recovery`]: the journal's values, and how an intent left open by
//!   a dead process is resolved from what the next cycle observes.
//! - [`render`], `toml_text`: text for people, positions and errors in TOML files.
//!
//! **`govsync`** (this crate: adapters, engine, store, daemon, server, CLI):
//! - [`governance`], [`sagemaker`]: the two remote systems, each behind one small
//!   trait ([`governance::Governance`], [`sagemaker::Registry`]); [`remote`] holds
//!   what both hand back. `governance/http.rs` is the one table from HTTP status to
//!   meaning, `governance/transport.rs` makes one call with its retries,
//!   `governance/listing.rs` pages a query (several pages at once);
//!   `sagemaker/connect.rs` builds one SDK client per scope, `sagemaker/listing.rs`
//!   lists a scope as chains of pages split by creation time, `sagemaker/changes.rs`
//!   asks `Search` what changed.
//! - [`engine`]: one cycle, full or incremental (`observe.rs`, `incremental.rs` with
//!   what the daemon keeps between cycles, `apply.rs` with the write-ahead journal,
//!   `record.rs`, `report.rs` for what it hands back, `state.rs` for the state it
//!   leaves each model in: [`engine::ModelState`], `live.rs` the engine over both
//!   real clients, `link.rs` a link a person asks for, `events.rs` an event cycle);
//!   [`report`] renders it.
//! - [`events`]: events in — the SQS queue SageMaker's events arrive in
//!   (`events/queue.rs`) and the consumer beside the loop that hands them to event
//!   cycles and acknowledges them once journaled (`events/consumer.rs`).
//! - [`store`]: the state — baseline, journal, intents — behind one contract
//!   ([`store::StateStore`]) and one schema (`store/schema.rs`), kept by SQLite
//!   (`store/sqlite/`, one replica, the file lock) and PostgreSQL (`store/postgres/`:
//!   the connection, leader's lock and fence; the contract's statements; leader
//!   election among replicas, `election.rs`); `store/open.rs` opens the one the
//!   configuration chose (to write, to read, or for a dry run), `store/copy.rs`
//!   copies between them.
//! - [`daemon`]: the loop (leading, or standing by), which fills the [`status`]
//!   (a leaf: the loop's status and timing, liveness and readiness), which
//!   [`server`] (`/healthz`, `/readyz`, `/metrics`, and `/`, the [`status_page`])
//!   and the demo read; [`metrics`]; [`logging`].
//! - [`config`]: `govsync.toml` with `GOVSYNC_…` overrides, validated at start-up
//!   (`types`, `file`, `load`, `validate`, `scopes`, `overrides`, `secret`), and
//!   `starter` the commented file `govsync config init` writes.
//! - [`cli`]: the command line, one file per command; `main.rs` only wires it up.
//! - [`demo`] (feature `mock`): `govsync demo`.
//!
//! **`govsync-mock`** (`crates/mock`, re-exported as [`mock`] with the default
//! feature `mock`): mock servers speaking both systems' wire protocols, for tests and
//! the demo, with their own reading of each system's rules.

pub use govsync_core::{arn, domain, event, journal, known, outbox, plan, recovery, render, scope};
#[cfg(feature = "mock")]
pub use govsync_mock as mock;

pub mod cli;
pub mod config;
pub mod daemon;
#[cfg(feature = "mock")]
pub mod demo;
pub mod engine;
pub mod events;
pub mod governance;
pub mod logging;
pub mod mapping;
pub mod metrics;
pub mod remote;
pub mod report;
pub mod sagemaker;
pub mod server;
pub mod status;
pub mod status_page;
pub mod store;
