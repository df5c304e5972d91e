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

/// Both mock servers on ephemeral loopback ports (the governance mock accepts
/// `govsync` / `pw`), with the SageMaker groups given.
pub struct Mocks {
    /// The mock registry.
    pub sm: govsync::mock::sagemaker::MockSageMaker,
    /// The mock governance.
    pub gov: govsync::mock::governance::MockGovernance,
    /// Where the registry listens.
    pub sm_handle: govsync::mock::MockHandle,
    /// Where governance listens.
    pub gov_handle: govsync::mock::MockHandle,
}

impl Mocks {
    /// Starts both mocks and creates the groups.
    pub async fn start(groups: &[&str]) -> Mocks {
        use govsync::mock::Admin;
        let sm = govsync::mock::sagemaker::MockSageMaker::new(Default::default()).expect("sm");
        let gov = govsync::mock::governance::MockGovernance::new(
            govsync::mock::governance::Options::new("govsync", secrecy::SecretString::from("pw")),
        )
        .expect("gov");
        let sm_handle = sm.spawn_on_loopback().await.expect("serve");
        let gov_handle = gov.spawn_on_loopback().await.expect("serve");
        for group in groups {
            sm.call(
                "CreateModelPackageGroup",
                serde_json::json!({ "ModelPackageGroupName": group }),
            )
            .expect("group");
        }
        Mocks {
            sm,
            gov,
            sm_handle,
            gov_handle,
        }
    }

    /// The governance API's base URL.
    pub fn governance_url(&self) -> String {
        format!(
            "{}{}",
            self.gov_handle.url(),
            govsync::mock::governance::API_BASE
        )
    }

    /// The OpenPages client for the governance mock, `page_size` rows a query.
    pub fn governance(&self, page_size: u32) -> govsync::governance::OpenPagesClient {
        govsync::governance::OpenPagesClient::new(
            &governance_config(
                self.governance_url(),
                AuthConfig::Basic {
                    username: "govsync".into(),
                    password: govsync::config::SecretSource::Env("UNUSED".into()),
                },
                page_size,
            ),
            secrecy::SecretString::from("pw"),
        )
        .expect("client")
    }

    /// The SageMaker adapter for the registry mock, all groups, 3 attempts.
    pub fn registry(&self) -> SageMakerRegistry {
        registry(&self.sm, &self.sm_handle.url(), &[], 3)
    }

    /// A package in `group` with an optional lifecycle, and a governance model named
    /// `name` with an optional status linked to it: (model ID, package ARN).
    pub fn pair(
        &self,
        group: &str,
        name: &str,
        status: Option<&str>,
        lifecycle: Option<(&str, &str)>,
    ) -> (String, String) {
        let mut input = serde_json::json!({ "ModelPackageGroupName": group });
        if let Some((stage, stage_status)) = lifecycle {
            input["ModelLifeCycle"] =
                serde_json::json!({ "Stage": stage, "StageStatus": stage_status });
        }
        let arn = self.sm.call("CreateModelPackage", input).expect("package")["ModelPackageArn"]
            .as_str()
            .expect("arn")
            .to_string();
        let id = self
            .gov
            .create_model(name, status, Some(&arn))
            .expect("model");
        (id, arn)
    }
}
