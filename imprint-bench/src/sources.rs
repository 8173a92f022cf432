//! Embeddings loaded once per run and shared by every grid, every task and
//! the NC1 summary of a run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use imprint_data::SourceData;

use crate::{BenchError, Result};

/// Root, backbone and data-set names of one entry.
type Key = (PathBuf, String, Vec<String>);

/// The data sets a run has loaded, keyed by (root, backbone, data sets).
///
/// Clones share the cache, so every grid of a `reproduce` run decompresses
/// each embedding file once. Loaded data stay in memory until the last clone
/// is dropped.
#[derive(Debug, Clone, Default)]
pub struct SourceCache {
    loaded: Arc<Mutex<HashMap<Key, Arc<Vec<SourceData>>>>>,
}

impl SourceCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The data sets `datasets` of `backbone` under `root`, in order, loaded on
    /// first use.
    pub fn get(&self, root: &Path, backbone: &str, datasets: &[String]) -> Result<Arc<Vec<SourceData>>> {
        let key = (root.to_owned(), backbone.to_owned(), datasets.to_vec());
        // A panic elsewhere cannot leave a half-inserted entry: insertion is one call.
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sources) = loaded.get(&key) {
            return Ok(Arc::clone(sources));
        }
        let sources = datasets
            .iter()
            .map(|name| {
                SourceData::load(root, name, backbone).map_err(|source| BenchError::Data {
                    context: format!("loading data set '{name}' for backbone '{backbone}'"),
                    source,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let sources = Arc::new(sources);
        loaded.insert(key, Arc::clone(&sources));
        Ok(sources)
    }
}
