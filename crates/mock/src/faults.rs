//! Fault injection shared by both mocks: throttling, server errors, dropped
//! connections, latency and jitter, rate limits, by dice or on schedule.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Counters;

/// Faults a mock injects into the requests it serves, each with a probability
/// (0.0–1.0) per request. Settable from flags at start (`govsync mock … --throttle-rate`,
/// the same fields as flags) and over the admin endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of requests answered as throttled (SageMaker: `ThrottlingException`; governance: 429).
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Share answered with a 5xx.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share whose connection is dropped before a full response.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Delay added to every request before it is served, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// A further random delay of 0 to this many milliseconds after a request was
    /// served and before its response is sent (so a client may be stopped after its
    /// write took effect and before it learns so).
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Requests per second each operation accepts (a token bucket holding one
    /// second's worth); beyond it requests are throttled. 0 means no limit.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit: f64,
    /// The retry-after hint sent with throttling, in milliseconds (keeps client retries fast).
    #[arg(long, default_value_t = 0)]
    pub retry_after_ms: u64,
    /// Seed of the fault dice, for reproducible runs; 0 picks one at random.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Every n-th request to each operation is answered with a 5xx, whatever the
    /// dice say (deterministic faults for tests); 0 means never.
    #[arg(long, default_value_t = 0)]
    pub error_every: u64,
    /// The first n requests to each operation are throttled, whatever the dice say
    /// (deterministic throttling for tests); 0 means none.
    #[arg(long, default_value_t = 0)]
    pub throttle_first: u64,
}

/// Which fault a request drew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer as throttled.
    Throttle,
    /// Answer with a 5xx.
    ServerError,
    /// Drop the connection.
    Drop,
}

impl Faults {
    /// Checks the rates; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("throttle_rate", self.throttle_rate),
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} {rate} is not between 0 and 1"));
            }
        }
        if !(self.rate_limit >= 0.0 && self.rate_limit.is_finite()) {
            return Err(format!(
                "rate_limit {} is not a number of requests per second",
                self.rate_limit
            ));
        }
        if self.throttle_rate + self.error_rate + self.drop_rate > 1.0 {
            return Err("throttle_rate + error_rate + drop_rate is more than 1".into());
        }
        Ok(())
    }
}

/// Fault settings with their dice and the per-operation token buckets.
#[derive(Debug)]
pub struct FaultInjector {
    state: Mutex<Dice>,
}

#[derive(Debug)]
struct Dice {
    faults: Faults,
    rng: fastrand::Rng,
    /// Per operation: tokens left and when they were last topped up.
    buckets: BTreeMap<String, (f64, Instant)>,
    /// Per operation: requests seen (for `error_every`).
    seen: BTreeMap<String, u64>,
}

impl Dice {
    fn new(faults: Faults) -> Dice {
        Dice {
            rng: rng_for(&faults),
            faults,
            buckets: BTreeMap::new(),
            seen: BTreeMap::new(),
        }
    }

    /// Takes a token from `operation`'s bucket; false when it is empty.
    fn take_token(&mut self, operation: &str, now: Instant) -> bool {
        let rate = self.faults.rate_limit;
        if rate == 0.0 {
            return true;
        }
        let capacity = rate.max(1.0);
        let (tokens, last) = self
            .buckets
            .entry(operation.to_string())
            .or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl FaultInjector {
    /// Starts with these faults.
    pub fn new(faults: Faults) -> FaultInjector {
        FaultInjector {
            state: Mutex::new(Dice::new(faults)),
        }
    }

    /// Replaces the faults (reseeds, and refills the buckets); refuses bad rates.
    pub fn set(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        *self.state.lock().expect("fault lock poisoned") = Dice::new(faults);
        Ok(())
    }

    /// The current faults.
    pub fn get(&self) -> Faults {
        self.state
            .lock()
            .expect("fault lock poisoned")
            .faults
            .clone()
    }

    /// Applies the latency, then rolls the dice for one request to `operation`.
    pub async fn roll(&self, operation: &str) -> Option<Fault> {
        let (latency, fault) = {
            let mut dice = self.state.lock().expect("fault lock poisoned");
            let x = dice.rng.f64();
            let within_rate = dice.take_token(operation, Instant::now());
            let every = dice.faults.error_every;
            let seen = dice.seen.entry(operation.to_string()).or_default();
            *seen += 1;
            let scheduled = every > 0 && (*seen).is_multiple_of(every);
            let throttled_first = *seen <= dice.faults.throttle_first;
            let faults = &dice.faults;
            let fault = if throttled_first {
                Some(Fault::Throttle)
            } else if scheduled {
                Some(Fault::ServerError)
            } else if !within_rate || x < faults.throttle_rate {
                Some(Fault::Throttle)
            } else if x < faults.throttle_rate + faults.error_rate {
                Some(Fault::ServerError)
            } else if x < faults.throttle_rate + faults.error_rate + faults.drop_rate {
                Some(Fault::Drop)
            } else {
                None
            };
            (faults.latency_ms, fault)
        };
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        fault
    }

    /// The delay before a served request's response: 0 to `jitter_ms`.
    pub fn response_delay(&self) -> Duration {
        let mut dice = self.state.lock().expect("fault lock poisoned");
        match dice.faults.jitter_ms {
            0 => Duration::ZERO,
            j => Duration::from_millis(dice.rng.u64(0..=j)),
        }
    }
}

fn rng_for(faults: &Faults) -> fastrand::Rng {
    if faults.seed == 0 {
        fastrand::Rng::new()
    } else {
        fastrand::Rng::with_seed(faults.seed)
    }
}

/// A response body that fails after the headers: the client sees the connection end
/// before a complete response, as when a load balancer drops it.
pub fn dropped_connection() -> axum::response::Response {
    let failing = futures_util::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "mock: dropped connection",
        ))
    });
    axum::response::Response::builder()
        .status(200)
        .header("content-length", "1024")
        .body(axum::body::Body::from_stream(failing))
        .expect("static response parts are valid")
}

/// Holds the requests to some operations until they are released: a test makes "a
/// write is in flight" last exactly as long as it needs (a signal sent, a token
/// cancelled), instead of racing added latency.
#[derive(Debug)]
pub struct Gate {
    held: tokio::sync::watch::Sender<std::collections::BTreeSet<String>>,
    waiting: Counters,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            held: tokio::sync::watch::Sender::new(std::collections::BTreeSet::new()),
            waiting: Counters::default(),
        }
    }
}

impl Gate {
    /// From now on, requests to `operation` wait at the gate.
    pub fn hold(&self, operation: &str) {
        self.held.send_modify(|h| {
            h.insert(operation.to_string());
        });
    }

    /// Lets the requests waiting for `operation` (and later ones) through.
    pub fn release(&self, operation: &str) {
        self.held.send_modify(|h| {
            h.remove(operation);
        });
    }

    /// Requests to `operation` waiting at the gate now.
    pub fn waiting(&self, operation: &str) -> u64 {
        self.waiting.get(operation)
    }

    /// Waits while `operation` is held.
    pub async fn pass(&self, operation: &str) {
        let mut held = self.held.subscribe();
        if !held.borrow().contains(operation) {
            return;
        }
        self.waiting.hit(operation);
        let _ = held.wait_for(|h| !h.contains(operation)).await;
        self.waiting.add(operation, -1);
    }
}
