//! moto's server (`moto[server]` from PyPI, in the test virtual environment): real
//! SQS and EventBridge implementations we did not write (EventBridge with rules that
//! deliver to SQS), started on a free loopback port for one test and stopped after.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;

/// A running moto server; stopped when dropped.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// An SQS client for it (static test credentials, us-east-1).
    pub sqs: aws_sdk_sqs::Client,
    /// An EventBridge client for it.
    pub events: aws_sdk_eventbridge::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A queue made for a test, with its dead-letter queue.
pub struct TestQueue {
    /// The queue's URL.
    pub url: String,
    /// Its dead-letter queue's URL.
    pub dead_letters: String,
}

impl Moto {
    /// Starts moto's server with the test virtual environment's Python and waits
    /// until it answers.
    pub async fn start() -> Moto {
        let python = super::programs::python_with("moto.server");
        // A free port: bound, read and let go (moto binds it a moment later).
        let port = super::free_port();
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto's server");
        let url = format!("http://127.0.0.1:{port}");
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk_config())
                .endpoint_url(&url)
                .build(),
        );
        let events = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&sdk_config())
                .endpoint_url(&url)
                .build(),
        );
        let moto = Moto {
            child,
            url,
            sqs,
            events,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.sqs.list_queues().send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "moto's server did not answer on {} within 30 s",
                moto.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// Makes a standard queue `name` whose messages become visible again after
    /// `visibility` and move to a dead-letter queue after `max_receives` receipts.
    pub async fn queue(&self, name: &str, visibility: Duration, max_receives: u32) -> TestQueue {
        let dead_letters = self
            .sqs
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .expect("dead-letter queue")
            .queue_url
            .expect("url");
        let dlq_arn = self.queue_arn(&dead_letters).await;
        let url = self
            .sqs
            .create_queue()
            .queue_name(name)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility.as_secs().to_string(),
            )
            .attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives })
                    .to_string(),
            )
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("url");
        TestQueue { url, dead_letters }
    }

    /// Makes the event bus `bus` with a rule that sends govsync's events to a new
    /// queue `<bus>-target`, whose URL it returns: what a pipeline hanging on
    /// govsync's events would read.
    pub async fn bus_to_queue(&self, bus: &str) -> String {
        self.events
            .create_event_bus()
            .name(bus)
            .send()
            .await
            .expect("bus");
        let queue = self
            .queue(&format!("{bus}-target"), Duration::from_secs(30), 10)
            .await;
        let arn = self.queue_arn(&queue.url).await;
        self.events
            .put_rule()
            .name("govsync-changes")
            .event_bus_name(bus)
            .event_pattern(
                serde_json::json!({
                    "source": [govsync::outbox::SOURCE],
                    "detail-type": [govsync::outbox::DETAIL_TYPE],
                })
                .to_string(),
            )
            .send()
            .await
            .expect("rule");
        self.events
            .put_targets()
            .rule("govsync-changes")
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(arn)
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("targets");
        queue.url
    }

    /// Every message in the queue at `url` now (received and deleted), as JSON.
    pub async fn drain(&self, url: &str) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = out.messages();
            if messages.is_empty() {
                return all;
            }
            for m in messages {
                all.push(serde_json::from_str(m.body().unwrap_or_default()).expect("JSON"));
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    /// The ARN of the queue at `url`.
    pub async fn queue_arn(&self, url: &str) -> String {
        self.sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("attributes")
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .expect("queue ARN")
    }

    /// Sends `body` to the queue at `url`.
    pub async fn send(&self, url: &str, body: &str) {
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    /// Messages in the queue at `url`: (visible, in flight).
    pub async fn depth(&self, url: &str) -> (u64, u64) {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("attributes")
            .attributes
            .unwrap_or_default();
        let n = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            n(QueueAttributeName::ApproximateNumberOfMessages),
            n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }
}

/// Static test credentials in us-east-1, nothing read from this machine.
pub fn sdk_config() -> aws_config::SdkConfig {
    use aws_credential_types::{Credentials, provider::SharedCredentialsProvider};
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "govsync-tests",
        )))
        .build()
}

/// A `SageMaker Model Package State Change` event in the shape of AWS's published
/// example (no `ModelLifeCycle`), for `arn`; with `lifecycle`, the event also carries
/// `ModelLifeCycle` (stage, stage status).
pub fn package_event(arn: &str, lifecycle: Option<(&str, &str)>) -> String {
    let (group, version) = arn
        .rsplit_once(":model-package/")
        .and_then(|(_, rest)| rest.split_once('/'))
        .expect("a versioned package ARN");
    let mut detail = serde_json::json!({
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version.parse::<u64>().expect("version"),
        "ModelPackageArn": arn,
        "CreationTime": 1_614_186_011_829u64,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "Approved",
        "LastModifiedTime": 1_614_186_014_232u64,
    });
    if let Some((stage, status)) = lifecycle {
        detail["ModelLifeCycle"] = serde_json::json!({ "Stage": stage, "StageStatus": status });
    }
    serde_json::json!({
        "version": "0",
        "id": format!("{:08x}-85d4-695f-b930-0153b71dcb42", fastrand::u32(..)),
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-12-06T10:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": detail,
    })
    .to_string()
}
