//! Provenance attributes stored on an embedding file's root group.

use std::collections::BTreeMap;
use std::fmt;

/// One attribute value: the scalar kinds provenance needs, and lists of strings
/// (e.g. the class names of an embedding file, in label order).
///
/// Reading maps every HDF5 string kind to [`AttrValue::Text`], every one-dimensional
/// string array to [`AttrValue::TextList`], every integer kind that fits `i64` to
/// [`AttrValue::Int`] and both float widths to [`AttrValue::Float`]; attributes of other
/// kinds (numeric arrays, compounds) are skipped.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttrValue {
    /// A UTF-8 string.
    Text(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A list of UTF-8 strings, written as a variable-length string array (h5py reads
    /// it as an array of `str`).
    TextList(Vec<String>),
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Text(s) => f.write_str(s),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Float(x) => write!(f, "{x}"),
            AttrValue::TextList(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item:?}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Text(s.to_owned())
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Text(s)
    }
}

impl From<i64> for AttrValue {
    fn from(i: i64) -> Self {
        AttrValue::Int(i)
    }
}

impl From<f64> for AttrValue {
    fn from(x: f64) -> Self {
        AttrValue::Float(x)
    }
}

impl From<Vec<String>> for AttrValue {
    fn from(items: Vec<String>) -> Self {
        AttrValue::TextList(items)
    }
}

/// The attribute with an embedding file's class names in label order
/// (`imprint embed` writes it; `imprint fit/predict` label rows with it).
pub const LABEL_NAMES: &str = "label_names";

/// Attributes by name, in name order.
pub type Attributes = BTreeMap<String, AttrValue>;

/// Converts a value read by hdf5-pure; `None` for kinds we do not expose.
pub(crate) fn from_hdf5(value: hdf5_pure::AttrValue) -> Option<AttrValue> {
    use hdf5_pure::AttrValue as H;
    Some(match value {
        H::String(s)
        | H::AsciiString(s)
        | H::VarLenString(s)
        | H::StringSized { value: s, .. }
        | H::AsciiStringSized { value: s, .. } => AttrValue::Text(s),
        H::I8(i) => AttrValue::Int(i.into()),
        H::I16(i) => AttrValue::Int(i.into()),
        H::I32(i) => AttrValue::Int(i.into()),
        H::I64(i) => AttrValue::Int(i),
        H::U8(i) => AttrValue::Int(i.into()),
        H::U16(i) => AttrValue::Int(i.into()),
        H::U32(i) => AttrValue::Int(i.into()),
        H::U64(i) => AttrValue::Int(i64::try_from(i).ok()?),
        H::F32(x) => AttrValue::Float(x.into()),
        H::F64(x) => AttrValue::Float(x),
        H::StringArray(items)
        | H::AsciiStringArray(items)
        | H::VarLenStringArray(items)
        | H::VarLenAsciiStringArray(items)
        | H::StringArraySized { values: items, .. }
        | H::AsciiStringArraySized { values: items, .. } => AttrValue::TextList(items),
        _ => return None,
    })
}

/// Converts for writing. Strings are written as variable-length UTF-8, as h5py does.
pub(crate) fn to_hdf5(value: &AttrValue) -> hdf5_pure::AttrValue {
    match value {
        AttrValue::Text(s) => hdf5_pure::AttrValue::VarLenString(s.clone()),
        AttrValue::Int(i) => hdf5_pure::AttrValue::I64(*i),
        AttrValue::Float(x) => hdf5_pure::AttrValue::F64(*x),
        AttrValue::TextList(items) => hdf5_pure::AttrValue::VarLenStringArray(items.clone()),
    }
}
