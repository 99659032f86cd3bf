//! `data stats`: one streaming pass over a schema's source — rows, label balance, users, items, and
//! per field its cardinality (distinct values; distinct tokens for multi-hot) and missing rate.

use crate::error::Result;
use crate::rows::{BadRows, RowParser};
use crate::schema::{BadRowPolicy, FieldKind, Schema};
use crate::value::Key;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashSet;

#[derive(Debug, Clone, Serialize)]
pub struct FieldStats {
    pub name: String,
    pub kind: FieldKind,
    pub group: Option<String>,
    pub distinct: u64,
    pub missing: u64,
    pub missing_rate: f64,
    /// Numeric fields: min, mean, max of present values.
    pub numeric: Option<(f64, f64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatasetStats {
    pub rows: u64,
    pub positives: u64,
    pub positive_rate: f64,
    pub users: Option<u64>,
    pub items: Option<u64>,
    pub skipped_rows: u64,
    pub skipped_examples: Vec<String>,
    pub fields: Vec<FieldStats>,
}

struct Acc {
    distinct: HashSet<u64>,
    missing: u64,
    sum: f64,
    min: f64,
    max: f64,
    present: u64,
}

impl Acc {
    fn new() -> Self {
        Self { distinct: HashSet::new(), missing: 0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, present: 0 }
    }
    fn number(&mut self, v: f64) {
        self.distinct.insert(v.to_bits());
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.present += 1;
    }
}

/// Reads the whole source once and summarises it. `max_rows` stops early (0 = all rows).
pub fn compute(schema: &Schema, max_rows: u64) -> Result<DatasetStats> {
    let parser = RowParser::new(schema);
    let skip = schema.source.on_bad_row == BadRowPolicy::Skip;
    let bad = RefCell::new(BadRows::default());
    let mut accs: Vec<Acc> = schema.fields.iter().map(|_| Acc::new()).collect();
    let (mut users, mut items) = (HashSet::new(), HashSet::new());
    let (mut rows, mut positives) = (0u64, 0u64);
    let mut source = parser.open(schema)?;
    let hash = |k: Key<'_>| k.hash(0);
    let result = source.for_each_batch(
        &mut |b| {
            for row in 0..b.len() {
                if max_rows > 0 && rows >= max_rows {
                    return Err(crate::DataError::Invalid("stop".into()));
                }
                if let Err(e) = parser.validate(b, row) {
                    bad.borrow_mut().handle(skip, e)?;
                    continue;
                }
                rows += 1;
                positives += (parser.label(b, row)? == 1.0) as u64;
                if let Some(u) = parser.user(b, row)? {
                    users.insert(hash(u));
                }
                if let Some(i) = parser.item(b, row)? {
                    items.insert(hash(i));
                }
                for (f, (spec, acc)) in schema.fields.iter().zip(accs.iter_mut()).enumerate() {
                    let (col, name) = parser.field_column(f);
                    let r = &parser.reader;
                    let present = match spec.kind {
                        FieldKind::Numeric => r.number(b, row, col, name)?.map(|v| acc.number(v)).is_some(),
                        FieldKind::Categorical => {
                            parser.field_key(b, row, f)?.map(|k| acc.distinct.insert(hash(k))).is_some()
                        }
                        FieldKind::MultiHot => {
                            r.tokens(b, row, col, spec.separator(), |k| {
                                acc.distinct.insert(hash(k));
                            }) > 0
                        }
                    };
                    acc.missing += (!present) as u64;
                }
            }
            Ok(())
        },
        &mut |e| bad.borrow_mut().handle(skip, e),
    );
    match result {
        Err(crate::DataError::Invalid(m)) if m == "stop" => {}
        other => other?,
    }
    let rate = |n: u64| {
        if rows > 0 { n as f64 / rows as f64 } else { 0.0 }
    };
    let fields = schema
        .fields
        .iter()
        .zip(accs)
        .map(|(spec, a)| FieldStats {
            name: spec.name.clone(),
            kind: spec.kind,
            group: spec.group.clone(),
            distinct: a.distinct.len() as u64,
            missing: a.missing,
            missing_rate: rate(a.missing),
            numeric: (a.present > 0).then(|| (a.min, a.sum / a.present as f64, a.max)),
        })
        .collect();
    let bad = bad.into_inner();
    Ok(DatasetStats {
        rows,
        positives,
        positive_rate: rate(positives),
        users: schema.keys.user.as_ref().map(|_| users.len() as u64),
        items: schema.keys.item.as_ref().map(|_| items.len() as u64),
        skipped_rows: bad.count,
        skipped_examples: bad.examples,
        fields,
    })
}
