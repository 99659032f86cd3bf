//! `recdiff serve` as a process: it answers /healthz at once and /readyz once the run is loaded,
//! reloads on SIGHUP, and exits cleanly on SIGTERM within its deadline even with an idle
//! connection open; a missing run, a taken port and limits of zero or past what their consumer
//! takes are errors at start-up.

use recdiff_bench::loadgen::{agent, get};
use recdiff_data::synth::{self, OutputFormat, SynthConfig};
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
    let mut child = Command::new(bin)
        .current_dir(dir.path())
        .args(["serve", "run", "--addr", &addr, "--shutdown-timeout-ms", "2000", "--header-timeout-ms", "60000"])
        .spawn()
        .unwrap();
    let a = agent();
    let url = |p: &str| format!("http://{addr}{p}");
    wait_for("/readyz", || get(&a, &url("/readyz")).is_ok_and(|(s, _)| s == 200));
    assert_eq!(get(&a, &url("/healthz")).unwrap().0, 200);
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    wait_for("the SIGHUP reload", || {
        get(&a, &url("/metrics")).is_ok_and(|(_, m)| m.contains(r#"recdiff_model_reloads_total{result="ok"} 2"#))
    });
    // An idle keep-alive connection must not hold shutdown past its deadline.
    let _idle = std::net::TcpStream::connect(&addr).unwrap();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still running 5 s after SIGTERM (deadline 2 s)");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `recdiff serve ARGS` expecting it to exit with an error within 30 s; returns stderr.
fn serve_fails(dir: &std::path::Path, args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recdiff"))
        .current_dir(dir)
        .arg("serve")
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("serve {args:?} still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "serve {args:?} succeeded: {err}");
    err
}

#[test]
fn a_missing_run_a_taken_port_and_limits_out_of_range_fail_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let err = serve_fails(dir.path(), &["/nonexistent", "--addr", "127.0.0.1:0"]);
    assert!(err.contains("/nonexistent") && err.contains("no such run"), "{err}");
    // A directory that is not a run: the first load fails and the process exits with it.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let err = serve_fails(dir.path(), &["empty", "--addr", "127.0.0.1:0"]);
    assert!(err.contains("config.resolved.toml"), "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = serve_fails(dir.path(), &["empty", "--addr", &addr]);
    assert!(err.contains("binding") && !err.contains("listening on"), "{err}");
    let flags = [
        "--timeout-ms",
        "--max-candidates",
        "--max-batch-rows",
        "--max-body-bytes",
        "--max-in-flight",
        "--max-connections",
        "--header-timeout-ms",
        "--shutdown-timeout-ms",
        "--backlog",
    ];
    for flag in flags {
        let err = serve_fails(dir.path(), &["empty", flag, "0"]);
        assert!(err.contains(flag) && err.contains("not in 1..="), "{flag}: {err}");
        // Past what the flag's consumer takes (tokio's semaphore panicked above 2^61 - 1
        // permits): refused by name, never a panic.
        for huge in ["2305843009213693952", "18446744073709551615"] {
            let err = serve_fails(dir.path(), &["empty", flag, huge]);
            assert!(err.contains(flag) && err.contains("not in 1..=") && !err.contains("panicked"), "{flag}: {err}");
        }
    }
}
