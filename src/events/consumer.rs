//! The consumer: long-polls the queue beside the cycles, hands each batch of package
//! events to the loop (which runs an event cycle between its scheduled ones), and
//! acknowledges each message after what it caused is journaled.
//!
//! A message that is not a SageMaker package event is deleted at once and counted
//! as ignored. A message whose work failed for a reason that may pass stays in the
//! queue and comes back after [`retry_delay`] (of its receive count); the queue's redrive policy moves one
//! that keeps failing to its dead-letter queue.

use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::queue::{EventQueue, Received};
use super::{EventBatch, EventsStatus, retry_delay};
use crate::engine::EventVerdict;
use crate::event::{Trigger, read_event};
use crate::metrics::Metrics;
use crate::status::LoopStatus;

/// How long the consumer waits after the queue could not be read.
pub const RECEIVE_PAUSE: Duration = Duration::from_secs(5);

/// Consumes the queue until `stop` is cancelled or the loop ends (`to_cycles`
/// closed). Never returns an error: a queue that cannot be read is reported and
/// tried again, and the cycles go on in any case.
pub async fn consume(
    queue: &EventQueue,
    to_cycles: mpsc::Sender<EventBatch>,
    metrics: &Metrics,
    status: &watch::Sender<LoopStatus>,
    stop: &CancellationToken,
) {
    let mut said: Option<String> = None;
    status.send_modify(|s| {
        s.events = Some(EventsStatus {
            queue: queue.url().to_string(),
            ..EventsStatus::default()
        });
    });
    loop {
        let received = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            received = queue.receive() => received,
        };
        let messages = match received {
            Ok(messages) => {
                if said.take().is_some() {
                    tracing::info!(queue = queue.url(), "the event queue can be read again");
                }
                messages
            }
            Err(e) => {
                if said.as_ref() != Some(&e) {
                    tracing::warn!(error = %e, "cannot read the event queue; trying again (cycles go on)");
                    said = Some(e.clone());
                }
                events_status(status, |s| s.error = Some(e));
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(RECEIVE_PAUSE) => {}
                }
                continue;
            }
        };
        events_status(status, |s| {
            s.error = None;
            s.last_polled = Some(SystemTime::now());
        });
        if messages.is_empty() {
            continue;
        }
        metrics.events_received(messages.len());
        events_status(status, |s| {
            s.received += messages.len() as u64;
            s.last_received = Some(SystemTime::now());
        });
        let mut ignored: Vec<&Received> = Vec::new();
        let mut waiting: Vec<&Received> = Vec::new();
        let mut events = Vec::new();
        for m in &messages {
            match read_event(&m.body) {
                Trigger::Ignored(why) => {
                    tracing::info!(message_id = %m.id, why = %why, "event ignored");
                    ignored.push(m);
                }
                Trigger::Package(event) => {
                    waiting.push(m);
                    events.push(event);
                }
            }
        }
        let mut verdicts: Vec<EventVerdict> =
            vec![EventVerdict::Ignored("not a package event".into()); ignored.len()];
        // Ignored messages go at once, before the event cycle of the others.
        if !ignored.is_empty()
            && let Err(e) = queue.delete(&ignored).await
        {
            tracing::warn!(error = %e, "ignored messages could not be deleted; they come back and are ignored again");
        }
        let mut handled: Vec<&Received> = Vec::new();
        if !events.is_empty() {
            let (reply, answer) = oneshot::channel();
            if to_cycles.send(EventBatch { events, reply }).await.is_err() {
                return;
            }
            let answer = tokio::select! {
                // Shutdown before the event cycle answered: the messages come back
                // after their visibility timeout, and are handled again.
                () = stop.cancelled() => return,
                answer = answer => answer,
            };
            let answer = match answer {
                Ok(answer) => answer,
                // The loop ended without answering (shutdown).
                Err(_) => return,
            };
            let per_event = match answer {
                Ok(v) => v,
                Err(e) => vec![EventVerdict::Failed(e); waiting.len()],
            };
            let now = SystemTime::now();
            let mut oldest: Option<Duration> = None;
            for (m, verdict) in waiting.iter().zip(per_event) {
                match &verdict {
                    EventVerdict::Failed(why) => {
                        let after = retry_delay(m.receive_count);
                        tracing::warn!(
                            message_id = %m.id,
                            receive_count = m.receive_count,
                            retry_in_s = after.as_secs(),
                            error = %why,
                            "event not handled; it comes back for another try (the queue's redrive policy moves one that keeps failing to its dead-letter queue)"
                        );
                        if let Err(e) = queue.retry_later(m, after).await {
                            tracing::warn!(message_id = %m.id, error = %e, "could not set when the event comes back; the queue's visibility timeout decides");
                        }
                    }
                    EventVerdict::Ignored(why) => {
                        tracing::info!(message_id = %m.id, why = %why, "event ignored");
                        handled.push(m);
                    }
                    EventVerdict::Acted => {
                        if let Some(age) = m.sent.and_then(|t| now.duration_since(t).ok()) {
                            oldest = oldest.max(Some(age));
                        }
                        handled.push(m);
                    }
                    EventVerdict::Duplicate => handled.push(m),
                }
                verdicts.push(verdict);
            }
            if let Some(age) = oldest {
                metrics.event_age(age);
            }
        }
        for v in &verdicts {
            metrics.event_handled(v.as_str());
        }
        events_status(status, |s| {
            for v in &verdicts {
                match v {
                    EventVerdict::Acted => s.acted += 1,
                    EventVerdict::Duplicate => s.duplicate += 1,
                    EventVerdict::Ignored(_) => s.ignored += 1,
                    EventVerdict::Failed(_) => s.failed += 1,
                }
            }
        });
        if !handled.is_empty()
            && let Err(e) = queue.delete(&handled).await
        {
            // Not lost: they come back and are handled again, as duplicates.
            tracing::warn!(error = %e, "handled events could not be deleted; they come back and are read again");
        }
    }
}

fn events_status(status: &watch::Sender<LoopStatus>, change: impl FnOnce(&mut EventsStatus)) {
    status.send_modify(|s| {
        if let Some(e) = &mut s.events {
            change(e);
        }
    });
}
