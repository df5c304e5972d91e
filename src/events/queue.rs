//! The SQS queue SageMaker's events arrive in, through aws-sdk-sqs: long-polled
//! batches, deleted once handled, or made visible again later for a retry. Every
//! call is counted in `govsync_remote_calls_total{system="sqs"}`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};

use crate::config::{EventsConfig, SageMakerConfig};
use crate::metrics::Metrics;
use crate::sagemaker::error::describe;

/// How long one receive waits for a message (SQS's longest long poll).
pub const WAIT: Duration = Duration::from_secs(20);
/// Messages one receive asks for (SQS's most).
pub const BATCH: i32 = 10;

/// One message received.
#[derive(Debug, Clone)]
pub struct Received {
    /// SQS's message ID (logs).
    pub id: String,
    /// What deletes it, or changes its visibility, for this receipt.
    pub receipt: String,
    /// The body: an EventBridge event, if all is well.
    pub body: String,
    /// When SQS received it (`SentTimestamp`).
    pub sent: Option<SystemTime>,
    /// How often it was received, this time included (`ApproximateReceiveCount`).
    pub receive_count: u32,
}

/// What govsync reads of the queue at start-up.
#[derive(Debug, Clone, Default)]
pub struct QueueSettings {
    /// The queue's visibility timeout.
    pub visibility_timeout: Option<Duration>,
    /// Whether a redrive policy moves failing messages to a dead-letter queue.
    pub redrive: bool,
}

/// The queue.
#[derive(Debug, Clone)]
pub struct EventQueue {
    client: Client,
    url: String,
    metrics: Option<Arc<Metrics>>,
}

impl EventQueue {
    /// A client for `events.queue_url`, with the credentials and retries of the AWS
    /// configuration `sdk` (the default scope's: the queue is in the hub account),
    /// the region the queue URL names (else `sdk`'s), and `events.sqs_endpoint_url`
    /// (or `AWS_ENDPOINT_URL_SQS`, which `sdk` carries).
    pub fn new(
        sdk: &SdkConfig,
        sagemaker: &SageMakerConfig,
        events: &EventsConfig,
        metrics: Option<Arc<Metrics>>,
    ) -> EventQueue {
        let mut builder = aws_sdk_sqs::config::Builder::from(sdk)
            .retry_config(crate::sagemaker::client::retry_config(sagemaker))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    // A long poll answers after up to WAIT: give it that and more.
                    .operation_attempt_timeout(WAIT + sagemaker.attempt_timeout)
                    .build(),
            );
        if let Some(region) = region_of_queue(&events.queue_url) {
            builder = builder.region(aws_config::Region::new(region));
        }
        if let Some(endpoint) = &events.sqs_endpoint_url {
            builder = builder.endpoint_url(endpoint.clone());
        }
        EventQueue {
            client: Client::from_conf(builder.build()),
            url: events.queue_url.clone(),
            metrics,
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn count(&self, operation: &'static str, ok: bool) {
        if let Some(m) = &self.metrics {
            m.remote_call("sqs", operation, if ok { "ok" } else { "error" });
        }
    }

    /// Reads the queue's visibility timeout and whether it has a redrive policy
    /// (`GetQueueAttributes`): a queue that does not exist, or cannot be read, is
    /// found at start-up rather than at the first event.
    pub async fn settings(&self) -> Result<QueueSettings, String> {
        let result = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await;
        self.count("GetQueueAttributes", result.is_ok());
        let out = result.map_err(|e| describe("GetQueueAttributes", &self.url, &e))?;
        let attributes = out.attributes();
        Ok(QueueSettings {
            visibility_timeout: attributes
                .and_then(|a| a.get(&QueueAttributeName::VisibilityTimeout))
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs),
            redrive: attributes.is_some_and(|a| a.contains_key(&QueueAttributeName::RedrivePolicy)),
        })
    }

    /// Waits up to [`WAIT`] for up to [`BATCH`] messages.
    pub async fn receive(&self) -> Result<Vec<Received>, String> {
        let result = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .wait_time_seconds(WAIT.as_secs() as i32)
            .max_number_of_messages(BATCH)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        self.count("ReceiveMessage", result.is_ok());
        let out = result.map_err(|e| describe("ReceiveMessage", &self.url, &e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                let attribute = |name: MessageSystemAttributeName| {
                    m.attributes().and_then(|a| a.get(&name)).cloned()
                };
                Some(Received {
                    id: m.message_id().unwrap_or("(no id)").to_string(),
                    receipt: m.receipt_handle()?.to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                    sent: attribute(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|ms| ms.parse::<u64>().ok())
                        .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1),
                })
            })
            .collect())
    }

    /// Deletes handled messages (`DeleteMessageBatch`, at most [`BATCH`] at once);
    /// returns why any could not be deleted (they come back, and are handled again
    /// as duplicates).
    pub async fn delete(&self, messages: &[&Received]) -> Result<(), String> {
        for chunk in messages.chunks(BATCH as usize) {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                        .ok()
                })
                .collect();
            let result = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await;
            self.count("DeleteMessageBatch", result.is_ok());
            let out = result.map_err(|e| describe("DeleteMessageBatch", &self.url, &e))?;
            if let Some(failed) = out.failed().first() {
                return Err(format!(
                    "DeleteMessageBatch for {}: {} of {} messages not deleted: {}: {}",
                    self.url,
                    out.failed().len(),
                    chunk.len(),
                    failed.code(),
                    failed.message().unwrap_or("(no message)")
                ));
            }
        }
        Ok(())
    }

    /// Makes a message visible again after `after` (`ChangeMessageVisibility`): the
    /// retry of a message whose work failed, sooner or later than the queue's own
    /// visibility timeout would.
    pub async fn retry_later(&self, message: &Received, after: Duration) -> Result<(), String> {
        let result = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .visibility_timeout(after.as_secs().min(43_200) as i32)
            .send()
            .await;
        self.count("ChangeMessageVisibility", result.is_ok());
        result
            .map(|_| ())
            .map_err(|e| describe("ChangeMessageVisibility", &self.url, &e))
    }
}

/// The region in a queue URL of AWS's form `https://sqs.<region>.amazonaws.com/…`.
fn region_of_queue(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let region = host.strip_prefix("sqs.")?.split('.').next()?;
    crate::arn::is_region_name(region).then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_an_aws_queue_url_only() {
        assert_eq!(
            region_of_queue("https://sqs.eu-west-1.amazonaws.com/123456789012/govsync-events")
                .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_queue("http://127.0.0.1:5000/123456789012/q"),
            None
        );
        assert_eq!(region_of_queue("not a url"), None);
    }
}
