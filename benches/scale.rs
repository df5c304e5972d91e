//! What govsync costs as the fleet grows, against both mock servers (in this
//! process) with 20 ms added to every request: for N linked models, per kind of
//! cycle, the API calls and wall time next to their floors; change propagation
//! while the real `govsync run` runs (a change on one side → the write on the other,
//! p50 and p99 over 100 changes each way); its peak resident memory; and the write
//! concurrency sweep behind `sync.concurrency`'s default.
//!
//! Run: `cargo bench --bench scale` (Linux; about 10 minutes), or one size or part:
//! `cargo bench --bench scale -- 10000`, `cargo bench --bench scale -- writes`,
//! `cargo bench --bench scale -- burst` (a burst of changes read by a minute of
//! incremental cycles), `cargo bench --bench scale -- shapes` (a fresh `reconcile`
//! over 10,000 models in 100 groups, and in one group), `cargo bench --bench scale -- events` (events in: latency
//! and a quiet fleet's calls with and without events; needs moto's server in the
//! test virtual environment, `GOVSYNC_TEST_PYTHON`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use govsync::engine::{CycleKind, CycleMemory, CycleOptions, CycleReport};
use govsync::mock::{Admin, Faults};
use govsync::store::Store;
use serde_json::json;

#[path = "../tests/support/mod.rs"]
mod support;

use support::remote::Mocks;

/// Added to every request at both mocks.
const LATENCY: Duration = Duration::from_millis(20);
/// Model package groups the fleet is spread over (the scope lists every group).
const GROUPS: [&str; 4] = ["churn", "fraud", "pricing", "risk"];
/// Changes per direction in the propagation run.
const CHANGES: usize = 100;

fn latency_faults() -> Faults {
    Faults {
        latency_ms: LATENCY.as_millis() as u64,
        ..Faults::default()
    }
}

/// Both mocks with N linked models in sync (Under Development / Development
/// InProgress), last changed 10 minutes ago, and 20 ms on every request; returns
/// the pairs (model ID, package ARN).
async fn fleet(n: usize) -> (Mocks, Vec<(String, String)>) {
    fleet_at(n, "Under Development", ("Development", "InProgress")).await
}

/// [`fleet`] with every pair at `status` and `lifecycle`.
async fn fleet_at(
    n: usize,
    status: &str,
    lifecycle: (&str, &str),
) -> (Mocks, Vec<(String, String)>) {
    fleet_in(&GROUPS, n, status, lifecycle).await
}

/// [`fleet_at`] spread over `groups` in turn.
async fn fleet_in(
    groups: &[&str],
    n: usize,
    status: &str,
    lifecycle: (&str, &str),
) -> (Mocks, Vec<(String, String)>) {
    let mocks = Mocks::start(groups).await;
    let pairs = (0..n)
        .map(|i| {
            mocks.pair(
                groups[i % groups.len()],
                &format!("model-{i}"),
                Some(status),
                Some(lifecycle),
            )
        })
        .collect();
    mocks.sm.age(Duration::from_secs(600));
    mocks.gov.age(Duration::from_secs(600));
    mocks.sm.set_faults(latency_faults()).expect("faults");
    mocks.gov.set_faults(latency_faults()).expect("faults");
    (mocks, pairs)
}

/// Calls the mocks served, by operation (SageMaker) and endpoint (governance).
fn calls(mocks: &Mocks) -> BTreeMap<String, u64> {
    let mut all = mocks.sm.counters().snapshot();
    for (k, v) in mocks.gov.counters().snapshot() {
        all.insert(format!("governance {k}"), v);
    }
    all
}

fn reset(mocks: &Mocks) {
    mocks.sm.counters().reset();
    mocks.gov.counters().reset();
}

fn total(calls: &BTreeMap<String, u64>) -> u64 {
    calls.values().sum()
}

fn brief(calls: &BTreeMap<String, u64>) -> String {
    let mut parts: Vec<String> = calls
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    parts.sort();
    parts.join(", ")
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// The engine over both mocks, its store, and what it keeps between cycles.
struct Bed {
    mocks: Mocks,
    engine: govsync::engine::LiveEngine,
    store: Store,
    memory: CycleMemory,
}

impl Bed {
    /// The engine `govsync run` builds over `mocks`, writing `concurrency` at once.
    fn new(mocks: Mocks, store: Store, concurrency: usize) -> Bed {
        let mut engine = mocks.live_engine(Arc::new(govsync::metrics::Metrics::new()));
        engine.settings.concurrency = concurrency;
        Bed {
            mocks,
            engine,
            store,
            memory: CycleMemory::new(Duration::from_secs(60)),
        }
    }

    /// Runs one cycle of `kind` and says what it cost.
    async fn run(&mut self, kind: CycleKind) -> (CycleReport, BTreeMap<String, u64>, Duration) {
        reset(&self.mocks);
        let started = Instant::now();
        let report = self
            .engine
            .run_cycle(
                Some(&mut self.store),
                &CycleOptions::default(),
                &mut self.memory,
                kind,
            )
            .await
            .expect("cycle");
        (report, calls(&self.mocks), started.elapsed())
    }
}

/// `sync.concurrency` when the configuration leaves it out.
fn default_concurrency() -> usize {
    govsync::config::Config::from_toml(
        "[governance]\nbase_url = \"https://example/opgrc/api/v2\"\nauth = { kind = \"basic\", username = \"u\", password_env = \"P\" }\n",
        std::path::Path::new("default.toml"),
        &[],
    )
    .expect("a minimal configuration")
    .sync
    .concurrency
}

/// Per kind of cycle: calls and wall time next to their floors.
async fn cycles(n: usize) {
    let (mocks, pairs) = fleet(n).await;
    let concurrency = default_concurrency();
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open_sqlite(dir.path().join("state.db").to_str().expect("path")).expect("store");
    let mut bed = Bed::new(mocks, store, concurrency);
    let rt = LATENCY.as_secs_f64() * 1000.0;
    let pages = n.div_ceil(100);
    let queries = n.div_ceil(500);
    // The longest chain of the parallel listing: SageMaker's pages in at most 8
    // chains, governance's pages 4 at a time (both sides at once).
    let chain = pages
        .div_ceil(govsync::sagemaker::listing::CHAINS_PER_LISTING)
        .max(queries.div_ceil(govsync::governance::listing::PAGES_AT_ONCE));
    let command = format!("cargo bench --bench scale -- {n}");
    reconcile_once(n, &GROUPS, "4 groups", &command).await;
    let (first, c, wall) = bed.run(CycleKind::Full).await;
    assert_eq!(first.summary().in_sync, n);
    // A first listing: the groups, then each group as a chain of its own, at once.
    let per_group = n.div_ceil(GROUPS.len()).div_ceil(100);
    let first_pages = 1 + GROUPS.len() * per_group;
    println!(
        "N={n:>6} full (first: by group)    {:>6} calls (floor {}: 1 ListModelPackageGroups + {} ListModelPackages + {queries} queries) {:>9} (floor {:.0} ms: 1 + {per_group} round trips)  [{command}]",
        total(&c),
        first_pages + queries,
        first_pages - 1,
        ms(wall),
        ((1 + per_group).max(queries.div_ceil(govsync::governance::listing::PAGES_AT_ONCE))) as f64
            * rt,
    );
    let (_, c, wall) = bed.run(CycleKind::Full).await;
    println!(
        "N={n:>6} full (parallel)           {:>6} calls (floor {}) {:>9} (floor {:.0} ms: {chain} round trips) = {:.2}x  [{}; up to {} SageMaker and {} governance requests in flight]",
        total(&c),
        pages + queries,
        ms(wall),
        chain as f64 * rt,
        wall.as_secs_f64() * 1000.0 / (chain as f64 * rt),
        brief(&c),
        bed.mocks.sm.counters().peak_in_flight(),
        bed.mocks.gov.counters().peak_in_flight(),
    );
    let (report, c, wall) = bed.run(CycleKind::Incremental).await;
    assert!(report.results.is_empty());
    println!(
        "N={n:>6} incremental, no change    {:>6} calls (floor 2) {:>9} (floor {rt:.0} ms: 1 round trip)  [{}]",
        total(&c),
        ms(wall),
        brief(&c),
    );
    // 50 changes on each side.
    let k = 100.min(n);
    for (i, pair) in pairs.iter().take(k).enumerate() {
        change(&bed.mocks, pair, i % 2 == 0);
    }
    let (report, c, wall) = bed.run(CycleKind::Incremental).await;
    assert_eq!(report.outcomes(&govsync::engine::Outcome::Applied), k);
    // Pushes take one round trip each, pulls two (the re-read, then the write).
    let rounds = (k / 2).div_ceil(concurrency) + (k / 2).div_ceil(concurrency) * 2;
    println!(
        "N={n:>6} incremental, {k} changes {:>6} calls (floor {}: 1 Search + 1 query + {k} writes + {} re-reads) {:>9} (floor {:.0} ms: 1 + {rounds} round trips at concurrency {concurrency})  [{}]",
        total(&c),
        2 + k + k / 2,
        k / 2,
        ms(wall),
        (1 + rounds) as f64 * rt,
        brief(&c),
    );
}

/// Development completes on one side of a pair in sync (Under Development /
/// Development/InProgress): a reviewer in governance, or a pipeline in SageMaker.
fn change(mocks: &Mocks, (id, arn): &(String, String), in_governance: bool) {
    if in_governance {
        mocks
            .gov
            .set_status(id, "Development Complete")
            .expect("console");
    } else {
        mocks
            .sm
            .call(
                "UpdateModelPackage",
                json!({ "ModelPackageArn": arn,
                        "ModelLifeCycle": { "Stage": "Development", "StageStatus": "Complete" } }),
            )
            .expect("pipeline");
    }
}

fn proc_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A one-shot `govsync reconcile` in a fresh process with no state (the CronJob, a
/// CI step, a terminal) over N linked models in sync spread over `groups`: its wall
/// time from start to exit, the calls, the latency floor and its peak RSS.
async fn reconcile_once(n: usize, groups: &[&str], shape: &str, command: &str) {
    let (mocks, _) = fleet_in(
        groups,
        n,
        "Under Development",
        ("Development", "InProgress"),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, _) = mocks.write_daemon_config(dir.path(), "", "");
    reset(&mocks);
    let started = Instant::now();
    let child = support::govsync_command(&["reconcile"], &config, dir.path())
        .env("GOVSYNC_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn govsync reconcile");
    let (status, resident) = tokio::task::spawn_blocking(move || wait_with_peak(child))
        .await
        .expect("join");
    let wall = started.elapsed();
    assert!(status == 0, "govsync reconcile exited {status}");
    let c = calls(&mocks);
    // The floor: the group listing, then the chains 8 at once (a group a chain; one
    // group alone: its oldest page, its newest package, then the rest in 8 spans),
    // beside governance's pages 4 at a time.
    let rt = LATENCY.as_secs_f64() * 1000.0;
    let at_once = govsync::sagemaker::listing::CHAINS_AT_ONCE;
    let (pages, sagemaker_rounds) = if groups.len() == 1 {
        let spans = govsync::sagemaker::listing::CHAINS_PER_LISTING;
        let rest = n.saturating_sub(100);
        (
            2 + rest.div_ceil(100),
            1 + 2 + rest.div_ceil(spans).div_ceil(100),
        )
    } else {
        let per_group = n.div_ceil(groups.len()).div_ceil(100).max(1);
        let pages = per_group * groups.len();
        (pages, 1 + per_group.max(pages.div_ceil(at_once)))
    };
    let queries = n.div_ceil(500);
    // Start-up checks the identity (STS) and the model type: a round trip at least.
    let rounds =
        1 + sagemaker_rounds.max(queries.div_ceil(govsync::governance::listing::PAGES_AT_ONCE));
    println!(
        "N={n:>6} reconcile, fresh process ({shape}) {:>6} calls (floor {}: 2 start-up checks + 1 ListModelPackageGroups + {pages} ListModelPackages + {queries} queries) {:>9} (floor {:.0} ms: {rounds} round trips) {resident}  [{}; {command}]",
        total(&c),
        3 + pages + queries,
        ms(wall),
        rounds as f64 * rt,
        brief(&c),
    );
}

/// Waits for `child` and returns its exit code and its peak resident memory: the
/// high-water mark (`VmHWM`), read every millisecond while it runs (only a peak in
/// its last millisecond would be missed), with what was resident when it was last
/// raised.
fn wait_with_peak(mut child: std::process::Child) -> (i32, Resident) {
    let mut peak = Resident::default();
    loop {
        let now = Resident::of(child.id());
        if now.peak > peak.peak {
            peak = now;
        }
        peak.cpu = peak.cpu.max(now.cpu);
        if let Some(status) = child.try_wait().expect("try_wait") {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A process's resident memory (KiB): its high-water mark, and what is resident now
/// of its own (heap, stacks) and of files (the binary's pages it touched); and the
/// CPU time it has used so far.
#[derive(Debug, Default, Clone, Copy)]
struct Resident {
    peak: u64,
    anon: u64,
    file: u64,
    cpu: Duration,
}

impl Resident {
    fn of(pid: u32) -> Resident {
        // utime and stime, the 14th and 15th fields of /proc/PID/stat, in clock
        // ticks (USER_HZ, 100 on Linux); the name before them may hold spaces.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ticks: u64 = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|t| t.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        Resident {
            peak: proc_kib(pid, "VmHWM:"),
            anon: proc_kib(pid, "RssAnon:"),
            file: proc_kib(pid, "RssFile:"),
            cpu: Duration::from_millis(ticks * 10),
        }
    }
}

impl std::fmt::Display for Resident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |kib: u64| kib as f64 / 1024.0;
        write!(
            f,
            "peak RSS {:.1} MiB (then: heap and stacks {:.1}, the binary's pages {:.1}); CPU {}",
            mib(self.peak),
            mib(self.anon),
            mib(self.file),
            ms(self.cpu)
        )
    }
}

/// The real `govsync run` (sync.interval 10 s, the default) over N models: 100
/// changes each way, 250 ms apart, each timed from the change to the write on the
/// other side; then its peak memory.
async fn propagation(n: usize) {
    let (mocks, pairs) = fleet(n).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, _) = mocks.write_daemon_config(dir.path(), "", "interval = \"10s\"");
    let mut child = support::govsync_run(&config, dir.path())
        .env("GOVSYNC_LOG", "error")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn govsync run");
    // The first (full) cycle has finished once governance saw its last query page.
    let deadline = Instant::now() + Duration::from_secs(600);
    while mocks.sm.counters().get("Search") == 0 {
        assert!(
            Instant::now() < deadline,
            "no incremental cycle within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let changes = CHANGES.min(n / 2);
    let mut pending: Vec<(usize, bool, Instant)> = Vec::new();
    let mut push = Vec::new();
    let mut pull = Vec::new();
    let mut next = 0;
    let mut next_at = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(300);
    while push.len() + pull.len() < 2 * changes {
        assert!(
            Instant::now() < deadline,
            "changes did not propagate within 5 minutes"
        );
        if next < 2 * changes && Instant::now() >= next_at {
            let governance_side = next % 2 == 0;
            change(&mocks, &pairs[next], governance_side);
            pending.push((next, governance_side, Instant::now()));
            next += 1;
            next_at += Duration::from_millis(250);
        }
        pending.retain(|&(i, governance_side, at)| {
            let (id, arn) = &pairs[i];
            let arrived = if governance_side {
                mocks
                    .sm
                    .call("DescribeModelPackage", json!({ "ModelPackageName": arn }))
                    .ok()
                    .is_some_and(|d| d["ModelLifeCycle"]["StageStatus"] == "Complete")
            } else {
                mocks.gov.status_of(id).as_deref() == Some("Development Complete")
            };
            if arrived {
                let took = at.elapsed();
                if governance_side {
                    push.push(took)
                } else {
                    pull.push(took)
                }
            }
            !arrived
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let resident = Resident::of(child.id());
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    push.sort();
    pull.sort();
    println!(
        "N={n:>6} propagation (sync.interval 10 s): governance → SageMaker p50 {:.1} s p99 {:.1} s; SageMaker → governance p50 {:.1} s p99 {:.1} s ({changes} changes each way); {resident}  [cargo bench --bench scale -- {n}]",
        percentile(&push, 0.5).as_secs_f64(),
        percentile(&push, 0.99).as_secs_f64(),
        percentile(&pull, 0.5).as_secs_f64(),
        percentile(&pull, 0.99).as_secs_f64(),
    );
}

/// A fresh `reconcile` over 10,000 models in two fleet shapes: 100 groups of 100
/// (each group a chain of one page) and one group of 10,000 (split into spans of
/// creation time).
async fn shapes() {
    let command = "cargo bench --bench scale -- shapes";
    let hundred: Vec<String> = (0..100).map(|i| format!("group-{i:03}")).collect();
    let hundred: Vec<&str> = hundred.iter().map(String::as_str).collect();
    reconcile_once(10_000, &hundred, "100 groups of 100", command).await;
    reconcile_once(10_000, &["one"], "1 group of 10,000", command).await;
}

/// Writes in flight at once vs the time 400 pushes take, with 20 ms per request,
/// unlimited and with a 20 requests/s limit per operation at the mock (throttling
/// without a retry-after hint: the SDK's own backoff, as against SageMaker).
async fn writes() {
    for rate_limit in [0.0, 20.0] {
        for concurrency in [1, 2, 4, 8, 16, 32] {
            let (mocks, pairs) = fleet(400).await;
            let mut bed = Bed::new(
                mocks,
                Store::open_sqlite(":memory:").expect("store"),
                concurrency,
            );
            bed.run(CycleKind::Full).await;
            for (id, _) in &pairs {
                bed.mocks
                    .gov
                    .set_status(id, "Development Complete")
                    .expect("console");
            }
            bed.mocks
                .sm
                .set_faults(Faults {
                    rate_limit,
                    ..latency_faults()
                })
                .expect("faults");
            let (report, c, wall) = bed.run(CycleKind::Incremental).await;
            println!(
                "writes: concurrency {concurrency:>2}, rate limit {}: 400 pushes in {:>8} ({} applied, {} UpdateModelPackage requests)  [cargo bench --bench scale -- writes]",
                if rate_limit > 0.0 {
                    format!("{rate_limit:.0}/s")
                } else {
                    "none".into()
                },
                ms(wall),
                report.outcomes(&govsync::engine::Outcome::Applied),
                c.get("UpdateModelPackage").copied().unwrap_or(0),
            );
        }
    }
}

/// A burst: 2,000 models seeded (both sides changed just now), a full cycle, then
/// incremental cycles every second for a minute with the default overlap, as
/// `govsync run` at `sync.interval = 1s` would: the calls each cycle pays to read
/// the burst again, and in all.
async fn burst() {
    const N: usize = 2_000;
    let mocks = Mocks::start(&GROUPS).await;
    for i in 0..N {
        mocks.pair(
            GROUPS[i % GROUPS.len()],
            &format!("model-{i}"),
            Some("Under Development"),
            Some(("Development", "InProgress")),
        );
    }
    mocks.sm.set_faults(latency_faults()).expect("faults");
    mocks.gov.set_faults(latency_faults()).expect("faults");
    let mut bed = Bed::new(mocks, Store::open_sqlite(":memory:").expect("store"), 4);
    bed.run(CycleKind::Full).await;
    let started = Instant::now();
    let mut per_cycle: Vec<u64> = Vec::new();
    let mut next = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep_until(next).await;
        next += Duration::from_secs(1);
        let (report, c, _) = bed.run(CycleKind::Incremental).await;
        assert_eq!(report.kind, CycleKind::Incremental);
        per_cycle.push(total(&c));
    }
    let paid: Vec<String> = per_cycle
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 2)
        .map(|(i, n)| format!("#{}: {n}", i + 1))
        .collect();
    println!(
        "burst: {N} models seeded just now, then {} incremental cycles in 60 s (interval 1 s, overlap 60 s): {} calls in all ({} a cycle when nothing new is read); cycles that read the burst again: {}  [cargo bench --bench scale -- burst]",
        per_cycle.len(),
        per_cycle.iter().sum::<u64>(),
        per_cycle.iter().min().copied().unwrap_or(0),
        paid.join(", "),
    );
}

/// Events in (`[sagemaker.events]`), 1,000 linked models, 20 ms per mock request,
/// SQS from moto's server: the latency from a SageMaker change (its event sent) to
/// the governance write, over 100 changes one at a time, with `sync.interval = 60s`;
/// then what a quiet fleet costs, with events (interval 60 s) and without (the
/// default 10 s), each measured over `QUIET` and scaled to an hour.
async fn events() {
    const N: usize = 1_000;
    const CHANGES: usize = 100;
    const QUIET: Duration = Duration::from_secs(180);
    let moto = support::moto::Moto::start().await;
    let queue = moto.queue("bench", Duration::from_secs(120), 5).await;
    let (mocks, pairs) = fleet_at(N, "Approved for Deployment", ("Deployment", "Approved")).await;
    let daemon = mocks
        .run_daemon_with(Duration::from_secs(60), |m| {
            (Some(mocks.event_queue(&queue.url, &moto.url, m)), None)
        })
        .await;
    let mut latencies = Vec::new();
    for (model, package) in pairs.iter().take(CHANGES) {
        mocks
            .sm
            .call(
                "UpdateModelPackage",
                json!({ "ModelPackageArn": package,
                        "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
            )
            .expect("update");
        let sent = Instant::now();
        moto.send(&queue.url, &support::moto::package_event(package, None))
            .await;
        while mocks.gov.status_of(model).as_deref() != Some("Deployed") {
            assert!(
                sent.elapsed() < Duration::from_secs(60),
                "no write within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    let cycles: Vec<&str> = daemon
        .status
        .borrow()
        .recent_cycles
        .iter()
        .map(|c| c.kind)
        .collect();
    println!(
        "events in, {N} models, 20 ms per mock request: a SageMaker change to its governance write, over {CHANGES} changes: p50 {}, p99 {}, max {} ({} scheduled cycles after the first ran meanwhile)  [cargo bench --bench scale -- events]",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().expect("latencies")),
        cycles
            .iter()
            .filter(|k| **k != "event")
            .count()
            .saturating_sub(1),
    );
    // A quiet fleet: nothing changes; count what each setting calls.
    let per_hour = |n: u64| n as f64 * 3600.0 / QUIET.as_secs_f64();
    let sqs_calls = |text: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with("govsync_remote_calls_total{system=\"sqs\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    reset(&mocks);
    let sqs_before = sqs_calls(&daemon.metrics.encode());
    tokio::time::sleep(QUIET).await;
    let with_events = calls(&mocks);
    let sqs = sqs_calls(&daemon.metrics.encode()) - sqs_before;
    daemon.stop().await;
    let polling = mocks
        .run_daemon_with(Duration::from_secs(10), |_| (None, None))
        .await;
    reset(&mocks);
    tokio::time::sleep(QUIET).await;
    let without = calls(&mocks);
    polling.stop().await;
    println!(
        "a quiet fleet of {N} models, calls per hour (measured over {} s each): events on at sync.interval = 60s: {:.0} to SageMaker and governance ({}) + {:.0} to SQS (long polls); events off at the default 10 s: {:.0} ({})  [cargo bench --bench scale -- events]",
        QUIET.as_secs(),
        per_hour(total(&with_events)),
        brief(&with_events),
        per_hour(sqs),
        per_hour(total(&without)),
        brief(&without),
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() && args.is_empty() {
        vec![1_000, 10_000, 50_000]
    } else {
        sizes
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "govsync at scale, 20 ms added to every request at both mocks (cargo bench --bench scale):"
    );
    for &n in &sizes {
        runtime.block_on(cycles(n));
        runtime.block_on(propagation(n));
    }
    if args.is_empty() || args.iter().any(|a| a == "shapes") {
        runtime.block_on(shapes());
    }
    if args.is_empty() || args.iter().any(|a| a == "writes") {
        runtime.block_on(writes());
    }
    if args.is_empty() || args.iter().any(|a| a == "burst") {
        runtime.block_on(burst());
    }
    if args.is_empty() || args.iter().any(|a| a == "events") {
        runtime.block_on(events());
    }
}
