//! The SageMaker adapter (aws-sdk-sagemaker) against the in-process mock server,
//! over real HTTP and AWS JSON 1.1 with static test credentials. Long because each
//! operation, fault and listing shape gets a scenario of its own; each stands alone.

mod support;

use govsync::domain::{ApprovalStatus, Lifecycle, ModelPackage, PackageArn, PackageStatus};
use govsync::mock::Admin;
use govsync::mock::Faults;
use govsync::mock::MockHandle;
use govsync::mock::sagemaker::{MockSageMaker, Options};
use govsync::remote::{ErrorKind, Listing, RemoteError, WriteOutcome};
use govsync::sagemaker::{Described, Registry, SageMakerRegistry};
use govsync::scope::Scope;
use serde_json::json;

struct Setup {
    mock: MockSageMaker,
    handle: MockHandle,
}

async fn start(faults: Faults) -> Setup {
    let mock = MockSageMaker::new(Options {
        faults,
        ..Options::default()
    })
    .expect("mock options are valid");
    let handle = mock.spawn_on_loopback().await.expect("serve");
    Setup { mock, handle }
}

/// The adapter and the scope it lists (the mock's default account and region).
struct Scoped {
    registry: SageMakerRegistry,
    scope: Scope,
}

impl Scoped {
    async fn list_packages(&self) -> Result<Listing<ModelPackage>, RemoteError> {
        self.registry.list_packages(&self.scope).await
    }
    async fn describe_package(&self, arn: &PackageArn) -> Result<Described, RemoteError> {
        self.registry.describe_package(arn).await
    }
    async fn set_lifecycle(
        &self,
        arn: &PackageArn,
        lifecycle: &Lifecycle,
        description: &str,
        approval: Option<ApprovalStatus>,
    ) -> WriteOutcome {
        self.registry
            .set_lifecycle(arn, lifecycle, description, approval)
            .await
    }
}

fn registry(setup: &Setup, groups: &[&str], max_attempts: u32) -> Scoped {
    Scoped {
        registry: support::remote::registry(&setup.mock, &setup.handle.url(), max_attempts),
        scope: support::remote::scope(groups),
    }
}

/// Creates `per_group` packages in each of `groups`, the n-th in `Development/InProgress`.
fn seed(mock: &MockSageMaker, groups: &[&str], per_group: usize) -> Vec<String> {
    let mut arns = Vec::new();
    for group in groups {
        mock.call(
            "CreateModelPackageGroup",
            json!({ "ModelPackageGroupName": group }),
        )
        .expect("create group");
        for _ in 0..per_group {
            let out = mock
                .call(
                    "CreateModelPackage",
                    json!({
                        "ModelPackageGroupName": group,
                        "ModelLifeCycle": { "Stage": "Development", "StageStatus": "InProgress" },
                    }),
                )
                .expect("create package");
            arns.push(out["ModelPackageArn"].as_str().expect("arn").to_string());
        }
    }
    arns
}

fn arn(text: &str) -> PackageArn {
    PackageArn::parse(text).expect("mock ARNs parse")
}

#[tokio::test]
async fn a_first_listing_of_1000_packages_in_four_groups_lists_each_group_once() {
    let setup = start(Faults::default()).await;
    let groups = ["fraud", "churn", "credit-risk", "pricing"];
    let arns = seed(&setup.mock, &groups, 250);
    let listing = registry(&setup, &[], 3)
        .list_packages()
        .await
        .expect("list");
    assert_eq!(listing.items.len(), 1000);
    assert!(listing.rejected.is_empty());
    let mut listed: Vec<String> = listing.items.iter().map(|p| p.arn.to_string()).collect();
    let mut expected = arns.clone();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected, "every package exactly once");
    assert!(
        listing
            .items
            .iter()
            .all(|p| p.lifecycle == Some(Lifecycle::new("Development", "InProgress")))
    );
    // Nothing learned yet: the groups, then each group on its own, at once
    // (250 packages: 3 pages a group).
    assert_eq!(setup.mock.counters().get("ListModelPackageGroups"), 1);
    assert_eq!(setup.mock.counters().get("ListModelPackages"), 12);
    assert_eq!(
        setup.mock.counters().get("DescribeModelPackage"),
        0,
        "the summaries carry the lifecycle"
    );
}

#[tokio::test]
async fn listing_only_configured_groups_pages_each_group() {
    let setup = start(Faults::default()).await;
    seed(&setup.mock, &["a", "b", "c"], 150);
    let listing = registry(&setup, &["a", "c"], 3)
        .list_packages()
        .await
        .expect("list");
    assert_eq!(listing.items.len(), 300);
    assert!(listing.items.iter().all(|p| p.arn.group() != "b"));
    // ceil(150/100) = 2 pages per group.
    assert_eq!(setup.mock.counters().get("ListModelPackages"), 4);
}

#[tokio::test]
async fn a_scopes_groups_are_listed_concurrently() {
    // Each page takes 150 ms at the mock: listed one after another, no two requests
    // would ever be in flight together.
    let setup = start(Faults {
        latency_ms: 150,
        ..Faults::default()
    })
    .await;
    seed(&setup.mock, &["a", "b", "c", "d", "e", "f"], 5);
    let groups = ["a", "b", "c", "d", "e", "f"];
    let listing = registry(&setup, &groups, 3)
        .list_packages()
        .await
        .expect("list");
    assert_eq!(listing.items.len(), 30);
    let peak = setup.mock.counters().peak_in_flight();
    assert!(
        (2..=govsync::sagemaker::listing::CHAINS_AT_ONCE).contains(&peak),
        "at most {} groups at once, and more than one: {peak}",
        govsync::sagemaker::listing::CHAINS_AT_ONCE
    );
}

#[tokio::test]
async fn a_big_listing_is_read_again_as_chains_at_once_at_the_same_number_of_calls() {
    // Each page takes 30 ms at the mock, so chains overlap in time only if they run
    // at once.
    let setup = start(Faults {
        latency_ms: 30,
        ..Faults::default()
    })
    .await;
    let mut arns = seed(&setup.mock, &["big"], 1_050);
    let scoped = registry(&setup, &[], 3);
    let distinct = |l: &Listing<ModelPackage>| {
        let mut v: Vec<String> = l.items.iter().map(|p| p.arn.to_string()).collect();
        v.sort();
        v
    };
    arns.sort();
    // The first listing knows nothing of the packages: the one group's oldest page,
    // its newest package, and the rest split into equal spans of time between the
    // two, listed at once.
    let first = scoped.list_packages().await.expect("list");
    assert_eq!(distinct(&first), arns);
    assert_first_of_one_group(&setup.mock, 1_050);
    assert!(setup.mock.counters().peak_in_flight() >= 2);
    // Packages created since land in the last chain; none is lost or read twice.
    arns.extend(seed_more(&setup.mock, "big", 30));
    arns.sort();
    setup.mock.counters().reset();
    let second = scoped.list_packages().await.expect("list");
    assert_eq!(second.items.len(), arns.len(), "each package once");
    assert_eq!(distinct(&second), arns);
    assert_eq!(
        setup.mock.counters().get("ListModelPackages"),
        11,
        "1,080 packages: 5 chains of 2 whole pages, the last with 1 page more"
    );
    assert!(
        setup.mock.counters().peak_in_flight() >= 4,
        "chains run at once: {}",
        setup.mock.counters().peak_in_flight()
    );
}

/// The calls of a first listing of one group of `n` packages, created one after
/// another: its oldest page, its newest package (one summary), then the others in
/// spans of creation time, at once: at most a partial page per span more than the
/// whole pages. Packages created within a millisecond of a span's bound are read by
/// both spans (the bounds overlap by a millisecond; the listing keeps each once):
/// the test makes tens of packages a millisecond, so up to a page per span more.
fn assert_first_of_one_group(mock: &MockSageMaker, n: u64) {
    let calls = mock.counters().get("ListModelPackages");
    let spans = govsync::sagemaker::listing::CHAINS_PER_LISTING as u64;
    let rest = (n - 100).div_ceil(100);
    assert!(
        (2 + rest..=2 + rest + 2 * spans).contains(&calls),
        "{calls} calls for {n} packages"
    );
    assert!(
        mock.counters().peak_in_flight() >= 2,
        "the spans are listed at once"
    );
}

#[tokio::test]
async fn a_first_listing_of_a_group_of_one_page_is_one_call() {
    let setup = start(Faults::default()).await;
    seed(&setup.mock, &["small"], 60);
    let listing = registry(&setup, &["small"], 3)
        .list_packages()
        .await
        .expect("list");
    assert_eq!(listing.items.len(), 60);
    assert_eq!(setup.mock.counters().get("ListModelPackages"), 1);
    assert_eq!(setup.mock.counters().get("ListModelPackageGroups"), 0);
}

#[tokio::test]
async fn a_scopes_one_configured_group_is_first_listed_from_its_oldest_page_then_in_spans() {
    let setup = start(Faults {
        latency_ms: 30,
        ..Faults::default()
    })
    .await;
    // Another group whose name begins like this one's.
    seed(&setup.mock, &["big-old"], 3);
    let mut arns = seed(&setup.mock, &["big"], 1_050);
    arns.sort();
    let scoped = registry(&setup, &["big"], 3);
    let first = scoped.list_packages().await.expect("list");
    let mut listed: Vec<String> = first.items.iter().map(|p| p.arn.to_string()).collect();
    listed.sort();
    assert_eq!(
        listed, arns,
        "every package of the group once, none of big-old"
    );
    assert_eq!(setup.mock.counters().get("ListModelPackageGroups"), 0);
    assert_first_of_one_group(&setup.mock, 1_050);
    // The next listing splits by what this one saw: no lookup again.
    setup.mock.counters().reset();
    scoped.list_packages().await.expect("list");
    assert_eq!(setup.mock.counters().get("ListModelPackageGroups"), 0);
    assert_eq!(setup.mock.counters().get("ListModelPackages"), 11);
}

#[tokio::test]
async fn a_small_account_lists_its_groups_only_the_first_time() {
    let setup = start(Faults::default()).await;
    seed(&setup.mock, &["a", "b"], 20);
    let scoped = registry(&setup, &[], 3);
    scoped.list_packages().await.expect("list");
    assert_eq!(setup.mock.counters().get("ListModelPackageGroups"), 1);
    assert_eq!(setup.mock.counters().get("ListModelPackages"), 2);
    // 40 packages: one page of the account, with nothing to split, from now on.
    setup.mock.counters().reset();
    let again = scoped.list_packages().await.expect("list");
    assert_eq!(again.items.len(), 40);
    assert_eq!(setup.mock.counters().get("ListModelPackageGroups"), 0);
    assert_eq!(setup.mock.counters().get("ListModelPackages"), 1);
}

#[tokio::test]
async fn the_changes_of_a_scope_are_searched_for_in_its_groups_only() {
    let setup = start(Faults::default()).await;
    let arns = seed(&setup.mock, &["a", "b", "c"], 3);
    setup.mock.age(std::time::Duration::from_secs(600));
    // One change in each group: a, b and c.
    for arn in [&arns[1], &arns[4], &arns[7]] {
        setup
            .mock
            .call(
                "UpdateModelPackage",
                json!({ "ModelPackageArn": arn, "ModelCard": { "ModelCardStatus": "Archived" } }),
            )
            .expect("update");
    }
    let since = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let scoped = registry(&setup, &["a", "c"], 3);
    let changed = scoped
        .registry
        .list_changed(&scoped.scope, since)
        .await
        .expect("changes");
    let mut found: Vec<String> = changed.items.iter().map(|p| p.arn.to_string()).collect();
    found.sort();
    assert_eq!(found, [arns[1].clone(), arns[7].clone()]);
    assert!(changed.items.iter().all(|p| {
        p.model_card_status == Some(govsync::domain::ModelCardStatus::Archived)
            && p.last_modified.is_some_and(|t| t > since)
    }));
    assert_eq!(setup.mock.counters().get("Search"), 1);
    assert_eq!(setup.mock.counters().get("ListModelPackages"), 0);
}

/// Creates `n` more packages in an existing group.
fn seed_more(mock: &MockSageMaker, group: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            mock.call(
                "CreateModelPackage",
                json!({ "ModelPackageGroupName": group }),
            )
            .expect("create")["ModelPackageArn"]
                .as_str()
                .expect("arn")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn update_then_list_shows_the_new_lifecycle_and_emits_an_event() {
    let setup = start(Faults::default()).await;
    let arns = seed(&setup.mock, &["fraud"], 3);
    let registry = registry(&setup, &[], 3);
    let target = arn(&arns[1]);
    let outcome = registry
        .set_lifecycle(
            &target,
            &Lifecycle::new("Development", "Complete"),
            "govsync: governance status Ready for Test",
            None,
        )
        .await;
    assert_eq!(outcome, WriteOutcome::Applied);
    let listing = registry.list_packages().await.expect("list");
    let updated = listing
        .items
        .iter()
        .find(|p| p.arn == target)
        .expect("listed");
    assert_eq!(
        updated.lifecycle,
        Some(Lifecycle::new("Development", "Complete"))
    );
    let others = listing.items.iter().filter(|p| p.arn != target);
    assert!(
        others
            .into_iter()
            .all(|p| p.lifecycle == Some(Lifecycle::new("Development", "InProgress")))
    );
    assert_eq!(setup.mock.counters().get("UpdateModelPackage"), 1);

    let events = setup.mock.events();
    let last = events.last().expect("an event");
    assert_eq!(last["source"], "aws.sagemaker");
    assert_eq!(last["detail-type"], "SageMaker Model Package State Change");
    assert_eq!(last["resources"], json!([arns[1]]));
    assert_eq!(last["detail"]["ModelLifeCycle"]["Stage"], "Development");
    assert_eq!(last["detail"]["ModelLifeCycle"]["StageStatus"], "Complete");
    assert_eq!(
        last["detail"]["ModelLifeCycle"]["StageDescription"],
        "govsync: governance status Ready for Test"
    );
}

#[tokio::test]
async fn a_long_stage_description_is_cut_to_what_sagemaker_accepts() {
    let setup = start(Faults::default()).await;
    let arns = seed(&setup.mock, &["fraud"], 1);
    let long = "x".repeat(3000);
    let outcome = registry(&setup, &[], 3)
        .set_lifecycle(
            &arn(&arns[0]),
            &Lifecycle::new("Staging", "InProgress"),
            &long,
            None,
        )
        .await;
    assert_eq!(outcome, WriteOutcome::Applied);
    let described = setup
        .mock
        .call(
            "DescribeModelPackage",
            json!({ "ModelPackageName": arns[0] }),
        )
        .expect("describe");
    assert_eq!(
        described["ModelLifeCycle"]["StageDescription"]
            .as_str()
            .map(str::len),
        Some(1024)
    );
}

#[tokio::test]
async fn describe_tells_a_live_package_from_a_deleted_one() {
    let setup = start(Faults::default()).await;
    let arns = seed(&setup.mock, &["fraud"], 2);
    setup
        .mock
        .call(
            "UpdateModelPackage",
            json!({ "ModelPackageArn": arns[0], "ModelCard": { "ModelCardStatus": "Archived" } }),
        )
        .expect("archive the card");
    setup
        .mock
        .call("DeleteModelPackage", json!({ "ModelPackageName": arns[1] }))
        .expect("delete");
    let registry = registry(&setup, &[], 3);

    match registry
        .describe_package(&arn(&arns[0]))
        .await
        .expect("describe")
    {
        Described::Found(p) => {
            assert_eq!(p.status, PackageStatus::Completed);
            assert_eq!(
                p.model_card_status,
                Some(govsync::domain::ModelCardStatus::Archived)
            );
        }
        Described::NotFound => panic!("the package exists"),
    }
    assert_eq!(
        registry
            .describe_package(&arn(&arns[1]))
            .await
            .expect("describe"),
        Described::NotFound
    );
    // A deleted package's update is a typed "not found" too.
    assert_eq!(
        registry
            .set_lifecycle(
                &arn(&arns[1]),
                &Lifecycle::new("Development", "Complete"),
                "x",
                None
            )
            .await,
        WriteOutcome::NotFound
    );
}

#[tokio::test]
async fn a_deleting_package_is_listed_as_deleting() {
    let setup = start(Faults::default()).await;
    let arns = seed(&setup.mock, &["fraud"], 1);
    setup
        .mock
        .set_package_status(&arns[0], "Deleting")
        .expect("admin");
    let listing = registry(&setup, &[], 3)
        .list_packages()
        .await
        .expect("list");
    assert_eq!(listing.items[0].status, PackageStatus::Deleting);
}

#[tokio::test]
async fn an_invalid_stage_is_refused_by_validation_and_not_retried() {
    let setup = start(Faults::default()).await;
    let arns = seed(&setup.mock, &["fraud"], 1);
    let outcome = registry(&setup, &[], 5)
        .set_lifecycle(
            &arn(&arns[0]),
            &Lifecycle::new("Not a stage!", "Complete"),
            "x",
            None,
        )
        .await;
    match outcome {
        WriteOutcome::Refused(message) => {
            assert!(message.contains("ValidationException"), "{message}");
            assert!(message.contains(&arns[0]), "names the package: {message}");
            assert!(message.contains("modelLifeCycle.stage"), "{message}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(
        setup.mock.counters().get("UpdateModelPackage"),
        1,
        "validation errors are not retried"
    );
}

#[tokio::test]
async fn throttling_and_5xx_at_30_percent_are_absorbed_by_the_sdk_retry() {
    let setup = start(Faults {
        throttle_rate: 0.15,
        error_rate: 0.15,
        retry_after_ms: 5,
        seed: 42,
        ..Faults::default()
    })
    .await;
    let arns = seed(&setup.mock, &["fraud", "churn"], 150);
    let registry = registry(&setup, &[], 10);

    for target in arns.iter().step_by(30) {
        let outcome = registry
            .set_lifecycle(
                &arn(target),
                &Lifecycle::new("Staging", "Complete"),
                "govsync",
                None,
            )
            .await;
        assert_eq!(outcome, WriteOutcome::Applied, "{target}");
    }
    let listing = registry.list_packages().await.expect("list despite faults");
    assert_eq!(listing.items.len(), 300);
    let staged = listing
        .items
        .iter()
        .filter(|p| p.lifecycle == Some(Lifecycle::new("Staging", "Complete")))
        .count();
    assert_eq!(staged, 10, "exactly the updated packages changed");

    let counters = setup.mock.counters();
    let calls = counters.get("ListModelPackages") + counters.get("UpdateModelPackage");
    assert!(
        calls > 13,
        "faults were injected and retried: {calls} requests for 13 calls"
    );
}

#[tokio::test]
async fn persistent_throttling_surfaces_as_a_retryable_error_after_max_attempts() {
    let setup = start(Faults {
        throttle_rate: 1.0,
        retry_after_ms: 1,
        seed: 7,
        ..Faults::default()
    })
    .await;
    let error = registry(&setup, &[], 3)
        .list_packages()
        .await
        .expect_err("always throttled");
    assert_eq!(error.kind, ErrorKind::Retryable);
    // One line a person can read: the operation, the code and message, the request
    // id, what to do; none of the SDK's debug output.
    let message = &error.message;
    assert!(
        message.starts_with(
            "SageMaker ListModelPackageGroups for the account: ThrottlingException: Rate exceeded (request id "
        ) && message.ends_with(
            "); the SDK's retries ran out: raise sagemaker.max_attempts, or lower sync.concurrency"
        ),
        "{message}"
    );
    assert!(
        message.len() < 250 && !message.contains('\n') && !message.contains("SdkBody"),
        "{} characters: {message}",
        message.len()
    );
    // A first listing begins with the groups: their page fails the same way.
    assert_eq!(
        setup.mock.counters().get("ListModelPackageGroups"),
        3 * (1 + govsync::sagemaker::client::PAGE_RETRIES as u64),
        "the SDK's 3 attempts, for the page and each time it is asked for again"
    );
}

#[tokio::test]
async fn a_page_that_fails_after_the_sdks_retries_is_asked_for_again_from_its_own_token() {
    // With one SDK attempt, every third request failing: pages 3, 5, 7 and 9 fail
    // once each and are asked for again from their own token.
    let setup = start(Faults {
        error_every: 3,
        ..Faults::default()
    })
    .await;
    let arns = seed(&setup.mock, &["a", "b"], 500);
    let listing = registry(&setup, &[], 1)
        .list_packages()
        .await
        .expect("the listing completes");
    let listed: std::collections::BTreeSet<&str> =
        listing.items.iter().map(|p| p.arn.as_str()).collect();
    assert_eq!(listing.items.len(), 1000, "no page read twice");
    assert_eq!(listed.len(), 1000);
    assert!(arns.iter().all(|a| listed.contains(a.as_str())));
    assert_eq!(
        setup.mock.counters().get("ListModelPackages"),
        10 + 4,
        "ten pages, and the four failed ones once more: no listing restarted from page one"
    );
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let setup = start(Faults {
        drop_rate: 0.5,
        seed: 11,
        ..Faults::default()
    })
    .await;
    seed(&setup.mock, &["fraud"], 250);
    let listing = registry(&setup, &[], 10)
        .list_packages()
        .await
        .expect("list despite drops");
    assert_eq!(listing.items.len(), 250);
    let requests = setup.mock.counters().get("ListModelPackages");
    assert!(
        requests > 3,
        "connections were dropped and retried: {requests} requests for 3 pages"
    );
}

#[tokio::test]
async fn every_sdk_attempt_is_counted_and_retries_apart() {
    // Every second request fails once with a 5xx: each call takes two attempts.
    let setup = start(Faults {
        error_every: 2,
        ..Faults::default()
    })
    .await;
    seed(&setup.mock, &["g"], 250);
    seed(&setup.mock, &["h"], 0);
    let metrics = std::sync::Arc::new(govsync::metrics::Metrics::new());
    let registry = SageMakerRegistry::new(
        &setup.mock.client_config(),
        &support::remote::sagemaker_config(&setup.handle.url(), 3),
        Some(metrics.clone()),
    );
    let listing = registry
        .list_packages(&support::remote::scope(&["g", "h"]))
        .await
        .expect("list");
    assert_eq!(listing.items.len(), 250);
    // Two configured groups: each one chain (one group alone would be listed in
    // spans of time, a number of pages this test would have to guess).
    let text = metrics.encode();
    let sample = |attempt: &str| {
        support::metric_sample(
            &text,
            &format!(
                "govsync_sagemaker_attempts_total{{operation=\"ListModelPackages\",attempt=\"{attempt}\"}}"
            ),
        )
    };
    let requests = setup.mock.counters().get("ListModelPackages") as f64;
    assert_eq!(
        sample("first"),
        Some(4.0),
        "g's three pages, h's one: {text}"
    );
    assert_eq!(sample("retry"), Some(requests - 4.0), "{text}");
    assert!(requests > 4.0, "retries happened: {requests}");
}
