//! `[[sagemaker.scopes]]`: the accounts and regions govsync lists, each reached with
//! the default credentials or an assumed role. One entry with several regions becomes
//! one scope per region.

use serde::{Deserialize, Serialize};

use crate::arn::{GroupArn, is_account_id, is_region_name, partition_of_region};
use crate::mapping::check_lifecycle_name;
use crate::scope::{GroupRef, Scope};

/// The session name govsync gives its assumed-role sessions unless a scope names one
/// (it shows in the spoke account's CloudTrail).
pub const DEFAULT_SESSION_NAME: &str = "govsync";

/// One `[[sagemaker.scopes]]` entry as the file writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScope {
    pub account_id: String,
    pub regions: Vec<String>,
    pub partition: Option<String>,
    pub role_arn: Option<String>,
    pub external_id_env: Option<String>,
    pub session_name: Option<String>,
    #[serde(default)]
    pub model_package_groups: Vec<String>,
}

/// The role govsync assumes (on top of the default credentials chain) to reach a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// `arn:<partition>:iam::<account>:role/<name>`.
    pub role_arn: String,
    /// The environment variable holding the external ID the role's trust policy
    /// requires, if any (read at start-up, never printed).
    pub external_id_env: Option<String>,
    /// The role session name.
    pub session_name: String,
}

/// A configured scope: what it covers and how it is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeConfig {
    /// What it lists.
    pub scope: Scope,
    /// The role to assume; `None`: the default credentials reach it.
    pub role: Option<AssumeRole>,
}

/// Validates the entries; `fail(key, message)` builds the error for a key.
pub(super) fn validate<E>(
    raw: Vec<RawScope>,
    fail: &dyn Fn(String, String) -> E,
) -> Result<Vec<ScopeConfig>, E> {
    let mut scopes: Vec<ScopeConfig> = Vec::new();
    for (i, entry) in raw.into_iter().enumerate() {
        let key = |name: &str| format!("sagemaker.scopes[{i}].{name}");
        if !is_account_id(&entry.account_id) {
            return Err(fail(
                key("account_id"),
                format!(
                    "\"{}\" is not an AWS account ID (12 digits, written as a string)",
                    entry.account_id
                ),
            ));
        }
        if entry.regions.is_empty() {
            return Err(fail(
                key("regions"),
                "must name at least one region, e.g. [\"us-east-1\"]".into(),
            ));
        }
        for (j, region) in entry.regions.iter().enumerate() {
            if !is_region_name(region) {
                return Err(fail(
                    format!("sagemaker.scopes[{i}].regions[{j}]"),
                    format!("\"{region}\" is not an AWS region name like us-east-1 or eu-west-2"),
                ));
            }
        }
        let partition = match &entry.partition {
            Some(p) => p.clone(),
            None => partition_of_region(&entry.regions[0]).to_string(),
        };
        if let Some(region) = entry
            .regions
            .iter()
            .find(|r| entry.partition.is_none() && partition_of_region(r) != partition)
        {
            return Err(fail(
                key("regions"),
                format!(
                    "\"{region}\" is in partition {}, \"{}\" in {partition}; one entry lists one partition",
                    partition_of_region(region),
                    entry.regions[0]
                ),
            ));
        }
        let role = role(&entry, &partition, &key, fail)?;
        let mut groups: Vec<(Option<String>, GroupRef)> = Vec::new();
        for (j, group) in entry.model_package_groups.iter().enumerate() {
            let group_key = format!("sagemaker.scopes[{i}].model_package_groups[{j}]");
            if group.starts_with("arn:") {
                let arn =
                    GroupArn::parse(group).map_err(|e| fail(group_key.clone(), e.to_string()))?;
                if arn.partition() != partition || !entry.regions.iter().any(|r| r == arn.region())
                {
                    return Err(fail(
                        group_key,
                        format!(
                            "the group is in region {} ({}), which this entry does not list; \
                             add the region or move the group to an entry that lists it",
                            arn.region(),
                            arn.partition()
                        ),
                    ));
                }
                groups.push((Some(arn.region().to_string()), GroupRef::Arn(arn)));
            } else {
                check_lifecycle_name("group", group).map_err(|why| fail(group_key, why))?;
                groups.push((None, GroupRef::Own(group.clone())));
            }
        }
        for region in &entry.regions {
            let scope = Scope {
                partition: partition.clone(),
                account: entry.account_id.clone(),
                region: region.clone(),
                groups: groups
                    .iter()
                    .filter(|(only, _)| only.as_ref().is_none_or(|r| r == region))
                    .map(|(_, g)| g.clone())
                    .collect(),
            };
            if let Some(other) = scopes.iter().find(|s| {
                s.scope.partition == scope.partition
                    && s.scope.account == scope.account
                    && s.scope.region == scope.region
            }) {
                return Err(fail(
                    key("regions"),
                    format!(
                        "duplicate scope: account {} in {region} is already listed ({}); \
                         list each account and region once, with every group it needs",
                        scope.account, other.scope
                    ),
                ));
            }
            scopes.push(ScopeConfig {
                scope,
                role: role.clone(),
            });
        }
    }
    Ok(scopes)
}

fn role<E>(
    entry: &RawScope,
    partition: &str,
    key: &dyn Fn(&str) -> String,
    fail: &dyn Fn(String, String) -> E,
) -> Result<Option<AssumeRole>, E> {
    let Some(role_arn) = &entry.role_arn else {
        if entry.external_id_env.is_some() || entry.session_name.is_some() {
            let which = if entry.external_id_env.is_some() {
                "external_id_env"
            } else {
                "session_name"
            };
            return Err(fail(
                key(which),
                "is only used with role_arn; add the role to assume or remove it".into(),
            ));
        }
        return Ok(None);
    };
    if !is_role_arn(role_arn, partition) {
        return Err(fail(
            key("role_arn"),
            format!(
                "\"{role_arn}\" is not an IAM role ARN (arn:{partition}:iam::<12-digit account>:role/<name>)"
            ),
        ));
    }
    let role_account = role_arn.split(':').nth(4).unwrap_or_default();
    if role_account != entry.account_id {
        return Err(fail(
            key("role_arn"),
            format!(
                "the role is in account {role_account}, but the scope lists account {}: \
                 a scope is listed with a role of its own account",
                entry.account_id
            ),
        ));
    }
    if let Some(var) = &entry.external_id_env
        && var.trim().is_empty()
    {
        return Err(fail(key("external_id_env"), "must not be empty".into()));
    }
    let session_name = entry
        .session_name
        .clone()
        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string());
    if !(2..=64).contains(&session_name.len())
        || !session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err(fail(
            key("session_name"),
            format!(
                "\"{session_name}\" is not a role session name (2-64 letters, digits and _+=,.@-)"
            ),
        ));
    }
    Ok(Some(AssumeRole {
        role_arn: role_arn.clone(),
        external_id_env: entry.external_id_env.clone(),
        session_name,
    }))
}

/// `arn:<partition>:iam::<account>:role/<path/><name>`.
fn is_role_arn(text: &str, partition: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [arn, p, service, region, account, resource] = parts[..] else {
        return false;
    };
    let name = resource.strip_prefix("role/").unwrap_or_default();
    arn == "arn"
        && p == partition
        && service == "iam"
        && region.is_empty()
        && is_account_id(account)
        && !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
}
