//! Listing: SageMaker's paging tokens, `MaxResults` bounds and sort orders.

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::registry::ApiError;
use super::validation::one_of;

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
