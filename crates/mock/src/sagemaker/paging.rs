//! Listing: `ListModelPackages` (a group's page, or a page across groups, read from
//! an index from its cursor on), SageMaker's paging tokens, `MaxResults` bounds and
//! sort orders.

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::registry::{AccountRegistry, ApiError, Change, ListKey, Package, summary};
use super::validation::{APPROVAL_STATUSES, one_of, parse};

/// Paging: an opaque token that encodes the offset into the sorted, filtered list.
pub(super) fn page<T: Clone>(
    items: Vec<T>,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = max_results(max)?;
    let start = match token {
        None => 0,
        Some(token) => decode_token(token)
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::validation("Invalid pagination token"))?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| encode_token(&format!("offset:{end}")));
    Ok((items[start..end].to_vec(), next))
}

/// `MaxResults`, checked (1–100; 10 when not given).
pub(super) fn max_results(max: Option<i64>) -> Result<usize, ApiError> {
    let max = max.unwrap_or(10);
    if !(1..=100).contains(&max) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: \
             Member must have value between 1 and 100"
        )));
    }
    Ok(max as usize)
}

/// A paging token: opaque (base64) text.
pub(super) fn encode_token(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The text of a paging token, if it is one.
pub(super) fn decode_token(token: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListInput {
    pub(super) max_results: Option<i64>,
    pub(super) next_token: Option<String>,
    pub(super) sort_by: Option<String>,
    pub(super) sort_order: Option<String>,
    pub(super) name_contains: Option<String>,
    pub(super) model_package_group_name: Option<String>,
    pub(super) model_approval_status: Option<String>,
    pub(super) model_package_type: Option<String>,
    pub(super) creation_time_after: Option<f64>,
    pub(super) creation_time_before: Option<f64>,
}

impl ListInput {
    /// Whether `p` passes the request's filters (approval status, group name,
    /// creation times; both time bounds exclusive).
    fn admits(&self, p: &Package) -> bool {
        self.model_approval_status
            .as_ref()
            .is_none_or(|s| &p.model_approval_status == s)
            && self
                .name_contains
                .as_ref()
                .is_none_or(|n| p.model_package_group_name.contains(n.as_str()))
            && self.creation_time_after.is_none_or(|t| p.creation_time > t)
            && self
                .creation_time_before
                .is_none_or(|t| p.creation_time < t)
    }
}

/// A page of summaries: the first `max` of `matching`, and a token (from the last
/// one's key) when more follow.
fn summary_page<'a, K>(
    mut matching: impl Iterator<Item = (K, &'a Package)>,
    max: usize,
    token: impl Fn(&K) -> String,
) -> (Value, Change) {
    let items: Vec<(K, &Package)> = matching.by_ref().take(max).collect();
    let next = match (items.last(), matching.next()) {
        (Some((key, _)), Some(_)) => Some(encode_token(&token(key))),
        _ => None,
    };
    let list: Vec<Value> = items.into_iter().map(|(_, p)| summary(p)).collect();
    (
        with_token(json!({ "ModelPackageSummaryList": list }), next),
        Change::None,
    )
}

pub(super) fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        v["NextToken"] = json!(token);
    }
    v
}

/// Sorts by `SortBy` (`Name` or `CreationTime`, the default) and `SortOrder`
/// (`Ascending`, the default, or `Descending`).
pub(super) fn sort_by<T>(
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

impl AccountRegistry {
    pub(super) fn list_packages(&self, input: Value) -> Result<(Value, Change), ApiError> {
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
        if let Some(group) = group
            && i.sort_by.as_deref().unwrap_or("CreationTime") == "CreationTime"
        {
            return self.list_group_page(group, &i);
        }
        // Every package here is versioned: without a group, the documented default
        // (Unversioned) lists none of them.
        let versioned_wanted = group.is_some() || kind != "Unversioned";
        if group.is_none()
            && versioned_wanted
            && i.sort_by.as_deref().unwrap_or("CreationTime") == "CreationTime"
        {
            return self.list_all_page(&i);
        }
        let mut packages: Vec<&Package> = self
            .packages
            .values()
            .filter(|_| versioned_wanted)
            .filter(|p| group.is_none_or(|g| p.model_package_group_name == g))
            .filter(|p| i.admits(p))
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

    /// One page of a group in creation order, read from the index from the cursor on:
    /// its cost is the page, not the registry.
    fn list_group_page(&self, group: &str, i: &ListInput) -> Result<(Value, Change), ApiError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let max = max_results(i.max_results)?;
        let order = i.sort_order.as_deref().unwrap_or("Ascending");
        one_of("sortOrder", order, &["Ascending", "Descending"])?;
        let cursor: Option<ListKey> = match i.next_token.as_deref() {
            None => None,
            Some(token) => Some(
                decode_token(token)
                    .and_then(|t| {
                        let (time, version) = t.strip_prefix("after:")?.split_once(':')?;
                        Some((group.to_string(), time.parse().ok()?, version.parse().ok()?))
                    })
                    .ok_or_else(|| ApiError::validation("Invalid pagination token"))?,
            ),
        };
        let first = (group.to_string(), 0, 0);
        let last = (group.to_string(), u64::MAX, u32::MAX);
        let keys: Box<dyn Iterator<Item = (&ListKey, &String)>> = match (order, cursor) {
            ("Descending", Some(c)) => {
                Box::new(self.by_group.range((Included(first), Excluded(c))).rev())
            }
            ("Descending", None) => {
                Box::new(self.by_group.range((Included(first), Included(last))).rev())
            }
            (_, Some(c)) => Box::new(self.by_group.range((Excluded(c), Included(last)))),
            (_, None) => Box::new(
                self.by_group
                    .range((Included(first), Unbounded))
                    .take_while(move |(k, _)| k.0 == group),
            ),
        };
        let matching = keys
            .map(|(key, arn)| (key, &self.packages[arn]))
            .filter(|(_, p)| i.admits(p));
        Ok(summary_page(matching, max, |key: &&ListKey| {
            format!("after:{}:{}", key.1, key.2)
        }))
    }

    /// One page across groups in creation order, read from the index from the cursor
    /// (or the creation-time bound) on: its cost is the page, not the registry.
    fn list_all_page(&self, i: &ListInput) -> Result<(Value, Change), ApiError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let max = max_results(i.max_results)?;
        let order = i.sort_order.as_deref().unwrap_or("Ascending");
        one_of("sortOrder", order, &["Ascending", "Descending"])?;
        let cursor: Option<(u64, String)> = match i.next_token.as_deref() {
            None => None,
            Some(token) => Some(
                decode_token(token)
                    .and_then(|t| {
                        let (time, arn) = t.strip_prefix("at:")?.split_once(':')?;
                        Some((time.parse().ok()?, arn.to_string()))
                    })
                    .ok_or_else(|| ApiError::validation("Invalid pagination token"))?,
            ),
        };
        let keys: Box<dyn Iterator<Item = &(u64, String)>> = match (order, cursor) {
            ("Descending", Some(c)) => Box::new(self.by_creation.range(..c).rev()),
            ("Descending", None) => Box::new(self.by_creation.iter().rev()),
            (_, Some(c)) => Box::new(self.by_creation.range((Excluded(c), Unbounded))),
            // Positive times order like their bits: start at the lower bound.
            (_, None) => match i.creation_time_after {
                Some(t) if t >= 0.0 => Box::new(
                    self.by_creation
                        .range((Excluded((t.to_bits(), String::new())), Unbounded)),
                ),
                _ => Box::new(self.by_creation.iter()),
            },
        };
        let ascending = order != "Descending";
        let matching = keys
            .map(|key| (key, &self.packages[&key.1]))
            // Ascending, nothing after the upper bound can match: stop there.
            .take_while(|(_, p)| {
                !ascending || i.creation_time_before.is_none_or(|t| p.creation_time < t)
            })
            .filter(|(_, p)| i.admits(p));
        Ok(summary_page(matching, max, |key: &&(u64, String)| {
            format!("at:{}:{}", key.0, key.1)
        }))
    }
}
