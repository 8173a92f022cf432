//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while running a grid, writing records or
/// reproducing the paper's tables.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A file could not be read, written or listed, or a folder created.
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What we tried to do.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record file exists and overwriting was not requested.
    #[error("{path}: record already exists (set overwrite to replace it)")]
    RecordExists {
        /// The existing record file.
        path: PathBuf,
    },
    /// Loading embeddings, building a task or writing a file failed (the
    /// message names the file, or the task and class).
    #[error("{context}: {source}")]
    Data {
        /// Which combination, data set or file was being handled.
        context: String,
        /// The underlying error.
        #[source]
        source: imprint_data::DataError,
    },
    /// Imprinting or classifying failed.
    #[error("{context}: {source}")]
    Imprint {
        /// Which combination was running.
        context: String,
        /// The underlying error.
        #[source]
        source: imprint_core::ImprintError,
    },
    /// A combination cannot be run as asked (e.g. no lambda for a backbone,
    /// a presampling method that is not available).
    #[error("{context}: {reason}")]
    Unsupported {
        /// Which combination or setting.
        context: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// An option of a run is invalid (e.g. zero threads, a malformed lambda).
    #[error("{option} {value:?}: {reason}")]
    InvalidOption {
        /// The option, e.g. `--threads`.
        option: String,
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A config, grid, shard or record problem.
    #[error(transparent)]
    Compat(#[from] imprint_compat::CompatError),
    /// Rendering or writing the report failed.
    #[error(transparent)]
    Report(#[from] imprint_report::ReportError),
}

/// Shorthand for results with [`BenchError`].
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
