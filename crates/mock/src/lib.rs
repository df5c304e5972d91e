//! Mock servers that speak the real wire protocols of both remote systems, for tests
//! and the demo: SageMaker's AWS JSON 1.1 ([`sagemaker`]) and the OpenPages REST v2
//! subset govsync uses. Both share what is here: fault injection, per-operation
//! request counters, and a handle that owns the server task and its shutdown.

mod faults;
pub mod governance;
pub mod sagemaker;

pub use faults::{Fault, FaultInjector, Faults, Gate, dropped_connection};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Requests served, by operation, counting faulted ones too (a retried call counts
/// once per attempt), how many are being served right now, and the most at once.
#[derive(Debug, Default)]
pub struct Counters(
    Mutex<BTreeMap<String, u64>>,
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicUsize,
);

/// Counts one request as in flight until dropped.
pub struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Counters {
    /// Marks a request as being served until the guard is dropped.
    pub fn enter(&self) -> InFlight<'_> {
        let now = self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        self.2.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
        InFlight(&self.1)
    }

    /// The most requests served at once since the start or the last reset.
    pub fn peak_in_flight(&self) -> usize {
        self.2.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests being served right now (a test waits for 0 after killing a client,
    /// so that no write lands later).
    pub fn in_flight(&self) -> usize {
        self.1.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Counts one request to `operation`.
    pub fn hit(&self, operation: &str) {
        self.add(operation, 1);
    }

    /// Adds `n` (which may be negative) to `operation`'s count, never below zero.
    pub fn add(&self, operation: &str, n: i64) {
        let mut counts = self.0.lock().expect("counter lock poisoned");
        let count = counts.entry(operation.to_string()).or_default();
        *count = count.saturating_add_signed(n);
    }

    /// Requests to one operation so far.
    pub fn get(&self, operation: &str) -> u64 {
        self.0
            .lock()
            .expect("counter lock poisoned")
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Every counter.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().expect("counter lock poisoned").clone()
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        self.0.lock().expect("counter lock poisoned").clear();
        self.2.store(
            self.1.load(std::sync::atomic::Ordering::SeqCst),
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

/// A running mock server: its address, and the means to stop it.
#[derive(Debug)]
pub struct MockHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl MockHandle {
    /// Serves `router` on `listener` until [`MockHandle::stop`] or drop.
    pub fn spawn(listener: TcpListener, router: axum::Router) -> std::io::Result<MockHandle> {
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(MockHandle {
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Waits until the server ends (for the `govsync mock` command, which ends on Ctrl-C).
    pub async fn wait(mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Asks the server to stop without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// Seconds since the Unix epoch, with milliseconds: AWS JSON's timestamp form.
pub fn epoch_seconds(time: std::time::SystemTime) -> f64 {
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_millis() as f64) / 1000.0
}

/// What every mock has: its routes, request counters and faults. The shared admin
/// endpoints, serving and changing faults are built on these.
pub trait Admin: Clone + Send + Sync + 'static {
    /// The mock's name in messages (`mock SageMaker`).
    const NAME: &'static str;

    /// Its HTTP routes: the API and the admin endpoints.
    fn router(&self) -> axum::Router;

    /// Requests served so far, per operation or endpoint (faulted and refused ones too;
    /// a retried call counts once per attempt).
    fn counters(&self) -> &Counters;

    /// Its fault injector.
    fn faults(&self) -> &FaultInjector;

    /// Its routes with every request counted as in flight while it is served.
    fn counted_router(&self) -> axum::Router {
        let mock = self.clone();
        self.router().layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let mock = mock.clone();
                async move {
                    let _serving = mock.counters().enter();
                    let admin = request.uri().path().starts_with("/_mock/");
                    let response = next.run(request).await;
                    if !admin {
                        tokio::time::sleep(mock.faults().response_delay()).await;
                    }
                    response
                }
            },
        ))
    }

    /// Serves on `listener` (bind port 0 in tests).
    fn spawn(&self, listener: TcpListener) -> std::io::Result<MockHandle> {
        MockHandle::spawn(listener, self.counted_router())
    }

    /// Serves on an ephemeral port of 127.0.0.1 (tests, the demo, benchmarks).
    fn spawn_on_loopback(
        &self,
    ) -> impl std::future::Future<Output = std::io::Result<MockHandle>> + Send {
        let router = self.counted_router();
        async move {
            let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
            MockHandle::spawn(listener, router)
        }
    }

    /// Replaces the fault settings; refuses bad rates.
    fn set_faults(&self, faults: Faults) -> Result<(), MockError> {
        self.faults()
            .set(faults)
            .map_err(|reason| MockError::Faults {
                system: Self::NAME,
                reason,
            })
    }
}

/// Why a mock could not start or take new faults.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The state file exists but cannot be read or parsed.
    #[error("{system} state file {reason}")]
    StateFile {
        /// Which mock.
        system: &'static str,
        /// The file and why.
        reason: String,
    },
    /// The fault settings are out of range.
    #[error("{system} faults: {reason}")]
    Faults {
        /// Which mock.
        system: &'static str,
        /// Which rate and why.
        reason: String,
    },
}

/// What a mock starts from: its fault injector (faults checked), and with a state
/// file that file and the state it held (`None` when there is no file yet).
/// `replay` applies one logged change (see [`StateFile`]).
#[allow(clippy::type_complexity)]
pub fn start_state<M: Admin, T, C>(
    faults: &Faults,
    state_file: Option<&std::path::Path>,
    replay: impl FnMut(&mut T, C),
) -> Result<(FaultInjector, Option<(StateFile, Option<T>)>), MockError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
    C: serde::de::DeserializeOwned,
{
    faults.validate().map_err(|reason| MockError::Faults {
        system: M::NAME,
        reason,
    })?;
    let state = match state_file {
        Some(file) => {
            Some(
                StateFile::open(file, replay).map_err(|reason| MockError::StateFile {
                    system: M::NAME,
                    reason,
                })?,
            )
        }
        None => None,
    };
    Ok((FaultInjector::new(faults.clone()), state))
}

/// A mock's state on disk: a JSON snapshot, and beside it (`<file>.log`) an
/// append-only log of the changes made since, one JSON line each. A change costs one
/// appended line, never a rewrite of everything; at start (and after
/// [`StateFile::COMPACT_AFTER`] lines) the log is folded into a new snapshot. A
/// logged change is a whole record's new state (or its removal), so replaying a line
/// twice gives the same state: a crash between writing the snapshot and emptying the
/// log loses nothing and doubles nothing.
#[derive(Debug)]
pub struct StateFile {
    snapshot: std::path::PathBuf,
    log: std::path::PathBuf,
    lines: usize,
}

impl StateFile {
    /// Log lines after which the next change folds the log into the snapshot.
    pub const COMPACT_AFTER: usize = 100_000;

    /// Loads the snapshot (if any), replays the log onto it, and folds both into a
    /// new snapshot. A last log line cut short by a crash is ignored; any other bad
    /// line is an error naming the file and line.
    fn open<T, C>(
        file: &std::path::Path,
        mut replay: impl FnMut(&mut T, C),
    ) -> Result<(StateFile, Option<T>), String>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Default,
        C: serde::de::DeserializeOwned,
    {
        let mut state_file = StateFile {
            snapshot: file.to_path_buf(),
            log: log_path(file),
            lines: 0,
        };
        let mut state: Option<T> = load_state(file)?;
        if state_file.log.exists() {
            let text = std::fs::read_to_string(&state_file.log)
                .map_err(|e| format!("{}: {e}", state_file.log.display()))?;
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            for (n, line) in lines.iter().enumerate() {
                match serde_json::from_str::<C>(line) {
                    Ok(change) => replay(state.get_or_insert_with(T::default), change),
                    Err(_) if n + 1 == lines.len() && !text.ends_with('\n') => {
                        tracing::warn!(file = %state_file.log.display(), "ignoring a last log line cut short");
                    }
                    Err(e) => {
                        return Err(format!("{} line {}: {e}", state_file.log.display(), n + 1));
                    }
                }
            }
        }
        if let Some(state) = &state {
            state_file
                .compact(state)
                .map_err(|e| format!("{}: {e}", file.display()))?;
        }
        Ok((state_file, state))
    }

    /// Appends one change; says whether the log is now long enough to fold into the
    /// snapshot ([`StateFile::compact`]).
    pub fn append<C: serde::Serialize>(&mut self, change: &C) -> std::io::Result<bool> {
        use std::io::Write;
        let mut line = serde_json::to_string(change).map_err(std::io::Error::other)?;
        line.push('\n');
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?
            .write_all(line.as_bytes())?;
        self.lines += 1;
        Ok(self.lines >= Self::COMPACT_AFTER)
    }

    /// Writes `state` as the new snapshot and empties the log.
    pub fn compact<T: serde::Serialize>(&mut self, state: &T) -> std::io::Result<()> {
        let text = serde_json::to_string(state).map_err(std::io::Error::other)?;
        write_atomically(&self.snapshot, &text)?;
        match std::fs::remove_file(&self.log) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.lines = 0;
        Ok(())
    }

    /// The snapshot's path (for messages).
    pub fn path(&self) -> &std::path::Path {
        &self.snapshot
    }
}

/// The change log beside a state file: `<file>.log`.
pub fn log_path(file: &std::path::Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".log");
    std::path::PathBuf::from(name)
}

/// `GET|DELETE /_mock/counters` and `GET|PUT /_mock/faults`, the same on every mock.
pub fn admin_routes<M: Admin>() -> axum::Router<M> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/_mock/counters",
            get(get_counters::<M>).delete(reset_counters::<M>),
        )
        .route("/_mock/faults", get(get_faults::<M>).put(put_faults::<M>))
}

async fn get_counters<M: Admin>(
    axum::extract::State(mock): axum::extract::State<M>,
) -> axum::Json<BTreeMap<String, u64>> {
    axum::Json(mock.counters().snapshot())
}

async fn reset_counters<M: Admin>(
    axum::extract::State(mock): axum::extract::State<M>,
) -> axum::http::StatusCode {
    mock.counters().reset();
    axum::http::StatusCode::NO_CONTENT
}

async fn get_faults<M: Admin>(
    axum::extract::State(mock): axum::extract::State<M>,
) -> axum::Json<Faults> {
    axum::Json(mock.faults().get())
}

async fn put_faults<M: Admin>(
    axum::extract::State(mock): axum::extract::State<M>,
    axum::Json(faults): axum::Json<Faults>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match mock.faults().set(faults) {
        Ok(()) => axum::http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "message": format!("faults: {e}") })),
        )
            .into_response(),
    }
}

/// Writes `text` to `file` through a temporary file and a rename, so a crash never
/// leaves half a file.
pub fn write_atomically(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, file)
}

/// Loads a mock's persisted state, or `None` when the file does not exist yet.
fn load_state<T: serde::de::DeserializeOwned>(file: &std::path::Path) -> Result<Option<T>, String> {
    if !file.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", file.display()))
}
