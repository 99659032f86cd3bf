//! recdiff's HTTP scoring server.
//!
//! `POST /v1/score` scores a user (and context) against candidate items, `POST /v1/score:batch`
//! scores independent rows; features a request leaves out or sends as `null` are missing, and a
//! model trained with AsymDiffRec completes them in latent space. `GET /healthz`, `GET /readyz`,
//! `GET /metrics` (Prometheus), `POST /admin/reload` (or SIGHUP) to swap in a new run.

pub mod admin;
pub mod conn;
pub mod error;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod recommender;
pub mod request;
pub mod retrieval;
pub mod server;

pub use error::ApiError;
pub use model::{Scored, ServingModel};
pub use server::{AppState, ServeConfig, router};

use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("loading the model: {0}")]
    Load(String),
}

/// The server's runtime. Scoring and loading run on its blocking pool, which is sized to the
/// scoring slots (plus room for a reload and SIGHUP) and keeps its threads: every thread that
/// scores holds its own allocator heap and scratch buffers, and tokio's default (up to 512
/// threads, each retired after 10 s idle and replaced by a fresh one) let those heaps multiply
/// with load bursts — RSS grew with every burst of concurrent traffic between reloads.
fn runtime(max_in_flight: usize) -> Result<tokio::runtime::Runtime, ServeError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(max_in_flight.max(1) + BLOCKING_SPARE)
        .thread_keep_alive(std::time::Duration::from_secs(3600))
        .build()?)
}

/// Blocking threads beyond the scoring slots: a reload and a SIGHUP reload.
const BLOCKING_SPARE: usize = 2;

/// The metrics the accept loop feeds.
impl conn::ConnEvents for AppState {
    fn opened(&self, open: usize) {
        self.metrics.connections.set(open as i64);
    }
    fn evicted(&self) {
        self.metrics.connections_closed.with_label_values(&["evicted_idle"]).inc();
    }
    fn refused(&self) {
        self.metrics.connections_closed.with_label_values(&["refused_all_busy"]).inc();
    }
}

/// Runs the server until SIGINT/SIGTERM. It binds first (a taken port is an error, before
/// `on_listening` is called), listens at once (`/healthz` answers, `/readyz` is 503 until the
/// model is loaded), and exits with the error if the first load fails. SIGHUP reloads the run.
/// On shutdown, connections get `cfg.limits.shutdown_timeout` to finish.
pub fn run(cfg: ServeConfig, on_listening: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let rt = runtime(cfg.max_in_flight)?;
    let deadline = cfg.limits.shutdown_timeout;
    let result = rt.block_on(async move {
        let addr = cfg.addr;
        let listener = conn::listen(addr, cfg.limits.backlog).map_err(|source| ServeError::Bind { addr, source })?;
        let state = AppState::new(cfg);
        on_listening(listener.local_addr()?);
        let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
        let loader = state.clone();
        tokio::spawn(async move {
            if let Err(e) = loader.reload(None, None).await {
                let _ = failed_tx.send(e.message);
            }
        });
        tokio::spawn(reload_on_sighup(state.clone()));
        let app = router(state.clone(), axum::Router::new());
        let limits = state.cfg.limits;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(conn::serve(listener, app, limits, state.clone(), async {
            let _ = stop_rx.await;
        }));
        let outcome = tokio::select! {
            _ = shutdown_signal() => Ok(()),
            Ok(message) = failed_rx => Err(ServeError::Load(message)),
        };
        let _ = stop_tx.send(());
        let _ = server.await;
        outcome
    });
    // Blocking work still running (a scoring call, a load) gets the same deadline.
    rt.shutdown_timeout(deadline);
    result
}
#[cfg(unix)]
async fn reload_on_sighup(state: Arc<AppState>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading");
        let _ = state.reload(None, None).await;
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_state: Arc<AppState>) {}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// A server running on its own threads (tests, benchmarks); stopped when dropped.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Loads `cfg.run`, binds `cfg.addr` (port 0 picks a free one) and serves `extra` routes too.
    pub fn start(cfg: ServeConfig, extra: axum::Router<Arc<AppState>>) -> Result<Self, ServeError> {
        let rt = runtime(cfg.max_in_flight)?;
        let addr = cfg.addr;
        let state = AppState::new(cfg);
        rt.block_on(state.reload(None, None)).map_err(|e| ServeError::Load(e.message))?;
        let backlog = state.cfg.limits.backlog;
        let listener =
            rt.block_on(async { conn::listen(addr, backlog) }).map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone(), extra);
        let (limits, events) = (state.cfg.limits, state.clone());
        let thread = std::thread::spawn(move || {
            rt.block_on(conn::serve(listener, app, limits, events, async {
                let _ = stopped.await;
            }));
            rt.shutdown_timeout(limits.shutdown_timeout);
        });
        Ok(Self { addr, state, stop: Some(stop), thread: Some(thread) })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
