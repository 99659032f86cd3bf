//! `recdiff data fetch` against a local HTTP server on 127.0.0.1 serving a small fixture archive
//! in GroupLens' layout (`ml-100k.zip` and `ml-100k.zip.md5`): a good archive unpacks where the
//! preset reads it; a corrupt one (its MD5 not the published one) and a missing one fail naming
//! why and leave nothing behind; a truncated download fails, and the next run resumes it with a
//! `Range` request. Datasets that need a person to accept a licence are refused with where to go.
//! Nothing here reaches beyond the loopback address.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const U_DATA: &[u8] = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n";

/// `ml-100k.zip` holding `ml-100k/u.data` and `ml-100k/README`.
fn fixture_zip() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        z.add_directory("ml-100k/", opts).unwrap();
        z.start_file("ml-100k/u.data", opts).unwrap();
        z.write_all(U_DATA).unwrap();
        z.start_file("ml-100k/README", opts).unwrap();
        z.write_all(&b"MovieLens 100K fixture\n".repeat(400)).unwrap();
        z.finish().unwrap();
    }
    out.into_inner()
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    format!("{:x}", Md5::digest(bytes))
}

/// Serves `/<mode>/ml-100k.zip` and `.md5` for the modes `good`, `corrupt` (the published MD5 is
/// another file's), `truncated` (a request without `Range` gets half the body it announced) and
/// `missing` (404). Handles at most 40 connections, each with a 5 s read timeout.
fn server(archive: Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(40).flatten() {
            answer(stream, &archive, &seen);
        }
    });
    (base, log)
}

fn answer(mut stream: TcpStream, archive: &[u8], log: &Mutex<Vec<String>>) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let (mut head, mut range) = (String::new(), None::<usize>);
    reader.read_line(&mut head).ok();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            range = v.trim().trim_end_matches('-').parse().ok();
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    log.lock().unwrap().push(format!("{path} range={range:?}"));
    let mode = path.split('/').nth(1).unwrap_or("");
    let reply = |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let _ = write!(stream, "HTTP/1.1 {status}\r\nConnection: close\r\n{headers}\r\n");
        let _ = stream.write_all(body);
    };
    if mode == "missing" || !path.ends_with(".zip") && !path.ends_with(".zip.md5") {
        return reply(&mut stream, "404 Not Found", "Content-Length: 9\r\n", b"not found");
    }
    if path.ends_with(".md5") {
        let sum = if mode == "corrupt" { md5_hex(b"another file") } else { md5_hex(archive) };
        let body = format!("{sum}  ml-100k.zip\n");
        return reply(&mut stream, "200 OK", &format!("Content-Length: {}\r\n", body.len()), body.as_bytes());
    }
    match (mode, range) {
        ("truncated", None) => {
            // Announces the whole archive, sends half, and closes.
            let half = &archive[..archive.len() / 2];
            reply(&mut stream, "200 OK", &format!("Content-Length: {}\r\n", archive.len()), half);
        }
        (_, Some(from)) if from < archive.len() => {
            let rest = &archive[from..];
            let headers = format!(
                "Content-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\n",
                rest.len(),
                archive.len() - 1,
                archive.len()
            );
            reply(&mut stream, "206 Partial Content", &headers, rest);
        }
        _ => reply(&mut stream, "200 OK", &format!("Content-Length: {}\r\n", archive.len()), archive),
    }
}

fn fetch(dataset: &str, to: &Path, mirror: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recdiff"))
        .args(["data", "fetch", dataset, "--to", to.to_str().unwrap(), "--mirror", mirror])
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What `dir` holds besides the dataset's own directory (leftovers of a failed fetch).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn a_good_archive_is_checked_and_unpacked_where_the_preset_reads_it() {
    let archive = fixture_zip();
    let (base, _) = server(archive);
    let to = tempfile::tempdir().unwrap();
    let out = fetch("movielens-100k", to.path(), &format!("{base}/good/"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(to.path().join("ml-100k/u.data")).unwrap(), U_DATA);
    assert_eq!(leftovers(to.path()), ["ml-100k"], "no part file or unpack directory left");
    let again = fetch("movielens-100k", to.path(), &format!("{base}/good/"));
    assert!(again.status.success() && String::from_utf8_lossy(&again.stdout).contains("already"), "{}", stderr(&again));
}

#[test]
fn a_corrupt_or_missing_archive_fails_naming_why_and_leaves_nothing() {
    let (base, _) = server(fixture_zip());
    let to = tempfile::tempdir().unwrap();
    let out = fetch("movielens-100k", to.path(), &format!("{base}/corrupt/"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("checksum mismatch") && stderr(&out).contains("ml-100k.zip"), "{}", stderr(&out));
    assert!(leftovers(to.path()).is_empty(), "{:?}", leftovers(to.path()));
    let out = fetch("movielens-100k", to.path(), &format!("{base}/missing/"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("404") && stderr(&out).contains("/missing/ml-100k.zip"), "{}", stderr(&out));
    assert!(leftovers(to.path()).is_empty(), "{:?}", leftovers(to.path()));
}

#[test]
fn a_truncated_download_fails_and_the_next_run_resumes_it_with_a_range_request() {
    let archive = fixture_zip();
    let half = archive.len() / 2;
    let (base, log) = server(archive);
    let to = tempfile::tempdir().unwrap();
    let mirror = format!("{base}/truncated/");
    let out = fetch("movielens-100k", to.path(), &mirror);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("run the command again to resume"), "{}", stderr(&out));
    let part = to.path().join(".ml-100k.zip.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), half as u64, "the received half is kept");
    assert!(!to.path().join("ml-100k").exists());
    let out = fetch("movielens-100k", to.path(), &mirror);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(to.path().join("ml-100k/u.data")).unwrap(), U_DATA);
    let requests = log.lock().unwrap().clone();
    assert!(requests.contains(&format!("/truncated/ml-100k.zip range=Some({half})")), "{requests:?}");
    assert_eq!(leftovers(to.path()), ["ml-100k"]);
}

#[test]
fn datasets_behind_a_licence_and_plain_http_mirrors_are_refused_before_any_request() {
    let to = tempfile::tempdir().unwrap();
    for (dataset, says) in [("criteo", "ailab.criteo.com"), ("avazu", "kaggle.com/c/avazu-ctr-prediction")] {
        let out = fetch(dataset, to.path(), "https://unused.invalid/");
        assert!(!out.status.success());
        assert!(stderr(&out).contains("must be fetched by hand") && stderr(&out).contains(says), "{}", stderr(&out));
    }
    let out = fetch("movielens-100k", to.path(), "http://example.invalid/");
    assert!(!out.status.success() && stderr(&out).contains("only HTTPS"), "{}", stderr(&out));
    let out = fetch("movielens-7m", to.path(), "https://unused.invalid/");
    assert!(!out.status.success() && stderr(&out).contains("movielens-100k"), "{}", stderr(&out));
}
