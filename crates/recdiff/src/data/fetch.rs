//! `recdiff data fetch <dataset> [--to DIR] [--mirror URL]`: downloads a public dataset whose
//! files are published for download, checks the archive against the checksum upstream publishes
//! beside it (GroupLens: `<archive>.md5`), and unpacks it to the layout its preset reads
//! (`<DIR>/ml-1m/ratings.dat`, …).
//!
//! - Over HTTPS (plain HTTP only from a loopback mirror, which is what the tests serve), with a
//!   progress bar.
//! - Resumable: the archive downloads to `<DIR>/.<archive>.part`; a later run asks for the rest
//!   (`Range`) and starts over where the server ignores it.
//! - Nothing half-written: a checksum mismatch deletes the part file; the archive unpacks into a
//!   temporary directory that is renamed into place, and the parent fsynced.
//! - Datasets whose licence needs a person to accept terms (Criteo, Avazu, Amazon, KuaiRand,
//!   KuaiRec) are refused with where and how to get them.

use anyhow::{Context, Result, bail};
use clap::Args;
use md5::{Digest, Md5};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct FetchArgs {
    /// movielens-100k | movielens-1m | movielens-10m | movielens-20m | movielens-25m | movielens-32m
    pub dataset: String,
    /// Directory the dataset's own directory is unpacked into (the presets read ../shared/data).
    #[arg(long, default_value = "../shared/data")]
    pub to: PathBuf,
    /// Base URL to download from instead of upstream's (HTTPS; plain HTTP only on loopback).
    #[arg(long)]
    pub mirror: Option<String>,
}

/// A dataset published as one zip archive with an MD5 beside it.
struct Source {
    name: &'static str,
    archive: &'static str,
    /// The directory the archive holds, which the preset reads.
    dir: &'static str,
    /// A file that must be there once unpacked.
    marker: &'static str,
}

const GROUPLENS: &str = "https://files.grouplens.org/datasets/movielens/";

const SOURCES: [Source; 6] = [
    Source { name: "movielens-100k", archive: "ml-100k.zip", dir: "ml-100k", marker: "u.data" },
    Source { name: "movielens-1m", archive: "ml-1m.zip", dir: "ml-1m", marker: "ratings.dat" },
    Source { name: "movielens-10m", archive: "ml-10m.zip", dir: "ml-10M100K", marker: "ratings.dat" },
    Source { name: "movielens-20m", archive: "ml-20m.zip", dir: "ml-20m", marker: "ratings.csv" },
    Source { name: "movielens-25m", archive: "ml-25m.zip", dir: "ml-25m", marker: "ratings.csv" },
    Source { name: "movielens-32m", archive: "ml-32m.zip", dir: "ml-32m", marker: "ratings.csv" },
];

/// Datasets that must be fetched by hand, and how.
const BY_HAND: [(&str, &str); 8] = [
    (
        "criteo",
        "Criteo's display-advertising data (dac.tar.gz) is released under Criteo's research licence and served \
         after accepting its terms: download it from ailab.criteo.com (Kaggle display advertising challenge), \
         unpack train.txt into <to>/criteo/",
    ),
    (
        "criteo-1tb",
        "the Criteo 1TB click logs are released under Criteo's licence and served after accepting its terms: \
         download day_0.gz … day_23.gz from ailab.criteo.com into <to>/criteo-1tb/",
    ),
    (
        "avazu",
        "Avazu's data is Kaggle competition data, downloadable once you accept the competition's rules: \
         kaggle.com/c/avazu-ctr-prediction (e.g. `kaggle competitions download -c avazu-ctr-prediction`), \
         then gunzip train.gz to <to>/avazu/train.csv",
    ),
    (
        "amazon-2014",
        "the Amazon review data (2014) is shared on request for research use: jmcauley.ucsd.edu/data/amazon",
    ),
    ("amazon-2018", "the Amazon review data (2018) is shared for research use: nijianmo.github.io/amazon"),
    ("amazon-2023", "the Amazon Reviews 2023 files are published at amazon-reviews-2023.github.io"),
    ("kuairand-pure", "KuaiRand is published at kuairand.com under its own terms (KuaiRand-Pure)"),
    ("kuairec", "KuaiRec is published at kuairec.com under its own terms (KuaiRec.zip)"),
];

pub fn fetch(a: FetchArgs) -> Result<()> {
    let Some(src) = SOURCES.iter().find(|s| s.name == a.dataset) else {
        if let Some((_, how)) = BY_HAND.iter().find(|(n, _)| *n == a.dataset) {
            bail!("{} must be fetched by hand: {how}", a.dataset);
        }
        let known: Vec<&str> = SOURCES.iter().map(|s| s.name).collect();
        bail!("unknown dataset {:?}; recdiff fetches {}", a.dataset, known.join(", "));
    };
    let target = a.to.join(src.dir);
    if target.join(src.marker).is_file() {
        println!("{} is already in {}", src.name, target.display());
        return Ok(());
    }
    let base = base_url(a.mirror.as_deref())?;
    std::fs::create_dir_all(&a.to).with_context(|| format!("creating {}", a.to.display()))?;
    let agent = agent();
    let url = format!("{base}{}", src.archive);
    let md5 = published_md5(&agent, &format!("{url}.md5"))?;
    let part = a.to.join(format!(".{}.part", src.archive));
    download(&agent, &url, &part)?;
    let got = file_md5(&part)?;
    if got != md5 {
        std::fs::remove_file(&part).with_context(|| format!("removing {}", part.display()))?;
        bail!(
            "{url}: checksum mismatch (MD5 {got}, published {md5}): the download was corrupted or the file \
             replaced; the partial download was deleted, run the command again"
        );
    }
    unpack(&part, &a.to, src)?;
    std::fs::remove_file(&part).with_context(|| format!("removing {}", part.display()))?;
    println!("{} (MD5 {md5} as published) unpacked into {}", src.name, target.display());
    Ok(())
}

/// Upstream's base URL, or the mirror's: HTTPS, or plain HTTP on a loopback address only.
fn base_url(mirror: Option<&str>) -> Result<String> {
    let Some(m) = mirror else { return Ok(GROUPLENS.into()) };
    let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]"]
        .iter()
        .any(|p| m.starts_with(p));
    if !m.starts_with("https://") && !loopback {
        bail!("--mirror {m}: only HTTPS URLs (or plain HTTP on a loopback address)");
    }
    Ok(if m.ends_with('/') { m.to_string() } else { format!("{m}/") })
}

fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build();
    ureq::Agent::new_with_config(config)
}

/// The MD5 published at `url` (the first 32 hex digits of the file).
fn published_md5(agent: &ureq::Agent, url: &str) -> Result<String> {
    let mut resp = agent.get(url).call().with_context(|| format!("{url}: fetching the published checksum"))?;
    let text = resp.body_mut().with_config().limit(4096).read_to_string().with_context(|| format!("reading {url}"))?;
    text.split_whitespace()
        .find(|t| t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
        .with_context(|| format!("{url}: no MD5 in the published checksum file"))
}

/// Downloads `url` into `part`, continuing a partial download where the server allows it.
fn download(agent: &ureq::Agent, url: &str, part: &Path) -> Result<()> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let resp = req.call().with_context(|| format!("{url}: downloading"))?;
    let resumed = have > 0 && resp.status().as_u16() == 206;
    let length: Option<u64> =
        resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let start = if resumed { have } else { 0 };
    let total = length.map(|n| n + start);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(part)
        .with_context(|| format!("opening {}", part.display()))?;
    let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bytes}/{total_bytes} {bar:30} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
    bar.set_position(start);
    let mut reader = resp.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut written = start;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                file.sync_all().ok();
                bail!(
                    "{url}: the download stopped after {written} bytes ({e}); run the command again to resume from {}",
                    part.display()
                );
            }
        };
        file.write_all(&buf[..n]).with_context(|| format!("writing {}", part.display()))?;
        written += n as u64;
        bar.set_position(written);
    }
    file.sync_all().with_context(|| format!("syncing {}", part.display()))?;
    bar.finish_and_clear();
    if let Some(total) = total.filter(|&t| t != written) {
        bail!(
            "{url}: truncated download: {written} of {total} bytes; run the command again to resume from {}",
            part.display()
        );
    }
    Ok(())
}

fn file_md5(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Md5::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("{:x}", h.finalize()))
}

/// Unpacks `archive` into `<to>/.<dir>.unpack`, then renames its `<dir>` into `<to>/<dir>`.
fn unpack(archive: &Path, to: &Path, src: &Source) -> Result<()> {
    let tmp = to.join(format!(".{}.unpack", src.dir));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    let file = std::fs::File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{}: not a zip archive", archive.display()))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).with_context(|| format!("{}: entry {i}", archive.display()))?;
        let Some(rel) = entry.enclosed_name().map(Path::to_path_buf) else {
            bail!("{}: entry {:?} points outside the archive", archive.display(), entry.name());
        };
        let out = tmp.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut f = std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?;
        std::io::copy(&mut entry, &mut f)
            .with_context(|| format!("{}: unpacking {}", archive.display(), rel.display()))?;
        f.sync_all().with_context(|| format!("syncing {}", out.display()))?;
    }
    let unpacked: PathBuf = tmp.join(src.dir);
    if !unpacked.join(src.marker).is_file() {
        std::fs::remove_dir_all(&tmp).ok();
        bail!("{}: the archive holds no {}/{}", archive.display(), src.dir, src.marker);
    }
    let target = to.join(src.dir);
    std::fs::rename(&unpacked, &target)
        .with_context(|| format!("moving the unpacked files to {}", target.display()))?;
    std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    std::fs::File::open(to).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", to.display()))?;
    Ok(())
}
