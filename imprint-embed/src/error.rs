//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or embedding inputs. Each
/// message names the file (and line, tensor or option) and the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// A file or folder could not be read or written.
    #[error("{path}: cannot {action}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What we tried, e.g. "read".
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file or folder the run needs does not exist.
    #[error("{path}: not found")]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// A weights file is not in a format we read, or is damaged.
    #[error("{path}: not a usable weights file: {reason}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong, with the byte offset where it applies.
        reason: String,
    },
    /// The weights path is not what the model reads (e.g. a `.pth` file given to
    /// MiniLM, or a folder given to EfficientNet-Lite).
    #[error("{path}: expected {expected}; found {found}")]
    UnexpectedWeights {
        /// The path given.
        path: PathBuf,
        /// What the model reads.
        expected: &'static str,
        /// What the path is.
        found: String,
    },
    /// A tensor the model needs is absent from the weights.
    #[error("{path}: the weights have no tensor `{name}` (is this the right model's file?)")]
    MissingTensor {
        /// The weights file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// A tensor has another shape or element type than the model needs.
    #[error("{path}: tensor `{name}` is {found}, expected {expected} (is this the right model's file?)")]
    TensorMismatch {
        /// The weights file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// What the file holds, e.g. "f32 [32, 3, 3, 3]".
        found: String,
        /// What the model needs.
        expected: String,
    },
    /// `tokenizer.json` could not be loaded or a text could not be tokenized.
    #[error("{path}: tokenizer: {reason}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// The tokenizer library's message.
        reason: String,
    },
    /// An image could not be decoded.
    #[error("{path}: cannot decode image: {reason}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's message, or the unsupported format.
        reason: String,
    },
    /// An input that is not read: not a regular file, over a size or memory limit,
    /// a name that is not UTF-8, or a folder link that leads out of its class folder.
    #[error("{path}: not read: {reason}")]
    Refused {
        /// The file or folder.
        path: PathBuf,
        /// Why, with the limit where one applies.
        reason: String,
    },
    /// An input list or text file has a malformed line.
    #[error("{path}:{line}: {reason}")]
    InputLine {
        /// The list, text or CSV file.
        path: PathBuf,
        /// The 1-based line (or CSV record) number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The input holds nothing to embed.
    #[error("{path}: {reason}")]
    EmptyInput {
        /// The folder or file.
        path: PathBuf,
        /// Why nothing was found, e.g. "no class sub-folders".
        reason: String,
    },
    /// Every input was bad and skipped, so there is no row to write.
    #[error("{path}: all {n_skipped} inputs were unreadable and skipped; nothing to write (first: {first})")]
    AllSkipped {
        /// The input folder or file.
        path: PathBuf,
        /// How many were skipped.
        n_skipped: usize,
        /// The first problem, naming its file.
        first: String,
    },
    /// The output file exists and overwriting was not asked for.
    #[error("{path}: already exists (pass overwrite to replace it)")]
    AlreadyExists {
        /// The output file.
        path: PathBuf,
    },
    /// Another run is writing the same output: it holds the resume file locked.
    #[error(
        "{path}: another run is writing this output ({partial} is locked); wait for it to finish or choose another output"
    )]
    Busy {
        /// The output file.
        path: PathBuf,
        /// Its resume file, which the other run holds.
        partial: PathBuf,
    },
    /// A model name that is not one of the supported models.
    #[error("unknown model `{name}`; choose one of {choices}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The supported names.
        choices: &'static str,
    },
    /// An image model was asked to embed text or the other way round.
    #[error("model `{model}` embeds {embeds}, not {asked}")]
    WrongModality {
        /// The model's name.
        model: &'static str,
        /// "images" or "text".
        embeds: &'static str,
        /// What was asked for.
        asked: &'static str,
    },
    /// An option is out of range.
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// An array handed to a model has the wrong shape.
    #[error("{op}: input has shape {found:?}, expected {expected}")]
    Shape {
        /// The operation, e.g. "EfficientNetLite::embed".
        op: &'static str,
        /// The shape given.
        found: Vec<usize>,
        /// The shape needed, in words.
        expected: String,
    },
    /// The worker thread pool could not be started.
    #[error("cannot start {threads} worker threads: {reason}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// rayon's message.
        reason: String,
    },
    /// A model produced a non-finite value (corrupt weights).
    #[error("{path}: non-finite embedding; the weights may be corrupt")]
    NonFinite {
        /// The input whose embedding is not finite.
        path: PathBuf,
    },
    /// Writing the output file failed.
    #[error(transparent)]
    Data(#[from] imprint_data::DataError),
}

pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> EmbedError {
    let path = path.into();
    if source.kind() == std::io::ErrorKind::NotFound {
        EmbedError::NotFound { path }
    } else {
        EmbedError::Io { path, action, source }
    }
}
