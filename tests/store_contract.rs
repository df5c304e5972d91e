//! The state store's contract, run against both implementations: SQLite (a file)
//! and PostgreSQL (a throwaway server started by the test). Same calls, same
//! answers: baseline, journal, intents, history, migrations, and `state copy`
//! between them. PostgreSQL's own part — the leader's lock and its fence — is here
//! too.

mod support;

use std::time::Duration;

use govsync::config::{PostgresConfig, SecretSource, StateConfig};
use govsync::domain::{GovernanceStatus, Lifecycle, ModelId, PackageArn};
use govsync::plan::BaselineEntry;
use govsync::store::{Access, Election, Lead};
use govsync::store::{
    HistoryFilter, Intent, JournalEntry, StateStore, Store, StoreError, WriteSystem, copy,
};
use secrecy::SecretString;
use support::postgres::{PASSWORD, Postgres};

const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1";

fn entry(model: &str, action: &str, at: &str) -> JournalEntry {
    JournalEntry {
        at: at.into(),
        model_id: model.into(),
        model_name: format!("model {model}"),
        package_arn: ARN.into(),
        action: action.into(),
        from: Some("Proposed | (none)".into()),
        to: Some("Proposal/Approved".into()),
        reason: "because".into(),
        outcome: "applied".into(),
        error: None,
        cycle: Some("c1".into()),
    }
}

fn intent(model: &str) -> Intent {
    Intent {
        cycle: "c2".into(),
        model_id: model.into(),
        model_name: format!("model {model}"),
        package_arn: ARN.into(),
        system: WriteSystem::SageMaker,
        action: "push".into(),
        from: Some("Proposed | (none)".into()),
        to: "Proposal/Approved".into(),
        reason: "row 3".into(),
    }
}

fn base(status: &str, stage: &str) -> BaselineEntry {
    BaselineEntry {
        arn: PackageArn::parse(ARN).expect("arn"),
        governance_status: GovernanceStatus::new(status),
        lifecycle: Lifecycle::new(stage, "Approved"),
    }
}

/// Journal entries without their times (which the store sets on completion).
fn untimed(entries: Vec<JournalEntry>) -> Vec<JournalEntry> {
    entries
        .into_iter()
        .map(|mut e| {
            e.at = if e.at.starts_with("2026-01") {
                e.at
            } else {
                "(now)".into()
            };
            e
        })
        .collect()
}

/// The contract: the same calls on any store, and what they must answer. Returns the
/// full history it left, to compare between stores.
async fn contract(store: &mut Store) -> Vec<JournalEntry> {
    // An empty store.
    assert!(store.baseline().await.expect("baseline").is_empty());
    assert_eq!(store.journal_len().await.expect("len"), 0);
    assert!(store.open_intents().await.expect("intents").is_empty());

    // Baselines and reports in one record; a later record replaces a baseline.
    store
        .record(
            &[
                (ModelId::new("7"), base("Proposed", "Proposal")),
                (ModelId::new("8"), base("Deployed", "Deployment")),
            ],
            &[
                entry("7", "drift", "2026-01-01T00:00:00Z"),
                entry("8", "conflict", "2026-01-02T00:00:00Z"),
            ],
        )
        .await
        .expect("record");
    store
        .record(&[(ModelId::new("7"), base("Approved", "Proposal"))], &[])
        .await
        .expect("record");
    let baseline = store.baseline().await.expect("baseline");
    assert_eq!(baseline.len(), 2);
    assert_eq!(
        baseline[&ModelId::new("7")].governance_status,
        GovernanceStatus::new("Approved")
    );
    let seven = ModelId::new("7");
    let nine = ModelId::new("9");
    let some = store.baseline_of(&[&seven, &nine]).await.expect("some");
    assert_eq!(some.keys().collect::<Vec<_>>(), vec![&seven]);

    // An intent is open until completed, completed once, then in the journal.
    let a = store.record_intent(&intent("7")).await.expect("intent");
    let b = store.record_intent(&intent("8")).await.expect("intent");
    assert!(b > a, "intent keys grow");
    let open = store.open_intents().await.expect("open");
    assert_eq!(
        open.iter()
            .map(|o| (o.id, o.intent.clone()))
            .collect::<Vec<_>>(),
        vec![(a, intent("7")), (b, intent("8"))]
    );
    store
        .complete_intent(a, "applied", None)
        .await
        .expect("complete");
    assert!(
        store.complete_intent(a, "applied", None).await.is_err(),
        "an intent is completed once"
    );
    store
        .complete_intent(b, "failed", Some("HTTP 500"))
        .await
        .expect("complete");
    assert!(store.open_intents().await.expect("open").is_empty());
    assert_eq!(store.journal_len().await.expect("len"), 4);

    // History: oldest first, filtered by model and by time.
    let all = store.history(&HistoryFilter::default()).await.expect("all");
    assert_eq!(
        all.iter()
            .map(|e| (e.model_id.as_str(), e.action.as_str(), e.outcome.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("7", "drift", "applied"),
            ("8", "conflict", "applied"),
            ("7", "push", "applied"),
            ("8", "push", "failed"),
        ]
    );
    assert_eq!(all[3].error.as_deref(), Some("HTTP 500"));
    assert_eq!(all[3].cycle.as_deref(), Some("c2"));
    let only_8 = store
        .history(&HistoryFilter {
            model: Some("8".into()),
            since: None,
        })
        .await
        .expect("8");
    assert_eq!(only_8.len(), 2);
    let since = store
        .history(&HistoryFilter {
            model: None,
            since: Some("2026-01-02T00:00:00Z".into()),
        })
        .await
        .expect("since");
    assert_eq!(since.len(), 3);

    // The latest entry per model, and the newest entries first.
    let latest = store
        .latest_by_model(&["7", "8", "9"])
        .await
        .expect("latest");
    assert_eq!(latest.len(), 2);
    assert_eq!(latest["8"].0, "push");
    let recent = store.recent_journal(2).await.expect("recent");
    assert_eq!(
        recent
            .iter()
            .map(|e| e.model_id.as_str())
            .collect::<Vec<_>>(),
        vec!["8", "7"]
    );
    // Events out: with the outbox on, an applied or recovered write's entry waits
    // to be published, in the transaction of its outcome; a failed one does not,
    // and nothing was queued while it was off (the pushes above).
    assert_eq!(store.outbox_len().await.expect("outbox"), 0);
    store.set_outbox(true);
    let mut keys = Vec::new();
    for model in ["7", "8", "9"] {
        keys.push(store.record_intent(&intent(model)).await.expect("intent"));
    }
    store
        .complete_intent(keys[0], "applied", None)
        .await
        .expect("complete");
    store
        .complete_intent(keys[1], "failed", Some("HTTP 500"))
        .await
        .expect("complete");
    store
        .complete_intent(keys[2], "recovered", Some("seen"))
        .await
        .expect("complete");
    let pending = store.pending_events(10).await.expect("pending");
    assert_eq!(
        pending
            .iter()
            .map(|(_, e)| (e.model_id.as_str(), e.outcome.as_str()))
            .collect::<Vec<_>>(),
        vec![("7", "applied"), ("9", "recovered")]
    );
    assert!(
        pending[0].0 < pending[1].0,
        "oldest first, by sequence number"
    );
    store
        .publish_failed(&[pending[0].0], "the bus is unreachable")
        .await
        .expect("failed");
    assert_eq!(
        store.outbox_len().await.expect("outbox"),
        2,
        "a failure keeps it"
    );
    store.published(&[pending[0].0]).await.expect("published");
    assert_eq!(
        store.pending_events(10).await.expect("pending"),
        pending[1..]
    );
    store.published(&[pending[1].0]).await.expect("published");
    assert_eq!(store.outbox_len().await.expect("outbox"), 0);
    store.set_outbox(false);

    // One intent left open, for copies to carry.
    store.record_intent(&intent("9")).await.expect("intent");
    untimed(all)
}

fn sqlite(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open_sqlite(dir.path().join(name).to_str().expect("utf-8")).expect("sqlite")
}

fn election(pg: &Postgres, db: &str, instance: &str) -> Election {
    let url = pg.url(db);
    Election::new(
        &url,
        Some(&SecretString::from(PASSWORD)),
        instance,
        Duration::from_secs(3),
    )
    .expect("election")
}

/// Leads on `db` (creating and migrating it), as `instance`.
async fn lead(pg: &Postgres, db: &str, instance: &str) -> Store {
    match election(pg, db, instance)
        .try_lead()
        .await
        .expect("connect")
    {
        Lead::Leads(store) => Store::Postgres(store),
        Lead::Standby(_) => panic!("{instance} should lead on {db}"),
    }
}

#[tokio::test]
async fn both_stores_keep_the_contract_and_give_the_same_history() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lite = sqlite(&dir, "state.db");
    let from_sqlite = contract(&mut lite).await;
    pg.database("contract");
    let mut postgres = lead(&pg, "contract", "a").await;
    let from_postgres = contract(&mut postgres).await;
    assert_eq!(from_sqlite, from_postgres);
}

#[tokio::test]
async fn a_store_from_a_newer_govsync_is_refused_by_both() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    drop(Store::open_sqlite(path.to_str().expect("utf-8")).expect("create"));
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.pragma_update(None, "user_version", 99)
        .expect("pragma");
    drop(conn);
    let sqlite = Store::open_sqlite(path.to_str().expect("utf-8"))
        .err()
        .expect("refused");

    pg.database("newer");
    drop(lead(&pg, "newer", "a").await);
    pg.psql("newer", "UPDATE govsync_schema SET version = 99");
    let postgres = election(&pg, "newer", "a")
        .try_lead()
        .await
        .err()
        .expect("refused");
    for error in [sqlite, postgres] {
        let message = error.to_string();
        assert!(
            message.contains("schema version 99") && message.contains("newer govsync"),
            "{message}"
        );
    }
}

/// A journal of schema version 1 (before intents), as an older govsync left it.
const VERSION_1_JOURNAL: &str = "
    CREATE TABLE journal (
        seq         {SEQ},
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
    CREATE TABLE baseline (
        model_id TEXT PRIMARY KEY, package_arn TEXT NOT NULL, governance_status TEXT NOT NULL,
        stage TEXT NOT NULL, stage_status TEXT NOT NULL, updated_at TEXT NOT NULL
    );
    CREATE INDEX journal_model ON journal (model_id, seq);
    CREATE INDEX journal_at ON journal (at);
    INSERT INTO journal (at, model_id, model_name, package_arn, action, reason, outcome)
        VALUES ('2026-01-01T00:00:00Z', '7', 'model 7', 'arn', 'drift', 'old', 'reported');
";

/// After migrating a version 1 store: the old entry is kept, intents work.
async fn migrated_from_version_1(store: &mut Store) {
    let all = store
        .history(&HistoryFilter::default())
        .await
        .expect("history");
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].reason.as_str(), all[0].cycle.as_deref()),
        ("old", None)
    );
    let id = store.record_intent(&intent("7")).await.expect("intent");
    store
        .complete_intent(id, "applied", None)
        .await
        .expect("complete");
    assert_eq!(store.journal_len().await.expect("len"), 2);
}

#[tokio::test]
async fn both_stores_migrate_a_version_1_store_and_keep_its_journal() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db");
    let conn = rusqlite::Connection::open(&path).expect("create");
    conn.execute_batch(&VERSION_1_JOURNAL.replace("{SEQ}", "INTEGER PRIMARY KEY AUTOINCREMENT"))
        .expect("version 1");
    conn.pragma_update(None, "user_version", 1).expect("pragma");
    drop(conn);
    migrated_from_version_1(&mut Store::open_sqlite(path.to_str().expect("utf-8")).expect("open"))
        .await;

    pg.database("v1");
    pg.psql(
        "v1",
        &format!(
            "{} CREATE TABLE govsync_schema (version BIGINT NOT NULL); INSERT INTO govsync_schema VALUES (1);",
            VERSION_1_JOURNAL.replace("{SEQ}", "BIGSERIAL PRIMARY KEY")
        ),
    );
    migrated_from_version_1(&mut lead(&pg, "v1", "a").await).await;
    assert_eq!(pg.psql("v1", "SELECT version FROM govsync_schema"), "3");
}

#[tokio::test]
async fn migrations_run_once_and_are_recorded() {
    let pg = Postgres::start();
    pg.database("migrate");
    // Two replicas starting together: both migrate under one lock, one leads.
    let (a, b) = tokio::join!(
        async { election(&pg, "migrate", "a").try_lead().await },
        async { election(&pg, "migrate", "b").try_lead().await }
    );
    let leads = [a.expect("a"), b.expect("b")]
        .iter()
        .filter(|x| matches!(x, Lead::Leads(_)))
        .count();
    assert_eq!(leads, 1, "exactly one leads");
    assert_eq!(
        pg.psql("migrate", "SELECT version FROM govsync_schema"),
        "3"
    );
    assert_eq!(
        pg.psql(
            "migrate",
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ),
        "6",
        "baseline, journal, intent, leader, outbox, govsync_schema"
    );
}

#[tokio::test]
async fn a_standby_sees_the_leader_and_a_leader_whose_session_is_gone_records_no_intent() {
    let pg = Postgres::start();
    pg.database("fence");
    let mut leader = lead(&pg, "fence", "pod-a").await;
    leader
        .record_intent(&intent("1"))
        .await
        .expect("the leader records");

    let mut standby = election(&pg, "fence", "pod-b");
    match standby.try_lead().await.expect("standby") {
        Lead::Standby(Some(row)) => assert_eq!(row.instance, "pod-a"),
        _ => panic!("pod-b should stand by, seeing pod-a lead"),
    }

    // The server ends the leader's session (as a failover, a network cut or an
    // operator would): the lock is free, and the old leader writes nothing more.
    pg.psql(
        "fence",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'govsync pod-a'",
    );
    let refused = leader
        .record_intent(&intent("2"))
        .await
        .expect_err("fenced");
    assert!(
        matches!(
            refused,
            StoreError::Postgres { .. } | StoreError::NotLeader { .. }
        ),
        "{refused}"
    );
    let again = leader
        .record_intent(&intent("3"))
        .await
        .expect_err("fenced");
    assert!(matches!(again, StoreError::NotLeader { .. }), "{again}");
    match standby.try_lead().await.expect("takeover") {
        Lead::Leads(mut store) => {
            let open = store.open_intents().await.expect("open");
            assert_eq!(open.len(), 1, "the old leader's intent is there to resolve");
            assert_eq!(open[0].intent.model_id, "1");
        }
        Lead::Standby(_) => panic!("pod-b should lead once pod-a's session is gone"),
    }
}

#[tokio::test]
async fn a_second_writer_fails_at_once_naming_the_leader_and_a_reader_reads_beside_it() {
    let pg = Postgres::start();
    pg.database("second");
    let mut leader = lead(&pg, "second", "pod-a").await;
    leader
        .record(&[], &[entry("7", "drift", "2026-01-01T00:00:00Z")])
        .await
        .expect("record");
    let state = StateConfig::Postgres(PostgresConfig {
        url: pg.url("second"),
        password: Some(SecretSource::Env("DB_PASSWORD".into())),
        instance: "reconcile-1".into(),
        lease: Duration::from_secs(3),
    });
    let env = |name: &str| (name == "DB_PASSWORD").then(|| PASSWORD.to_string());
    // `reconcile` (a writer) is refused while a daemon leads, and says who does.
    let refused = govsync::store::open(&state, &env, Access::Write)
        .await
        .err()
        .expect("refused");
    assert!(
        refused.contains("another govsync leads") && refused.contains("instance pod-a"),
        "{refused}"
    );
    // `history` (a reader) reads beside it.
    let mut reader = govsync::store::open(&state, &env, Access::Read)
        .await
        .expect("a reader");
    assert_eq!(reader.journal_len().await.expect("len"), 1);
    assert!(
        reader.record_intent(&intent("7")).await.is_err(),
        "a reader writes nothing"
    );
    // A wrong password is a clear error that does not show it.
    let wrong = |_: &str| Some("not-the-password".to_string());
    let denied = govsync::store::open(&state, &wrong, Access::Read)
        .await
        .err()
        .expect("denied");
    assert!(
        denied.contains("password authentication failed"),
        "{denied}"
    );
    assert!(!denied.contains("not-the-password"), "{denied}");
}

#[tokio::test]
async fn state_copy_round_trips_and_is_idempotent() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut source = sqlite(&dir, "source.db");
    contract(&mut source).await;
    pg.database("copy");
    let mut middle = lead(&pg, "copy", "copier").await;
    let first = copy(&mut source, &mut middle).await.expect("copy");
    assert_eq!(
        (
            first.journal_copied,
            first.journal_present,
            first.baselines,
            first.intents
        ),
        (7, 0, 2, 1)
    );
    let again = copy(&mut source, &mut middle).await.expect("copy again");
    assert_eq!((again.journal_copied, again.journal_present), (0, 7));

    // And back into a new SQLite file: the same store.
    let mut back = sqlite(&dir, "back.db");
    copy(&mut middle, &mut back).await.expect("copy back");
    let all = HistoryFilter::default();
    assert_eq!(
        back.history(&all).await.expect("history"),
        source.history(&all).await.expect("history")
    );
    assert_eq!(
        back.baseline_rows().await.expect("rows"),
        source.baseline_rows().await.expect("rows")
    );
    assert_eq!(
        back.intent_rows().await.expect("intents"),
        source.intent_rows().await.expect("intents")
    );
    // New rows continue after the copied keys.
    let next = middle.record_intent(&intent("10")).await.expect("intent");
    assert!(next > source.intent_rows().await.expect("rows")[0].id);

    // A destination written on its own is refused, not merged.
    middle
        .record(&[], &[entry("5", "drift", "2026-01-03T00:00:00Z")])
        .await
        .expect("record");
    let refused = copy(&mut source, &mut middle).await.expect_err("diverged");
    assert!(refused.to_string().contains("empty store"), "{refused}");
}
