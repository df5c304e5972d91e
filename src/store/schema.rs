//! The schema both stores keep, written once: migration `i` takes a store from
//! version `i` to `i + 1` ([`SCHEMA_VERSION`] in all). `{KEY}` is the dialect's
//! auto-numbered primary key. Statements end with `;` and hold none inside, comments
//! included: PostgreSQL runs them one at a time.

use super::SCHEMA_VERSION;

const STEPS: [&str; SCHEMA_VERSION as usize] = [
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
        seq         {KEY},
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
    -- A write about to be made: completed into the journal right after it, or, if
    -- the process died in between, resolved against the next observation.
    CREATE TABLE intent (
        id          {KEY},
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
",
    "
    -- Events out: the journal entries of applied writes whose event is not yet
    -- published, added in the transaction that records the outcome.
    CREATE TABLE outbox (
        seq        BIGINT PRIMARY KEY,
        attempts   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
",
];

/// A dialect's migrations: each shared step with `key` as the auto-numbered primary
/// key, followed by the dialect's own tables of that step (`own[i]`).
pub(super) fn migrations(
    key: &str,
    own: [&str; SCHEMA_VERSION as usize],
) -> impl Iterator<Item = String> {
    STEPS
        .iter()
        .zip(own)
        .map(move |(step, own)| step.replace("{KEY}", key) + own)
}
