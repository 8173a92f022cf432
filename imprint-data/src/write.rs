//! Writing embedding files atomically in the reference format.

use std::path::Path;

use hdf5_pure::{FileBuilder, MaxExtent};

use crate::atomic::write_atomic;
use crate::attrs::{self, Attributes};
use crate::embeddings::Embeddings;
use crate::error::{DataError, Origin};
use crate::read::{EMBEDDINGS_DATASET, LABELS_DATASET};

/// How [`write_embeddings`] stores a file.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOptions {
    overwrite: bool,
    deflate_level: Option<u32>,
    chunk_rows: usize,
    attributes: Attributes,
    string_datasets: Vec<(String, Vec<String>)>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl WriteOptions {
    /// Defaults: never overwrite, gzip (deflate) level 4 with the shuffle filter,
    /// 64 rows per chunk, no attributes.
    pub fn new() -> Self {
        Self {
            overwrite: false,
            deflate_level: Some(4),
            chunk_rows: 64,
            attributes: Attributes::new(),
            string_datasets: Vec::new(),
        }
    }

    /// Replace an existing file (default: refuse with [`DataError::AlreadyExists`]).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Gzip level 0..=9 (clamped to 9), or `None` for uncompressed chunks.
    pub fn deflate(mut self, level: Option<u32>) -> Self {
        self.deflate_level = level.map(|l| l.min(9));
        self
    }

    /// Rows per chunk (at least 1).
    pub fn chunk_rows(mut self, rows: usize) -> Self {
        self.chunk_rows = rows.max(1);
        self
    }

    /// Adds one root-group attribute, e.g. provenance.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<attrs::AttrValue>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// Adds a one-dimensional dataset of variable-length UTF-8 strings beside
    /// `embeddings` and `labels`, e.g. the relative path or text of each row (h5py
    /// reads it with `f[name].asstr()[()]`). Writing fails with [`DataError::Encode`]
    /// if `name` is `embeddings`, `labels` or given twice.
    pub fn string_dataset(mut self, name: impl Into<String>, values: Vec<String>) -> Self {
        self.string_datasets.push((name.into(), values));
        self
    }

    /// Adds several root-group attributes.
    pub fn attributes(mut self, attributes: Attributes) -> Self {
        self.attributes.extend(attributes);
        self
    }
}

/// Writes `data` to `path` in the reference format: `embeddings` float32 `n x dim`
/// and `labels` int32 `n`, both chunked with an unlimited first dimension (maxshape
/// `(None, dim)` and `(None,)`), plus root attributes.
///
/// Parent directories are created. The file appears atomically: the bytes go to a
/// temporary file in the same directory, which is synced and then linked or renamed
/// into place, so a reader never sees a partial file and an existing file is never
/// replaced unless [`WriteOptions::overwrite`] is set.
///
/// # Errors
/// [`DataError::AlreadyExists`], [`DataError::LabelOutOfRange`] for labels above
/// `i32::MAX`, [`DataError::Encode`], [`DataError::Io`].
pub fn write_embeddings(
    path: impl AsRef<Path>,
    data: &Embeddings,
    options: &WriteOptions,
) -> Result<(), DataError> {
    let path = path.as_ref();
    if !options.overwrite && path.exists() {
        return Err(DataError::AlreadyExists { path: path.to_path_buf() });
    }
    let bytes = encode(path, data, options)?;
    write_atomic(path, &bytes, options.overwrite)
}

fn encode(path: &Path, data: &Embeddings, options: &WriteOptions) -> Result<Vec<u8>, DataError> {
    let (n, dim) = (data.n_samples(), data.dim());
    let labels = data
        .labels()
        .iter()
        .enumerate()
        .map(|(row, &l)| {
            i32::try_from(l).map_err(|_| DataError::LabelOutOfRange {
                origin: Origin::File(path.to_path_buf()),
                row,
                label: i64::try_from(l).unwrap_or(i64::MAX),
                reason: "the file format stores labels as int32",
            })
        })
        .collect::<Result<Vec<i32>, _>>()?;
    let values: Vec<f32> = data.embeddings().iter().copied().collect();
    let chunk_rows = options.chunk_rows.min(n).max(1) as u64;
    let mut builder = FileBuilder::new();
    {
        let ds = builder.create_dataset(EMBEDDINGS_DATASET);
        ds.with_f32_data(&values)
            .with_shape(&[n as u64, dim as u64])
            .with_chunks(&[chunk_rows, dim as u64])
            .with_maxshape(&[MaxExtent::Unlimited, MaxExtent::Fixed(dim as u64)]);
        if let Some(level) = options.deflate_level {
            ds.with_shuffle().with_deflate(level);
        }
    }
    {
        let label_chunk = (n as u64).clamp(1, 4096);
        let ds = builder.create_dataset(LABELS_DATASET);
        ds.with_i32_data(&labels)
            .with_shape(&[n as u64])
            .with_chunks(&[label_chunk])
            .with_maxshape(&[MaxExtent::Unlimited]);
        if let Some(level) = options.deflate_level {
            ds.with_shuffle().with_deflate(level);
        }
    }
    let mut names = vec![EMBEDDINGS_DATASET, LABELS_DATASET];
    for (name, values) in &options.string_datasets {
        if names.contains(&name.as_str()) {
            return Err(DataError::Encode {
                path: path.to_path_buf(),
                reason: format!("string dataset `{name}` would clash with another dataset of that name"),
            });
        }
        names.push(name);
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        builder.create_dataset(name).with_vlen_strings(&refs);
    }
    for (name, value) in &options.attributes {
        builder.set_attr(name, attrs::to_hdf5(value));
    }
    builder.finish().map_err(|e| DataError::Encode { path: path.to_path_buf(), reason: e.to_string() })
}
