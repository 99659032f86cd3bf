//! A trained run loaded for inference: the run's codecs (from its `meta.json`), the best
//! checkpoint's dense weights on burn's flex backend *without* autodiff, and its embedding tables
//! read from a memory map of `embeddings.safetensors` (only the weights are copied; the optimiser
//! moments, two thirds of the file, are only read by the checksum that verifies the file).
//!
//! Scoring a request: the user and context objects are encoded once into a base row; each
//! candidate copies it and encodes only its own fields. DCN-V2 crosses every field with every
//! other from the first layer, so the user/context part that can be shared is the parsing,
//! hashing and vocabulary look-ups, not a partial forward pass. Then one batched forward over all
//! candidates: `f(h(x))`, or with AsymDiffRec `f(g([s, h(x)]))` where `s` is each candidate's
//! missing mask. Buffers (encoded words, gathered embeddings) are kept per worker thread.

use crate::request::{BatchRequest, Columns, Features, JsonCell, JsonRows, Origin, RequestError, ScoreRequest};
use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Int, Tensor, TensorData};
use recdiff_data::format::RowBuilder;
use recdiff_data::{Row, RowEncoder};
use recdiff_model::base::SharedInput;
use recdiff_model::{CtrModel, EmbeddingStore, MaskMatrix};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a run could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {message}")]
    Run { path: PathBuf, message: String },
}

impl LoadError {
    /// What failed, for an answer to a client: the file named relative to the run directory
    /// `run`, without the error's text (which may quote the file) or any host path.
    pub fn public(&self, run: &Path) -> String {
        let LoadError::Run { path, .. } = self;
        match path.strip_prefix(run) {
            Ok(rel) if rel.as_os_str().is_empty() => "the run directory could not be read as a run".into(),
            Ok(rel) => format!("the run's {} is missing or invalid (details in the server log)", rel.display()),
            Err(_) => "a file the run refers to outside its directory is missing or invalid".into(),
        }
    }
}

/// Why scoring failed: the request's content, or the model itself.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("inference failed: {0}")]
    Internal(String),
    /// The forward pass gave a NaN or infinite score (for this candidate or row, by its path in
    /// the request): never answered as a score. Inputs cannot cause it (numeric values are
    /// clamped by the codec), so it is the model's fault, a 500.
    #[error("the model produced a non-finite score for {0}")]
    NonFinite(String),
}

/// Scores and, when asked, the fields each scored row was missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub scores: Vec<f32>,
    pub missing: Option<Vec<Vec<String>>>,
}

pub struct ServingModel {
    pub run: PathBuf,
    /// `base` or `base+enhancer`.
    pub name: String,
    encoder: RowEncoder,
    columns: Columns,
    field_names: Vec<String>,
    /// Fields reading each column.
    fields_of_column: Vec<Vec<usize>>,
    model: CtrModel,
    store: EmbeddingStore,
    device: Device,
}

#[derive(Default)]
struct Scratch {
    words: Vec<u32>,
    embedded: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl ServingModel {
    /// Loads the best checkpoint of the run in `run` (read-only, through the run loader).
    pub fn load(run: &Path) -> Result<Self, LoadError> {
        let loaded = recdiff_run::CtrRun::open(run).map_err(|e| LoadError::Run { path: e.path, message: e.message })?;
        let meta = &loaded.meta;
        let encoder = RowEncoder::for_prediction(meta);
        let columns = Columns::new(&meta.schema, &encoder.parser.columns);
        let mut fields_of_column = vec![Vec::new(); columns.len()];
        for f in 0..meta.fields.len() {
            fields_of_column[encoder.parser.field_column(f).0].push(f);
        }
        Ok(Self {
            run: run.to_path_buf(),
            name: loaded.cfg.model.ctr().name(),
            field_names: meta.fields.iter().map(|f| f.name.clone()).collect(),
            encoder,
            columns,
            fields_of_column,
            model: loaded.model,
            store: loaded.store,
            device: loaded.device,
        })
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// Scores every candidate of `req` in order.
    pub fn score(&self, req: &ScoreRequest) -> Result<Scored, ScoreError> {
        let shared = self.shared_row(req)?;
        if req.candidates.is_empty() {
            return Ok(Scored { scores: vec![], missing: req.explain.then(Vec::new) });
        }
        let mut cands = JsonRows::new(req.candidates.len(), self.columns.len(), Origin::Indexed("candidates"));
        let mut given = vec![false; self.columns.len()];
        for (i, c) in req.candidates.iter().enumerate() {
            for (key, value) in c {
                let col = self.columns.lookup(|| format!("candidates[{i}]"), key)?;
                if shared.is_set(0, col) {
                    return Err(RequestError::new(
                        format!("candidates[{i}].{key}"),
                        "also given in user or context; send each feature in one place",
                    )
                    .into());
                }
                let cell = self.columns.cell(col, value, &|| format!("candidates[{i}].{key}"))?;
                given[col] |= !matches!(cell, JsonCell::Null);
                cands.set(i, col, cell);
            }
        }
        // Fields no candidate gives are missing in every row: part of the shared input too.
        let own: Vec<usize> = (0..self.columns.len())
            .filter(|&c| given[c])
            .flat_map(|c| self.fields_of_column[c].iter().copied())
            .collect();
        let mut builder = RowBuilder::new(self.encoder.layout);
        self.encoder.encode(&shared, 0, &mut builder).map_err(RequestError::from_data)?;
        let base = builder.words.clone();
        SCRATCH.with_borrow_mut(|s| {
            s.words.clear();
            for i in 0..req.candidates.len() {
                builder.words.copy_from_slice(&base);
                self.encoder.encode_fields(&cands, i, &own, &mut builder).map_err(RequestError::from_data)?;
                s.words.extend_from_slice(&builder.words);
            }
            let shared = (!own.is_empty() && own.len() < self.store.fields()).then_some((&base[..], &own[..]));
            self.forward(s, req.explain, shared, "candidates")
        })
    }

    /// The user and context objects merged into one row (a feature may appear in only one).
    fn shared_row<'a>(&self, req: &'a ScoreRequest) -> Result<JsonRows<'a>, RequestError> {
        let mut origin = HashMap::new();
        let mut row = JsonRows::new(1, self.columns.len(), Origin::Indexed("shared"));
        for (part, features) in [("user", &req.user), ("context", &req.context)] {
            for (key, value) in features.iter().flatten() {
                let col = self.columns.lookup(|| part.to_string(), key)?;
                if origin.contains_key(key) {
                    return Err(RequestError::new(format!("{part}.{key}"), "given in both user and context"));
                }
                origin.insert(key.clone(), part);
                row.set(0, col, self.columns.cell(col, value, &|| format!("{part}.{key}"))?);
            }
        }
        row.origin = Origin::PerColumn(origin);
        Ok(row)
    }

    /// Scores independent rows.
    pub fn score_rows(&self, req: &BatchRequest) -> Result<Scored, ScoreError> {
        let rows = self.rows(&req.rows)?;
        let mut builder = RowBuilder::new(self.encoder.layout);
        SCRATCH.with_borrow_mut(|s| {
            s.words.clear();
            for i in 0..req.rows.len() {
                self.encoder.encode(&rows, i, &mut builder).map_err(RequestError::from_data)?;
                s.words.extend_from_slice(&builder.words);
            }
            self.forward(s, req.explain, None, "rows")
        })
    }

    fn rows<'a>(&self, rows: &'a [Features]) -> Result<JsonRows<'a>, RequestError> {
        let mut out = JsonRows::new(rows.len(), self.columns.len(), Origin::Indexed("rows"));
        for (i, r) in rows.iter().enumerate() {
            for (key, value) in r {
                let col = self.columns.lookup(|| format!("rows[{i}]"), key)?;
                out.set(i, col, self.columns.cell(col, value, &|| format!("rows[{i}].{key}"))?);
            }
        }
        Ok(out)
    }

    /// The encoded row shared by every candidate (own fields missing) as model input.
    fn shared_input(&self, base: &[u32], own: &[usize]) -> SharedInput {
        let layout = self.encoder.layout;
        let row = [Row { words: base, layout }];
        let mask = MaskMatrix::from_rows(&row, layout.fields);
        let mut embedded = vec![0.0; self.store.width()];
        self.store.gather(&row, &mask, &mut embedded);
        let dim = self.store.dim;
        let cols: Vec<i64> = own.iter().flat_map(|&f| (f * dim) as i64..((f + 1) * dim) as i64).collect();
        let k = cols.len();
        SharedInput {
            row: Tensor::from_data(TensorData::new(embedded, [1, self.store.width()]), &self.device),
            own: Tensor::<1, Int>::from_data(TensorData::new(cols, [k]), &self.device),
        }
    }

    /// One batched forward pass over the encoded rows in `s.words`; `shared` (base row, per-row
    /// fields) lets the first layers multiply the request-constant part once; `what` names the
    /// rows in the request (`candidates`, `rows`).
    fn forward(
        &self,
        s: &mut Scratch,
        explain: bool,
        shared: Option<(&[u32], &[usize])>,
        what: &str,
    ) -> Result<Scored, ScoreError> {
        let layout = self.encoder.layout;
        let views: Vec<Row<'_>> = s.words.chunks(layout.words_per_row()).map(|w| Row { words: w, layout }).collect();
        let n = views.len();
        let masks = MaskMatrix::from_rows(&views, layout.fields);
        let (width, fields) = (self.store.width(), self.store.fields());
        s.embedded.resize(n * width, 0.0);
        self.store.gather(&views, &masks, &mut s.embedded);
        let x = Tensor::<2>::from_data(TensorData::new(s.embedded.clone(), [n, width]), &self.device);
        let m = Tensor::<2>::from_data(TensorData::new(masks.to_f32(), [n, fields]), &self.device);
        let logits = match shared {
            Some((base, own)) => self.model.logits_shared(x, m, &self.shared_input(base, own)),
            None => self.model.logits(x, m),
        };
        let p = sigmoid(logits);
        let scores = p.into_data().try_into_vec::<f32>().map_err(|e| ScoreError::Internal(format!("{e:?}")))?;
        if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
            return Err(ScoreError::NonFinite(format!("{what}[{row}]")));
        }
        let missing = explain.then(|| {
            (0..n)
                .map(|r| (0..fields).filter(|&f| masks.get(r, f)).map(|f| self.field_names[f].clone()).collect())
                .collect()
        });
        Ok(Scored { scores, missing })
    }

    /// Parameters of the dense model (for the start-up log line).
    pub fn dense_parameters(&self) -> usize {
        self.model.num_params()
    }
}
