//! Connections: recdiff's own accept loop over hyper's HTTP/1 server, so that every connection is
//! bounded in time and in number (axum's `serve` sets neither).
//!
//! * **Header timeout.** A request head must arrive within `header_timeout`, counted from the
//!   connection's start or from the previous answer, so it is also the idle keep-alive timeout: a
//!   connection that sends nothing, or trickles its head byte by byte, is closed when it runs out.
//!   The body and the handler are bounded by the server's request timeout.
//! * **Connection cap.** At most `max_connections` are served. When one more arrives, the
//!   connection idle the longest (no request in progress: silent, between requests, or still
//!   sending its head) leaves the count at once and its socket is closed (after at most
//!   [`EVICT_GRACE`], so an answer being written finishes); only when every connection is busy is
//!   the newcomer answered `503 too_many_connections` and closed. Idle sockets and partial heads
//!   therefore never lock out a valid request, however many are opened. The cap is fitted under
//!   the process's file-descriptor limit ([`fit_connection_cap`]).
//! * **Shutdown with a deadline.** On the shutdown signal the listener closes, idle connections
//!   close at once, busy ones finish their request, and whatever is left after
//!   `shutdown_timeout` is dropped.

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower_service::Service;

/// Bounds on connections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
    /// The listen backlog: connections the kernel queues before they are accepted (capped by the
    /// system's `somaxconn`). 128, the usual default, drops SYNs under bursts, which clients
    /// meet as 1 s connect stalls.
    pub backlog: u32,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(10),
            backlog: 4096,
        }
    }
}

/// Binds `addr` and listens with `backlog` (address reuse on, as `TcpListener::bind` does on
/// Unix); must run inside the runtime.
pub fn listen(addr: std::net::SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// How long an evicted connection without a request in progress may take to close by itself
/// before its socket is dropped.
pub const EVICT_GRACE: Duration = Duration::from_millis(50);

/// File descriptors kept free beside the connections (model files, memory maps, the runtime).
pub const FD_RESERVE: usize = 128;

/// Raises the soft file-descriptor limit toward `cap + FD_RESERVE` (as far as the hard limit
/// allows) and returns the cap that fits under it.
pub fn fit_connection_cap(cap: usize) -> usize {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit read and write the struct passed by pointer, nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return cap;
        }
        let want = (cap + FD_RESERVE) as libc::rlim_t;
        if lim.rlim_cur < want {
            let raised = libc::rlimit { rlim_cur: want.min(lim.rlim_max), rlim_max: lim.rlim_max };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim.rlim_cur = raised.rlim_cur;
            }
        }
        cap.min((lim.rlim_cur as usize).saturating_sub(FD_RESERVE).max(1))
    }
    #[cfg(not(unix))]
    cap
}

/// One open connection, as the accept loop sees it.
struct Conn {
    /// Requests being answered on it.
    busy: AtomicUsize,
    /// When its last request was answered (or when it opened).
    idle_since: Mutex<Instant>,
    close: Notify,
}

/// The open connections, for the cap and for shutdown.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Arc<Conn>>>,
    emptied: Notify,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn =
            Arc::new(Conn { busy: AtomicUsize::new(0), idle_since: Mutex::new(Instant::now()), close: Notify::new() });
        self.lock().insert(id, conn.clone());
        (id, conn)
    }

    fn remove(&self, id: u64) {
        let mut live = self.lock();
        live.remove(&id);
        if live.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Takes the connection idle the longest out of the count and tells it to close; false when
    /// every connection is busy.
    fn evict_idle(&self) -> bool {
        let mut live = self.lock();
        let idle = live
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| *c.idle_since.lock().unwrap_or_else(|p| p.into_inner()))
            .map(|(id, _)| *id);
        let Some(conn) = idle.and_then(|id| live.remove(&id)) else { return false };
        conn.close.notify_one();
        true
    }

    fn close_all(&self) {
        for c in self.lock().values() {
            c.close.notify_one();
        }
    }
}

/// Marks its connection busy while a request is answered.
struct Busy(Arc<Conn>);

impl Busy {
    fn new(conn: Arc<Conn>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Self(conn)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the accept loop counts, for `/metrics`.
pub trait ConnEvents: Send + Sync + 'static {
    fn opened(&self, open: usize);
    fn evicted(&self);
    fn refused(&self);
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains within the deadline.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    events: Arc<dyn ConnEvents>,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Arc::new(Registry::default());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a transient error: make room and go on.
                    tracing::warn!("accept: {e}");
                    registry.evict_idle();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        if registry.len() >= limits.max_connections {
            if registry.evict_idle() {
                events.evicted();
            } else {
                events.refused();
                tokio::spawn(refuse(stream));
                continue;
            }
        }
        let (id, conn) = registry.add();
        events.opened(registry.len());
        let (app, registry) = (app.clone(), registry.clone());
        tokio::spawn(async move {
            serve_one(stream, app, conn, limits.header_timeout).await;
            registry.remove(id);
        });
    }
    drop(listener);
    registry.close_all();
    let drained = async {
        while registry.len() > 0 {
            let emptied = registry.emptied.notified();
            if registry.len() == 0 {
                break;
            }
            emptied.await;
        }
    };
    if tokio::time::timeout(limits.shutdown_timeout, drained).await.is_err() {
        tracing::warn!("shutdown deadline passed with {} connections open; closing them", registry.len());
    }
}

async fn serve_one(stream: TcpStream, app: Router, conn: Arc<Conn>, header_timeout: Duration) {
    let _ = stream.set_nodelay(true);
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let busy = Busy::new(conn.clone());
            let mut app = app.clone();
            async move {
                let resp = app.call(req.map(Body::new)).await;
                drop(busy);
                resp
            }
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let served = http.serve_connection(TokioIo::new(stream), service);
    let mut served = std::pin::pin!(served);
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection closed: {e}");
                }
                break;
            }
            _ = conn.close.notified() => {
                served.as_mut().graceful_shutdown();
                if conn.busy.load(Ordering::Acquire) == 0 {
                    // hyper's graceful shutdown waits for a request whose head has begun to
                    // arrive: a connection without a request in progress is dropped, closing it.
                    let _ = tokio::time::timeout(EVICT_GRACE, served.as_mut()).await;
                    break;
                }
            }
        }
    }
}

/// Answers a connection over the cap, when no idle one could make room, and closes it.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":{"code":"too_many_connections","message":"every connection slot is busy; retry"}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n\
         retry-after: 1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
}
