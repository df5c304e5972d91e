//! The PostgreSQL store: the same schema as SQLite's, for several replicas on one
//! database, one of which leads ([`crate::leader`]).
//!
//! A store that writes holds one dedicated connection, and on it the leader's
//! session-level advisory lock ([`LEADER_KEY`]). Every intent is inserted only if
//! that same session still holds the lock (`pg_locks`, `pid = pg_backend_pid()`),
//! and every cycle's record checks it in its transaction: a process whose session
//! is gone (killed by the server, cut by the network, taken over) records no intent,
//! and so starts no write. A write in flight when that happens is resolved by the
//! next leader through its open intent.
//!
//! Migrations are numbered like SQLite's; each runs in a transaction under a
//! transaction-level advisory lock, so replicas starting together migrate once.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::{
    BaselineRow, HistoryFilter, Import, Intent, IntentRow, JournalEntry, LatestEntry, OpenIntent,
    SCHEMA_VERSION, StateStore, StoreError, WriteSystem, now_rfc3339,
};
use crate::domain::ModelId;
use crate::plan::{Baseline, BaselineEntry};

/// The session-level advisory lock the leader holds ("govsync" in ASCII).
pub const LEADER_KEY: i64 = 0x0067_6f76_7379_6e63;
/// The transaction-level advisory lock migrations take.
const MIGRATION_KEY: i64 = LEADER_KEY + 1;
/// Longest any one store operation may take before the connection is given up.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

const MIGRATIONS: [&str; 2] = [
    "
    CREATE TABLE baseline (
        model_id          TEXT PRIMARY KEY,
        package_arn       TEXT NOT NULL,
        governance_status TEXT NOT NULL,
        stage             TEXT NOT NULL,
        stage_status      TEXT NOT NULL,
        updated_at        TEXT NOT NULL
    );
    CREATE TABLE journal (
        seq         BIGSERIAL PRIMARY KEY,
        at          TEXT NOT NULL,
        model_id    TEXT NOT NULL,
        model_name  TEXT NOT NULL,
        package_arn TEXT NOT NULL,
        action      TEXT NOT NULL,
        from_value  TEXT,
        to_value    TEXT,
        reason      TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        error       TEXT
    );
    CREATE INDEX journal_model ON journal (model_id, seq);
    CREATE INDEX journal_at ON journal (at);
",
    "
    CREATE TABLE intent (
        id          BIGSERIAL PRIMARY KEY,
        at          TEXT NOT NULL,
        cycle       TEXT NOT NULL,
        model_id    TEXT NOT NULL,
        model_name  TEXT NOT NULL,
        package_arn TEXT NOT NULL,
        system      TEXT NOT NULL CHECK (system IN ('governance', 'sagemaker')),
        action      TEXT NOT NULL,
        from_value  TEXT,
        to_value    TEXT NOT NULL,
        reason      TEXT NOT NULL
    );
    ALTER TABLE journal ADD COLUMN cycle TEXT;
    -- Who leads now: the lock says it, this row says who (for the standbys' status).
    CREATE TABLE leader (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        instance     TEXT NOT NULL,
        since        TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    );
",
];

/// `EXISTS`: this session holds the leader's lock (`$1` is [`LEADER_KEY`]).
const HOLDS_LOCK: &str = "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
    AND pid = pg_backend_pid() AND granted AND objsubid = 1
    AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295))";

/// A query with its arguments bound.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The columns journal queries select, in this order (as SQLite's).
const ENTRY_COLUMNS: &str = "at, model_id, model_name, package_arn, action, from_value, to_value, reason, outcome, error, cycle";

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
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
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

    /// Tries once to take the leader's lock on `conn` (already migrated). `Ok(None)`
    /// when another session holds it; on `Some`, the store writes as the leader and
    /// `instance` is recorded as such.
    pub async fn try_lead(
        mut conn: PgConnection,
        target: &str,
        instance: &str,
    ) -> Result<Result<PgStore, PgConnection>, StoreError> {
        let fail = |e: sqlx::Error| pg_error(target, &e);
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_KEY)
            .fetch_one(&mut conn)
            .await
            .map_err(fail)?;
        if !got {
            return Ok(Err(conn));
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
        Ok(Ok(PgStore {
            conn: Arc::new(Mutex::new(conn)),
            target: target.to_string(),
            leads: true,
            lost: CancellationToken::new(),
        }))
    }

    /// A store that only reads (`govsync history`, the source of `state copy`),
    /// beside a running leader: no lock, no migration.
    pub async fn read_only(target: &PgTarget) -> Result<PgStore, StoreError> {
        let mut conn = target.connect().await?;
        let version: Option<i64> = sqlx::query_scalar(
            "SELECT max(version) FROM govsync_schema WHERE to_regclass('govsync_schema') IS NOT NULL",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap_or(None);
        if version != Some(SCHEMA_VERSION) {
            return Err(StoreError::Postgres {
                target: target.name.clone(),
                reason: format!(
                    "schema version {}, this govsync reads {SCHEMA_VERSION}; run govsync (run or reconcile) on it once to create or migrate it",
                    version.map_or_else(|| "none".to_string(), |v| v.to_string())
                ),
            });
        }
        Ok(PgStore {
            conn: Arc::new(Mutex::new(conn)),
            target: target.name.clone(),
            leads: false,
            lost: CancellationToken::new(),
        })
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
        }
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
        let run = async {
            let mut conn = self.conn.lock().await;
            sqlx::query(&format!(
                "UPDATE leader SET heartbeat_at = $3 WHERE id = 1 AND instance = $2 AND {HOLDS_LOCK}"
            ))
            .bind(LEADER_KEY)
            .bind(instance)
            .bind(now_rfc3339())
            .execute(&mut *conn)
            .await
        };
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

fn entry_from_row(r: &PgRow) -> Result<JournalEntry, sqlx::Error> {
    Ok(JournalEntry {
        at: r.try_get(0)?,
        model_id: r.try_get(1)?,
        model_name: r.try_get(2)?,
        package_arn: r.try_get(3)?,
        action: r.try_get(4)?,
        from: r.try_get(5)?,
        to: r.try_get(6)?,
        reason: r.try_get(7)?,
        outcome: r.try_get(8)?,
        error: r.try_get(9)?,
        cycle: r.try_get(10)?,
    })
}

fn intent_from_row(r: &PgRow) -> Result<IntentRow, sqlx::Error> {
    let system: String = r.try_get(6)?;
    Ok(IntentRow {
        id: r.try_get(0)?,
        at: r.try_get(1)?,
        intent: Intent {
            cycle: r.try_get(2)?,
            model_id: r.try_get(3)?,
            model_name: r.try_get(4)?,
            package_arn: r.try_get(5)?,
            system: WriteSystem::parse(&system).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown write system {system:?}").into())
            })?,
            action: r.try_get(7)?,
            from: r.try_get(8)?,
            to: r.try_get(9)?,
            reason: r.try_get(10)?,
        },
    })
}

/// Journal entries as columns, for one `INSERT … SELECT FROM unnest(…)`.
#[derive(Default)]
struct EntryColumns {
    seq: Vec<i64>,
    at: Vec<String>,
    model_id: Vec<String>,
    model_name: Vec<String>,
    package_arn: Vec<String>,
    action: Vec<String>,
    from: Vec<Option<String>>,
    to: Vec<Option<String>>,
    reason: Vec<String>,
    outcome: Vec<String>,
    error: Vec<Option<String>>,
    cycle: Vec<Option<String>>,
}

impl EntryColumns {
    fn new<'a>(entries: impl IntoIterator<Item = (i64, &'a JournalEntry)>) -> EntryColumns {
        let mut c = EntryColumns::default();
        for (seq, e) in entries {
            c.seq.push(seq);
            c.at.push(e.at.clone());
            c.model_id.push(e.model_id.clone());
            c.model_name.push(e.model_name.clone());
            c.package_arn.push(e.package_arn.clone());
            c.action.push(e.action.clone());
            c.from.push(e.from.clone());
            c.to.push(e.to.clone());
            c.reason.push(e.reason.clone());
            c.outcome.push(e.outcome.clone());
            c.error.push(e.error.clone());
            c.cycle.push(e.cycle.clone());
        }
        c
    }

    /// Inserts them, with their sequence numbers when `with_seq`.
    async fn insert(self, conn: &mut PgConnection, with_seq: bool) -> Result<(), sqlx::Error> {
        if self.at.is_empty() {
            return Ok(());
        }
        let (seq_column, seq_value, conflict) = if with_seq {
            ("seq, ", "s, ", " ON CONFLICT (seq) DO NOTHING")
        } else {
            ("", "", "")
        };
        sqlx::query(&format!(
            "INSERT INTO journal ({seq_column}{ENTRY_COLUMNS})
             SELECT {seq_value}a, m, n, p, ac, f, t, r, o, e, c FROM unnest(
                 $1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                 $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]
             ) AS x(s, a, m, n, p, ac, f, t, r, o, e, c){conflict}"
        ))
        .bind(self.seq)
        .bind(self.at)
        .bind(self.model_id)
        .bind(self.model_name)
        .bind(self.package_arn)
        .bind(self.action)
        .bind(self.from)
        .bind(self.to)
        .bind(self.reason)
        .bind(self.outcome)
        .bind(self.error)
        .bind(self.cycle)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Sets a baseline row per model (the last given wins), in one statement.
async fn upsert_baselines(
    conn: &mut PgConnection,
    rows: &[BaselineRow],
    only_if_changed: bool,
) -> Result<(), sqlx::Error> {
    let mut unique: std::collections::BTreeMap<&str, &BaselineRow> = Default::default();
    for row in rows {
        unique.insert(&row.model_id, row);
    }
    if unique.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&BaselineRow) -> &String| -> Vec<String> {
        unique.values().map(|r| f(r).clone()).collect()
    };
    let condition = if only_if_changed {
        " WHERE (baseline.package_arn, baseline.governance_status, baseline.stage, baseline.stage_status)
             IS DISTINCT FROM (EXCLUDED.package_arn, EXCLUDED.governance_status, EXCLUDED.stage, EXCLUDED.stage_status)"
    } else {
        ""
    };
    sqlx::query(&format!(
        "INSERT INTO baseline (model_id, package_arn, governance_status, stage, stage_status, updated_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT (model_id) DO UPDATE SET package_arn = EXCLUDED.package_arn,
             governance_status = EXCLUDED.governance_status, stage = EXCLUDED.stage,
             stage_status = EXCLUDED.stage_status, updated_at = EXCLUDED.updated_at{condition}"
    ))
    .bind(column(|r| &r.model_id))
    .bind(column(|r| &r.package_arn))
    .bind(column(|r| &r.governance_status))
    .bind(column(|r| &r.stage))
    .bind(column(|r| &r.stage_status))
    .bind(column(|r| &r.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Fails the transaction unless this session holds the leader's lock.
async fn confirm_lead(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT {HOLDS_LOCK}"))
        .bind(LEADER_KEY)
        .fetch_one(conn)
        .await
}

impl StateStore for PgStore {
    async fn baseline(&mut self) -> Result<Baseline, StoreError> {
        Ok(self
            .baseline_rows()
            .await?
            .into_iter()
            .filter_map(BaselineRow::into_entry)
            .collect())
    }

    async fn baseline_of(&mut self, models: &[&ModelId]) -> Result<Baseline, StoreError> {
        let ids: Vec<String> = models.iter().map(|m| m.to_string()).collect();
        let rows = self
            .rows(
                sqlx::query(
                    "SELECT model_id, package_arn, governance_status, stage, stage_status, updated_at
                     FROM baseline WHERE model_id = ANY($1)",
                )
                .bind(ids),
                baseline_from_row,
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(BaselineRow::into_entry)
            .collect())
    }

    async fn baseline_rows(&mut self) -> Result<Vec<BaselineRow>, StoreError> {
        self.rows(
            sqlx::query(
                "SELECT model_id, package_arn, governance_status, stage, stage_status, updated_at
                 FROM baseline ORDER BY model_id",
            ),
            baseline_from_row,
        )
        .await
    }

    async fn record(
        &mut self,
        baselines: &[(ModelId, BaselineEntry)],
        entries: &[JournalEntry],
    ) -> Result<(), StoreError> {
        self.must_lead()?;
        let now = now_rfc3339();
        let rows: Vec<BaselineRow> = baselines
            .iter()
            .map(|(model, b)| BaselineRow {
                model_id: model.to_string(),
                package_arn: b.arn.to_string(),
                governance_status: b.governance_status.as_str().to_string(),
                stage: b.lifecycle.stage.clone(),
                stage_status: b.lifecycle.stage_status.clone(),
                updated_at: now.clone(),
            })
            .collect();
        let leads = {
            let mut conn = self.conn().await?;
            let conn: &mut PgConnection = &mut conn;
            self.settle(async move {
                let mut tx = conn.begin().await?;
                if !confirm_lead(&mut tx).await? {
                    return Ok(false);
                }
                upsert_baselines(&mut tx, &rows, true).await?;
                EntryColumns::new(entries.iter().map(|e| (0, e)))
                    .insert(&mut tx, false)
                    .await?;
                tx.commit().await?;
                Ok(true)
            })
            .await
        }?;
        if leads {
            Ok(())
        } else {
            Err(self.not_leader())
        }
    }

    async fn record_intent(&mut self, intent: &Intent) -> Result<i64, StoreError> {
        self.must_lead()?;
        let mut conn = self.conn().await?;
        let id: Option<i64> = self
            .settle(
                sqlx::query_scalar(&format!(
                    "INSERT INTO intent (at, cycle, model_id, model_name, package_arn, system, action, from_value, to_value, reason)
                     SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE {HOLDS_LOCK}
                     RETURNING id"
                ))
                .bind(LEADER_KEY)
                .bind(now_rfc3339())
                .bind(&intent.cycle)
                .bind(&intent.model_id)
                .bind(&intent.model_name)
                .bind(&intent.package_arn)
                .bind(intent.system.as_str())
                .bind(&intent.action)
                .bind(&intent.from)
                .bind(&intent.to)
                .bind(&intent.reason)
                .fetch_optional(&mut *conn),
            )
            .await?;
        drop(conn);
        id.ok_or_else(|| self.not_leader())
    }

    async fn complete_intent(
        &mut self,
        id: i64,
        outcome: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.must_lead()?;
        let moved = {
            let mut conn = self.conn().await?;
            let conn: &mut PgConnection = &mut conn;
            self.settle(async move {
                let mut tx = conn.begin().await?;
                let moved = sqlx::query(&format!(
                    "WITH done AS (DELETE FROM intent WHERE id = $1 RETURNING *)
                     INSERT INTO journal ({ENTRY_COLUMNS})
                     SELECT $2, model_id, model_name, package_arn, action, from_value, to_value, reason, $3, $4, cycle
                     FROM done"
                ))
                .bind(id)
                .bind(now_rfc3339())
                .bind(outcome)
                .bind(error)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(moved)}).await
        }?;
        if moved == 1 {
            Ok(())
        } else {
            Err(StoreError::Postgres {
                target: self.target.clone(),
                reason: format!("intent {id} is not open (completed twice?)"),
            })
        }
    }

    async fn open_intents(&mut self) -> Result<Vec<OpenIntent>, StoreError> {
        Ok(self
            .intent_rows()
            .await?
            .into_iter()
            .map(|r| OpenIntent {
                id: r.id,
                intent: r.intent,
            })
            .collect())
    }

    async fn intent_rows(&mut self) -> Result<Vec<IntentRow>, StoreError> {
        self.rows(
            sqlx::query(
                "SELECT id, at, cycle, model_id, model_name, package_arn, system, action, from_value, to_value, reason
                 FROM intent ORDER BY id",
            ),
            intent_from_row,
        )
        .await
    }

    async fn history(&mut self, filter: &HistoryFilter) -> Result<Vec<JournalEntry>, StoreError> {
        self.rows(
            sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM journal
                 WHERE ($1::text IS NULL OR model_id = $1) AND ($2::text IS NULL OR at >= $2)
                 ORDER BY seq"
            ))
            .bind(&filter.model)
            .bind(&filter.since),
            entry_from_row,
        )
        .await
    }

    async fn latest_entries(&mut self, models: &[&str]) -> Result<Vec<LatestEntry>, StoreError> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        self.rows(
            sqlx::query(
                "SELECT DISTINCT ON (model_id) model_id, action, COALESCE(from_value, ''), at
                 FROM journal WHERE model_id = ANY($1) ORDER BY model_id, seq DESC",
            )
            .bind(models.to_vec()),
            |r| {
                Ok(LatestEntry {
                    model: r.try_get(0)?,
                    action: r.try_get(1)?,
                    from: r.try_get(2)?,
                    at: r.try_get(3)?,
                })
            },
        )
        .await
    }

    async fn recent_journal(&mut self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        self.rows(
            sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM journal ORDER BY seq DESC LIMIT $1"
            ))
            .bind(limit as i64),
            entry_from_row,
        )
        .await
    }

    async fn journal_page(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        self.rows(
            sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS}, seq FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))
            .bind(after)
            .bind(limit as i64),
            |r| Ok((r.try_get(11)?, entry_from_row(r)?)),
        )
        .await
    }

    async fn journal_len(&mut self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = self
            .settle(sqlx::query_scalar("SELECT count(*) FROM journal").fetch_one(&mut *conn))
            .await?;
        Ok(n as u64)
    }

    async fn import(&mut self, rows: &Import) -> Result<(), StoreError> {
        self.must_lead()?;
        let leads = {
            let mut conn = self.conn().await?;
            let conn: &mut PgConnection = &mut conn;
            self.settle(async move {
                let mut tx = conn.begin().await?;
                if !confirm_lead(&mut tx).await? {
                    return Ok(false);
                }
                EntryColumns::new(rows.journal.iter().map(|(seq, e)| (*seq, e)))
                    .insert(&mut tx, true)
                    .await?;
                for row in rows.intents.iter().cloned() {
                    let i = row.intent;
                    sqlx::query(
                        "INSERT INTO intent (id, at, cycle, model_id, model_name, package_arn, system, action, from_value, to_value, reason)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(row.id)
                    .bind(row.at)
                    .bind(i.cycle)
                    .bind(i.model_id)
                    .bind(i.model_name)
                    .bind(i.package_arn)
                    .bind(i.system.as_str().to_string())
                    .bind(i.action)
                    .bind(i.from)
                    .bind(i.to)
                    .bind(i.reason)
                    .execute(&mut *tx)
                    .await?;
                }
                upsert_baselines(&mut tx, &rows.baseline, false).await?;
                // New rows continue after the copied keys.
                for (table, key) in [("journal", "seq"), ("intent", "id")] {
                    sqlx::query(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{key}'), GREATEST((SELECT max({key}) FROM {table}), 1))"
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)}).await
        }?;
        if leads {
            Ok(())
        } else {
            Err(self.not_leader())
        }
    }
}

fn baseline_from_row(r: &PgRow) -> Result<BaselineRow, sqlx::Error> {
    Ok(BaselineRow {
        model_id: r.try_get(0)?,
        package_arn: r.try_get(1)?,
        governance_status: r.try_get(2)?,
        stage: r.try_get(3)?,
        stage_status: r.try_get(4)?,
        updated_at: r.try_get(5)?,
    })
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

#[allow(dead_code, clippy::all)]
mod send_check {
    use super::*;
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
    fn o(e: &mut crate::leader::Election, t: &CancellationToken) {
        send(e.try_lead(t))
    }
}
