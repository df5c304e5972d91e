//! The audit journal and its write-ahead intents.
//!
//! Every write to a remote system is recorded as an *intent* (model, ARN, from, to,
//! why, cycle) before it is made, and completed into a journal entry with its outcome
//! right after. An intent left open (the process died in between) is completed by
//! the next cycle from what it observes ([`crate::recovery`]): `recovered` when the
//! remote shows the target, `unconfirmed` when it does not. So every write that
//! reached a remote system is in the journal, whatever happened to the process.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, sqlite_error};
use crate::outbox::PUBLISHED_OUTCOMES;
use crate::store::{
    HistoryFilter, Import, Intent, IntentRow, JournalEntry, LatestEntry, StoreError, WriteSystem,
    now_rfc3339,
};

/// The columns both journal queries select, in this order.
pub(super) const ENTRY_COLUMNS: &str = "at, model_id, model_name, package_arn, action, from_value, to_value, reason, outcome, error, cycle";

/// A journal row selected as [`ENTRY_COLUMNS`].
pub(super) fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        at: r.get(0)?,
        model_id: r.get(1)?,
        model_name: r.get(2)?,
        package_arn: r.get(3)?,
        action: r.get(4)?,
        from: r.get(5)?,
        to: r.get(6)?,
        reason: r.get(7)?,
        outcome: r.get(8)?,
        error: r.get(9)?,
        cycle: r.get(10)?,
    })
}

/// Inserts journal entries in `tx`, each under its sequence number when it has one
/// (one already there is kept), else under the next.
pub(super) fn insert_entries<'a>(
    tx: &rusqlite::Transaction<'_>,
    entries: impl IntoIterator<Item = (Option<i64>, &'a JournalEntry)>,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(&format!(
        "INSERT INTO journal (seq, {ENTRY_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (seq) DO NOTHING"
    ))?;
    for (seq, e) in entries {
        insert.execute(params![
            seq,
            e.at,
            e.model_id,
            e.model_name,
            e.package_arn,
            e.action,
            e.from,
            e.to,
            e.reason,
            e.outcome,
            e.error,
            e.cycle
        ])?;
    }
    Ok(())
}

impl SqliteStore {
    /// Records an intent (committed, and synced to disk, before this returns) and
    /// returns its key for [`SqliteStore::complete_intent`].
    pub fn record_intent(&mut self, intent: &Intent) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO intent (at, cycle, model_id, model_name, package_arn, system, action, from_value, to_value, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    now_rfc3339(),
                    intent.cycle,
                    intent.model_id,
                    intent.model_name,
                    intent.package_arn,
                    intent.system.as_str(),
                    intent.action,
                    intent.from,
                    intent.to,
                    intent.reason
                ],
            )
            .map_err(|e| self.fail(&e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Completes an intent into a journal entry with its outcome, in one transaction.
    pub fn complete_intent(
        &mut self,
        id: i64,
        outcome: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_error(&path, &e))?;
        let moved = tx
            .execute(
                "INSERT INTO journal (at, model_id, model_name, package_arn, action, from_value, to_value, reason, outcome, error, cycle)
                 SELECT ?2, model_id, model_name, package_arn, action, from_value, to_value, reason, ?3, ?4, cycle
                 FROM intent WHERE id = ?1",
                params![id, now_rfc3339(), outcome, error],
            )
            .map_err(|e| sqlite_error(&path, &e))?;
        // With events out, an applied write's entry also goes to the outbox.
        if moved == 1 && self.outbox && PUBLISHED_OUTCOMES.contains(&outcome) {
            tx.execute(
                "INSERT INTO outbox (seq) VALUES (?1)",
                params![tx.last_insert_rowid()],
            )
            .map_err(|e| sqlite_error(&path, &e))?;
        }
        tx.execute("DELETE FROM intent WHERE id = ?1", params![id])
            .map_err(|e| sqlite_error(&path, &e))?;
        if moved != 1 {
            return Err(StoreError::Sqlite {
                path,
                reason: format!("intent {id} is not open (completed twice?)"),
            });
        }
        tx.commit().map_err(|e| sqlite_error(&path, &e))
    }

    /// Journal entries, oldest first.
    pub fn history(&self, filter: &HistoryFilter) -> Result<Vec<JournalEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM journal
                 WHERE (?1 IS NULL OR model_id = ?1) AND (?2 IS NULL OR at >= ?2) ORDER BY seq"
            ))
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map(params![filter.model, filter.since], entry_from_row)
            .map_err(|e| self.fail(&e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(&e))
    }

    /// For each of `models` that has one, its latest journal entry's action, "from"
    /// and time (one indexed lookup each).
    pub(crate) fn latest_entries(&self, models: &[&str]) -> Result<Vec<LatestEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT action, COALESCE(from_value, ''), at FROM journal
                 WHERE model_id = ?1 ORDER BY seq DESC LIMIT 1",
            )
            .map_err(|e| self.fail(&e))?;
        let mut latest = Vec::new();
        for model in models {
            let row = stmt
                .query_row(params![model], |r| {
                    Ok(LatestEntry {
                        model: model.to_string(),
                        action: r.get(0)?,
                        from: r.get(1)?,
                        at: r.get(2)?,
                    })
                })
                .optional()
                .map_err(|e| self.fail(&e))?;
            latest.extend(row);
        }
        Ok(latest)
    }

    /// The latest `limit` journal entries, newest first (the status page).
    pub fn recent_journal(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM journal ORDER BY seq DESC LIMIT ?1"
            ))
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map(params![limit as i64], entry_from_row)
            .map_err(|e| self.fail(&e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(&e))
    }

    /// Up to `limit` journal entries after sequence number `after`, with their
    /// sequence numbers, in order (`state copy`).
    pub fn journal_page(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS}, seq FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map(params![after, limit as i64], |r| {
                Ok((r.get(11)?, entry_from_row(r)?))
            })
            .map_err(|e| self.fail(&e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(&e))
    }

    /// Every open intent with its key and time, oldest first.
    pub fn intent_rows(&self) -> Result<Vec<IntentRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, at, cycle, model_id, model_name, package_arn, system, action, from_value, to_value, reason
                 FROM intent ORDER BY id",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(IntentRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    intent: Intent {
                        cycle: r.get(2)?,
                        model_id: r.get(3)?,
                        model_name: r.get(4)?,
                        package_arn: r.get(5)?,
                        system: {
                            let text: String = r.get(6)?;
                            WriteSystem::parse(&text).ok_or_else(|| {
                                rusqlite::Error::FromSqlConversionFailure(
                                    6,
                                    rusqlite::types::Type::Text,
                                    format!("unknown write system {text:?}").into(),
                                )
                            })?
                        },
                        action: r.get(7)?,
                        from: r.get(8)?,
                        to: r.get(9)?,
                        reason: r.get(10)?,
                    },
                })
            })
            .map_err(|e| self.fail(&e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(&e))
    }

    /// Writes copied rows in one transaction: journal entries and intents under
    /// their own keys (a key already here is skipped), baselines replaced.
    pub fn import(&mut self, rows: &Import) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| sqlite_error(&path, &e);
        let tx = self.conn.transaction().map_err(fail)?;
        {
            insert_entries(&tx, rows.journal.iter().map(|(seq, e)| (Some(*seq), e)))
                .map_err(fail)?;
            let mut intent = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO intent (id, at, cycle, model_id, model_name, package_arn, system, action, from_value, to_value, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(fail)?;
            for row in &rows.intents {
                let i = &row.intent;
                intent
                    .execute(params![
                        row.id,
                        row.at,
                        i.cycle,
                        i.model_id,
                        i.model_name,
                        i.package_arn,
                        i.system.as_str(),
                        i.action,
                        i.from,
                        i.to,
                        i.reason
                    ])
                    .map_err(fail)?;
            }
            let mut baseline = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO baseline (model_id, package_arn, governance_status, stage, stage_status, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(fail)?;
            for b in &rows.baseline {
                baseline
                    .execute(params![
                        b.model_id,
                        b.package_arn,
                        b.governance_status,
                        b.stage,
                        b.stage_status,
                        b.updated_at
                    ])
                    .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// The number of journal entries (tests and `history`'s summary).
    pub fn journal_len(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))
            .optional()
            .map(|n| n.unwrap_or(0))
            .map_err(|e| self.fail(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(model: &str) -> Intent {
        Intent {
            cycle: "c1".into(),
            model_id: model.into(),
            model_name: format!("model {model}"),
            package_arn: "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1".into(),
            system: WriteSystem::SageMaker,
            action: "push".into(),
            from: Some("Proposed | (none)".into()),
            to: "Proposal/Approved".into(),
            reason: "because".into(),
        }
    }

    #[test]
    fn an_intent_survives_reopening_until_it_is_completed_into_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let path = path.to_str().expect("utf-8");
        let id = {
            let mut store = SqliteStore::open(path).expect("open");
            store.record_intent(&intent("7")).expect("intent")
        };
        // A new process finds it open, with everything it needs to resolve it.
        let mut store = SqliteStore::open(path).expect("reopen");
        let open = store.intent_rows().expect("open intents");
        assert_eq!(
            open.iter().map(|o| (o.id, &o.intent)).collect::<Vec<_>>(),
            vec![(id, &intent("7"))]
        );
        assert_eq!(store.journal_len().expect("len"), 0);

        store
            .complete_intent(id, "recovered", Some("SageMaker shows Proposal/Approved"))
            .expect("complete");
        assert!(store.intent_rows().expect("open").is_empty());
        let entries = store.history(&HistoryFilter::default()).expect("history");
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(
            (
                e.action.as_str(),
                e.outcome.as_str(),
                e.to.as_deref(),
                e.cycle.as_deref()
            ),
            ("push", "recovered", Some("Proposal/Approved"), Some("c1"))
        );
        assert!(
            store.complete_intent(id, "applied", None).is_err(),
            "an intent is completed once"
        );
        assert_eq!(store.journal_len().expect("len"), 1);
    }
}
