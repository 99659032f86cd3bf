//! The checkpoint loader: a sequential run whose weights file holds arbitrary bytes, sealed in its
//! manifest so the checksum lets them through to the safetensors parser, the finiteness check and
//! the module loader. It opens or fails; it never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use recdiff_run::manifest::Manifest;
use std::sync::OnceLock;

const CONFIG: &str = "name = \"f\"\nseed = 1\n[data]\nschema = \"unused.toml\"\nmax_len = 5\n\
[model]\nkind = \"sasrec\"\ndim = 8\nheads = 2\nlayers = 1\n[train]\nprogress = false\n";
const ITEMS: &str = r#"["", "a", "b", "c", "d"]"#;

fn dir() -> &'static (tempfile::TempDir, String) {
    static D: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    D.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("config.resolved.toml"), CONFIG).unwrap();
        std::fs::write(d.path().join("items.json"), ITEMS).unwrap();
        let cfg: recdiff_run::SeqExperimentConfig = toml::from_str(CONFIG).unwrap();
        let fingerprint = recdiff_run::seq::fingerprint(&cfg, 5);
        (d, fingerprint)
    })
}

fuzz_target!(|data: &[u8]| {
    let (d, fingerprint) = dir();
    std::fs::write(d.path().join("best.safetensors"), data).unwrap();
    let files: [(&str, &[u8]); 2] = [("best.safetensors", data), ("items.json", ITEMS.as_bytes())];
    Manifest::new(fingerprint.clone(), &files).save(d.path()).unwrap();
    let _ = recdiff_run::SeqRun::open(d.path(), &burn::tensor::Device::flex());
});
