//! Every experiment, comparison and schema config shipped in `configs/` loads under the current code: a
//! renamed or retired key (DimeRec's `spread`, say) fails here, not in a user's first run.

use recdiff_experiment::Family;
use recdiff_experiment::compare::Plan;
use std::path::Path;

fn families() -> [&'static dyn Family; 3] {
    [&recdiff_train::family::Ctr, &recdiff_seq::family::Seq, &recdiff_topk::family::TopK]
}

#[test]
fn every_shipped_experiment_and_comparison_config_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut checked = Vec::new();
    let files = |d: &Path| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>();
    for path in files(&root).into_iter().chain(files(&root.join("large-synth"))) {
        let dir = path.parent().unwrap().to_path_buf();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "synth.toml" {
            recdiff_data::synth::SynthConfig::parse(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.ends_with(".schema.toml") {
            recdiff_data::Schema::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if table.contains_key("variants") || table.contains_key("experiments") {
            Plan::load(&path, &families()).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            let family =
                recdiff_experiment::family::family_of(&families(), &table).unwrap_or_else(|e| panic!("{name}: {e}"));
            family.load(table, &dir, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        checked.push(name);
    }
    assert!(checked.len() >= 10, "configs found: {checked:?}");
}
