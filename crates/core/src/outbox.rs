//! Events out: the EventBridge event govsync publishes for each write it applied,
//! made from the write's journal entry and its sequence number (the consumers'
//! idempotency key). The event is stored with the write's outcome (a transactional
//! outbox) and sent later; this is only what it says.

use serde::Serialize;

use crate::journal::JournalEntry;

/// `source` of govsync's events.
pub const SOURCE: &str = "govsync";
/// `detail-type` of govsync's events.
pub const DETAIL_TYPE: &str = "govsync Status Change";

/// Journal outcomes that are writes govsync applied: each gets one event.
pub const PUBLISHED_OUTCOMES: [&str; 2] = ["applied", "recovered"];

/// The `detail` of a `govsync Status Change` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    /// The journal's sequence number of the write: unique per write, so a consumer
    /// drops a second delivery of the same event by it.
    pub sequence: i64,
    /// The governance model.
    pub model: ModelRef,
    /// The linked package.
    pub package_arn: String,
    /// `push`, `pull`, `decommission`, `link` or `create`.
    pub action: String,
    /// `governance-to-sagemaker` (a push) or `sagemaker-to-governance`.
    pub direction: &'static str,
    /// The system written: `governance` or `sagemaker`.
    pub system: &'static str,
    /// The value written: a status, `Stage/StageStatus`, a package ARN (a link) or a
    /// model name (a create).
    pub value: String,
    /// The governance status before and after.
    pub governance: Change<String>,
    /// The lifecycle before and after.
    pub sagemaker: Change<LifecycleValue>,
    /// Why (the mapping row, the deletion, the archive, …).
    pub reason: String,
    /// `applied`, or `recovered` (a write whose process died before recording it,
    /// found in place by the next cycle).
    pub outcome: String,
    /// The cycle that made the write.
    pub cycle: Option<String>,
    /// When the outcome was recorded (RFC 3339, UTC).
    pub at: String,
}

/// A model's ID and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRef {
    /// Its governance resource ID.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// One side's value before and after the write (equal when the write was to the
/// other side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    /// Before.
    pub from: Option<T>,
    /// After.
    pub to: Option<T>,
}

/// A lifecycle as consumers read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleValue {
    /// `ModelLifeCycle.Stage`.
    pub stage: String,
    /// `ModelLifeCycle.StageStatus`.
    pub stage_status: String,
}

impl LifecycleValue {
    /// Reads `Stage/StageStatus` (stage names hold no `/`).
    fn parse(text: &str) -> Option<LifecycleValue> {
        let (stage, stage_status) = text.split_once('/')?;
        Some(LifecycleValue {
            stage: stage.to_string(),
            stage_status: stage_status.to_string(),
        })
    }
}

/// The event of the write journaled as `entry` with sequence number `sequence`.
/// The entry's `from` is the pair observed before the write (`status | Stage/Status`,
/// `(none)` for an empty side); its `to` is the value written.
pub fn status_change(sequence: i64, entry: &JournalEntry) -> StatusChange {
    let (status_before, lifecycle_before) = entry
        .from
        .as_deref()
        .and_then(|pair| pair.split_once(" | "))
        .map_or((None, None), |(status, lifecycle)| {
            let some = |s: &str| (s != "(none)").then(|| s.to_string());
            (some(status), some(lifecycle))
        });
    let lifecycle_before = lifecycle_before.as_deref().and_then(LifecycleValue::parse);
    let value = entry.to.clone().unwrap_or_default();
    let push = entry.action == "push";
    let (governance_after, lifecycle_after) = match entry.action.as_str() {
        "push" => (status_before.clone(), LifecycleValue::parse(&value)),
        "pull" | "decommission" => (Some(value.clone()), lifecycle_before.clone()),
        _ => (status_before.clone(), lifecycle_before.clone()),
    };
    StatusChange {
        sequence,
        model: ModelRef {
            id: entry.model_id.clone(),
            name: entry.model_name.clone(),
        },
        package_arn: entry.package_arn.clone(),
        action: entry.action.clone(),
        direction: if push {
            "governance-to-sagemaker"
        } else {
            "sagemaker-to-governance"
        },
        system: if push { "sagemaker" } else { "governance" },
        value,
        governance: Change {
            from: status_before,
            to: governance_after,
        },
        sagemaker: Change {
            from: lifecycle_before,
            to: lifecycle_after,
        },
        reason: entry.reason.clone(),
        outcome: entry.outcome.clone(),
        cycle: entry.cycle.clone(),
        at: entry.at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, from: &str, to: &str) -> JournalEntry {
        JournalEntry {
            at: "2026-12-06T10:00:00Z".into(),
            model_id: "42".into(),
            model_name: "churn".into(),
            package_arn: "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3".into(),
            action: action.into(),
            from: Some(from.into()),
            to: Some(to.into()),
            reason: "row".into(),
            outcome: "applied".into(),
            error: None,
            cycle: Some("c1".into()),
        }
    }

    fn lifecycle(stage: &str, status: &str) -> Option<LifecycleValue> {
        Some(LifecycleValue {
            stage: stage.into(),
            stage_status: status.into(),
        })
    }

    #[test]
    fn a_pull_changes_governance_and_keeps_the_lifecycle() {
        let e = status_change(
            7,
            &entry(
                "pull",
                "Approved for Deployment | Deployment/Complete",
                "Deployed",
            ),
        );
        assert_eq!(e.sequence, 7);
        assert_eq!(
            (e.direction, e.system),
            ("sagemaker-to-governance", "governance")
        );
        assert_eq!(
            e.governance.from.as_deref(),
            Some("Approved for Deployment")
        );
        assert_eq!(e.governance.to.as_deref(), Some("Deployed"));
        assert_eq!(e.sagemaker.from, lifecycle("Deployment", "Complete"));
        assert_eq!(e.sagemaker.to, e.sagemaker.from);
    }

    #[test]
    fn a_push_changes_the_lifecycle_and_keeps_the_status() {
        let e = status_change(
            8,
            &entry(
                "push",
                "Development Complete | (none)",
                "Development/Complete",
            ),
        );
        assert_eq!(
            (e.direction, e.system),
            ("governance-to-sagemaker", "sagemaker")
        );
        assert_eq!(e.sagemaker.from, None);
        assert_eq!(e.sagemaker.to, lifecycle("Development", "Complete"));
        assert_eq!(e.governance.from.as_deref(), Some("Development Complete"));
        assert_eq!(e.governance.to, e.governance.from);
    }

    #[test]
    fn the_detail_is_camel_case_json_with_the_documented_fields() {
        let e = status_change(
            9,
            &entry(
                "decommission",
                "Deployed | Deployment/Complete",
                "Decommissioned",
            ),
        );
        let json = serde_json::to_value(&e).expect("json");
        for key in [
            "sequence",
            "model",
            "packageArn",
            "action",
            "direction",
            "system",
            "value",
            "governance",
            "sagemaker",
            "reason",
            "outcome",
            "cycle",
            "at",
        ] {
            assert!(json.get(key).is_some(), "{key} missing: {json}");
        }
        assert_eq!(json["model"]["id"], "42");
        assert_eq!(json["sagemaker"]["to"]["stageStatus"], "Complete");
        assert_eq!(json["governance"]["to"], "Decommissioned");
    }
}
