//! The engine govsync runs for real: the OpenPages client (in workflow mode when
//! the configuration says so) and the SDK client of every scope, each call counted
//! in the metrics.

use std::sync::Arc;

use super::{Engine, EngineSettings};
use crate::config::{Config, WriteMode};
use crate::governance::OpenPagesClient;
use crate::metrics::{Instrumented, Metrics};
use crate::sagemaker::{SageMakerRegistry, ScopedRegistry};

/// The engine govsync runs for real: both clients, each call counted in `metrics`.
pub type LiveEngine = Engine<Instrumented<OpenPagesClient>, Instrumented<SageMakerRegistry>>;

/// The OpenPages client for a configuration, given the governance secret: in
/// workflow mode with the mapping table's workflow actions.
pub fn governance_client(
    config: &Config,
    secret: secrecy::SecretString,
) -> Result<OpenPagesClient, String> {
    let mut governance =
        OpenPagesClient::new(&config.governance, secret).map_err(|e| e.to_string())?;
    if config.governance.write_mode == WriteMode::Workflow {
        governance.use_workflow(&config.mapping, config.governance.field_write_fallback);
    }
    Ok(governance)
}

/// The engine for a configuration, given its governance client
/// ([`governance_client`]) and the SageMaker client of every scope (from
/// [`crate::sagemaker::connect()`]).
pub fn live_engine(
    config: &Config,
    governance: OpenPagesClient,
    registries: Vec<ScopedRegistry<SageMakerRegistry>>,
    metrics: Arc<Metrics>,
) -> LiveEngine {
    Engine::new(
        Instrumented {
            inner: governance,
            metrics: metrics.clone(),
        },
        registries
            .into_iter()
            .map(|r| ScopedRegistry {
                scope: r.scope,
                registry: Instrumented {
                    inner: r.registry,
                    metrics: metrics.clone(),
                },
            })
            .collect(),
        EngineSettings::from_config(config),
    )
}
