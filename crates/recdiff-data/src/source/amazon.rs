//! Amazon reviews as JSON lines (McAuley et al.), streamed, in all three published layouts:
//!
//! * 2014 and 2018: `{"reviewerID", "asin", "overall", "unixReviewTime", …}`;
//! * 2023: `{"user_id", "asin", "parent_asin", "rating", "timestamp" (milliseconds), …}`, items
//!   identified by `parent_asin` (what the 2023 metadata is keyed by).
//!
//! An optional metadata file (`[source] metadata = "meta_Books.json"`) is joined on the item:
//! `category` (2014 `categories`, a list of category paths, flattened; 2018 `category`; 2023
//! `categories`; `|`-joined), `brand` (2014/2018 `brand`, 2023 `store`) and `price` (`"$12.99"` or
//! a number; a range or text is missing). 2018/2023 metadata is JSON lines, 2014's is one Python
//! literal per line (parsed by `py_literal`). Files may be gzipped (`.gz`). Columns produced:
//! [`COLUMNS`]; `timestamp` in seconds.

use super::text_rows::{RowCells, bad_line, for_each_line, stream_rows};
use super::{RowBatch, RowSource, project};
use crate::KeyMap;
use crate::error::{DataError, Result};
use serde::Deserialize;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

pub const COLUMNS: [&str; 7] = ["user_id", "item_id", "rating", "timestamp", "category", "brand", "price"];

/// The fields of a review line recdiff reads, in any layout; the rest is skipped unparsed.
/// Text borrows from the line unless it holds escapes.
#[derive(Deserialize)]
struct Review<'a> {
    #[serde(rename = "reviewerID", borrow)]
    reviewer_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    asin: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_asin: Option<Cow<'a, str>>,
    overall: Option<f64>,
    rating: Option<f64>,
    #[serde(rename = "unixReviewTime")]
    unix_review_time: Option<i64>,
    /// 2023: milliseconds.
    timestamp: Option<i64>,
}

#[derive(Deserialize)]
struct Meta {
    asin: Option<String>,
    parent_asin: Option<String>,
    category: Option<Vec<String>>,
    /// 2023: a list of names; 2014: a list of category paths (lists of names).
    categories: Option<serde_json::Value>,
    brand: Option<String>,
    store: Option<String>,
    price: Option<serde_json::Value>,
}

fn price(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => {
            let t = s.trim().trim_start_matches('$').replace(',', "");
            if t.parse::<f64>().is_ok() { t } else { String::new() }
        }
        _ => String::new(),
    }
}

/// Every string inside `v` (nested lists flattened), in order, without repeats.
fn flatten_strings(v: Option<&serde_json::Value>, out: &mut Vec<String>) {
    match v {
        Some(serde_json::Value::String(s)) if !out.contains(s) => out.push(s.clone()),
        Some(serde_json::Value::Array(items)) => items.iter().for_each(|x| flatten_strings(Some(x), out)),
        _ => {}
    }
}

/// item -> [category, brand, price]
fn read_meta(file: &Path) -> Result<KeyMap<[String; 3]>> {
    let mut meta = KeyMap::default();
    for_each_line(file, |line, text| {
        let m: Meta = if text.trim_start().starts_with("{'") {
            let v =
                super::py_literal::parse(text).map_err(|e| bad_line(file, line, None, format!("bad literal: {e}")))?;
            serde_json::from_value(v).map_err(|e| bad_line(file, line, None, e.to_string()))?
        } else {
            serde_json::from_str(text).map_err(|e| bad_line(file, line, None, format!("bad JSON: {e}")))?
        };
        let Some(item) = m.parent_asin.or(m.asin) else {
            return Err(bad_line(file, line, Some("asin"), "no asin or parent_asin".into()));
        };
        let mut categories = m.category.unwrap_or_default();
        flatten_strings(m.categories.as_ref(), &mut categories);
        let category = categories.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect::<Vec<_>>().join("|");
        let brand = m.brand.or(m.store).unwrap_or_default();
        meta.insert(item, [category, brand.trim().to_string(), m.price.as_ref().map(price).unwrap_or_default()]);
        Ok(())
    })?;
    Ok(meta)
}

pub struct AmazonSource {
    file: PathBuf,
    proj: Vec<usize>,
    meta: Option<KeyMap<[String; 3]>>,
}

impl AmazonSource {
    pub fn new(file: &Path, metadata: Option<&Path>, wanted: &[String]) -> Result<Self> {
        let names: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
        let proj = project(file, &names, wanted)?;
        let meta = match metadata {
            Some(m) => Some(read_meta(m)?),
            None if proj.iter().any(|&p| p >= 4) => {
                return Err(DataError::BadFile {
                    path: file.into(),
                    message: "the schema reads category/brand/price: set [source] metadata to the item metadata file"
                        .into(),
                });
            }
            None => None,
        };
        Ok(Self { file: file.to_path_buf(), proj, meta })
    }

    /// One review line as a row; the item's metadata columns are borrowed from the side table.
    fn row<'s>(&'s self, line: u64, text: &str, cells: &mut RowCells<'_, 's>) -> Result<()> {
        let bad = |column: Option<&str>, m: String| bad_line(&self.file, line, column, m);
        let r: Review = serde_json::from_str(text).map_err(|e| bad(None, format!("bad JSON: {e}")))?;
        let user =
            r.user_id.or(r.reviewer_id).ok_or_else(|| bad(Some("user_id"), "no reviewerID or user_id".into()))?;
        let item = r.parent_asin.or(r.asin).ok_or_else(|| bad(Some("item_id"), "no asin or parent_asin".into()))?;
        let rating = r.rating.or(r.overall).ok_or_else(|| bad(Some("rating"), "no overall or rating".into()))?;
        let seconds = match (r.unix_review_time, r.timestamp) {
            (Some(s), _) => s,
            (None, Some(ms)) => ms / 1000,
            (None, None) => return Err(bad(Some("timestamp"), "no unixReviewTime or timestamp".into())),
        };
        cells.copy(&user);
        cells.copy(&item);
        cells.display(rating);
        cells.display(seconds);
        match self.meta.as_ref().and_then(|meta| meta.get(item.as_ref())) {
            Some(columns) => columns.iter().for_each(|c| cells.side(c)),
            None => (0..3).for_each(|_| cells.side("")),
        }
        Ok(())
    }
}

impl RowSource for AmazonSource {
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
