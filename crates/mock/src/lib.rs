//! Mock servers that speak the real wire protocols of both remote systems, for tests
//! and the demo: SageMaker's AWS JSON 1.1 ([`sagemaker`]) and the OpenPages REST v2
//! subset govsync uses. Both share what is here: fault injection, per-operation
//! request counters, and a handle that owns the server task and its shutdown.

mod faults;
pub mod governance;
pub mod sagemaker;

pub use faults::{Fault, FaultInjector, Faults, dropped_connection};

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
        *self
            .0
            .lock()
            .expect("counter lock poisoned")
            .entry(operation.to_string())
            .or_default() += 1;
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

/// What a mock starts from: its fault injector (faults checked) and its persisted
/// state, `None` when there is no state file yet.
pub fn start_state<M: Admin, T: serde::de::DeserializeOwned>(
    faults: &Faults,
    state_file: Option<&std::path::Path>,
) -> Result<(FaultInjector, Option<T>), MockError> {
    faults.validate().map_err(|reason| MockError::Faults {
        system: M::NAME,
        reason,
    })?;
    let state = match state_file {
        Some(file) => load_state(file).map_err(|reason| MockError::StateFile {
            system: M::NAME,
            reason,
        })?,
        None => None,
    };
    Ok((FaultInjector::new(faults.clone()), state))
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
