//! `recdiff bench reload RUN`: resident memory of a real `recdiff serve` process (this binary,
//! with its allocator settings) over rounds of one reload followed by concurrent scoring traffic.
//! A server that held old models or their scratch would grow round after round; a sound one
//! levels off after its first few rounds (two models during a swap, one heap and scratch per
//! scoring thread).

use anyhow::{Context, Result, bail};
use clap::Args;
use recdiff_bench::loadgen;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct ReloadBenchArgs {
    /// A trained CTR run; it is reloaded alternately with a copy of itself.
    run: PathBuf,
    /// Rounds of one reload and then traffic.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// Requests per client per round.
    #[arg(long, default_value_t = 2)]
    requests: usize,
    /// Concurrent clients during a round's traffic.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Candidates per /v1/score request.
    #[arg(long, default_value_t = 500)]
    candidates: usize,
}

const TOKEN: &str = "bench-reload-admin-token-0123456789";

/// Resident set size of `pid` in MiB (Linux /proc).
fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc (Linux only)")?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next());
    Ok(kb.context("no VmRSS line")?.parse::<f64>()? / 1024.0)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()))?;
        } else {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Starts `recdiff serve` on a free loopback port with admin reloads over `runs`.
fn start_server(runs: &Path) -> Result<(Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    std::fs::write(runs.join("token"), TOKEN)?;
    let child = Command::new(std::env::current_exe()?)
        .args(["serve", "a", "--addr", &addr, "--admin-token-file", "token", "--runs-dir", "."])
        .current_dir(runs)
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting recdiff serve")?;
    let agent = loadgen::agent();
    let started = Instant::now();
    while !loadgen::get(&agent, &format!("http://{addr}/readyz")).is_ok_and(|(s, _)| s == 200) {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server was not ready within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((child, addr))
}

pub fn bench_reload(a: ReloadBenchArgs) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let runs = temp.path();
    copy_dir(&a.run, &runs.join("a")).context("copying the run")?;
    copy_dir(&a.run, &runs.join("b"))?;
    let meta = recdiff_data::EncodedMeta::load(&a.run).context("reading the run's meta.json")?;
    let rows = loadgen::sample_rows(&meta.schema, 5_000)?;
    if rows.is_empty() {
        bail!("the run's data has no rows to build requests from");
    }
    let bodies = loadgen::score_bodies(&rows, a.candidates, 64, 5);
    let (mut child, addr) = start_server(runs)?;
    let pid = child.id();
    let (score, reload) = (format!("http://{addr}/v1/score"), format!("http://{addr}/admin/reload"));
    let auth = format!("Bearer {TOKEN}");
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    println!(
        "recdiff bench reload: {} rounds of one reload + {} clients x {} requests ({} candidates); RSS of the server",
        a.rounds, a.concurrency, a.requests, a.candidates
    );
    println!("{:>6} {:>10}", "round", "RSS MiB");
    println!("{:>6} {:>10.1}", "start", rss_mib(pid)?);
    let (mut samples, agent, mut errors) = (Vec::new(), loadgen::agent(), 0usize);
    for round in 0..a.rounds {
        let name = if round % 2 == 0 { "b" } else { "a" };
        let (status, body) = loadgen::post_with(&agent, &reload, &format!("{{\"run\": \"{name}\"}}"), &headers)?;
        if status != 200 {
            bail!("reload {round} answered {status}: {body}");
        }
        let per_round: Vec<String> =
            (0..a.requests * a.concurrency).map(|i| bodies[(round + i) % 64].clone()).collect();
        let targets = [score.clone()];
        errors += loadgen::run_load(&targets, &per_round, a.concurrency)[0].errors;
        let rss = rss_mib(pid)?;
        samples.push(rss);
        if round % 20 == 0 || round + 1 == a.rounds {
            println!("{round:>6} {rss:>10.1}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let quarter = samples.len() / 4;
    let (early, last) = (samples[quarter.max(1) - 1], samples[samples.len() - 1]);
    println!(
        "growth over the last {} rounds: {:+.1} MiB ({early:.1} -> {last:.1}); peak {:.1} MiB; {errors} failed requests",
        samples.len() - quarter.max(1),
        last - early,
        samples.iter().copied().fold(0.0, f64::max)
    );
    Ok(())
}
