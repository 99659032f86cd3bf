//! `POST /v1/recommend` on a loopback port, against a SASRec run trained for one epoch on
//! MovieLens-100K: the answer is the top-K of the model's own scores with the history left out,
//! the ANN index agrees with exact search, and bad requests get a 400 naming the field.

use recdiff_bench::loadgen::{agent, get, post};
use recdiff_serve::retrieval::{RecommendRequest, RetrievalModel};
use recdiff_serve::{RunningServer, ServeConfig};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A one-epoch SASRec run on MovieLens-100K (the test fails when the data is absent).
fn sasrec_run(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    recdiff_testkit::require_ml100k();
    let mut cfg = recdiff_seq::SeqExperimentConfig::load(&root.join("configs/seq-ml100k-sasrec.toml")).unwrap();
    cfg.output = Some(dir.join("sasrec"));
    cfg.train.epochs = 1;
    cfg.train.progress = false;
    recdiff_seq::run(&cfg).unwrap();
    dir.join("sasrec")
}

fn items_of(body: &str) -> Vec<(String, f64)> {
    let v: Value = serde_json::from_str(body).unwrap();
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|x| (x["item"].as_str().unwrap().to_string(), x["score"].as_f64().unwrap()))
        .collect()
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn recommend_answers_the_models_top_k_and_rejects_bad_histories_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let run = sasrec_run(dir.path());
    let cfg = ServeConfig {
        run: None,
        retrieval: Some(run.clone()),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServeConfig::new(PathBuf::new())
    };
    let server = RunningServer::start(cfg, Default::default()).unwrap();
    let (url, agent) = (format!("http://{}/v1/recommend", server.addr), agent());
    let history = ["50", "172", "133", "181", "98"];
    // A retrieval-only server names what it serves on /v1/score, instead of "still loading".
    let (status, body) = post(&agent, &format!("http://{}/v1/score", server.addr), r#"{"candidates": []}"#).unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not_served") && body.contains("a retrieval run on /v1/recommend"), "{body}");

    let (status, body) =
        post(&agent, &url, &json!({ "history": history, "k": 20, "exact": true }).to_string()).unwrap();
    assert_eq!(status, 200, "{body}");
    let exact = items_of(&body);
    assert_eq!(exact.len(), 20);
    assert!(exact.iter().all(|(item, _)| !history.contains(&item.as_str())), "history leaked: {exact:?}");
    assert!(exact.windows(2).all(|w| w[0].1 >= w[1].1), "not sorted by score: {exact:?}");
    // The same answer as the model in-process (its own full ranking).
    let model = RetrievalModel::load(&run).unwrap();
    let req: RecommendRequest = serde_json::from_value(json!({ "history": history, "k": 20, "exact": true })).unwrap();
    let local: Vec<String> = model.recommend(&req).unwrap().into_iter().map(|r| r.item).collect();
    assert_eq!(exact.iter().map(|x| x.0.clone()).collect::<Vec<_>>(), local);

    let (status, body) = post(&agent, &url, &json!({ "history": history, "k": 20 }).to_string()).unwrap();
    assert_eq!(status, 200, "{body}");
    let ann = items_of(&body);
    let shared = ann.iter().filter(|a| exact.iter().any(|e| e.0 == a.0)).count();
    assert!(shared >= 18, "ANN shares {shared}/20 with exact search");
    assert!(body.contains("\"search\":\"hnsw\""), "{body}");
    let wide = json!({ "history": history, "k": 20, "ef": 2000 });
    let (status, body) = post(&agent, &url, &wide.to_string()).unwrap();
    assert_eq!(status, 200, "{body}");
    let shared = items_of(&body).iter().filter(|a| exact.iter().any(|e| e.0 == a.0)).count();
    assert_eq!(shared, 20, "with ef above the catalogue size the search is exhaustive");

    let with_history = json!({ "history": history, "k": 1682, "exact": true, "exclude_history": false });
    let (status, body) = post(&agent, &url, &with_history.to_string()).unwrap();
    assert_eq!((status, items_of(&body).len()), (200, 1682), "{body}");

    for (request, field) in [
        (json!({ "history": ["50", "no-such-item"] }), "history[1]"),
        (json!({ "history": ["50", 1.5] }), "history[1]"),
        (json!({ "history": [] }), "history"),
        (json!({ "history": ["50"], "k": 0 }), "k"),
        (json!({ "history": ["50"], "k": 5000 }), "k"),
        (json!({ "history": ["50"], "ef": 0 }), "ef"),
        (json!({ "history": ["50"], "ef": 10_001 }), "ef"),
    ] {
        let (status, body) = post(&agent, &url, &request.to_string()).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 400, "{request}: {body}");
        assert_eq!(v["error"]["field"], field, "{request}: {body}");
    }
    let (status, body) = post(&agent, &url, r#"{"history": ["50"], "topk": 3}"#).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown field `topk`"), "{body}");

    // No CTR run: the server is ready (for retrieval) and says scoring is not served.
    let (status, body) = get(&agent, &format!("http://{}/readyz", server.addr)).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(&agent, &format!("http://{}/v1/score", server.addr), "{}").unwrap();
    assert_eq!(status, 404);
}

fn serve(run: &Path) -> RunningServer {
    let cfg = ServeConfig {
        run: None,
        retrieval: Some(run.to_path_buf()),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServeConfig::new(PathBuf::new())
    };
    RunningServer::start(cfg, Default::default()).unwrap()
}

/// A status, error code and field of an error answer.
fn error_of(status: u16, body: &str) -> (u16, String, String) {
    let v: Value = serde_json::from_str(body).unwrap();
    let s = |k: &str| v["error"][k].as_str().unwrap_or_default().to_string();
    (status, s("code"), s("field"))
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn a_sequential_run_recommends_for_a_user_of_its_data_as_for_that_users_history() {
    let dir = tempfile::tempdir().unwrap();
    let run = sasrec_run(dir.path());
    let server = serve(&run);
    let (url, agent) = (format!("http://{}/v1/recommend", server.addr), agent());
    let cfg = recdiff_run::SeqRun::open(&run, &burn::tensor::Device::flex()).unwrap().cfg;
    let (data, _) = recdiff_run::seq::load_data(&cfg).unwrap();
    let u = data.users.iter().position(|k| k == "196").unwrap();
    let history: Vec<&str> = data.histories[u].iter().map(|&i| data.items[i as usize].as_str()).collect();
    assert!(history.len() > 5);
    let (status, by_user) = post(&agent, &url, &json!({ "user": "196", "k": 15, "exact": true }).to_string()).unwrap();
    assert_eq!(status, 200, "{by_user}");
    let (_, by_history) =
        post(&agent, &url, &json!({ "history": history, "k": 15, "exact": true }).to_string()).unwrap();
    assert_eq!(items_of(&by_user), items_of(&by_history));
    assert!(items_of(&by_user).iter().all(|(i, _)| !history.contains(&i.as_str())), "known items leaked");

    let (status, body) = post(&agent, &url, &json!({ "user": "no-such-user" }).to_string()).unwrap();
    assert_eq!(error_of(status, &body), (404, "unknown_user".into(), "user".into()), "{body}");
    let (status, body) = post(&agent, &url, &json!({ "user": "196", "history": ["50"] }).to_string()).unwrap();
    assert_eq!(error_of(status, &body).0, 400, "{body}");
    assert_eq!(error_of(status, &body).2, "user", "{body}");
    let (status, body) = post(&agent, &url, &json!({ "user": [1] }).to_string()).unwrap();
    assert_eq!((status, error_of(status, &body).2), (400, "user".into()), "{body}");
}

#[test]
#[ignore = "needs MovieLens-100K: recdiff data fetch movielens-100k"]
fn a_topk_run_recommends_for_a_user_with_every_known_item_masked_and_refuses_unknown_users() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    recdiff_testkit::require_ml100k();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = recdiff_topk::TopKExperimentConfig::load(&root.join("configs/topk-ml100k-diffrec.toml")).unwrap();
    cfg.output = Some(dir.path().join("diffrec"));
    cfg.train.epochs = 2;
    cfg.train.progress = false;
    recdiff_topk::run(&cfg).unwrap();
    let run = dir.path().join("diffrec");
    let server = serve(&run);
    let (url, agent) = (format!("http://{}/v1/recommend", server.addr), agent());

    let (status, body) = post(&agent, &url, &json!({ "user": "196", "k": 10 }).to_string()).unwrap();
    assert_eq!(status, 200, "{body}");
    let got = items_of(&body);
    assert_eq!(got.len(), 10);
    assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "not sorted by score: {got:?}");
    // The same as the run's own scores, in-process: every item the user rated is left out.
    let local = recdiff_run::TopKRun::open(&run, &burn::tensor::Device::flex()).unwrap();
    let u = local.user("196").unwrap();
    let s = &local.split;
    let known: Vec<&str> = s
        .train
        .row(u)
        .iter()
        .chain(s.valid.row(u))
        .chain(s.test.row(u))
        .map(|&i| local.items[i as usize].as_str())
        .collect();
    assert!(known.len() > 10);
    assert!(got.iter().all(|(i, _)| !known.contains(&i.as_str())), "a known item was recommended: {got:?}");
    let mine: Vec<String> =
        local.recommend(u, 10).unwrap().into_iter().map(|(i, _)| local.items[i as usize].clone()).collect();
    assert_eq!(got.iter().map(|x| x.0.clone()).collect::<Vec<_>>(), mine);
    let (_, again) = post(&agent, &url, &json!({ "user": 196, "k": 10 }).to_string()).unwrap();
    assert_eq!(items_of(&again), got, "an integer key names the same user, and the answer is deterministic");

    let (status, body) = post(&agent, &url, &json!({ "user": "99999" }).to_string()).unwrap();
    assert_eq!(error_of(status, &body), (404, "unknown_user".into(), "user".into()), "{body}");
    for (request, field) in [
        (json!({ "history": ["50"] }), "history"),
        (json!({}), "user"),
        (json!({ "user": "196", "k": 0 }), "k"),
        (json!({ "user": "196", "k": 1683 }), "k"),
    ] {
        let (status, body) = post(&agent, &url, &request.to_string()).unwrap();
        assert_eq!((status, error_of(status, &body).2), (400, field.to_string()), "{request}: {body}");
    }
    let (status, body) = get(&agent, &format!("http://{}/readyz", server.addr)).unwrap();
    assert!(status == 200 && body.contains("diffrec") && body.contains("1682"), "{body}");
}
