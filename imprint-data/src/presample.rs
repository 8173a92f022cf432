//! Seeded per-class few-shot presampling.

use std::fmt;
use std::str::FromStr;

use imprint_core::{Stream, stream_rng};
use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::index;

use crate::error::DataError;

/// The statistical prefilter of a class's samples before few-shot presampling
/// (reference key `presampling_methods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum PresamplingMethod {
    /// Keep every sample.
    #[default]
    All,
    /// Keep the samples whose distance to the class mean lies between two
    /// quantiles of a Weibull distribution fitted to those distances.
    Weibull,
}

impl PresamplingMethod {
    /// Every configuration name.
    pub const NAMES: [&'static str; 2] = ["all", "weibull"];

    /// Configuration name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Weibull => "weibull",
        }
    }
}

impl fmt::Display for PresamplingMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PresamplingMethod {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "all" => Ok(Self::All),
            "weibull" => Ok(Self::Weibull),
            _ => Err(DataError::InvalidParameter {
                name: "presampling method",
                value: s.to_string(),
                reason: "known: all, weibull",
            }),
        }
    }
}

/// How many training samples each class keeps (reference key
/// `presampling_fewshot_values`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FewShot {
    /// Every sample (the reference's `-1`).
    #[default]
    All,
    /// At most this many per class, drawn without replacement; never zero.
    PerClass(usize),
}

impl FewShot {
    /// Parses the reference's integer: `-1` is [`FewShot::All`], a positive `n` is
    /// [`FewShot::PerClass`].
    ///
    /// # Errors
    /// [`DataError::InvalidShots`] for 0 (it would leave every class empty) and for
    /// values below -1.
    pub fn from_reference(value: i64) -> Result<Self, DataError> {
        match value {
            -1 => Ok(FewShot::All),
            n if n > 0 => {
                usize::try_from(n).map(FewShot::PerClass).map_err(|_| DataError::InvalidShots { value })
            }
            _ => Err(DataError::InvalidShots { value }),
        }
    }

    /// The number of samples kept from `available`: `min(n, available)`.
    pub fn kept(self, available: usize) -> usize {
        match self {
            FewShot::All => available,
            FewShot::PerClass(n) => n.min(available),
        }
    }
}

/// The row indices kept for one class: all rows in order for [`FewShot::All`], otherwise
/// `min(n, n_rows)` distinct rows in random order.
///
/// The draw depends only on `(seed, class_label)`, so a class keeps the same samples
/// whatever the other classes of the task are.
pub fn presample_indices(n_rows: usize, shots: FewShot, seed: u64, class_label: usize) -> Vec<usize> {
    match shots {
        FewShot::PerClass(n) if n < n_rows => {
            let mut rng = stream_rng(seed, Stream::presample(class_label));
            index::sample(&mut rng, n_rows, n).into_vec()
        }
        _ => (0..n_rows).collect(),
    }
}

/// The rows of one class kept by [`presample_indices`].
pub fn presample(rows: ArrayView2<'_, f32>, shots: FewShot, seed: u64, class_label: usize) -> Array2<f32> {
    rows.select(Axis(0), &presample_indices(rows.nrows(), shots, seed, class_label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_reference_values() {
        assert_eq!(FewShot::from_reference(-1).unwrap(), FewShot::All);
        assert_eq!(FewShot::from_reference(5).unwrap(), FewShot::PerClass(5));
        assert!(matches!(FewShot::from_reference(0), Err(DataError::InvalidShots { value: 0 })));
        assert!(FewShot::from_reference(-2).is_err());
    }

    #[test]
    fn all_keeps_order() {
        assert_eq!(presample_indices(4, FewShot::All, 1, 0), vec![0, 1, 2, 3]);
        assert_eq!(presample_indices(3, FewShot::PerClass(9), 1, 0), vec![0, 1, 2]);
    }

    proptest! {
        #[test]
        fn keeps_min_n_distinct_rows_deterministically(
            n_rows in 0usize..60, n in 1usize..80, seed: u64, label in 0usize..1000,
        ) {
            let a = presample_indices(n_rows, FewShot::PerClass(n), seed, label);
            prop_assert_eq!(a.len(), n.min(n_rows));
            let mut sorted = a.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), a.len());
            prop_assert!(a.iter().all(|&i| i < n_rows));
            prop_assert_eq!(a, presample_indices(n_rows, FewShot::PerClass(n), seed, label));
        }
    }
}
