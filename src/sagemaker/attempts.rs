//! Every attempt the AWS SDK makes for a SageMaker or STS call, seen through an SDK
//! interceptor: counted in `govsync_sagemaker_attempts_total` (first attempts and
//! retries apart) and each retry logged at debug level, so that retries the SDK
//! absorbs are not invisible.

use std::sync::Arc;

use aws_sdk_sagemaker::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_sagemaker::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sagemaker::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;

use super::OPERATIONS;
use crate::metrics::Metrics;

/// The interceptor; metrics are optional (a test or one-shot tool may not keep them).
#[derive(Debug, Clone)]
pub struct Attempts {
    metrics: Option<Arc<Metrics>>,
}

impl Attempts {
    /// Counts into `metrics` when given; logs either way.
    pub fn new(metrics: Option<Arc<Metrics>>) -> Attempts {
        Attempts { metrics }
    }
}

/// The operation's name from a small fixed set (a metric label).
fn operation(cfg: &ConfigBag) -> &'static str {
    let name = cfg.load::<Metadata>().map(Metadata::name).unwrap_or("");
    OPERATIONS
        .iter()
        .chain(&["GetCallerIdentity", "AssumeRole"])
        .find(|o| **o == name)
        .copied()
        .unwrap_or("other")
}

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "govsync::Attempts"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg
            .load::<RequestAttempts>()
            .map_or(1, RequestAttempts::attempts);
        let operation = operation(cfg);
        if attempt > 1 {
            tracing::debug!(operation, attempt, "SageMaker call retried by the SDK");
        }
        if let Some(metrics) = &self.metrics {
            metrics.sagemaker_attempt(operation, attempt > 1);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Err(_)) = context.output_or_error() {
            let status = context.response().map(|r| r.status().as_u16());
            tracing::debug!(
                operation = operation(cfg),
                attempt = cfg
                    .load::<RequestAttempts>()
                    .map_or(1, RequestAttempts::attempts),
                status,
                "SageMaker call attempt failed"
            );
        }
        Ok(())
    }
}
