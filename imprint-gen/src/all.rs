//! `all`: every sample is a proxy.

use imprint_core::{Incremental, ProxyGenerator, Result, RngCore, Shots};
use ndarray::Array2;

/// Keeps every sample of the class as a proxy (reference method `all`, also
/// what every generator falls back to when a class has fewer than `k` shots).
///
/// There is nothing to configure, so there is no params type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct All;

impl All {
    /// The `all` generator.
    pub fn new() -> Self {
        Self
    }
}

impl ProxyGenerator for All {
    fn name(&self) -> &str {
        "all"
    }

    fn n_proxies(&self) -> Option<usize> {
        None
    }

    fn propose(&self, shots: Shots<'_>, _rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        Ok(shots.view().to_owned())
    }

    fn incremental(&self) -> Incremental {
        Incremental::Append
    }
}

/// Registry constructor: `k` is ignored (`all` keeps every sample).
pub(crate) fn from_config(_k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    Ok(Box::new(All))
}

#[cfg(test)]
mod tests {
    use imprint_core::GenerateExt;
    use ndarray::array;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn returns_every_sample() {
        let x = array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert_eq!(All::new().generate(x.view(), &mut rng).unwrap(), x);
        assert_eq!(All.n_proxies(), None);
    }
}
