//! The PostgreSQL schema's migrations, numbered as SQLite's ([`super::super::SCHEMA_VERSION`]):
//! the same tables and columns, in PostgreSQL's types.

pub(super) const MIGRATIONS: [&str; 2] = [
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
