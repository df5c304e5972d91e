//! The outbox's side of the loop: after each cycle the loop hands what the outbox
//! holds to the publisher, which sends it beside the cycles (a bus that does not
//! answer never holds a cycle up), and records what was sent when the publisher
//! says so. A failed send is tried again after [`retry_delay`] (of the failures in
//! a row).
//!
//! Only the loop touches the store; the publisher only talks to EventBridge.

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::publish::{BATCH, Publisher, Sent};
use super::retry_delay;
use crate::metrics::Metrics;
use crate::status::LoopStatus;
use crate::store::{JournalEntry, StateStore, Store};

/// What the status page shows of the outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    /// The bus.
    pub bus: String,
    /// Events waiting.
    pub pending: u64,
    /// Events published by this process.
    pub published: u64,
    /// Why the last send failed, while sends fail.
    pub error: Option<String>,
}

/// What woke the loop for the outbox.
#[derive(Debug)]
pub enum Wake {
    /// The publisher sent a batch (`None`: it stopped).
    Sent(Option<Sent>),
    /// A failed send is due again.
    RetryDue,
}

/// The loop's handle on the outbox and the publisher.
pub struct Outbox<'a> {
    publisher: Option<&'a Publisher>,
    jobs: Option<mpsc::Sender<Vec<(i64, JournalEntry)>>>,
    sent: mpsc::Receiver<Sent>,
    in_flight: bool,
    failures: u32,
    retry_at: Option<Instant>,
    metrics: &'a Metrics,
    status: &'a watch::Sender<LoopStatus>,
}

impl<'a> Outbox<'a> {
    /// The outbox of a loop that publishes with `publisher` (or never, `None`), and
    /// the publisher's side: run it beside the loop until `stop`.
    pub fn new(
        publisher: Option<&'a Publisher>,
        metrics: &'a Metrics,
        status: &'a watch::Sender<LoopStatus>,
        stop: &'a CancellationToken,
    ) -> (Outbox<'a>, impl std::future::Future<Output = ()> + 'a) {
        let (jobs, mut job_rx) = mpsc::channel::<Vec<(i64, JournalEntry)>>(1);
        let (sent_tx, sent) = mpsc::channel(1);
        if let Some(p) = publisher {
            status.send_modify(|s| {
                s.outbox = Some(OutboxStatus {
                    bus: p.bus().to_string(),
                    ..OutboxStatus::default()
                });
            });
        }
        let worker = async move {
            let Some(publisher) = publisher else { return };
            loop {
                let job = tokio::select! {
                    () = stop.cancelled() => return,
                    job = job_rx.recv() => job,
                };
                let Some(job) = job else { return };
                // Abandoned at shutdown: the events stay in the outbox and are sent
                // by the next process (with the same sequence numbers).
                let result = tokio::select! {
                    () = stop.cancelled() => return,
                    result = publisher.send(&job) => result,
                };
                if sent_tx.send(result).await.is_err() {
                    return;
                }
            }
        };
        (
            Outbox {
                publisher,
                jobs: publisher.map(|_| jobs),
                sent,
                in_flight: false,
                failures: 0,
                retry_at: None,
                metrics,
                status,
            },
            worker,
        )
    }

    /// Whether the loop should fill the outbox (events out are on).
    pub fn on(&self) -> bool {
        self.publisher.is_some()
    }

    /// Waits for what needs the loop: the publisher said what it sent, or a failed
    /// send is due again (never, while neither can happen); then does it.
    pub async fn wake(&mut self) -> Wake {
        if self.in_flight {
            return Wake::Sent(self.sent.recv().await);
        }
        match self.retry_at {
            Some(at) => {
                tokio::time::sleep_until(at).await;
                Wake::RetryDue
            }
            None => std::future::pending().await,
        }
    }

    /// Does what [`Outbox::wake`] woke the loop for.
    pub async fn handle(&mut self, wake: Wake, store: &mut Store) {
        match wake {
            Wake::Sent(sent) => self.record(store, sent).await,
            Wake::RetryDue => self.offer(store).await,
        }
    }

    /// Hands the oldest waiting events to the publisher, unless a send is in flight
    /// or a failed one is not due yet. A store that cannot be read is said and
    /// tried again after the next cycle.
    pub async fn offer(&mut self, store: &mut Store) {
        let Some(jobs) = &self.jobs else { return };
        if self.in_flight || self.retry_at.is_some_and(|at| at > Instant::now()) {
            return;
        }
        self.retry_at = None;
        let pending = match store.pending_events(BATCH).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the outbox; its events are sent after the next cycle");
                return;
            }
        };
        self.count_pending(store).await;
        if pending.is_empty() {
            return;
        }
        self.in_flight = jobs.send(pending).await.is_ok();
    }

    /// Records what the publisher sent (`None`: it stopped), and offers the rest.
    async fn record(&mut self, store: &mut Store, sent: Option<Sent>) {
        self.in_flight = false;
        let Some(sent) = sent else {
            self.jobs = None;
            return;
        };
        if !sent.published.is_empty()
            && let Err(e) = store.published(&sent.published).await
        {
            // They are sent again later: duplicates with the same sequence numbers.
            tracing::warn!(error = %e, "published events could not be taken out of the outbox; they will be sent again");
        }
        let error = sent.failed.first().map(|(_, why)| why.clone());
        if let Some(why) = &error {
            let seqs: Vec<i64> = sent.failed.iter().map(|(s, _)| *s).collect();
            let _ = store.publish_failed(&seqs, why).await;
            self.failures += 1;
            let after = retry_delay(self.failures);
            self.retry_at = Some(Instant::now() + after);
            if self.failures == 1 {
                tracing::warn!(
                    failed = seqs.len(),
                    retry_in_s = after.as_secs(),
                    error = %why,
                    "events could not be published; they wait in the outbox (the cycles go on)"
                );
            }
        } else {
            if self.failures > 0 {
                tracing::info!("events are published again");
            }
            self.failures = 0;
        }
        let published = sent.published.len() as u64;
        self.status.send_modify(|s| {
            if let Some(o) = &mut s.outbox {
                o.published += published;
                o.error = error;
            }
        });
        self.offer(store).await;
    }

    async fn count_pending(&self, store: &mut Store) {
        if let Ok(n) = store.outbox_len().await {
            self.metrics.set_events_pending(n);
            self.status.send_modify(|s| {
                if let Some(o) = &mut s.outbox {
                    o.pending = n;
                }
            });
        }
    }
}

/// Publishes what the outbox holds now, batch by batch, until it is empty or a send
/// fails (`govsync reconcile`: a one-shot run publishes what it wrote before it
/// exits; what a failure leaves waits for the next run). Returns (published, left).
pub async fn publish_now(publisher: &Publisher, store: &mut Store) -> (usize, u64) {
    let mut published = 0;
    loop {
        let pending = match store.pending_events(BATCH).await {
            Ok(p) if !p.is_empty() => p,
            _ => break,
        };
        let sent = publisher.send(&pending).await;
        published += sent.published.len();
        let _ = store.published(&sent.published).await;
        if let Some((_, why)) = sent.failed.first() {
            let seqs: Vec<i64> = sent.failed.iter().map(|(s, _)| *s).collect();
            let _ = store.publish_failed(&seqs, why).await;
            tracing::warn!(error = %why, "events could not be published; they wait in the outbox for the next run");
            break;
        }
    }
    (published, store.outbox_len().await.unwrap_or(0))
}
