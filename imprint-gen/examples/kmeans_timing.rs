//! Times `KMeans` against linfa-clustering's `KMeans` on one class-sized
//! problem (n = 6000, d = 512, k = 20), reporting time and inertia for both.
//!
//! Run with `cargo run --release -p imprint-gen --example kmeans_timing`.

use std::time::Instant;

use imprint_core::Shots;
use imprint_gen::KMeansParams;
use linfa::DatasetBase;
use linfa::traits::Fit;
use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng as _;

/// 40 Gaussian groups with centres `scale * N(0, I)` and unit noise, a
/// stand-in for one class of embeddings (the smaller `scale`, the more overlap).
fn class_like(seed: u64, n: usize, dim: usize, scale: f32) -> Array2<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = move || {
        let (u, v): (f32, f32) = (r.random_range(f32::EPSILON..1.0), r.random());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    };
    let centres = Array2::from_shape_simple_fn((40, dim), &mut normal);
    Array2::from_shape_fn((n, dim), |(i, j)| scale * centres[[i % 40, j]] + normal())
}

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, dim, k) = (6000, 512, 20);
    println!("n = {n}, d = {dim}, k = {k}, rayon threads = {}", rayon::current_num_threads());
    let km = KMeansParams::new(k).check()?;
    for (label, scale) in
        [("separated groups (scale 1.5)", 1.5f32), ("overlapping groups (scale 0.15)", 0.15)]
    {
        println!("{label}:");
        let x = class_like(17121997, n, dim, scale);
        let shots = Shots::new(x.view(), "timing data")?;
        for seed in [17121997u64, 123987, 12412312] {
            let start = Instant::now();
            let fit = km.fit(shots, &mut ChaCha8Rng::seed_from_u64(seed))?;
            let ours = start.elapsed().as_secs_f64();
            println!(
                "  imprint-gen KMeans   seed {seed:>8}: {ours:7.3} s, inertia {:.6e}, {} iterations, converged {}",
                fit.inertia(),
                fit.n_iter(),
                fit.converged()
            );
        }
        let data = DatasetBase::from(x.clone());
        for n_runs in [1usize, 10] {
            let start = Instant::now();
            let model = linfa_clustering::KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(17121997))
                .n_runs(n_runs)
                .fit(&data)?;
            let theirs = start.elapsed().as_secs_f64();
            let centroids = model.centroids().mapv(f64::from);
            println!(
                "  linfa KMeans (f32) n_runs {n_runs:>2}       : {theirs:7.3} s, inertia {:.6e}",
                inertia_of(x.view(), centroids.view())
            );
        }
    }
    Ok(())
}
