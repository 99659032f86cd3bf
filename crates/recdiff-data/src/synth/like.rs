//! Synthetic stand-ins in the upstream layouts (`recdiff data synth --like …`): the planted click
//! log of [`super::generate`], written as the files a public dataset ships, so the native readers,
//! the presets and the benches run on the real reader path at any size.
//!
//! * `criteo`: `train.txt`, TSV, no header: label, I1–I13 (the numeric fields as counts, then
//!   low-cardinality categorical fields), C1–C26 (the other categorical fields as 8-hex hashes).
//! * `avazu`: `train.csv` with Avazu's header; `hour` is YYMMDDHH from the row's time (from
//!   2014-10-21), `device_ip` carries the user, `app_id` the item.
//! * `movielens-1m`: `ratings.dat`, `movies.dat`, `users.dat` (`::`), rating 4–5 for a click, 1–3
//!   otherwise.
//! * `amazon`: the 2018 layout, `Books.json` (reviews) and `meta_Books.json`.
//!
//! Missing cells stay missing (empty); ids and labels are never missing.

use super::SynthConfig;
use super::click::{ClickModel, RowBuf};
use super::plan::{SynthField, SynthKind, SynthValue, field_plan};
use crate::error::{DataError, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The upstream layouts `synth --like` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Like {
    Criteo,
    Avazu,
    Movielens1m,
    Amazon,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct LikeSummary {
    /// The main file (what a preset's `path` points at) and side files.
    pub files: Vec<PathBuf>,
    pub rows: u64,
    pub positives: u64,
}

/// 2014-10-21 00:00 UTC minus the synthetic log's first timestamp (Avazu's first day).
const AVAZU_SHIFT: i64 = 1_413_849_600 - 1_700_000_000;

fn hex(name: &str, v: i64) -> String {
    format!(
        "{:08x}",
        xxhash_rust::xxh3::xxh3_64_with_seed(&v.to_le_bytes(), xxhash_rust::xxh3::xxh3_64(name.as_bytes())) as u32
    )
}

/// A numeric cell as an integer (Criteo's I columns are counts): large values rounded, small
/// ones scaled by 10 first so they keep some resolution.
fn count(v: f64) -> i64 {
    let v = v.clamp(-1e12, 1e12);
    if v.abs() >= 10.0 { v.round() as i64 } else { (v * 10.0).round() as i64 }
}

fn key(v: &SynthValue) -> Option<i64> {
    match v {
        SynthValue::Int(i) => Some(*i),
        SynthValue::Float(f) => Some(count(*f)),
        SynthValue::Tokens(t) => t.first().map(|&x| x as i64),
        SynthValue::Missing => None,
    }
}

/// `YYMMDDHH` of a Unix time.
fn yymmddhh(ts: i64) -> String {
    let (days, secs) = (ts.div_euclid(86_400), ts.rem_euclid(86_400));
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{:02}{:02}{:02}{:02}", y % 100, m, d, secs / 3600)
}

/// Column layout for Criteo: indices of the fields feeding I1–I13 and C1–C26.
fn criteo_columns(fields: &[SynthField]) -> (Vec<usize>, Vec<usize>) {
    let small =
        |f: &SynthField| matches!(f.kind, SynthKind::Categorical { cardinality } if cardinality <= 12) && !f.is_id;
    let mut ints: Vec<usize> = (0..fields.len()).filter(|&i| fields[i].kind == SynthKind::Numeric).collect();
    ints.extend((0..fields.len()).filter(|&i| small(&fields[i])));
    ints.truncate(13);
    let cats: Vec<usize> = (0..fields.len()).filter(|i| !ints.contains(i)).take(26).collect();
    (ints, cats)
}

struct Out {
    path: PathBuf,
    w: std::io::BufWriter<std::fs::File>,
}

impl Out {
    fn create(path: PathBuf) -> Result<Self> {
        let f = std::fs::File::create(&path).map_err(|e| DataError::io(&path, e))?;
        Ok(Self { w: std::io::BufWriter::with_capacity(1 << 20, f), path })
    }
    fn line(&mut self, s: &str) -> Result<()> {
        writeln!(self.w, "{s}").map_err(|e| DataError::io(&self.path, e))
    }
    fn finish(mut self) -> Result<PathBuf> {
        self.w.flush().map_err(|e| DataError::io(&self.path, e))?;
        self.w.get_ref().sync_all().map_err(|e| DataError::io(&self.path, e))?;
        Ok(self.path)
    }
}

const AVAZU_HEADER: &str = "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,\
app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21";

/// A layout with its column assignment, computed once.
struct Layout<'a> {
    like: Like,
    fields: &'a [SynthField],
    ints: Vec<usize>,
    cats: Vec<usize>,
}

impl<'a> Layout<'a> {
    fn new(like: Like, fields: &'a [SynthField]) -> Self {
        let (ints, cats) = criteo_columns(fields);
        Self { like, fields, ints, cats }
    }

    /// One row; `u`/`i` are the user and item ids (0-based).
    fn row(&self, row: &[SynthValue], label: u8, ts: i64, index: u64, rng: &mut ChaCha8Rng) -> String {
        let (like, fields) = (self.like, self.fields);
        let (u, i) = (key(&row[0]).unwrap_or(0), key(&row[11]).unwrap_or(0));
        match like {
            Like::Criteo => {
                let (ints, cats) = (&self.ints, &self.cats);
                let mut cells = vec![label.to_string()];
                cells.extend(ints.iter().map(|&f| key(&row[f]).map_or(String::new(), |v| v.to_string())));
                cells.extend(cats.iter().map(|&f| key(&row[f]).map_or(String::new(), |v| hex(&fields[f].name, v))));
                cells.join("\t")
            }
            Like::Avazu => {
                let mut cells = vec![
                    (10_000_000_000_000_000u64 + index).to_string(),
                    label.to_string(),
                    yymmddhh(ts + AVAZU_SHIFT),
                ];
                let mut others = (1..fields.len()).filter(|&f| f != 11).cycle();
                for col in 3..24 {
                    cells.push(match col {
                        8 => hex("app", i),
                        11 => "a99f214a".into(),
                        12 => hex("ip", u),
                        _ => others
                            .next()
                            .and_then(|f| key(&row[f]).map(|v| hex(&fields[f].name, v)))
                            .unwrap_or_default(),
                    });
                }
                cells.join(",")
            }
            Like::Movielens1m => {
                let rating = if label == 1 { rng.random_range(4..=5) } else { rng.random_range(1..=3) };
                format!("{}::{}::{rating}::{ts}", u + 1, i + 1)
            }
            Like::Amazon => {
                let rating = if label == 1 { rng.random_range(4..=5) } else { rng.random_range(1..=3) };
                format!(
                    "{{\"overall\": {rating}.0, \"verified\": true, \"reviewerID\": \"A{:013X}\", \"asin\": \"B{:09}\", \
                 \"reviewText\": \"Synthetic review {index}.\", \"summary\": \"Stars\", \"unixReviewTime\": {ts}}}",
                    u, i
                )
            }
        }
    }
}

/// Side files of a layout: MovieLens users and movies, Amazon metadata.
fn side_files(like: Like, config: &SynthConfig, dir: &Path) -> Result<Vec<PathBuf>> {
    // MovieLens' genres (the 100K list without its "unknown").
    let genres = &crate::source::movielens::GENRES[1..];
    let mut files = Vec::new();
    match like {
        Like::Movielens1m => {
            let mut users = Out::create(dir.join("users.dat"))?;
            for u in 1..=config.users as i64 {
                let h = xxhash_rust::xxh3::xxh3_64(&u.to_le_bytes());
                let gender = if h.is_multiple_of(2) { "F" } else { "M" };
                let age = [1, 18, 25, 35, 45, 50, 56][(h >> 8) as usize % 7];
                users.line(&format!("{u}::{gender}::{age}::{}::{:05}", (h >> 16) % 21, (h >> 24) % 100_000))?;
            }
            files.push(users.finish()?);
            let mut movies = Out::create(dir.join("movies.dat"))?;
            for i in 1..=config.items as i64 {
                let h = xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes());
                let picked: Vec<&str> = (0..1 + h % 3).map(|k| genres[((h >> (8 * k + 8)) % 18) as usize]).collect();
                movies.line(&format!("{i}::Synthetic Movie {i} ({})::{}", 1919 + h % 82, picked.join("|")))?;
            }
            files.push(movies.finish()?);
        }
        Like::Amazon => {
            let mut meta = Out::create(dir.join("meta_Books.json"))?;
            for i in 0..config.items as i64 {
                let h = xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes());
                meta.line(&format!(
                    "{{\"category\": [\"Books\", \"{}\"], \"title\": \"Book {i}\", \"brand\": \"Brand {}\", \"price\": \"${}.{:02}\", \"asin\": \"B{i:09}\"}}",
                    genres[(h % 18) as usize], (h >> 8) % 500, 3 + (h >> 16) % 60, (h >> 24) % 100
                ))?;
            }
            files.push(meta.finish()?);
        }
        Like::Criteo | Like::Avazu => {}
    }
    Ok(files)
}

/// Writes `config.rows` rows of the planted log into `dir` in the `like` layout.
pub fn generate_like(like: Like, config: &SynthConfig, dir: &Path) -> Result<LikeSummary> {
    config.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let fields = field_plan(config);
    let model = ClickModel::calibrated(config, &fields);
    let name = match like {
        Like::Criteo => "train.txt",
        Like::Avazu => "train.csv",
        Like::Movielens1m => "ratings.dat",
        Like::Amazon => "Books.json",
    };
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut out = Out::create(tmp.clone())?;
    if like == Like::Avazu {
        out.line(AVAZU_HEADER)?;
    }
    let (mut rng, mut side_rng) =
        (ChaCha8Rng::seed_from_u64(config.seed), ChaCha8Rng::seed_from_u64(config.seed ^ 0x11CE));
    let mut buf = RowBuf::new(fields.len());
    let mut positives = 0;
    let layout = Layout::new(like, &fields);
    for index in 0..config.rows {
        let (label, _, ts) = model.row(&mut rng, index, &mut buf);
        positives += label as u64;
        out.line(&layout.row(&buf.cells, label, ts, index, &mut side_rng))?;
    }
    out.finish()?;
    let main = dir.join(name);
    std::fs::rename(&tmp, &main).map_err(|e| DataError::io(&main, e))?;
    let mut files = vec![main];
    files.extend(side_files(like, config, dir)?);
    Ok(LikeSummary { files, rows: config.rows, positives })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avazu_hours_start_on_2014_10_21() {
        assert_eq!(yymmddhh(1_413_849_600), "14102100");
        assert_eq!(yymmddhh(1_413_849_600 + 86_400 * 11 + 3600 * 13), "14110113");
    }
}
