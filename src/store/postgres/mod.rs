//! The PostgreSQL store: the same schema as SQLite's, for several replicas on one
//! database, one of which leads ([`Election`]).
//!
//! A store that writes holds one dedicated connection, and on it the leader's
//! session-level advisory lock ([`LEADER_KEY`]). Every intent is inserted only if
//! that same session still holds the lock (`pg_locks`, `pid = pg_backend_pid()`),
//! and every cycle's record checks it in its transaction: a process whose session
//! is gone (killed by the server, cut by the network, taken over) records no intent,
//! and so starts no write. A write in flight when that happens is resolved by the
//! next leader through its open intent.
//!
//! The schema is the one SQLite keeps ([`super::schema`]), plus the leader row's
//! table; each migration runs in a transaction under a transaction-level advisory
//! lock, so replicas starting together migrate once.

mod contract;
mod election;

pub use election::{Election, Lead};

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::{Reads, SCHEMA_VERSION, StoreError, now_rfc3339};

/// The session-level advisory lock the leader holds ("govsync" in ASCII).
pub const LEADER_KEY: i64 = 0x0067_6f76_7379_6e63;
/// The transaction-level advisory lock migrations take.
const MIGRATION_KEY: i64 = LEADER_KEY + 1;
/// Longest any one store operation may take before the connection is given up.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Who leads now: the lock says it, this row says who (for the standbys' status).
/// PostgreSQL's own table, created with the schema's second step.
const LEADER_TABLE: &str = "
    CREATE TABLE leader (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        instance     TEXT NOT NULL,
        since        TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    );
";

/// `EXISTS`: this session holds the leader's lock (`$1` is [`LEADER_KEY`]).
const HOLDS_LOCK: &str = "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
    AND pid = pg_backend_pid() AND granted AND objsubid = 1
    AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295))";

/// A query with its arguments bound.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Where the database is, and how to log in (the password from `state.password_env`
/// or `_file`, never from the URL).
#[derive(Clone)]
pub struct PgTarget {
    options: PgConnectOptions,
    /// `host:port/dbname`, for messages.
    pub name: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl PgTarget {
    /// A target from a `postgres://` URL without a password (TLS from its `sslmode`
    /// and `sslrootcert`), the password, and this process's instance name (the
    /// session's `application_name`). `keepalive` bounds how long the server keeps
    /// the session of a leader whose host vanished.
    pub fn new(
        url: &str,
        password: Option<&SecretString>,
        instance: &str,
        keepalive: Duration,
    ) -> Result<PgTarget, String> {
        let mut options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
        if let Some(password) = password {
            options = options.password(password.expose_secret());
        }
        let seconds = keepalive.as_secs().max(1);
        let name = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let options = options
            .application_name(&format!("govsync {instance}"))
            // A dead peer is noticed by the server within about `keepalive`.
            .options([
                ("tcp_keepalives_idle", seconds.to_string()),
                ("tcp_keepalives_interval", (seconds / 3).max(1).to_string()),
                ("tcp_keepalives_count", "3".to_string()),
                ("tcp_user_timeout", (seconds * 1000).to_string()),
            ])
            .disable_statement_logging();
        Ok(PgTarget { options, name })
    }

    /// A new connection.
    pub async fn connect(&self) -> Result<PgConnection, StoreError> {
        match tokio::time::timeout(OPERATION_TIMEOUT, PgConnection::connect_with(&self.options))
            .await
        {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(pg_error(&self.name, &e)),
            Err(_) => Err(StoreError::Postgres {
                target: self.name.clone(),
                reason: format!(
                    "no connection within {}",
                    humantime::format_duration(OPERATION_TIMEOUT)
                ),
            }),
        }
    }
}

/// What an attempt to take the leader's lock found.
pub enum Lock {
    /// This session took it: the store writes as the leader.
    Taken(PgStore),
    /// Another session holds it: the connection, to try again on.
    Held(PgConnection),
}

/// Who leads, as the leader row says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeaderRow {
    /// Its instance name (pod name, task ID, host:pid).
    pub instance: String,
    /// Since when (RFC 3339).
    pub since: String,
    /// Its last heartbeat (RFC 3339).
    pub heartbeat_at: String,
}

/// The PostgreSQL store.
pub struct PgStore {
    conn: Arc<Mutex<PgConnection>>,
    target: String,
    /// Whether this store may write: it holds the leader's lock.
    leads: bool,
    /// Cancelled once the connection failed or the lock is gone.
    lost: CancellationToken,
    /// Applied writes also go to the outbox (events out).
    pub(in crate::store) outbox: bool,
}

impl PgStore {
    /// Migrates the database on `conn` (once, whoever comes first) and refuses one
    /// written by a newer govsync.
    pub async fn migrate(conn: &mut PgConnection, target: &str) -> Result<(), StoreError> {
        let fail = |e: sqlx::Error| pg_error(target, &e);
        let mut tx = conn.begin().await.map_err(fail)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_KEY)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS govsync_schema (version BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM govsync_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(fail)?;
        let version = version.unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: target.to_string(),
                found: version,
            });
        }
        let steps =
            crate::store::schema::migrations("BIGSERIAL PRIMARY KEY", ["", LEADER_TABLE, ""]);
        for (i, sql) in steps.enumerate().skip(version as usize) {
            // One statement at a time (the extended protocol takes one).
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            sqlx::query("DELETE FROM govsync_schema")
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            sqlx::query("INSERT INTO govsync_schema (version) VALUES ($1)")
                .bind((i + 1) as i64)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    /// Tries once to take the leader's lock on `conn` (already migrated). Taken: the
    /// store writes as the leader and `instance` is recorded as such.
    pub async fn try_lock(
        mut conn: PgConnection,
        target: &str,
        instance: &str,
    ) -> Result<Lock, StoreError> {
        let fail = |e: sqlx::Error| pg_error(target, &e);
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_KEY)
            .fetch_one(&mut conn)
            .await
            .map_err(fail)?;
        if !got {
            return Ok(Lock::Held(conn));
        }
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO leader (id, instance, since, heartbeat_at) VALUES (1, $2, $3, $3)
             ON CONFLICT (id) DO UPDATE SET instance = $2, since = $3, heartbeat_at = $3",
        )
        .bind(LEADER_KEY)
        .bind(instance)
        .bind(&now)
        .execute(&mut conn)
        .await
        .map_err(fail)?;
        Ok(Lock::Taken(PgStore {
            conn: Arc::new(Mutex::new(conn)),
            target: target.to_string(),
            leads: true,
            lost: CancellationToken::new(),
            outbox: false,
        }))
    }

    /// A store that only reads (`govsync history`, the source of `state copy`, a
    /// dry run's baseline), beside a running leader: no lock, no migration, nothing
    /// created. `Ok(None)`: no govsync has created its schema yet. A schema this
    /// build cannot read for `reads` is an error that says what to do.
    pub async fn open_reader(
        target: &PgTarget,
        reads: Reads,
    ) -> Result<Option<PgStore>, StoreError> {
        let mut conn = target.connect().await?;
        let fail = |e: sqlx::Error| pg_error(&target.name, &e);
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('govsync_schema') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .map_err(fail)?;
        let version: Option<i64> = if exists {
            sqlx::query_scalar("SELECT max(version) FROM govsync_schema")
                .fetch_one(&mut conn)
                .await
                .map_err(fail)?
        } else {
            None
        };
        let version = version.unwrap_or(0);
        if version == 0 {
            return Ok(None);
        }
        reads.check(&target.name, version)?;
        Ok(Some(PgStore {
            conn: Arc::new(Mutex::new(conn)),
            target: target.name.clone(),
            leads: false,
            lost: CancellationToken::new(),
            outbox: false,
        }))
    }

    /// Who leads, as the leader row says (`None` before anyone led).
    pub async fn leader_row(
        conn: &mut PgConnection,
        target: &str,
    ) -> Result<Option<LeaderRow>, StoreError> {
        let row = sqlx::query("SELECT instance, since, heartbeat_at FROM leader WHERE id = 1")
            .fetch_optional(conn)
            .await
            .map_err(|e| pg_error(target, &e))?;
        row.map(|r| {
            Ok(LeaderRow {
                instance: r.try_get(0)?,
                since: r.try_get(1)?,
                heartbeat_at: r.try_get(2)?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| pg_error(target, &e))
    }

    /// Another handle on the same session (the heartbeat's).
    pub(crate) fn beat_handle(&self) -> PgStore {
        PgStore {
            conn: self.conn.clone(),
            target: self.target.clone(),
            leads: self.leads,
            lost: self.lost.clone(),
            outbox: self.outbox,
        }
    }

    /// Whether the store this handle was taken from is gone (the heartbeat's ends).
    pub(crate) fn orphaned(&self) -> bool {
        Arc::strong_count(&self.conn) == 1
    }

    /// Cancelled once this store's session is gone or no longer leads.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// The database, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The leader's heartbeat: confirms the lock is still held on this session and
    /// stamps the leader row. Any failure, or a lock no longer held, cancels
    /// [`PgStore::lost`].
    pub async fn heartbeat(&self, instance: &str, timeout: Duration) -> Result<(), StoreError> {
        // Waits for an operation in progress first (the session is not idle then, and
        // that operation has a timeout of its own); only the heartbeat's own answer
        // is held to `timeout`.
        let mut conn = self.conn.lock().await;
        let sql = format!(
            "UPDATE leader SET heartbeat_at = $3 WHERE id = 1 AND instance = $2 AND {HOLDS_LOCK}"
        );
        let run = sqlx::query(&sql)
            .bind(LEADER_KEY)
            .bind(instance)
            .bind(now_rfc3339())
            .execute(&mut *conn);
        let result = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(done)) if done.rows_affected() == 1 => return Ok(()),
            Ok(Ok(_)) => StoreError::NotLeader {
                target: self.target.clone(),
            },
            Ok(Err(e)) => pg_error(&self.target, &e),
            Err(_) => StoreError::Postgres {
                target: self.target.clone(),
                reason: format!(
                    "the heartbeat got no answer within {}",
                    humantime::format_duration(timeout)
                ),
            },
        };
        self.lost.cancel();
        Err(result)
    }

    /// The connection, for one operation (refused once the lead is lost).
    async fn conn(&self) -> Result<tokio::sync::MutexGuard<'_, PgConnection>, StoreError> {
        if self.lost.is_cancelled() && self.leads {
            return Err(StoreError::NotLeader {
                target: self.target.clone(),
            });
        }
        Ok(self.conn.lock().await)
    }

    /// Runs one operation within [`OPERATION_TIMEOUT`]. A failure of the connection
    /// itself marks the store lost.
    async fn settle<T>(
        &self,
        op: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(OPERATION_TIMEOUT, op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if connection_failed(&e) {
                    self.lost.cancel();
                }
                Err(pg_error(&self.target, &e))
            }
            Err(_) => {
                self.lost.cancel();
                Err(StoreError::Postgres {
                    target: self.target.clone(),
                    reason: format!(
                        "no answer within {}",
                        humantime::format_duration(OPERATION_TIMEOUT)
                    ),
                })
            }
        }
    }

    /// The rows of one query, each decoded by `decode`.
    async fn rows<T>(
        &self,
        query: PgQuery<'_>,
        decode: fn(&PgRow) -> Result<T, sqlx::Error>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = {
            let mut conn = self.conn().await?;
            self.settle(query.fetch_all(&mut *conn)).await?
        };
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .map_err(|e| pg_error(&self.target, &e))
    }

    fn must_lead(&self) -> Result<(), StoreError> {
        if self.leads {
            Ok(())
        } else {
            Err(StoreError::Postgres {
                target: self.target.clone(),
                reason: "opened to read only".into(),
            })
        }
    }

    fn not_leader(&self) -> StoreError {
        self.lost.cancel();
        StoreError::NotLeader {
            target: self.target.clone(),
        }
    }
}

/// Whether the error means the connection itself is gone (not a refused statement).
fn connection_failed(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::WorkerCrashed => true,
        // Class 57 (operator intervention: terminated, shut down) and 08 (connection
        // exception).
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("57") || c.starts_with("08")),
        _ => false,
    }
}

/// A driver or server error, naming the database (never its password).
pub(super) fn pg_error(target: &str, e: &sqlx::Error) -> StoreError {
    StoreError::Postgres {
        target: target.to_string(),
        reason: e.to_string(),
    }
}

/// The store's futures are `Send` (the daemon runs on a multi-threaded runtime): a
/// compile-time check that names the method when one is not.
#[cfg(test)]
#[allow(dead_code, clippy::all)]
mod send_check {
    use super::*;
    use crate::domain::ModelId;
    use crate::plan::BaselineEntry;
    use crate::store::{HistoryFilter, Import, Intent, JournalEntry, StateStore};
    fn send<T: Send>(_: T) {}
    fn a(s: &mut PgStore) {
        send(s.baseline())
    }
    fn b(s: &mut PgStore, m: &[&ModelId]) {
        send(s.baseline_of(m))
    }
    fn c(s: &mut PgStore) {
        send(s.baseline_rows())
    }
    fn d(s: &mut PgStore, b: &[(ModelId, BaselineEntry)], e: &[JournalEntry]) {
        send(s.record(b, e))
    }
    fn e(s: &mut PgStore, i: &Intent) {
        send(s.record_intent(i))
    }
    fn f(s: &mut PgStore, e: Option<&str>) {
        send(s.complete_intent(1, "x", e))
    }
    fn g(s: &mut PgStore) {
        send(s.open_intents())
    }
    fn h(s: &mut PgStore, f: &HistoryFilter) {
        send(s.history(f))
    }
    fn i(s: &mut PgStore, m: &[&str]) {
        send(s.latest_entries(m))
    }
    fn j(s: &mut PgStore) {
        send(s.recent_journal(1))
    }
    fn k(s: &mut PgStore) {
        send(s.journal_page(1, 1))
    }
    fn l(s: &mut PgStore) {
        send(s.journal_len())
    }
    fn m(s: &mut PgStore, r: &Import) {
        send(s.import(r))
    }
    fn n(s: &PgStore) {
        send(s.heartbeat("x", Duration::ZERO))
    }
    fn o(e: &mut Election) {
        send(e.try_lead())
    }
}
