//! What changed in a scope since a time, for an incremental cycle: `Search` over
//! `ModelPackage` with `LastModifiedTime` after it (each result the whole package,
//! model card status included), oldest change first, 100 a page. `Search` covers the
//! scope's own account; a group shared from another account through AWS RAM is
//! listed in full instead, since `Search` is not documented to reach it.
//!
//! `Search` is an index and can lag behind the registry: a change it does not show
//! yet is found by a later incremental cycle (the engine asks from a little before
//! its last question) or by the next full cycle.

use std::time::SystemTime;

use aws_sdk_sagemaker::operation::search::SearchOutput;
use aws_sdk_sagemaker::types::{
    BooleanOperator, Filter, Operator, ResourceType, SearchExpression, SearchSortOrder,
};

use super::client::{
    LIST_PAGE_SIZE, SageMakerRegistry, package_from_parts, page_with_retries, remote_error,
};
use crate::domain::ModelPackage;
use crate::remote::{Listing, RejectedRow, RemoteError};
use crate::scope::{GroupRef, Scope};

/// At most this many groups are named in one search (SageMaker allows 50 filters
/// and subexpressions in one search expression; the time filter and the group
/// subexpression take two).
const GROUPS_PER_SEARCH: usize = 40;

impl SageMakerRegistry {
    /// The packages of `scope` modified after `since`: one `Search` (or one per
    /// [`GROUPS_PER_SEARCH`] configured groups) and its pages, and the full listing of
    /// every shared group. Unversioned packages (no group) are not Model Registry
    /// entries and are skipped; packages of the account outside the scope's groups
    /// are not returned.
    pub(super) async fn changed_in(
        &self,
        scope: &Scope,
        since: SystemTime,
    ) -> Result<Listing<ModelPackage>, RemoteError> {
        // Each search names the groups it is restricted to (none: every group).
        let mut searches: Vec<Vec<String>> = Vec::new();
        let mut shared = Vec::new();
        if scope.groups.is_empty() {
            searches.push(Vec::new());
        } else {
            let mut own = Vec::new();
            for group in &scope.groups {
                match group {
                    GroupRef::Own(name) => own.push(name.clone()),
                    GroupRef::Arn(arn) if arn.account() == scope.account => {
                        own.push(arn.name().to_string());
                    }
                    GroupRef::Arn(arn) => shared.push(Some(arn.as_str().to_string())),
                }
            }
            searches.extend(own.chunks(GROUPS_PER_SEARCH).map(<[String]>::to_vec));
        }
        let mut listing = Listing::default();
        for groups in searches {
            self.search_changes(scope, &groups, since, &mut listing)
                .await?;
        }
        if !shared.is_empty() {
            let mut groups = self.list_all(&shared).await?;
            listing.items.append(&mut groups.items);
            listing.rejected.append(&mut groups.rejected);
        }
        Ok(listing)
    }

    /// Runs one search (restricted to `groups`, unless empty) to its last page.
    async fn search_changes(
        &self,
        scope: &Scope,
        groups: &[String],
        since: SystemTime,
        listing: &mut Listing<ModelPackage>,
    ) -> Result<(), RemoteError> {
        let expression = expression(groups, since);
        let subject = scope.id().to_string();
        let mut token: Option<String> = None;
        loop {
            let request = self
                .client
                .search()
                .resource(ResourceType::ModelPackage)
                .search_expression(expression.clone())
                .sort_by("LastModifiedTime")
                .sort_order(SearchSortOrder::Ascending)
                .max_results(LIST_PAGE_SIZE)
                .set_next_token(token.clone());
            let page: SearchOutput = page_with_retries("Search", &subject, || async {
                request
                    .clone()
                    .send()
                    .await
                    .map_err(|e| remote_error("Search", &subject, e))
            })
            .await?;
            for record in page.results() {
                let Some(p) = record.model_package() else {
                    continue;
                };
                // Unversioned packages have no group: not Model Registry entries.
                if p.model_package_group_name().is_none() {
                    continue;
                }
                match package_from_parts(
                    p.model_package_arn(),
                    p.model_package_status(),
                    p.model_life_cycle(),
                    p.model_card(),
                    p.last_modified_time(),
                    Some(
                        p.customer_metadata_properties()
                            .unwrap_or(&Default::default()),
                    ),
                ) {
                    Ok(package) if scope.covers(&package.arn) => listing.items.push(package),
                    Ok(_) => {}
                    Err(rejected) => listing.rejected.push(RejectedRow {
                        reason: format!("{} (a Search result)", rejected.reason),
                        ..rejected
                    }),
                }
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(()),
            }
        }
    }
}

/// `LastModifiedTime > since`, and with groups `ModelPackageGroupName` one of them.
fn expression(groups: &[String], since: SystemTime) -> SearchExpression {
    let after = Filter::builder()
        .name("LastModifiedTime")
        .operator(Operator::GreaterThan)
        .value(humantime::format_rfc3339_seconds(since).to_string())
        .build();
    let mut expression = SearchExpression::builder().filters(after);
    if !groups.is_empty() {
        let mut any_group = SearchExpression::builder().operator(BooleanOperator::Or);
        for group in groups {
            any_group = any_group.filters(
                Filter::builder()
                    .name("ModelPackageGroupName")
                    .operator(Operator::Equals)
                    .value(group)
                    .build(),
            );
        }
        expression = expression
            .operator(BooleanOperator::And)
            .sub_expressions(any_group.build());
    }
    expression.build()
}
