//! `govsync state copy`: a store's baseline, journal and open intents into another
//! (SQLite to PostgreSQL when moving to several replicas, or back).
//!
//! Idempotent: journal entries and intents keep their keys, so a second copy adds
//! only what the source gained since; a destination whose journal holds an entry the
//! source does not have (it has been used on its own) is refused, never merged.

use super::{Import, StateStore, StoreError};

/// Journal entries read and written at a time.
const PAGE: usize = 5_000;

/// What a copy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// Journal entries written to the destination.
    pub journal_copied: u64,
    /// Journal entries the destination already held, equal to the source's.
    pub journal_present: u64,
    /// Baseline rows set.
    pub baselines: usize,
    /// Open intents in the source (written unless already there).
    pub intents: usize,
}

/// Copies `from` into `to`.
pub async fn copy(
    from: &mut impl StateStore,
    to: &mut impl StateStore,
) -> Result<CopyReport, StoreError> {
    let mut report = CopyReport::default();
    let mut after = 0;
    loop {
        let page = from.journal_page(after, PAGE).await?;
        let Some(&(last, _)) = page.last() else { break };
        let there = to.journal_page(after, PAGE).await?;
        let mut import = Import::default();
        let mut there = there.into_iter().peekable();
        for (seq, entry) in page {
            // The destination's entries up to this one must be the source's.
            if let Some((other, _)) = there.peek()
                && *other < seq
            {
                return Err(StoreError::Copy(format!(
                    "the destination's journal holds entry {other}, which the source does not; it has been written on its own, copy into an empty store"
                )));
            }
            match there.next_if(|(other, _)| *other == seq) {
                Some((_, existing)) if existing == entry => report.journal_present += 1,
                Some(_) => {
                    return Err(StoreError::Copy(format!(
                        "journal entry {seq} differs between the source and the destination; copy into an empty store"
                    )));
                }
                None => import.journal.push((seq, entry)),
            }
        }
        report.journal_copied += import.journal.len() as u64;
        to.import(&import).await?;
        after = last;
    }
    let rest = to.journal_page(after, 1).await?;
    if let Some((seq, _)) = rest.first() {
        return Err(StoreError::Copy(format!(
            "the destination's journal holds entry {seq}, past the source's last; copy into an empty store"
        )));
    }
    let last = Import {
        baseline: from.baseline_rows().await?,
        intents: from.intent_rows().await?,
        journal: Vec::new(),
    };
    report.baselines = last.baseline.len();
    report.intents = last.intents.len();
    to.import(&last).await?;
    Ok(report)
}
