//! `recdiff serve <run>`: a trained run of any family over HTTP.

use anyhow::{Context, Result, bail};
use clap::Args;
use recdiff_serve::ServeConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// A trained CTR run directory (holds config.resolved.toml, meta.json and best/).
    run: Option<PathBuf>,
    /// A sequential or top-K run served on /v1/recommend (a history or a user of its data).
    #[arg(long)]
    retrieval: Option<PathBuf>,
    /// Address to listen on (loopback by default; expose it deliberately).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Most candidates in one /v1/score request.
    #[arg(long, default_value_t = 2_000, value_parser = up_to::<usize>(1_000_000))]
    max_candidates: usize,
    /// Most rows in one /v1/score:batch request.
    #[arg(long, default_value_t = 10_000, value_parser = up_to::<usize>(1_000_000))]
    max_batch_rows: usize,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 16 << 20, value_parser = up_to::<usize>(1 << 30))]
    max_body_bytes: usize,
    /// Time limit of one request in milliseconds (reading the body and waiting for a slot included).
    #[arg(long, default_value_t = 5_000, value_parser = up_to::<u64>(DAY_MS))]
    timeout_ms: u64,
    /// Requests scored at once; more wait for a slot.
    #[arg(long, default_value_t = 16, value_parser = up_to::<usize>(4_096))]
    max_in_flight: usize,
    /// A request head must arrive within this many milliseconds of the connection opening or of
    /// the previous answer (so it is the idle keep-alive timeout too).
    #[arg(long, default_value_t = 10_000, value_parser = up_to::<u64>(DAY_MS))]
    header_timeout_ms: u64,
    /// Most open connections; past it the longest-idle one is closed to make room.
    #[arg(long, default_value_t = 1024, value_parser = up_to::<usize>(1_000_000))]
    max_connections: usize,
    /// Connections the kernel queues before they are accepted (capped by the system's somaxconn).
    #[arg(long, default_value_t = 4_096, value_parser = up_to::<u32>(65_535))]
    backlog: u32,
    /// On SIGTERM/SIGINT, milliseconds that requests in flight get to finish.
    #[arg(long, default_value_t = 10_000, value_parser = up_to::<u64>(DAY_MS))]
    shutdown_timeout_ms: u64,
    /// Turns on POST /admin/reload, guarded by the token in this file (or in the
    /// RECDIFF_ADMIN_TOKEN environment variable); without either the admin routes are off.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// The directory /admin/reload names runs in (default: the directory holding the served run).
    #[arg(long)]
    runs_dir: Option<PathBuf>,
}

/// The environment variable an admin token may come from.
pub const ADMIN_TOKEN_ENV: &str = "RECDIFF_ADMIN_TOKEN";

/// A day in milliseconds: the longest time limit a flag takes.
const DAY_MS: u64 = 86_400_000;

/// Every numeric flag is a whole number from 1 to what its consumer accepts (tokio's semaphore
/// panics past 2^61 permits, its timers past about 30 years; the kernel caps the backlog at
/// 65,535): a larger value is refused by name, not a panic.
fn up_to<T: TryFrom<u64> + Clone + Send + Sync + 'static>(max: u64) -> clap::builder::RangedU64ValueParser<T> {
    clap::builder::RangedU64ValueParser::new().range(1..=max)
}

/// The admin settings from the flags and the environment: off without a token.
fn admin_config(a: &ServeArgs) -> Result<Option<recdiff_serve::admin::AdminConfig>> {
    let token = match (&a.admin_token_file, std::env::var(ADMIN_TOKEN_ENV).ok()) {
        (Some(file), _) => {
            std::fs::read_to_string(file).with_context(|| format!("reading the admin token file {}", file.display()))?
        }
        (None, Some(token)) => token,
        (None, None) => {
            if a.runs_dir.is_some() {
                bail!("--runs-dir is for /admin/reload, which needs --admin-token-file or {ADMIN_TOKEN_ENV}");
            }
            return Ok(None);
        }
    };
    let served = a.run.as_ref().or(a.retrieval.as_ref());
    let runs_dir = match (&a.runs_dir, served) {
        (Some(dir), _) => dir.clone(),
        (None, Some(run)) => std::path::absolute(run)?.parent().map(Path::to_path_buf).unwrap_or_default(),
        (None, None) => bail!("give --runs-dir for /admin/reload"),
    };
    Ok(Some(recdiff_serve::admin::AdminConfig::new(&token, &runs_dir)?))
}

/// Serving keeps freed memory mapped for a while: each request allocates and frees megabytes of
/// tensors, and with mimalloc's default 10 ms purge delay those pages went back to the OS between
/// requests and were faulted in again, which showed in the latency tail (AsymDiffRec's extra
/// tensors most). The delay was once `-1` (never purge); that kept every page any thread ever
/// freed, so RSS grew with reloads and traffic without bound (`recdiff bench reload`: +38 MiB
/// over the last 150 of 200 rounds, 336 MiB at the end, against a flat ~215 MiB at 250 ms, with
/// no measurable latency cost in `recdiff bench serve`; docs/reliability.md). mimalloc reads its
/// options at process start, so the process re-executes itself once with
/// `MIMALLOC_PURGE_DELAY=250` unless the variable is already set.
/// How long (ms) serving keeps freed pages before returning them to the OS.
pub const PURGE_DELAY_MS: &str = "250";

pub fn keep_freed_memory() -> Result<()> {
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(VAR).is_some() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().context("locating the recdiff binary")?;
        let err = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env(VAR, PURGE_DELAY_MS).exec();
        Err(err).context("re-executing with MIMALLOC_PURGE_DELAY set")
    }
    #[cfg(not(unix))]
    Ok(())
}

pub fn serve(a: ServeArgs) -> Result<()> {
    keep_freed_memory()?;
    if a.run.is_none() && a.retrieval.is_none() {
        bail!("give a CTR run, --retrieval RUN, or both");
    }
    for run in a.run.iter().chain(&a.retrieval) {
        if !run.is_dir() {
            bail!("{}: no such run directory", run.display());
        }
    }
    if let Some(run) = a.run.as_ref().filter(|r| r.join(recdiff_run::ctr::CONFIG_FILE).is_file()) {
        let instead = "serve a sequential or top-K run with --retrieval RUN";
        crate::families::require(run, &[recdiff_train::family::FAMILY], "serve RUN", instead)?;
    }
    if let Some(run) = a.retrieval.as_ref().filter(|r| r.join(recdiff_run::ctr::CONFIG_FILE).is_file()) {
        let families = [recdiff_seq::family::FAMILY, recdiff_topk::family::FAMILY];
        crate::families::require(run, &families, "serve --retrieval", "serve a CTR run as the RUN argument")?;
    }
    let admin = admin_config(&a)?;
    let limits = recdiff_serve::conn::ConnLimits {
        header_timeout: Duration::from_millis(a.header_timeout_ms),
        max_connections: recdiff_serve::conn::fit_connection_cap(a.max_connections),
        shutdown_timeout: Duration::from_millis(a.shutdown_timeout_ms),
        backlog: a.backlog,
    };
    if limits.max_connections < a.max_connections {
        eprintln!(
            "recdiff serve: --max-connections lowered to {} to fit the file-descriptor limit",
            limits.max_connections
        );
    }
    let admin_on = admin.is_some();
    let cfg = ServeConfig {
        addr: a.addr,
        max_candidates: a.max_candidates,
        max_batch_rows: a.max_batch_rows,
        max_body_bytes: a.max_body_bytes,
        request_timeout: Duration::from_millis(a.timeout_ms),
        max_in_flight: a.max_in_flight,
        limits,
        admin,
        run: a.run,
        retrieval: a.retrieval,
    };
    recdiff_serve::run(cfg, |addr| {
        let admin = if admin_on { "on, token-guarded" } else { "off" };
        eprintln!("recdiff serve: listening on http://{addr} (admin routes {admin}; Ctrl-C to stop, SIGHUP to reload)");
    })?;
    Ok(())
}
