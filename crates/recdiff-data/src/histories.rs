//! Per-user chronological histories from any interaction log a schema describes (its `user`,
//! `item` and `timestamp` keys), a leave-one-out split, and the padded training windows.
//!
//! Items get ids `1..=n` in order of first appearance; 0 is padding. A user's interactions are
//! ordered by timestamp, ties kept in file order. Leave-one-out: the last item is the test target,
//! the second-to-last the validation target, the rest is training history; users with fewer than
//! three interactions only train. Training uses every position of the training history: the
//! history is cut into windows of `max_len` inputs from its end backwards, each input predicting the
//! item after it (MovieLens-100K: 100,000 - 3 x 943 = 97,171 positions).

use crate::rows::RowParser;
use crate::schema::Schema;
use crate::source::{self, RowBatch};
use crate::value::CellReader;
use crate::{DataError, Location};
use std::collections::HashMap;

/// Interactions grouped by user, with optional item attributes (e.g. genres) for diversity.
#[derive(Debug, Clone)]
pub struct Interactions {
    /// Item key per id; `items[0]` is the padding placeholder.
    pub items: Vec<String>,
    pub users: Vec<String>,
    /// Item ids per user, chronological.
    pub histories: Vec<Vec<u32>>,
    /// Attribute token ids per item id (empty without an attribute column).
    pub attributes: Vec<Vec<u32>>,
}

impl Interactions {
    /// Catalogue size (ids `1..=n_items`).
    pub fn n_items(&self) -> usize {
        self.items.len() - 1
    }

    /// Reads the schema's source; `attribute` names a multi-valued column (`|`-separated). The
    /// schema needs `user`, `item` and `timestamp` keys.
    pub fn load(schema: &Schema, attribute: Option<&str>) -> Result<Self, DataError> {
        Self::load_ordered(schema, attribute, true)
    }

    /// As [`Interactions::load`]; without `require_time`, a schema with no `timestamp` key keeps
    /// each user's interactions in file order.
    pub fn load_ordered(schema: &Schema, attribute: Option<&str>, require_time: bool) -> Result<Self, DataError> {
        Self::load_filtered(schema, attribute, require_time, false)
    }

    /// As [`Interactions::load_ordered`]; with `positives_only`, only rows whose label (by the
    /// schema's `[label]` rule, e.g. rating >= 4) is 1 become interactions, and a missing or
    /// unreadable label is an error naming the row.
    pub fn load_filtered(
        schema: &Schema,
        attribute: Option<&str>,
        require_time: bool,
        positives_only: bool,
    ) -> Result<Self, DataError> {
        let key = |k: &Option<String>, what: &str| {
            k.clone().ok_or_else(|| DataError::Invalid(format!("schema '{}' has no {what} key", schema.name)))
        };
        let (user, item) = (key(&schema.keys.user, "user")?, key(&schema.keys.item, "item")?);
        let ts =
            if require_time { Some(key(&schema.keys.timestamp, "timestamp")?) } else { schema.keys.timestamp.clone() };
        let mut columns = vec![user.clone(), item.clone()];
        columns.extend(ts.clone());
        let attr_col = columns.len();
        columns.extend(attribute.map(str::to_string));
        if positives_only && !columns.contains(&schema.label.column) {
            columns.push(schema.label.column.clone());
        }
        let labels = positives_only.then(|| RowParser::labelled(schema, columns.clone()));
        let reader = RowParser::features_only(schema).reader;
        let mut item_ids: HashMap<String, u32> = HashMap::new();
        let mut user_ids: HashMap<String, usize> = HashMap::new();
        let mut out =
            Interactions { items: vec![String::new()], users: vec![], histories: vec![], attributes: vec![vec![]] };
        let mut events: Vec<Vec<(i64, u32)>> = Vec::new();
        let mut tokens: HashMap<String, u32> = HashMap::new();
        let mut row_index = 0u64;
        let mut src = source::open(schema, &columns)?;
        src.for_each_batch(
            &mut |b: &dyn RowBatch| {
                for r in 0..b.len() {
                    if let Some(p) = &labels
                        && p.label(b, r)? < 0.5
                    {
                        row_index += 1;
                        continue;
                    }
                    let u = required_key(&reader, b, r, 0, &user)?;
                    let i = required_key(&reader, b, r, 1, &item)?;
                    let t = match &ts {
                        Some(ts) => reader
                            .number(b, r, 2, ts)?
                            .ok_or_else(|| bad(b.location(r, Some(ts)), "the timestamp is missing"))?,
                        None => row_index as f64,
                    };
                    row_index += 1;
                    let next_item = out.items.len() as u32;
                    let id = *item_ids.entry(i.clone()).or_insert_with(|| {
                        out.items.push(i);
                        out.attributes.push(Vec::new());
                        next_item
                    });
                    if attribute.is_some() && out.attributes[id as usize].is_empty() {
                        let mut set = Vec::new();
                        reader.tokens(b, r, attr_col, "|", |k| {
                            let n = tokens.len() as u32;
                            k.with_str(|s| set.push(*tokens.entry(s.to_string()).or_insert(n)));
                        });
                        out.attributes[id as usize] = set;
                    }
                    let next_user = out.users.len();
                    let uid = *user_ids.entry(u.clone()).or_insert_with(|| {
                        out.users.push(u);
                        events.push(Vec::new());
                        next_user
                    });
                    events[uid].push((t as i64, id));
                }
                Ok(())
            },
            &mut |e| Err(e),
        )?;
        if events.is_empty() {
            return Err(DataError::Invalid(format!("{}: no interactions", schema.source.path.display())));
        }
        out.histories = events
            .into_iter()
            .map(|mut ev| {
                ev.sort_by_key(|&(t, _)| t);
                ev.into_iter().map(|(_, i)| i).collect()
            })
            .collect();
        Ok(out)
    }
}

fn bad(location: Location, message: &str) -> DataError {
    DataError::BadRow { location, message: message.into() }
}

fn required_key(reader: &CellReader, b: &dyn RowBatch, r: usize, col: usize, name: &str) -> Result<String, DataError> {
    match reader.key(b, r, col, name)? {
        Some(k) => Ok(k.with_str(str::to_string)),
        None => Err(bad(b.location(r, Some(name)), "the key is missing")),
    }
}

/// Leave-one-out targets per user.
#[derive(Debug, Clone)]
pub struct LeaveOneOut {
    /// Training history per user.
    pub train: Vec<Vec<u32>>,
    pub valid: Vec<Option<u32>>,
    pub test: Vec<Option<u32>>,
}

impl LeaveOneOut {
    pub fn new(histories: &[Vec<u32>]) -> Self {
        let mut s = Self { train: vec![], valid: vec![], test: vec![] };
        for h in histories {
            if h.len() < 3 {
                s.train.push(h.clone());
                s.valid.push(None);
                s.test.push(None);
            } else {
                s.train.push(h[..h.len() - 2].to_vec());
                s.valid.push(Some(h[h.len() - 2]));
                s.test.push(Some(h[h.len() - 1]));
            }
        }
        s
    }

    /// The history a query for `split` sees: training items, plus the validation item for test.
    pub fn history(&self, user: usize, test: bool) -> Vec<u32> {
        let mut h = self.train[user].clone();
        if test {
            h.extend(self.valid[user]);
        }
        h
    }

    /// Training positions: inputs and next-item targets, `max_len` wide, left-padded with 0.
    pub fn windows(&self, max_len: usize) -> Vec<Window> {
        let mut out = Vec::new();
        for h in &self.train {
            if h.len() < 2 {
                continue;
            }
            let (inputs, targets) = (&h[..h.len() - 1], &h[1..]);
            let mut end = inputs.len();
            while end > 0 {
                let start = end.saturating_sub(max_len);
                out.push(Window::padded(&inputs[start..end], &targets[start..end], max_len));
                end = start;
            }
        }
        out
    }
}

/// One left-padded training window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub inputs: Vec<u32>,
    /// Next item at each position, 0 at padding.
    pub targets: Vec<u32>,
}

impl Window {
    pub fn padded(inputs: &[u32], targets: &[u32], max_len: usize) -> Self {
        let pad = max_len - inputs.len();
        let mut w = Self { inputs: vec![0; pad], targets: vec![0; pad] };
        w.inputs.extend_from_slice(inputs);
        w.targets.extend_from_slice(targets);
        w
    }
}

/// The last `max_len` items of `history`, left-padded with 0.
pub fn query_window(history: &[u32], max_len: usize) -> Vec<u32> {
    let tail = &history[history.len().saturating_sub(max_len)..];
    let mut w = vec![0; max_len - tail.len()];
    w.extend_from_slice(tail);
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_training_position_once() {
        let split = LeaveOneOut::new(&[(1..=12).collect(), vec![5, 6]]);
        assert_eq!(split.valid, vec![Some(11), None]);
        assert_eq!(split.test, vec![Some(12), None]);
        let w = split.windows(4);
        let positions: usize = w.iter().map(|w| w.targets.iter().filter(|&&t| t != 0).count()).sum();
        assert_eq!(positions, 9 + 1, "10 training items -> 9 positions; [5, 6] -> 1");
        assert_eq!(w[0], Window { inputs: vec![6, 7, 8, 9], targets: vec![7, 8, 9, 10] });
        assert_eq!(w[2], Window { inputs: vec![0, 0, 0, 1], targets: vec![0, 0, 0, 2] });
        assert_eq!(query_window(&split.history(0, true), 3), vec![9, 10, 11]);
    }
}
