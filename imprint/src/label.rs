//! Class labels of the caller's type: integers or strings.

use std::fmt;

use imprint_core::{ImprintError, Result};
use serde::{Deserialize, Serialize};

/// The label of a class, as the caller gave it: an integer (HDF5 and NumPy
/// label arrays) or a string (CSV columns, folder names, Python objects).
///
/// Every integer type converts: signed ones and `u8` to `u32` with `From`,
/// `u64` and `usize` with `TryFrom`, which refuses values above `i64::MAX`.
/// Methods that take labels (`Classifier::fit`, ...) accept any type that
/// converts either way.
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

impl TryFrom<u64> for ClassLabel {
    type Error = ImprintError;

    /// An integer label, refused above `i64::MAX` (the largest label a head
    /// holds): saturating would make distinct labels one class.
    fn try_from(v: u64) -> Result<Self> {
        i64::try_from(v).map(Self::Int).map_err(|_| {
            ImprintError::invalid(
                "label",
                v,
                format!("integer labels must be at most {} (a signed 64-bit integer)", i64::MAX),
            )
        })
    }
}

impl TryFrom<usize> for ClassLabel {
    type Error = ImprintError;

    /// As [`ClassLabel::try_from`] for `u64`.
    fn try_from(v: usize) -> Result<Self> {
        // usize is at most 64 bits on every target Rust supports.
        Self::try_from(u64::try_from(v).unwrap_or(u64::MAX))
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

    #[test]
    fn unsigned_labels_above_i64_max_are_refused_not_merged() {
        let max = i64::MAX.unsigned_abs();
        assert_eq!(ClassLabel::try_from(max).unwrap(), ClassLabel::Int(i64::MAX));
        assert_eq!(ClassLabel::try_from(7usize).unwrap(), ClassLabel::Int(7));
        for big in [max + 1, u64::MAX] {
            let err = ClassLabel::try_from(big).unwrap_err().to_string();
            assert!(err.contains(&big.to_string()) && err.contains("at most 9223372036854775807"), "{err}");
            let err = ClassLabel::try_from(usize::try_from(big).unwrap()).unwrap_err().to_string();
            assert!(err.contains(&big.to_string()), "{err}");
        }
        // Two labels above i64::MAX are not one class: the fit is refused.
        let x = ndarray::array![[1.0f32, 0.0], [0.0, 1.0]];
        let recipe = crate::Recipe::paper().with_generator(crate::GeneratorSpec::new("mean", None));
        let y = [usize::try_from(max + 1).unwrap(), usize::try_from(max + 2).unwrap()];
        let err = crate::Classifier::fit(recipe.clone(), x.view(), &y).unwrap_err().to_string();
        assert!(err.contains("9223372036854775808"), "{err}");
        let head = crate::Classifier::fit(recipe, x.view(), &[max - 1, max]).unwrap();
        assert_eq!(head.classes(), &[ClassLabel::Int(i64::MAX - 1), ClassLabel::Int(i64::MAX)]);
    }
}
