//! Label mappings: relabel, merge ("m in 1") and drop classes.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::DataError;

/// A map from old labels (after dataset offsets) to new labels.
///
/// Labels that are not listed are dropped, as in the reference (which maps them to -1).
/// Several old labels may share a new label, merging classes ("m in 1" tasks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelMapping {
    map: BTreeMap<usize, usize>,
}

impl LabelMapping {
    /// Builds a mapping from `(old, new)` pairs.
    ///
    /// # Errors
    /// [`DataError::InvalidMapping`] when an old label is mapped to two different new
    /// labels, or when no pair is given (an empty mapping would drop everything; use no
    /// mapping instead).
    pub fn new(pairs: impl IntoIterator<Item = (usize, usize)>) -> Result<Self, DataError> {
        let mut map = BTreeMap::new();
        for (old, new) in pairs {
            if let Some(prev) = map.insert(old, new)
                && prev != new
            {
                return Err(DataError::InvalidMapping {
                    reason: format!("label {old} is mapped to both {prev} and {new}"),
                });
            }
        }
        if map.is_empty() {
            return Err(DataError::InvalidMapping {
                reason: "the mapping is empty and would drop every label".into(),
            });
        }
        Ok(Self { map })
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

    /// The new label of `old`, or `None` if `old` is dropped.
    pub fn get(&self, old: usize) -> Option<usize> {
        self.map.get(&old).copied()
    }

    /// The `(old, new)` pairs in ascending order of the old label.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.map.iter().map(|(&o, &n)| (o, n))
    }

    /// Number of listed old labels.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Always `false`: an empty mapping cannot be built.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The distinct new labels, ascending.
    pub fn targets(&self) -> Vec<usize> {
        let mut t: Vec<usize> = self.map.values().copied().collect();
        t.sort_unstable();
        t.dedup();
        t
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
        assert!(LabelMapping::from_groups(&[vec![1], vec![]]).is_err());
        assert!(LabelMapping::from_groups(&[vec![1, 2], vec![2]]).is_err());
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
