//! Clients of both remote systems pointed at the mock servers, shared by the
//! adapter and engine tests.

use std::time::Duration;

use aws_sdk_sagemaker::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use govsync::config::{AuthConfig, GovernanceConfig, RetryMode, SageMakerConfig};
use govsync::sagemaker::SageMakerRegistry;

/// The SageMaker adapter for the mock at `endpoint`, with static test credentials.
pub fn registry(endpoint: &str, groups: &[&str], max_attempts: u32) -> SageMakerRegistry {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "test",
        )))
        .build();
    let config = SageMakerConfig {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.into()),
        model_package_groups: groups.iter().map(|g| g.to_string()).collect(),
        retry_mode: RetryMode::Standard,
        max_attempts,
        operation_timeout: Duration::from_secs(60),
        attempt_timeout: Duration::from_secs(5),
    };
    SageMakerRegistry::new(&sdk, &config)
}

/// Governance settings for the mock whose API is at `base_url`, with govsync's
/// default object type and fields.
pub fn governance_config(base_url: String, auth: AuthConfig, page_size: u32) -> GovernanceConfig {
    GovernanceConfig {
        base_url,
        model_type: "Model".into(),
        status_field: "MRG-Model:Status".into(),
        link_field: "Integration:External ID".into(),
        page_size,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        ca_bundle: None,
        auth,
    }
}
