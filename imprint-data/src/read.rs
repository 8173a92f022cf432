//! Reading and validating embedding files.

use std::path::{Path, PathBuf};

use hdf5_pure::{ChunkIndex, DType, Dataset, File, Layout};
use ndarray::Array2;

use crate::attrs::{self, Attributes};
use crate::embeddings::{self, Embeddings};
use crate::error::{DataError, Origin};

/// Name of the embedding matrix dataset (float32, `n x dim`).
pub const EMBEDDINGS_DATASET: &str = "embeddings";
/// Name of the label dataset (int32, `n`).
pub const LABELS_DATASET: &str = "labels";

/// An opened, structurally checked embedding file whose data has not been read yet.
///
/// Opening reads the file into memory once and checks that both datasets exist with
/// the right element types and ranks and agree on the number of rows, so that
/// [`EmbeddingFile::shape`] and [`EmbeddingFile::attributes`] are cheap.
pub struct EmbeddingFile {
    path: PathBuf,
    file: File,
    n_rows: usize,
    dim: usize,
}

impl std::fmt::Debug for EmbeddingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingFile")
            .field("path", &self.path)
            .field("n_rows", &self.n_rows)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl EmbeddingFile {
    /// Opens `path` and checks its structure (not yet its values).
    ///
    /// # Errors
    /// [`DataError::NotFound`], [`DataError::Io`], [`DataError::EmptyFile`],
    /// [`DataError::Corrupt`], [`DataError::MissingDataset`], [`DataError::WrongDtype`],
    /// [`DataError::WrongRank`], [`DataError::LengthMismatch`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => DataError::NotFound { path: path.clone() },
            _ => DataError::Io { path: path.clone(), action: "read", source },
        })?;
        Self::from_bytes(bytes, path)
    }

    /// Checks the structure of an embedding file already in memory; `path` only names
    /// it in errors.
    ///
    /// # Errors
    /// As [`EmbeddingFile::open`], without the I/O errors.
    pub fn from_bytes(bytes: Vec<u8>, path: impl Into<PathBuf>) -> Result<Self, DataError> {
        let path = path.into();
        if bytes.is_empty() {
            return Err(DataError::EmptyFile { path });
        }
        let file_len = bytes.len();
        let file = File::from_bytes(bytes).map_err(|e| corrupt(&path, &e))?;
        // Like libhdf5, refuse a file shorter than the end address its superblock records:
        // it was cut off, even if the datasets we need happen to lie before the cut.
        let eof = file.superblock().eof_address;
        if (file_len as u64) < eof {
            return Err(DataError::Corrupt {
                path,
                reason: format!("truncated: {file_len} bytes, but the superblock records {eof}"),
            });
        }
        let emb = dataset(&file, &path, EMBEDDINGS_DATASET)?;
        let shape = checked_shape(&emb, &path, EMBEDDINGS_DATASET, 2)?;
        let (n_rows, dim) = (to_usize(shape[0], &path)?, to_usize(shape[1], &path)?);
        match emb.dtype().map_err(|e| corrupt(&path, &e))? {
            DType::F32 => {}
            other => {
                return Err(DataError::WrongDtype {
                    path,
                    dataset: EMBEDDINGS_DATASET,
                    found: other.to_string(),
                    expected: "f32",
                });
            }
        }
        let labels = dataset(&file, &path, LABELS_DATASET)?;
        let n_labels = to_usize(checked_shape(&labels, &path, LABELS_DATASET, 1)?[0], &path)?;
        match labels.dtype().map_err(|e| corrupt(&path, &e))? {
            DType::I8 | DType::I16 | DType::I32 | DType::I64 => {}
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => {}
            other => {
                return Err(DataError::WrongDtype {
                    path,
                    dataset: LABELS_DATASET,
                    found: other.to_string(),
                    expected: "an integer type (the reference writes i32)",
                });
            }
        }
        check_declared_size(&path, file_len, "embeddings", n_rows, dim, 4)?;
        check_declared_size(&path, file_len, "labels", n_labels, 1, 8)?;
        check_storage(&emb, &path, file_len, EMBEDDINGS_DATASET)?;
        check_storage(&labels, &path, file_len, LABELS_DATASET)?;
        if n_rows != n_labels {
            return Err(DataError::LengthMismatch { origin: Origin::File(path), n_rows, n_labels });
        }
        Ok(Self { path, file, n_rows, dim })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `(n_rows, dim)` of the embedding matrix.
    pub fn shape(&self) -> (usize, usize) {
        (self.n_rows, self.dim)
    }

    /// The root group's attributes (provenance), in name order.
    ///
    /// # Errors
    /// [`DataError::Corrupt`] when the attribute messages cannot be decoded.
    pub fn attributes(&self) -> Result<Attributes, DataError> {
        let raw = self.file.root().attrs().map_err(|e| corrupt(&self.path, &e))?;
        Ok(raw.into_iter().filter_map(|(k, v)| attrs::from_hdf5(v).map(|v| (k, v))).collect())
    }

    /// Reads a one-dimensional string dataset beside the embeddings, e.g. the
    /// `paths` that `imprint-embed` stores (one per row). Fixed- and
    /// variable-length strings are both accepted.
    ///
    /// # Errors
    /// [`DataError::MissingDataset`], [`DataError::WrongRank`], or
    /// [`DataError::Corrupt`] when the strings cannot be decoded.
    pub fn read_strings(&self, name: &'static str) -> Result<Vec<String>, DataError> {
        let ds = dataset(&self.file, &self.path, name)?;
        checked_shape(&ds, &self.path, name, 1)?;
        ds.read_string().map_err(|e| corrupt(&self.path, &e))
    }

    /// Reads and validates the data.
    ///
    /// # Errors
    /// [`DataError::Corrupt`] when chunks cannot be decoded (e.g. a truncated file),
    /// [`DataError::ZeroRows`], [`DataError::ZeroDim`], [`DataError::NonFinite`] (with the
    /// first bad row), [`DataError::LabelOutOfRange`] for negative labels.
    pub fn read(&self) -> Result<Embeddings, DataError> {
        let origin = Origin::File(self.path.clone());
        let emb = dataset(&self.file, &self.path, EMBEDDINGS_DATASET)?;
        let labels = dataset(&self.file, &self.path, LABELS_DATASET)?;
        let values = if self.n_rows == 0 || self.dim == 0 {
            Vec::new()
        } else {
            emb.read_f32().map_err(|e| corrupt(&self.path, &e))?
        };
        let raw_labels = if self.n_rows == 0 {
            Vec::new()
        } else {
            labels.read_i64().map_err(|e| corrupt(&self.path, &e))?
        };
        let matrix =
            Array2::from_shape_vec((self.n_rows, self.dim), values).map_err(|e| DataError::Corrupt {
                path: self.path.clone(),
                reason: format!("embedding data does not fill the declared shape: {e}"),
            })?;
        if raw_labels.len() != self.n_rows {
            return Err(DataError::Corrupt {
                path: self.path.clone(),
                reason: format!("`labels` declared {} rows but decoded {}", self.n_rows, raw_labels.len()),
            });
        }
        // Shape and finiteness first, so that a NaN row is reported even with odd labels.
        embeddings::validate(matrix.view(), raw_labels.len(), &origin)?;
        let labels = raw_labels
            .iter()
            .enumerate()
            .map(|(row, &label)| {
                usize::try_from(label).map_err(|_| DataError::LabelOutOfRange {
                    origin: origin.clone(),
                    row,
                    label,
                    reason: "labels must be non-negative",
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Embeddings::with_origin(matrix, labels, &origin)
    }
}

/// Reads and validates an embedding file: [`EmbeddingFile::open`] then
/// [`EmbeddingFile::read`].
///
/// # Errors
/// Every error of those two, each naming `path` and the problem.
pub fn read_embeddings(path: impl AsRef<Path>) -> Result<Embeddings, DataError> {
    EmbeddingFile::open(path)?.read()
}

fn corrupt(path: &Path, e: &hdf5_pure::Error) -> DataError {
    use hdf5_pure::{Error, FormatError};
    if let Error::Format(FormatError::InvalidLayoutVersion(v)) = e
        && *v >= 5
    {
        return DataError::Unsupported {
            path: path.to_path_buf(),
            reason: format!(
                "data layout message version {v} (written by HDF5 >= 2.0 with \
                     libver=\"latest\"); rewrite the file with libver=\"v114\" or earlier, \
                     e.g. h5py.File(path, \"w\", libver=\"v114\") or h5repack"
            ),
        };
    }
    DataError::Corrupt { path: path.to_path_buf(), reason: e.to_string() }
}

fn dataset(file: &File, path: &Path, name: &'static str) -> Result<Dataset, DataError> {
    match file.dataset(name) {
        Ok(ds) => Ok(ds),
        Err(hdf5_pure::Error::Format(hdf5_pure::FormatError::PathNotFound(_))) => {
            Err(DataError::MissingDataset { path: path.to_path_buf(), dataset: name })
        }
        Err(hdf5_pure::Error::NotADataset(_)) => {
            Err(DataError::MissingDataset { path: path.to_path_buf(), dataset: name })
        }
        Err(e) => Err(corrupt(path, &e)),
    }
}

fn checked_shape(ds: &Dataset, path: &Path, name: &'static str, rank: usize) -> Result<Vec<u64>, DataError> {
    let shape = ds.shape().map_err(|e| corrupt(path, &e))?;
    if shape.len() == rank {
        Ok(shape)
    } else {
        Err(DataError::WrongRank { path: path.to_path_buf(), dataset: name, shape, expected: rank })
    }
}

/// Deflate cannot expand data more than 1032-fold, so a dataset that would need more
/// than this many bytes per stored byte is a corrupt dataspace, not real data.
const MAX_EXPANSION: usize = 1100;

/// Rejects a declared shape the file cannot hold before anything is allocated for it.
///
/// hdf5-pure sizes some read buffers from the declared shape, and a failed allocation
/// aborts the process (it is not a panic), so a corrupt dimension such as 4e9 must be
/// caught here. The bound is generous: real embedding files are far below it.
fn check_declared_size(
    path: &Path,
    file_len: usize,
    name: &'static str,
    rows: usize,
    cols: usize,
    elem: usize,
) -> Result<(), DataError> {
    let bytes = rows.checked_mul(cols).and_then(|n| n.checked_mul(elem));
    let limit = file_len.saturating_mul(MAX_EXPANSION).saturating_add(4096);
    // Probe the allocator only for a size the file can hold: asking it for the
    // declared size of a corrupt dimension (96 TiB, found by fuzzing) is itself
    // an abort under AddressSanitizer and a needless huge mapping elsewhere.
    let ok = bytes.is_some_and(|b| b <= limit && Vec::<u8>::new().try_reserve_exact(b).is_ok());
    if ok {
        Ok(())
    } else {
        Err(DataError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "dataset `{name}` declares {rows} x {cols} elements, more than a \
                 {file_len}-byte file can hold or memory can take"
            ),
        })
    }
}

/// Rejects stored data that lies outside the file, and chunks larger than the file could
/// expand to, before anything is read.
///
/// hdf5-pure 0.47 sizes the buffer for a run of chunks from the chunk index before it
/// checks the run against the file (`ChunkSpanReader::chunk_bytes`), so a corrupt chunk
/// size such as 4 GiB in a 12 KB file was allocated and zeroed in full (found by
/// fuzzing); the decoded chunk buffer is sized from the chunk shape, likewise unchecked.
fn check_storage(ds: &Dataset, path: &Path, file_len: usize, name: &'static str) -> Result<(), DataError> {
    let bad = |what: String| DataError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("dataset `{name}`: {what} (the file has {file_len} bytes)"),
    };
    let len = file_len as u64;
    match ds.layout().map_err(|e| corrupt(path, &e))? {
        Layout::Contiguous { address: Some(address), size }
            if address.checked_add(size).is_none_or(|end| end > len) =>
        {
            return Err(bad(format!("its {size} data bytes at offset {address} end beyond the file")));
        }
        Layout::Chunked { chunk_shape, index } => {
            let elem = ds.element_size().map_err(|e| corrupt(path, &e))?;
            let chunk_bytes = chunk_shape.iter().try_fold(elem, |acc, &d| acc.checked_mul(d));
            let limit = len.saturating_mul(MAX_EXPANSION as u64).saturating_add(4096);
            if chunk_bytes.is_none_or(|b| b > limit) {
                return Err(bad(format!(
                    "a chunk of shape {chunk_shape:?} would decode to more than {limit} bytes"
                )));
            }
            match ds.chunks() {
                Ok(chunks) => {
                    for c in chunks {
                        if c.address.checked_add(c.storage_size).is_none_or(|end| end > len) {
                            return Err(bad(format!(
                                "the chunk at offset {} records {} stored bytes, ending beyond the file",
                                c.address, c.storage_size
                            )));
                        }
                    }
                }
                // hdf5-pure cannot list the chunks of a version-2 B-tree index; its
                // reader still checks those reads.
                Err(_) if index == ChunkIndex::BTreeV2 => {}
                Err(e) => return Err(corrupt(path, &e)),
            }
        }
        _ => {}
    }
    Ok(())
}

fn to_usize(n: u64, path: &Path) -> Result<usize, DataError> {
    usize::try_from(n).map_err(|_| DataError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("dimension {n} does not fit in memory"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_size_beyond_the_file_is_rejected_before_any_allocation() {
        let path = Path::new("t.h5");
        // The fuzzer's input: a 6,432-byte file whose `labels` declares 12 * 2^40 rows.
        let err = check_declared_size(path, 6432, "labels", 12 << 40, 1, 8).unwrap_err();
        assert!(err.to_string().contains("13194139533312 x 1"), "{err}");
        assert!(check_declared_size(path, 6432, "embeddings", usize::MAX, 2, 4).is_err());
        assert!(check_declared_size(path, 6432, "embeddings", 12, 5, 4).is_ok());
        // The bound: 1100 bytes per stored byte, plus a page.
        assert!(check_declared_size(path, 10, "embeddings", 15_096, 1, 1).is_ok());
        assert!(check_declared_size(path, 10, "embeddings", 15_097, 1, 1).is_err());
    }

    #[test]
    fn a_chunk_recorded_past_the_end_of_the_file_is_rejected_before_reading() {
        let mut bytes = include_bytes!("../tests/fixtures/chunked_gzip.h5").to_vec();
        // The embeddings' chunk index is a version-1 B-tree node of type 1; its first key
        // starts with the chunk's stored size. The fuzzer's input recorded 4 GiB there,
        // which hdf5-pure allocated and zeroed before noticing the file is 12 KB.
        let node = bytes.windows(5).position(|w| w == b"TREE\x01").unwrap();
        bytes[node + 24..node + 28].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = EmbeddingFile::from_bytes(bytes, "t.h5").unwrap_err();
        assert!(matches!(err, DataError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("4294967295 stored bytes"), "{err}");
    }
}
