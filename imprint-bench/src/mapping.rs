//! Label mappings: `{original label: new label}` in file order.

use crate::pyjson::PyJson;

/// A label mapping of a task, e.g. CombiDigits' `{0: 0, 10: 0, 20: 0, ...}`
/// or an ImageNet "m in 1" remapping. Entries keep the order of the config
/// file (the reference's `label_mapping_desc` lists them in that order);
/// original labels are unique. A new label of `-1` means "drop this class"
/// in the reference's description. An empty mapping means "no remapping".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LabelMapping {
    entries: Vec<(i64, i64)>,
}

impl LabelMapping {
    /// A mapping from `(original, new)` pairs in order; `None` if an
    /// original label occurs twice.
    pub fn new(entries: Vec<(i64, i64)>) -> Option<Self> {
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        if entries.iter().all(|(k, _)| seen.insert(*k)) { Some(Self { entries }) } else { None }
    }

    /// The `(original, new)` pairs in file order.
    pub fn entries(&self) -> &[(i64, i64)] {
        &self.entries
    }

    /// Whether the mapping is empty (no remapping).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The new label of `original`, if listed.
    pub fn get(&self, original: i64) -> Option<i64> {
        self.entries.iter().find(|(k, _)| *k == original).map(|(_, v)| *v)
    }

    /// The reference's `generate_label_mapping_desc`: `"k->v"` for every
    /// entry with `v != -1`, in order, joined by `" & "` (empty for `{}`).
    pub fn description(&self) -> String {
        self.entries
            .iter()
            .filter(|(_, v)| *v != -1)
            .map(|(k, v)| format!("{k}->{v}"))
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// The Python value (`dict` with `int` keys) for hashing.
    pub fn to_py_json(&self) -> PyJson {
        PyJson::IntDict(self.entries.iter().map(|&(k, v)| (k, PyJson::Int(v))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_like_the_reference() {
        let m = LabelMapping::new(vec![(0, 0), (10, 0), (3, -1), (1, 1)]).unwrap();
        assert_eq!(m.description(), "0->0 & 10->0 & 1->1");
        assert_eq!(LabelMapping::default().description(), "");
        assert!(LabelMapping::new(vec![(1, 0), (1, 1)]).is_none());
        assert_eq!(m.get(10), Some(0));
    }
}
