//! One SDK client per scope, built from aws-config: the default credentials chain, or
//! an `AssumeRoleProvider` on top of it (the SDK caches and refreshes what it
//! assumes). Before any scope is used, govsync checks with STS `GetCallerIdentity`
//! that the default credentials belong to the account each scope without a role
//! names: a scope listed with another account's credentials would make every
//! package of the named account look deleted.

use std::sync::Arc;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_sdk_sagemaker::config::SharedCredentialsProvider;

use super::SageMakerRegistry;
use super::error::describe;
use crate::config::{SageMakerConfig, ScopeConfig};
use crate::metrics::Metrics;
use crate::scope::{GroupRef, Scope};

/// One scope and the client that reaches it.
#[derive(Debug, Clone)]
pub struct ScopedRegistry<R> {
    /// What it lists.
    pub scope: Scope,
    /// The client with the scope's credentials and region.
    pub registry: R,
}

/// Why the SageMaker side could not be set up. Each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No region anywhere for the default scope.
    #[error(
        "no AWS region for SageMaker: set sagemaker.region, AWS_REGION or a profile's region, or configure [[sagemaker.scopes]]"
    )]
    NoRegion,
    /// The default credentials chain found nothing.
    #[error("{}", super::error::NO_CREDENTIALS)]
    NoCredentials,
    /// `GetCallerIdentity` failed: what STS (or the way to it) said, and what to do.
    #[error("cannot tell which AWS account the default credentials belong to: {0}")]
    Identity(String),
    /// The default credentials belong to another account than a scope names.
    #[error(
        "scope {scope} has no role_arn, so it is listed with the default credentials, but they belong to account {found}; set role_arn to a role in account {account}, or correct account_id"
    )]
    WrongAccount {
        /// The scope.
        scope: String,
        /// The account it names.
        account: String,
        /// The account of the default credentials.
        found: String,
    },
    /// The external ID's variable is not set.
    #[error(
        "scope {scope}: environment variable {var} (external_id_env) is not set; set it to the external ID the role's trust policy requires"
    )]
    ExternalId {
        /// The scope.
        scope: String,
        /// The variable.
        var: String,
    },
}

/// Where STS is asked: AWS's own endpoint, or one configured. A SageMaker endpoint
/// of one's own (the mock, LocalStack, a VPC endpoint) with STS left at AWS's is the
/// likeliest reason STS cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Endpoints {
    /// A SageMaker endpoint is configured (`sagemaker.endpoint_url` or
    /// `AWS_ENDPOINT_URL_SAGEMAKER` / `AWS_ENDPOINT_URL`).
    custom_sagemaker: bool,
    /// An STS endpoint is configured (`sagemaker.sts_endpoint_url` or
    /// `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL`).
    custom_sts: bool,
}

impl Endpoints {
    fn of(config: &SageMakerConfig, env: &dyn Fn(&str) -> Option<String>) -> Endpoints {
        let set = |var: &str| env(var).is_some_and(|v| !v.trim().is_empty());
        Endpoints {
            custom_sagemaker: config.endpoint_url.is_some()
                || set("AWS_ENDPOINT_URL_SAGEMAKER")
                || set("AWS_ENDPOINT_URL"),
            custom_sts: config.sts_endpoint_url.is_some()
                || set("AWS_ENDPOINT_URL_STS")
                || set("AWS_ENDPOINT_URL"),
        }
    }
}

/// The one line a failed `GetCallerIdentity` is said in: what failed, why as far as
/// it is known, and which setting fixes it.
fn identity_error<E>(
    error: &aws_sdk_sts::error::SdkError<E, aws_sdk_sts::config::http::HttpResponse>,
    endpoints: Endpoints,
) -> ConnectError
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    if super::error::credentials_not_loaded(error) {
        return ConnectError::NoCredentials;
    }
    let unanswered = matches!(
        error,
        aws_sdk_sts::error::SdkError::DispatchFailure(_)
            | aws_sdk_sts::error::SdkError::TimeoutError(_)
    );
    if unanswered && endpoints.custom_sagemaker && !endpoints.custom_sts {
        return ConnectError::Identity(format!(
            "STS did not answer at AWS's endpoint, and SageMaker has an endpoint of its own \
             (sagemaker.endpoint_url or AWS_ENDPOINT_URL_SAGEMAKER): set \
             sagemaker.sts_endpoint_url (or AWS_ENDPOINT_URL_STS) to the STS endpoint that goes \
             with it (govsync's mock answers STS on its SageMaker port) ({})",
            super::error::chain_text(error)
        ));
    }
    ConnectError::Identity(describe(
        "STS GetCallerIdentity",
        "the default credentials",
        error,
    ))
}

/// The caller of the default credentials: its partition and account.
async fn caller(sts: &SdkConfig, endpoints: Endpoints) -> Result<(String, String), ConnectError> {
    let output = aws_sdk_sts::Client::new(sts)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| identity_error(&e, endpoints))?;
    let account = output.account().unwrap_or_default().to_string();
    let partition = output
        .arn()
        .and_then(|arn| arn.split(':').nth(1))
        .unwrap_or("aws")
        .to_string();
    if !crate::arn::is_account_id(&account) {
        return Err(ConnectError::Identity(format!(
            "STS GetCallerIdentity answered account \"{account}\", which is not 12 digits"
        )));
    }
    Ok((partition, account))
}

/// Builds the client of every scope: the configured ones, or, with none configured,
/// the default credentials' own account (from `GetCallerIdentity`) in the
/// configured or default region. `base` carries the default credentials chain (from
/// [`super::client::load_sdk_config`], or a test's); `env` reads external IDs;
/// `metrics` counts every SDK attempt.
pub async fn connect(
    config: &SageMakerConfig,
    base: &SdkConfig,
    env: &dyn Fn(&str) -> Option<String>,
    metrics: Option<Arc<Metrics>>,
) -> Result<Vec<ScopedRegistry<SageMakerRegistry>>, ConnectError> {
    // STS calls (GetCallerIdentity, AssumeRole) get the same retries and timeouts
    // as SageMaker's.
    let mut sts_base = base
        .to_builder()
        .retry_config(super::client::retry_config(config))
        .timeout_config(super::client::timeout_config(config));
    if let Some(url) = &config.sts_endpoint_url {
        sts_base = sts_base.endpoint_url(url.clone());
    }
    let sts_base = sts_base.build();
    let endpoints = Endpoints::of(config, env);
    let for_region = |sdk: &SdkConfig, region: &str| {
        sdk.to_builder()
            .region(Region::new(region.to_string()))
            .build()
    };

    if config.scopes.is_empty() {
        let region = config
            .region
            .clone()
            .or_else(|| base.region().map(|r| r.to_string()))
            .ok_or(ConnectError::NoRegion)?;
        let (partition, account) = caller(&for_region(&sts_base, &region), endpoints).await?;
        let scope = Scope {
            partition,
            account,
            region: region.clone(),
            groups: config
                .model_package_groups
                .iter()
                .map(|g| GroupRef::Own(g.clone()))
                .collect(),
        };
        return Ok(vec![ScopedRegistry {
            scope,
            registry: SageMakerRegistry::new(&for_region(base, &region), config, metrics),
        }]);
    }

    // The default credentials are one identity: ask once, and only if a scope uses them.
    let mut default_caller: Option<(String, String)> = None;
    let mut scoped = Vec::with_capacity(config.scopes.len());
    for ScopeConfig { scope, role } in &config.scopes {
        let regional = for_region(base, &scope.region);
        let sdk = match role {
            None => {
                if default_caller.is_none() {
                    default_caller =
                        Some(caller(&for_region(&sts_base, &scope.region), endpoints).await?);
                }
                let (_, found) = default_caller.as_ref().expect("just set");
                if *found != scope.account {
                    return Err(ConnectError::WrongAccount {
                        scope: scope.id().to_string(),
                        account: scope.account.clone(),
                        found: found.clone(),
                    });
                }
                regional
            }
            Some(role) => {
                let mut provider = AssumeRoleProvider::builder(role.role_arn.clone())
                    .session_name(role.session_name.clone())
                    .region(Region::new(scope.region.clone()));
                if let Some(var) = &role.external_id_env {
                    let id = env(var).ok_or_else(|| ConnectError::ExternalId {
                        scope: scope.id().to_string(),
                        var: var.clone(),
                    })?;
                    provider = provider.external_id(id);
                }
                // The role is assumed lazily, on the scope's first call: a role that
                // cannot be assumed leaves that scope unobserved, not govsync down.
                let provider = provider
                    .configure(&for_region(&sts_base, &scope.region))
                    .build()
                    .await;
                regional
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(provider))
                    .build()
            }
        };
        scoped.push(ScopedRegistry {
            scope: scope.clone(),
            registry: SageMakerRegistry::new(&sdk, config, metrics.clone()),
        });
    }
    Ok(scoped)
}
