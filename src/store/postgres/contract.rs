//! The store contract ([`StateStore`]) on PostgreSQL: set-based statements (a cycle's
//! baselines and reports in one `unnest` each), the fence on every intent and record.

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Connection, Row};

use super::{HOLDS_LOCK, LEADER_KEY, PgStore};
use crate::domain::ModelId;
use crate::outbox::PUBLISHED_OUTCOMES;
use crate::plan::{Baseline, BaselineEntry};
use crate::store::{
    BaselineRow, HistoryFilter, Import, Intent, IntentRow, JournalEntry, LatestEntry, StateStore,
    StoreError, WriteSystem, now_rfc3339,
};

/// The columns journal queries select, in this order (as SQLite's).
const ENTRY_COLUMNS: &str = "at, model_id, model_name, package_arn, action, from_value, to_value, reason, outcome, error, cycle";

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

    /// Inserts them in their order (new sequence numbers follow it), with their own
    /// sequence numbers when `with_seq`.
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
             ) WITH ORDINALITY AS x(s, a, m, n, p, ac, f, t, r, o, e, c, position)
             ORDER BY position{conflict}"
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
        // One statement: the intent leaves and its entry arrives together.
        let mut conn = self.conn().await?;
        // With events out, an applied write's entry also goes to the outbox.
        let queue = self.outbox && PUBLISHED_OUTCOMES.contains(&outcome);
        let moved: i64 = self
            .settle(
                sqlx::query_scalar(&format!(
                    "WITH done AS (DELETE FROM intent WHERE id = $1 RETURNING *),
                     entry AS (
                         INSERT INTO journal ({ENTRY_COLUMNS})
                         SELECT $2, model_id, model_name, package_arn, action, from_value, to_value, reason, $3, $4, cycle
                         FROM done RETURNING seq),
                     queued AS (INSERT INTO outbox (seq) SELECT seq FROM entry WHERE $5 RETURNING seq)
                     SELECT count(*) FROM entry"
                ))
                .bind(id)
                .bind(now_rfc3339())
                .bind(outcome)
                .bind(error)
                .bind(queue)
                .fetch_one(&mut *conn),
            )
            .await?;
        drop(conn);
        if moved == 1 {
            Ok(())
        } else {
            Err(StoreError::Postgres {
                target: self.target.clone(),
                reason: format!("intent {id} is not open (completed twice?)"),
            })
        }
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

    async fn pending_events(
        &mut self,
        limit: usize,
    ) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        self.rows(
            sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS}, journal.seq FROM outbox JOIN journal ON journal.seq = outbox.seq
                 ORDER BY outbox.seq LIMIT $1"
            ))
            .bind(limit as i64),
            |r| Ok((r.try_get(11)?, entry_from_row(r)?)),
        )
        .await
    }

    async fn published(&mut self, seqs: &[i64]) -> Result<(), StoreError> {
        self.must_lead()?;
        let mut conn = self.conn().await?;
        self.settle(
            sqlx::query("DELETE FROM outbox WHERE seq = ANY($1)")
                .bind(seqs)
                .execute(&mut *conn),
        )
        .await?;
        Ok(())
    }

    async fn publish_failed(&mut self, seqs: &[i64], error: &str) -> Result<(), StoreError> {
        self.must_lead()?;
        let mut conn = self.conn().await?;
        self.settle(
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = ANY($1)",
            )
            .bind(seqs)
            .bind(error)
            .execute(&mut *conn),
        )
        .await?;
        Ok(())
    }

    async fn outbox_len(&mut self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = self
            .settle(sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&mut *conn))
            .await?;
        Ok(n as u64)
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
