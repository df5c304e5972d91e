//! The embedded store: SQLite, one file, one process.
//!
//! The schema is versioned with `PRAGMA user_version`; each migration runs in a
//! transaction, and a file written by a newer govsync is refused. The file is in WAL
//! mode with `synchronous = FULL`: every committed transaction (an intent before its
//! write, above all) survives the process being killed and the machine losing power.
//! Transactions are short: one intent, one outcome, one cycle's baselines and reports.

mod journal;
mod outbox;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{
    BaselineRow, JournalEntry, Reads, SCHEMA_VERSION, StoreError, baseline_entry, now_rfc3339,
};
use crate::domain::ModelId;
use crate::plan::{Baseline, BaselineEntry};

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
    path: String,
    /// Held while this process may write: `<path>.lock`, locked exclusively.
    _owner: Option<std::fs::File>,
    /// Applied writes also go to the outbox (events out).
    pub(super) outbox: bool,
}

impl SqliteStore {
    /// Opens (creating and migrating) the store at `path` for the one process that
    /// syncs with it, or an in-memory one for `:memory:`. A second opener (another
    /// govsync on the same file) is refused with [`StoreError::Locked`].
    pub fn open(path: &str) -> Result<SqliteStore, StoreError> {
        let owner = if path == ":memory:" {
            None
        } else {
            Some(lock_owner(path)?)
        };
        let conn = if path == ":memory:" {
            Connection::open_in_memory()
        } else {
            Connection::open_with_flags(
                Path::new(path),
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        }
        .map_err(|e| sqlite_error(path, &e))?;
        let mut store = SqliteStore {
            conn,
            path: path.to_string(),
            _owner: owner,
            outbox: false,
        };
        store
            .conn
            .busy_timeout(Duration::from_secs(2))
            .map_err(|e| sqlite_error(path, &e))?;
        if path != ":memory:" {
            // Reading journal_mode back is the first real read: a file that is not a
            // database fails here.
            store
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
                .map_err(|e| sqlite_error(path, &e))?;
        }
        store
            .conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| sqlite_error(path, &e))?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store to read beside a running daemon: no lock, no
    /// migration, nothing written, and nothing created. `Ok(None)`: there is no store
    /// yet (no file, or a file no govsync has migrated). A schema this build cannot
    /// read for `reads` is an error that says what to do.
    pub fn open_reader(path: &str, reads: Reads) -> Result<Option<SqliteStore>, StoreError> {
        if path == ":memory:" || !Path::new(path).exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            Path::new(path),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_error(path, &e))?;
        let store = SqliteStore {
            conn,
            path: path.to_string(),
            _owner: None,
            outbox: false,
        };
        store
            .conn
            .busy_timeout(Duration::from_secs(2))
            .map_err(|e| sqlite_error(path, &e))?;
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| store.fail(&e))?;
        if version == 0 {
            return Ok(None);
        }
        reads.check(path, version)?;
        Ok(Some(store))
    }

    pub(super) fn fail(&self, e: &rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, e)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        // Reading the version is the first real read: a file that is not a database fails here.
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.fail(&e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
            });
        }
        let steps = super::schema::migrations("INTEGER PRIMARY KEY AUTOINCREMENT", ["", "", ""]);
        for (i, sql) in steps.enumerate().skip(version as usize) {
            let path = self.path.clone();
            let tx = self
                .conn
                .transaction()
                .map_err(|e| sqlite_error(&path, &e))?;
            tx.execute_batch(&sql)
                .map_err(|e| sqlite_error(&path, &e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| sqlite_error(&path, &e))?;
            tx.commit().map_err(|e| sqlite_error(&path, &e))?;
        }
        Ok(())
    }

    /// Every baseline row as stored (`state copy`).
    pub fn baseline_rows(&self) -> Result<Vec<BaselineRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT model_id, package_arn, governance_status, stage, stage_status, updated_at FROM baseline ORDER BY model_id")
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(BaselineRow {
                    model_id: r.get(0)?,
                    package_arn: r.get(1)?,
                    governance_status: r.get(2)?,
                    stage: r.get(3)?,
                    stage_status: r.get(4)?,
                    updated_at: r.get(5)?,
                })
            })
            .map_err(|e| self.fail(&e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(&e))
    }

    /// The baselines of some models (an incremental cycle's): one lookup each.
    pub fn baseline_of(&self, models: &[&ModelId]) -> Result<Baseline, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT package_arn, governance_status, stage, stage_status FROM baseline WHERE model_id = ?1",
            )
            .map_err(|e| self.fail(&e))?;
        let mut baseline = Baseline::new();
        for model in models {
            let row = stmt
                .query_row(params![model.as_str()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .optional()
                .map_err(|e| self.fail(&e))?;
            if let Some((arn, status, stage, stage_status)) = row
                && let Some(entry) = baseline_entry(&arn, status, stage, stage_status)
            {
                baseline.insert((*model).clone(), entry);
            }
        }
        Ok(baseline)
    }

    /// Records a cycle's outcome in one transaction: baselines to set and journal entries.
    pub fn record(
        &mut self,
        baselines: &[(ModelId, BaselineEntry)],
        entries: &[JournalEntry],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let now = now_rfc3339();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_error(&path, &e))?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO baseline (model_id, package_arn, governance_status, stage, stage_status, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (model_id) DO UPDATE SET package_arn = ?2, governance_status = ?3,
                         stage = ?4, stage_status = ?5, updated_at = ?6
                     WHERE package_arn IS NOT ?2 OR governance_status IS NOT ?3 OR stage IS NOT ?4 OR stage_status IS NOT ?5",
                )
                .map_err(|e| sqlite_error(&path, &e))?;
            for (model, entry) in baselines {
                upsert
                    .execute(params![
                        model.as_str(),
                        entry.arn.as_str(),
                        entry.governance_status.as_str(),
                        entry.lifecycle.stage,
                        entry.lifecycle.stage_status,
                        now
                    ])
                    .map_err(|e| sqlite_error(&path, &e))?;
            }
            journal::insert_entries(&tx, entries.iter().map(|e| (None, e)))
                .map_err(|e| sqlite_error(&path, &e))?;
        }
        tx.commit().map_err(|e| sqlite_error(&path, &e))
    }
}

/// Takes `<path>.lock` exclusively for this process (released when the process ends,
/// however it ends).
fn lock_owner(path: &str) -> Result<std::fs::File, StoreError> {
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Sqlite {
            path: path.to_string(),
            reason: format!("cannot create the lock file {lock_path}: {e}"),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: path.to_string(),
            reason: format!("{lock_path} is held"),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Sqlite {
            path: path.to_string(),
            reason: format!("cannot lock {lock_path}: {e}"),
        }),
    }
}

pub(super) fn sqlite_error(path: &str, e: &rusqlite::Error) -> StoreError {
    let reason = e.to_string();
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Locked {
                path: path.to_string(),
                reason,
            }
        }
        Some(rusqlite::ErrorCode::NotADatabase) => StoreError::Sqlite {
            path: path.to_string(),
            reason: format!("{reason} (the file is not a govsync state store, or it is corrupt)"),
        },
        _ => StoreError::Sqlite {
            path: path.to_string(),
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_file_is_a_clear_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        std::fs::write(
            &path,
            "this is not a database, just some text that is long enough".repeat(100),
        )
        .expect("write");
        let error = SqliteStore::open(path.to_str().expect("utf-8"))
            .err()
            .expect("refused");
        let message = error.to_string();
        assert!(
            message.contains("state.db") && message.contains("not a govsync state store"),
            "{message}"
        );
    }

    #[test]
    fn a_locked_file_is_reported_as_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let path = path.to_str().expect("utf-8");
        let holder = SqliteStore::open(path).expect("create");
        let error = SqliteStore::open(path).err().expect("locked");
        assert!(matches!(error, StoreError::Locked { .. }), "{error}");
        assert!(error.to_string().contains("another govsync"), "{error}");
        // Reading the journal beside the holder works.
        let reader = SqliteStore::open_reader(path, Reads::Everything)
            .expect("read beside the holder")
            .expect("the store exists");
        assert_eq!(reader.journal_len().expect("len"), 0);
        drop(holder);
        SqliteStore::open(path).expect("free once the holder is gone");
    }
}
