//! Events out: the outbox, filled in the transaction that records an applied write's
//! outcome (`journal.rs`), read and emptied by the publisher's side of the loop.

use rusqlite::params;

use super::journal::{ENTRY_COLUMNS, entry_from_row};
use super::{SqliteStore, sqlite_error};
use crate::store::{JournalEntry, StoreError};

impl SqliteStore {
    /// Up to `limit` applied writes whose event waits in the outbox, oldest first.
    pub fn pending_events(&self, limit: usize) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS}, journal.seq FROM outbox JOIN journal ON journal.seq = outbox.seq
                 ORDER BY outbox.seq LIMIT ?1"
            ))
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok((r.get(11)?, entry_from_row(r)?))
            })
            .map_err(|e| self.fail(&e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(&e))
    }

    /// These writes' events are published: they leave the outbox (one transaction).
    pub fn published(&mut self, seqs: &[i64]) -> Result<(), StoreError> {
        self.each_seq(seqs, "DELETE FROM outbox WHERE seq = ?1", None)
    }

    /// Publishing these writes' events failed: counted, with the error.
    pub fn publish_failed(&mut self, seqs: &[i64], error: &str) -> Result<(), StoreError> {
        self.each_seq(
            seqs,
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE seq = ?1",
            Some(error),
        )
    }

    /// Runs `sql` for each of `seqs` (as `?1`, `error` as `?2` when given), in one
    /// transaction.
    fn each_seq(&mut self, seqs: &[i64], sql: &str, error: Option<&str>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_error(&path, &e))?;
        for seq in seqs {
            match error {
                Some(error) => tx.execute(sql, params![seq, error]),
                None => tx.execute(sql, params![seq]),
            }
            .map_err(|e| sqlite_error(&path, &e))?;
        }
        tx.commit().map_err(|e| sqlite_error(&path, &e))
    }

    /// The number of events waiting in the outbox.
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.fail(&e))
    }
}
