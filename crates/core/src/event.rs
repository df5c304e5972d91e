//! SageMaker's EventBridge events as they arrive in govsync's queue: which package
//! an event names, and whether it tells anything the known state does not.
//!
//! An event is a trigger, not the truth: it may be old, delivered twice, out of
//! order, or lack `ModelLifeCycle` (AWS's published example of `SageMaker Model
//! Package State Change` has none). So an event only names a package to read now;
//! the one thing decided from its own fields is that it merely echoes what is
//! known (then nothing is read).

use serde::Deserialize;

use crate::arn::PackageArn;
use crate::domain::{Lifecycle, ModelPackage, PackageStatus};

/// `source` of SageMaker's events.
pub const SOURCE: &str = "aws.sagemaker";
/// `detail-type` of a model package's lifecycle, approval or status change.
pub const PACKAGE_CHANGE: &str = "SageMaker Model Package State Change";
/// `detail-type` of a model card's change.
pub const CARD_CHANGE: &str = "SageMaker Model Card State Change";

/// What one queued message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Read this package now.
    Package(PackageEvent),
    /// Nothing to read: why (for one log line; never a write).
    Ignored(String),
}

/// A SageMaker event that names a model package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageEvent {
    /// The package.
    pub arn: PackageArn,
    /// Which detail type named it.
    pub kind: EventKind,
    /// `detail.ModelLifeCycle`, when the event carries it.
    pub lifecycle: Option<Lifecycle>,
    /// `detail.ModelPackageStatus`, when the event carries it.
    pub status: Option<PackageStatus>,
    /// The event's `time` as sent (for logs).
    pub time: Option<String>,
}

/// Which detail type an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `SageMaker Model Package State Change`.
    PackageChange,
    /// `SageMaker Model Card State Change` of a package's card.
    CardChange,
}

impl PackageEvent {
    /// True when the event shows nothing but what is known of its package: it
    /// carries a lifecycle equal to the known one (and, if it carries a package
    /// status, that too). An echo of govsync's own write is the usual case. An event
    /// without a lifecycle (AWS's documented example), a card event, or a package not
    /// known yet is never an echo: the package is read.
    pub fn echoes(&self, known: Option<&ModelPackage>) -> bool {
        let Some(known) = known else { return false };
        self.kind == EventKind::PackageChange
            && self.lifecycle.is_some()
            && self.lifecycle == known.lifecycle
            && self.status.as_ref().is_none_or(|s| *s == known.status)
    }
}

/// The EventBridge envelope, as much of it as govsync reads.
#[derive(Deserialize)]
struct Envelope {
    source: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    time: Option<String>,
    #[serde(default)]
    detail: serde_json::Value,
}

/// Reads a queued message's body: an EventBridge event from `aws.sagemaker` that
/// names a model package, or why it is ignored. Never fails: a body that is not such
/// an event is [`Trigger::Ignored`].
///
/// A package event names its package in `detail.ModelPackageArn`, else in
/// `resources`. A model card event carries the card, not the package; it is tied
/// to a package only when its `detail.ModelId` or one of its `resources` is a model
/// package ARN (a card that belongs to a model package), else it is ignored.
pub fn read_event(body: &str) -> Trigger {
    let envelope: Envelope = match serde_json::from_str(body) {
        Ok(e) => e,
        Err(e) => return Trigger::Ignored(format!("not an EventBridge event in JSON ({e})")),
    };
    if envelope.source.as_deref() != Some(SOURCE) {
        return Trigger::Ignored(format!(
            "source {} is not {SOURCE}",
            envelope.source.as_deref().unwrap_or("(none)")
        ));
    }
    let kind = match envelope.detail_type.as_deref() {
        Some(PACKAGE_CHANGE) => EventKind::PackageChange,
        Some(CARD_CHANGE) => EventKind::CardChange,
        other => {
            return Trigger::Ignored(format!(
                "detail-type {} is neither \"{PACKAGE_CHANGE}\" nor \"{CARD_CHANGE}\"",
                other.unwrap_or("(none)")
            ));
        }
    };
    let detail = &envelope.detail;
    let text = |key: &str| detail.get(key).and_then(serde_json::Value::as_str);
    let named: Vec<&str> = match kind {
        EventKind::PackageChange => text("ModelPackageArn").into_iter().collect(),
        EventKind::CardChange => text("ModelId").into_iter().collect(),
    };
    let arn = named
        .into_iter()
        .chain(envelope.resources.iter().map(String::as_str))
        .find_map(|a| PackageArn::parse(a).ok());
    let Some(arn) = arn else {
        return Trigger::Ignored(match kind {
            EventKind::PackageChange => {
                "a package event whose detail.ModelPackageArn and resources name no versioned \
                 model package"
                    .to_string()
            }
            EventKind::CardChange => "a model card event that names no model package (a card \
                                      of its own, not a package's)"
                .to_string(),
        });
    };
    let lifecycle = detail.get("ModelLifeCycle").and_then(|l| {
        Some(Lifecycle::new(
            l.get("Stage")?.as_str()?,
            l.get("StageStatus")?.as_str()?,
        ))
    });
    Trigger::Package(PackageEvent {
        arn,
        kind,
        lifecycle,
        status: text("ModelPackageStatus").map(PackageStatus::parse),
        time: envelope.time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3";

    /// The shape of AWS's published example of a package event: no ModelLifeCycle.
    fn documented(extra: &str) -> String {
        format!(
            r#"{{"version":"0","id":"844e2571-85d4-695f-b930-0153b71dcb42",
            "detail-type":"SageMaker Model Package State Change","source":"aws.sagemaker",
            "account":"123456789012","time":"2021-02-24T17:00:14Z","region":"us-east-1",
            "resources":["{ARN}"],
            "detail":{{"ModelPackageGroupName":"churn","ModelPackageVersion":3,
            "ModelPackageArn":"{ARN}","CreationTime":1614186011829,
            "ModelPackageStatus":"Completed","ModelApprovalStatus":"Approved",
            "LastModifiedTime":1614186014232{extra}}}}}"#
        )
    }

    fn package(lifecycle: Option<(&str, &str)>) -> ModelPackage {
        ModelPackage {
            arn: PackageArn::parse(ARN).expect("arn"),
            status: PackageStatus::Completed,
            lifecycle: lifecycle.map(|(s, t)| Lifecycle::new(s, t)),
            model_card_status: None,
            metadata: None,
            description: None,
            last_modified: None,
        }
    }

    #[test]
    fn the_documented_package_event_names_its_package_and_carries_no_lifecycle() {
        let Trigger::Package(e) = read_event(&documented("")) else {
            panic!("not read")
        };
        assert_eq!(e.arn.as_str(), ARN);
        assert_eq!(e.kind, EventKind::PackageChange);
        assert_eq!(e.lifecycle, None);
        assert_eq!(e.status, Some(PackageStatus::Completed));
        // Without a lifecycle the package is always read.
        assert!(!e.echoes(Some(&package(None))));
    }

    #[test]
    fn an_event_with_the_known_lifecycle_is_an_echo_and_another_is_not() {
        let body =
            documented(r#","ModelLifeCycle":{"Stage":"Production","StageStatus":"Approved"}"#);
        let Trigger::Package(e) = read_event(&body) else {
            panic!("not read")
        };
        assert_eq!(e.lifecycle, Some(Lifecycle::new("Production", "Approved")));
        assert!(e.echoes(Some(&package(Some(("Production", "Approved"))))));
        assert!(!e.echoes(Some(&package(Some(("Staging", "Approved"))))));
        assert!(!e.echoes(Some(&package(None))));
        assert!(!e.echoes(None), "a package not known yet is read");
        let mut deleting = package(Some(("Production", "Approved")));
        deleting.status = PackageStatus::Deleting;
        assert!(!e.echoes(Some(&deleting)));
    }

    #[test]
    fn a_package_named_only_in_resources_is_read() {
        let body = format!(
            r#"{{"source":"aws.sagemaker","detail-type":"SageMaker Model Package State Change",
            "resources":["{ARN}"],"detail":{{}}}}"#
        );
        assert!(matches!(read_event(&body), Trigger::Package(e) if e.arn.as_str() == ARN));
    }

    #[test]
    fn a_card_event_is_read_only_when_it_names_a_package() {
        let of_package = format!(
            r#"{{"source":"aws.sagemaker","detail-type":"SageMaker Model Card State Change",
            "resources":["arn:aws:sagemaker:us-east-1:123456789012:model-card/churn-card"],
            "detail":{{"ModelCardName":"churn-card","ModelCardStatus":"Archived","ModelId":"{ARN}"}}}}"#
        );
        let Trigger::Package(e) = read_event(&of_package) else {
            panic!("not read")
        };
        assert_eq!(e.kind, EventKind::CardChange);
        assert!(
            !e.echoes(Some(&package(None))),
            "a card change is always read"
        );
        let own = r#"{"source":"aws.sagemaker","detail-type":"SageMaker Model Card State Change",
            "resources":["arn:aws:sagemaker:us-east-1:123456789012:model-card/solo"],
            "detail":{"ModelCardName":"solo","ModelCardStatus":"Draft","ModelId":"my-model"}}"#;
        assert!(matches!(read_event(own), Trigger::Ignored(why) if why.contains("card")));
    }

    #[test]
    fn anything_else_is_ignored_with_a_reason() {
        for (body, says) in [
            ("not json", "JSON"),
            (r#"{"source":"aws.ec2","detail-type":"x"}"#, "aws.ec2"),
            (
                r#"{"source":"aws.sagemaker","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"DeleteModelPackage"}}"#,
                "CloudTrail",
            ),
            (
                r#"{"source":"aws.sagemaker","detail-type":"SageMaker Model Package State Change","resources":["arn:aws:sagemaker:us-east-1:123456789012:model-package/unversioned"],"detail":{}}"#,
                "no versioned",
            ),
            ("[]", "JSON"),
        ] {
            match read_event(body) {
                Trigger::Ignored(why) => assert!(why.contains(says), "{body}: {why}"),
                other => panic!("{body} was read: {other:?}"),
            }
        }
    }
}
