//! Opening sequential runs: checkpoints written before `SeqModel` became an enum module (tensors
//! named `sasrec.items.weight`) load to the same weights as current ones, opening writes nothing,
//! a checkpoint with a tensor missing is an error naming the file, and corrupted, non-finite or
//! foreign weights are refused by the manifest's checksums and architecture fingerprint.

use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Tensor};
use recdiff_run::SeqRun;
use recdiff_run::manifest::Manifest;
use safetensors::SafeTensors;
use std::path::Path;

const N_ITEMS: usize = 12;

/// A checkpoint tensor name as written, or `None` to leave the tensor out.
type Rename = fn(&str) -> Option<String>;

fn config(model: &str) -> String {
    format!(
        "name = \"t\"\nseed = 3\n[data]\nschema = \"unused.toml\"\nmax_len = 5\n[model]\n{model}\n[train]\nprogress = false\n"
    )
}

/// Writes a run for `model` (a `[model]` body) whose checkpoint keys pass through `rename`;
/// returns the model's item vectors.
fn write_run(dir: &Path, model: &str, rename: impl Fn(&str) -> Option<String>) -> Vec<f32> {
    let text = config(model);
    let cfg: recdiff_run::SeqExperimentConfig = toml::from_str(&text).unwrap();
    let device = Device::flex();
    let m = cfg.model.init(N_ITEMS, 5, 99, &device);
    let mut store = SafetensorsStore::from_bytes(None);
    m.save_into(&mut store).unwrap();
    let bytes = store.get_bytes().unwrap();
    let parsed = SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> =
        parsed.tensors().into_iter().filter_map(|(name, view)| rename(&name).map(|n| (n, view))).collect();
    let weights = safetensors::serialize(views, None).unwrap();
    std::fs::write(dir.join("best.safetensors"), &weights).unwrap();
    std::fs::write(dir.join("config.resolved.toml"), text).unwrap();
    let items: Vec<String> = (0..=N_ITEMS).map(|i| if i == 0 { String::new() } else { format!("i{i}") }).collect();
    let items = serde_json::to_vec(&items).unwrap();
    std::fs::write(dir.join("items.json"), &items).unwrap();
    seal(dir, &cfg, &weights, &items);
    vectors(m.item_vectors())
}

/// Writes the manifest `recdiff train` would write for these files.
fn seal(dir: &Path, cfg: &recdiff_run::SeqExperimentConfig, weights: &[u8], items: &[u8]) {
    let fingerprint = recdiff_run::seq::fingerprint(cfg, N_ITEMS + 1);
    Manifest::new(fingerprint, &[("best.safetensors", weights), ("items.json", items)]).save(dir).unwrap();
}

fn vectors(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

fn current(name: &str) -> Option<String> {
    Some(name.to_string())
}

/// The names the struct-of-`Option`s model gave its tensors.
fn legacy(name: &str) -> Option<String> {
    Some(
        name.replacen("Sasrec.encoder.", "sasrec.", 1)
            .replacen("Dreamrec.", "dreamrec.", 1)
            .replacen("Dimerec.", "dimerec.", 1),
    )
}

const MODELS: [&str; 3] = [
    "kind = \"sasrec\"\ndim = 8\nheads = 2\nlayers = 1",
    "kind = \"dreamrec\"\nsteps = 10\nsample_steps = 2\n[model.encoder]\ndim = 8\nheads = 2\nlayers = 1",
    "kind = \"dimerec\"\ndim = 8\ninterests = 2\ngem_hidden = 4\nsteps = 3",
];

#[test]
fn checkpoints_named_before_the_enum_load_to_the_same_weights_as_current_ones() {
    for model in MODELS {
        let renames: [(&str, Rename); 2] = [("current", current), ("legacy", legacy)];
        for (label, rename) in renames {
            let dir = tempfile::tempdir().unwrap();
            let expected = write_run(dir.path(), model, rename);
            let run = SeqRun::open(dir.path(), &Device::flex()).unwrap_or_else(|e| panic!("{label} {model}: {e}"));
            // The saved weights (seed 99), not the config's seed-3 initialisation.
            assert_eq!(vectors(run.model.item_vectors()), expected, "{label} {model}");
            assert_eq!(run.items[3], "i3");
        }
    }
}

#[test]
fn opening_a_run_writes_nothing_into_it() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), MODELS[1], legacy);
    let snapshot = || {
        let mut v: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                (e.file_name(), m.len(), m.modified().unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot();
    SeqRun::open(dir.path(), &Device::flex()).unwrap();
    assert_eq!(snapshot(), before);
}

#[test]
fn a_checkpoint_missing_a_tensor_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), MODELS[2], |n| (!n.contains("den_out")).then(|| n.to_string()));
    let e = SeqRun::open(dir.path(), &Device::flex()).err().expect("a missing tensor must fail").to_string();
    assert!(e.contains("best.safetensors") && e.contains("missing tensors") && e.contains("den_out"), "{e}");
    std::fs::write(dir.path().join("best.safetensors"), b"not a checkpoint").unwrap();
    let e = SeqRun::open(dir.path(), &Device::flex()).err().expect("garbage must fail").to_string();
    assert!(e.contains("best.safetensors"), "{e}");
}

#[test]
fn flipped_bits_non_finite_weights_and_another_runs_weights_are_refused() {
    let open = |dir: &Path| SeqRun::open(dir, &Device::flex()).err().map(|e| e.to_string());
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), MODELS[0], current);
    assert_eq!(open(dir.path()), None, "an intact run opens");
    let path = dir.path().join("best.safetensors");
    let pristine = std::fs::read(&path).unwrap();
    // One flipped bit in the last weight.
    let mut flipped = pristine.clone();
    *flipped.last_mut().unwrap() ^= 0x01;
    std::fs::write(&path, &flipped).unwrap();
    let e = open(dir.path()).expect("a flipped bit must fail");
    assert!(e.contains("best.safetensors") && e.contains("checksum mismatch"), "{e}");
    // A NaN weight, re-sealed so only the finiteness check can catch it.
    let mut nan = pristine.clone();
    let n = nan.len();
    nan[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, &nan).unwrap();
    let text = std::fs::read_to_string(dir.path().join("config.resolved.toml")).unwrap();
    let cfg: recdiff_run::SeqExperimentConfig = toml::from_str(&text).unwrap();
    let items = std::fs::read(dir.path().join("items.json")).unwrap();
    seal(dir.path(), &cfg, &nan, &items);
    let e = open(dir.path()).expect("a NaN weight must fail");
    assert!(e.contains("non-finite"), "{e}");
    // Another architecture's weights with their own intact manifest.
    let other = tempfile::tempdir().unwrap();
    write_run(other.path(), "kind = \"sasrec\"\ndim = 16\nheads = 2\nlayers = 1", current);
    for f in ["best.safetensors", "manifest.json"] {
        std::fs::copy(other.path().join(f), dir.path().join(f)).unwrap();
    }
    let e = open(dir.path()).expect("another run's weights must fail");
    assert!(e.contains("another architecture"), "{e}");
    // No manifest at all.
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let e = open(dir.path()).expect("a run without a manifest must fail");
    assert!(e.contains("manifest.json") && e.contains("absent"), "{e}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Smoke version of the checkpoint-loader fuzz target: weights mutated at random and re-sealed
    /// (so the checksum lets them through to the parser) open or fail, never panic.
    #[test]
    fn the_checkpoint_loader_never_panics_on_mutated_weights(
        edits in proptest::collection::vec((0usize..1 << 20, proptest::prelude::any::<u8>()), 1..16),
        truncate in proptest::option::of(0usize..1 << 20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        write_run(dir.path(), MODELS[0], current);
        let path = dir.path().join("best.safetensors");
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, b) in edits {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        if let Some(t) = truncate {
            let n = bytes.len();
            bytes.truncate(t % n);
        }
        std::fs::write(&path, &bytes).unwrap();
        let text = std::fs::read_to_string(dir.path().join("config.resolved.toml")).unwrap();
        let cfg: recdiff_run::SeqExperimentConfig = toml::from_str(&text).unwrap();
        let items = std::fs::read(dir.path().join("items.json")).unwrap();
        seal(dir.path(), &cfg, &bytes, &items);
        let _ = SeqRun::open(dir.path(), &Device::flex());
    }
}
