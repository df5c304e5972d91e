//! SageMaker's validation rules as the mock reads them from the API reference
//! (kept apart from govsync's own, so that a wrong rule on either side shows).

use serde::Deserialize;
use serde_json::Value;

use super::shapes::{ApiError, LifeCycle, ModelCard};

pub(super) const APPROVAL_STATUSES: [&str; 3] = ["Approved", "Rejected", "PendingManualApproval"];
pub(super) const PACKAGE_STATUSES: [&str; 5] =
    ["Pending", "InProgress", "Completed", "Failed", "Deleting"];
pub(super) const CARD_STATUSES: [&str; 4] = ["Draft", "PendingReview", "Approved", "Archived"];

pub(super) fn parse<T: for<'de> Deserialize<'de>>(input: Value) -> Result<T, ApiError> {
    serde_json::from_value(input).map_err(|e| ApiError::serialization(e.to_string()))
}

pub(super) fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
             Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        )))
    }
}

/// SageMaker's constraints on a lifecycle name, as its API reference states them:
/// length 1–63 and the pattern `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`, checked in that
/// order, each with SageMaker's own message. The mock's own reading of the
/// reference, kept apart from govsync's so that a wrong rule on one side shows.
pub(super) fn check_name(field: &str, value: &str) -> Result<(), ApiError> {
    let length = value.chars().count();
    if !(1..=63).contains(&length) {
        let bound = if length == 0 {
            "greater than or equal to 1"
        } else {
            "less than or equal to 63"
        };
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
             Member must have length {bound}"
        )));
    }
    if matches_name_pattern(value) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}"
        )))
    }
}

/// Whether all of `value` matches `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`: one
/// alphanumeric, then at most 62 groups of any hyphens closed by an alphanumeric.
fn matches_name_pattern(value: &str) -> bool {
    let mut chars = value.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let mut groups = 0;
    let mut open = false;
    for c in chars {
        match c {
            '-' => open = true,
            c if c.is_ascii_alphanumeric() => {
                groups += 1;
                open = false;
            }
            _ => return false,
        }
    }
    !open && groups <= 62
}

pub(super) fn check_lifecycle(lifecycle: &LifeCycle) -> Result<(), ApiError> {
    check_name("modelLifeCycle.stage", &lifecycle.stage)?;
    check_name("modelLifeCycle.stageStatus", &lifecycle.stage_status)?;
    if lifecycle
        .stage_description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'modelLifeCycle.stageDescription' failed to satisfy \
             constraint: Member must have length less than or equal to 1024",
        ));
    }
    Ok(())
}

pub(super) fn check_card(card: &ModelCard) -> Result<(), ApiError> {
    one_of(
        "modelCard.modelCardStatus",
        &card.model_card_status,
        &CARD_STATUSES,
    )
}

#[cfg(test)]
mod tests {
    use super::{check_name, matches_name_pattern};

    #[test]
    fn names_follow_the_documented_pattern() {
        for good in ["Development", "In-Progress", "a--b", "A1", "x"] {
            assert!(matches_name_pattern(good), "{good}");
        }
        for bad in ["-a", "a-", "a b", "a_b", "Ä", ""] {
            assert!(!matches_name_pattern(bad), "{bad}");
        }
    }

    #[test]
    fn length_is_checked_before_the_pattern_with_sagemakers_message() {
        let long = "a".repeat(64);
        let error = check_name("modelLifeCycle.stage", &long).expect_err("too long");
        assert!(
            error.message.contains("length less than or equal to 63"),
            "{}",
            error.message
        );
        assert!(check_name("modelLifeCycle.stage", &"a".repeat(63)).is_ok());
        let error = check_name("modelLifeCycle.stage", "").expect_err("empty");
        assert!(
            error.message.contains("greater than or equal to 1"),
            "{}",
            error.message
        );
        let error = check_name("modelLifeCycle.stage", "a b").expect_err("space");
        assert!(
            error.message.contains("regular expression pattern"),
            "{}",
            error.message
        );
    }
}
