//! The measurement behind the SDK retry defaults (`sagemaker.retry_mode`,
//! `sagemaker.max_attempts`): the SageMaker adapter lists 1,000 packages (10 pages)
//! from the mock while it injects the fault mix a user measured — 30 % throttling,
//! 10 % 5xx, 3 % dropped connections, 0–20 ms jitter — with the SDK's real back-off
//! (no retry-after hint). For each retry mode and `max_attempts` it prints how many
//! listings completed, how many pages had to be asked for again after the SDK gave up
//! (govsync's page retry), requests per listing, and the mean time per listing.
//!
//! Run: `cargo bench --bench retries` (GOVSYNC_BENCH_LISTINGS sets listings per row,
//! default 8).

use std::time::Instant;

use govsync::config::RetryMode;
use govsync::mock::sagemaker::{MockSageMaker, Options};
use govsync::mock::{Admin, Faults};
use govsync::sagemaker::{Registry, SageMakerRegistry};
use serde_json::json;

#[path = "../tests/support/mod.rs"]
mod support;

fn faults(seed: u64) -> Faults {
    Faults {
        throttle_rate: 0.3,
        error_rate: 0.1,
        drop_rate: 0.03,
        jitter_ms: 20,
        seed,
        ..Faults::default()
    }
}

#[tokio::main]
async fn main() {
    let listings: usize = std::env::var("GOVSYNC_BENCH_LISTINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let mock = MockSageMaker::new(Options::default()).expect("mock");
    let handle = mock.spawn_on_loopback().await.expect("serve");
    mock.call(
        "CreateModelPackageGroup",
        json!({ "ModelPackageGroupName": "g" }),
    )
    .expect("group");
    for _ in 0..1000 {
        mock.call(
            "CreateModelPackage",
            json!({ "ModelPackageGroupName": "g" }),
        )
        .expect("package");
    }
    println!(
        "cargo bench --bench retries: 1,000 packages (10 pages) per listing, {listings} listings per row, \
         faults 30% throttling / 10% 5xx / 3% drops / 0-20 ms jitter, SDK back-off as in production"
    );
    println!(
        "{:<9} {:>12} {:>10} {:>16} {:>20} {:>14}",
        "mode", "max_attempts", "completed", "pages re-asked", "requests/listing", "s/listing"
    );
    for mode in [RetryMode::Standard, RetryMode::Adaptive] {
        for max_attempts in [3u32, 5, 8, 10] {
            mock.set_faults(faults(u64::from(max_attempts) * 7 + 1))
                .expect("faults");
            let mut config = support::remote::sagemaker_config(&handle.url(), max_attempts);
            config.retry_mode = mode;
            let mut completed = 0;
            let mut requests = 0;
            let mut pages_again = 0;
            let started = Instant::now();
            for _ in 0..listings {
                // A fresh client per listing, as for a fresh process.
                mock.counters().reset();
                let metrics = std::sync::Arc::new(govsync::metrics::Metrics::new());
                let registry =
                    SageMakerRegistry::new(&mock.client_config(), &config, Some(metrics.clone()));
                if registry
                    .list_packages(&support::remote::scope(&[]))
                    .await
                    .is_ok()
                {
                    completed += 1;
                }
                let first = support::metric_sample(
                    &metrics.encode(),
                    "govsync_sagemaker_attempts_total{operation=\"ListModelPackages\",attempt=\"first\"}",
                )
                .unwrap_or(0.0) as usize;
                pages_again += first.saturating_sub(10);
                requests += mock.counters().get("ListModelPackages");
            }
            println!(
                "{:<9} {:>12} {:>7}/{:<2} {:>16} {:>20.1} {:>14.2}",
                format!("{mode:?}").to_lowercase(),
                max_attempts,
                completed,
                listings,
                pages_again,
                requests as f64 / listings as f64,
                started.elapsed().as_secs_f64() / listings as f64
            );
        }
    }
}
