//! Property tests (issue 5): no public function of imprint-core, imprint-gen,
//! imprint-baselines, or the pure part of imprint-data panics on arbitrary
//! shapes (0 rows, 0 columns, mismatched dimensions) and values (NaN, ±Inf,
//! huge, subnormal, all-zero rows), arbitrary `k`, `m` and names: each returns
//! `Ok` or `Err`. Where it returns `Ok`, a cheap invariant is checked (shapes,
//! class indices in range, finite outputs for moderate inputs).
//!

use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_core::metrics::{accuracy, per_class_f1};
use imprint_core::{
    AggregateExt, Aggregation, Aggregator, Centering, Distance, GenerateExt, ImprintedHead, Imprinter,
    InputNorm, Shots as CoreShots, WeightNorm, WeightNormalizer, Weighting, ZeroVectorPolicy, argmax_rows,
    check_dim, check_embeddings, check_finite, l2_normalize_rows, neural_collapse, pairwise,
};
use imprint_data::{
    Embeddings, FewShot, LabelMapping, SourceData, SyntheticParams, TaskSpec, presample_indices,
};
use imprint_gen::{
    CovMaxParams, FarthestPointParams, GENERATOR_NAMES, KMeansParams, KMedoidsParams, RandomSamplesParams,
    XavierRandomParams, generator_by_name,
};
use ndarray::{Array2, ArrayView2};
use proptest::prelude::*;
use proptest::sample::select;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Cases per property: enough to meet every kind of value in every position
/// over CI runs, few enough that the whole file runs in a few seconds.
const CASES: u32 = 512;

// ---------------------------------------------------------------------------
// Strategies.

/// Special values: non-finite, extreme, subnormal and signed zeros.
const SPECIAL: [f32; 12] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MAX,
    f32::MIN,
    3e38,
    -1e30,
    1e-40,
    -1e-45,
    f32::MIN_POSITIVE,
    0.0,
    -0.0,
];

/// Finite values only, but extreme ones too (huge, subnormal).
const EXTREME: [f32; 9] = [f32::MAX, f32::MIN, 3e38, -1e30, 1e30, 1e-40, -1e-45, f32::MIN_POSITIVE, -0.0];

/// Values of one of four kinds, so that whole matrices are often clean (and
/// reach the numeric code) and sometimes hostile.
fn values(kind: u8) -> BoxedStrategy<f32> {
    match kind {
        0 | 1 => (-4.0f32..4.0).boxed(),
        2 => prop_oneof![4 => -4.0f32..4.0, 1 => select(EXTREME.to_vec())].boxed(),
        _ => prop_oneof![4 => -4.0f32..4.0, 1 => select(SPECIAL.to_vec())].boxed(),
    }
}

/// A matrix of `0..=max_rows` x `0..=max_cols` arbitrary values, sometimes
/// with an all-zero row or a few duplicated rows.
fn matrix(max_rows: usize, max_cols: usize) -> impl Strategy<Value = Array2<f32>> {
    (0..=max_rows, 0..=max_cols, 0u8..4).prop_flat_map(|(rows, cols, kind)| {
        (proptest::collection::vec(values(kind), rows * cols), any::<u8>(), any::<u8>()).prop_map(
            move |(v, zero, dup)| {
                let mut x = Array2::from_shape_vec((rows, cols), v).expect("shape");
                if rows > 0 && zero % 4 == 0 {
                    x.row_mut(usize::from(zero) % rows).fill(0.0);
                }
                if rows > 1 && dup % 4 == 0 {
                    let src = x.row(0).to_owned();
                    x.row_mut(rows - 1).assign(&src);
                }
                x
            },
        )
    })
}

/// A matrix with exactly `cols` columns.
fn matrix_with_cols(max_rows: usize, cols: usize) -> impl Strategy<Value = Array2<f32>> {
    (0..=max_rows, 0u8..4).prop_flat_map(move |(rows, kind)| {
        proptest::collection::vec(values(kind), rows * cols)
            .prop_map(move |v| Array2::from_shape_vec((rows, cols), v).expect("shape"))
    })
}

fn k_value() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(0)),
        6 => (1usize..7).prop_map(Some),
        1 => select(vec![usize::MAX, usize::MAX / 2, 1 << 40, 1_000_000]).prop_map(Some),
    ]
}

fn generator_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(GENERATOR_NAMES.to_vec()).prop_map(str::to_string),
        1 => select(vec!["covmax", "", "KMEANS", "ls", "kls", "kmeans ", "mean\0"]).prop_map(str::to_string),
        1 => "\\PC{0,12}",
    ]
}

fn distance() -> impl Strategy<Value = Distance> {
    select(vec![
        Distance::InnerProduct,
        Distance::Cosine,
        Distance::Euclidean,
        Distance::Manhattan,
        Distance::Chebyshev,
        Distance::Mahalanobis,
    ])
}

fn aggregation() -> impl Strategy<Value = Aggregation> {
    prop_oneof![
        distance().prop_map(|distance| Aggregation::Max { distance }),
        (
            prop_oneof![4 => 0usize..8, 1 => select(vec![usize::MAX, 1 << 40])],
            distance(),
            select(vec![Weighting::Uniform, Weighting::InverseDistance]),
        )
            .prop_map(|(m, distance, weighting)| {
                Aggregation::mnn(m, distance, weighting).unwrap_or(Aggregation::Max { distance })
            }),
    ]
}

/// Proxies, their class labels, the number of classes and queries: usually
/// consistent (so that scores are computed), sometimes not.
fn aggregation_inputs() -> impl Strategy<Value = (Array2<f32>, Vec<usize>, usize, Array2<f32>)> {
    (0usize..5, 1usize..5)
        .prop_flat_map(|(n_classes, dim)| {
            (
                matrix_with_cols(12, dim),
                Just(n_classes),
                prop_oneof![4 => matrix_with_cols(6, dim), 1 => matrix(5, 5)],
            )
        })
        .prop_flat_map(|(proxies, n_classes, queries)| {
            let n = proxies.nrows();
            let labels = prop_oneof![
                4 => proptest::collection::vec(0..n_classes.max(1), n),
                1 => proptest::collection::vec(0usize..6, 0..8),
            ];
            (Just(proxies), labels, Just(n_classes), Just(queries))
        })
}

/// A matrix with `cols` columns most of the time, of any shape otherwise.
fn mostly_cols(max_rows: usize, cols: usize) -> BoxedStrategy<Array2<f32>> {
    prop_oneof![4 => matrix_with_cols(max_rows, cols), 1 => matrix(max_rows, 5)].boxed()
}

fn input_norm() -> impl Strategy<Value = InputNorm> {
    select(vec![
        InputNorm::None,
        InputNorm::L2(ZeroVectorPolicy::Reject),
        InputNorm::L2(ZeroVectorPolicy::KeepZero),
    ])
}

fn weight_norm() -> impl Strategy<Value = WeightNorm> {
    select(vec![
        WeightNorm::None,
        WeightNorm::L2(ZeroVectorPolicy::Reject),
        WeightNorm::L2(ZeroVectorPolicy::KeepZero),
        WeightNorm::Quantile,
    ])
}

/// Lambda of the least-squares oracles, valid or not.
fn lambda() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0f64..2.0,
        1 => select(vec![0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, 1e-300, f64::MAX]),
    ]
}

/// Classes: a list of matrices, usually of one dimension, sometimes not.
fn classes(max_classes: usize) -> impl Strategy<Value = Vec<Array2<f32>>> {
    (1usize..5).prop_flat_map(move |dim| {
        proptest::collection::vec(
            prop_oneof![6 => matrix_with_cols(6, dim), 1 => matrix(4, 5)],
            0..=max_classes,
        )
    })
}

fn views(x: &[Array2<f32>]) -> Vec<ArrayView2<'_, f32>> {
    x.iter().map(|a| a.view()).collect()
}

/// Finite and at most 1e3 in magnitude: inputs for which outputs must be finite.
fn moderate(x: ArrayView2<'_, f32>) -> bool {
    x.iter().all(|v| v.is_finite() && v.abs() <= 1e3)
}

fn all_finite(x: ArrayView2<'_, f32>) -> bool {
    x.iter().all(|v| v.is_finite())
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// check_embeddings, check_finite, check_dim and Shots::new.
    #[test]
    fn validation_helpers(x in matrix(6, 5), dim in 0usize..7, what in "\\PC{0,10}") {
        let emb = check_embeddings(x.view(), &what);
        let fin = check_finite(x.view(), &what);
        prop_assert_eq!(fin.is_ok(), x.ncols() > 0 && all_finite(x.view()));
        prop_assert_eq!(emb.is_ok(), fin.is_ok() && x.nrows() > 0);
        prop_assert_eq!(check_dim(x.view(), dim, "op").is_ok(), x.ncols() == dim);
        if let Ok(shots) = CoreShots::new(x.view(), &what) {
            prop_assert!(shots.n_shots() >= 1 && shots.dim() >= 1);
        }
    }

    /// L2 normalization and NORMpre / NORMinf: unit or (KeepZero) zero rows.
    #[test]
    fn l2_and_input_norms(x in matrix(6, 5), norm in input_norm()) {
        if let Ok(y) = norm.apply(x.view(), "x") {
            prop_assert_eq!(y.dim(), x.dim());
            if norm != InputNorm::None {
                prop_assert!(all_finite(y.view()));
                for r in y.outer_iter() {
                    let n: f64 = r.iter().map(|&v| f64::from(v).powi(2)).sum();
                    prop_assert!(n == 0.0 || (n - 1.0).abs() < 1e-4, "row norm^2 {}", n);
                }
            }
        }
        for policy in [ZeroVectorPolicy::Reject, ZeroVectorPolicy::KeepZero] {
            let _ = l2_normalize_rows(x.view(), policy, "x");
        }
    }

    /// Every NORMpost, with imprinted weights of any shape (even another dimension).
    #[test]
    fn weight_norms(proxies in matrix(5, 5), imprinted in matrix(5, 5), norm in weight_norm()) {
        if let Ok(y) = norm.normalize(proxies.view(), imprinted.view()) {
            prop_assert_eq!(y.dim(), proxies.dim());
            if all_finite(proxies.view()) && all_finite(imprinted.view()) && norm != WeightNorm::None {
                prop_assert!(all_finite(y.view()), "{:?}", y);
            }
        }
    }

    /// Quantile NORMpost against any reference (empty, NaN, Inf, huge) and any proxies.
    #[test]
    fn quantile_normalization(reference in matrix(5, 5), proxies in matrix(5, 5)) {
        if let Ok(out) = WeightNorm::Quantile.normalize(proxies.view(), reference.view()) {
            prop_assert_eq!(out.dim(), proxies.dim());
            if reference.is_empty() {
                prop_assert!(out.iter().zip(&proxies).all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }

    /// Every generator by name, with any k, on any shots; GenerateExt's contract on Ok.
    #[test]
    fn generators_by_name(name in generator_name(), k in k_value(), x in matrix(8, 5), seed: u64) {
        let Ok(generator) = generator_by_name(&name, k) else { return Ok(()) };
        prop_assert!(k != Some(0));
        if let Ok(p) = generator.generate(x.view(), &mut rng(seed)) {
            prop_assert_eq!(p.ncols(), x.ncols());
            prop_assert!(p.nrows() >= 1);
            let max = match generator.n_proxies() { Some(k) => k.max(x.nrows()), None => x.nrows() };
            prop_assert!(p.nrows() <= max);
            prop_assert!(all_finite(p.view()));
        }
    }

    /// Generator types used directly: params builders, fits, indices, bounds.
    #[test]
    fn generator_types(
        k in prop_oneof![4 => 0usize..7, 1 => select(vec![usize::MAX, 1 << 40])],
        // Data of f32::MAX scale, where Lloyd's labels would never settle, is an error
        // (KMeans::fit); max_iter stays at most the default so that the property stays fast.
        max_iter in prop_oneof![4 => 0usize..5, 1 => Just(KMeansParams::DEFAULT_MAX_ITER)],
        tol in prop_oneof![3 => 0.0f64..1.0, 1 => select(vec![-1.0, f64::NAN, f64::INFINITY, 0.0])],
        // Above KMeansParams::MAX_LOCAL_TRIALS, check() refuses.
        trials in prop_oneof![4 => 0usize..16, 1 => select(vec![KMeansParams::MAX_LOCAL_TRIALS + 1, usize::MAX])],
        dim in 0usize..7,
        x in matrix(8, 5),
        seed: u64,
    ) {
        let _ = XavierRandomParams::new(k).check().map(|g| g.bound(dim));
        if let Ok(g) = XavierRandomParams::new(k).check() {
            let a = g.bound(dim);
            prop_assert!(a.is_finite() && a >= 0.0, "bound {}", a);
        }
        let Ok(shots) = CoreShots::new(x.view(), "x") else { return Ok(()) };
        let n = shots.n_shots();
        if let Ok(km) = KMeansParams::new(k).max_iter(max_iter).tol(tol).n_local_trials(trials.max(1)).check()
            && let Ok(fit) = km.fit(shots, &mut rng(seed))
        {
            prop_assert!(k <= n);
            prop_assert_eq!(fit.centroids().dim(), (k, x.ncols()));
            prop_assert_eq!(fit.labels().len(), n);
            prop_assert!(fit.labels().iter().all(|&l| l < k));
        }
        let _ = KMeansParams::new(k).n_local_trials(trials).check();
        if let Ok(kmed) = KMedoidsParams::new(k).max_iter(max_iter.min(50)).check()
            && let Ok(fit) = kmed.fit(shots)
        {
            prop_assert!(fit.medoid_indices().iter().all(|&i| i < n));
            prop_assert_eq!(fit.medoids().dim(), (k, x.ncols()));
        }
        if let Ok(fps) = FarthestPointParams::new(k).check() {
            let idx = fps.indices(shots, &mut rng(seed));
            prop_assert_eq!(idx.len(), k.min(n));
            prop_assert!(idx.iter().all(|&i| i < n));
        }
        if let Ok(random) = RandomSamplesParams::new(k).check()
            && let Ok(idx) = random.indices(shots, &mut rng(seed))
        {
            prop_assert_eq!(idx.len(), k.min(n));
        }
        if let Ok(cov) = CovMaxParams::new(k).check()
            && let Ok(idx) = cov.indices(shots)
        {
            prop_assert_eq!(idx.len(), k.min(n));
        }
    }

    /// The imprinting pipeline with every NORMpre and NORMpost: the head only
    /// ever holds finite weights, and a failed call leaves it unchanged.
    #[test]
    fn imprinter(
        name in generator_name(), k in k_value(), pre in input_norm(), post in weight_norm(),
        (head_dim, first, task, extra) in (1usize..5).prop_flat_map(|dim| (
            Just(dim),
            mostly_cols(6, dim),
            proptest::collection::vec(mostly_cols(6, dim), 0..4),
            mostly_cols(4, dim),
        )),
        class in 0usize..4, seed: u64,
    ) {
        let Ok(generator) = generator_by_name(&name, k) else { return Ok(()) };
        let imprinter = Imprinter::from_boxed(generator).with_pre_norm(pre).with_post_norm(post).with_seed(seed);
        let mut head = ImprintedHead::new(head_dim).expect("dim >= 1");
        let before = head.clone();
        match imprinter.imprint_class(&mut head, "first", first.view()) {
            Ok(c) => prop_assert_eq!(c, 0),
            Err(_) => prop_assert_eq!(&head, &before),
        }
        let before = head.clone();
        let named: Vec<(String, ArrayView2<'_, f32>)> =
            task.iter().enumerate().map(|(i, x)| (format!("c{i}"), x.view())).collect();
        match imprinter.imprint_task(&mut head, &named) {
            Ok(report) => prop_assert_eq!(report.classes.len(), task.len()),
            Err(_) => prop_assert_eq!(&head, &before),
        }
        let before = head.clone();
        if imprinter.add_shots(&mut head, class, extra.view()).is_err() {
            prop_assert_eq!(&head, &before);
        }
        prop_assert!(all_finite(head.weights()));
        prop_assert_eq!(head.proxy_classes().len(), head.n_proxies());
    }

    /// The head: constructors, adding and extending classes, scores and
    /// predictions with any NORMinf and AGG.
    #[test]
    fn head_operations(
        (dim, proxies, extend, queries) in prop_oneof![
            6 => 0usize..5,
            1 => select(vec![usize::MAX, isize::MAX as usize, 1 << 40]),
        ].prop_flat_map(|dim| {
            let cols = dim.min(4);
            (Just(dim), proptest::collection::vec(mostly_cols(4, cols), 0..4), mostly_cols(3, cols), mostly_cols(5, cols))
        }),
        norm in input_norm(), agg in aggregation(), set_agg in aggregation(), class in 0usize..5,
    ) {
        prop_assert_eq!(ImprintedHead::new(dim).is_ok(), ImprintedHead::with_inference(dim, norm, Aggregation::max()).is_ok());
        let Ok(mut head) = ImprintedHead::with_inference(dim, norm, agg) else { return Ok(()) };
        prop_assert!(dim >= 1);
        for (i, p) in proxies.iter().enumerate() {
            let _ = head.add_class(format!("c{}", i % 3), p.view());
        }
        let _ = head.extend_class(class, extend.view());
        let _ = head.class_proxies(class);
        head.set_aggregation(set_agg);
        prop_assert!(all_finite(head.weights()));
        if let Ok(s) = head.scores(queries.view()) {
            prop_assert_eq!(s.dim(), (queries.nrows(), head.n_classes()));
            if moderate(head.weights()) && moderate(queries.view()) {
                prop_assert!(all_finite(s.view()), "{:?}", s);
            }
        }
        if let Ok(p) = head.predict(queries.view()) {
            prop_assert_eq!(p.len(), queries.nrows());
            prop_assert!(p.iter().all(|&c| c < head.n_classes()));
        }
    }

    /// load_json on arbitrary bytes, and on a valid head with one byte changed.
    #[test]
    fn load_json_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        text in "\\PC{0,64}",
        at in any::<usize>(), byte in any::<u8>(),
    ) {
        let _ = ImprintedHead::load_json(bytes.as_slice());
        let _ = ImprintedHead::load_json(text.as_bytes());
        let mut head = ImprintedHead::with_inference(2, InputNorm::L2(ZeroVectorPolicy::KeepZero),
            Aggregation::mnn(2, Distance::Mahalanobis, Weighting::InverseDistance).expect("m = 2")).expect("head");
        head.add_class("a", ndarray::array![[1.0f32, 0.5]].view()).expect("class");
        head.add_class("b", ndarray::array![[-1.0f32, 0.5], [0.0, 2.0]].view()).expect("class");
        let mut saved = Vec::new();
        head.save_json(&mut saved).expect("save");
        let i = at % saved.len();
        saved[i] = byte;
        if let Ok(loaded) = ImprintedHead::load_json(saved.as_slice()) {
            prop_assert!(all_finite(loaded.weights()));
            prop_assert_eq!(loaded.weights().ncols(), loaded.dim());
            let q = Array2::from_elem((2, loaded.dim().min(64)), 0.5f32);
            if let Ok(p) = loaded.predict(q.view()) {
                prop_assert!(p.iter().all(|&c| c < loaded.n_classes()));
            }
        }
    }

    /// Every aggregation through AggregateExt, with any proxy labels and classes.
    #[test]
    fn aggregations(agg in aggregation(), (proxies, labels, n_classes, queries) in aggregation_inputs()) {
        if let Ok(s) = agg.class_scores(proxies.view(), &labels, n_classes, queries.view()) {
            prop_assert_eq!(s.dim(), (queries.nrows(), n_classes));
            prop_assert_eq!(labels.len(), proxies.nrows());
            if moderate(proxies.view()) && moderate(queries.view()) {
                // Classes without proxies score -inf under max; everything else is finite.
                prop_assert!(s.iter().all(|v| v.is_finite() || *v == f32::NEG_INFINITY), "{:?}", s);
            }
        }
        if let Ok(p) = agg.predict(proxies.view(), &labels, n_classes, queries.view()) {
            prop_assert!(p.iter().all(|&c| c < n_classes));
        }
        let _ = agg.describe();
    }

    /// pairwise distances and argmax_rows.
    #[test]
    fn distances(
        d in distance(),
        (queries, proxies) in (0usize..5).prop_flat_map(|dim| (mostly_cols(5, dim), mostly_cols(5, dim))),
        scores in matrix(4, 4),
    ) {
        if let Ok(m) = pairwise(d, queries.view(), proxies.view()) {
            prop_assert_eq!(m.dim(), (queries.nrows(), proxies.nrows()));
            if moderate(queries.view()) && moderate(proxies.view()) {
                prop_assert!(all_finite(m.view()), "{:?}", m);
                if d != Distance::InnerProduct {
                    prop_assert!(m.iter().all(|&v| v >= 0.0), "{:?}", m);
                }
            }
        }
        let best = argmax_rows(scores.view());
        prop_assert_eq!(best.len(), scores.nrows());
        if scores.ncols() > 0 {
            prop_assert!(best.iter().all(|&i| i < scores.ncols()));
        }
    }

    /// Neural collapse on any list of classes, both centerings.
    #[test]
    fn collapse(classes in classes(4), reference: bool) {
        let centering = if reference { Centering::Reference } else { Centering::Paper };
        if let Ok(c) = neural_collapse(&views(&classes), centering) {
            prop_assert!(classes.len() >= 2);
            prop_assert!(c.rank_between >= 1 && c.rank_between < classes.len());
            if classes.iter().all(|x| moderate(x.view())) {
                prop_assert!(c.nc1.is_finite() && c.vci.is_finite(), "{:?}", c);
            }
        }
    }

    /// Accuracy and per-class F1.
    #[test]
    fn metrics(
        predicted in proptest::collection::vec(0usize..6, 0..10),
        truth in proptest::collection::vec(0usize..6, 0..10),
        n_classes in 0usize..8,
    ) {
        if let Ok(a) = accuracy(&predicted, &truth) {
            prop_assert!((0.0..=1.0).contains(&a));
        }
        if let Ok(f1) = per_class_f1(&predicted, &truth, n_classes) {
            prop_assert_eq!(f1.len(), n_classes);
            prop_assert!(f1.iter().all(|c| (0.0..=1.0).contains(&c.f1)));
            prop_assert_eq!(f1.iter().map(|c| c.support).sum::<usize>(), truth.len());
        }
    }

    /// The least-squares oracles with any lambda, k and classes.
    #[test]
    fn least_squares(classes in classes(4), lambda in lambda(), k in k_value(), seed: u64) {
        if let Ok(ls) = LeastSquaresParams::new(lambda).check() {
            prop_assert!(lambda.is_finite() && lambda >= 0.0);
            if let Ok(w) = ls.fit(&views(&classes)) {
                prop_assert_eq!(w.dim(), (classes.len(), classes[0].ncols()));
                if (1e-3..=1e3).contains(&lambda) && classes.iter().all(|x| moderate(x.view())) {
                    prop_assert!(all_finite(w.view()), "{:?}", w);
                }
            }
        }
        if let Ok(kls) = KLeastSquaresParams::new(k, lambda).check()
            && let Ok(w) = kls.fit(&views(&classes), seed)
        {
            prop_assert_eq!(w.len(), classes.len());
            for (p, x) in w.iter().zip(&classes) {
                prop_assert_eq!(p.ncols(), classes[0].ncols());
                prop_assert!(p.nrows() >= 1 && p.nrows() <= x.nrows());
            }
        }
    }

    /// Stage names parse or fail with an error.
    #[test]
    fn names(s in "\\PC{0,16}") {
        let _ = s.parse::<InputNorm>();
        let _ = s.parse::<WeightNorm>();
        let _ = s.parse::<Weighting>();
        let _ = s.parse::<Distance>();
        let _ = generator_by_name(&s, Some(2));
    }

    /// The pure part of imprint-data: embeddings, label mappings, few-shot
    /// counts and presampling.
    #[test]
    fn data_values(
        x in matrix(6, 4), labels in proptest::collection::vec(prop_oneof![4 => 0usize..5, 1 => Just(usize::MAX)], 0..8),
        pairs in proptest::collection::vec((0usize..8, 0usize..4), 0..8),
        groups in proptest::collection::vec(proptest::collection::vec(0usize..10, 0..4), 0..4),
        pool in proptest::collection::vec(0usize..20, 0..20), n_groups in 0usize..6, m in 0usize..6,
        shots in any::<i64>(), n_rows in 0usize..200, per_class in 0usize..300, seed: u64, label: usize,
    ) {
        if let Ok(e) = Embeddings::new(x.clone(), labels.clone()) {
            prop_assert_eq!(e.n_samples(), labels.len());
            prop_assert!(e.n_samples() >= 1 && e.dim() >= 1 && all_finite(e.embeddings()));
            prop_assert_eq!(e.class_counts().values().sum::<usize>(), e.n_samples());
            let other = Embeddings::new(Array2::ones((1, 1 + (shots.unsigned_abs() % 5) as usize)), vec![0]).expect("valid");
            if let Ok(source) = SourceData::new("s", e.clone(), other) {
                prop_assert_eq!(source.train().dim(), source.test().dim());
            }
        }
        if let Ok(map) = LabelMapping::new(pairs.clone()) {
            prop_assert!(!map.is_empty());
        }
        let _ = LabelMapping::from_groups(&groups);
        if let Ok(map) = LabelMapping::random_m_in_1(&pool, n_groups, m, seed) {
            prop_assert_eq!(map.len(), n_groups * m);
        }
        if let Ok(s) = FewShot::from_reference(shots) {
            prop_assert!(s.kept(5) <= 5);
        }
        let idx = presample_indices(n_rows, FewShot::PerClass(per_class.max(1)), seed, label);
        prop_assert_eq!(idx.len(), per_class.max(1).min(n_rows));
    }

    /// Tasks from in-memory data sets with any labels, splits, mappings and shots.
    #[test]
    fn tasks(
        sets in proptest::collection::vec(
            (1usize..6, prop_oneof![6 => Just(2usize), 1 => 1usize..4], proptest::collection::vec(prop_oneof![12 => 0usize..4, 1 => Just(usize::MAX)], 6), any::<bool>()),
            0..3),
        split in prop_oneof![2 => Just(None), 1 => proptest::option::of(proptest::collection::vec(0usize..10, 0..5))],
        pairs in prop_oneof![2 => Just(None), 1 => proptest::option::of(proptest::collection::vec((0usize..10, 0usize..4), 1..6))],
        shots in prop_oneof![Just(FewShot::All), (1usize..5).prop_map(FewShot::PerClass)],
        seed: u64,
    ) {
        let sources: Vec<SourceData> = sets
            .iter()
            .enumerate()
            .map(|(i, (n, dim, labels, same_test_labels))| {
                // Train on labels[..n]; test on the same labels, or on the last n.
                let part = |offset: usize| {
                    let x = Array2::from_shape_fn((*n, *dim), |(r, c)| (r * 3 + c + offset) as f32 * 0.1 + 0.05);
                    Embeddings::new(x, labels[offset..offset + n].to_vec()).expect("valid")
                };
                let test = if *same_test_labels { part(0) } else { part(6 - n) };
                SourceData::new(format!("set{i}"), part(0), test).expect("same dim")
            })
            .collect();
        let mut spec = TaskSpec::new("t").shots(shots).seed(seed);
        if let Some(split) = split { spec = spec.split(split); }
        if let Some(pairs) = pairs
            && let Ok(map) = LabelMapping::new(pairs)
        {
            spec = spec.mapping(map);
        }
        if let Ok(task) = spec.build(&sources) {
            prop_assert!(task.n_classes() >= 1);
            for c in task.classes() {
                prop_assert!(c.n_train() >= 1 && c.n_train() <= c.n_train_available());
                prop_assert_eq!(c.train().ncols(), task.dim());
            }
            prop_assert!(!task.test_labels().is_empty());
            prop_assert!(task.test_labels().iter().all(|&l| l < task.n_classes()));
            prop_assert_eq!(task.test_embeddings().nrows(), task.test_labels().len());
        }
    }

    /// Synthetic data with any counts and spreads.
    #[test]
    fn synthetic(
        n_classes in prop_oneof![4 => 0usize..4, 1 => select(vec![usize::MAX, 1 << 62])],
        n_modes in prop_oneof![4 => 0usize..3, 1 => select(vec![usize::MAX, 1 << 40])],
        dim in 0usize..4, n_train in 0usize..4, n_test in 0usize..4,
        spread in prop_oneof![3 => 0.0f32..2.0, 1 => select(SPECIAL.to_vec())], seed: u64,
    ) {
        let params = SyntheticParams::new(n_classes, n_modes, dim).n_train(n_train).n_test(n_test)
            .class_spread(spread).mode_spread(spread.abs()).noise(0.1);
        if let Ok(d) = params.generate(seed) {
            prop_assert_eq!(d.train.n_samples(), n_classes * n_train);
            prop_assert_eq!(d.test.dim(), dim);
        }
    }
}
