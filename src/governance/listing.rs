//! Listing models: a statement paged through `POST /query` by the body's `offset`
//! and `limit`. Each request asks for one row more than the page size: that extra
//! row only says whether another page follows, so N models cost ceil(N / page size)
//! queries (an exactly full last page needs no empty query after it).
//!
//! Offsets are known before any answer, so a full listing asks for as many pages as
//! the last one held, [`PAGES_AT_ONCE`] at a time, and goes on one page at a time
//! only if the last of them says more rows follow.
//!
//! Pages by offset are not a snapshot: a model created or deleted between two page
//! requests shifts the rows after it. A shift toward the end repeats a row on the
//! next page, and a row seen twice is kept once (by resource ID), so no model looks
//! linked twice. A shift toward the start skips one row: that model is left out of
//! this listing only, and is planned by the next cycle that reads it (an incremental
//! one if it changes, else the next full one); a full listing's absence never
//! decides anything about a governance model, so a skipped model is never written.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::OpenPagesClient;
use crate::domain::{GovernanceModel, ModelId};
use crate::remote::{ErrorKind, Listing, RejectedRow, RemoteError};

/// The most query pages in flight at once.
pub const PAGES_AT_ONCE: usize = 4;

/// How a listing pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Paging {
    /// As many pages at once as the last listing of this kind held (a full listing).
    AsLastTime,
    /// One page after another (a listing of what changed, usually one page).
    OneByOne,
}

impl OpenPagesClient {
    /// Every row `statement` selects, read into models; malformed rows are
    /// reported, skipped, and listed in `rejected`.
    pub(super) async fn list(
        &self,
        statement: &str,
        paging: Paging,
    ) -> Result<Listing<GovernanceModel>, RemoteError> {
        let page = u64::from(self.page_size);
        let expected = match paging {
            Paging::AsLastTime => self.expected_rows.load(Ordering::Relaxed),
            Paging::OneByOne => 0,
        };
        let mut listing = Listing::default();
        let mut seen: HashSet<ModelId> = HashSet::new();
        let mut offset: u64 = 0;
        // The first round: every page the last listing held.
        let mut pages = expected.div_ceil(page).max(1);
        loop {
            // Read in order as the pages arrive, at most PAGES_AT_ONCE held at once.
            let first = offset;
            let answers = futures_util::stream::iter((0..pages).map(move |k| first + k * page))
                .map(|at| async move { (at, self.query_page(statement, at, page + 1).await) })
                .buffered(PAGES_AT_ONCE);
            let mut answers = std::pin::pin!(answers);
            let mut more = false;
            while let Some((at, rows)) = answers.next().await {
                let mut rows = rows?;
                more = rows.len() as u64 > page;
                rows.truncate(page as usize);
                self.read_rows(&rows, at, &mut listing, &mut seen);
                if !more {
                    // A short page ends the listing (any page after it is empty).
                    break;
                }
            }
            if !more {
                break;
            }
            offset += pages * page;
            pages = 1;
        }
        if paging == Paging::AsLastTime {
            let rows = (listing.items.len() + listing.rejected.len()) as u64;
            self.expected_rows.store(rows, Ordering::Relaxed);
        }
        Ok(listing)
    }

    /// Reads one page's rows (the first at `offset`) into `listing`, each model once
    /// (`seen`: the resource IDs read so far).
    fn read_rows(
        &self,
        rows: &[Value],
        offset: u64,
        listing: &mut Listing<GovernanceModel>,
        seen: &mut HashSet<ModelId>,
    ) {
        for (i, row) in rows.iter().enumerate() {
            let position = format!("query row {}", offset + i as u64 + 1);
            let fields = row.get("fields").and_then(Value::as_array);
            let parsed = match fields {
                Some(fields) => self.rows.model_from(fields, &position),
                None => Err(RejectedRow {
                    row: position,
                    reason: "the row has no \"fields\" list".into(),
                }),
            };
            match parsed {
                Ok(model) if !seen.insert(model.id.clone()) => {
                    tracing::debug!(model = %model.id, "a model listed twice (rows shifted between pages): kept once");
                }
                Ok(model) => listing.items.push(model),
                Err(rejected) => {
                    tracing::warn!(row = %rejected.row, reason = %rejected.reason, "skipping a malformed governance row");
                    listing.rejected.push(rejected);
                }
            }
        }
    }

    /// One page of a listing statement.
    async fn query_page(
        &self,
        statement: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Value>, RemoteError> {
        let body = json!({
            "statement": statement,
            "offset": offset,
            "limit": limit,
        });
        let what = format!("query of {} rows from offset {offset}", self.model_type);
        let reply = self
            .call(
                "query",
                Method::POST,
                self.url(&["query"]),
                Some(body),
                &what,
            )
            .await?;
        let mut value = self.success(reply, &what)?;
        match value.get_mut("rows").map(Value::take) {
            Some(Value::Array(rows)) => Ok(rows),
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(RemoteError {
                kind: ErrorKind::Other,
                message: format!("governance {what}: the answer's \"rows\" is not a list"),
            }),
        }
    }
}
