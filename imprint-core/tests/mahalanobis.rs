//! Mahalanobis distances and rankings against a direct float64 oracle, in
//! the regime that broke the float32 expansion: fewer proxies than
//! dimensions, so `(cov + 1e-6 I)^-1` has eigenvalues near 1e6, on raw
//! (unnormalized, offset) embeddings.
#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

use imprint_core::{AggregateExt, Aggregation, Aggregator, Distance, MAHALANOBIS_RIDGE, Weighting, pairwise};
use ndarray::{Array1, Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Inverse by Gauss-Jordan elimination with partial pivoting, in f64.
fn inverse(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let mut m = ndarray::concatenate![Axis(1), a.clone(), Array2::eye(n)];
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| m[[i, c]].abs().total_cmp(&m[[j, c]].abs())).unwrap();
        for k in 0..2 * n {
            m.swap([c, k], [piv, k]);
        }
        let d = m[[c, c]];
        m.row_mut(c).mapv_inplace(|v| v / d);
        for r in 0..n {
            if r != c {
                let f = m[[r, c]];
                let rowc = m.row(c).to_owned();
                m.row_mut(r).zip_mut_with(&rowc, |v, &w| *v -= f * w);
            }
        }
    }
    m.slice(ndarray::s![.., n..]).to_owned()
}

/// The reference's formula, directly: `w = proxies - proxies.mean(0)` in
/// float32 (NumPy on a float32 array: column sums in row order), `VI =
/// inv(np.cov(w.T) + 1e-6 I)` in f64 (`np.cov` centres again, divisor
/// n - 1), `d = sqrt((x - p)^T VI (x - p))` in f64.
fn oracle_distances(queries: &Array2<f32>, proxies: &Array2<f32>) -> Array2<f64> {
    let n = proxies.nrows();
    let mut sums = vec![0.0f32; proxies.ncols()];
    for row in proxies.outer_iter() {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
    let w = Array2::from_shape_fn(proxies.dim(), |(i, j)| f64::from(proxies[[i, j]] - sums[j] / n as f32));
    distances_with_centred(queries, proxies, &w)
}

/// The same formula with the covariance of exactly centred proxies (f64
/// throughout): mathematically equal, numerically not, in this regime.
fn exactly_centred_distances(queries: &Array2<f32>, proxies: &Array2<f32>) -> Array2<f64> {
    distances_with_centred(queries, proxies, &proxies.mapv(f64::from))
}

/// `sqrt((x - p)^T VI (x - p))` with `VI = inv(cov(w) + 1e-6 I)`, `cov`
/// centring `w` on its f64 mean (as `np.cov`), divisor n - 1.
fn distances_with_centred(queries: &Array2<f32>, proxies: &Array2<f32>, w: &Array2<f64>) -> Array2<f64> {
    let p = proxies.mapv(f64::from);
    let n = p.nrows();
    let mean: Array1<f64> = w.mean_axis(Axis(0)).unwrap();
    let c = w - &mean;
    let mut cov = c.t().dot(&c) / (n as f64 - 1.0);
    cov.diag_mut().mapv_inplace(|v| v + MAHALANOBIS_RIDGE);
    let vi = inverse(&cov);
    // Per query, every difference `z = x - p` as a row, then `z^T VI z` row by row.
    let mut d = Array2::<f64>::zeros((queries.nrows(), n));
    for (i, x) in queries.outer_iter().enumerate() {
        let z = x.mapv(f64::from) - &p;
        let t = z.dot(&vi);
        for j in 0..n {
            d[[i, j]] = t.row(j).dot(&z.row(j)).max(0.0).sqrt();
        }
    }
    d
}

/// Classes of the `m` nearest proxies (ties to the lower index), with their distances.
fn oracle_votes(d: &Array2<f64>, classes: &[usize], n_classes: usize, m: usize, w: Weighting) -> Vec<usize> {
    d.outer_iter()
        .map(|row| {
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &b| row[a].total_cmp(&row[b]).then(a.cmp(&b)));
            let mut votes = vec![0.0f64; n_classes];
            for &j in &order[..m] {
                votes[classes[j]] += match w {
                    Weighting::Uniform => 1.0,
                    Weighting::InverseDistance => 1.0 / (row[j] + 1e-10),
                };
            }
            let mut best = 0;
            for (c, &v) in votes.iter().enumerate() {
                if v > votes[best] {
                    best = c;
                }
            }
            best
        })
        .collect()
}

/// `n_classes` classes of `per_class` samples in `dim` dimensions: raw
/// features with a large common offset (like post-ReLU backbone outputs),
/// class structure in a few directions and isotropic noise in all of them.
fn data(rng: &mut ChaCha8Rng, n_classes: usize, per_class: usize, dim: usize) -> (Array2<f32>, Vec<usize>) {
    let centres = Array2::from_shape_fn((n_classes, dim), |_| rng.random_range(0.0f32..3.0));
    let mut x = Array2::<f32>::zeros((n_classes * per_class, dim));
    let mut labels = Vec::new();
    for c in 0..n_classes {
        for i in 0..per_class {
            let r = c * per_class + i;
            for j in 0..dim {
                x[[r, j]] = 4.0 + centres[[c, j]] + rng.random_range(-1.0f32..1.0);
            }
            labels.push(c);
        }
    }
    (x, labels)
}

#[test]
fn fewer_proxies_than_dimensions_rank_like_a_direct_f64_oracle() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (n_classes, dim) = (8, 128);
    // 8 classes x 10 proxies = 80 proxies in 128 dimensions.
    let (proxies, classes) = data(&mut rng, n_classes, 10, dim);
    let (queries, _) = data(&mut rng, n_classes, 20, dim);
    let want = oracle_distances(&queries, &proxies);

    // Distances: the f32 result is the f64 value rounded (relative 1e-6
    // leaves room for the f64 rounding of a different, stable formula).
    let got = pairwise(Distance::Mahalanobis, queries.view(), proxies.view()).unwrap();
    for ((i, j), &g) in got.indexed_iter() {
        let w = want[[i, j]];
        assert!((f64::from(g) - w).abs() <= 1e-6 * w, "distance [{i},{j}]: {g} vs oracle {w}");
    }

    // Rankings: every prediction equals the oracle's, for max (1-nn) and m-nn.
    let max = Aggregation::Max { distance: Distance::Mahalanobis };
    let got = max.predict(proxies.view(), &classes, n_classes, queries.view()).unwrap();
    assert_eq!(got, oracle_votes(&want, &classes, n_classes, 1, Weighting::Uniform), "max");
    for m in [1, 5, 20] {
        for w in [Weighting::Uniform, Weighting::InverseDistance] {
            let agg = Aggregation::mnn(m, Distance::Mahalanobis, w).unwrap();
            let got = agg.predict(proxies.view(), &classes, n_classes, queries.view()).unwrap();
            assert_eq!(got, oracle_votes(&want, &classes, n_classes, m, w), "{}", agg.describe());
        }
    }
}

#[test]
fn the_regime_is_the_hard_one() {
    // The test above is only meaningful if distances carry a large common
    // part (the null space of the proxies' covariance, weighted by 1e6) over
    // which the differences between proxies are small.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (proxies, _) = data(&mut rng, 8, 10, 128);
    let (queries, _) = data(&mut rng, 8, 20, 128);
    let d = oracle_distances(&queries, &proxies);
    let row = d.row(0);
    let (lo, hi) = row.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(lo > 1e3 && (hi - lo) / lo < 1e-3, "distances {lo}..{hi}");
}

#[test]
fn the_covariance_is_the_references_to_the_bit_that_decides_rankings() {
    // 100 proxies in 512 dimensions from overlapping classes (near-ties are
    // common): the f32 rounding of the reference's centred proxies tilts the
    // covariance's near-null directions enough to reorder proxies, so the
    // exactly centred covariance, though more accurate, ranks differently.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (n_classes, per_class, dim) = (5, 20, 512);
    let centres = Array2::from_shape_fn((n_classes, dim), |_| rng.random_range(0.0f32..0.3));
    let mut sample = |n: usize| -> Array2<f32> {
        Array2::from_shape_fn((n_classes * n, dim), |(r, j)| {
            1.0 + centres[[r / n, j]] + rng.random_range(-1.7f32..1.7)
        })
    };
    let proxies = sample(per_class);
    let queries = sample(60);
    let classes: Vec<usize> = (0..n_classes * per_class).map(|r| r / per_class).collect();
    let vote = |d: &Array2<f64>| oracle_votes(d, &classes, n_classes, 1, Weighting::Uniform);
    let reference = vote(&oracle_distances(&queries, &proxies));
    let exact = vote(&exactly_centred_distances(&queries, &proxies));
    let differ = reference.iter().zip(&exact).filter(|(a, b)| a != b).count();
    assert!(differ > 0, "the data must be in the regime where the centring decides rankings");
    let max = Aggregation::Max { distance: Distance::Mahalanobis };
    assert_eq!(max.predict(proxies.view(), &classes, n_classes, queries.view()).unwrap(), reference);
}
