//! How a cycle's report is shown: a table for people, stable JSON for programs.

use serde_json::json;

use crate::engine::{BaselineSource, CycleReport};
use crate::render::or_none;

/// How many ungoverned packages the table names (JSON names them all).
const UNGOVERNED_SHOWN: usize = 20;

/// The report as aligned columns, with a summary line.
pub fn table(report: &CycleReport) -> String {
    let rows: Vec<[String; 7]> = report
        .results
        .iter()
        .map(|r| {
            let d = &r.decision;
            [
                d.model_id.to_string(),
                d.model_name.clone(),
                or_none(d.governance_status.as_ref()),
                or_none(d.lifecycle.as_ref()),
                match d.action.target() {
                    None => d.action.kind().to_string(),
                    Some(to) => format!("{} → {to}", d.action.kind()),
                },
                r.outcome.as_str().to_string(),
                d.reason.clone(),
            ]
        })
        .collect();
    let mut out = crate::render::columns(
        &[
            "MODEL",
            "NAME",
            "GOVERNANCE",
            "SAGEMAKER",
            "ACTION",
            "OUTCOME",
            "WHY",
        ],
        &rows,
    );
    for r in report.results.iter().filter(|r| r.outcome.is_failure()) {
        out.push_str(&format!(
            "error: model {}: {}\n",
            r.decision.model_id,
            r.outcome.error().unwrap_or_default()
        ));
    }
    for rejected in report
        .rejected_models
        .iter()
        .chain(&report.rejected_packages)
    {
        out.push_str(&format!("skipped malformed row: {rejected}\n"));
    }
    for scope in report.scopes.iter().filter(|s| s.observed) {
        out.push_str(&format!(
            "scope {}: {} packages listed\n",
            scope.scope, scope.packages
        ));
    }
    for scope in report.scopes.iter().filter(|s| !s.observed) {
        out.push_str(&format!(
            "error: scope {} not observed (nothing written there): {}\n",
            scope.scope,
            scope.error.as_deref().unwrap_or_default()
        ));
    }
    for valve in &report.safety_valve {
        out.push_str(&format!("error: {valve}\n"));
    }
    if let Some((count, limit)) = report.creates_withheld {
        out.push_str(&format!(
            "error: create valve: {count} governance models would be created in one cycle, more than sync.max_creates_per_cycle ({limit}); none was. Check the scopes and sync.ungoverned_ignore_groups, then raise the limit if the models are wanted\n"
        ));
    }
    for c in &report.link_conflicts {
        out.push_str(&format!(
            "link conflict: model {}: {}\n",
            c.model_id, c.reason
        ));
    }
    if !report.ungoverned.is_empty() {
        out.push_str(&format!(
            "ungoverned: {} packages no governance model links:\n",
            report.ungoverned.len()
        ));
        for u in report.ungoverned.iter().take(UNGOVERNED_SHOWN) {
            out.push_str(&format!(
                "  {}  (group {}, {})\n",
                u.arn,
                u.group,
                or_none(u.lifecycle.as_ref())
            ));
        }
        if report.ungoverned.len() > UNGOVERNED_SHOWN {
            out.push_str(&format!(
                "  … and {} more (--output json lists them all)\n",
                report.ungoverned.len() - UNGOVERNED_SHOWN
            ));
        }
    }
    if report.baseline == BaselineSource::None {
        out.push_str(
            "no baseline: there is no state store yet, so this plan starts from an empty \
             one (where both sides may be written, the conflict policy decides); the first \
             real reconcile or run creates the store\n",
        );
    }
    let n = report.summary();
    out.push_str(&format!(
        "{}{} linked: {} in sync, {} pushed, {} pulled, {} linked from the package side, {} created, {} decommissioned, {} drift, {} conflict ({} resolved by the policy), {} not observed, {} out of scope, {} failed; unlinked: {} models, {} packages\n",
        if report.dry_run { "dry run (nothing written): " } else { "" },
        n.linked,
        n.in_sync,
        n.push,
        n.pull,
        n.link,
        n.create,
        n.decommission,
        n.drift,
        n.conflict,
        n.conflicts_resolved,
        n.not_observed,
        n.out_of_scope,
        n.failed,
        n.unlinked_models,
        n.unlinked_packages,
    ));
    out
}

/// The report as JSON: `{"dry_run", "baseline" ("store" or "none": no store yet),
/// "exit_code", "summary": {…}, "models": [{model_id,
/// model_name, arn, governance_status, lifecycle, action: {kind, …}, reason, outcome, detail}],
/// "rejected_rows": […], "scopes": [{scope, observed, packages, error}],
/// "safety_valve": [{count, limit, scope, message}], "ungoverned": [{arn, scope,
/// group, lifecycle}], "link_conflicts": [{model_id, packages, linked, reason}]}`.
pub fn json(report: &CycleReport) -> String {
    let value = json!({
        "dry_run": report.dry_run,
        "baseline": report.baseline,
        "exit_code": report.exit_code(),
        "summary": report.summary(),
        "models": report.results,
        "rejected_rows": report.rejected_models.iter().chain(&report.rejected_packages).collect::<Vec<_>>(),
        "scopes": report.scopes,
        "ungoverned": report.ungoverned,
        "link_conflicts": report.link_conflicts,
        "creates_withheld": report.creates_withheld.map(|(count, limit)| json!({ "count": count, "limit": limit })),
        "safety_valve": report.safety_valve.iter().map(|trip| json!({
            "count": trip.count,
            "limit": trip.limit,
            "scope": trip.scope,
            "message": trip.to_string(),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value).expect("reports serialise") + "\n"
}
