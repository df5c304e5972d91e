//! The engine end to end over HTTP against both mock servers: every mapping row in
//! its direction, decommissioning, conflicts, idempotence, crash recovery, the API
//! budget, dry runs and the model filter.
//!
//! Long because each behaviour gets its own end-to-end scenario; each stands alone.

#[path = "../support/mod.rs"]
mod support;

mod linking;

use govsync::domain::ModelId;
use govsync::engine::CycleOptions;
use govsync::mapping::MappingTable;
use govsync::mock::Admin;
use govsync::plan::ActionKind;
use govsync::plan::Policy;
use govsync::store::HistoryFilter;
use govsync::store::StateStore;
use serde_json::{Value, json};
use support::world::{owned, world};

#[tokio::test]
async fn every_row_propagates_in_its_direction_and_never_the_other() {
    let mut w = world(Policy::default()).await;
    let table = MappingTable::built_in();
    let mut checks = Vec::new();
    for (i, row) in table.rows().iter().enumerate() {
        let (g, lc) = (
            row.governance_status.as_str(),
            (
                row.lifecycle.stage.as_str(),
                row.lifecycle.stage_status.as_str(),
            ),
        );
        // Governance holds the row's status, SageMaker no lifecycle: only a push can apply.
        let push = w.pair(&format!("push-{i}"), Some(g), None);
        // SageMaker holds the row's lifecycle, governance no status: only a pull can apply.
        let pull = w.pair(&format!("pull-{i}"), None, Some(lc));
        checks.push((row.clone(), push, pull));
    }
    let report = w.cycle().await;
    assert_eq!(report.failures(), 0);
    for (row, (_, push_arn), (pull_id, _)) in &checks {
        let lc = (
            row.lifecycle.stage.as_str(),
            row.lifecycle.stage_status.as_str(),
        );
        if row.direction.allows_push() {
            assert_eq!(
                w.lifecycle(push_arn),
                owned(lc),
                "row {} pushes",
                row.governance_status
            );
        } else {
            assert_eq!(
                w.lifecycle(push_arn),
                None,
                "row {} must not push",
                row.governance_status
            );
        }
        let archived = row.lifecycle.stage == "Archived";
        if row.direction.allows_pull() {
            assert_eq!(
                w.gov.status_of(pull_id).as_deref(),
                Some(row.governance_status.as_str()),
                "row pulls"
            );
        } else if !archived {
            assert_eq!(
                w.gov.status_of(pull_id),
                None,
                "row {} must not pull",
                row.governance_status
            );
        } else {
            // The archive stage decommissions whatever the direction (DESIGN rule 2).
            assert_eq!(w.gov.status_of(pull_id).as_deref(), Some("Decommissioned"));
        }
    }
    let bidirectional = table
        .rows()
        .iter()
        .filter(|r| r.direction.allows_push() && r.direction.allows_pull())
        .count();
    assert_eq!(bidirectional, 2);
}

#[tokio::test]
async fn a_second_cycle_writes_nothing_and_a_crash_before_recording_converges() {
    let mut w = world(Policy::default()).await;
    for i in 0..10 {
        w.pair(
            &format!("m{i}"),
            Some("Development Complete"),
            Some(("Development", "InProgress")),
        );
    }
    let deployed = w.pair("deployed", None, Some(("Deployment", "Complete")));
    // The "crash": the first cycle applies its writes but records nothing.
    let first = w
        .engine
        .cycle(None, &CycleOptions::default())
        .await
        .expect("cycle");
    assert_eq!(first.count(ActionKind::Push), 10);
    assert_eq!(first.count(ActionKind::Pull), 1);
    assert_eq!(w.gov.status_of(&deployed.0).as_deref(), Some("Deployed"));
    let after_first = w.writes();
    assert_eq!(after_first, (10, 1));
    // Restart with the store: nothing is written twice.
    let second = w.cycle().await;
    assert_eq!(second.count(ActionKind::InSync), 11);
    assert_eq!(w.writes(), after_first, "no duplicate write");
    let third = w.cycle().await;
    assert_eq!(third.exit_code(), 0);
    assert_eq!(w.writes(), after_first);
    assert_eq!(w.store.baseline().await.expect("baseline").len(), 11);
}

#[tokio::test]
async fn deleted_deleting_and_archived_packages_decommission_their_models() {
    let mut w = world(Policy::default()).await;
    let deleted = w.pair(
        "deleted",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    let deleting = w.pair(
        "deleting",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    let archived = w.pair(
        "archived",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    let fine = w.pair("fine", Some("Deployed"), Some(("Deployment", "Complete")));
    w.cycle().await;
    w.sm.call(
        "DeleteModelPackage",
        json!({ "ModelPackageName": deleted.1 }),
    )
    .expect("delete");
    w.sm.set_package_status(&deleting.1, "Deleting")
        .expect("deleting");
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": archived.1, "ModelLifeCycle": { "Stage": "Archived", "StageStatus": "Complete" } }),
    )
    .expect("archive");
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Decommission), 3);
    assert_eq!(report.confirmed_deleted, 1);
    assert_eq!(
        w.sm.counters().get("DescribeModelPackage"),
        1,
        "one describe per missing package"
    );
    for id in [&deleted.0, &deleting.0, &archived.0] {
        assert_eq!(w.gov.status_of(id).as_deref(), Some("Decommissioned"));
    }
    assert_eq!(w.gov.status_of(&fine.0).as_deref(), Some("Deployed"));
    let journal = w
        .store
        .history(&HistoryFilter {
            model: Some(deleted.0.clone()),
            since: None,
        })
        .await
        .expect("history");
    assert_eq!(
        journal.last().map(|e| e.action.as_str()),
        Some("decommission")
    );
}

#[tokio::test]
async fn an_archived_model_card_decommissions_when_model_cards_are_read() {
    let mut w = world(Policy::default()).await;
    let carded = w.pair("carded", Some("Deployed"), Some(("Deployment", "Complete")));
    let fine = w.pair("fine", Some("Deployed"), Some(("Deployment", "Complete")));
    let gone = w.pair(
        "gone",
        Some("Decommissioned"),
        Some(("Archived", "Complete")),
    );
    w.cycle().await;
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": carded.1, "ModelCard": { "ModelCardStatus": "Archived" } }),
    )
    .expect("archive the card");

    // Off (the default): the listing does not carry the card, so nothing notices.
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Decommission), 0);
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 0);

    // On: one describe per linked package whose model is not already decommissioning.
    w.engine.settings.read_model_cards = true;
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Decommission), 1);
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 2);
    let d = &report
        .results
        .iter()
        .find(|r| r.decision.model_id.as_str() == carded.0)
        .expect("carded")
        .decision;
    assert!(d.reason.contains("model card is Archived"), "{}", d.reason);
    assert_eq!(
        w.gov.status_of(&carded.0).as_deref(),
        Some("Decommissioned")
    );
    assert_eq!(w.gov.status_of(&fine.0).as_deref(), Some("Deployed"));
    assert_eq!(w.gov.status_of(&gone.0).as_deref(), Some("Decommissioned"));
}

#[tokio::test]
async fn shutdown_before_the_writes_stops_the_cycle_and_during_them_starts_no_new_one() {
    let mut w = world(Policy::default()).await;
    let pairs: Vec<_> = (0..4)
        .map(|i| {
            w.pair(
                &format!("m{i}"),
                Some("Development Complete"),
                Some(("Development", "InProgress")),
            )
        })
        .collect();

    let cancelled = CycleOptions::default();
    cancelled.cancel.cancel();
    let early = w.engine.cycle(Some(&mut w.store), &cancelled).await;
    assert!(
        matches!(early, Err(govsync::engine::CycleError::Cancelled)),
        "{early:?}"
    );
    assert_eq!(w.writes(), (0, 0));

    // Cancel while the first write is in flight (held at the mock's gate until the
    // token is cancelled): with one write at a time, it finishes and is recorded;
    // the other three never start.
    w.engine.settings.concurrency = 1;
    w.sm.gate().hold("UpdateModelPackage");
    let options = CycleOptions::default();
    let cancel = options.cancel.clone();
    let sm = w.sm.clone();
    let watcher = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while sm.gate().waiting("UpdateModelPackage") == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no write started within 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        cancel.cancel();
        sm.gate().release("UpdateModelPackage");
    });
    let report = w
        .engine
        .cycle(Some(&mut w.store), &options)
        .await
        .expect("cycle");
    watcher.await.expect("watcher");
    let outcomes: Vec<&str> = report.results.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "applied").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "cancelled").count(),
        3,
        "{outcomes:?}"
    );
    assert_eq!(w.writes(), (1, 0));
    assert_eq!(
        w.store.journal_len().await.expect("len"),
        1,
        "the finished write is recorded"
    );
    assert_eq!(report.exit_code(), 0);

    // The next cycle makes the three writes left.
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::Push), 3);
    for (_, arn) in &pairs {
        assert_eq!(w.lifecycle(arn), owned(("Development", "Complete")));
    }
}

#[tokio::test]
async fn the_safety_valve_decommissions_nothing_when_too_many_vanish() {
    let mut w = world(Policy {
        max_decommissions_per_cycle: 2,
        ..Policy::default()
    })
    .await;
    let pairs: Vec<_> = (0..3)
        .map(|i| {
            w.pair(
                &format!("m{i}"),
                Some("Deployed"),
                Some(("Deployment", "Complete")),
            )
        })
        .collect();
    w.cycle().await;
    for (_, arn) in &pairs {
        w.sm.call("DeleteModelPackage", json!({ "ModelPackageName": arn }))
            .expect("delete");
    }
    let report = w.cycle().await;
    let messages: Vec<String> = report.safety_valve.iter().map(|t| t.to_string()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("3 models") && m.contains("limit of 2")),
        "{messages:?}"
    );
    assert_eq!(report.exit_code(), 3);
    assert_eq!(w.writes(), (0, 0));
    for (id, _) in &pairs {
        assert_eq!(w.gov.status_of(id).as_deref(), Some("Deployed"));
    }
}

#[tokio::test]
async fn when_both_sides_changed_the_conflict_policy_decides_and_it_is_reported() {
    let mut w = world(Policy::default()).await;
    let (id, arn) = w.pair(
        "both",
        Some("Under Development"),
        Some(("Development", "InProgress")),
    );
    assert_eq!(w.cycle().await.count(ActionKind::InSync), 1);
    w.gov
        .set_status(&id, "Development Complete")
        .expect("console");
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": arn, "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
    )
    .expect("update");
    let report = w.cycle().await;
    let value = serde_json::to_value(&report.results[0]).expect("json");
    assert_eq!(value["action"]["kind"], "push");
    assert_eq!(value["action"]["conflict"], true, "{value}");
    // The summary counts it (a script reading only the summary sees the conflict).
    let summary = report.summary();
    assert_eq!(
        (summary.conflicts_resolved, summary.push, summary.conflict),
        (1, 1, 0)
    );
    let json: serde_json::Value =
        serde_json::from_str(&govsync::report::json(&report)).expect("json");
    assert_eq!(json["summary"]["conflicts_resolved"], 1);
    assert!(
        govsync::report::table(&report).contains("0 conflict (1 resolved by the policy)"),
        "{}",
        govsync::report::table(&report)
    );
    assert_eq!(
        w.lifecycle(&arn),
        owned(("Development", "Complete")),
        "governance wins by default"
    );
    assert_eq!(
        w.gov.status_of(&id).as_deref(),
        Some("Development Complete")
    );
}

#[tokio::test]
async fn a_cycle_over_1000_linked_models_in_sync_stays_within_the_api_budget() {
    let mut w = world(Policy::default()).await;
    for i in 0..1000 {
        w.pair(
            &format!("m{i}"),
            Some("Deployed"),
            Some(("Deployment", "Complete")),
        );
    }
    w.cycle().await;
    w.sm.counters().reset();
    w.gov.counters().reset();
    let report = w.cycle().await;
    assert_eq!(report.count(ActionKind::InSync), 1000);
    assert_eq!(w.sm.counters().get("ListModelPackages"), 10);
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 0);
    assert_eq!(w.gov.counters().get("query"), 2);
    assert_eq!(w.writes(), (0, 0));
}

#[tokio::test]
async fn a_dry_run_writes_nothing_anywhere() {
    let mut w = world(Policy::default()).await;
    let (id, arn) = w.pair(
        "m",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    let report = w
        .engine
        .cycle(
            Some(&mut w.store),
            &CycleOptions {
                dry_run: true,
                ..CycleOptions::default()
            },
        )
        .await
        .expect("cycle");
    let value: Value = serde_json::to_value(&report.results[0]).expect("json");
    assert_eq!(value["outcome"], "planned");
    assert_eq!(w.writes(), (0, 0));
    assert_eq!(w.store.journal_len().await.expect("len"), 0);
    assert!(w.store.baseline().await.expect("baseline").is_empty());
    assert_eq!(w.lifecycle(&arn), owned(("Development", "InProgress")));
    let _ = id;
}

#[tokio::test]
async fn the_model_filter_plans_and_writes_that_model_only() {
    let mut w = world(Policy::default()).await;
    let (wanted, wanted_arn) = w.pair(
        "wanted",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    let (_, other_arn) = w.pair(
        "other",
        Some("Development Complete"),
        Some(("Development", "InProgress")),
    );
    let cycle = |model: &str| CycleOptions {
        model: Some(ModelId::new(model)),
        ..CycleOptions::default()
    };
    let none = w
        .engine
        .cycle(Some(&mut w.store), &cycle("nope"))
        .await
        .expect("cycle");
    assert!(none.results.is_empty(), "{:?}", none.results);
    assert_eq!(w.writes(), (0, 0));

    let only = w
        .engine
        .cycle(Some(&mut w.store), &cycle(wanted.as_str()))
        .await
        .expect("cycle");
    let ids: Vec<&str> = only
        .results
        .iter()
        .map(|r| r.decision.model_id.as_str())
        .collect();
    assert_eq!(ids, [wanted.as_str()]);
    assert_eq!(w.writes(), (1, 0), "one push, for the wanted model");
    assert_eq!(w.lifecycle(&wanted_arn), owned(("Development", "Complete")));
    assert_eq!(
        w.lifecycle(&other_arn),
        owned(("Development", "InProgress"))
    );
}
