//! Full and incremental cycles against both mocks over HTTP: an incremental cycle
//! asks each side only for what changed (governance's `[Last Modification Date]`,
//! SageMaker's `Search`), plans only the models touched, never concludes that a
//! package is gone, and costs two calls when nothing changed, whatever the fleet.

#[path = "../support/mod.rs"]
mod support;

mod edges;

use govsync::engine::CycleKind;
use govsync::mock::Admin;
use govsync::plan::{ActionKind, Policy};
use govsync::store::StateStore;
use serde_json::json;
use support::world::{World, owned, world};

/// Every call either mock received so far, by operation (SageMaker) or endpoint
/// (governance).
fn calls(w: &World) -> (u64, u64, u64, u64, u64, u64) {
    let sm = w.sm.counters();
    let gov = w.gov.counters();
    (
        sm.get("Search"),
        sm.get("ListModelPackages"),
        sm.get("DescribeModelPackage"),
        sm.get("UpdateModelPackage"),
        gov.get("query"),
        gov.get("contents.put"),
    )
}

/// A world of `n` linked models in sync (Under Development / Development/InProgress)
/// after a full cycle, last changed 10 minutes ago on both sides (longer ago than an
/// incremental cycle looks back); returns their (model ID, ARN) pairs.
async fn in_sync(n: usize) -> (World, Vec<(String, String)>) {
    let mut w = world(Policy::default()).await;
    let pairs: Vec<(String, String)> = (0..n)
        .map(|i| {
            w.pair(
                &format!("m{i}"),
                Some("Under Development"),
                Some(("Development", "InProgress")),
            )
        })
        .collect();
    let ten_minutes = std::time::Duration::from_secs(600);
    w.sm.age(ten_minutes);
    w.gov.age(ten_minutes);
    let full = w.run(CycleKind::Incremental).await;
    assert_eq!(
        full.kind,
        CycleKind::Full,
        "nothing is known before a full cycle"
    );
    assert_eq!(full.count(ActionKind::InSync), n);
    w.sm.counters().reset();
    w.gov.counters().reset();
    (w, pairs)
}

#[tokio::test]
async fn with_nothing_changed_an_incremental_cycle_costs_two_calls_whatever_the_fleet() {
    for n in [3, 250] {
        let (mut w, _) = in_sync(n).await;
        let report = w.run(CycleKind::Incremental).await;
        assert_eq!(report.kind, CycleKind::Incremental);
        assert!(report.results.is_empty(), "{:?}", report.results);
        // One Search, one governance query; no listing, describe or write.
        assert_eq!(calls(&w), (1, 0, 0, 0, 1, 0), "n = {n}");
    }
}

#[tokio::test]
async fn an_incremental_cycle_sees_a_change_on_either_side_and_nothing_else() {
    let (mut w, pairs) = in_sync(20).await;
    // A reviewer completes development of m3 in governance.
    w.gov
        .set_status(&pairs[3].0, "Development Complete")
        .expect("console");
    // A pipeline marks m7 deployed in SageMaker: Deployment/Complete pulls "Deployed".
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": pairs[7].1,
                "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
    )
    .expect("pipeline");
    w.sm.counters().reset();
    let report = w.run(CycleKind::Incremental).await;
    let planned: Vec<(&str, ActionKind)> = report
        .results
        .iter()
        .map(|r| (r.decision.model_id.as_str(), r.decision.action.kind()))
        .collect();
    assert_eq!(
        planned,
        [
            (pairs[3].0.as_str(), ActionKind::Push),
            (pairs[7].0.as_str(), ActionKind::Pull)
        ]
    );
    assert_eq!(w.lifecycle(&pairs[3].1), owned(("Development", "Complete")));
    // One Search, one query, one update each way (and the governance re-read
    // before its write); no listing, no describe.
    let (search, list, describe, update, query, put) = calls(&w);
    assert_eq!(
        (search, list, describe, update, query, put),
        (1, 0, 0, 1, 1, 1)
    );
    assert_eq!(w.gov.counters().get("contents.get"), 1);
}

#[tokio::test]
async fn govsyncs_own_writes_come_back_and_cause_no_write() {
    let (mut w, pairs) = in_sync(5).await;
    w.gov
        .set_status(&pairs[0].0, "Development Complete")
        .expect("console");
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": pairs[1].1,
                "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
    )
    .expect("pipeline");
    let first = w.run(CycleKind::Incremental).await;
    assert_eq!(first.outcomes(&govsync::engine::Outcome::Applied), 2);
    let writes = w.writes();
    // The next cycles find both writes (and the changes before them) again, inside
    // the overlap window: nothing is written.
    for _ in 0..2 {
        let again = w.run(CycleKind::Incremental).await;
        assert_eq!(w.writes(), writes, "{:?}", again.results);
        assert!(again.results.iter().all(|r| !r.decision.action.writes()));
    }
    // And a full cycle agrees that everything is in sync.
    let full = w.run(CycleKind::Full).await;
    assert_eq!(full.count(ActionKind::InSync), 5);
    assert_eq!(w.writes(), writes);
}

#[tokio::test]
async fn a_change_inside_the_overlap_window_is_acted_on_once() {
    let (mut w, pairs) = in_sync(3).await;
    w.gov
        .set_status(&pairs[2].0, "Development Complete")
        .expect("console");
    let first = w.run(CycleKind::Incremental).await;
    assert_eq!(first.count(ActionKind::Push), 1);
    let journal = w.store.journal_len().await.expect("journal");
    // The query of the next cycles reaches back over the change again.
    for _ in 0..3 {
        let again = w.run(CycleKind::Incremental).await;
        assert!(again.results.is_empty(), "{:?}", again.results);
    }
    assert_eq!(w.store.journal_len().await.expect("journal"), journal);
    assert_eq!(w.sm.counters().get("UpdateModelPackage"), 1);
}

#[tokio::test]
async fn a_deletion_is_concluded_by_a_full_cycle_only() {
    let (mut w, pairs) = in_sync(4).await;
    w.sm.call(
        "DeleteModelPackage",
        json!({ "ModelPackageName": pairs[1].1 }),
    )
    .expect("delete");
    // Someone also moves the model on in governance, so an incremental cycle plans
    // it, against the package as last known: the push finds it gone.
    w.gov
        .set_status(&pairs[1].0, "Development Complete")
        .expect("console");
    let incremental = w.run(CycleKind::Incremental).await;
    assert_eq!(incremental.count(ActionKind::Decommission), 0);
    assert_eq!(
        incremental.outcomes(&govsync::engine::Outcome::NotFound(
            "the object does not exist".into()
        )),
        1
    );
    // From then on the model is left to the full cycle, whatever touches it.
    w.gov
        .set_status(&pairs[1].0, "Under Development")
        .expect("console");
    let next = w.run(CycleKind::Incremental).await;
    assert!(next.results.is_empty(), "{:?}", next.results);
    assert_eq!(
        next.deferred.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        [pairs[1].0.as_str()],
    );
    assert_eq!(
        w.gov.counters().get("contents.put"),
        0,
        "nothing decommissioned"
    );
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 0);

    let full = w.run(CycleKind::Full).await;
    assert_eq!(full.count(ActionKind::Decommission), 1);
    assert_eq!(full.confirmed_deleted, 1);
    assert_eq!(w.gov.counters().get("contents.put"), 1);
    assert_eq!(
        w.gov.status_of(&pairs[1].0).as_deref(),
        Some("Decommissioned")
    );
}

#[tokio::test]
async fn a_lagging_search_index_loses_nothing() {
    let (mut w, pairs) = in_sync(3).await;
    // The index is far behind: the change is not found yet.
    w.sm.set_search_lag(std::time::Duration::from_secs(3600));
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": pairs[0].1,
                "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Complete" } }),
    )
    .expect("pipeline");
    let behind = w.run(CycleKind::Incremental).await;
    assert!(behind.results.is_empty(), "{:?}", behind.results);
    // The index catches up: the next cycle asks from a little before its last
    // question, and finds the change.
    w.sm.set_search_lag(std::time::Duration::ZERO);
    let caught_up = w.run(CycleKind::Incremental).await;
    assert_eq!(caught_up.count(ActionKind::Pull), 1);
    assert_eq!(w.gov.status_of(&pairs[0].0).as_deref(), Some("Deployed"));
}

#[tokio::test]
async fn an_archived_model_card_found_by_search_decommissions_without_a_describe() {
    let (mut w, pairs) = in_sync(3).await;
    w.sm.call(
        "UpdateModelPackage",
        json!({ "ModelPackageArn": pairs[2].1, "ModelCard": { "ModelCardStatus": "Archived" } }),
    )
    .expect("archive the card");
    w.sm.counters().reset();
    let report = w.run(CycleKind::Incremental).await;
    assert_eq!(
        report.count(ActionKind::Decommission),
        1,
        "{:?}",
        report.results
    );
    assert_eq!(
        w.gov.status_of(&pairs[2].0).as_deref(),
        Some("Decommissioned")
    );
    assert_eq!(w.sm.counters().get("DescribeModelPackage"), 0);
    // A full cycle keeps knowing the card (the listing does not carry it): the model
    // stays decommissioned, nothing more is written.
    let writes = w.writes();
    let full = w.run(CycleKind::Full).await;
    assert_eq!(full.count(ActionKind::Decommission), 0);
    assert_eq!(w.writes(), writes);
    let arn = govsync::domain::PackageArn::parse(&pairs[2].1).expect("arn");
    assert_eq!(
        w.memory
            .known()
            .package(&arn)
            .and_then(|p| p.model_card_status.clone()),
        Some(govsync::domain::ModelCardStatus::Archived),
        "the card Search showed outlives a full cycle, whose listing does not carry it"
    );
}
