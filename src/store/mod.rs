//! The state store: the baseline — per linked model, the last pair seen in sync —
//! the append-only audit journal of every action, and the write-ahead intents.
//!
//! One contract ([`StateStore`]), two implementations of the same schema: SQLite
//! ([`SqliteStore`], embedded, one replica) and PostgreSQL ([`PgStore`], several
//! replicas, one of which leads: [`Election`]). [`Store`] is the one the
//! configuration chose (`state.url`), opened by `open.rs` to write, to read, or to
//! plan a dry run from.

mod copy;
mod open;
mod postgres;
mod schema;
mod sqlite;

pub use copy::{CopyReport, copy};
pub use open::{Access, election, open, open_for_dry_run, open_location};
pub use postgres::{Election, Lead, LeaderRow, Lock, PgStore, PgTarget};
pub use sqlite::SqliteStore;

pub use govsync_core::journal::{
    HistoryFilter, Intent, JournalEntry, Latest, OpenIntent, WriteSystem,
};

use std::str::FromStr;

use crate::domain::{GovernanceStatus, Lifecycle, ModelId, PackageArn};
use crate::plan::{Baseline, BaselineEntry};

/// The schema version this build writes (both stores number their migrations alike).
pub const SCHEMA_VERSION: i64 = 3;

/// The oldest schema version whose baseline table is the one this build reads (a
/// dry run reads an older store's baseline without migrating it).
pub const BASELINE_SINCE: i64 = 1;

/// What a reader needs of a store's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Everything: the journal and the intents (`history`, `state copy`'s source).
    Everything,
    /// Only the baseline (a dry run).
    Baseline,
}

impl Reads {
    /// Whether a store (`name`) at schema version `found` can be read for this.
    fn check(self, name: &str, found: i64) -> Result<(), StoreError> {
        let oldest = match self {
            Reads::Everything => SCHEMA_VERSION,
            Reads::Baseline => BASELINE_SINCE,
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: name.to_string(),
                found,
            });
        }
        if found < oldest {
            return Err(StoreError::TooOld {
                path: name.to_string(),
                found,
            });
        }
        Ok(())
    }
}

/// Why the store cannot be used. Each names the store (a file, or a database without
/// its password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store was written by a newer govsync.
    #[error(
        "state store {path}: schema version {found} was written by a newer govsync (this one knows up to {SCHEMA_VERSION}); upgrade govsync or point state.url at another store"
    )]
    TooNew {
        /// The store.
        path: String,
        /// Its version.
        found: i64,
    },
    /// The store was written by an older govsync, and reading it needs a migration
    /// (which only a writer makes).
    #[error(
        "state store {path}: schema version {found} was written by an older govsync and must be migrated to version {SCHEMA_VERSION} first; run `govsync reconcile` (without --dry-run) or `govsync run` on it once"
    )]
    TooOld {
        /// The store.
        path: String,
        /// Its version.
        found: i64,
    },
    /// There is no store yet where a reader looked.
    #[error(
        "state store {path} does not exist yet: no govsync has run with it (`govsync reconcile` or `govsync run` creates it)"
    )]
    NoStore {
        /// Where it was looked for.
        path: String,
    },
    /// Another process holds the file.
    #[error(
        "state store {path} is locked by another process (is another govsync running on it?): {reason}"
    )]
    Locked {
        /// The file.
        path: String,
        /// SQLite's words.
        reason: String,
    },
    /// Anything else SQLite said (corrupt file, no permission, disk full).
    #[error("state store {path}: {reason}")]
    Sqlite {
        /// The file.
        path: String,
        /// SQLite's words.
        reason: String,
    },
    /// Anything PostgreSQL (or the way to it) said.
    #[error("state store {target}: {reason}")]
    Postgres {
        /// The database, as `host:port/dbname` (never a password).
        target: String,
        /// The driver's or the server's words.
        reason: String,
    },
    /// This process no longer holds the leader's lock: nothing more is written.
    #[error(
        "state store {target}: this govsync no longer leads (its database session, which held the leader's lock, is gone); nothing more is written by it"
    )]
    NotLeader {
        /// The database.
        target: String,
    },
    /// `state copy` found the destination holding something else.
    #[error("cannot copy: {0}")]
    Copy(String),
}

/// A baseline row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineRow {
    /// The governance model.
    pub model_id: String,
    /// Its package.
    pub package_arn: String,
    /// The governance status in sync.
    pub governance_status: String,
    /// The stage in sync.
    pub stage: String,
    /// The stage status in sync.
    pub stage_status: String,
    /// When the row last changed (RFC 3339).
    pub updated_at: String,
}

impl BaselineRow {
    /// The row as the planner takes it; `None` when its ARN no longer parses.
    pub fn into_entry(self) -> Option<(ModelId, BaselineEntry)> {
        let entry = baseline_entry(
            &self.package_arn,
            self.governance_status,
            self.stage,
            self.stage_status,
        )?;
        Some((ModelId::new(self.model_id), entry))
    }
}

/// A model's latest journal entry, in short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestEntry {
    /// The model.
    pub model: String,
    /// Its action.
    pub action: String,
    /// Its "from" (empty for none).
    pub from: String,
    /// When.
    pub at: String,
}

/// An open intent with its key and time, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRow {
    /// Its key.
    pub id: i64,
    /// When it was recorded.
    pub at: String,
    /// The intent.
    pub intent: Intent,
}

/// Rows copied into a store ([`copy()`]).
#[derive(Debug, Clone, Default)]
pub struct Import {
    /// Baselines to set.
    pub baseline: Vec<BaselineRow>,
    /// Journal entries under their sequence numbers.
    pub journal: Vec<(i64, JournalEntry)>,
    /// Open intents under their keys.
    pub intents: Vec<IntentRow>,
}

/// What every state store does. Both implementations keep the same schema and give
/// the same answers; the contract tests (`tests/store_contract.rs`) run against both.
#[allow(async_fn_in_trait)] // used through concrete types, never `dyn` nor spawned
pub trait StateStore {
    /// The whole baseline, as the planner takes it (rows whose ARN no longer parses
    /// dropped: see [`BaselineRow::into_entry`]).
    async fn baseline(&mut self) -> Result<Baseline, StoreError> {
        Ok(self
            .baseline_rows()
            .await?
            .into_iter()
            .filter_map(BaselineRow::into_entry)
            .collect())
    }
    /// The baselines of some models (an incremental cycle's).
    async fn baseline_of(&mut self, models: &[&ModelId]) -> Result<Baseline, StoreError>;
    /// Every baseline row as stored.
    async fn baseline_rows(&mut self) -> Result<Vec<BaselineRow>, StoreError>;
    /// Records a cycle's outcome in one transaction: baselines to set and journal
    /// entries.
    async fn record(
        &mut self,
        baselines: &[(ModelId, BaselineEntry)],
        entries: &[JournalEntry],
    ) -> Result<(), StoreError>;
    /// Records an intent (committed before this returns) and returns its key. A
    /// store shared by replicas refuses it unless this process leads.
    async fn record_intent(&mut self, intent: &Intent) -> Result<i64, StoreError>;
    /// Completes an intent into a journal entry with its outcome, in one transaction.
    async fn complete_intent(
        &mut self,
        id: i64,
        outcome: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Every open intent, oldest first.
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
    /// Every open intent with its key and time, oldest first.
    async fn intent_rows(&mut self) -> Result<Vec<IntentRow>, StoreError>;
    /// Journal entries, oldest first.
    async fn history(&mut self, filter: &HistoryFilter) -> Result<Vec<JournalEntry>, StoreError>;
    /// For each of `models` that has one, its latest journal entry in short.
    async fn latest_entries(&mut self, models: &[&str]) -> Result<Vec<LatestEntry>, StoreError>;
    /// The latest `limit` journal entries, newest first.
    async fn recent_journal(&mut self, limit: usize) -> Result<Vec<JournalEntry>, StoreError>;
    /// Up to `limit` journal entries after sequence number `after`, in order.
    async fn journal_page(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError>;
    /// The number of journal entries.
    async fn journal_len(&mut self) -> Result<u64, StoreError>;
    /// Writes copied rows in one transaction (keys already present are skipped,
    /// baselines replaced).
    async fn import(&mut self, rows: &Import) -> Result<(), StoreError>;
    /// Up to `limit` applied writes whose event is not published yet, oldest first,
    /// with their sequence numbers (the outbox, filled while events out are on:
    /// [`Store::set_outbox`]).
    async fn pending_events(
        &mut self,
        limit: usize,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError>;
    /// The events of these writes are published: they leave the outbox.
    async fn published(&mut self, seqs: &[i64]) -> Result<(), StoreError>;
    /// Publishing these writes' events failed (they stay, for another try).
    async fn publish_failed(&mut self, seqs: &[i64], error: &str) -> Result<(), StoreError>;
    /// The number of events waiting in the outbox.
    async fn outbox_len(&mut self) -> Result<u64, StoreError>;
}

/// The store the configuration chose.
pub enum Store {
    /// Embedded SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

impl Store {
    /// Opens (creating and migrating) the SQLite store at `path`, or an in-memory
    /// one for `:memory:`, for the one process that syncs with it.
    pub fn open_sqlite(path: &str) -> Result<Store, StoreError> {
        SqliteStore::open(path).map(Store::Sqlite)
    }

    /// Whether completing an applied (or recovered) write also puts its event in the
    /// outbox, in the same transaction (events out are on: `[events]`).
    pub fn set_outbox(&mut self, on: bool) {
        match self {
            Store::Sqlite(s) => s.outbox = on,
            Store::Postgres(p) => p.outbox = on,
        }
    }

    /// For each of `models` that has one, the action and "from" of its latest
    /// journal entry.
    pub async fn latest_by_model(&mut self, models: &[&str]) -> Result<Latest, StoreError> {
        Ok(self
            .latest_entries(models)
            .await?
            .into_iter()
            .map(|e| (e.model, (e.action, e.from)))
            .collect())
    }

    /// For each of `models` that has one, the action of its latest journal entry and
    /// when it was made: since a repeated report is journaled once, that is since
    /// when the model has been in the state the action reports (the status page's
    /// "since").
    pub async fn since_by_model(
        &mut self,
        models: &[&str],
    ) -> Result<std::collections::HashMap<String, (String, String)>, StoreError> {
        Ok(self
            .latest_entries(models)
            .await?
            .into_iter()
            .map(|e| (e.model, (e.action, e.at)))
            .collect())
    }
}

/// Forwards each method to the store in use (SQLite's run in place: they are short
/// local transactions).
macro_rules! dispatch {
    ($( fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) -> $out:ty; )*) => {
        impl StateStore for Store {
            $(
                async fn $name(&mut self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                    match self {
                        Store::Sqlite(s) => SqliteStore::$name(s $(, $arg)*),
                        Store::Postgres(p) => p.$name($($arg),*).await,
                    }
                }
            )*
        }
        impl StateStore for SqliteStore {
            $(
                async fn $name(&mut self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                    SqliteStore::$name(self $(, $arg)*)
                }
            )*
        }
    };
}

dispatch! {
    fn baseline_of(&mut self, models: &[&ModelId]) -> Baseline;
    fn baseline_rows(&mut self) -> Vec<BaselineRow>;
    fn record(&mut self, baselines: &[(ModelId, BaselineEntry)], entries: &[JournalEntry]) -> ();
    fn record_intent(&mut self, intent: &Intent) -> i64;
    fn complete_intent(&mut self, id: i64, outcome: &str, error: Option<&str>) -> ();
    fn intent_rows(&mut self) -> Vec<IntentRow>;
    fn history(&mut self, filter: &HistoryFilter) -> Vec<JournalEntry>;
    fn latest_entries(&mut self, models: &[&str]) -> Vec<LatestEntry>;
    fn recent_journal(&mut self, limit: usize) -> Vec<JournalEntry>;
    fn journal_page(&mut self, after: i64, limit: usize) -> Vec<(i64, JournalEntry)>;
    fn journal_len(&mut self) -> u64;
    fn import(&mut self, rows: &Import) -> ();
    fn pending_events(&mut self, limit: usize) -> Vec<(i64, JournalEntry)>;
    fn published(&mut self, seqs: &[i64]) -> ();
    fn publish_failed(&mut self, seqs: &[i64], error: &str) -> ();
    fn outbox_len(&mut self) -> u64;
}

/// Where a store is, from a `state.url` or a `state copy` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `sqlite://PATH` (or `sqlite://:memory:`).
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`, without a password.
    Postgres(String),
}

impl Location {
    /// Reads a store URL. A password in it is refused (it would show wherever the URL
    /// does), and no message repeats the URL, which may hold one.
    pub fn parse(url: &str) -> Result<Location, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(Location::Sqlite(path.to_string()));
        }
        let parsed = match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") => u,
            _ => {
                return Err(
                    "is not a sqlite://PATH or postgres://USER@HOST:PORT/DBNAME URL".into(),
                );
            }
        };
        if parsed.password().is_some() || parsed.query_pairs().any(|(k, _)| k == "password") {
            return Err(
                "must not hold a password (it would show wherever the URL does); \
                 give it with state.password_env or state.password_file, or PGPASSWORD"
                    .into(),
            );
        }
        sqlx::postgres::PgConnectOptions::from_str(url)
            .map_err(|e| format!("is not a PostgreSQL URL: {e}"))?;
        Ok(Location::Postgres(url.to_string()))
    }
}

/// A baseline row as the planner takes it. A row whose ARN no longer parses (edited
/// by hand) is dropped: without a baseline the planner falls back to the conflict
/// policy, which is safe.
fn baseline_entry(
    arn: &str,
    status: String,
    stage: String,
    stage_status: String,
) -> Option<BaselineEntry> {
    Some(BaselineEntry {
        arn: PackageArn::parse(arn).ok()?,
        governance_status: GovernanceStatus::new(status),
        lifecycle: Lifecycle::new(stage, stage_status),
    })
}

/// Now, as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
