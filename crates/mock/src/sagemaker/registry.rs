//! The mock Model Registry's state and operations: JSON in, JSON out, in the shapes
//! the SageMaker API reference documents, with SageMaker's validation and errors.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An AWS JSON error: HTTP status, `__type` code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The error code (`__type`).
    pub code: &'static str,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ApiError {
    pub(super) fn validation(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "ValidationException",
            message: message.into(),
        }
    }

    fn serialization(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "SerializationException",
            message: message.into(),
        }
    }
}

/// A model package group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    model_package_group_name: String,
    model_package_group_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_package_group_description: Option<String>,
    creation_time: f64,
}

/// `ModelLifeCycle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifeCycle {
    /// Stage.
    pub stage: String,
    /// Stage status.
    pub stage_status: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_description: Option<String>,
}

/// `ModelCard` of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelCard {
    #[serde(skip_serializing_if = "Option::is_none")]
    model_card_content: Option<String>,
    model_card_status: String,
}

/// A versioned model package.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Package {
    model_package_group_name: String,
    model_package_version: u32,
    model_package_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_package_description: Option<String>,
    creation_time: f64,
    last_modified_time: f64,
    model_package_status: String,
    model_approval_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval_description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    customer_metadata_properties: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_card: Option<ModelCard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_life_cycle: Option<LifeCycle>,
}

/// Everything the mock registry holds; serialisable so it can persist to a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRegistry {
    region: String,
    account: String,
    groups: BTreeMap<String, Group>,
    /// By ARN.
    packages: BTreeMap<String, Package>,
    /// Last version handed out per group: versions are never reused, even after a delete.
    versions: BTreeMap<String, u32>,
}

/// What a successful operation changed, for the event log.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Nothing (a read).
    None,
    /// A package was created or updated: its state after.
    Package(Value),
    /// A package was deleted: its ARN.
    Deleted(String),
}

const APPROVAL_STATUSES: [&str; 3] = ["Approved", "Rejected", "PendingManualApproval"];
const PACKAGE_STATUSES: [&str; 5] = ["Pending", "InProgress", "Completed", "Failed", "Deleting"];
const CARD_STATUSES: [&str; 4] = ["Draft", "PendingReview", "Approved", "Archived"];

fn parse<T: for<'de> Deserialize<'de>>(input: Value) -> Result<T, ApiError> {
    serde_json::from_value(input).map_err(|e| ApiError::serialization(e.to_string()))
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
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
fn check_name(field: &str, value: &str) -> Result<(), ApiError> {
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

fn check_lifecycle(lifecycle: &LifeCycle) -> Result<(), ApiError> {
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

fn check_card(card: &ModelCard) -> Result<(), ApiError> {
    one_of(
        "modelCard.modelCardStatus",
        &card.model_card_status,
        &CARD_STATUSES,
    )
}

/// Paging: an opaque token that encodes the offset into the sorted, filtered list.
fn page<T: Clone>(
    items: Vec<T>,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = max.unwrap_or(10);
    if !(1..=100).contains(&max) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: \
             Member must have value between 1 and 100"
        )));
    }
    let start = match token {
        None => 0,
        Some(token) => base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::validation("Invalid pagination token"))?,
    };
    let end = (start + max as usize).min(items.len());
    let next = (end < items.len())
        .then(|| base64::engine::general_purpose::STANDARD.encode(format!("offset:{end}")));
    Ok((items[start..end].to_vec(), next))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    max_results: Option<i64>,
    next_token: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    name_contains: Option<String>,
    model_package_group_name: Option<String>,
    model_approval_status: Option<String>,
    model_package_type: Option<String>,
    creation_time_after: Option<f64>,
    creation_time_before: Option<f64>,
}

impl AccountRegistry {
    /// An empty registry for one account and region.
    pub fn new(region: &str, account: &str) -> AccountRegistry {
        AccountRegistry {
            region: region.to_string(),
            account: account.to_string(),
            groups: BTreeMap::new(),
            packages: BTreeMap::new(),
            versions: BTreeMap::new(),
        }
    }

    /// The region this registry pretends to be in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account this registry pretends to be.
    pub fn account(&self) -> &str {
        &self.account
    }

    fn group_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sagemaker:{}:{}:model-package-group/{name}",
            self.region, self.account
        )
    }

    /// A group name, from a name or a group ARN.
    fn group_name<'a>(&self, name_or_arn: &'a str) -> &'a str {
        name_or_arn
            .rsplit_once(":model-package-group/")
            .map_or(name_or_arn, |(_, name)| name)
    }

    fn package(&self, name_or_arn: &str) -> Result<&Package, ApiError> {
        self.packages.get(name_or_arn).ok_or_else(|| {
            ApiError::validation(format!("ModelPackage {name_or_arn} does not exist."))
        })
    }

    /// Runs one operation at time `now` (epoch seconds).
    pub fn call(
        &mut self,
        operation: &str,
        input: Value,
        now: f64,
    ) -> Result<(Value, Change), ApiError> {
        let input = if input.is_null() { json!({}) } else { input };
        match operation {
            "CreateModelPackageGroup" => self.create_group(input, now),
            "DescribeModelPackageGroup" => self.describe_group(input),
            "ListModelPackageGroups" => self.list_groups(input),
            "CreateModelPackage" => self.create_package(input, now),
            "DescribeModelPackage" => self.describe_package(input),
            "ListModelPackages" => self.list_packages(input),
            "UpdateModelPackage" => self.update_package(input, now),
            "DeleteModelPackage" => self.delete_package(input),
            _ => Err(ApiError {
                status: 400,
                code: "UnknownOperationException",
                message: format!("The mock does not implement {operation}"),
            }),
        }
    }

    fn create_group(&mut self, input: Value, now: f64) -> Result<(Value, Change), ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct In {
            model_package_group_name: String,
            model_package_group_description: Option<String>,
        }
        let i: In = parse(input)?;
        check_name("modelPackageGroupName", &i.model_package_group_name)?;
        let arn = self.group_arn(&i.model_package_group_name);
        if self.groups.contains_key(&i.model_package_group_name) {
            return Err(ApiError::validation(format!(
                "Model Package Group already exists: {arn}"
            )));
        }
        self.groups.insert(
            i.model_package_group_name.clone(),
            Group {
                model_package_group_name: i.model_package_group_name,
                model_package_group_arn: arn.clone(),
                model_package_group_description: i.model_package_group_description,
                creation_time: now,
            },
        );
        Ok((json!({ "ModelPackageGroupArn": arn }), Change::None))
    }

    fn describe_group(&self, input: Value) -> Result<(Value, Change), ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct In {
            model_package_group_name: String,
        }
        let i: In = parse(input)?;
        let name = self.group_name(&i.model_package_group_name);
        let group = self.groups.get(name).ok_or_else(|| {
            ApiError::validation(format!("ModelPackageGroup {name} does not exist."))
        })?;
        let mut out = serde_json::to_value(group).expect("groups serialise");
        out["ModelPackageGroupStatus"] = json!("Completed");
        out["CreatedBy"] = json!({});
        Ok((out, Change::None))
    }

    fn list_groups(&self, input: Value) -> Result<(Value, Change), ApiError> {
        let i: ListInput = parse(input)?;
        let mut groups: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| {
                i.name_contains
                    .as_ref()
                    .is_none_or(|n| g.model_package_group_name.contains(n.as_str()))
            })
            .collect();
        sort_by(&mut groups, &i, |g| {
            (g.model_package_group_name.clone(), g.creation_time)
        })?;
        let (items, next) = page(groups, i.max_results, i.next_token.as_deref())?;
        let list: Vec<Value> = items
            .into_iter()
            .map(|g| {
                let mut v = serde_json::to_value(g).expect("groups serialise");
                v["ModelPackageGroupStatus"] = json!("Completed");
                v
            })
            .collect();
        Ok((
            with_token(json!({ "ModelPackageGroupSummaryList": list }), next),
            Change::None,
        ))
    }

    fn create_package(&mut self, input: Value, now: f64) -> Result<(Value, Change), ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct In {
            model_package_group_name: Option<String>,
            model_package_description: Option<String>,
            model_approval_status: Option<String>,
            #[serde(default)]
            customer_metadata_properties: BTreeMap<String, String>,
            model_card: Option<ModelCard>,
            model_life_cycle: Option<LifeCycle>,
        }
        let i: In = parse(input)?;
        let Some(group) = i
            .model_package_group_name
            .as_deref()
            .map(|g| self.group_name(g).to_string())
        else {
            return Err(ApiError::validation(
                "The mock only creates versioned model packages: ModelPackageGroupName is required",
            ));
        };
        if !self.groups.contains_key(&group) {
            return Err(ApiError::validation(format!(
                "Model Package Group {group} does not exist."
            )));
        }
        let approval = i
            .model_approval_status
            .unwrap_or_else(|| "PendingManualApproval".into());
        one_of("modelApprovalStatus", &approval, &APPROVAL_STATUSES)?;
        if let Some(l) = &i.model_life_cycle {
            check_lifecycle(l)?;
        }
        if let Some(c) = &i.model_card {
            check_card(c)?;
        }
        let version = {
            let last = self.versions.entry(group.clone()).or_default();
            *last += 1;
            *last
        };
        let arn = format!(
            "arn:aws:sagemaker:{}:{}:model-package/{group}/{version}",
            self.region, self.account
        );
        let package = Package {
            model_package_group_name: group,
            model_package_version: version,
            model_package_arn: arn.clone(),
            model_package_description: i.model_package_description,
            creation_time: now,
            last_modified_time: now,
            model_package_status: "Completed".into(),
            model_approval_status: approval,
            approval_description: None,
            customer_metadata_properties: i.customer_metadata_properties,
            model_card: i.model_card,
            model_life_cycle: i.model_life_cycle,
        };
        let state = full(&package);
        self.packages.insert(arn.clone(), package);
        Ok((json!({ "ModelPackageArn": arn }), Change::Package(state)))
    }

    fn describe_package(&self, input: Value) -> Result<(Value, Change), ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct In {
            model_package_name: String,
        }
        let i: In = parse(input)?;
        let package = self.package(&i.model_package_name)?;
        let mut out = full(package);
        out["ModelPackageStatusDetails"] =
            json!({ "ValidationStatuses": [], "ImageScanStatuses": [] });
        out["CertifyForMarketplace"] = json!(false);
        Ok((out, Change::None))
    }

    fn list_packages(&self, input: Value) -> Result<(Value, Change), ApiError> {
        let i: ListInput = parse(input)?;
        if let Some(s) = &i.model_approval_status {
            one_of("modelApprovalStatus", s, &APPROVAL_STATUSES)?;
        }
        let kind = i.model_package_type.as_deref().unwrap_or("Unversioned");
        one_of(
            "modelPackageType",
            kind,
            &["Versioned", "Unversioned", "Both"],
        )?;
        let group = i
            .model_package_group_name
            .as_deref()
            .map(|g| self.group_name(g));
        // Every package here is versioned: without a group, the documented default
        // (Unversioned) lists none of them.
        let versioned_wanted = group.is_some() || kind != "Unversioned";
        let mut packages: Vec<&Package> = self
            .packages
            .values()
            .filter(|_| versioned_wanted)
            .filter(|p| group.is_none_or(|g| p.model_package_group_name == g))
            .filter(|p| {
                i.model_approval_status
                    .as_ref()
                    .is_none_or(|s| &p.model_approval_status == s)
            })
            .filter(|p| {
                i.name_contains
                    .as_ref()
                    .is_none_or(|n| p.model_package_group_name.contains(n.as_str()))
            })
            .filter(|p| i.creation_time_after.is_none_or(|t| p.creation_time > t))
            .filter(|p| i.creation_time_before.is_none_or(|t| p.creation_time < t))
            .collect();
        sort_by(&mut packages, &i, |p| {
            (
                format!(
                    "{}/{:010}",
                    p.model_package_group_name, p.model_package_version
                ),
                p.creation_time,
            )
        })?;
        let (items, next) = page(packages, i.max_results, i.next_token.as_deref())?;
        let list: Vec<Value> = items.into_iter().map(summary).collect();
        Ok((
            with_token(json!({ "ModelPackageSummaryList": list }), next),
            Change::None,
        ))
    }

    fn update_package(&mut self, input: Value, now: f64) -> Result<(Value, Change), ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct In {
            model_package_arn: String,
            model_approval_status: Option<String>,
            approval_description: Option<String>,
            customer_metadata_properties: Option<BTreeMap<String, String>>,
            #[serde(default)]
            customer_metadata_properties_to_remove: Vec<String>,
            model_life_cycle: Option<LifeCycle>,
            model_card: Option<ModelCard>,
        }
        let i: In = parse(input)?;
        self.package(&i.model_package_arn)?;
        if let Some(s) = &i.model_approval_status {
            one_of("modelApprovalStatus", s, &APPROVAL_STATUSES)?;
        }
        if let Some(l) = &i.model_life_cycle {
            check_lifecycle(l)?;
        }
        if let Some(c) = &i.model_card {
            check_card(c)?;
        }
        let package = self
            .packages
            .get_mut(&i.model_package_arn)
            .expect("checked above");
        if let Some(s) = i.model_approval_status {
            package.model_approval_status = s;
        }
        if let Some(d) = i.approval_description {
            package.approval_description = Some(d);
        }
        if let Some(props) = i.customer_metadata_properties {
            package.customer_metadata_properties.extend(props);
        }
        for key in &i.customer_metadata_properties_to_remove {
            package.customer_metadata_properties.remove(key);
        }
        if let Some(l) = i.model_life_cycle {
            package.model_life_cycle = Some(l);
        }
        if let Some(c) = i.model_card {
            package.model_card = Some(c);
        }
        package.last_modified_time = now;
        let state = full(package);
        Ok((
            json!({ "ModelPackageArn": i.model_package_arn }),
            Change::Package(state),
        ))
    }

    fn delete_package(&mut self, input: Value) -> Result<(Value, Change), ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct In {
            model_package_name: String,
        }
        let i: In = parse(input)?;
        self.package(&i.model_package_name)?;
        self.packages.remove(&i.model_package_name);
        Ok((json!({}), Change::Deleted(i.model_package_name)))
    }

    /// Admin: sets a package's `ModelPackageStatus` (for example `Deleting`), which no
    /// public operation can do.
    pub fn set_package_status(
        &mut self,
        arn: &str,
        status: &str,
        now: f64,
    ) -> Result<Value, ApiError> {
        self.package(arn)?;
        one_of("modelPackageStatus", status, &PACKAGE_STATUSES)?;
        let package = self.packages.get_mut(arn).expect("checked above");
        package.model_package_status = status.to_string();
        package.last_modified_time = now;
        Ok(full(package))
    }
}

/// A package as `DescribeModelPackage` and the events show it (a versioned package's
/// `ModelPackageName` is its group's name).
fn full(p: &Package) -> Value {
    let mut v = serde_json::to_value(p).expect("packages serialise");
    v["ModelPackageName"] = json!(p.model_package_group_name);
    v
}

fn summary(p: &Package) -> Value {
    let mut v = json!({
        "ModelPackageName": p.model_package_group_name,
        "ModelPackageGroupName": p.model_package_group_name,
        "ModelPackageVersion": p.model_package_version,
        "ModelPackageArn": p.model_package_arn,
        "CreationTime": p.creation_time,
        "ModelPackageStatus": p.model_package_status,
        "ModelApprovalStatus": p.model_approval_status,
    });
    if let Some(d) = &p.model_package_description {
        v["ModelPackageDescription"] = json!(d);
    }
    if let Some(l) = &p.model_life_cycle {
        v["ModelLifeCycle"] = serde_json::to_value(l).expect("lifecycles serialise");
    }
    v
}

fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        v["NextToken"] = json!(token);
    }
    v
}

/// Sorts by `SortBy` (`Name` or `CreationTime`, the default) and `SortOrder`
/// (`Ascending`, the default, or `Descending`).
fn sort_by<T>(
    items: &mut [T],
    i: &ListInput,
    key: impl Fn(&T) -> (String, f64),
) -> Result<(), ApiError> {
    let by = i.sort_by.as_deref().unwrap_or("CreationTime");
    one_of("sortBy", by, &["Name", "CreationTime"])?;
    let order = i.sort_order.as_deref().unwrap_or("Ascending");
    one_of("sortOrder", order, &["Ascending", "Descending"])?;
    items.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let ord = if by == "Name" {
            ka.0.cmp(&kb.0)
        } else {
            ka.1.total_cmp(&kb.1).then(ka.0.cmp(&kb.0))
        };
        if order == "Descending" {
            ord.reverse()
        } else {
            ord
        }
    });
    Ok(())
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
