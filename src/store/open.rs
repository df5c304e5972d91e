//! Opening the store the configuration chose (or a URL names): to write, as the one
//! process that does (the SQLite file's lock, or the leader's lock on PostgreSQL);
//! to read beside a running daemon; or to plan a dry run from, which creates,
//! migrates and locks nothing, and finds no store at all a normal first step.

use std::time::Duration;

use super::{Election, Lead, Location, PgStore, Reads, SqliteStore, Store, StoreError};
use crate::config::{PostgresConfig, StateConfig};

/// Whether a store is opened to write or only to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// To write, as the one process that does (`reconcile`, a copy's destination):
    /// created and migrated if need be; on PostgreSQL the leader's lock is taken, or
    /// the opening fails at once naming the leader.
    Write,
    /// To read everything beside a running daemon (`history`, a copy's source): the
    /// store must exist.
    Read,
}

/// The election the configuration describes, its password read now.
pub fn election(
    pg: &PostgresConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Election, String> {
    let password = pg
        .password
        .as_ref()
        .map(|source| source.resolve("state.password", env))
        .transpose()
        .map_err(|e| e.to_string())?;
    Election::new(&pg.url, password.as_ref(), &pg.instance, pg.lease)
        .map_err(|e| format!("state.url: {e}"))
}

/// Opens the store the configuration chose.
pub async fn open(
    state: &StateConfig,
    env: &dyn Fn(&str) -> Option<String>,
    access: Access,
) -> Result<Store, String> {
    match state {
        StateConfig::Sqlite { path } => open_sqlite(path, access),
        StateConfig::Postgres(pg) => open_postgres(election(pg, env)?, access).await,
    }
}

/// Opens the store the configuration chose for a dry run to read its baseline from:
/// `Ok(None)` when there is no store yet (no file; a database no govsync has created
/// its schema in). Nothing is created, migrated or locked; an older store is read
/// as it is if its baseline can be, else the error says a migration is needed.
pub async fn open_for_dry_run(
    state: &StateConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Store>, String> {
    let opened = match state {
        StateConfig::Sqlite { path } => {
            SqliteStore::open_reader(path, Reads::Baseline).map(|s| s.map(Store::Sqlite))
        }
        StateConfig::Postgres(pg) => {
            let election = election(pg, env)?;
            PgStore::open_reader(election.database(), Reads::Baseline)
                .await
                .map(|s| s.map(Store::Postgres))
        }
    };
    opened.map_err(|e| e.to_string())
}

/// Opens a store named by a URL (`state copy`); a PostgreSQL password comes from
/// `PGPASSWORD` or `~/.pgpass`, as for libpq's tools.
pub async fn open_location(location: &Location, access: Access) -> Result<Store, String> {
    match location {
        Location::Sqlite(path) => open_sqlite(path, access),
        Location::Postgres(url) => {
            let instance = format!("state-copy:{}", std::process::id());
            let election = Election::new(url, None, &instance, Duration::from_secs(60))?;
            open_postgres(election, access).await
        }
    }
}

fn open_sqlite(path: &str, access: Access) -> Result<Store, String> {
    match access {
        Access::Write => Store::open_sqlite(path).map_err(|e| e.to_string()),
        Access::Read => match SqliteStore::open_reader(path, Reads::Everything) {
            Ok(Some(store)) => Ok(Store::Sqlite(store)),
            Ok(None) => Err(no_store_yet(path)),
            Err(e) => Err(e.to_string()),
        },
    }
}

async fn open_postgres(mut election: Election, access: Access) -> Result<Store, String> {
    if access == Access::Read {
        return match PgStore::open_reader(election.database(), Reads::Everything).await {
            Ok(Some(store)) => Ok(Store::Postgres(store)),
            Ok(None) => Err(no_store_yet(election.target())),
            Err(e) => Err(e.to_string()),
        };
    }
    match election.try_lead().await.map_err(|e| e.to_string())? {
        Lead::Leads(store) => Ok(Store::Postgres(store)),
        Lead::Standby(leader) => Err(format!(
            "state store {}: another govsync leads ({}); stop it first, or let it do the work",
            election.target(),
            leader.map_or_else(
                || "it has not said who it is yet".to_string(),
                |l| format!(
                    "instance {}, since {}, last heartbeat {}",
                    l.instance, l.since, l.heartbeat_at
                )
            )
        )),
    }
}

/// A reader found no store: nothing has run with it yet.
fn no_store_yet(name: &str) -> String {
    StoreError::NoStore {
        path: name.to_string(),
    }
    .to_string()
}
