//! `random(k)`: `k` distinct samples drawn uniformly at random.

use imprint_core::{ProxyGenerator, Result, RngCore, Shots};
use ndarray::Array2;

use crate::util::{check_k, gather, required_k};

/// Unchecked settings of [`RandomSamples`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomSamplesParams {
    k: usize,
}

impl RandomSamplesParams {
    /// `k` distinct random samples per class. There are no other settings.
    pub fn new(k: usize) -> Self {
        Self { k }
    }

    /// Validates the settings (`k >= 1`).
    pub fn check(&self) -> Result<RandomSamples> {
        check_k(self.k, "random")?;
        Ok(RandomSamples { k: self.k })
    }
}

/// `k` distinct samples chosen uniformly at random from the class, in the
/// order drawn (reference method `random`, `torch.randperm(n)[:k]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomSamples {
    k: usize,
}

impl RandomSamples {
    /// The number of samples drawn.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The indices of the chosen samples (`min(k, n)` distinct indices).
    pub fn indices(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Vec<usize> {
        let n = shots.n_shots();
        rand::seq::index::sample(rng, n, self.k.min(n)).into_vec()
    }
}

impl ProxyGenerator for RandomSamples {
    fn name(&self) -> &str {
        "random"
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
    Ok(Box::new(RandomSamplesParams::new(required_k(k, "random")?).check()?))
}

#[cfg(test)]
mod tests {
    use imprint_core::{GenerateExt, ImprintError};
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn distinct_seeded_samples() {
        let x = Array2::from_shape_fn((50, 2), |(i, j)| (i * 2 + j) as f32);
        let g = RandomSamplesParams::new(7).check().unwrap();
        let shots = Shots::new(x.view(), "x").unwrap();
        let ids = g.indices(shots, &mut ChaCha8Rng::seed_from_u64(3));
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 7);
        assert_eq!(ids, g.indices(shots, &mut ChaCha8Rng::seed_from_u64(3)));
        assert_ne!(ids, g.indices(shots, &mut ChaCha8Rng::seed_from_u64(4)));
        let out = g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        assert_eq!(out, gather(x.view(), &ids));
    }

    #[test]
    fn k_zero_is_an_error() {
        assert!(matches!(
            RandomSamplesParams::new(0).check(),
            Err(ImprintError::InvalidParameter { name: "k", .. })
        ));
    }
}
