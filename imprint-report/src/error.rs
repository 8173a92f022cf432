//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while rendering or writing a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A file could not be read or a folder created.
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
    /// A file of the report could not be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: imprint_data::DataError,
    },
    /// An input file (e.g. `neural_collapse.json`) is not what it should be.
    #[error("{path}: {reason}")]
    CorruptFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// JSON serialization failed.
    #[error("{path}: cannot serialize: {source}")]
    Serialize {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// Inputs to a statistical routine are unusable.
    #[error("{test}: {reason}")]
    Stats {
        /// The routine, e.g. "wilcoxon" or "friedman".
        test: &'static str,
        /// What is wrong with its input.
        reason: String,
    },
    /// Records could not be read.
    #[error(transparent)]
    Records(#[from] imprint_compat::CompatError),
}

/// Shorthand for results with [`ReportError`].
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
