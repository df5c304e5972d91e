//! `Search` over `ModelPackage`, as far as govsync's incremental cycles need it:
//! `Filters` on `LastModifiedTime`, `CreationTime`, `ModelPackageGroupName`,
//! `ModelLifeCycle.Stage` and `ModelLifeCycle.StageStatus`, and `SubExpressions`,
//! each level joined by its `Operator` (`And`, the default, or `Or`; at most 50
//! filters and subexpressions in all, as SageMaker allows; no `NestedFilters`);
//! `SortBy` (`LastModifiedTime`, `CreationTime`), `SortOrder`, `MaxResults` (1–100)
//! and `NextToken`. Each result is the whole package, model card included. The index
//! lags: a package changed less than the lag ago is not found yet.

use serde::Deserialize;
use serde_json::{Value, json};

use super::paging::{page, with_token};
use super::registry::{ApiError, Package, full};
use super::validation::{one_of, parse};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Filter {
    name: String,
    operator: String,
    value: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Expression {
    #[serde(default)]
    filters: Vec<Filter>,
    operator: Option<String>,
    #[serde(default)]
    sub_expressions: Vec<Expression>,
    #[serde(default)]
    nested_filters: Vec<Value>,
}

impl Expression {
    /// Checks the expression's shape; returns how many filters and subexpressions it
    /// holds, recursively.
    fn check(&self) -> Result<usize, ApiError> {
        if !self.nested_filters.is_empty() {
            return Err(ApiError::validation(
                "The mock does not support NestedFilters",
            ));
        }
        if let Some(o) = &self.operator {
            one_of("searchExpression.operator", o, &["And", "Or"])?;
        }
        for f in &self.filters {
            one_of("searchExpression.filters.operator", &f.operator, &OPERATORS)?;
        }
        let mut count = self.filters.len() + self.sub_expressions.len();
        for sub in &self.sub_expressions {
            count += sub.check()?;
        }
        Ok(count)
    }

    /// Whether `package` satisfies the expression (an empty one matches everything).
    fn holds(&self, package: &Package) -> Result<bool, ApiError> {
        let any = self.operator.as_deref() == Some("Or");
        let mut results = Vec::with_capacity(self.filters.len() + self.sub_expressions.len());
        for f in &self.filters {
            results.push(matches(package, f)?);
        }
        for sub in &self.sub_expressions {
            results.push(sub.holds(package)?);
        }
        Ok(results.is_empty()
            || if any {
                results.contains(&true)
            } else {
                !results.contains(&false)
            })
    }
}

/// The most filters and subexpressions one search expression may hold, recursively.
const MAX_EXPRESSION_PARTS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchInput {
    resource: String,
    search_expression: Option<Expression>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

const OPERATORS: [&str; 7] = [
    "Equals",
    "NotEquals",
    "GreaterThan",
    "GreaterThanOrEqualTo",
    "LessThan",
    "LessThanOrEqualTo",
    "Contains",
];

/// A timestamp filter value: epoch seconds, or RFC 3339.
fn seconds(value: &str) -> Result<f64, ApiError> {
    value
        .parse::<f64>()
        .ok()
        .or_else(|| {
            humantime::parse_rfc3339_weak(value.trim_end_matches('Z'))
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64())
        })
        .ok_or_else(|| ApiError::validation(format!("Invalid timestamp value: {value}")))
}

fn matches(package: &Package, filter: &Filter) -> Result<bool, ApiError> {
    let value = filter.value.as_deref().unwrap_or_default();
    let compare = |ordering: std::cmp::Ordering| -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match filter.operator.as_str() {
            "Equals" => ordering == Equal,
            "NotEquals" => ordering != Equal,
            "GreaterThan" => ordering == Greater,
            "GreaterThanOrEqualTo" => ordering != Less,
            "LessThan" => ordering == Less,
            "LessThanOrEqualTo" => ordering != Greater,
            _ => false,
        }
    };
    let text = |field: Option<&str>| -> bool {
        let field = field.unwrap_or_default();
        match filter.operator.as_str() {
            "Contains" => field.contains(value),
            _ => compare(field.cmp(value)),
        }
    };
    Ok(match filter.name.as_str() {
        "LastModifiedTime" => compare(package.last_modified_time.total_cmp(&seconds(value)?)),
        "CreationTime" => compare(package.creation_time.total_cmp(&seconds(value)?)),
        "ModelPackageGroupName" => text(Some(&package.model_package_group_name)),
        "ModelLifeCycle.Stage" => text(package.model_life_cycle.as_ref().map(|l| l.stage.as_str())),
        "ModelLifeCycle.StageStatus" => text(
            package
                .model_life_cycle
                .as_ref()
                .map(|l| l.stage_status.as_str()),
        ),
        other => {
            return Err(ApiError::validation(format!(
                "The mock does not search on {other}: LastModifiedTime, CreationTime, \
                 ModelPackageGroupName, ModelLifeCycle.Stage, ModelLifeCycle.StageStatus"
            )));
        }
    })
}

/// `Search` over `packages` at time `now`, with the index `lag` seconds behind.
pub(super) fn search<'a>(
    packages: impl Iterator<Item = &'a Package>,
    input: Value,
    now: f64,
    lag: f64,
) -> Result<Value, ApiError> {
    let i: SearchInput = parse(input)?;
    if i.resource != "ModelPackage" {
        return Err(ApiError::validation(format!(
            "The mock searches ModelPackage only, not {}",
            i.resource
        )));
    }
    let expression = i.search_expression.unwrap_or_default();
    let parts = expression.check()?;
    if parts > MAX_EXPRESSION_PARTS {
        return Err(ApiError::validation(format!(
            "The search expression holds {parts} filters and subexpressions; at most \
             {MAX_EXPRESSION_PARTS} are allowed"
        )));
    }
    let sort_by = i.sort_by.as_deref().unwrap_or("LastModifiedTime");
    one_of("sortBy", sort_by, &["LastModifiedTime", "CreationTime"])?;
    let order = i.sort_order.as_deref().unwrap_or("Descending");
    one_of("sortOrder", order, &["Ascending", "Descending"])?;
    let indexed_until = now - lag;
    let mut found = Vec::new();
    for p in packages.filter(|p| p.last_modified_time <= indexed_until) {
        if expression.holds(p)? {
            found.push(p);
        }
    }
    found.sort_by(|a, b| {
        let key = |p: &Package| {
            if sort_by == "CreationTime" {
                p.creation_time
            } else {
                p.last_modified_time
            }
        };
        let ordering = key(a)
            .total_cmp(&key(b))
            .then_with(|| a.model_package_arn.cmp(&b.model_package_arn));
        if order == "Descending" {
            ordering.reverse()
        } else {
            ordering
        }
    });
    let (items, next) = page(found, i.max_results, i.next_token.as_deref())?;
    let results: Vec<Value> = items
        .into_iter()
        .map(|p| json!({ "ModelPackage": full(p) }))
        .collect();
    Ok(with_token(json!({ "Results": results }), next))
}
