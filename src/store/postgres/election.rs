//! Leader election on PostgreSQL: several `govsync run` replicas on one database,
//! one of which leads (runs cycles and writes) while the others stand by.
//!
//! The leader holds a session-level advisory lock on the one connection its store
//! writes through ([`crate::store::PgStore`]), and proves it every `lease / 3` with
//! a heartbeat on that connection. Its session carries `idle_session_timeout` and
//! `idle_in_transaction_session_timeout` of a lease (PostgreSQL 14 and later) and
//! TCP keepalives of about a lease, so the server ends the session — and so frees
//! the lock — within about a lease of the leader dying, freezing or losing its
//! network; a killed process's session ends at once. A standby tries the lock
//! every [`Election::retry`] (`lease / 5`), so it leads within about `lease + lease /
//! 5` of its leader's death, or `lease / 5` of its leader's process being killed.

use std::time::Duration;

use secrecy::SecretString;
use sqlx::postgres::PgConnection;

use super::{LeaderRow, Lock, PgStore, PgTarget};
use crate::store::StoreError;

/// How an attempt to lead went.
pub enum Lead {
    /// This process leads: its store.
    Leads(PgStore),
    /// Another does (as its row says, if it has written one).
    Standby(Option<LeaderRow>),
}

/// One process's part in the election.
pub struct Election {
    target: PgTarget,
    instance: String,
    lease: Duration,
    /// The standby's connection, kept between attempts.
    conn: Option<PgConnection>,
}

impl Election {
    /// An election on the database at `url` (no password in it) for this process,
    /// named `instance`, with leases of `lease`.
    pub fn new(
        url: &str,
        password: Option<&SecretString>,
        instance: &str,
        lease: Duration,
    ) -> Result<Election, String> {
        Ok(Election {
            target: PgTarget::new(url, password, instance, lease)?,
            instance: instance.to_string(),
            lease,
            conn: None,
        })
    }

    /// The database, for messages.
    pub fn target(&self) -> &str {
        &self.target.name
    }

    /// Where the database is (to open a reader beside the election).
    pub fn database(&self) -> &PgTarget {
        &self.target
    }

    /// This process's instance name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// How often a standby tries to lead.
    pub fn retry(&self) -> Duration {
        self.lease / 5
    }

    /// Tries once to lead: connects (or reuses the standby's connection), migrates,
    /// and takes the lock if it is free. On success the heartbeat starts; it runs as
    /// long as the store does (through a shutdown's last writes too), and ends when
    /// the store is dropped or its session is lost.
    pub async fn try_lead(&mut self) -> Result<Lead, StoreError> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => {
                let mut conn = self.target.connect().await?;
                PgStore::migrate(&mut conn, &self.target.name).await?;
                conn
            }
        };
        // A frozen leader's session ends within a lease, whether it froze between
        // statements or inside a transaction. A server before PostgreSQL 14 knows
        // no idle_session_timeout; it still ends a dead peer's session through the
        // keepalives.
        for setting in [
            "idle_session_timeout",
            "idle_in_transaction_session_timeout",
        ] {
            let set = format!("SET {setting} = {}", self.lease.as_millis().max(1));
            if let Err(e) = sqlx::query(&set).execute(&mut conn).await {
                tracing::debug!(error = %e, setting, "not set");
            }
        }
        match PgStore::try_lock(conn, &self.target.name, &self.instance).await? {
            Lock::Taken(store) => {
                self.heartbeat(&store);
                Ok(Lead::Leads(store))
            }
            Lock::Held(mut conn) => {
                let leader = PgStore::leader_row(&mut conn, &self.target.name).await?;
                self.conn = Some(conn);
                Ok(Lead::Standby(leader))
            }
        }
    }

    /// Runs the leader's heartbeat every `lease / 3` until the store is dropped or
    /// its session lost.
    fn heartbeat(&self, store: &PgStore) {
        let beat = self.lease / 3;
        let instance = self.instance.clone();
        let lost = store.lost();
        let store = store.beat_handle();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = lost.cancelled() => return,
                    () = tokio::time::sleep(beat) => {}
                }
                if store.orphaned() {
                    return;
                }
                if let Err(e) = store.heartbeat(&instance, beat).await {
                    tracing::error!(error = %e, "the leader's heartbeat failed: no longer leading");
                    return;
                }
            }
        });
    }
}
