//! The server as an attacker or a clumsy client meets it: admin routes off by default and, when on,
//! token-guarded, JSON-only, closed to browsers and to paths outside the runs directory, with
//! error bodies that echo neither file contents nor host paths; idle and trickling connections
//! time out and cannot lock out a valid request, nor can partial heads past the cap (a load of
//! idle, partial-head and trickling clients beside valid ones); an announced oversized body gets
//! its 413 at once.

use recdiff_bench::loadgen::{self, agent, post, post_with};
use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_serve::admin::AdminConfig;
use recdiff_serve::server::ExtraRoutes;
use recdiff_serve::{RunningServer, ServeConfig};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TOKEN: &str = "a-long-enough-admin-token-42";

struct Fixture {
    dir: tempfile::TempDir,
    /// A valid `/v1/score` body.
    body: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let cfg = SynthConfig { rows: 3_000, users: 200, items: 150, fields: 24, format: OutputFormat::Csv, ..Default::default() };
        synth::generate(&cfg, &dir.path().join("data")).unwrap();
        let text = "name = \"base\"\nseed = 2\n[data]\nschema = \"data/schema.toml\"\n[model]\nkind = \"ctr\"\nembedding_dim = 4\n\
                    [model.base]\nkind = \"dcnv2\"\ncross_layers = 1\ndeep = [8]\nlatent_dim = 8\n\
                    [train]\nbatch_size = 512\nepochs = 1\nprogress = false\n";
        std::fs::write(dir.path().join("exp.toml"), text).unwrap();
        let exp = recdiff_train::ExperimentConfig::load(&dir.path().join("exp.toml")).unwrap();
        recdiff_train::run(&recdiff_train::ExperimentConfig { output: Some(runs.join("base")), ..exp }, false).unwrap();
        let schema = recdiff_data::Schema::load(&dir.path().join("data/schema.toml")).unwrap();
        let rows = loadgen::sample_rows(&schema, 10).unwrap();
        let body = json!({ "user": rows[0][0], "context": rows[0][1], "candidates": [rows[1][2]] }).to_string();
        Fixture { dir, body }
    })
}

fn runs() -> PathBuf {
    fixture().dir.path().join("runs")
}

fn start(tweak: impl FnOnce(&mut ServeConfig)) -> RunningServer {
    let mut cfg = ServeConfig { addr: SocketAddr::from(([127, 0, 0, 1], 0)), ..ServeConfig::new(runs().join("base")) };
    tweak(&mut cfg);
    RunningServer::start(cfg, ExtraRoutes::new()).unwrap()
}

fn admin(c: &mut ServeConfig) {
    c.admin = Some(AdminConfig::new(TOKEN, &runs()).unwrap());
}

fn reload(server: &RunningServer, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, text) = post_with(&agent(), &server.url("/admin/reload"), body, headers).unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")))
}

#[test]
fn admin_routes_are_off_without_a_token() {
    let server = start(|_| {});
    let (status, text) = post(&agent(), &server.url("/admin/reload"), r#"{"run": "base"}"#).unwrap();
    assert_eq!(status, 404, "{text}");
    assert!(AdminConfig::new("short", &runs()).is_err(), "a short token is refused at start-up");
}

#[test]
fn admin_reload_needs_the_token_json_no_origin_and_a_run_named_inside_the_runs_dir() {
    let server = start(admin);
    let auth = format!("Bearer {TOKEN}");
    let ok: [(&str, &str); 2] = [("content-type", "application/json"), ("authorization", &auth)];
    let body = r#"{"run": "base"}"#;
    let code = |(status, v): (u16, Value)| (status, v["error"]["code"].as_str().unwrap_or("").to_string());
    assert_eq!(code(reload(&server, body, &ok[..1])), (401, "unauthorized".into()));
    let wrong = [ok[0], ("authorization", "Bearer a-long-enough-admin-token-43")];
    assert_eq!(code(reload(&server, body, &wrong)), (401, "unauthorized".into()));
    let browser = [ok[0], ok[1], ("origin", "http://evil.example")];
    assert_eq!(code(reload(&server, body, &browser)), (403, "forbidden_origin".into()));
    let form = [("content-type", "text/plain"), ok[1]];
    assert_eq!(code(reload(&server, body, &form)), (415, "unsupported_media_type".into()));
    for bad in [r#"{"run": "/etc"}"#, r#"{"run": "../runs/base"}"#, r#"{"run": "./base"}"#] {
        assert_eq!(code(reload(&server, bad, &ok)), (400, "invalid_run_name".into()), "{bad}");
    }
    // Unknown names all answer alike, and never with a host path.
    let root = runs().canonicalize().unwrap().display().to_string();
    for name in ["nope", "etc/passwd", "base/best/nope"] {
        let (status, v) = reload(&server, &json!({ "run": name }).to_string(), &ok);
        assert_eq!((status, v["error"]["code"].as_str().unwrap()), (404, "unknown_run"), "{name}: {v}");
        assert!(!v.to_string().contains(&root), "{v}");
    }
    let (status, v) = reload(&server, body, &ok);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ranking"]["run"], "base", "answers name runs relative to the runs dir: {v}");
}

/// A copy of the base run with `config.resolved.toml` replaced by `make`.
fn broken_run(name: &str, make: impl FnOnce(&Path)) {
    let (from, to) = (runs().join("base"), runs().join(name));
    if to.exists() {
        std::fs::remove_dir_all(&to).unwrap();
    }
    copy_dir(&from, &to);
    let cfg = to.join("config.resolved.toml");
    std::fs::remove_file(&cfg).unwrap();
    make(&cfg);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn reload_errors_echo_no_file_contents_and_symlinks_out_of_the_runs_dir_are_refused() {
    let server = start(admin);
    let auth = format!("Bearer {TOKEN}");
    let ok: [(&str, &str); 2] = [("content-type", "application/json"), ("authorization", &auth)];
    let secret = fixture().dir.path().join("secret.toml");
    std::fs::write(&secret, "top-secret-line = [\n").unwrap();
    broken_run("linked", |cfg| std::os::unix::fs::symlink(&secret, cfg).unwrap());
    let (status, v) = reload(&server, r#"{"run": "linked"}"#, &ok);
    assert_eq!((status, v["error"]["code"].as_str().unwrap()), (422, "symlink_outside_runs"), "{v}");
    broken_run("garbled", |cfg| std::fs::write(cfg, "top-secret-line = [\n").unwrap());
    let (status, v) = reload(&server, r#"{"run": "garbled"}"#, &ok);
    assert_eq!((status, v["error"]["code"].as_str().unwrap()), (422, "reload_failed"), "{v}");
    let text = v.to_string();
    assert!(text.contains("config.resolved.toml") && text.contains("still serving base"), "{text}");
    assert!(!text.contains("top-secret") && !text.contains(&*fixture().dir.path().to_string_lossy()), "{text}");
    // The server still serves the run it had.
    assert_eq!(post(&agent(), &server.url("/v1/score"), &fixture().body).unwrap().0, 200);
}

/// Reads until the server closes the connection or `limit` passes; true when it closed.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return started.elapsed() < limit,
        }
        if started.elapsed() >= limit {
            return false;
        }
    }
}

#[test]
fn idle_and_trickling_connections_time_out_and_cannot_lock_out_a_valid_request() {
    let server = start(|c| {
        c.limits.header_timeout = Duration::from_millis(400);
        c.limits.max_connections = 8;
    });
    // A client that trickles its request head is closed once the header timeout passes.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"POST /v1/score HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(3)), "a trickling connection was never closed");
    // Many more idle connections than the cap: a valid request still gets through at once.
    let idle: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(server.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let (status, text) = post(&agent(), &server.url("/v1/score"), &fixture().body).unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?} behind idle sockets", started.elapsed());
    let (_, metrics) = loadgen::get(&agent(), &server.url("/metrics")).unwrap();
    assert!(metrics.contains("recdiff_connections_closed_total{reason=\"evicted_idle\"}"), "{metrics}");
    drop(idle);
}

#[test]
fn an_announced_oversized_body_gets_413_at_once() {
    let server = start(|c| c.max_body_bytes = 1_000);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let head =
        "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n";
    s.write_all(head.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 512];
    let n = s.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Before the fix the server waited for the body until the 5 s request timeout.
    assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());
}

#[test]
fn a_feature_given_twice_in_one_object_is_refused() {
    let server = start(|_| {});
    let body = r#"{"user": {"user_id": "u1", "user_id": null}, "candidates": [{}]}"#;
    let (status, text) = post(&agent(), &server.url("/v1/score"), body).unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("invalid_json") && text.contains("feature `user_id` is given twice"), "{text}");
    let rows = r#"{"rows": [{"a": 1, "a": 2}]}"#;
    let (status, text) = post(&agent(), &server.url("/v1/score:batch"), rows).unwrap();
    assert!(status == 400 && text.contains("`a` is given twice"), "{text}");
}

#[test]
fn partial_request_heads_beyond_the_cap_are_closed_and_a_valid_request_is_answered() {
    let server = start(|c| {
        // Long enough that no head times out during the test: only the cap closes them.
        c.limits.header_timeout = Duration::from_secs(30);
        c.limits.max_connections = 4;
    });
    let mut partial: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(b"POST /v1/score HTTP/1.1\r\nHost: x\r\n").unwrap();
            std::thread::sleep(Duration::from_millis(5));
            s
        })
        .collect();
    let closed = partial.iter_mut().map(|s| closed_within(s, Duration::from_millis(300))).filter(|c| *c).count();
    assert!(closed >= 16, "only {closed} of 20 partial heads were closed at a cap of 4: evicted sockets stayed open");
    let started = Instant::now();
    let (status, text) = post(&agent(), &server.url("/v1/score"), &fixture().body).unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?} behind partial heads", started.elapsed());
    // A load at the cap, bounded in time: idle, partial-head and trickling clients keep opening
    // connections while valid clients send requests; every valid request is answered.
    let url = server.url("/v1/score");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pests: Vec<_> = (0..3)
        .map(|kind| {
            let (stop, addr) = (stop.clone(), server.addr);
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(mut s) = TcpStream::connect(addr) {
                        let _ = match kind {
                            0 => Ok(()),
                            1 => s.write_all(b"POST /v1/score HTTP/1.1\r\nHost: x\r\n"),
                            _ => s.write_all(b"P"),
                        };
                        held.push(s);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    let valid: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                (0..5).map(|_| post(&agent(), &url, &fixture().body).map(|r| r.0)).collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<_> = valid.into_iter().flat_map(|t| t.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    pests.into_iter().for_each(|t| t.join().unwrap());
    assert!(answers.iter().all(|a| matches!(a, Ok(200))), "valid requests beside the load: {answers:?}");
}

#[test]
fn a_reload_with_one_failing_run_swaps_nothing() {
    let server = start(admin);
    let auth = format!("Bearer {TOKEN}");
    let ok: [(&str, &str); 2] = [("content-type", "application/json"), ("authorization", &auth)];
    let other = runs().join("other");
    if !other.exists() {
        copy_dir(&runs().join("base"), &other);
    }
    broken_run("garbled-retrieval", |cfg| std::fs::write(cfg, "not = [\n").unwrap());
    // A good ranking run beside a retrieval run that fails to load: 422, and nothing changes.
    let (status, v) = reload(&server, r#"{"run": "other", "retrieval": "garbled-retrieval"}"#, &ok);
    assert_eq!((status, v["error"]["code"].as_str().unwrap()), (422, "reload_failed"), "{v}");
    assert!(v.to_string().contains("the reload changed nothing"), "{v}");
    // The ranking model served is still base: a failing reload of it says so.
    broken_run("garbled-again", |cfg| std::fs::write(cfg, "not = [\n").unwrap());
    let (_, v) = reload(&server, r#"{"run": "garbled-again"}"#, &ok);
    assert!(v.to_string().contains("still serving base;"), "the half-failed reload swapped the ranking run: {v}");
}

#[test]
fn an_error_about_a_huge_input_quotes_only_its_start() {
    let server = start(|_| {});
    let key = "k".repeat(5 << 20);
    let body = format!(r#"{{"candidates": [{{"{key}": 1}}]}}"#);
    let (status, text) = post(&agent(), &server.url("/v1/score"), &body).unwrap();
    assert_eq!(status, 400, "{}", &text[..text.len().min(300)]);
    assert!(text.len() < 8_192, "a {} byte answer to a 5 MiB key", text.len());
    assert!(text.contains("kkkk") && text.contains("more bytes"), "{text}");
}

#[test]
fn a_route_of_a_family_the_server_does_not_serve_names_what_it_serves() {
    let server = start(|_| {});
    let (status, text) = post(&agent(), &server.url("/v1/recommend"), r#"{"history": ["1"], "k": 5}"#).unwrap();
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("not_served") && text.contains("a ranking run on /v1/score (base)"), "{text}");
}
