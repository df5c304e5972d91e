//! govsync keeps IBM watsonx.governance model statuses and Amazon SageMaker Model
//! Registry lifecycles (`ModelLifeCycle` stage and stage status) in step, row by row
//! of a mapping table, each row in its documented direction, and decommissions the
//! governance model when its SageMaker package is deleted or archived.
//!
//! # Layout
//!
//! A cycle is observe → plan → apply → record:
//!
//! - [`domain`], [`arn`]: the values both systems are reduced to (models, packages,
//!   lifecycles) and the identifiers that must not be mixed up.
//! - [`scope`]: what one SageMaker listing covers (account, region, groups) and the
//!   routing of a package ARN to its scope.
//! - [`mapping`]: the mapping table, loaded from TOML and validated.
//! - [`plan`]: the pure planner, where every sync rule lives. No IO, no clock.
//! - [`governance`], [`sagemaker`]: the two remote systems, each behind one small trait
//!   ([`governance::Governance`], [`sagemaker::Registry`]); [`remote`] holds what
//!   both hand back.
//! - [`mock`]: mock servers speaking both systems' wire protocols, for tests and the demo.
//! - [`config`]: `govsync.toml` with `GOVSYNC_…` overrides, validated at start-up.
//! - [`cli`]: the command line; `main.rs` only wires it up.
//! - [`render`], `toml_text`: small shared helpers for text output and TOML positions.

pub use govsync_core::{arn, domain, journal, plan, recovery, render, scope};
#[cfg(feature = "mock")]
pub use govsync_mock as mock;

pub mod cli;
pub mod config;
pub mod daemon;
#[cfg(feature = "mock")]
pub mod demo;
pub mod engine;
pub mod governance;
pub mod logging;
pub mod mapping;
pub mod metrics;
pub mod remote;
pub mod report;
pub mod sagemaker;
pub mod server;
pub mod store;
