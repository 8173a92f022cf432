//! `cov_max(k)`: the samples with the largest covariance column sums.

use imprint_core::{ImprintError, ProxyGenerator, Result, RngCore, Shots};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

use crate::util::{check_k, gather, required_k};

/// Unchecked settings of [`CovMax`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CovMaxParams {
    k: usize,
}

impl CovMaxParams {
    /// The `k` samples with the largest covariance column sums. There are no
    /// other settings.
    pub fn new(k: usize) -> Self {
        Self { k }
    }

    /// Validates the settings (`k >= 1`).
    pub fn check(&self) -> Result<CovMax> {
        check_k(self.k, "cov_max")?;
        Ok(CovMax { k: self.k })
    }
}

/// Covariance maximization (reference method `cov_max`): the `k` samples whose
/// columns of the sample-by-sample covariance matrix have the largest sums,
/// largest first, ties to the lower index.
///
/// The reference computes `torch.cov(X)` with the `n` samples as variables and
/// the `d` features as observations:
/// `C_ij = <x_i - m_i 1, x_j - m_j 1> / (d - 1)` with `m_i` the mean of the
/// features of sample `i`. Its column sums are
/// `sum_i C_ij = <s, x_j - m_j 1> / (d - 1)` with `s = sum_i (x_i - m_i 1)`:
/// each sample's covariance with the sum of all samples. That takes `O(n d)`
/// time and no `n x n` matrix.
///
/// `dim = 1` is an error: the covariance over one observation is undefined
/// (torch divides by zero and ranks NaNs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CovMax {
    k: usize,
}

impl CovMax {
    /// The number of samples chosen.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The column sums of the covariance matrix, one per sample, in f64.
    ///
    /// # Errors
    /// [`ImprintError::InvalidParameter`] (`dim`) if the samples have one feature.
    pub fn column_sums(&self, shots: Shots<'_>) -> Result<Array1<f64>> {
        let x = shots.view();
        let d = shots.dim();
        if d < 2 {
            return Err(ImprintError::invalid(
                "dim",
                d,
                "cov_max needs at least 2 features: the covariance over one feature is undefined",
            ));
        }
        let row_means: Vec<f64> =
            x.outer_iter().map(|r| r.iter().map(|&v| f64::from(v)).sum::<f64>() / d as f64).collect();
        let mut s = Array1::<f64>::zeros(d);
        for (r, &m) in x.outer_iter().zip(&row_means) {
            s.zip_mut_with(&r, |a, &v| *a += f64::from(v) - m);
        }
        let sums: Vec<f64> = (0..x.nrows())
            .into_par_iter()
            .map(|j| {
                let dot: f64 =
                    x.row(j).iter().zip(&s).map(|(&v, &sf)| (f64::from(v) - row_means[j]) * sf).sum();
                dot / (d - 1) as f64
            })
            .collect();
        Ok(Array1::from_vec(sums))
    }

    /// The indices of the chosen samples, largest column sum first
    /// (`min(k, n)` distinct indices).
    ///
    /// # Errors
    /// As [`CovMax::column_sums`].
    pub fn indices(&self, shots: Shots<'_>) -> Result<Vec<usize>> {
        let sums = self.column_sums(shots)?;
        let mut order: Vec<usize> = (0..sums.len()).collect();
        order.sort_by(|&a, &b| sums[b].total_cmp(&sums[a]).then(a.cmp(&b)));
        order.truncate(self.k);
        Ok(order)
    }
}

impl ProxyGenerator for CovMax {
    fn name(&self) -> &str {
        "cov_max"
    }

    fn n_proxies(&self) -> Option<usize> {
        Some(self.k)
    }

    fn propose(&self, shots: Shots<'_>, _rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        Ok(gather(shots.view(), &self.indices(shots)?))
    }
}

/// Registry constructor.
pub(crate) fn from_config(k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    Ok(Box::new(CovMaxParams::new(required_k(k, "cov_max")?).check()?))
}

#[cfg(test)]
mod tests {
    use imprint_core::GenerateExt;
    use ndarray::array;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::util::testing::blobs;

    /// `torch.cov(X).sum(0)` written out: the full n x n matrix.
    fn naive_column_sums(x: &Array2<f32>) -> Vec<f64> {
        let (n, d) = x.dim();
        let xs: Vec<Vec<f64>> = x.outer_iter().map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect();
        let m: Vec<f64> = xs.iter().map(|r| r.iter().sum::<f64>() / d as f64).collect();
        let cov = |i: usize, j: usize| -> f64 {
            (0..d).map(|f| (xs[i][f] - m[i]) * (xs[j][f] - m[j])).sum::<f64>() / (d - 1) as f64
        };
        (0..n).map(|j| (0..n).map(|i| cov(i, j)).sum()).collect()
    }

    #[test]
    fn matches_the_naive_covariance_matrix() {
        for seed in 0..4 {
            let x = blobs(seed, 3, 9, 6, 2.0);
            let g = CovMaxParams::new(5).check().unwrap();
            let shots = Shots::new(x.view(), "x").unwrap();
            let fast = g.column_sums(shots).unwrap();
            let slow = naive_column_sums(&x);
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
            }
            let mut order: Vec<usize> = (0..slow.len()).collect();
            order.sort_by(|&a, &b| slow[b].total_cmp(&slow[a]));
            assert_eq!(g.indices(shots).unwrap(), order[..5].to_vec(), "seed {seed}");
            let out = g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
            assert_eq!(out, gather(x.view(), &order[..5]));
        }
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [2.0, 0.0]];
        let g = CovMaxParams::new(2).check().unwrap();
        assert_eq!(g.indices(Shots::new(x.view(), "x").unwrap()).unwrap(), vec![3, 0]);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            CovMaxParams::new(0).check(),
            Err(ImprintError::InvalidParameter { name: "k", .. })
        ));
        let x = array![[1.0f32], [2.0]];
        let g = CovMaxParams::new(1).check().unwrap();
        assert!(matches!(
            g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(0)),
            Err(ImprintError::InvalidParameter { name: "dim", .. })
        ));
    }
}
