//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading configs, building the grid,
/// parsing shards or reading records.
///
/// Every variant names the file, key or value involved and the problem, so a
/// message alone is enough to fix the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompatError {
    /// A file could not be read or listed.
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What we tried to do ("read", "list", ...).
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A config file is not valid UTF-8.
    #[error("{source_name}: not valid UTF-8 (byte offset {offset})")]
    NotUtf8 {
        /// The config file (or a caller-chosen name for in-memory text).
        source_name: String,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A config file is larger than we are willing to parse.
    #[error("{source_name}: config is {size} bytes, more than the limit of {limit} bytes")]
    ConfigTooLarge {
        /// The config file.
        source_name: String,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A config file holds nothing (or only comments and whitespace).
    #[error("{source_name}: config is empty")]
    EmptyConfig {
        /// The config file.
        source_name: String,
    },
    /// The YAML text is malformed, or uses a feature we refuse (aliases, tags,
    /// several documents, nesting deeper than the limit, duplicate keys).
    #[error("{source_name}:{line}:{column}: YAML error: {message}")]
    Yaml {
        /// The config file.
        source_name: String,
        /// 1-based line of the problem (in the text after comment stripping).
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A top-level key that the reference does not know.
    #[error("{source_name}: unknown key {key:?}; known keys: {known}")]
    UnknownKey {
        /// The config file.
        source_name: String,
        /// The offending key.
        key: String,
        /// The known keys, comma separated.
        known: String,
    },
    /// A required key is missing and the reference's default is unusable.
    #[error("{source_name}: key {key:?} is missing: {reason}")]
    MissingKey {
        /// The config file.
        source_name: String,
        /// The missing key.
        key: &'static str,
        /// Why there is no usable default.
        reason: &'static str,
    },
    /// A value has the wrong YAML type.
    #[error("{source_name}: {key}: expected {expected}, found {found}")]
    WrongType {
        /// The config file.
        source_name: String,
        /// Path of the value, e.g. `ks[2]` or `label_remappings.combined`.
        key: String,
        /// The expected type.
        expected: &'static str,
        /// A short rendering of what was found.
        found: String,
    },
    /// A value has the right type but is not allowed (out of range, empty
    /// list, unknown method name, ...).
    #[error("{source_name}: {key}: invalid value {value}: {reason}")]
    InvalidValue {
        /// The config file (or the caller, for values not from a file).
        source_name: String,
        /// Path of the value.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong, and what is allowed.
        reason: String,
    },
    /// A shard specification ("I/N" or an environment variable) is malformed.
    #[error("shard {spec:?}: {reason}")]
    InvalidShard {
        /// The specification as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// A record file is not valid JSON or lacks / mistypes a field.
    #[error("{path}: corrupt record: {reason}")]
    CorruptRecord {
        /// The record file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Shorthand for results with [`CompatError`].
pub type Result<T, E = CompatError> = std::result::Result<T, E>;
