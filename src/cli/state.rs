//! `govsync state copy`: moves the state (baseline, journal, open intents) from one
//! store to another, e.g. from SQLite to PostgreSQL before running several replicas.

use std::io::Write;

use clap::{Args, Subcommand};

use super::Output;
use crate::store::Location;
use crate::store::{Access, open_location};

/// `govsync state …`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copies the baseline, the journal and the open intents from one store to
    /// another. Safe to run again: it adds only what the source gained since. A
    /// destination that has been written on its own is refused. The destination is
    /// locked while copying (a PostgreSQL one by the leader's lock: stop the
    /// daemons on it first); the source is only read. A PostgreSQL password comes
    /// from PGPASSWORD or ~/.pgpass, never from the URL.
    Copy(CopyArgs),
}

/// Arguments of `govsync state copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store to read: sqlite://PATH or postgres://USER@HOST:PORT/DBNAME?sslmode=….
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The store to write (created and migrated if new), as --from.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Runs `govsync state …`.
pub(super) fn run(command: StateCommand, out: &mut dyn Write) -> Result<(), String> {
    let StateCommand::Copy(args) = command;
    let from = Location::parse(&args.from).map_err(|e| format!("--from {e}"))?;
    let to = Location::parse(&args.to).map_err(|e| format!("--to {e}"))?;
    if from == to {
        return Err("--from and --to name the same store".into());
    }
    let report = super::runtime()?.block_on(async {
        let mut source = open_location(&from, Access::Read)
            .await
            .map_err(|e| format!("--from: {e}"))?;
        let mut destination = open_location(&to, Access::Write)
            .await
            .map_err(|e| format!("--to: {e}"))?;
        crate::store::copy(&mut source, &mut destination)
            .await
            .map_err(|e| e.to_string())
    })?;
    let text = match args.output {
        Output::Json => {
            serde_json::to_string_pretty(&report).expect("a copy report serialises") + "\n"
        }
        Output::Table => format!(
            "copied {} journal entries ({} already there), {} baselines, {} open intents\n",
            report.journal_copied, report.journal_present, report.baselines, report.intents
        ),
    };
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}
