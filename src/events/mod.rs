//! Events in and out.
//!
//! In: SageMaker's EventBridge events through an SQS queue (`[sagemaker.events]`),
//! so that a SageMaker change reaches governance in about a second instead of at the
//! next cycle. Only the leader consumes; the cycles stay as the backstop for events
//! lost or never sent. `queue`: the SQS adapter; `consumer`: the loop beside the
//! cycles that hands batches to them and acknowledges each message once its work is
//! journaled. What an event means is decided in the core (`govsync_core::event`);
//! what an event cycle does, in `engine::events`.
//!
//! Out: one EventBridge event per write govsync applied (`[events]`), stored in the
//! state store's outbox with the write's outcome and sent by `publish` beside the
//! cycles (only the leader publishes). What an event says is the core's
//! (`govsync_core::outbox`).

pub mod consumer;
pub mod outbox;
pub mod publish;
pub mod queue;

use std::time::SystemTime;

use tokio::sync::oneshot;

use crate::engine::EventVerdict;
use crate::event::PackageEvent;

pub use consumer::consume;
pub use publish::Publisher;
pub use queue::EventQueue;

/// The wait before the next try of something that failed `n` times in a row (a
/// message's receipts, the outbox's sends): 5 s, 10 s, 20 s, … at most 5 minutes.
pub fn retry_delay(n: u32) -> std::time::Duration {
    let doublings = n.saturating_sub(1).min(6);
    std::time::Duration::from_secs((5u64 << doublings).min(300))
}

/// The SQS operations govsync calls: the IAM policy allows exactly their actions
/// ([`iam_action`]) on the queue.
pub const QUEUE_OPERATIONS: [&str; 4] = [
    "GetQueueAttributes",
    "ReceiveMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
];

/// The IAM action that allows an SQS operation (a batch delete needs
/// `sqs:DeleteMessage`).
pub fn iam_action(operation: &str) -> String {
    match operation {
        "DeleteMessageBatch" => "sqs:DeleteMessage".to_string(),
        other => format!("sqs:{other}"),
    }
}

/// A batch of package events for the loop's next event cycle, and where its verdicts
/// go (one per event, in order; an error fails them all).
#[derive(Debug)]
pub struct EventBatch {
    /// The events.
    pub events: Vec<PackageEvent>,
    /// The verdicts, once the event cycle's writes are journaled.
    pub reply: oneshot::Sender<Result<Vec<EventVerdict>, String>>,
}

/// What the status page shows of the events: whether they flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsStatus {
    /// The queue's URL.
    pub queue: String,
    /// Messages received.
    pub received: u64,
    /// Events whose package showed something new.
    pub acted: u64,
    /// Events whose package's state was already known.
    pub duplicate: u64,
    /// Messages that were not package events in scope.
    pub ignored: u64,
    /// Events left for redelivery.
    pub failed: u64,
    /// When the queue last answered a receive.
    pub last_polled: Option<SystemTime>,
    /// When the last message arrived.
    pub last_received: Option<SystemTime>,
    /// Why the queue cannot be read, while it cannot.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_thing_is_tried_again_later_each_time_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(retry_delay(0).as_secs(), 5);
    }
}
