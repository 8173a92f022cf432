//! Seeded synthetic workloads at the paper's sizes, shared by the criterion
//! benches and `bench-peers`.
//!
//! Real embeddings of 6,000 images per class cannot be made on a 2-core
//! machine without internet (about 14 images/s), so the workloads are
//! mixtures of Gaussians shaped like classes of embeddings (see
//! [`imprint_data::SyntheticParams`]).

use imprint_data::{SyntheticData, SyntheticParams};
use ndarray::Array2;

use crate::{BenchError, Result};

/// How the modes of one class lie: overlapping (one diffuse cloud, as most
/// classes of a backbone's embeddings, many Lloyd iterations) or separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modes {
    /// 40 modes whose centres spread 0.15 per dimension, unit noise.
    Overlapping,
    /// 40 modes whose centres spread 1.5 per dimension, unit noise.
    Separated,
}

impl Modes {
    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Overlapping => "overlapping",
            Self::Separated => "separated",
        }
    }
}

/// The training samples of one class: `n x dim`, 40 modes.
pub fn one_class(n: usize, dim: usize, modes: Modes, seed: u64) -> Result<Array2<f32>> {
    let spread = match modes {
        Modes::Overlapping => 0.15,
        Modes::Separated => 1.5,
    };
    let data = SyntheticParams::new(1, 40, dim)
        .n_train(n)
        .n_test(1)
        .class_spread(0.0)
        .mode_spread(spread)
        .noise(1.0)
        .generate(seed)
        .map_err(|source| BenchError::Data { context: "benchmark workload".into(), source })?;
    Ok(data.train.into_parts().0)
}

/// A labelled task of `n_classes` classes with `n_train` training and `n_test`
/// test samples each (4 modes per class, classes overlapping enough that
/// accuracy is informative, neither 100% nor chance).
pub fn task(n_classes: usize, n_train: usize, n_test: usize, dim: usize, seed: u64) -> Result<SyntheticData> {
    SyntheticParams::new(n_classes, 4, dim)
        .n_train(n_train)
        .n_test(n_test)
        .class_spread(0.15)
        .mode_spread(0.1)
        .noise(1.0)
        .generate(seed)
        .map_err(|source| BenchError::Data { context: "benchmark workload".into(), source })
}
/// Quality of a set of proxies: the sum over samples of the squared distance
/// to the nearest proxy (k-means' inertia for centroids), in f64.
pub fn quantization_error(x: ndarray::ArrayView2<'_, f32>, proxies: ndarray::ArrayView2<'_, f32>) -> f64 {
    x.outer_iter()
        .map(|r| {
            proxies
                .outer_iter()
                .map(|p| r.iter().zip(p).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum::<f64>())
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}
