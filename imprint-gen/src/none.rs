//! `none`: random Xavier-uniform vectors, a control that ignores the data.

use imprint_core::reference_rng::{RngMode, xavier_uniform};
use imprint_core::{ProxyGenerator, Result, RngCore, Shots};
use ndarray::Array2;
use rand::Rng;

use crate::util::{check_k, required_k};

/// Unchecked settings of [`XavierRandom`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XavierRandomParams {
    k: usize,
    rng_mode: RngMode,
}

impl XavierRandomParams {
    /// `k` random vectors per class (gain 1), drawn with
    /// [`RngMode::Portable`] (the default).
    pub fn new(k: usize) -> Self {
        Self { k, rng_mode: RngMode::Portable }
    }

    /// Sets how entries are drawn: [`RngMode::Reference`] fills the `(k, dim)`
    /// matrix row by row with torch's float32 `uniform_` (24 bits of one
    /// `next_u32` each), so a `TorchGenerator` passed in gives the
    /// reference's vectors.
    pub fn rng_mode(mut self, rng_mode: RngMode) -> Self {
        self.rng_mode = rng_mode;
        self
    }

    /// Validates the settings (`k >= 1`).
    pub fn check(&self) -> Result<XavierRandom> {
        check_k(self.k, "none")?;
        Ok(XavierRandom { k: self.k, rng_mode: self.rng_mode })
    }
}

/// `k` random proxies drawn as a `(k, dim)` tensor initialized by
/// `torch.nn.init.xavier_uniform_`: every entry uniform in `[-a, a)` with
/// `a = sqrt(6 / (k + dim))` (fan-in `dim`, fan-out `k`). Only the shape of the
/// shots is used (reference method `none`, a control).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XavierRandom {
    k: usize,
    rng_mode: RngMode,
}

impl XavierRandom {
    /// The number of random proxies.
    pub fn k(&self) -> usize {
        self.k
    }

    /// How entries are drawn.
    pub fn rng_mode(&self) -> RngMode {
        self.rng_mode
    }

    /// The bound `a = sqrt(6 / (k + dim))` of the uniform distribution.
    pub fn bound(&self, dim: usize) -> f64 {
        // Summed in f64: `k + dim` in usize overflows (a panic) for k near usize::MAX.
        (6.0 / (self.k as f64 + dim as f64)).sqrt()
    }
}

impl ProxyGenerator for XavierRandom {
    fn name(&self) -> &str {
        "none"
    }

    fn n_proxies(&self) -> Option<usize> {
        Some(self.k)
    }

    fn propose(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        if self.rng_mode == RngMode::Reference {
            return Ok(xavier_uniform(self.k, shots.dim(), 1.0, rng));
        }
        let a = self.bound(shots.dim());
        Ok(Array2::from_shape_simple_fn((self.k, shots.dim()), || {
            ((2.0 * rng.random::<f64>() - 1.0) * a) as f32
        }))
    }
}

/// Registry constructor.
pub(crate) fn from_config(k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    Ok(Box::new(XavierRandomParams::new(required_k(k, "none")?).check()?))
}

/// Registry constructor for the reference's RNG mode (the seed is the torch
/// generator's, passed to `generate`, so it is not needed here).
pub(crate) fn reference_from_config(k: Option<usize>, _seed: u64) -> Result<Box<dyn ProxyGenerator>> {
    let k = required_k(k, "none")?;
    Ok(Box::new(XavierRandomParams::new(k).rng_mode(RngMode::Reference).check()?))
}

#[cfg(test)]
mod tests {
    use imprint_core::{GenerateExt, ImprintError};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn bounded_seeded_and_shaped() {
        let x = Array2::<f32>::zeros((100, 46));
        let g = XavierRandomParams::new(4).check().unwrap();
        let a = g.bound(46);
        assert!((a - 6.0f64.sqrt() / 50.0f64.sqrt()).abs() < 1e-15);
        let p = g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        assert_eq!(p.dim(), (4, 46));
        assert!(p.iter().all(|&v| f64::from(v.abs()) <= a));
        // Spread over the whole interval, not a constant.
        assert!(p.iter().any(|&v| f64::from(v) > 0.8 * a) && p.iter().any(|&v| f64::from(v) < -0.8 * a));
        assert_eq!(p, g.generate(x.view(), &mut ChaCha8Rng::seed_from_u64(1)).unwrap());
    }

    #[test]
    fn reference_mode_is_torch_xavier_uniform() {
        use imprint_core::reference_rng::TorchGenerator;
        let x = Array2::<f32>::zeros((10, 7));
        let g = XavierRandomParams::new(3).rng_mode(RngMode::Reference).check().unwrap();
        let p = g.generate(x.view(), &mut TorchGenerator::new(4)).unwrap();
        assert_eq!(p, xavier_uniform(3, 7, 1.0, &mut TorchGenerator::new(4)));
    }

    #[test]
    fn bound_of_a_huge_k_does_not_overflow() {
        let a = XavierRandomParams::new(usize::MAX).check().unwrap().bound(usize::MAX);
        assert!(a.is_finite() && a > 0.0 && a < 1e-9, "{a}");
    }

    #[test]
    fn k_zero_is_an_error() {
        assert!(matches!(
            XavierRandomParams::new(0).check(),
            Err(ImprintError::InvalidParameter { name: "k", .. })
        ));
    }
}
