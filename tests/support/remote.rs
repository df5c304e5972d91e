//! Clients of both remote systems pointed at the mock servers, shared by the
//! adapter and engine tests.

use std::time::Duration;

use govsync::config::{AuthConfig, GovernanceConfig, RetryMode, SageMakerConfig};
use govsync::mock::sagemaker::MockSageMaker;
use govsync::sagemaker::SageMakerRegistry;

/// The SageMaker adapter for `mock` served at `endpoint`.
pub fn registry(
    mock: &MockSageMaker,
    endpoint: &str,
    groups: &[&str],
    max_attempts: u32,
) -> SageMakerRegistry {
    let sdk = mock.client_config();
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
