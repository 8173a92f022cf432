//! The one error type of the command line.

use std::path::PathBuf;

use imprint::ImprintError;
use imprint_data::DataError;

/// Everything that can make an `imprint` command fail.
///
/// Each message is one line that names the file (or the argument) and the
/// problem; [`CliError::exit_code`] is 2 for usage errors and 1 for the rest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// An HDF5 embedding file or an atomic write failed (the message names the file).
    #[error(transparent)]
    Data(#[from] DataError),
    /// Embedding extraction failed (the message names the file or the input).
    #[cfg(feature = "embed")]
    #[error(transparent)]
    Embed(#[from] imprint_embed::EmbedError),
    /// An input file (`.npy`, CSV, labels) is missing, unreadable or malformed.
    #[error("{}: {reason}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A head file could not be read or is not a valid head.
    #[error("{}: {source}", path.display())]
    Head {
        /// The head file.
        path: PathBuf,
        /// What the library reported.
        #[source]
        source: ImprintError,
    },
    /// The library refused the data or the setting.
    #[error("{context}: {source}")]
    Imprint {
        /// What was being done, naming the files involved.
        context: String,
        /// What the library reported.
        #[source]
        source: ImprintError,
    },
    /// An output file exists and `--force` was not given.
    #[error("{}: already exists; pass --force to replace it", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// Another process kept the head locked for longer than `--wait`.
    #[error(
        "{}: another process is updating this head; gave up after waiting {waited:.1} s (pass --wait SECONDS \
         to wait longer)",
        path.display()
    )]
    Locked {
        /// The head file.
        path: PathBuf,
        /// Seconds waited.
        waited: f64,
    },
    /// Reading or writing a file failed.
    #[error("{}: {action} failed: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Writing results to standard output failed.
    #[error("cannot write to standard output: {0}")]
    Stdout(#[source] std::io::Error),
    /// A bug: something the command line should never meet.
    #[error("internal error (please report it): {0}")]
    Internal(String),
    /// Arguments that do not fit together (exit code 2, like clap's own errors).
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// The process exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }

    /// An [`CliError::Input`] error.
    pub fn input(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Input { path: path.into(), reason: reason.into() }
    }

    /// An [`CliError::Imprint`] error with its context.
    pub fn imprint(context: impl Into<String>) -> impl FnOnce(ImprintError) -> Self {
        let context = context.into();
        move |source| Self::Imprint { context, source }
    }

    /// The error of an atomic write: an existing file is [`CliError::Exists`].
    pub fn from_write(e: DataError) -> Self {
        match e {
            DataError::AlreadyExists { path } => Self::Exists { path },
            other => Self::Data(other),
        }
    }

    /// The message as one line (newlines of nested messages become `; `),
    /// with the other control and invisible characters of labels and file
    /// names escaped for the terminal ([`crate::text::escape`]).
    pub fn one_line(&self) -> String {
        let text = self.to_string();
        let line =
            text.split(['\n', '\r']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("; ");
        crate::text::escape(&line).into_owned()
    }
}

/// Result alias of the command line.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
