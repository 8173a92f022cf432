//! Property tests of the framework's invariants.

use imprint_core::{
    AggregateExt, Aggregation, Distance, ImprintedHead, WeightNorm, WeightNormalizer, Weighting,
    ZeroVectorPolicy, argmax_rows, l2_normalize_rows,
};
use ndarray::{Array2, ArrayView2};
use proptest::prelude::*;

/// A random matrix with entries in [-1, 1] and the given shape.
fn matrix(rows: usize, cols: usize) -> impl Strategy<Value = Array2<f32>> {
    proptest::collection::vec(-1.0f32..1.0, rows * cols)
        .prop_map(move |v| Array2::from_shape_vec((rows, cols), v).expect("shape"))
}

/// Rows whose best and second-best class scores differ by more than `margin`,
/// where float rounding cannot decide between them.
fn decided_rows(scores: ArrayView2<'_, f32>, margin: f32) -> Vec<bool> {
    scores
        .outer_iter()
        .map(|r| {
            let mut v: Vec<f32> = r.to_vec();
            v.sort_by(|a, b| b.total_cmp(a));
            v.len() < 2 || v[0] - v[1] > margin
        })
        .collect()
}

fn setup() -> impl Strategy<Value = (usize, Array2<f32>, Vec<usize>, Array2<f32>)> {
    (1usize..6, 2usize..5, 1usize..12).prop_flat_map(|(dim, n_classes, n_queries)| {
        (
            Just(n_classes),
            matrix(n_classes * 3, dim + 1),
            proptest::collection::vec(0..n_classes, n_classes * 3),
            matrix(n_queries, dim + 1),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// SPEC invariant: with L2-normalized proxies, `max` (inner product) and
    /// `mnn(m = 1, euclidean)` predict the same class.
    #[test]
    fn max_equals_one_nn_under_l2_proxies((n_classes, proxies, mut classes, queries) in setup()) {
        // Every class needs at least one proxy.
        for (c, slot) in classes.iter_mut().take(n_classes).enumerate() { *slot = c; }
        prop_assume!(proxies.outer_iter().all(|r| r.iter().any(|v| v.abs() > 1e-3)));
        let proxies = l2_normalize_rows(proxies.view(), ZeroVectorPolicy::Reject, "p").unwrap();
        let max = Aggregation::max();
        let nn = Aggregation::mnn(1, Distance::Euclidean, Weighting::Uniform).unwrap();
        let scores = max.class_scores(proxies.view(), &classes, n_classes, queries.view()).unwrap();
        let decided = decided_rows(scores.view(), 1e-4);
        let a = argmax_rows(scores.view());
        let b = nn.predict(proxies.view(), &classes, n_classes, queries.view()).unwrap();
        for i in 0..a.len() {
            if decided[i] { prop_assert_eq!(a[i], b[i], "query {}", i); }
        }
    }

    /// Relabelling classes relabels predictions, for every built-in aggregation.
    #[test]
    fn relabelling_classes_relabels_predictions(
        (n_classes, proxies, mut classes, queries) in setup(),
        shift in 1usize..4,
        agg in 0usize..4,
    ) {
        for (c, slot) in classes.iter_mut().take(n_classes).enumerate() { *slot = c; }
        let aggregation = [
            Aggregation::max(),
            Aggregation::Max { distance: Distance::Manhattan },
            Aggregation::mnn(3, Distance::Euclidean, Weighting::InverseDistance).unwrap(),
            Aggregation::mnn(1, Distance::Cosine, Weighting::Uniform).unwrap(),
        ][agg];
        let perm = |c: usize| (c + shift) % n_classes;
        let relabelled: Vec<usize> = classes.iter().map(|&c| perm(c)).collect();
        let s1 = aggregation.class_scores(proxies.view(), &classes, n_classes, queries.view()).unwrap();
        let s2 = aggregation.class_scores(proxies.view(), &relabelled, n_classes, queries.view()).unwrap();
        let decided = decided_rows(s1.view(), 1e-6);
        let p1 = argmax_rows(s1.view());
        let p2 = argmax_rows(s2.view());
        for i in 0..p1.len() {
            if decided[i] { prop_assert_eq!(perm(p1[i]), p2[i]); }
        }
    }

    /// Quantile normalization keeps each proxy's rank order and gives it
    /// exactly the targets, which are the quantiles `quantile(ref, (i + 0.5) / d)`
    /// up to the reference's float32 arithmetic.
    #[test]
    fn quantile_keeps_rank_order_and_hits_reference_quantiles(
        (proxies, reference) in (1usize..8).prop_flat_map(|d| (matrix(3, d), matrix(4, d)))
    ) {
        let out = WeightNorm::Quantile.normalize(proxies.view(), reference.view()).unwrap();
        let d = proxies.ncols();
        let mut sorted_ref: Vec<f64> = reference.iter().map(|&v| f64::from(v)).collect();
        sorted_ref.sort_by(f64::total_cmp);
        // Every proxy receives all d targets: they are the first proxy's values, sorted.
        let mut targets = out.row(0).to_vec();
        targets.sort_by(f32::total_cmp);
        let scale = sorted_ref.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (i, &t) in targets.iter().enumerate() {
            let exact = quantile_sorted(&sorted_ref, (i as f64 + 0.5) / d as f64);
            prop_assert!((f64::from(t) - exact).abs() <= 1e-6 * scale, "{} vs {}", t, exact);
        }
        for (p, o) in proxies.outer_iter().zip(out.outer_iter()) {
            for i in 0..d {
                for j in 0..d {
                    if p[i] < p[j] { prop_assert!(o[i] <= o[j]); }
                }
            }
            let mut got = o.to_vec();
            got.sort_by(f32::total_cmp);
            prop_assert_eq!(got, targets.clone());
        }
    }

    /// A saved head loads back identical, whatever its contents.
    #[test]
    fn saved_heads_round_trip(proxies in (1usize..5).prop_flat_map(|d| matrix(4, d))) {
        let mut head = ImprintedHead::new(proxies.ncols()).unwrap();
        head.add_class("a", proxies.slice(ndarray::s![..1, ..])).unwrap();
        head.add_class("b", proxies.slice(ndarray::s![1.., ..])).unwrap();
        let mut buf = Vec::new();
        head.save_json(&mut buf).unwrap();
        prop_assert_eq!(ImprintedHead::load_json(buf.as_slice()).unwrap(), head);
    }
}

/// numpy's default (linear) quantile of ascending `sorted`, written out as
/// the oracle: position `q (n - 1)`, interpolated between its neighbours.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}
