//! `Embedding`.

use serde::Deserialize;
use serde_json::{Map, json};
use tch::{TchError, Tensor};

use super::Layer;
use crate::init;
use crate::store::ParamStore;

/// `torch.nn.Embedding` arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingArgs {
    /// Vocabulary size.
    pub num_embeddings: i64,
    /// Vector size.
    pub embedding_dim: i64,
    /// An index whose vector stays zero and gets no gradient.
    pub padding_idx: Option<i64>,
}

/// A lookup table of vectors.
pub struct Embedding {
    weight: Tensor,
    padding_idx: i64,
}

impl Embedding {
    /// Registers the module at `path` and its weight.
    pub fn new(store: &mut ParamStore, path: &str, a: &EmbeddingArgs) -> Result<Embedding, String> {
        let mut attrs = Map::new();
        attrs.insert("num_embeddings".into(), json!(a.num_embeddings));
        attrs.insert("embedding_dim".into(), json!(a.embedding_dim));
        let module = store.module(path, "Embedding", attrs);
        let err = |e: TchError| e.to_string();
        let mut w = init::normal(&[a.num_embeddings, a.embedding_dim]).map_err(err)?;
        if let Some(p) = a.padding_idx {
            let _ = w.f_get(p).and_then(|mut row| row.f_zero_()).map_err(err)?;
            w = w.f_detach().map_err(err)?;
        }
        let weight = store.param(module, "weight", w, true).map_err(err)?;
        Ok(Embedding {
            weight,
            padding_idx: a.padding_idx.unwrap_or(-1),
        })
    }
}

impl Layer for Embedding {
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        Tensor::f_embedding(&self.weight, x, self.padding_idx, false, false)
    }
}
