//! Cross-check of `KMeans` against an independent implementation,
//! linfa-clustering's `KMeans` (k-means++ init, Lloyd), on seeded Gaussian
//! mixtures with well separated clusters.

use imprint_core::Shots;
use imprint_gen::KMeansParams;
use linfa::DatasetBase;
use linfa::traits::Fit;
use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng as _;

/// `clusters * per` samples in `dim` dimensions: unit Gaussian noise around
/// centres drawn in a cube of side 40.
fn mixture(seed: u64, clusters: usize, per: usize, dim: usize) -> Array2<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let centres = Array2::from_shape_fn((clusters, dim), |_| r.random_range(-20.0f32..20.0));
    Array2::from_shape_fn((clusters * per, dim), |(i, j)| {
        let (u, v): (f32, f32) = (r.random_range(f32::EPSILON..1.0), r.random());
        centres[[i % clusters, j]] + (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    })
}

/// Inertia of the nearest-centroid assignment, exact in f64.
fn inertia_of(x: ArrayView2<'_, f32>, centroids: ArrayView2<'_, f64>) -> f64 {
    x.outer_iter()
        .map(|r| {
            centroids
                .outer_iter()
                .map(|c| r.iter().zip(c).map(|(&a, &b)| (f64::from(a) - b).powi(2)).sum::<f64>())
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}

#[test]
fn inertia_is_within_one_percent_of_linfa_best_of_ten() {
    for (seed, k, dim) in [(1u64, 4usize, 6usize), (2, 6, 10), (3, 8, 4)] {
        let x = mixture(seed, k, 60, dim);
        let ours = KMeansParams::new(k)
            .check()
            .unwrap()
            .fit(Shots::new(x.view(), "mixture").unwrap(), &mut ChaCha8Rng::seed_from_u64(seed))
            .unwrap();
        let ours_inertia = inertia_of(x.view(), ours.centroids().mapv(f64::from).view());
        assert!((ours_inertia - ours.inertia()).abs() <= 1e-9 * ours_inertia, "reported inertia");

        let linfa = linfa_clustering::KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
            .n_runs(10)
            .fit(&DatasetBase::from(x.mapv(f64::from)))
            .unwrap();
        let linfa_inertia = inertia_of(x.view(), linfa.centroids().view());
        assert!(
            ours_inertia <= 1.01 * linfa_inertia,
            "seed {seed}, k {k}: ours {ours_inertia} vs linfa {linfa_inertia}"
        );
    }
}
