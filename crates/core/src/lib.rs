//! govsync's pure core: everything a sync decision depends on, and nothing that
//! talks to the world. No async runtime, no IO, no clock: the planner's purity is
//! this crate's dependency list, checked by the compiler (and by `clippy.toml`).
//!
//! # Layout
//!
//! - [`domain`], [`arn`]: the values both systems are reduced to (models, packages,
//!   lifecycles) and the identifiers that must not be mixed up.
//! - [`scope`]: what one SageMaker listing covers (account, region, groups) and the
//!   routing of a package ARN to its scope.
//! - [`mapping`]: the mapping table, parsed from TOML text and validated.
//! - [`plan`]: the planner, where every sync rule lives.
//! - [`event`]: SageMaker's EventBridge events, read as triggers for a package.
//! - [`known`]: what the last cycles saw of both sides, which an incremental cycle
//!   plans from.
//! - [`journal`], [`recovery`]: the journal's values and the rule that resolves a
//!   write whose process died before its outcome was recorded.
//! - [`outbox`]: the event govsync publishes for each write it applied (events out).
//! - [`render`], [`toml_text`]: text columns for people, positions in TOML text.

pub mod arn;
pub mod domain;
pub mod event;
pub mod journal;
pub mod known;
pub mod mapping;
pub mod outbox;
pub mod plan;
pub mod recovery;
pub mod render;
pub mod scope;
pub mod toml_text;
