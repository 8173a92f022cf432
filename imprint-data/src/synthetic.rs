//! Seeded synthetic multi-modal classes for tests and benchmarks.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::embeddings::Embeddings;
use crate::error::DataError;

/// Parameters of a mixture of Gaussians with `n_modes` modes per class.
///
/// Class `c` has a centre `mu_c ~ N(0, class_spread^2 I)`; mode `j` of class `c` has a
/// centre `mu_c + N(0, mode_spread^2 I)`; a sample is its mode centre plus
/// `N(0, noise^2 I)`. Samples are spread over the modes round-robin, so every mode gets
/// `n / n_modes` samples (give or take one).
///
/// Per dimension the within-class variance is about `mode_spread^2 + noise^2` and the
/// between-class variance about `class_spread^2`, so their ratio steers neural collapse
/// NC1: small `mode_spread` and `noise` give collapsed (unimodal, tight) classes, large
/// `mode_spread` gives the multi-modal classes where several proxies per class help.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticParams {
    n_classes: usize,
    n_modes: usize,
    dim: usize,
    n_train: usize,
    n_test: usize,
    class_spread: f32,
    mode_spread: f32,
    noise: f32,
}

/// Train and test splits drawn from the same mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticData {
    /// Training samples, labels `0..n_classes`, grouped by class.
    pub train: Embeddings,
    /// Test samples, labels `0..n_classes`, grouped by class.
    pub test: Embeddings,
}

impl SyntheticParams {
    /// `n_classes` classes of `n_modes` modes in `dim` dimensions. Defaults: 100 train and
    /// 50 test samples per class, `class_spread` 1.0, `mode_spread` 0.5, `noise` 0.1.
    pub fn new(n_classes: usize, n_modes: usize, dim: usize) -> Self {
        Self {
            n_classes,
            n_modes,
            dim,
            n_train: 100,
            n_test: 50,
            class_spread: 1.0,
            mode_spread: 0.5,
            noise: 0.1,
        }
    }

    /// Training samples per class.
    pub fn n_train(mut self, n: usize) -> Self {
        self.n_train = n;
        self
    }

    /// Test samples per class.
    pub fn n_test(mut self, n: usize) -> Self {
        self.n_test = n;
        self
    }

    /// Standard deviation of class centres around the origin.
    pub fn class_spread(mut self, s: f32) -> Self {
        self.class_spread = s;
        self
    }

    /// Standard deviation of mode centres around their class centre.
    pub fn mode_spread(mut self, s: f32) -> Self {
        self.mode_spread = s;
        self
    }

    /// Standard deviation of samples around their mode centre.
    pub fn noise(mut self, s: f32) -> Self {
        self.noise = s;
        self
    }

    /// Draws train and test sets; the same parameters and seed give the same data.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] when a count is zero or a spread is negative or
    /// not finite.
    pub fn generate(&self, seed: u64) -> Result<SyntheticData, DataError> {
        for (name, v) in [
            ("n_classes", self.n_classes),
            ("n_modes", self.n_modes),
            ("dim", self.dim),
            ("n_train", self.n_train),
            ("n_test", self.n_test),
        ] {
            if v == 0 {
                return Err(DataError::InvalidParameter {
                    name,
                    value: "0".into(),
                    reason: "must be positive",
                });
            }
        }
        for (name, v) in
            [("class_spread", self.class_spread), ("mode_spread", self.mode_spread), ("noise", self.noise)]
        {
            if !(v.is_finite() && v >= 0.0) {
                return Err(DataError::InvalidParameter {
                    name,
                    value: v.to_string(),
                    reason: "must be finite and non-negative",
                });
            }
        }
        // Sizes whose product overflows (e.g. usize::MAX classes) are errors, not panics, and
        // so are sizes memory cannot take (a failed allocation would abort the process).
        for (name, count) in [("n_modes", self.n_modes), ("n_train", self.n_train), ("n_test", self.n_test)] {
            let values = self.n_classes.checked_mul(count).and_then(|n| n.checked_mul(self.dim));
            if values.is_none_or(|n| Vec::<f32>::new().try_reserve_exact(n).is_err()) {
                return Err(DataError::InvalidParameter {
                    name,
                    value: format!("{count} (with n_classes = {}, dim = {})", self.n_classes, self.dim),
                    reason: "n_classes x this x dim values do not fit in memory",
                });
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal = |scale: f32| -> f32 {
            let z: f32 = StandardNormal.sample(&mut rng);
            z * scale
        };
        let (c, m, d) = (self.n_classes, self.n_modes, self.dim);
        let mut modes = Array2::<f32>::zeros((c * m, d));
        for class in 0..c {
            let centre: Vec<f32> = (0..d).map(|_| normal(self.class_spread)).collect();
            for j in 0..m {
                for (k, &mu) in centre.iter().enumerate() {
                    modes[[class * m + j, k]] = mu + normal(self.mode_spread);
                }
            }
        }
        let mut draw = |per_class: usize| -> Result<Embeddings, DataError> {
            let mut x = Array2::<f32>::zeros((c * per_class, d));
            let mut labels = Vec::with_capacity(c * per_class);
            for class in 0..c {
                for i in 0..per_class {
                    let row = class * per_class + i;
                    let mode = class * m + i % m;
                    for k in 0..d {
                        x[[row, k]] = modes[[mode, k]] + normal(self.noise);
                    }
                    labels.push(class);
                }
            }
            Embeddings::new(x, labels)
        };
        let train = draw(self.n_train)?;
        let test = draw(self.n_test)?;
        Ok(SyntheticData { train, test })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped() {
        let p = SyntheticParams::new(4, 3, 8).n_train(10).n_test(5);
        let a = p.generate(9).unwrap();
        assert_eq!(a, p.generate(9).unwrap());
        assert_ne!(a.train, p.generate(10).unwrap().train);
        assert_eq!((a.train.n_samples(), a.train.dim()), (40, 8));
        assert_eq!(a.test.n_samples(), 20);
        assert_eq!(a.train.class_counts().len(), 4);
        assert_eq!(a.train.labels()[..10], [0; 10]);
    }

    #[test]
    fn spread_controls_within_class_scatter() {
        // Mean squared distance to the class mean grows with mode_spread.
        let scatter = |mode_spread: f32| {
            let data =
                SyntheticParams::new(5, 4, 16).mode_spread(mode_spread).noise(0.05).generate(3).unwrap();
            let mut total = 0.0;
            for c in 0..5 {
                let rows = data.train.rows_of(c);
                let Some(mean) = rows.mean_axis(ndarray::Axis(0)) else {
                    continue;
                };
                total += rows.rows().into_iter().map(|r| (&r - &mean).mapv(|v| v * v).sum()).sum::<f32>();
            }
            total
        };
        assert!(scatter(0.0) * 10.0 < scatter(1.0));
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(matches!(
            SyntheticParams::new(0, 1, 1).generate(0),
            Err(DataError::InvalidParameter { name: "n_classes", .. })
        ));
        assert!(matches!(
            SyntheticParams::new(1, 1, 1).noise(f32::NAN).generate(0),
            Err(DataError::InvalidParameter { name: "noise", .. })
        ));
        // Counts whose product overflows usize are errors, not panics.
        assert!(matches!(
            SyntheticParams::new(usize::MAX, 2, 1).generate(0),
            Err(DataError::InvalidParameter { name: "n_modes", .. })
        ));
        assert!(matches!(
            SyntheticParams::new(1 << 62, 1, 1).n_train(1).generate(0),
            Err(DataError::InvalidParameter { name: "n_modes", .. })
        ));
        assert!(matches!(
            SyntheticParams::new(1, 1 << 50, 1).generate(0),
            Err(DataError::InvalidParameter { name: "n_modes", .. })
        ));
    }
}
