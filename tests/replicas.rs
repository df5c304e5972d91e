//! Two replicas, one writer, with the real binary: two `govsync run` processes on
//! one PostgreSQL database (a throwaway server) against both mocks.
//!
//! - One leads and writes, the other stands by (ready, `govsync_leader 0`); the
//!   leader is SIGKILLed mid-cycle, the standby leads (the time it took printed),
//!   every write
//!   the mocks received is journaled exactly once, and the end state is exact.
//! - A leader whose database session is cut writes nothing more.
//!
//! Every wait is on a condition (a metric, /readyz, the mocks) with a deadline far
//! beyond the design bounds; the times measured are printed, not asserted.

mod support;

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use govsync::mock::{Admin, Faults};
use govsync::store::{HistoryFilter, StateStore};
use support::postgres::{PASSWORD, PASSWORD_ENV, Postgres};
use support::remote::{Mocks, at_stage, drained, journaled, received, tail, total};
use tokio::time::Instant;

/// The leader's advisory lock (`govsync::store::postgres::LEADER_KEY`), as SQL takes it.
const LEADER_KEY: &str = "29114477135359587";
/// `state.lease` of the replicas: 3 s, or `GOVSYNC_TEST_LEASE_SECONDS` (to measure
/// fail-over at another lease, e.g. the default 15).
fn lease_seconds() -> u64 {
    std::env::var("GOVSYNC_TEST_LEASE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

struct Replica {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Replica {
    fn start(config: &Path, dir: &Path, instance: &str) -> Replica {
        let port = support::free_port();
        let log = dir.join(format!("{instance}.log"));
        let child = support::govsync_run(config, dir)
            .env(PASSWORD_ENV, PASSWORD)
            .env("GOVSYNC_STATE_INSTANCE", instance)
            .env("GOVSYNC_SERVER_LISTEN", format!("127.0.0.1:{port}"))
            .env("GOVSYNC_LOG", "info")
            .env("GOVSYNC_LOG_FORMAT", "human")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn govsync");
        Replica { child, port, log }
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::get(format!("http://127.0.0.1:{}{path}", self.port))
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    async fn leader_gauge(&self) -> Option<f64> {
        let (_, text) = self.get("/metrics").await?;
        support::metric_sample(&text, "govsync_leader")
    }

    /// How many times it has tried to take the leader's lock (0 while it does not answer).
    async fn lead_attempts(&self) -> f64 {
        let Some((_, text)) = self.get("/metrics").await else {
            return 0.0;
        };
        support::metric_sample(&text, "govsync_lead_attempts_total").unwrap_or(0.0)
    }

    /// Sends `kill`'s signal `name` (e.g. `-STOP`) to the process.
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {name}");
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a replica test waits for any one thing to happen before it fails: far
/// beyond every bound the design gives (the times measured are printed, not
/// asserted against a window).
const DEADLINE: Duration = Duration::from_secs(90);

/// Waits (bounded) until `check` holds.
async fn until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Two replicas' world: a throwaway server with database `ha`, both mocks with 60
/// packages to push slowly, and the replicas' config.
struct Bed {
    pg: Postgres,
    mocks: Mocks,
    pushes: Vec<String>,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Bed {
    async fn new() -> Bed {
        let pg = Postgres::start();
        pg.database("ha");
        let mocks = Mocks::start(&["g"]).await;
        let pushes = (0..60)
            .map(|i| {
                mocks
                    .pair("g", &format!("push-{i}"), Some("Proposed"), None)
                    .1
            })
            .collect();
        // Slow writes, so that a cycle's write phase lasts long enough to be cut.
        mocks
            .sm
            .set_faults(Faults {
                latency_ms: 40,
                ..Faults::default()
            })
            .expect("faults");
        let dir = tempfile::tempdir().expect("tempdir");
        let (config, state) = mocks.write_daemon_config(
            dir.path(),
            "max_attempts = 10",
            "interval = \"1s\"\nconcurrency = 2",
        );
        let text = std::fs::read_to_string(&config).expect("config");
        let text = text.replace(
            &format!("path = \"{}\"", state.display()),
            &format!(
                "url = \"{}\"\npassword_env = \"{PASSWORD_ENV}\"\nlease = \"{}s\"",
                pg.url("ha"),
                lease_seconds()
            ),
        );
        std::fs::write(&config, text).expect("config");
        Bed {
            pg,
            mocks,
            pushes,
            dir,
            config,
        }
    }

    fn start(&self, instance: &str) -> Replica {
        Replica::start(&self.config, self.dir.path(), instance)
    }

    /// Whose session holds the leader's lock.
    fn leader(&self) -> String {
        self.pg.psql(
            "ha",
            &format!(
                "SELECT substr(application_name, 9) FROM pg_locks JOIN pg_stat_activity USING (pid)
                 WHERE locktype = 'advisory' AND granted AND objid = ({LEADER_KEY}::bigint & 4294967295)::oid"
            ),
        )
    }

    /// Waits until `instance` leads, within `bound` (`after` says of what), and
    /// returns how long that took.
    async fn leads_within(&self, instance: &str, after: &str, bound: Duration) -> Duration {
        until(&format!("{instance} leads {after}"), bound, async || {
            self.leader() == instance
        })
        .await
    }

    /// pod-a, leading, then pod-b, started once pod-a leads.
    async fn leader_and_standby(&self) -> (Replica, Replica) {
        let a = self.start("pod-a");
        self.leads_within("pod-a", "at start", DEADLINE).await;
        (a, self.start("pod-b"))
    }

    /// Writes the mocks received so far.
    fn landed(&self) -> usize {
        total(&received(&self.mocks))
    }

    /// Waits until at least `n` writes landed (and not all: mid-cycle).
    async fn mid_cycle(&self, n: usize) -> usize {
        until("writes land", DEADLINE, async || self.landed() >= n).await;
        let landed = self.landed();
        assert!(landed < self.pushes.len(), "mid-cycle ({landed} landed)");
        landed
    }

    /// Waits until every package is at its target and no intent is open.
    async fn converged(&self) {
        until("converged", DEADLINE, async || {
            at_stage(&self.mocks, &self.pushes, "Proposal")
                && self.pg.psql("ha", "SELECT count(*) FROM intent") == "0"
        })
        .await;
    }

    /// Every write the mocks received is journaled exactly once, and nothing else.
    async fn assert_journaled_once(&self, log: &Path) {
        drained(&self.mocks).await;
        let received = received(&self.mocks);
        assert_eq!(
            total(&received),
            self.pushes.len(),
            "each package was written once, by one replica at a time; the log ends:\n{}",
            tail(log)
        );
        let mut store = govsync::store::PgStore::open_reader(
            &govsync::store::PgTarget::new(
                &self.pg.url("ha"),
                Some(&secrecy::SecretString::from(PASSWORD)),
                "test-reader",
                Duration::from_secs(lease_seconds()),
            )
            .expect("target"),
            govsync::store::Reads::Everything,
        )
        .await
        .expect("read the journal")
        .expect("the store exists");
        let entries = store
            .history(&HistoryFilter::default())
            .await
            .expect("history");
        assert_eq!(journaled(&entries), received);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_a_killed_leader_and_every_write_is_journaled_once() {
    let bed = Bed::new().await;
    let (a, b) = bed.leader_and_standby().await;
    // The standby is up, ready, and says who leads; it does not lead.
    until("pod-b stands by", DEADLINE, async || {
        b.get("/readyz").await.is_some_and(|(status, body)| {
            status == 200 && body.contains("standby") && body.contains("pod-a")
        })
    })
    .await;
    assert_eq!(b.leader_gauge().await, Some(0.0));
    assert_eq!(a.leader_gauge().await, Some(1.0));

    let landed = bed.mid_cycle(10).await;
    a.kill();
    let failover = bed
        .leads_within("pod-b", "after pod-a was killed", DEADLINE)
        .await;
    eprintln!(
        "fail-over: pod-b led {} ms after pod-a was SIGKILLed (lease {} s; {landed} of {} writes had landed)",
        failover.as_millis(),
        lease_seconds(),
        bed.pushes.len()
    );
    // pod-b finishes the job.
    bed.converged().await;
    assert_eq!(b.leader_gauge().await, Some(1.0));
    let log = b.log.clone();
    b.kill();
    bed.assert_journaled_once(&log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_loses_the_lead_and_its_successor_finishes() {
    let bed = Bed::new().await;
    let (a, b) = bed.leader_and_standby().await;
    bed.mid_cycle(10).await;
    // Frozen (a stopped process, a stalled VM): its connection stays open, nothing
    // answers on it. The server ends the idle session after a lease.
    a.signal("-STOP");
    let takeover = bed
        .leads_within("pod-b", "after pod-a froze", DEADLINE)
        .await;
    eprintln!(
        "frozen leader: pod-b led {} ms after pod-a was stopped (lease {} s)",
        takeover.as_millis(),
        lease_seconds()
    );
    // It wakes up to a session the server ended: it stands by.
    a.signal("-CONT");
    until("pod-a stands by", DEADLINE, async || {
        a.leader_gauge().await == Some(0.0)
    })
    .await;
    bed.converged().await;
    let log = a.log.clone();
    a.kill();
    b.kill();
    bed.assert_journaled_once(&log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_database_session_is_cut_writes_nothing_more() {
    let bed = Bed::new().await;
    let pg = &bed.pg;
    let a = bed.start("pod-a");
    bed.mid_cycle(5).await;
    // Someone else waits for the lock, then the leader's session is cut: the waiter
    // gets the lock at once and keeps it, so pod-a cannot lead again.
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec '{}' -X -q -h '{}' -p 5432 -U govsync -d ha -c 'SELECT pg_advisory_lock({LEADER_KEY})' -c 'SELECT pg_sleep(60)'",
            pg.psql_path().display(),
            pg.socket_dir().display()
        ))
        .env("PGPASSWORD", PASSWORD)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql");
    until("the holder waits for the lock", DEADLINE, async || {
        pg.psql(
            "ha",
            &format!("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = ({LEADER_KEY}::bigint & 4294967295)::oid"),
        ) == "1"
    })
    .await;
    pg.psql(
        "ha",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'govsync pod-a'",
    );
    // It learns it no longer leads (its session is gone); the requests it had in
    // flight then finish, and what has landed is counted.
    until("pod-a knows it lost the lead", DEADLINE, async || {
        a.leader_gauge().await == Some(0.0)
    })
    .await;
    drained(&bed.mocks).await;
    let at_cut = bed.landed();
    assert!(at_cut < bed.pushes.len(), "the cut should land mid-cycle");
    // It keeps trying to lead (the holder keeps the lock): after two more tries it
    // has still written nothing.
    let tries = a.lead_attempts().await;
    until("pod-a tries to lead twice more", DEADLINE, async || {
        a.lead_attempts().await >= tries + 2.0
    })
    .await;
    drained(&bed.mocks).await;
    assert_eq!(
        bed.landed(),
        at_cut,
        "no write after the cut; pod-a's log ends:\n{}",
        tail(&a.log)
    );
    // It knows it no longer leads, and says so.
    assert_eq!(a.leader_gauge().await, Some(0.0));
    let (_, ready) = a.get("/readyz").await.expect("readyz");
    assert!(ready.contains("standby"), "{ready}");
    let _ = holder.kill();
    let _ = holder.wait();
    a.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_by_sigterm_records_its_writes_and_hands_over() {
    let bed = Bed::new().await;
    let (mut a, b) = bed.leader_and_standby().await;
    bed.mid_cycle(10).await;
    // A rolling update: the old pod gets SIGTERM.
    a.signal("-TERM");
    let stopped = Instant::now();
    let code = a.child.wait().expect("wait").code();
    assert_eq!(code, Some(0), "pod-a's log ends:\n{}", tail(&a.log));
    let handover = bed
        .leads_within("pod-b", "after pod-a stopped", DEADLINE)
        .await;
    eprintln!(
        "hand-over: pod-b led {} ms after pod-a exited ({} ms after SIGTERM)",
        handover.as_millis(),
        stopped.elapsed().as_millis()
    );
    bed.converged().await;
    let log = b.log.clone();
    b.kill();
    bed.assert_journaled_once(&log).await;
}
