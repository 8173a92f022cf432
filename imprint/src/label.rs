//! Class labels of the caller's type: integers or strings.

use std::fmt;

use imprint_core::{ImprintError, Result};
use serde::{Deserialize, Serialize};

/// The label of a class, as the caller gave it: an integer (HDF5 and NumPy
/// label arrays) or a string (CSV columns, folder names, Python objects).
///
/// A classifier's labels are all of one kind. Integers sort before strings
/// only in mixed collections, which a classifier never holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassLabel {
    /// An integer label.
    Int(i64),
    /// A string label.
    Text(String),
}

impl ClassLabel {
    /// The integer, for an integer label.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            Self::Text(_) => None,
        }
    }

    /// The string, for a string label.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Int(_) => None,
            Self::Text(s) => Some(s),
        }
    }

    /// `"int"` or `"text"`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Int(_) => "int",
            Self::Text(_) => "text",
        }
    }
}

impl fmt::Display for ClassLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for ClassLabel {
            fn from(v: $t) -> Self {
                Self::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<usize> for ClassLabel {
    /// Labels above `i64::MAX` cannot be saved; they saturate (no real data
    /// set has that many classes).
    fn from(v: usize) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<&str> for ClassLabel {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for ClassLabel {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&String> for ClassLabel {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}

impl From<&ClassLabel> for ClassLabel {
    fn from(v: &ClassLabel) -> Self {
        v.clone()
    }
}

/// Checks that `labels` are all of one kind (all integers or all strings).
pub(crate) fn check_one_kind<'a>(labels: impl IntoIterator<Item = &'a ClassLabel>, what: &str) -> Result<()> {
    let mut kind = None;
    for label in labels {
        match kind {
            None => kind = Some(label.kind()),
            Some(k) if k != label.kind() => {
                return Err(ImprintError::invalid(
                    "labels",
                    label,
                    format!("{what} mix integer and string labels; use one kind"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_display_and_kinds() {
        assert_eq!(ClassLabel::from(3u8), ClassLabel::Int(3));
        assert_eq!(ClassLabel::from("cat").to_string(), "cat");
        assert_eq!(ClassLabel::from(-2i32).as_int(), Some(-2));
        assert_eq!(ClassLabel::from("x").as_text(), Some("x"));
        assert!(check_one_kind(&[ClassLabel::from(1), ClassLabel::from(2)], "y").is_ok());
        let err = check_one_kind(&[ClassLabel::from(1), ClassLabel::from("a")], "y").unwrap_err();
        assert!(err.to_string().contains("mix"), "{err}");
        let json = serde_json::to_string(&[ClassLabel::from(4), ClassLabel::from("b")]).unwrap();
        assert_eq!(json, r#"[4,"b"]"#);
        assert_eq!(serde_json::from_str::<Vec<ClassLabel>>(&json).unwrap()[1], ClassLabel::from("b"));
    }
}
