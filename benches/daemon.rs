//! Sizing figures for the deployment manifests: the real `govsync run` binary against
//! both mock servers (in this process) with N linked models, in sync. Prints cycle
//! durations from the daemon's own /metrics and its peak resident memory (VmHWM from
//! /proc) after a few cycles, the last of which pushes a change to 10% of the models.
//!
//! Run: `cargo bench --bench daemon` (Linux).

use std::time::{Duration, Instant};

use govsync::mock::Admin;

#[path = "../tests/support/mod.rs"]
mod support;

const GROUPS: [&str; 4] = ["churn", "fraud", "pricing", "risk"];

fn proc_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn metrics(url: &str) -> String {
    match reqwest::get(url).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_cycles(url: &str, n: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let text = metrics(url).await;
        if support::metric_sample(&text, "govsync_cycle_duration_seconds_count")
            .is_some_and(|c| c >= n)
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not finish {n} cycles"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn measure(binary: &std::path::Path, n: usize) {
    let mocks = support::remote::Mocks::start(&GROUPS).await;
    let ids: Vec<String> = (0..n)
        .map(|i| {
            mocks
                .pair(
                    GROUPS[i % GROUPS.len()],
                    &format!("m{i}"),
                    Some("Under Development"),
                    Some(("Development", "InProgress")),
                )
                .0
        })
        .collect();
    let (sm, gov) = (&mocks.sm, &mocks.gov);
    let dir = tempfile::tempdir().expect("tempdir");
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = dir.path().join("govsync.toml");
    std::fs::write(
        &config,
        format!(
            "[governance]\nbase_url = \"{}\"\nauth = {{ kind = \"basic\", username = \"govsync\", password_env = \"PW\" }}\n\
             [sagemaker]\nregion = \"us-east-1\"\nendpoint_url = \"{sm}\"\nsts_endpoint_url = \"{sm}\"\n\
             [sync]\ninterval = \"1s\"\n\
             [state]\npath = \"{}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n",
            mocks.governance_url(),
            dir.path().join("state.db").display(),
            sm = mocks.sm_handle.url(),
        ),
    )
    .expect("config");
    let mut child = std::process::Command::new(binary)
        .args(["run", "--config"])
        .arg(&config)
        .env("PW", "pw")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("GOVSYNC_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn govsync run");
    let url = format!("http://127.0.0.1:{port}/metrics");
    let in_sync = wait_cycles(&url, 3.0).await;
    let quiet_sum =
        support::metric_sample(&in_sync, "govsync_cycle_duration_seconds_sum").unwrap_or(0.0);
    let quiet_rss = proc_kib(child.id(), "VmHWM:");
    let changed = n / 10;
    for id in ids.iter().take(changed) {
        gov.set_status(id, "Development Complete").expect("status");
    }
    let after = wait_cycles(&url, 5.0).await;
    let total = support::metric_sample(&after, "govsync_cycle_duration_seconds_sum").unwrap_or(0.0);
    let peak = proc_kib(child.id(), "VmHWM:");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    println!(
        "N={n:>5}: mean in-sync cycle {:>6.1} ms (3 cycles); peak RSS {:>6.1} MiB in sync, {:>6.1} MiB after \
         2 more cycles that pushed {changed} changes (cycles took {:.1} ms in all); \
         mock counters: {} ListModelPackages, {} governance queries, {} UpdateModelPackage",
        quiet_sum / 3.0 * 1000.0,
        quiet_rss as f64 / 1024.0,
        peak as f64 / 1024.0,
        (total - quiet_sum) * 1000.0,
        sm.counters().get("ListModelPackages"),
        gov.counters().get("query"),
        sm.counters().get("UpdateModelPackage"),
    );
}

fn main() {
    // Cargo builds the binary with this bench's profile (release) and sets its path.
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_govsync"));
    println!("govsync run against in-process mocks (cargo bench --bench daemon):");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for n in [1_000, 5_000] {
        runtime.block_on(measure(binary, n));
    }
}
