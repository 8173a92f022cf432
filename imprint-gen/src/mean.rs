//! `mean`: the class mean.

use imprint_core::{Incremental, ProxyGenerator, Result, RngCore, RunningMean, Shots};
use ndarray::{Array2, ArrayView2};

/// One proxy per class: the mean of its shots, accumulated in f64 and
/// rounded to f32 once (reference method `mean`; `k` is forced to 1).
///
/// There is nothing to configure, so there is no params type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mean;

impl Mean {
    /// The `mean` generator.
    pub fn new() -> Self {
        Self
    }
}

/// The mean of the rows of `x` as a `(1, dim)` array, accumulated in f64 in row
/// order by [`RunningMean`], so that a head updating a class's running sum
/// gets exactly this value.
pub(crate) fn class_mean(x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    RunningMean::of(x)
}

impl ProxyGenerator for Mean {
    fn name(&self) -> &str {
        "mean"
    }

    fn n_proxies(&self) -> Option<usize> {
        Some(1)
    }

    fn propose(&self, shots: Shots<'_>, _rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        class_mean(shots.view())
    }

    fn incremental(&self) -> Incremental {
        Incremental::RunningMean
    }
}

/// Registry constructor: `k` is ignored (the mean is one proxy).
pub(crate) fn from_config(_k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    Ok(Box::new(Mean))
}

#[cfg(test)]
mod tests {
    use imprint_core::GenerateExt;
    use ndarray::array;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn is_the_mean_accumulated_in_f64() {
        let x = array![[1.0f32, 2.0], [2.0, 4.0], [6.0, 0.0]];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert_eq!(Mean::new().generate(x.view(), &mut rng).unwrap(), array![[3.0f32, 2.0]]);
        // Large offsets with small spread: an f32 running sum would lose the spread.
        let y = array![[1.0e7f32 + 1.0], [1.0e7 + 2.0], [1.0e7 + 3.0], [1.0e7 + 2.0]];
        assert_eq!(Mean.generate(y.view(), &mut rng).unwrap(), array![[1.0e7f32 + 2.0]]);
    }
}
