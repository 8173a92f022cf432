//! End-to-end: imprint heads from multi-modal classes with every generator and
//! aggregation, and check accuracy where the paper predicts an ordering.
//! That results do not depend on the number of threads is checked in
//! `determinism.rs`.

#![allow(clippy::unwrap_used)] // helpers of a test: a failure should stop it loudly

use imprint_core::{
    Aggregation, Distance, ImprintedHead, Imprinter, InputNorm, WeightNorm, Weighting, ZeroVectorPolicy,
    metrics,
};
use imprint_gen::{GENERATOR_NAMES, generator_by_name};
use ndarray::{Array2, Axis, concatenate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n_classes` classes with `modes` Gaussian modes each. Mode `m` of class `c`
/// sits at `(-1)^m * centre_c` (plus a small per-mode offset for `m >= 2`),
/// so the class mean is near the origin, a poor proxy, while one centroid per
/// mode is a good one.
fn multimodal(seed: u64, n_classes: usize, modes: usize, n_per_mode: usize, dim: usize) -> Vec<Array2<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> =
        (0..n_classes).map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()).collect();
    (0..n_classes)
        .map(|c| {
            let parts: Vec<Array2<f32>> = (0..modes)
                .map(|m| {
                    let sign = if m % 2 == 0 { 1.0 } else { -1.0 };
                    let shift: Vec<f32> =
                        (0..dim).map(|_| if m >= 2 { rng.random_range(-0.3f32..0.3) } else { 0.0 }).collect();
                    Array2::from_shape_fn((n_per_mode, dim), |(_, j)| {
                        sign * centres[c][j] + shift[j] + rng.random_range(-0.15..0.15)
                    })
                })
                .collect();
            concatenate(Axis(0), &parts.iter().map(|p| p.view()).collect::<Vec<_>>()).unwrap()
        })
        .collect()
}

fn split(classes: &[Array2<f32>]) -> (Vec<Array2<f32>>, Array2<f32>, Vec<usize>) {
    let mut train = Vec::new();
    let mut test = Vec::new();
    let mut truth = Vec::new();
    for (c, x) in classes.iter().enumerate() {
        let (even, odd): (Vec<usize>, Vec<usize>) = (0..x.nrows()).partition(|i| i % 2 == 0);
        train.push(x.select(Axis(0), &even));
        test.push(x.select(Axis(0), &odd));
        truth.extend(std::iter::repeat_n(c, odd.len()));
    }
    let test = concatenate(Axis(0), &test.iter().map(|t| t.view()).collect::<Vec<_>>()).unwrap();
    (train, test, truth)
}

fn imprint(generator: &str, k: Option<usize>, train: &[Array2<f32>], agg: Aggregation) -> ImprintedHead {
    let imprinter = Imprinter::from_boxed(generator_by_name(generator, k).unwrap())
        .with_post_norm(WeightNorm::L2(ZeroVectorPolicy::Reject))
        .with_seed(17121997);
    let mut head =
        ImprintedHead::with_inference(train[0].ncols(), InputNorm::L2(ZeroVectorPolicy::Reject), agg)
            .unwrap();
    let classes: Vec<(String, _)> =
        train.iter().enumerate().map(|(c, x)| (c.to_string(), x.view())).collect();
    imprinter.imprint_task(&mut head, &classes).unwrap();
    head
}

#[test]
fn kmeans_proxies_beat_the_mean_on_multimodal_classes() {
    let (train, test, truth) = split(&multimodal(1, 4, 2, 40, 16));
    let acc = |generator: &str, k| {
        let head = imprint(generator, k, &train, Aggregation::max());
        metrics::accuracy(&head.predict(test.view()).unwrap(), &truth).unwrap()
    };
    let mean = acc("mean", None);
    let kmeans = acc("kmeans", Some(2));
    let all = acc("all", None);
    assert!(kmeans > mean + 0.1, "kmeans {kmeans} vs mean {mean}");
    assert!(kmeans > 0.95 && all > 0.95, "kmeans {kmeans}, all {all}");
}

#[test]
fn every_generator_and_aggregation_runs_end_to_end() {
    let (train, test, truth) = split(&multimodal(2, 3, 2, 20, 8));
    let aggregations = [
        Aggregation::max(),
        Aggregation::mnn(3, Distance::InnerProduct, Weighting::Uniform).unwrap(),
        Aggregation::mnn(5, Distance::Euclidean, Weighting::InverseDistance).unwrap(),
        Aggregation::mnn(2, Distance::Mahalanobis, Weighting::Uniform).unwrap(),
        Aggregation::mnn(2, Distance::Chebyshev, Weighting::Uniform).unwrap(),
        Aggregation::Max { distance: Distance::Manhattan },
    ];
    for &generator in GENERATOR_NAMES {
        for agg in aggregations {
            let head = imprint(generator, Some(4), &train, agg);
            assert!(head.n_proxies() >= 3 && head.n_proxies() <= 3 * 20);
            let predicted = head.predict(test.view()).unwrap();
            let acc = metrics::accuracy(&predicted, &truth).unwrap();
            let f1 = metrics::per_class_f1(&predicted, &truth, 3).unwrap();
            assert_eq!(f1.len(), 3);
            // Generators that spread k = 4 proxies over both modes of a class must
            // classify well. By design of the data, a class mean (and cov_max's
            // picks) sit between the modes, "none" is random vectors (a control),
            // and Mahalanobis whitening by a dozen proxies in 8 dimensions is a
            // poor metric; those only have to run.
            let covers_modes = ["all", "random", "kmeans", "kmedoids", "fps"].contains(&generator);
            let meaningful =
                covers_modes && !matches!(agg, Aggregation::Mnn(p) if p.distance() == Distance::Mahalanobis);
            if meaningful {
                assert!(acc > 0.5, "{generator} with {agg:?}: accuracy {acc}");
            }
        }
    }
}
