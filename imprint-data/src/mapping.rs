//! Label mappings: relabel, merge ("m in 1") and drop classes.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::DataError;

/// A map from old labels (after data-set offsets) to new labels, in the order
/// it was written (the reference's `label_remappings` entries).
///
/// Labels that are not listed are dropped, as in the reference (which maps them
/// to -1); an entry may also drop a label explicitly (the reference's target
/// `-1`). Several old labels may share a new label, merging classes ("m in 1"
/// tasks). The empty mapping is the identity: no remapping at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LabelMapping {
    /// `(old, Some(new))`, or `(old, None)` to drop `old`, in the given order.
    entries: Vec<(usize, Option<usize>)>,
    /// The same entries by old label, for lookups.
    lookup: BTreeMap<usize, Option<usize>>,
}

impl LabelMapping {
    /// No remapping: every label keeps its value.
    pub fn identity() -> Self {
        Self::default()
    }

    /// Builds a mapping from `(old, new)` pairs, keeping their order.
    ///
    /// # Errors
    /// [`DataError::InvalidMapping`] when an old label is mapped to two different new
    /// labels, or when no pair is given (an empty list of pairs would drop everything;
    /// use [`LabelMapping::identity`] for no remapping).
    pub fn new(pairs: impl IntoIterator<Item = (usize, usize)>) -> Result<Self, DataError> {
        let mapping = Self::from_entries(pairs.into_iter().map(|(o, n)| (o, Some(n))))?;
        if mapping.is_identity() {
            return Err(DataError::InvalidMapping {
                reason: "the mapping is empty and would drop every label".into(),
            });
        }
        Ok(mapping)
    }

    /// A mapping as the reference's config files write it: `(old, new)` with
    /// `new = -1` dropping `old`, in file order; no entries is the identity.
    ///
    /// # Errors
    /// [`DataError::InvalidMapping`] for a negative old label, a new label below -1,
    /// or an old label listed twice with different targets.
    pub fn from_reference(entries: impl IntoIterator<Item = (i64, i64)>) -> Result<Self, DataError> {
        let entries: Vec<(usize, Option<usize>)> = entries
            .into_iter()
            .map(|(old, new)| {
                let old = usize::try_from(old).map_err(|_| DataError::InvalidMapping {
                    reason: format!("original label {old} is negative"),
                })?;
                let new = match new {
                    -1 => None,
                    n => Some(usize::try_from(n).map_err(|_| DataError::InvalidMapping {
                        reason: format!("label {old} is mapped to {n}; targets are labels >= 0 or -1 (drop)"),
                    })?),
                };
                Ok((old, new))
            })
            .collect::<Result<_, DataError>>()?;
        Self::from_entries(entries)
    }

    fn from_entries(entries: impl IntoIterator<Item = (usize, Option<usize>)>) -> Result<Self, DataError> {
        let mut mapping = Self::identity();
        for (old, new) in entries {
            match mapping.lookup.insert(old, new) {
                Some(prev) if prev != new => {
                    let show =
                        |n: Option<usize>| n.map_or_else(|| "-1 (drop)".to_string(), |n| n.to_string());
                    return Err(DataError::InvalidMapping {
                        reason: format!("label {old} is mapped to both {} and {}", show(prev), show(new)),
                    });
                }
                Some(_) => {}
                None => mapping.entries.push((old, new)),
            }
        }
        Ok(mapping)
    }

    /// Merges each group of old labels into one new label: group `j` becomes label `j`.
    ///
    /// # Errors
    /// [`DataError::InvalidMapping`] when a label appears in two groups, a group is
    /// empty, or there are no groups.
    pub fn from_groups(groups: &[Vec<usize>]) -> Result<Self, DataError> {
        if let Some(j) = groups.iter().position(Vec::is_empty) {
            return Err(DataError::InvalidMapping { reason: format!("group {j} is empty") });
        }
        Self::new(groups.iter().enumerate().flat_map(|(j, g)| g.iter().map(move |&old| (old, j))))
    }

    /// Seeded random "m in 1" mapping, built like the reference's
    /// `RANDOM_CLASS_REMAPPINGS`: shuffle `pool`, cut it into `n_groups` equal blocks, and
    /// merge the first `m` labels of block `j` into new label `j`.
    ///
    /// For one seed and pool, the mapping for `m` is contained in the one for `m + 1`, so a
    /// sweep over `m` adds classes to fixed groups. The draw uses ChaCha8 and therefore
    /// differs from the reference's Python `random` draw.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] when `n_groups` or `m` is zero, or
    /// `n_groups * m` exceeds the block layout (`m > pool.len() / n_groups`);
    /// [`DataError::InvalidMapping`] when `pool` has duplicates.
    pub fn random_m_in_1(pool: &[usize], n_groups: usize, m: usize, seed: u64) -> Result<Self, DataError> {
        if n_groups == 0 {
            return Err(DataError::InvalidParameter {
                name: "n_groups",
                value: "0".into(),
                reason: "need at least one group",
            });
        }
        let block = pool.len() / n_groups;
        if m == 0 || m > block {
            return Err(DataError::InvalidParameter {
                name: "m",
                value: m.to_string(),
                reason: "need 1 <= m <= pool.len() / n_groups",
            });
        }
        let mut shuffled = pool.to_vec();
        shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let groups: Vec<Vec<usize>> =
            (0..n_groups).map(|j| shuffled[j * block..j * block + m].to_vec()).collect();
        let mapping = Self::from_groups(&groups)?;
        if mapping.len() != n_groups * m {
            return Err(DataError::InvalidMapping { reason: "the pool of labels has duplicates".into() });
        }
        Ok(mapping)
    }

    /// The new label of `old`, or `None` if `old` is dropped (the identity
    /// keeps every label).
    pub fn get(&self, old: usize) -> Option<usize> {
        if self.is_identity() { Some(old) } else { self.lookup.get(&old).copied().flatten() }
    }

    /// Every entry in the given order: `(old, Some(new))`, or `(old, None)`
    /// for an explicitly dropped label.
    pub fn entries(&self) -> &[(usize, Option<usize>)] {
        &self.entries
    }

    /// The `(old, new)` pairs that keep a label, in ascending order of the old label.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.lookup.iter().filter_map(|(&o, &n)| n.map(|n| (o, n)))
    }

    /// Number of entries (old labels listed, kept or dropped).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether this is the identity (no entries).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether this is the identity (no entries): no remapping.
    pub fn is_identity(&self) -> bool {
        self.entries.is_empty()
    }

    /// The distinct new labels, ascending.
    pub fn targets(&self) -> Vec<usize> {
        let mut t: Vec<usize> = self.entries.iter().filter_map(|&(_, n)| n).collect();
        t.sort_unstable();
        t.dedup();
        t
    }

    /// The reference's `generate_label_mapping_desc`: `"old->new"` for every
    /// kept entry, in order, joined by `" & "` (empty for the identity).
    pub fn description(&self) -> String {
        self.entries
            .iter()
            .filter_map(|&(o, n)| n.map(|n| format!("{o}->{n}")))
            .collect::<Vec<_>>()
            .join(" & ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_drops() {
        let m = LabelMapping::new([(0, 0), (10, 0), (1, 1)]).unwrap();
        assert_eq!(m.get(10), Some(0));
        assert_eq!(m.get(2), None);
        assert_eq!(m.targets(), vec![0, 1]);
        assert!(matches!(LabelMapping::new([(0, 0), (0, 1)]), Err(DataError::InvalidMapping { .. })));
        assert!(matches!(LabelMapping::new([]), Err(DataError::InvalidMapping { .. })));
        assert_eq!(LabelMapping::identity().get(7), Some(7));
        assert!(LabelMapping::from_groups(&[vec![1], vec![]]).is_err());
        assert!(LabelMapping::from_groups(&[vec![1, 2], vec![2]]).is_err());
    }

    #[test]
    fn reference_entries_keep_order_drop_and_describe() {
        let m = LabelMapping::from_reference([(10, 0), (0, 0), (3, -1), (1, 1)]).unwrap();
        assert_eq!(m.entries(), &[(10, Some(0)), (0, Some(0)), (3, None), (1, Some(1))]);
        assert_eq!(m.description(), "10->0 & 0->0 & 1->1");
        assert_eq!((m.get(3), m.get(10), m.get(7)), (None, Some(0), None));
        assert_eq!(m.targets(), vec![0, 1]);
        assert!(LabelMapping::from_reference([]).unwrap().is_identity());
        assert!(LabelMapping::from_reference([(-1, 0)]).is_err());
        assert!(LabelMapping::from_reference([(1, -2)]).is_err());
        assert!(LabelMapping::from_reference([(1, 0), (1, -1)]).is_err());
    }

    #[test]
    fn random_m_in_1_is_seeded_and_nested() {
        let pool: Vec<usize> = (100..200).collect();
        let a = LabelMapping::random_m_in_1(&pool, 10, 3, 42).unwrap();
        let b = LabelMapping::random_m_in_1(&pool, 10, 3, 42).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 30);
        assert_eq!(a.targets(), (0..10).collect::<Vec<_>>());
        let bigger = LabelMapping::random_m_in_1(&pool, 10, 4, 42).unwrap();
        assert!(a.pairs().all(|(o, n)| bigger.get(o) == Some(n)));
        assert_ne!(a, LabelMapping::random_m_in_1(&pool, 10, 3, 43).unwrap());
        assert!(LabelMapping::random_m_in_1(&pool, 10, 11, 0).is_err());
        assert!(LabelMapping::random_m_in_1(&pool, 0, 1, 0).is_err());
        assert!(LabelMapping::random_m_in_1(&[1, 1], 1, 2, 0).is_err());
    }
}
