//! The one error type of the framework crates.

use thiserror::Error;

/// Result alias used throughout the framework crates.
pub type Result<T, E = ImprintError> = std::result::Result<T, E>;

/// Everything that can go wrong when imprinting or classifying.
///
/// Every variant names the input (`what`) or the operation it concerns, so the
/// message alone tells a user which of their arrays or settings to fix.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ImprintError {
    /// An array that must hold at least one row holds none.
    #[error("{what} is empty: it has no rows")]
    Empty {
        /// The input, e.g. "shots of class 3".
        what: String,
    },
    /// An array has zero columns.
    #[error("{what} has zero columns; embeddings need at least one feature")]
    ZeroDim {
        /// The input.
        what: String,
    },
    /// A NaN or infinite value.
    #[error("{what} holds a non-finite value ({value}) at row {row}, column {col}")]
    NonFinite {
        /// The input.
        what: String,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
        /// The value itself.
        value: f32,
    },
    /// L2 normalization met an all-zero vector under [`crate::ZeroVectorPolicy::Reject`].
    #[error(
        "{what}: row {row} is an all-zero vector and cannot be L2-normalized \
         (choose ZeroVectorPolicy::KeepZero to leave it as zeros)"
    )]
    ZeroVector {
        /// The input.
        what: String,
        /// The offending row.
        row: usize,
    },
    /// Two arrays that must agree in shape do not.
    #[error("{op}: dimension mismatch, expected {expected} but got {got}")]
    DimensionMismatch {
        /// The operation, e.g. "ImprintedHead::scores".
        op: &'static str,
        /// What the operation expected.
        expected: String,
        /// What it got.
        got: String,
    },
    /// A parameter outside its valid range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name, e.g. "k".
        name: &'static str,
        /// The value given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A stage, distance or weighting name that does not exist.
    #[error("unknown {kind} '{name}'; known: {}", known.join(", "))]
    UnknownName {
        /// What kind of name, e.g. "proxy generator".
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A class index that is not in the head.
    #[error("unknown class {class}: the head has {n_classes} classes")]
    UnknownClass {
        /// The index given.
        class: usize,
        /// Number of classes in the head.
        n_classes: usize,
    },
    /// A numerical routine failed (e.g. a singular system).
    #[error("{op} failed: {reason}")]
    Numerical {
        /// The operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// A proxy generator broke its contract (wrong shape, too many proxies, NaN).
    #[error("proxy generator '{name}' broke its contract: {reason}")]
    GeneratorContract {
        /// The generator's name.
        name: String,
        /// What it did wrong.
        reason: String,
    },
    /// A saved head could not be read.
    #[error("saved head: {reason}")]
    SavedHead {
        /// What is wrong with it.
        reason: String,
    },
}

impl ImprintError {
    /// Shorthand for [`ImprintError::InvalidParameter`].
    pub fn invalid(name: &'static str, value: impl ToString, reason: impl Into<String>) -> Self {
        Self::InvalidParameter { name, value: value.to_string(), reason: reason.into() }
    }

    /// Shorthand for [`ImprintError::DimensionMismatch`].
    pub fn mismatch(op: &'static str, expected: impl ToString, got: impl ToString) -> Self {
        Self::DimensionMismatch { op, expected: expected.to_string(), got: got.to_string() }
    }
}

/// Conversions that cannot fail (`From` impls seen through `TryFrom`), so
/// that generic code can take any `TryInto<T>` whose error becomes an
/// `ImprintError`.
impl From<std::convert::Infallible> for ImprintError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
