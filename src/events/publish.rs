//! Events out: govsync's own changes published to an EventBridge bus (`[events]`),
//! one `govsync Status Change` event per write it applied.
//!
//! The event is stored in the state store's outbox in the transaction that records
//! the write's outcome; this publisher sends what the outbox holds (`PutEvents`, at
//! most 10 entries a call; a call's failed entries are tried again alone), and the
//! loop removes what was sent. A crash between the two sends an event twice, with
//! the same sequence number; never loses one.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use backon::BackoffBuilder;

use crate::config::{PublishConfig, SageMakerConfig};
use crate::metrics::Metrics;
use crate::outbox::{DETAIL_TYPE, SOURCE, status_change};
use crate::sagemaker::error::describe;
use crate::store::JournalEntry;

/// The EventBridge operations govsync calls: the IAM policy allows exactly their
/// actions (`events:<operation>`) on the bus.
pub const PUBLISH_OPERATIONS: [&str; 1] = ["PutEvents"];

/// Entries in one `PutEvents` call (EventBridge's most).
pub const ENTRIES_PER_CALL: usize = 10;
/// Tries of a call's failed entries, the first included.
pub const ENTRY_ATTEMPTS: usize = 3;
/// Events the loop hands over at once.
pub const BATCH: usize = 100;

/// What one hand-over came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The sequence numbers whose events EventBridge accepted.
    pub published: Vec<i64>,
    /// Those it did not, with why.
    pub failed: Vec<(i64, String)>,
}

/// The bus govsync publishes to.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: Client,
    bus: String,
    metrics: Option<Arc<Metrics>>,
}

impl Publisher {
    /// A client for `events.bus`, with the credentials, region and retries of the AWS
    /// configuration `sdk` (the default scope's), and `events.eventbridge_endpoint_url`
    /// (or `AWS_ENDPOINT_URL_EVENTS`, which `sdk` carries).
    pub fn new(
        sdk: &SdkConfig,
        sagemaker: &SageMakerConfig,
        events: &PublishConfig,
        metrics: Option<Arc<Metrics>>,
    ) -> Publisher {
        let mut builder = aws_sdk_eventbridge::config::Builder::from(sdk)
            .retry_config(crate::sagemaker::client::retry_config(sagemaker))
            .timeout_config(crate::sagemaker::client::timeout_config(sagemaker));
        if let Some(region) = region_of_bus(&events.bus) {
            builder = builder.region(aws_config::Region::new(region.to_string()));
        }
        if let Some(endpoint) = &events.eventbridge_endpoint_url {
            builder = builder.endpoint_url(endpoint.clone());
        }
        Publisher {
            client: Client::from_conf(builder.build()),
            bus: events.bus.clone(),
            metrics,
        }
    }

    /// The bus (name or ARN).
    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Sends the events of `writes` (journal entries with their sequence numbers).
    pub async fn send(&self, writes: &[(i64, JournalEntry)]) -> Sent {
        let mut sent = Sent::default();
        for chunk in writes.chunks(ENTRIES_PER_CALL) {
            let mut waiting: Vec<(i64, PutEventsRequestEntry)> = Vec::new();
            for (seq, entry) in chunk {
                match self.entry(*seq, entry) {
                    Ok(e) => waiting.push((*seq, e)),
                    Err(why) => sent.failed.push((*seq, why)),
                }
            }
            let mut delays = backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(2))
                .build();
            for attempt in 1..=ENTRY_ATTEMPTS {
                let failed = self.put(&waiting).await;
                let failed_seqs: Vec<i64> = failed.iter().map(|(s, _)| *s).collect();
                sent.published.extend(
                    waiting
                        .iter()
                        .map(|(s, _)| *s)
                        .filter(|s| !failed_seqs.contains(s)),
                );
                waiting.retain(|(s, _)| failed_seqs.contains(s));
                if waiting.is_empty() {
                    break;
                }
                if attempt == ENTRY_ATTEMPTS {
                    sent.failed.extend(failed);
                    break;
                }
                tokio::time::sleep(delays.next().unwrap_or(Duration::from_secs(2))).await;
            }
        }
        if let Some(m) = &self.metrics {
            m.events_published(sent.published.len(), sent.failed.len());
        }
        sent
    }

    /// One write's entry.
    fn entry(&self, seq: i64, entry: &JournalEntry) -> Result<PutEventsRequestEntry, String> {
        let detail = serde_json::to_string(&status_change(seq, entry))
            .map_err(|e| format!("the event of journal entry {seq} cannot be written: {e}"))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(DETAIL_TYPE)
            .resources(&entry.package_arn)
            .detail(detail)
            .build())
    }

    /// One `PutEvents` call: the entries EventBridge did not accept, with why (all
    /// of them when the call failed).
    async fn put(&self, entries: &[(i64, PutEventsRequestEntry)]) -> Vec<(i64, String)> {
        let result = self
            .client
            .put_events()
            .set_entries(Some(entries.iter().map(|(_, e)| e.clone()).collect()))
            .send()
            .await;
        if let Some(m) = &self.metrics {
            m.remote_call(
                "eventbridge",
                "PutEvents",
                if result.is_ok() { "ok" } else { "error" },
            );
        }
        match result {
            Err(e) => {
                let why = describe("PutEvents", &self.bus, &e);
                entries.iter().map(|(s, _)| (*s, why.clone())).collect()
            }
            // Result entries are in the request's order; one with an error code
            // was not accepted.
            Ok(out) => entries
                .iter()
                .zip(out.entries())
                .filter_map(|((seq, _), r)| {
                    r.error_code().map(|code| {
                        (
                            *seq,
                            format!(
                                "PutEvents for {}: {code}: {}",
                                self.bus,
                                r.error_message().unwrap_or("(no message)")
                            ),
                        )
                    })
                })
                .chain(
                    // Fewer results than entries: those without one were not accepted.
                    entries
                        .iter()
                        .skip(out.entries().len())
                        .map(|(seq, _)| (*seq, "PutEvents returned no result for it".into())),
                )
                .collect(),
        }
    }
}

/// The region in a bus ARN (`arn:aws:events:<region>:<account>:event-bus/<name>`).
fn region_of_bus(bus: &str) -> Option<&str> {
    let mut parts = bus.strip_prefix("arn:")?.split(':');
    let (_, service, region) = (parts.next()?, parts.next()?, parts.next()?);
    (service == "events" && crate::arn::is_region_name(region)).then_some(region)
}

/// Whether `bus` is an event bus name or ARN EventBridge takes (the config's check).
pub fn is_bus(bus: &str) -> bool {
    match bus.strip_prefix("arn:") {
        Some(_) => region_of_bus(bus).is_some() && bus.contains(":event-bus/"),
        None => {
            !bus.is_empty()
                && bus.len() <= 256
                && bus
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bus_is_a_name_or_an_events_arn() {
        assert!(is_bus("default"));
        assert!(is_bus("govsync-changes"));
        assert!(is_bus(
            "arn:aws:events:eu-west-1:123456789012:event-bus/govsync"
        ));
        assert_eq!(
            region_of_bus("arn:aws:events:eu-west-1:123456789012:event-bus/govsync"),
            Some("eu-west-1")
        );
        assert_eq!(region_of_bus("govsync"), None);
        assert!(!is_bus(""));
        assert!(!is_bus("has space"));
        assert!(!is_bus("arn:aws:sqs:us-east-1:123456789012:queue"));
    }
}
