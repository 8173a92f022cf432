//! The crate's error type.

use std::fmt;
use std::path::PathBuf;

/// Where a set of embeddings came from, so that every validation error names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Read from (or about to be written to) this file.
    File(PathBuf),
    /// Built in memory, e.g. by [`Embeddings::new`](crate::Embeddings::new).
    Memory,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Memory => f.write_str("in-memory embeddings"),
        }
    }
}

/// Everything that can go wrong reading, writing, validating or combining embeddings.
///
/// File errors name the file; task errors name the task and the class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist.
    #[error("{}: file not found", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// Any other I/O failure while reading or writing a file.
    #[error("{}: {action} failed: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What was being done, e.g. "read" or "rename".
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file to be replaced is a folder, FIFO, socket or device.
    #[error("{}: is {what}, not a regular file; refusing to replace it", path.display())]
    NotRegularFile {
        /// The path given.
        path: PathBuf,
        /// What it is ([`crate::file_kind`]), e.g. "a FIFO (named pipe)".
        what: &'static str,
    },
    /// Another process held the lock on a file for longer than the wait allowed.
    #[error("{}: another process is updating this file; gave up after waiting {waited:.1} s", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
        /// Seconds waited.
        waited: f64,
    },
    /// The file has zero bytes.
    #[error("{}: file is empty (0 bytes)", path.display())]
    EmptyFile {
        /// The empty file.
        path: PathBuf,
    },
    /// The bytes are not a readable HDF5 file (truncated, corrupt, or another format).
    #[error("{}: not a readable HDF5 file: {reason}", path.display())]
    Corrupt {
        /// The unreadable file.
        path: PathBuf,
        /// What the HDF5 reader reported.
        reason: String,
    },
    /// A valid HDF5 file using a format feature the reader does not support.
    #[error("{}: unsupported HDF5 feature: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported and how to convert the file.
        reason: String,
    },
    /// A required dataset is absent.
    #[error("{}: dataset `{dataset}` is missing", path.display())]
    MissingDataset {
        /// The file.
        path: PathBuf,
        /// The missing dataset's name.
        dataset: &'static str,
    },
    /// A dataset has an element type we do not accept.
    #[error("{}: dataset `{dataset}` has element type {found}, expected {expected}", path.display())]
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// The dataset's name.
        dataset: &'static str,
        /// The stored element type.
        found: String,
        /// The accepted element type(s).
        expected: &'static str,
    },
    /// A dataset has the wrong number of dimensions.
    #[error("{}: dataset `{dataset}` has shape {shape:?}, expected rank {expected}", path.display())]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// The dataset's name.
        dataset: &'static str,
        /// The stored shape.
        shape: Vec<u64>,
        /// The expected rank.
        expected: usize,
    },
    /// Embeddings and labels disagree on the number of samples.
    #[error("{origin}: {n_rows} embedding rows but {n_labels} labels")]
    LengthMismatch {
        /// Where the data came from.
        origin: Origin,
        /// Rows of the embedding matrix.
        n_rows: usize,
        /// Number of labels.
        n_labels: usize,
    },
    /// There are no samples.
    #[error("{origin}: no samples (zero rows)")]
    ZeroRows {
        /// Where the data came from.
        origin: Origin,
    },
    /// The embedding dimension is zero.
    #[error("{origin}: embedding dimension is zero")]
    ZeroDim {
        /// Where the data came from.
        origin: Origin,
    },
    /// An embedding entry is NaN or infinite.
    #[error("{origin}: non-finite value {value} at row {row}, column {col} (first bad row)")]
    NonFinite {
        /// Where the data came from.
        origin: Origin,
        /// The first row holding a non-finite value.
        row: usize,
        /// Its first non-finite column.
        col: usize,
        /// The offending value.
        value: f32,
    },
    /// A label is negative or too large for the requested representation.
    #[error("{origin}: label {label} at row {row} is out of range ({reason})")]
    LabelOutOfRange {
        /// Where the data came from.
        origin: Origin,
        /// The row of the label.
        row: usize,
        /// The label value.
        label: i64,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// Writing would replace an existing file and overwriting was not allowed.
    #[error("{}: already exists (pass overwrite to replace it)", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The HDF5 writer rejected the data.
    #[error("{}: cannot encode HDF5: {reason}", path.display())]
    Encode {
        /// The destination file.
        path: PathBuf,
        /// What the writer reported.
        reason: String,
    },
    /// Datasets combined into one task have different embedding dimensions.
    #[error("task `{task}`: dataset `{dataset}` has dimension {found}, but earlier data has {expected}")]
    DimMismatch {
        /// The task.
        task: String,
        /// The dataset whose dimension differs.
        dataset: String,
        /// Its dimension.
        found: usize,
        /// The dimension of the data before it.
        expected: usize,
    },
    /// A label plus the label offset of the data sets before it does not fit in `usize`.
    #[error(
        "task `{task}`: label {label} of dataset `{dataset}` ({split}) plus the offset {offset} \
         of the datasets before it overflows"
    )]
    LabelOverflow {
        /// The task.
        task: String,
        /// The dataset holding the label.
        dataset: String,
        /// "train" or "test".
        split: &'static str,
        /// The label as stored.
        label: usize,
        /// The offset added to it.
        offset: usize,
    },
    /// A task was given no source datasets.
    #[error("task `{task}`: no datasets given")]
    NoDatasets {
        /// The task.
        task: String,
    },
    /// A label mapping is malformed (e.g. one label mapped to two targets).
    #[error("invalid label mapping: {reason}")]
    InvalidMapping {
        /// What is wrong.
        reason: String,
    },
    /// A task split is malformed (empty, or a label listed twice).
    #[error("task `{task}`: invalid task split: {reason}")]
    InvalidSplit {
        /// The task.
        task: String,
        /// What is wrong.
        reason: String,
    },
    /// A class of the task has no samples in one split after mapping and splitting.
    #[error("task `{task}`: class {label} has no {split} samples after label mapping and task split")]
    EmptyClass {
        /// The task.
        task: String,
        /// The class label (after offsets and mapping).
        label: usize,
        /// "train" or "test".
        split: &'static str,
    },
    /// The task is left without any data in one split.
    #[error("task `{task}`: no {split} samples left after label mapping and task split")]
    EmptyTask {
        /// The task.
        task: String,
        /// "train" or "test".
        split: &'static str,
    },
    /// A few-shot count that would leave every class empty, or is otherwise invalid.
    #[error("invalid few-shot count {value}: expected -1 (all) or a positive number")]
    InvalidShots {
        /// The rejected value.
        value: i64,
    },
    /// Presampling (the reference's `weibull` filter or few-shot draw) cannot
    /// be applied to a class.
    #[error("{what}: {reason}")]
    Presampling {
        /// The class or data, e.g. "class 3 (weibull presampling)".
        what: String,
        /// What went wrong.
        reason: String,
    },
    /// A parameter of a generator or helper is out of its valid range.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Its value, formatted.
        value: String,
        /// The constraint it violates.
        reason: &'static str,
    },
}
