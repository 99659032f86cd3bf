//! `recdiff serve` as a process: it answers /healthz at once and /readyz once the run is loaded,
//! reloads on SIGHUP, and exits cleanly on SIGTERM.

use recdiff_data::synth::{self, OutputFormat, SynthConfig};
use recdiff_serve::loadgen::{agent, get};
use std::process::Command;
use std::time::{Duration, Instant};

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_process_gets_ready_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        rows: 4_000,
        users: 300,
        items: 200,
        fields: 24,
        format: OutputFormat::Csv,
        ..Default::default()
    };
    synth::generate(&cfg, &dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("exp.toml"),
        "name = \"s\"\noutput = \"run\"\n[data]\nschema = \"data/schema.toml\"\n[model]\nkind = \"ctr\"\nembedding_dim = 8\n\
         [model.base]\nkind = \"dcnv2\"\ncross_layers = 1\ndeep = [16]\nlatent_dim = 8\n\
         [train]\nepochs = 1\nbatch_size = 512\nprogress = false\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_recdiff");
    let out = Command::new(bin).current_dir(dir.path()).args(["train", "exp.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(bin).current_dir(dir.path()).args(["serve", "run", "--addr", &addr]).spawn().unwrap();
    let a = agent();
    let url = |p: &str| format!("http://{addr}{p}");
    wait_for("/readyz", || get(&a, &url("/readyz")).is_ok_and(|(s, _)| s == 200));
    assert_eq!(get(&a, &url("/healthz")).unwrap().0, 200);
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    wait_for("the SIGHUP reload", || {
        get(&a, &url("/metrics")).is_ok_and(|(_, m)| m.contains(r#"recdiff_model_reloads_total{result="ok"} 2"#))
    });
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still running 20 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
