use super::*;

fn parse(text: &str) -> Result<MappingTable, MappingError> {
    MappingTable::parse(text, Path::new("m.toml"))
}

fn row(status: &str, stage: &str, stage_status: &str, direction: &str) -> String {
    format!(
        "[[row]]\ngovernance_status = \"{status}\"\nstage = \"{stage}\"\n\
         stage_status = \"{stage_status}\"\ndirection = \"{direction}\"\n"
    )
}

fn error_of(text: &str) -> String {
    parse(text)
        .expect_err("the table must be refused")
        .to_string()
}

#[test]
fn built_in_table_has_the_19_documented_rows() {
    let table = MappingTable::built_in();
    assert_eq!(table.rows().len(), 19);
    let deployed = table
        .by_governance_status("Deployed")
        .expect("Deployed row");
    assert_eq!(deployed.lifecycle, Lifecycle::new("Deployment", "Complete"));
    assert_eq!(deployed.direction, Direction::SageMakerToGovernance);
    let bidirectional: Vec<&str> = table
        .rows()
        .iter()
        .filter(|r| r.direction == Direction::Bidirectional)
        .map(|r| r.governance_status.as_str())
        .collect();
    assert_eq!(bidirectional, ["Under Development", "Development Complete"]);
    let decommissioned = table
        .by_lifecycle(&Lifecycle::new("Archived", "Complete"))
        .expect("Archived/Complete row");
    assert_eq!(decommissioned.governance_status.as_str(), "Decommissioned");
}

#[test]
fn lookups_miss_for_unmapped_values() {
    let table = MappingTable::built_in();
    assert!(table.by_governance_status("Retired").is_none());
    assert!(table.by_governance_status("deployed").is_none());
    assert!(
        table
            .by_lifecycle(&Lifecycle::new("Deployment", "Failed"))
            .is_none()
    );
}

#[test]
fn a_custom_table_works_the_same_way() {
    let text = row("Idea", "Proposal", "Approved", "bidirectional")
        + &row("Live", "Prod", "Complete", "sagemaker-to-governance");
    let table = parse(&text).expect("valid");
    assert_eq!(table.rows().len(), 2);
    assert_eq!(
        table
            .by_lifecycle(&Lifecycle::new("Prod", "Complete"))
            .map(|r| r.governance_status.as_str()),
        Some("Live")
    );
}

#[test]
fn duplicate_governance_status_names_both_rows() {
    let text = row("A", "S1", "X", "bidirectional") + &row("A", "S2", "X", "bidirectional");
    let message = error_of(&text);
    assert!(message.starts_with("m.toml: row 2 (line 6):"), "{message}");
    assert!(
        message.contains("governance status \"A\" is already mapped by row 1"),
        "{message}"
    );
}

#[test]
fn duplicate_lifecycle_names_both_rows() {
    let text = row("A", "S", "X", "bidirectional")
        + &row("B", "T", "X", "bidirectional")
        + &row("C", "S", "X", "bidirectional");
    let message = error_of(&text);
    assert!(message.contains("row 3"), "{message}");
    assert!(
        message.contains("stage \"S\" with stage status \"X\" is already mapped by row 1"),
        "{message}"
    );
}

#[test]
fn lifecycle_names_follow_sagemakers_pattern() {
    for (stage, why) in [
        ("", "it is empty"),
        ("-Dev", "starts or ends with a hyphen"),
        ("Dev-", "starts or ends with a hyphen"),
        ("Dev Ops", "' ' is not a letter"),
        ("Dév", "'é' is not a letter"),
        (&"a".repeat(64), "longer than 63"),
    ] {
        let message = error_of(&row("A", stage, "X", "bidirectional"));
        assert!(message.contains("row 1"), "{message}");
        assert!(message.contains("stage \""), "{message}");
        assert!(message.contains(why), "{stage:?}: {message}");
    }
    let message = error_of(&row("A", "Dev", "In Progress", "bidirectional"));
    assert!(
        message.contains("stage_status \"In Progress\""),
        "{message}"
    );
    for good in ["a", "A--b", "DataPrep-DataCollection", &"a".repeat(63)] {
        assert!(check_lifecycle_name("stage", good).is_ok(), "{good}");
    }
}

#[test]
fn unknown_direction_lists_the_valid_ones() {
    let message = error_of(&row("A", "S", "X", "both-ways"));
    assert!(message.contains("row 1"), "{message}");
    assert!(
        message.contains("unknown direction \"both-ways\", expected one of: governance-to-sagemaker, sagemaker-to-governance, bidirectional"),
        "{message}"
    );
}

#[test]
fn empty_table_is_refused() {
    assert!(error_of("# nothing here\n").contains("has no rows"));
    assert!(error_of("row = []\n").contains("has no rows"));
}

#[test]
fn unknown_keys_are_refused_at_row_and_top_level() {
    let text = row("A", "S", "X", "bidirectional") + "note = \"x\"\n";
    let message = error_of(&text);
    assert!(message.contains("row 1"), "{message}");
    assert!(message.contains("unknown field `note`"), "{message}");

    let message = error_of(&(String::from("version = 2\n") + &row("A", "S", "X", "bidirectional")));
    assert!(message.starts_with("m.toml:1:1:"), "{message}");
    assert!(message.contains("unknown field `version`"), "{message}");
}

#[test]
fn missing_key_is_named() {
    let message = error_of(
        "[[row]]\ngovernance_status = \"A\"\nstage = \"S\"\ndirection = \"bidirectional\"\n",
    );
    assert!(message.contains("row 1"), "{message}");
    assert!(
        message.contains("missing field `stage_status`"),
        "{message}"
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let text = row("A", "S", "X", "bidirectional") + "[[row]]\nstage = \"unterminated\n";
    let message = error_of(&text);
    assert!(message.starts_with("m.toml:7:"), "{message}");
}

#[test]
fn blank_or_padded_governance_status_is_refused() {
    assert!(error_of(&row(" ", "S", "X", "bidirectional")).contains("governance_status is empty"));
    assert!(error_of(&row("A ", "S", "X", "bidirectional")).contains("leading or trailing spaces"));
}

#[test]
fn direction_permissions() {
    assert!(Direction::GovernanceToSageMaker.allows_push());
    assert!(!Direction::GovernanceToSageMaker.allows_pull());
    assert!(Direction::SageMakerToGovernance.allows_pull());
    assert!(!Direction::SageMakerToGovernance.allows_push());
    assert!(Direction::Bidirectional.allows_push() && Direction::Bidirectional.allows_pull());
    for (d, s) in Direction::ALL {
        assert_eq!(Direction::parse(s), Some(d));
        assert_eq!(d.as_str(), s);
    }
}

#[test]
fn an_approval_status_is_optional_checked_and_only_on_rows_that_push() {
    let text = row("A", "S", "X", "governance-to-sagemaker") + "approval_status = \"Approved\"\n";
    let table = parse(&text).expect("valid");
    assert_eq!(
        table.rows()[0].approval_status,
        Some(crate::domain::ApprovalStatus::Approved)
    );
    assert!(table.render_text().contains("approval"), "shown when set");
    let json = serde_json::to_value(table.rows()).expect("json");
    assert_eq!(json[0]["approval_status"], "Approved");

    let error =
        error_of(&(row("A", "S", "X", "governance-to-sagemaker") + "approval_status = \"Yes\"\n"));
    assert!(
        error.contains("unknown approval_status \"Yes\", expected one of: Approved, Rejected, PendingManualApproval"),
        "{error}"
    );
    let error = error_of(
        &(row("A", "S", "X", "sagemaker-to-governance") + "approval_status = \"Approved\"\n"),
    );
    assert!(error.contains("never pushes it"), "{error}");

    // The built-in table has none, and its JSON has no such key.
    let built_in = MappingTable::built_in();
    assert!(built_in.rows().iter().all(|r| r.approval_status.is_none()));
    assert!(!built_in.render_text().contains("approval"));
}
