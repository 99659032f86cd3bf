//! Saving and loading the embedding store as safetensors: per field `<name>.weight` `[rows, dim]`,
//! plus optimiser state (`<name>.m`, `<name>.v`) and the step count in the metadata, so training
//! resumes exactly.

use crate::store::{EmbeddingStore, Table};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("safetensors: {0}")]
    Format(#[from] safetensors::SafeTensorError),
    #[error("embedding checkpoint: {0}")]
    Mismatch(String),
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The values of tensor `name`, refused when any is NaN or infinite: a corrupted checkpoint must
/// not load and then score NaN.
fn finite(name: &str, values: Vec<f32>, dim: usize) -> Result<Vec<f32>, StoreError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(values),
        Some(i) => Err(StoreError::Mismatch(format!(
            "'{name}' holds a non-finite value ({}) at row {}, column {}",
            values[i],
            i / dim.max(1),
            i % dim.max(1)
        ))),
    }
}

impl EmbeddingStore {
    /// Serialises tables (and optimiser state when `with_state`) to safetensors bytes.
    pub fn to_safetensors(&self, with_state: bool) -> Result<Vec<u8>, StoreError> {
        let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for t in &self.tables {
            buffers.push((format!("{}.weight", t.name), vec![t.rows, self.dim], bytes(&t.weights)));
            if with_state {
                if !t.m.is_empty() {
                    buffers.push((format!("{}.m", t.name), vec![t.m.len()], bytes(&t.m)));
                }
                buffers.push((format!("{}.v", t.name), vec![t.v.len()], bytes(&t.v)));
            }
        }
        let views = buffers
            .iter()
            .map(|(n, shape, data)| Ok((n.clone(), TensorView::new(Dtype::F32, shape.clone(), data)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let meta =
            HashMap::from([("step".to_string(), self.step.to_string()), ("dim".to_string(), self.dim.to_string())]);
        Ok(safetensors::serialize(views, Some(meta))?)
    }

    /// Loads tables saved by [`EmbeddingStore::to_safetensors`] into this store (same fields and
    /// sizes). Optimiser state is restored when present.
    pub fn load_safetensors(&mut self, data: &[u8]) -> Result<(), StoreError> {
        let st = SafeTensors::deserialize(data)?;
        let (_, meta) = SafeTensors::read_metadata(data)?;
        let dim = self.dim;
        for t in &mut self.tables {
            let w = st.tensor(&format!("{}.weight", t.name))?;
            if w.shape() != [t.rows, dim] {
                return Err(StoreError::Mismatch(format!(
                    "table '{}' has shape {:?}, expected [{}, {dim}]",
                    t.name,
                    w.shape(),
                    t.rows
                )));
            }
            t.weights = finite(&format!("{}.weight", t.name), floats(w.data()), dim)?;
            restore(t, &st, "m")?;
            restore(t, &st, "v")?;
        }
        if let Some(step) = meta.metadata().as_ref().and_then(|m| m.get("step")) {
            self.step = step.parse().map_err(|_| StoreError::Mismatch(format!("bad step {step:?}")))?;
        }
        Ok(())
    }
}

/// Serving store from a checkpoint's `embeddings.safetensors` bytes (typically a memory map):
/// only the `<table>.weight` tensors are read and copied, optimiser moments are never touched.
pub fn serving_store(
    fields: &[recdiff_data::FieldMeta],
    dim: usize,
    data: &[u8],
) -> Result<EmbeddingStore, StoreError> {
    let st = SafeTensors::deserialize(data)?;
    EmbeddingStore::for_serving(fields, dim, |name, rows| {
        let w = st.tensor(&format!("{name}.weight"))?;
        if w.shape() != [rows, dim] {
            return Err(StoreError::Mismatch(format!(
                "table '{name}' has shape {:?}, expected [{rows}, {dim}]",
                w.shape()
            )));
        }
        finite(&format!("{name}.weight"), floats(w.data()), dim)
    })
}

fn restore(t: &mut Table, st: &SafeTensors<'_>, which: &str) -> Result<(), StoreError> {
    let Ok(view) = st.tensor(&format!("{}.{which}", t.name)) else {
        return Ok(());
    };
    let target = if which == "m" { &mut t.m } else { &mut t.v };
    let values = finite(&format!("{}.{which}", t.name), floats(view.data()), 1)?;
    if values.len() != target.len() {
        return Err(StoreError::Mismatch(format!(
            "optimiser state '{}.{which}' has {} values, expected {}",
            t.name,
            values.len(),
            target.len()
        )));
    }
    *target = values;
    Ok(())
}
