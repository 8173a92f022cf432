//! `random(k)`: `k` distinct samples drawn uniformly at random.

use imprint_core::reference_rng::{RngMode, randperm};
use imprint_core::{ProxyGenerator, Result, RngCore, Shots};
use ndarray::Array2;

use crate::util::{check_k, gather, required_k};

/// Unchecked settings of [`RandomSamples`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomSamplesParams {
    k: usize,
    rng_mode: RngMode,
}

impl RandomSamplesParams {
    /// `k` distinct random samples per class, drawn with
    /// [`RngMode::Portable`] (the default).
    pub fn new(k: usize) -> Self {
        Self { k, rng_mode: RngMode::Portable }
    }

    /// Sets how samples are drawn: [`RngMode::Reference`] takes the first
    /// `k` of `torch.randperm(n)` (`n - 1` draws of `next_u32`), so a
    /// `TorchGenerator` passed in picks the reference's samples.
    pub fn rng_mode(mut self, rng_mode: RngMode) -> Self {
        self.rng_mode = rng_mode;
        self
    }

    /// Validates the settings (`k >= 1`).
    pub fn check(&self) -> Result<RandomSamples> {
        check_k(self.k, "random")?;
        Ok(RandomSamples { k: self.k, rng_mode: self.rng_mode })
    }
}

/// `k` distinct samples chosen uniformly at random from the class, in the
/// order drawn (reference method `random`, `torch.randperm(n)[:k]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomSamples {
    k: usize,
    rng_mode: RngMode,
}

impl RandomSamples {
    /// The number of samples drawn.
    pub fn k(&self) -> usize {
        self.k
    }

    /// How samples are drawn.
    pub fn rng_mode(&self) -> RngMode {
        self.rng_mode
    }

    /// The indices of the chosen samples (`min(k, n)` distinct indices).
    ///
    /// # Errors
    /// Under [`RngMode::Reference`], more samples than `torch.randperm` is
    /// reproduced for (`RANDPERM_MAX`).
    pub fn indices(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Result<Vec<usize>> {
        let n = shots.n_shots();
        Ok(match self.rng_mode {
            RngMode::Portable => rand::seq::index::sample(rng, n, self.k.min(n)).into_vec(),
            RngMode::Reference => {
                let mut perm = randperm(n, rng)?;
                perm.truncate(self.k);
                perm
            }
        })
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
        Ok(gather(shots.view(), &self.indices(shots, rng)?))
    }
}

/// Registry constructor.
pub(crate) fn from_config(k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    Ok(Box::new(RandomSamplesParams::new(required_k(k, "random")?).check()?))
}

/// Registry constructor for the reference's RNG mode (the seed is the torch
/// generator's, passed to `generate`, so it is not needed here).
pub(crate) fn reference_from_config(k: Option<usize>, _seed: u64) -> Result<Box<dyn ProxyGenerator>> {
    let k = required_k(k, "random")?;
    Ok(Box::new(RandomSamplesParams::new(k).rng_mode(RngMode::Reference).check()?))
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
        let ids = g.indices(shots, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 7);
        assert_eq!(ids, g.indices(shots, &mut ChaCha8Rng::seed_from_u64(3)).unwrap());
        assert_ne!(ids, g.indices(shots, &mut ChaCha8Rng::seed_from_u64(4)).unwrap());
        let out = g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        assert_eq!(out, gather(x.view(), &ids));
    }

    #[test]
    fn reference_mode_takes_the_head_of_torch_randperm() {
        use imprint_core::reference_rng::TorchGenerator;
        let x = Array2::from_shape_fn((9, 2), |(i, j)| (i * 2 + j) as f32);
        let g = RandomSamplesParams::new(4).rng_mode(RngMode::Reference).check().unwrap();
        assert_eq!(g.rng_mode(), RngMode::Reference);
        let got = g.indices(Shots::new(x.view(), "x").unwrap(), &mut TorchGenerator::new(17)).unwrap();
        let perm = randperm(9, &mut TorchGenerator::new(17)).unwrap();
        assert_eq!(got, perm[..4]);
    }

    #[test]
    fn k_zero_is_an_error() {
        assert!(matches!(
            RandomSamplesParams::new(0).check(),
            Err(ImprintError::InvalidParameter { name: "k", .. })
        ));
    }
}
