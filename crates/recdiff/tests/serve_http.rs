//! The scoring server on a loopback port, against two small runs trained once for the whole file
//! (DCN-V2 and DCN-V2 + AsymDiffRec on a synthetic log): its scores equal `recdiff predict` on the
//! same rows, every class of bad input gets a 4xx naming the field, a panic becomes a 500 without
//! stopping the server, and reloads during a stream of requests lose none.

use recdiff_bench::loadgen::{self, agent, get, post, scores_of};
use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_serve::request::Features;
use recdiff_serve::server::ExtraRoutes;
use recdiff_serve::{RunningServer, ServeConfig};
use recdiff_train::ExperimentConfig;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    base: PathBuf,
    asym: PathBuf,
    /// AsymDiffRec trained on a schema without a user key (as Criteo and most public CTR logs).
    no_user: PathBuf,
    rows: Vec<[Features; 3]>,
}

fn train(dir: &Path, name: &str, asym: bool, schema: &str) -> PathBuf {
    let enhancer = if asym { "[model.enhancer]\nkind = \"asymdiffrec\"\nhidden = 64\n" } else { "" };
    let text = format!(
        "name = \"{name}\"\nseed = 5\n[data]\nschema = \"data/{schema}\"\nencoded = \"encoded-{schema}\"\n\
         [model]\nkind = \"ctr\"\nembedding_dim = 8\n[model.base]\nkind = \"dcnv2\"\ncross_layers = 2\ndeep = [32]\nlatent_dim = 16\n\
         {enhancer}[train]\nbatch_size = 512\nepochs = 1\nprogress = false\n"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let cfg = ExperimentConfig::load(&path).unwrap();
    let out = dir.join(name);
    recdiff_train::run(&ExperimentConfig { output: Some(out.clone()), ..cfg }, false).unwrap();
    out
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cfg = SynthConfig {
            rows: 6_000,
            users: 400,
            items: 300,
            fields: 24,
            format: OutputFormat::Parquet,
            ..Default::default()
        };
        synth::generate(&cfg, &data).unwrap();
        let base = train(dir.path(), "base", false, "schema.toml");
        let asym = train(dir.path(), "asym", true, "schema.toml");
        let text = std::fs::read_to_string(data.join("schema.toml")).unwrap().replace("user = \"user_id\"\n", "");
        std::fs::write(data.join("no-user.toml"), text).unwrap();
        let no_user = train(dir.path(), "no-user", true, "no-user.toml");
        let schema = recdiff_data::Schema::load(&data.join("schema.toml")).unwrap();
        let rows = loadgen::sample_rows(&schema, 300).unwrap();
        Fixture { data, base, asym, no_user, rows, _dir: dir }
    })
}

const TOKEN: &str = "test-admin-token-0123456789";

/// Admin on, with the fixture's directory as the runs directory.
fn with_admin(c: &mut ServeConfig) {
    let runs = fixture().base.parent().unwrap();
    c.admin = Some(recdiff_serve::admin::AdminConfig::new(TOKEN, runs).unwrap());
}

/// POSTs an admin request with the token.
fn admin_post(server: &RunningServer, body: &str) -> (u16, String) {
    let auth = format!("Bearer {TOKEN}");
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    loadgen::post_with(&agent(), &server.url("/admin/reload"), body, &headers).unwrap()
}

fn start(run: &Path, tweak: impl FnOnce(&mut ServeConfig), extra: ExtraRoutes) -> RunningServer {
    let mut cfg = ServeConfig { addr: SocketAddr::from(([127, 0, 0, 1], 0)), ..ServeConfig::new(run.to_path_buf()) };
    tweak(&mut cfg);
    RunningServer::start(cfg, extra).unwrap()
}

fn merged(parts: &[Features; 3]) -> Features {
    parts.iter().flat_map(|p| p.clone()).collect()
}

/// Writes `rows` as a CSV over `columns` (absent features as empty cells) and runs predict on it.
fn predict(run: &Path, columns: &[String], rows: &[Features], dir: &Path) -> Vec<f64> {
    let input = dir.join("rows.csv");
    let mut w = csv::Writer::from_path(&input).unwrap();
    w.write_record(columns).unwrap();
    for r in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match r.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            })
            .collect();
        w.write_record(&cells).unwrap();
    }
    w.flush().unwrap();
    let out = dir.join("scores.csv");
    recdiff_train::predict::predict(run, &input, &out).unwrap();
    let text = std::fs::read_to_string(out).unwrap();
    text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect()
}

fn columns(rows: &[[Features; 3]]) -> Vec<String> {
    let mut c: Vec<String> = rows.iter().flat_map(|r| r.iter().flat_map(|p| p.keys().cloned())).collect();
    c.sort();
    c.dedup();
    c
}

fn assert_close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-6, "row {i}: server {x} vs predict {y}");
    }
}

#[test]
fn scores_equal_recdiff_predict_on_the_same_rows() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let cols = columns(&f.rows);
    for run in [&f.base, &f.asym, &f.no_user] {
        let server = start(run, |_| {}, ExtraRoutes::new());
        let a = agent();
        // Independent rows through /v1/score:batch.
        let rows: Vec<Features> = f.rows.iter().map(merged).collect();
        let expected = predict(run, &cols, &rows, tmp.path());
        let (status, body) = post(&a, &server.url("/v1/score:batch"), &json!({ "rows": rows }).to_string()).unwrap();
        assert_eq!(status, 200, "{body}");
        assert_close(&scores_of(&body).unwrap(), &expected);
        // One user and context against 200 candidates through /v1/score (shared first layers).
        let anchor = &f.rows[7];
        let same_user: Vec<Features> =
            f.rows[..200].iter().map(|r| merged(&[anchor[0].clone(), anchor[1].clone(), r[2].clone()])).collect();
        let expected = predict(run, &cols, &same_user, tmp.path());
        let items: Vec<&Features> = f.rows[..200].iter().map(|r| &r[2]).collect();
        let req = json!({ "user": anchor[0], "context": anchor[1], "candidates": items });
        let (status, body) = post(&a, &server.url("/v1/score"), &req.to_string()).unwrap();
        assert_eq!(status, 200, "{body}");
        assert_close(&scores_of(&body).unwrap(), &expected);
    }
}

#[test]
fn missing_and_null_features_are_reported_by_explain_and_change_the_score() {
    let f = fixture();
    let server = start(&f.asym, |_| {}, ExtraRoutes::new());
    let a = agent();
    let anchor = &f.rows[3];
    let mut item = anchor[2].clone();
    let (key, _) = item.iter().find(|(k, _)| k.as_str() != "item_id").map(|(k, v)| (k.clone(), v.clone())).unwrap();
    item.insert(key.clone(), Value::Null);
    let req = json!({ "user": anchor[0], "context": anchor[1], "candidates": [anchor[2], item], "explain": true });
    let (status, body) = post(&a, &server.url("/v1/score"), &req.to_string()).unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let missing: Vec<Vec<String>> = serde_json::from_value(v["missing"].clone()).unwrap();
    assert!(!missing[0].contains(&key) && missing[1].contains(&key), "{key}: {missing:?}");
    let scores = scores_of(&body).unwrap();
    assert_ne!(scores[0], scores[1], "hiding {key} must reach the model");
    let (status, body) = get(&a, &server.url("/readyz")).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("dcnv2+asymdiffrec"), "{body}");
}

/// Sends `body` and checks the status, the error code and that the message names `needle`.
fn expect_error(server: &RunningServer, path: &str, body: &str, status: u16, code: &str, needle: &str) {
    let (got, text) = post(&agent(), &server.url(path), body).unwrap();
    assert_eq!(got, status, "{body:.200} -> {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is not JSON: {text}"));
    assert_eq!(v["error"]["code"], code, "{text}");
    let described = format!("{} {}", v["error"]["message"], v["error"]["field"]);
    assert!(described.contains(needle), "{body:.200}: expected {needle:?} in {text}");
}

#[test]
fn each_class_of_bad_input_gets_a_4xx_naming_the_problem() {
    let f = fixture();
    let extra = ExtraRoutes::new().route("/test/panic", axum_get_panics());
    let server = start(&f.base, |c| (c.max_candidates, c.max_body_bytes) = (50, 200_000), extra);
    let item = &f.rows[0][2];
    let user = &f.rows[0][0];
    let numeric = user.iter().find(|(_, v)| v.is_f64()).map(|(k, _)| k.clone()).expect("a numeric user field");
    let cand = |extra: Value| {
        let mut c = item.clone();
        if let Value::Object(m) = extra {
            c.extend(m);
        }
        json!({ "user": user, "candidates": [item, c] }).to_string()
    };
    let s = &server;
    expect_error(s, "/v1/score", "{\"candidates\": [", 400, "invalid_json", "EOF");
    expect_error(s, "/v1/score", "not json", 400, "invalid_json", "line 1");
    expect_error(s, "/v1/score", r#"{"candidates": [], "userz": {}}"#, 400, "invalid_json", "userz");
    expect_error(s, "/v1/score", r#"{"candidates": "abc"}"#, 400, "invalid_json", "sequence");
    expect_error(
        s,
        "/v1/score",
        &cand(json!({ "no_such_feature": 1 })),
        400,
        "invalid_feature",
        "candidates[1].no_such_feature",
    );
    expect_error(s, "/v1/score", &cand(json!({ "item_id": true })), 400, "invalid_feature", "candidates[1].item_id");
    expect_error(s, "/v1/score", &cand(json!({ "item_id": [1, 2] })), 400, "invalid_feature", "found a list");
    expect_error(s, "/v1/score", &cand(json!({ "item_id": 2.5 })), 400, "invalid_feature", "candidates[1].item_id");
    let mut bad_user = user.clone();
    bad_user.insert(numeric.clone(), json!("NaN"));
    let nan = json!({ "user": bad_user, "candidates": [item] }).to_string();
    expect_error(s, "/v1/score", &nan, 400, "invalid_feature", &format!("user.{numeric}"));
    bad_user.insert(numeric.clone(), json!("inf"));
    let inf = json!({ "user": bad_user, "candidates": [item] }).to_string();
    expect_error(s, "/v1/score", &inf, 400, "invalid_feature", "not a finite number");
    bad_user.insert(numeric.clone(), json!("cheap"));
    let text = json!({ "user": bad_user, "candidates": [item] }).to_string();
    expect_error(s, "/v1/score", &text, 400, "invalid_feature", "expected a number");
    let huge = format!(r#"{{"user": {{"{numeric}": 1e999}}, "candidates": [{{}}]}}"#);
    expect_error(s, "/v1/score", &huge, 400, "invalid_json", "out of range");
    let dup = json!({ "user": user, "candidates": [user] }).to_string();
    expect_error(s, "/v1/score", &dup, 400, "invalid_feature", "also given in user");
    let many = json!({ "user": user, "candidates": vec![item; 51] }).to_string();
    expect_error(s, "/v1/score", &many, 413, "too_many", "at most 50");
    expect_error(s, "/v1/score", r#"{"candidates": []}"#, 400, "empty", "candidates");
    let big = json!({ "rows": vec![json!({ "item_id": "x".repeat(1000) }); 300] }).to_string();
    expect_error(s, "/v1/score:batch", &big, 413, "body_too_large", "200000-byte limit");
    expect_error(s, "/v1/score:batch", r#"{"rows": [{"nope": 1}]}"#, 400, "invalid_feature", "rows[0].nope");
    // A panicking handler answers 500 and the server goes on serving.
    let (status, text) = get(&agent(), &server.url("/test/panic")).unwrap();
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("panicked"), "{text}");
    let ok = json!({ "user": user, "candidates": [item] }).to_string();
    assert_eq!(post(&agent(), &server.url("/v1/score"), &ok).unwrap().0, 200);
    let (_, metrics) = get(&agent(), &server.url("/metrics")).unwrap();
    for needle in [
        r#"recdiff_requests_total{route="/v1/score",status="400"}"#,
        r#"recdiff_requests_total{route="/test/panic",status="500"}"#,
        "recdiff_request_duration_seconds_bucket",
        "recdiff_candidates_scored_total",
    ] {
        assert!(metrics.contains(needle), "{needle} not in /metrics:\n{metrics}");
    }
}

fn axum_get_panics() -> axum::routing::MethodRouter<std::sync::Arc<recdiff_serve::AppState>> {
    axum::routing::get(|| async {
        if std::hint::black_box(true) {
            panic!("deliberate test panic");
        }
        "unreachable"
    })
}

#[test]
fn requests_over_the_time_limit_get_a_503() {
    let f = fixture();
    let slow = axum::routing::post(|| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        "late"
    });
    let extra = ExtraRoutes::new().route("/test/slow", slow);
    let server = start(&f.base, |c| c.request_timeout = Duration::from_millis(100), extra);
    let started = std::time::Instant::now();
    expect_error(&server, "/test/slow", "{}", 503, "timeout", "longer than 100 ms");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // Normal requests still pass under the same limit.
    let body = json!({ "user": f.rows[0][0], "candidates": [f.rows[0][2]] }).to_string();
    assert_eq!(post(&agent(), &server.url("/v1/score"), &body).unwrap().0, 200);
}

#[test]
fn reloading_during_a_stream_of_requests_loses_none() {
    let f = fixture();
    let server = start(&f.base, with_admin, ExtraRoutes::new());
    let bodies = loadgen::score_bodies(&f.rows, 100, 1, 9);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (answers, reloads) = std::thread::scope(|s| {
        let clients: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let (a, mut seen) = (agent(), Vec::new());
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let (status, body) = post(&a, &server.url("/v1/score"), &bodies[0]).unwrap();
                        let v: Value = serde_json::from_str(&body).unwrap();
                        seen.push((status, v["model"].as_str().unwrap_or("").to_string()));
                    }
                    seen
                })
            })
            .collect();
        let mut reloads = 0;
        for run in ["asym", "base", "asym", "base", "asym", "base"] {
            std::thread::sleep(Duration::from_millis(60));
            let (status, body) = admin_post(&server, &json!({ "run": run }).to_string());
            assert_eq!(status, 200, "{body}");
            reloads += 1;
        }
        std::thread::sleep(Duration::from_millis(60));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let answers: Vec<(u16, String)> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
        (answers, reloads)
    });
    assert_eq!(reloads, 6);
    let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    assert!(failed.is_empty(), "{} of {} requests failed: {:?}", failed.len(), answers.len(), &failed[..1]);
    for model in ["dcnv2", "dcnv2+asymdiffrec"] {
        assert!(answers.iter().any(|(_, m)| m == model), "no answer from {model} in {} answers", answers.len());
    }
    let (_, metrics) = get(&agent(), &server.url("/metrics")).unwrap();
    assert!(metrics.contains(r#"recdiff_model_reloads_total{result="ok"} 7"#), "{metrics}");
    let _ = &f.data;
}
