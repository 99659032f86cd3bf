//! MovieLens-100K adapter: reads the upstream `u.data`, `u.user` and `u.item` files from a directory
//! and joins user and item features onto each rating.
//!
//! Columns produced: `user_id`, `item_id`, `rating`, `timestamp`, `age`, `gender`, `occupation`,
//! `zip_prefix` (first three characters of the zip code), `release_year` (from `release_date`, empty
//! when the date is), `genres` (the set flags' names joined by `|`) and `title`. `u.item` is
//! Latin-1, as upstream ships it. `u.data` is streamed like the other native readers, the user and
//! item columns borrowed from the side tables; a rating whose user or item is absent from them is a
//! bad row naming the line.

use super::text_rows::{RowCells, bad_line as bad, stream_rows};
use super::{RowBatch, RowSource, project};
use crate::error::{DataError, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const COLUMNS: [&str; 11] = [
    "user_id",
    "item_id",
    "rating",
    "timestamp",
    "age",
    "gender",
    "occupation",
    "zip_prefix",
    "release_year",
    "genres",
    "title",
];

pub const GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// `u.data` streamed, joined with `u.user` and `u.item` (held in memory).
pub struct MovielensSource {
    file: PathBuf,
    proj: Vec<usize>,
    users: HashMap<u32, [String; 4]>,
    items: HashMap<u32, [String; 3]>,
}

/// Splits each non-empty line of `text` on `sep`, checking the column count.
fn split_lines<'a>(
    file: &'a Path,
    text: &'a str,
    sep: char,
    min_cols: usize,
) -> impl Iterator<Item = Result<(u64, Vec<&'a str>)>> + 'a {
    text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(move |(i, l)| {
        let cols: Vec<&str> = l.split(sep).collect();
        if cols.len() < min_cols {
            return Err(bad(file, i as u64 + 1, None, format!("expected {min_cols} fields, found {}", cols.len())));
        }
        Ok((i as u64 + 1, cols))
    })
}

fn read_text(path: &Path, latin1: bool) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.into() });
    }
    if latin1 {
        return Ok(bytes.iter().map(|&b| b as char).collect());
    }
    String::from_utf8(bytes).map_err(|e| DataError::BadFile {
        path: path.into(),
        message: format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })
}

fn parse_id(file: &Path, line: u64, column: &str, v: &str) -> Result<u32> {
    v.trim().parse().map_err(|_| bad(file, line, Some(column), format!("expected an integer id, found {v:?}")))
}

/// user id -> [age, gender, occupation, zip_prefix]
fn read_users(dir: &Path) -> Result<HashMap<u32, [String; 4]>> {
    let file = dir.join("u.user");
    let text = read_text(&file, false)?;
    let mut users = HashMap::new();
    for row in split_lines(&file, &text, '|', 5) {
        let (line, c) = row?;
        let id = parse_id(&file, line, "user_id", c[0])?;
        let zip: String = c[4].trim().chars().take(3).collect();
        users.insert(id, [c[1].trim().into(), c[2].trim().into(), c[3].trim().into(), zip]);
    }
    Ok(users)
}

/// item id -> [release_year, genres, title]
fn read_items(dir: &Path) -> Result<HashMap<u32, [String; 3]>> {
    let file = dir.join("u.item");
    let text = read_text(&file, true)?;
    let mut items = HashMap::new();
    for row in split_lines(&file, &text, '|', 5 + GENRES.len()) {
        let (line, c) = row?;
        let id = parse_id(&file, line, "item_id", c[0])?;
        let year = c[2].trim().rsplit('-').next().unwrap_or("").to_string();
        if !year.is_empty() && year.parse::<u16>().is_err() {
            return Err(bad(&file, line, Some("release_date"), format!("cannot read a year from {:?}", c[2])));
        }
        let mut genres = Vec::new();
        for (g, flag) in GENRES.iter().zip(&c[5..5 + GENRES.len()]) {
            match flag.trim() {
                "1" => genres.push(*g),
                "0" => {}
                other => {
                    return Err(bad(&file, line, Some(g), format!("genre flag must be 0 or 1, found {other:?}")));
                }
            }
        }
        items.insert(id, [year, genres.join("|"), c[1].to_string()]);
    }
    Ok(items)
}

impl MovielensSource {
    pub fn new(dir: &Path, wanted: &[String]) -> Result<Self> {
        let names: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
        let file = dir.join("u.data");
        let proj = project(&file, &names, wanted)?;
        Ok(Self { proj, users: read_users(dir)?, items: read_items(dir)?, file })
    }

    /// One `u.data` line (`user item rating timestamp`, tab-separated) as the joined row.
    fn row<'s>(&'s self, line: u64, text: &str, cells: &mut RowCells<'_, 's>) -> Result<()> {
        let file = &self.file;
        let c: Vec<&str> = text.split('\t').collect();
        if c.len() < 4 {
            return Err(bad(file, line, None, format!("expected 4 fields, found {}", c.len())));
        }
        let uid = parse_id(file, line, "user_id", c[0])?;
        let iid = parse_id(file, line, "item_id", c[1])?;
        let user = self
            .users
            .get(&uid)
            .ok_or_else(|| bad(file, line, Some("user_id"), format!("user {uid} is not in u.user")))?;
        let item = self
            .items
            .get(&iid)
            .ok_or_else(|| bad(file, line, Some("item_id"), format!("item {iid} is not in u.item")))?;
        cells.display(uid);
        cells.display(iid);
        cells.copy(c[2].trim());
        cells.copy(c[3].trim());
        user.iter().chain(item).for_each(|v| cells.side(v));
        Ok(())
    }
}

impl RowSource for MovielensSource {
    fn for_each_batch(
        &mut self,
        visit: &mut dyn FnMut(&dyn RowBatch) -> Result<()>,
        on_bad_row: &mut dyn FnMut(DataError) -> Result<()>,
    ) -> Result<()> {
        let this = &*self;
        stream_rows(&this.file, COLUMNS.len(), &this.proj, visit, on_bad_row, |line, text, cells| {
            this.row(line, text, cells)
        })
    }
}
