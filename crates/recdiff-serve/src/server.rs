//! The HTTP server: routes, limits, panic isolation, metrics and atomic model reloads.
//!
//! The model sits behind an [`ArcSwapOption`]: a request takes an `Arc` of the current model when
//! it starts and keeps it until it answers, so a reload (`POST /admin/reload` or SIGHUP) swaps the
//! pointer without disturbing requests in flight. Parsing and scoring run on tokio's blocking pool
//! behind a semaphore (`max_in_flight`); every request is bounded by `request_timeout`.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::{Scored, ServingModel};
use crate::recommender::Recommender;
use crate::request::{BatchRequest, ScoreRequest};
use crate::retrieval::RecommendRequest;
use arc_swap::ArcSwapOption;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// A CTR run for `/v1/score` (optional when a retrieval run is given).
    pub run: Option<PathBuf>,
    /// A sequential or top-K run for `/v1/recommend`.
    pub retrieval: Option<PathBuf>,
    pub addr: SocketAddr,
    /// Most candidates in one `/v1/score` request.
    pub max_candidates: usize,
    /// Most rows in one `/v1/score:batch` request.
    pub max_batch_rows: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time limit of one request, including waiting for a scoring slot.
    pub request_timeout: Duration,
    /// Requests scored at once; more wait (within the timeout).
    pub max_in_flight: usize,
    /// Header timeout, connection cap and shutdown deadline.
    pub limits: crate::conn::ConnLimits,
    /// The admin token and runs directory; `None` (the default) leaves the admin routes off.
    pub admin: Option<crate::admin::AdminConfig>,
}

impl ServeConfig {
    pub fn new(run: PathBuf) -> Self {
        Self {
            run: Some(run),
            retrieval: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_candidates: 2_000,
            max_batch_rows: 10_000,
            max_body_bytes: 16 << 20,
            request_timeout: Duration::from_secs(5),
            max_in_flight: 16,
            limits: crate::conn::ConnLimits::default(),
            admin: None,
        }
    }
}

/// A run loaded by a reload, not yet served.
struct Loaded<M> {
    path: PathBuf,
    model: M,
    ms: f64,
}

pub struct AppState {
    pub cfg: ServeConfig,
    model: ArcSwapOption<ServingModel>,
    retrieval: ArcSwapOption<Recommender>,
    /// The runs the current models came from; a reload without paths reloads them.
    run: Mutex<Option<PathBuf>>,
    retrieval_run: Mutex<Option<PathBuf>>,
    reload_lock: tokio::sync::Mutex<()>,
    loader: crate::loader::Loader,
    permits: Arc<Semaphore>,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(cfg: ServeConfig) -> Arc<Self> {
        Arc::new(Self {
            run: Mutex::new(cfg.run.clone()),
            retrieval_run: Mutex::new(cfg.retrieval.clone()),
            retrieval: ArcSwapOption::empty(),
            permits: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
            model: ArcSwapOption::empty(),
            reload_lock: tokio::sync::Mutex::new(()),
            loader: crate::loader::Loader::default(),
            metrics: Metrics::new(),
            cfg,
        })
    }

    /// How answers name a run: relative to the runs directory, or by its directory name.
    pub fn label(&self, run: &std::path::Path) -> String {
        let rel = self.cfg.admin.as_ref().and_then(|a| a.label(run));
        rel.unwrap_or_else(|| run.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()))
    }

    /// The model serving now; 503 while its run is loading, 404 when the server serves no
    /// ranking run (naming what it does serve).
    pub fn current(&self) -> Result<Arc<ServingModel>, ApiError> {
        self.model.load_full().ok_or_else(|| self.absent(&self.run, "ranking (CTR)", "/v1/score"))
    }

    /// The retrieval model serving now; 503 while its run is loading, 404 when the server serves
    /// no retrieval run.
    pub fn current_retrieval(&self) -> Result<Arc<Recommender>, ApiError> {
        self.retrieval.load_full().ok_or_else(|| self.absent(&self.retrieval_run, "retrieval", "/v1/recommend"))
    }

    /// Why a model of `kind` is not there: still loading its run, or no such run served.
    fn absent(&self, run: &Mutex<Option<PathBuf>>, kind: &str, route: &str) -> ApiError {
        if run.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                format!("the {kind} model is still loading"),
            );
        }
        let lock = |m: &Mutex<Option<PathBuf>>| m.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let serves: Vec<String> = [
            (lock(&self.run), "a ranking run on /v1/score"),
            (lock(&self.retrieval_run), "a retrieval run on /v1/recommend"),
        ]
        .into_iter()
        .filter_map(|(p, what)| p.map(|p| format!("{what} ({})", self.label(&p))))
        .collect();
        let serves = if serves.is_empty() { "nothing yet".to_string() } else { serves.join(" and ") };
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_served",
            format!("this server serves no {kind} run, so {route} does not apply; it serves {serves}"),
        )
    }

    /// Loads the given runs (default: the current ones again) and swaps each in; on failure the
    /// previous models keep serving.
    pub async fn reload(&self, run: Option<PathBuf>, retrieval: Option<PathBuf>) -> Result<Value, ApiError> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let lock = |m: &Mutex<Option<PathBuf>>| m.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (run, retrieval) = match (run, retrieval) {
            (None, None) => (lock(&self.run), lock(&self.retrieval_run)),
            given => given,
        };
        // All or nothing: every named run is loaded before any served model changes.
        let ranking = match run {
            Some(path) => Some(self.load_one(path, &self.run, &self.model, ServingModel::load).await?),
            None => None,
        };
        let retrieval = match retrieval {
            Some(path) => Some(self.load_one(path, &self.retrieval_run, &self.retrieval, Recommender::load).await?),
            None => None,
        };
        let mut answer = json!({});
        if let Some(loaded) = ranking {
            answer["ranking"] = self.install(loaded, &self.run, &self.model, |m| m.name.clone());
        }
        if let Some(loaded) = retrieval {
            answer["retrieval"] = self.install(loaded, &self.retrieval_run, &self.retrieval, |m| m.name().to_string());
        }
        Ok(answer)
    }

    /// Loads the run at `path` on the loader thread, changing nothing served; `current` and
    /// `slot` (what this kind of run serves now) only word the error.
    async fn load_one<M: Send + Sync + 'static>(
        &self,
        path: PathBuf,
        current: &Mutex<Option<PathBuf>>,
        slot: &ArcSwapOption<M>,
        load: fn(&std::path::Path) -> Result<M, crate::model::LoadError>,
    ) -> Result<Loaded<M>, ApiError> {
        let started = Instant::now();
        let target = path.clone();
        let loaded = self
            .loader
            .run(move || load(&target))
            .await
            .ok_or_else(|| ApiError::internal("loading the run failed on the loader thread; see the server log"))?;
        match loaded {
            Ok(model) => Ok(Loaded { path, model, ms: started.elapsed().as_secs_f64() * 1e3 }),
            Err(e) => {
                self.metrics.reloads.with_label_values(&["failed"]).inc();
                let still = match current.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    Some(p) if slot.load().is_some() => format!("still serving {}", self.label(p)),
                    _ => "no model is loaded".into(),
                };
                // The log has the whole error; the answer names only the file within the run, so
                // it neither echoes file contents nor reveals host paths.
                tracing::warn!("reload of {} failed: {e}; {still}; nothing was swapped", path.display());
                let what = e.public(&path);
                let message = format!("{what}; {still}; the reload changed nothing");
                Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "reload_failed", message))
            }
        }
    }

    /// Serves `loaded` in `slot` and records where it came from.
    fn install<M>(
        &self,
        loaded: Loaded<M>,
        current: &Mutex<Option<PathBuf>>,
        slot: &ArcSwapOption<M>,
        name: fn(&M) -> String,
    ) -> Value {
        let Loaded { path, model, ms } = loaded;
        let name = name(&model);
        slot.store(Some(Arc::new(model)));
        *current.lock().unwrap_or_else(|p| p.into_inner()) = Some(path.clone());
        self.metrics.reloads.with_label_values(&["ok"]).inc();
        tracing::info!("serving {} ({name}), loaded in {ms:.0} ms", path.display());
        json!({ "run": self.label(&path), "model": name, "load_ms": ms })
    }
}

/// Routes added next to the server's own (tests add one that panics).
pub type ExtraRoutes = Router<Arc<AppState>>;

/// The routes with their limits, panic isolation and metrics; `extra` routes (tests) get the same.
pub fn router(state: Arc<AppState>, extra: Router<Arc<AppState>>) -> Router {
    Router::new()
        .route("/v1/score", post(score))
        .route("/v1/score:batch", post(score_batch))
        .route("/v1/recommend", post(recommend))
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin_routes(&state))
        .merge(extra)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(CatchPanicLayer::custom(|p: Box<dyn std::any::Any + Send>| ApiError::from_panic(&*p).into_response()))
        .layer(middleware::from_fn_with_state(state.clone(), limit_time))
        .layer(middleware::from_fn_with_state(state.clone(), refuse_oversized))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// `POST /admin/reload`, only when an admin token is configured.
fn admin_routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    match state.cfg.admin {
        Some(_) => Router::new().route("/admin/reload", post(reload)),
        None => Router::new(),
    }
}

/// A declared `Content-Length` over the limit gets its 413 at once, or within a second when the
/// body is small enough to drain (a client that announces a huge body and sends none would
/// otherwise hold a slot until the request timeout). The connection is closed after the answer.
async fn refuse_oversized(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let limit = if req.uri().path().starts_with("/admin/") { ADMIN_BODY_LIMIT } else { st.cfg.max_body_bytes };
    match declared {
        Some(n) if n > limit as u64 => {
            // A body within the drain allowance is read (for at most a second) before the answer,
            // so a client that sends it all before reading gets the 413 instead of a broken pipe.
            if n <= limit.saturating_mul(DRAIN_FACTOR) as u64 {
                let _ = tokio::time::timeout(Duration::from_secs(1), read_body(req.into_body(), limit)).await;
            }
            let mut resp = too_large(limit).into_response();
            resp.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            resp
        }
        _ => next.run(req).await,
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("the body exceeds the {limit}-byte limit"))
}

/// Largest admin request body.
const ADMIN_BODY_LIMIT: usize = 4 << 10;

/// Counts every request by route and status and records its latency.
async fn track(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let started = Instant::now();
    st.metrics.in_flight.inc();
    let resp = next.run(req).await;
    st.metrics.in_flight.dec();
    st.metrics.latency.with_label_values(&[&route]).observe(started.elapsed().as_secs_f64());
    st.metrics.requests.with_label_values(&[&route, resp.status().as_str()]).inc();
    resp
}

/// Answers 503 when a request (reading the body and waiting for a slot included) takes longer
/// than `request_timeout`. Reloads are exempt: they finish or fail on their own.
async fn limit_time(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/admin/reload" {
        return next.run(req).await;
    }
    let limit = st.cfg.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Ready when every configured model is loaded.
async fn readyz(State(st): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let mut out = json!({ "ready": true });
    if st.cfg.run.is_some() {
        let m = st.current()?;
        out["ranking"] = json!({ "run": st.label(&m.run), "model": m.name });
    }
    if st.cfg.retrieval.is_some() {
        let m = st.current_retrieval()?;
        out["retrieval"] = json!({ "run": st.label(m.run()), "model": m.name(), "items": m.items() });
    }
    Ok(Json(out))
}

async fn recommend(State(st): State<Arc<AppState>>, body: Body) -> Result<Json<Value>, ApiError> {
    let bytes = read_body(body, st.cfg.max_body_bytes).await?;
    let model = st.current_retrieval()?;
    let out = on_blocking_pool(st, move || {
        let req: RecommendRequest = parse_json(&bytes)?;
        let (items, search) = model.recommend(&req)?;
        Ok(json!({ "model": model.name(), "search": search, "items": items }))
    })
    .await?;
    Ok(Json(out))
}

/// Runs CPU work on tokio's blocking pool once a scoring slot (`max_in_flight`) is free; a panic
/// in it becomes a 500.
async fn on_blocking_pool<T: Send + 'static>(
    st: Arc<AppState>,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = st.permits.clone().acquire_owned().await.map_err(|e| ApiError::internal(e.to_string()))?;
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await;
    joined.map_err(|e| match e.try_into_panic() {
        Ok(p) => ApiError::from_panic(&*p),
        Err(e) => ApiError::internal(e.to_string()),
    })?
}

async fn metrics(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.metrics.render())
}

/// A reload names runs relative to the runs directory; an empty body reloads the current runs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadRequest {
    run: Option<String>,
    retrieval: Option<String>,
}

async fn reload(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Result<Json<Value>, ApiError> {
    let Some(admin) = &st.cfg.admin else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route"));
    };
    admin.authorize(&headers)?;
    let bytes = read_body(body, ADMIN_BODY_LIMIT).await?;
    let req: ReloadRequest =
        if bytes.iter().all(u8::is_ascii_whitespace) { ReloadRequest::default() } else { parse_json(&bytes)? };
    let run = req.run.map(|n| admin.resolve(&n, "run")).transpose()?;
    let retrieval = req.retrieval.map(|n| admin.resolve(&n, "retrieval")).transpose()?;
    st.reload(run, retrieval).await.map(Json)
}

/// Reads the whole body, refusing more than `limit` bytes. An oversized body is still read (and
/// dropped) up to [`DRAIN_FACTOR`] times the limit, so a client that sends it all before reading
/// the answer gets the 413 instead of a broken pipe.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request("bad_body", format!("reading the body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        seen += data.len();
        if seen <= limit {
            buf.extend_from_slice(&data);
        } else if seen > limit.saturating_mul(DRAIN_FACTOR) {
            break;
        }
    }
    if seen > limit {
        return Err(too_large(limit));
    }
    Ok(Bytes::from(buf))
}

/// How far past the limit an oversized body is drained before answering 413.
const DRAIN_FACTOR: usize = 4;

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request("invalid_json", format!("request body: {e}")))
}

async fn score(State(st): State<Arc<AppState>>, body: Body) -> Result<Json<ScoreResponse>, ApiError> {
    let max = st.cfg.max_candidates;
    scored(&st, body, move |model, bytes| {
        let req: ScoreRequest = parse_json(bytes)?;
        check_count(req.candidates.len(), max, "candidates")?;
        Ok(model.score(&req)?)
    })
    .await
}

async fn score_batch(State(st): State<Arc<AppState>>, body: Body) -> Result<Json<ScoreResponse>, ApiError> {
    let max = st.cfg.max_batch_rows;
    scored(&st, body, move |model, bytes| {
        let req: BatchRequest = parse_json(bytes)?;
        check_count(req.rows.len(), max, "rows")?;
        Ok(model.score_rows(&req)?)
    })
    .await
}

fn check_count(n: usize, max: usize, what: &str) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::bad_request("empty", format!("{what} is empty")).with_field(what));
    }
    if n > max {
        let msg = format!("{n} {what}; at most {max} per request");
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many", msg).with_field(what));
    }
    Ok(())
}

/// Shared body of the scoring routes: read the body, wait for a slot, parse and score on the
/// blocking pool.
async fn scored(
    st: &Arc<AppState>,
    body: Body,
    work: impl FnOnce(&ServingModel, &[u8]) -> Result<Scored, ApiError> + Send + 'static,
) -> Result<Json<ScoreResponse>, ApiError> {
    let bytes = read_body(body, st.cfg.max_body_bytes).await?;
    let model = st.current()?;
    let (scored, name) =
        on_blocking_pool(st.clone(), move || work(&model, &bytes).map(|s| (s, model.name.clone()))).await?;
    st.metrics.candidates.inc_by(scored.scores.len() as u64);
    Ok(Json(ScoreResponse { model: name, scores: scored.scores, missing: scored.missing }))
}

/// A scoring answer; scores serialise as the shortest text that reads back as the same `f32`.
#[derive(Debug, serde::Serialize)]
struct ScoreResponse {
    model: String,
    scores: Vec<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<Vec<Vec<String>>>,
}
