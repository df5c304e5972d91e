//! The mock Model Registry's state and operations: JSON in, JSON out, in the shapes
//! the SageMaker API reference documents, with SageMaker's validation and errors.
//! Over 500 lines because each operation's checks and state change sit together, one
//! method each; listing is in `paging.rs`, `Search` in `search.rs` (more `impl
//! AccountRegistry` blocks: they import the type from here and this file calls
//! them, a circle between the parts of one type, on purpose). The shapes the
//! validation rules also read are in `shapes.rs`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::paging::{ListInput, page, sort_by, with_token};
pub use super::shapes::{ApiError, LifeCycle, ModelCard};
use super::validation::{
    APPROVAL_STATUSES, PACKAGE_STATUSES, check_card, check_lifecycle, check_name, one_of, parse,
};

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

/// A versioned model package.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Package {
    pub(super) model_package_group_name: String,
    pub(super) model_package_version: u32,
    pub(super) model_package_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_package_description: Option<String>,
    pub(super) creation_time: f64,
    pub(super) last_modified_time: f64,
    model_package_status: String,
    pub(super) model_approval_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval_description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    customer_metadata_properties: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_card: Option<ModelCard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) model_life_cycle: Option<LifeCycle>,
}

/// Everything the mock registry holds; serialisable so it can persist to a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRegistry {
    region: String,
    account: String,
    groups: BTreeMap<String, Group>,
    /// By ARN.
    pub(super) packages: BTreeMap<String, Package>,
    /// Last version handed out per group: versions are never reused, even after a delete.
    versions: BTreeMap<String, u32>,
    /// ARN by (group, creation time, version): a group's page in `ListModelPackages`'
    /// default order is read from here, without sorting the registry. Rebuilt on
    /// load ([`AccountRegistry::reindex`]).
    #[serde(skip)]
    pub(super) by_group: BTreeMap<ListKey, String>,
    /// (creation time's bits, ARN) of every package: a page of a listing across
    /// groups in creation order is read from here. Rebuilt on load.
    #[serde(skip)]
    pub(super) by_creation: BTreeSet<(u64, String)>,
}

/// A package's place in its group's listing: group, creation time (its bits, which
/// order like the time for the positive times used here), version.
pub(super) type ListKey = (String, u64, u32);

fn list_key(p: &Package) -> ListKey {
    (
        p.model_package_group_name.clone(),
        p.creation_time.to_bits(),
        p.model_package_version,
    )
}

/// What a successful operation changed, for the event log and the state file's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Change {
    /// Nothing (a read).
    None,
    /// A package was created or updated: its state after.
    Package(Box<Package>),
    /// A package was deleted: its ARN.
    Deleted(String),
    /// A group was created.
    Group(Group),
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
            by_group: BTreeMap::new(),
            by_creation: BTreeSet::new(),
        }
    }

    /// Rebuilds the listing index (after loading).
    pub fn reindex(&mut self) {
        self.by_group = self
            .packages
            .values()
            .map(|p| (list_key(p), p.model_package_arn.clone()))
            .collect();
        self.by_creation = self
            .packages
            .values()
            .map(|p| (p.creation_time.to_bits(), p.model_package_arn.clone()))
            .collect();
    }

    /// Adds or replaces a package (keeping the index and the versions handed out).
    fn put(&mut self, package: Package) {
        let last = self
            .versions
            .entry(package.model_package_group_name.clone())
            .or_default();
        *last = (*last).max(package.model_package_version);
        if let Some(old) = self.packages.get(&package.model_package_arn) {
            self.by_creation
                .remove(&(old.creation_time.to_bits(), old.model_package_arn.clone()));
        }
        self.by_group
            .insert(list_key(&package), package.model_package_arn.clone());
        self.by_creation.insert((
            package.creation_time.to_bits(),
            package.model_package_arn.clone(),
        ));
        self.packages
            .insert(package.model_package_arn.clone(), package);
    }

    /// Removes a package (and its place in the index).
    fn remove(&mut self, arn: &str) {
        if let Some(p) = self.packages.remove(arn) {
            self.by_group.remove(&list_key(&p));
            self.by_creation
                .remove(&(p.creation_time.to_bits(), p.model_package_arn));
        }
    }

    /// Moves every package's creation and modification time `seconds` into the past,
    /// as if the registry had been filled that much earlier.
    pub fn age(&mut self, seconds: f64) {
        for p in self.packages.values_mut() {
            p.creation_time -= seconds;
            p.last_modified_time -= seconds;
        }
        self.reindex();
    }

    /// Applies a change the state file's log recorded.
    pub fn replay(&mut self, change: Change) {
        match change {
            Change::None => {}
            Change::Package(p) => self.put(*p),
            Change::Deleted(arn) => self.remove(&arn),
            Change::Group(g) => {
                self.groups.insert(g.model_package_group_name.clone(), g);
            }
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
    pub(super) fn group_name<'a>(&self, name_or_arn: &'a str) -> &'a str {
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
        self.call_with_lag(operation, input, now, 0.0)
    }

    /// [`AccountRegistry::call`] with the `Search` index `lag` seconds behind.
    pub fn call_with_lag(
        &mut self,
        operation: &str,
        input: Value,
        now: f64,
        lag: f64,
    ) -> Result<(Value, Change), ApiError> {
        let input = if input.is_null() { json!({}) } else { input };
        match operation {
            "Search" => Ok((
                super::search::search(self.packages.values(), input, now, lag)?,
                Change::None,
            )),
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
        let group = Group {
            model_package_group_name: i.model_package_group_name,
            model_package_group_arn: arn.clone(),
            model_package_group_description: i.model_package_group_description,
            creation_time: now,
        };
        self.groups
            .insert(group.model_package_group_name.clone(), group.clone());
        Ok((json!({ "ModelPackageGroupArn": arn }), Change::Group(group)))
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
        self.put(package.clone());
        Ok((
            json!({ "ModelPackageArn": arn }),
            Change::Package(Box::new(package)),
        ))
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
        let state = Box::new(package.clone());
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
        self.remove(&i.model_package_name);
        Ok((json!({}), Change::Deleted(i.model_package_name)))
    }

    /// Admin: sets a package's `ModelPackageStatus` (for example `Deleting`), which no
    /// public operation can do.
    pub fn set_package_status(
        &mut self,
        arn: &str,
        status: &str,
        now: f64,
    ) -> Result<Change, ApiError> {
        self.package(arn)?;
        one_of("modelPackageStatus", status, &PACKAGE_STATUSES)?;
        let package = self.packages.get_mut(arn).expect("checked above");
        package.model_package_status = status.to_string();
        package.last_modified_time = now;
        Ok(Change::Package(Box::new(package.clone())))
    }
}

/// A package as `DescribeModelPackage` and the events show it (a versioned package's
/// `ModelPackageName` is its group's name).
pub(super) fn full(p: &Package) -> Value {
    let mut v = serde_json::to_value(p).expect("packages serialise");
    v["ModelPackageName"] = json!(p.model_package_group_name);
    v
}

pub(super) fn summary(p: &Package) -> Value {
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
