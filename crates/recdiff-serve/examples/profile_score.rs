use recdiff_serve::{ServingModel, loadgen, request::ScoreRequest};
use std::time::Instant;
fn main() {
    let run = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let m = ServingModel::load(&run).unwrap();
    let meta = recdiff_data::EncodedMeta::load(&run).unwrap();
    let rows = loadgen::sample_rows(&meta.schema, 5000).unwrap();
    let mut bodies = loadgen::score_bodies(&rows, 500, 1000, 1);
    if std::env::var("SAME").is_ok() {
        let b0 = bodies[0].clone();
        bodies.iter_mut().for_each(|b| *b = b0.clone());
    }
    let mut lat = vec![];
    for b in &bodies {
        let t = Instant::now();
        let r: ScoreRequest = serde_json::from_str(b).unwrap();
        m.score(&r).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    println!("p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}", lat[500], lat[900], lat[990], lat[999]);
}
