//! `POST /v1/recommend` on a loopback port, against a SASRec run trained for one epoch on
//! MovieLens-100K: the answer is the top-K of the model's own scores with the history left out,
//! the ANN index agrees with exact search, and bad requests get a 400 naming the field.

use recdiff_serve::loadgen::{agent, get, post};
use recdiff_serve::retrieval::{RecommendRequest, RetrievalModel};
use recdiff_serve::{RunningServer, ServeConfig};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A one-epoch SASRec run on MovieLens-100K (the test fails when the data is absent).
fn sasrec_run(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = root.join("../shared/data/ml-100k/u.data");
    assert!(data.exists(), "MovieLens-100K is missing: {} (this test needs ../shared/data/ml-100k)", data.display());
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

    // No CTR run: scoring is not ready, retrieval is.
    let (status, body) = get(&agent, &format!("http://{}/readyz", server.addr)).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(&agent, &format!("http://{}/v1/score", server.addr), "{}").unwrap();
    assert_eq!(status, 503);
}
