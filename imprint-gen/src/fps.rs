//! `fps(k)`: farthest-point sampling.

use imprint_core::reference_rng::{RngMode, randint};
use imprint_core::{ProxyGenerator, Result, RngCore, Shots};
use ndarray::Array2;
use rand::Rng;
use rayon::prelude::*;

use crate::util::{check_k, gather, required_k, sq_dist};

/// Unchecked settings of [`FarthestPoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarthestPointParams {
    k: usize,
    rng_mode: RngMode,
}

impl FarthestPointParams {
    /// Farthest-point sampling of `k` samples per class (Euclidean distance),
    /// from a random start drawn with [`RngMode::Portable`] (the default).
    pub fn new(k: usize) -> Self {
        Self { k, rng_mode: RngMode::Portable }
    }

    /// Sets how the start is drawn: [`RngMode::Reference`] takes
    /// `torch.randint(n, (1,))` (`next_u32() % n`), so a `TorchGenerator`
    /// passed in starts where the reference starts.
    pub fn rng_mode(mut self, rng_mode: RngMode) -> Self {
        self.rng_mode = rng_mode;
        self
    }

    /// Validates the settings (`k >= 1`).
    pub fn check(&self) -> Result<FarthestPoint> {
        check_k(self.k, "fps")?;
        Ok(FarthestPoint { k: self.k, rng_mode: self.rng_mode })
    }
}

/// Farthest-point sampling (reference method `fps`): starts from a sample
/// chosen uniformly at random, then repeatedly adds the not yet chosen sample
/// whose Euclidean distance to the nearest chosen one is largest (ties to the
/// lower index). Proxies come in the order chosen.
///
/// Distances are exact (accumulated in f64), not GEMM-based: there are only
/// `k` passes over the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarthestPoint {
    k: usize,
    rng_mode: RngMode,
}

impl FarthestPoint {
    /// The number of samples chosen.
    pub fn k(&self) -> usize {
        self.k
    }

    /// How the start is drawn.
    pub fn rng_mode(&self) -> RngMode {
        self.rng_mode
    }

    /// The indices of the chosen samples, in the order chosen
    /// (`min(k, n)` distinct indices).
    pub fn indices(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Vec<usize> {
        let x = shots.view();
        let n = x.nrows();
        let first = match self.rng_mode {
            RngMode::Portable => rng.random_range(0..n),
            // Shots are non-empty, so the range is too; n fits in u64.
            RngMode::Reference => randint(n as u64, rng).map_or(0, |i| i as usize),
        };
        let mut chosen = vec![first];
        // Squared distance to the nearest chosen sample; -inf marks the chosen
        // ones (and stays, as min(-inf, d) = -inf), so that a duplicate of a
        // chosen sample is still a valid later choice.
        let mut nearest = vec![f64::INFINITY; n];
        nearest[first] = f64::NEG_INFINITY;
        let mut last = first;
        while chosen.len() < self.k.min(n) {
            nearest.par_iter_mut().enumerate().for_each(|(i, d)| *d = d.min(sq_dist(x.row(i), x.row(last))));
            last = 0;
            for (i, &d) in nearest.iter().enumerate() {
                if d > nearest[last] {
                    last = i;
                }
            }
            nearest[last] = f64::NEG_INFINITY;
            chosen.push(last);
        }
        chosen
    }
}

impl ProxyGenerator for FarthestPoint {
    fn name(&self) -> &str {
        "fps"
    }

    fn n_proxies(&self) -> Option<usize> {
        Some(self.k)
    }

    fn propose(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        Ok(gather(shots.view(), &self.indices(shots, rng)))
    }
}

/// Registry constructor.
pub(crate) fn from_config(k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    Ok(Box::new(FarthestPointParams::new(required_k(k, "fps")?).check()?))
}

/// Registry constructor for the reference's RNG mode (the seed is the torch
/// generator's, passed to `generate`, so it is not needed here).
pub(crate) fn reference_from_config(k: Option<usize>, _seed: u64) -> Result<Box<dyn ProxyGenerator>> {
    let k = required_k(k, "fps")?;
    Ok(Box::new(FarthestPointParams::new(k).rng_mode(RngMode::Reference).check()?))
}

#[cfg(test)]
mod tests {
    use imprint_core::ImprintError;
    use ndarray::array;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::util::testing::blobs;

    /// The reference algorithm, written naively: max over the remaining samples
    /// of the min distance to the chosen ones.
    fn naive(x: &Array2<f32>, k: usize, first: usize) -> Vec<usize> {
        let mut chosen = vec![first];
        while chosen.len() < k {
            let remaining: Vec<usize> = (0..x.nrows()).filter(|i| !chosen.contains(i)).collect();
            let score =
                |i: usize| chosen.iter().map(|&c| sq_dist(x.row(i), x.row(c))).fold(f64::INFINITY, f64::min);
            let best =
                remaining.iter().copied().fold(remaining[0], |b, i| if score(i) > score(b) { i } else { b });
            chosen.push(best);
        }
        chosen
    }

    #[test]
    fn matches_the_naive_algorithm() {
        for seed in 0..5 {
            let x = blobs(seed, 4, 10, 3, 1.0);
            let shots = Shots::new(x.view(), "x").unwrap();
            let g = FarthestPointParams::new(8).check().unwrap();
            let ids = g.indices(shots, &mut ChaCha8Rng::seed_from_u64(seed));
            let first = ChaCha8Rng::seed_from_u64(seed).random_range(0..x.nrows());
            assert_eq!(ids, naive(&x, 8, first), "seed {seed}");
        }
    }

    #[test]
    fn reference_mode_starts_at_torch_randint() {
        use imprint_core::reference_rng::TorchGenerator;
        let x = blobs(2, 4, 10, 3, 1.0);
        let g = FarthestPointParams::new(5).rng_mode(RngMode::Reference).check().unwrap();
        let ids = g.indices(Shots::new(x.view(), "x").unwrap(), &mut TorchGenerator::new(9));
        let first = (TorchGenerator::new(9).random() % x.nrows() as u32) as usize;
        assert_eq!(ids, naive(&x, 5, first));
    }

    #[test]
    fn duplicates_are_distinct_choices() {
        let x = array![[0.0f32, 0.0], [0.0, 0.0], [0.0, 0.0]];
        let g = FarthestPointParams::new(3).check().unwrap();
        let mut ids = g.indices(Shots::new(x.view(), "x").unwrap(), &mut ChaCha8Rng::seed_from_u64(0));
        ids.sort();
        assert_eq!(ids, vec![0, 1, 2]);
    }

    #[test]
    fn k_zero_is_an_error() {
        assert!(matches!(
            FarthestPointParams::new(0).check(),
            Err(ImprintError::InvalidParameter { name: "k", .. })
        ));
    }
}
