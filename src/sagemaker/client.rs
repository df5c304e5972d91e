//! The SageMaker Model Registry adapter: aws-sdk-sagemaker behind the [`Registry`]
//! trait. Retries and timeouts are the SDK's own, configured from
//! [`SageMakerConfig`]; on top of them, only a listing page that still fails with a
//! retryable error is asked for again from its own token ([`PAGE_RETRIES`]), so that
//! one bad page does not lose a whole listing's pages read so far.
//!
//! The adapter's methods are split by concern, each an `impl SageMakerRegistry`
//! block: `listing.rs` (a full listing as chains of pages), `changes.rs` (`Search`).
//! They import the type and the page helpers from here, and this file holds their
//! split points: a circle between the parts of one type, on purpose.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::config::http::HttpResponse;
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::primitives::DateTime;
use aws_sdk_sagemaker::types::{
    ModelApprovalStatus, ModelLifeCycle, ModelPackageModelCard, ModelPackageStatus,
    ModelPackageSummary,
};
use backon::{ExponentialBuilder, Retryable};

use std::sync::Arc;
use std::time::SystemTime;

use super::attempts::Attempts;
use super::listing::Splits;
use super::{Described, Registry};
use crate::config::{RetryMode, SageMakerConfig};
use crate::domain::{
    ApprovalStatus, Lifecycle, ModelCardStatus, ModelPackage, PackageArn, PackageStatus,
};
use crate::metrics::Metrics;
use crate::remote::{ErrorKind, Listing, RejectedRow, RemoteError, WriteOutcome};
use crate::scope::Scope;

/// Page size of `ListModelPackages`: the API's maximum, so N packages cost ceil(N/100) calls.
pub const LIST_PAGE_SIZE: i32 = 100;

/// How many times a listing page that failed after the SDK's retries is asked for
/// again (from its own token) before the scope counts as not observed this cycle.
pub const PAGE_RETRIES: usize = 3;
const PAGE_RETRY_MIN_DELAY: std::time::Duration = std::time::Duration::from_millis(200);
const PAGE_RETRY_MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(5);

/// The most `StageDescription` may hold.
pub const STAGE_DESCRIPTION_MAX: usize = 1024;

/// Error codes that mean the caller's credentials or permissions were refused.
const AUTH_CODES: [&str; 6] = [
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "MissingAuthenticationTokenException",
    "IncompleteSignature",
];

/// Error codes worth trying again in a later cycle (the SDK already retried them).
const RETRYABLE_CODES: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
];

/// Loads the AWS configuration the way every AWS tool does: credentials from the
/// environment, shared profile, web identity (IRSA), ECS task role or instance
/// profile; region from `config` or the standard variables (`AWS_REGION`, …).
/// Scopes, roles, retries, timeouts and endpoints are applied by [`super::connect()`].
pub async fn load_sdk_config(config: &SageMakerConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// The SDK's retries as `[sagemaker]` sets them (every AWS client govsync makes).
pub(crate) fn retry_config(config: &SageMakerConfig) -> RetryConfig {
    let base = match config.retry_mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    };
    base.with_max_attempts(config.max_attempts)
}

/// The SDK's timeouts as `[sagemaker]` sets them.
pub(crate) fn timeout_config(config: &SageMakerConfig) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(config.operation_timeout)
        .operation_attempt_timeout(config.attempt_timeout)
        .build()
}

/// The Model Registry through aws-sdk-sagemaker, with the credentials and region of
/// one scope.
#[derive(Debug, Clone)]
pub struct SageMakerRegistry {
    pub(super) client: Client,
    /// Where each of its listings splits into chains next time (see `listing.rs`).
    pub(super) splits: Arc<Splits>,
}

impl SageMakerRegistry {
    /// An adapter over an SDK configuration that carries the scope's region and
    /// credentials (from [`super::connect()`], or built by a test with static
    /// credentials). The settings of `config` that the SDK reads (retries, timeouts,
    /// endpoint) are applied on top of `sdk`; every attempt is counted in `metrics`.
    pub fn new(
        sdk: &SdkConfig,
        config: &SageMakerConfig,
        metrics: Option<Arc<Metrics>>,
    ) -> SageMakerRegistry {
        let mut builder = aws_sdk_sagemaker::config::Builder::from(sdk)
            .retry_config(retry_config(config))
            .timeout_config(timeout_config(config))
            .interceptor(Attempts::new(metrics));
        if let Some(endpoint) = &config.endpoint_url {
            builder = builder.endpoint_url(endpoint.clone());
        }
        SageMakerRegistry {
            client: Client::from_conf(builder.build()),
            splits: Arc::default(),
        }
    }
}

/// One page of a listing or search. A page that still fails after the SDK's own
/// retries with a retryable error (throttling, 5xx, a dropped connection) is asked
/// for again from its own token, [`PAGE_RETRIES`] times with backoff, instead of
/// failing the whole listing; the pages already read are kept.
pub(super) async fn page_with_retries<T, F, Fut>(
    operation: &'static str,
    subject: &str,
    fetch: F,
) -> Result<T, RemoteError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RemoteError>>,
{
    fetch
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(PAGE_RETRY_MIN_DELAY)
                .with_max_delay(PAGE_RETRY_MAX_DELAY)
                .with_max_times(PAGE_RETRIES)
                .with_jitter(),
        )
        .when(|e| e.kind == ErrorKind::Retryable)
        .notify(|e, delay| {
            tracing::warn!(
                operation,
                subject,
                error = %e,
                retry_in = ?delay,
                "a page failed after the SDK's retries; asking for that page again"
            );
        })
        .await
}

impl Registry for SageMakerRegistry {
    /// The scope's listings (its groups, or the account across groups) as chains of
    /// pages, several at once (see `listing.rs`); the scope is listed in full only if
    /// every chain is.
    async fn list_packages(&self, scope: &Scope) -> Result<Listing<ModelPackage>, RemoteError> {
        let listings: Vec<Option<String>> = scope
            .listings()
            .into_iter()
            .map(|g| g.map(str::to_string))
            .collect();
        self.list_all(&listings).await
    }

    async fn list_changed(
        &self,
        scope: &Scope,
        since: SystemTime,
    ) -> Result<Listing<ModelPackage>, RemoteError> {
        self.changed_in(scope, since).await
    }

    async fn describe_package(&self, arn: &PackageArn) -> Result<Described, RemoteError> {
        let result = self
            .client
            .describe_model_package()
            .model_package_name(arn.as_str())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(e) if is_does_not_exist(&e) => return Ok(Described::NotFound),
            Err(e) => return Err(remote_error("DescribeModelPackage", arn.as_str(), e)),
        };
        let mut package = package_from_parts(
            Some(arn.as_str()),
            output.model_package_status(),
            output.model_life_cycle(),
            output.model_card(),
            output.last_modified_time(),
            // A package with no properties has an empty map: read, and nothing named.
            Some(
                output
                    .customer_metadata_properties()
                    .unwrap_or(&Default::default()),
            ),
        )
        .map_err(|rejected| RemoteError {
            kind: ErrorKind::Other,
            message: format!("SageMaker DescribeModelPackage {arn}: {}", rejected.reason),
        })?;
        package.description = output.model_package_description().map(str::to_string);
        Ok(Described::Found(package))
    }

    async fn set_lifecycle(
        &self,
        arn: &PackageArn,
        lifecycle: &Lifecycle,
        description: &str,
        approval: Option<ApprovalStatus>,
    ) -> WriteOutcome {
        let description: String = description.chars().take(STAGE_DESCRIPTION_MAX).collect();
        let mut request = self
            .client
            .update_model_package()
            .model_package_arn(arn.as_str())
            .model_life_cycle(
                ModelLifeCycle::builder()
                    .stage(&lifecycle.stage)
                    .stage_status(&lifecycle.stage_status)
                    .stage_description(description.clone())
                    .build(),
            );
        if let Some(approval) = approval {
            // ApprovalDescription has the same 1,024-character bound.
            request = request
                .model_approval_status(ModelApprovalStatus::from(approval.as_str()))
                .approval_description(description);
        }
        let result = request.send().await;
        match result {
            Ok(_) => WriteOutcome::Applied,
            Err(e) if is_does_not_exist(&e) => WriteOutcome::NotFound,
            Err(e) => {
                let error = remote_error("UpdateModelPackage", arn.as_str(), e);
                match error.kind {
                    ErrorKind::Rejected => WriteOutcome::Refused(error.message),
                    _ => WriteOutcome::Failed(error),
                }
            }
        }
    }
}

/// `Stage` and `StageStatus` are required members of `ModelLifeCycle`; a lifecycle
/// missing either is read as no lifecycle at all.
fn lifecycle_of(l: &ModelLifeCycle) -> Option<Lifecycle> {
    Some(Lifecycle::new(l.stage()?, l.stage_status()?))
}

/// One summary row, or why it was skipped.
pub(super) fn package_from_summary(
    summary: &ModelPackageSummary,
) -> Result<ModelPackage, RejectedRow> {
    package_from_parts(
        summary.model_package_arn(),
        summary.model_package_status(),
        summary.model_life_cycle(),
        None,
        None,
        None,
    )
}

/// A package from the fields every SageMaker answer about one spells alike (a
/// listing summary, a search result, a description), or why it was skipped.
pub(super) fn package_from_parts(
    arn: Option<&str>,
    status: Option<&ModelPackageStatus>,
    lifecycle: Option<&ModelLifeCycle>,
    card: Option<&ModelPackageModelCard>,
    last_modified: Option<&DateTime>,
    metadata: Option<&std::collections::HashMap<String, String>>,
) -> Result<ModelPackage, RejectedRow> {
    let raw_arn = arn.unwrap_or_default();
    let arn = PackageArn::parse(raw_arn).map_err(|e| RejectedRow {
        row: if raw_arn.is_empty() {
            "a model package summary".into()
        } else {
            raw_arn.to_string()
        },
        // The row is named by its ARN text already: the reason does not repeat it.
        reason: if raw_arn.is_empty() {
            e.to_string()
        } else {
            e.without_text()
        },
    })?;
    let status = status.ok_or_else(|| RejectedRow {
        row: arn.to_string(),
        reason: "the summary has no ModelPackageStatus".into(),
    })?;
    Ok(ModelPackage {
        arn,
        metadata: metadata.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        description: None,
        status: PackageStatus::parse(status.as_str()),
        lifecycle: lifecycle.and_then(lifecycle_of),
        model_card_status: card
            .and_then(|c| c.model_card_status())
            .map(|s| ModelCardStatus::parse(s.as_str())),
        last_modified: last_modified.and_then(|t| SystemTime::try_from(*t).ok()),
    })
}

/// SageMaker answers a missing package with a `ValidationException` whose message
/// says it does not exist (there is no 404).
fn is_does_not_exist<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ValidationException")
        && error
            .message()
            .is_some_and(|m| m.contains("does not exist"))
}

/// Classifies an SDK error (after the SDK's own retries) and names the operation and
/// the package or scope it was about.
pub(super) fn remote_error<E>(
    operation: &str,
    subject: &str,
    error: SdkError<E, HttpResponse>,
) -> RemoteError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let kind = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorKind::Retryable
        }
        SdkError::ServiceError(service) => match error.code() {
            Some(code) if RETRYABLE_CODES.contains(&code) => ErrorKind::Retryable,
            Some(code) if AUTH_CODES.contains(&code) => ErrorKind::Auth,
            _ if service.raw().status().is_server_error() => ErrorKind::Retryable,
            _ => ErrorKind::Rejected,
        },
        _ if super::error::is_credentials_error(&error) => ErrorKind::Auth,
        _ => ErrorKind::Other,
    };
    RemoteError {
        kind,
        message: super::error::describe(&format!("SageMaker {operation}"), subject, &error),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sagemaker::types::ModelPackageSummary;

    use super::package_from_summary;

    #[test]
    fn a_row_with_a_bad_arn_is_named_by_it_once() {
        let summary = ModelPackageSummary::builder()
            .model_package_arn("arn:aws:sagemaker:us-east-1:123")
            .build();
        let rejected = package_from_summary(&summary).expect_err("not an ARN");
        let text = rejected.to_string();
        assert_eq!(
            text.matches("arn:aws:sagemaker:us-east-1:123").count(),
            1,
            "{text}"
        );
        assert_eq!(
            text.matches("is not a").count() + text.matches("not a SageMaker").count(),
            1,
            "{text}"
        );
        assert!(
            text.starts_with(
                "arn:aws:sagemaker:us-east-1:123: not a SageMaker model package ARN: "
            ),
            "{text}"
        );
    }
}
