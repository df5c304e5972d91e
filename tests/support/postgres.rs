//! A throwaway PostgreSQL server for one test: `initdb` in a temporary directory, the
//! server listening only on a Unix socket there, password (SCRAM) logins, torn down
//! (`pg_ctl stop -m immediate`, directory removed) when dropped. Run as the
//! `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
//!
//! Without the server binaries (Debian's `postgresql` package) the tests that need
//! one fail, saying so (`super::programs`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The superuser's password in every throwaway cluster.
pub const PASSWORD: &str = "throwaway-pg-password";
/// The environment variable the tests' configurations name for it.
pub const PASSWORD_ENV: &str = "GOVSYNC_TEST_PG_PASSWORD";

/// A running throwaway server.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<String>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Postgres {
    /// Starts a server (the test fails if PostgreSQL is not installed).
    pub fn start() -> Postgres {
        let bin = super::programs::postgres_bin();
        let dir = tempfile::Builder::new()
            .prefix("govsync-pg")
            .tempdir()
            .expect("tempdir");
        let run_as = is_root().then(|| "postgres".to_string());
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster directory to {user}");
        }
        let pg = Postgres { dir, bin, run_as };
        let pwfile = pg.dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("password file");
        if let Some(user) = &pg.run_as {
            Command::new("chown")
                .arg(user)
                .arg(&pwfile)
                .status()
                .expect("chown");
        }
        pg.tool("initdb")
            .args([
                "--auth=scram-sha-256",
                "--username=govsync",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("-D")
            .arg(pg.data())
            .run("initdb");
        pg.tool("pg_ctl")
            .arg("-D")
            .arg(pg.data())
            .arg("-l")
            .arg(pg.dir.path().join("server.log"))
            .arg("-o")
            .arg(format!(
                "-k {} -p 5432 -c listen_addresses='' -c max_connections=50 -c fsync=off",
                pg.dir.path().display()
            ))
            .args(["-w", "start"])
            .run("pg_ctl start");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tool(&self, name: &str) -> Tool {
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(self.bin.join(name));
                c
            }
            None => Command::new(self.bin.join(name)),
        };
        command.current_dir(self.dir.path());
        Tool(command)
    }

    /// The psql of this server's version.
    pub fn psql_path(&self) -> PathBuf {
        self.bin.join("psql")
    }

    /// The socket directory.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `postgres://` URL (no password) of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://govsync@localhost/{db}?host={}&port=5432",
            self.dir.path().display()
        )
    }

    /// Creates database `name` and returns its URL.
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Runs SQL as the superuser on `db` and returns what psql printed (unaligned,
    /// tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let output = self
            .tool("psql")
            .0
            .env("PGPASSWORD", PASSWORD)
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args(["-p", "5432", "-U", "govsync", "-d", db, "-c", sql])
            .output()
            .expect("psql");
        assert!(
            output.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

struct Tool(Command);

impl Tool {
    fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Tool {
        self.0.arg(a);
        self
    }
    fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, a: I) -> Tool {
        self.0.args(a);
        self
    }
    fn run(mut self, what: &str) {
        let output = self.0.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            output.status.success(),
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .0
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
