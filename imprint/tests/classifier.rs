//! The practitioner's classifier: exact incremental updates (a property test
//! for every generator), saving and loading, scores, probabilities, top-k,
//! rejection, per-row errors and bad files.

use imprint::{
    Aggregation, ClassLabel, ClassOrder, Classifier, Distance, GENERATOR_NAMES, GeneratorSpec, InputNorm,
    JOINT_NAMES, Recipe, Updates, WeightNorm, Weighting, ZeroVectorPolicy,
};
use ndarray::{Array2, Axis, s};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` rows per class around well separated centres, with two modes per class.
fn blobs(n_classes: usize, n: usize, dim: usize, seed: u64) -> (Array2<f32>, Vec<i64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Array2::<f32>::zeros((n_classes * n, dim));
    let mut y = Vec::with_capacity(n_classes * n);
    for c in 0..n_classes {
        for i in 0..n {
            let row = c * n + i;
            for j in 0..dim {
                let centre = if j % n_classes == c { 3.0 } else { 0.0 }
                    + if i % 2 == 0 { 0.5 } else { -0.5 } * (j == (c + 1) % dim) as i32 as f32;
                x[[row, j]] = centre + rng.random_range(-0.4..0.4);
            }
            y.push(c as i64 * 10);
        }
    }
    (x, y)
}

fn spec(name: &str, k: usize) -> GeneratorSpec {
    if JOINT_NAMES.contains(&name) {
        GeneratorSpec::oracle(name, Some(k), 0.05)
    } else {
        GeneratorSpec::new(name, Some(k))
    }
}

fn recipe(name: &str, k: usize, post: WeightNorm) -> Recipe {
    let l2 = InputNorm::L2(ZeroVectorPolicy::KeepZero);
    Recipe::paper()
        .with_generator(spec(name, k))
        .with_pre_norm(l2)
        .with_input_norm(l2)
        .with_post_norm(post)
        .with_seed(7)
}

/// Rows of class `label` in `x`.
fn rows_of(x: &Array2<f32>, y: &[i64], label: i64) -> Array2<f32> {
    let idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == label).collect();
    x.select(Axis(0), &idx)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Adding shots to a class in batches gives, bit for bit, the classifier
    /// imprinted once with all the shots: every generator, every NORMpost.
    #[test]
    fn adding_shots_equals_imprinting_once(
        generator in 0..GENERATOR_NAMES.len(),
        post in prop_oneof![Just(WeightNorm::None), Just(WeightNorm::L2(ZeroVectorPolicy::KeepZero)), Just(WeightNorm::Quantile)],
        k in 1usize..4,
        split in 1usize..11,
        seed in 0u64..1000,
    ) {
        let name = GENERATOR_NAMES[generator];
        let (x, y) = blobs(3, 12, 5, seed);
        let r = recipe(name, k, post);
        let once = Classifier::fit(r.clone(), x.view(), &y).unwrap();
        // The first `split` shots of each class, then the rest of class 10 in two batches.
        let first: Vec<usize> = (0..y.len()).filter(|&i| i % 12 < split).collect();
        let mut grown = Classifier::fit(r, x.select(Axis(0), &first).view(), &first.iter().map(|&i| y[i]).collect::<Vec<_>>()).unwrap();
        for label in [0i64, 10, 20] {
            let rest = rows_of(&x, &y, label).slice(s![split.., ..]).to_owned();
            let mid = rest.nrows() / 2;
            for part in [rest.slice(s![..mid, ..]), rest.slice(s![mid.., ..])] {
                if part.nrows() > 0 {
                    grown.add_shots(&ClassLabel::from(label), part).unwrap();
                }
            }
        }
        prop_assert!(grown == once, "{name} / {post}: grown head differs from the one-pass head");
    }
}

#[test]
fn adding_a_class_equals_imprinting_it_in_that_position() {
    let (x, y) = blobs(4, 10, 6, 3);
    for name in GENERATOR_NAMES {
        for post in [WeightNorm::L2(ZeroVectorPolicy::KeepZero), WeightNorm::Quantile] {
            let r = recipe(name, 3, post);
            let all = Classifier::fit_ordered(r.clone(), x.view(), &y, ClassOrder::FirstSeen).unwrap();
            let first: Vec<usize> = (0..30).collect();
            let mut grown =
                Classifier::fit_ordered(r, x.select(Axis(0), &first).view(), &y[..30], ClassOrder::FirstSeen)
                    .unwrap();
            grown.add_class(ClassLabel::from(30i64), x.slice(s![30.., ..])).unwrap();
            assert!(grown == all, "{name} / {post}");
        }
    }
}

#[test]
fn save_load_continue_equals_continuing_in_process() {
    let (x, y) = blobs(3, 16, 8, 11);
    for name in ["kmeans", "mean", "all", "ls", "random"] {
        for post in [WeightNorm::L2(ZeroVectorPolicy::Reject), WeightNorm::Quantile] {
            let mut head = Classifier::fit(recipe(name, 4, post), x.slice(s![..40, ..]), &y[..40]).unwrap();
            head.calibrate_rejection(x.slice(s![..40, ..]), &y[..40], 0.9, 4).unwrap();
            head.calibrate_temperature(x.view(), &y).unwrap();
            let bytes = head.to_bytes().unwrap();
            let mut loaded = Classifier::from_bytes(&bytes).unwrap();
            assert!(loaded == head, "{name}: safetensors round trip");
            let json = Classifier::from_json(&head.to_json().unwrap()).unwrap();
            assert!(json == head, "{name}: JSON round trip");
            head.add_shots(&ClassLabel::from(20i64), x.slice(s![40.., ..])).unwrap();
            loaded.add_shots(&ClassLabel::from(20i64), x.slice(s![40.., ..])).unwrap();
            assert!(loaded == head, "{name}: continuing after loading");
        }
    }
}

#[test]
fn remove_rename_and_list_classes() {
    let (x, y) = blobs(3, 10, 6, 5);
    for post in [WeightNorm::L2(ZeroVectorPolicy::Reject), WeightNorm::Quantile] {
        let mut head = Classifier::fit(recipe("kmeans", 2, post), x.view(), &y).unwrap();
        head.rename_class(&ClassLabel::from(10i64), ClassLabel::from(11i64)).unwrap();
        assert_eq!(head.classes(), &[ClassLabel::Int(0), ClassLabel::Int(11), ClassLabel::Int(20)]);
        assert!(
            head.rename_class(&ClassLabel::from(0i64), ClassLabel::from(20i64)).is_err(),
            "labels stay unique"
        );
        assert!(
            head.rename_class(&ClassLabel::from(0i64), ClassLabel::from("zero")).is_err(),
            "one kind of label"
        );
        head.remove_class(&ClassLabel::from(0i64)).unwrap();
        assert_eq!(head.classes(), &[ClassLabel::Int(11), ClassLabel::Int(20)]);
        assert!(head.remove_class(&ClassLabel::from(0i64)).is_err());
        // Rows of the removed class now go to one of the others; the others still classify.
        let pred = head.predict(x.slice(s![20.., ..])).unwrap();
        assert!(pred.iter().all(|l| *l == ClassLabel::Int(20)));
        assert_eq!(head.proxy_counts(), vec![2, 2]);
    }
}

#[test]
fn updates_append_keeps_no_shots_and_appends_proxies() {
    let (x, y) = blobs(2, 10, 4, 9);
    let r = recipe("kmeans", 2, WeightNorm::L2(ZeroVectorPolicy::Reject)).with_updates(Updates::Append);
    let mut head = Classifier::fit(r, x.view(), &y).unwrap();
    assert_eq!(head.kept_shots(), vec![0, 0]);
    head.add_shots(&ClassLabel::from(0i64), x.slice(s![..5, ..])).unwrap();
    head.add_shots(&ClassLabel::from(0i64), x.slice(s![..5, ..])).unwrap();
    assert_eq!(head.proxy_counts(), vec![6, 2], "each addition appends k proxies");
    let exact =
        Classifier::fit(recipe("kmeans", 2, WeightNorm::L2(ZeroVectorPolicy::Reject)), x.view(), &y).unwrap();
    assert_eq!(exact.kept_shots(), vec![10, 10]);
    let mean = Classifier::fit(recipe("mean", 1, WeightNorm::None), x.view(), &y).unwrap();
    assert_eq!(mean.kept_shots(), vec![0, 0], "mean keeps a running sum, not shots");
}

#[test]
fn scores_probabilities_top_k_and_rows() {
    let (x, y) = blobs(3, 20, 6, 21);
    let mut head =
        Classifier::fit(recipe("kmeans", 3, WeightNorm::L2(ZeroVectorPolicy::Reject)), x.view(), &y).unwrap();
    let p = head.predict_proba(x.view()).unwrap();
    assert!(
        p.outer_iter().all(|r| (r.sum() - 1.0).abs() < 1e-5 && r.iter().all(|&v| (0.0..=1.0).contains(&v)))
    );
    let before = p.map_axis(Axis(1), |r| r.iter().copied().fold(0.0f32, f32::max)).mean().unwrap();
    let report = head.calibrate_temperature(x.view(), &y).unwrap();
    assert!(report.nll_after <= report.nll_before, "{report:?}");
    let after = head
        .predict_proba(x.view())
        .unwrap()
        .map_axis(Axis(1), |r| r.iter().copied().fold(0.0f32, f32::max))
        .mean()
        .unwrap();
    assert!(
        after > before,
        "separable classes: calibration sharpens the probabilities ({before} -> {after})"
    );
    let top = head.top_k(x.slice(s![..2, ..]), 2).unwrap();
    assert_eq!(top[0].len(), 2);
    assert_eq!(top[0][0].0, ClassLabel::Int(0));
    assert!(top[0][0].1 >= top[0][1].1);
    assert!(head.top_k(x.view(), 0).is_err());
    // m-nn scores are vote shares.
    let mut r = recipe("all", 1, WeightNorm::None);
    r.aggregation = Aggregation::mnn(5, Distance::Euclidean, Weighting::Uniform).unwrap();
    let knn = Classifier::fit(r, x.view(), &y).unwrap();
    let shares = knn.scores(x.view()).unwrap();
    assert!(shares.outer_iter().all(|r| (r.sum() - 1.0).abs() < 1e-6));
    // One bad row does not fail the batch.
    let rows = vec![
        x.row(0).to_vec(),
        vec![1.0; 3],
        {
            let mut r = x.row(1).to_vec();
            r[2] = f32::NAN;
            r
        },
        x.row(45).to_vec(),
    ];
    let out = head.predict_rows(&rows);
    assert_eq!(out[0].as_ref().unwrap(), &ClassLabel::Int(0));
    assert!(out[1].as_ref().unwrap_err().to_string().contains("row 1"));
    assert!(out[2].as_ref().unwrap_err().to_string().contains("row 2"));
    assert_eq!(out[3].as_ref().unwrap(), &ClassLabel::Int(20));
}

#[test]
fn rejection_flags_far_rows_and_keeps_most_known_rows() {
    let (x, y) = blobs(3, 40, 8, 4);
    let mut head =
        Classifier::fit(recipe("kmeans", 4, WeightNorm::L2(ZeroVectorPolicy::Reject)), x.view(), &y).unwrap();
    assert!(head.predict_open(x.view()).is_err(), "not calibrated yet");
    head.calibrate_rejection(x.view(), &y, 0.95, 5).unwrap();
    let thresholds = head.calibration().thresholds().unwrap().to_vec();
    assert_eq!(thresholds.len(), 3);
    let (xt, _) = blobs(3, 40, 8, 99);
    let kept = head.predict_open(xt.view()).unwrap().iter().filter(|p| p.is_some()).count();
    assert!(kept as f64 >= 0.85 * xt.nrows() as f64, "kept {kept} of {} known rows", xt.nrows());
    // Rows along features that no class uses.
    let unknown =
        Array2::from_shape_fn(
            (20, 8),
            |(i, j)| if j == 3 + i % 5 { 3.0 } else { 0.1 * ((i + j) % 3) as f32 },
        );
    let rejected = head.predict_open(unknown.view()).unwrap().iter().filter(|p| p.is_none()).count();
    assert!(rejected >= 15, "rejected only {rejected} of 20 unknown rows");
    // A new class gets its own threshold; saving keeps the calibration.
    head.add_class(ClassLabel::from(99i64), unknown.view()).unwrap();
    assert_eq!(head.calibration().thresholds().unwrap().len(), 4);
    assert!(Classifier::from_bytes(&head.to_bytes().unwrap()).unwrap() == head);
}

#[test]
fn int8_export_is_smaller_and_classifies_alike() {
    let (x, y) = blobs(4, 30, 64, 8);
    let head =
        Classifier::fit(recipe("kmeans", 5, WeightNorm::L2(ZeroVectorPolicy::Reject)), x.view(), &y).unwrap();
    let full = head.to_bytes().unwrap();
    let small = head.to_int8_bytes().unwrap();
    let edge = Classifier::from_bytes(&small).unwrap();
    assert_eq!(edge.recipe().updates, Updates::Append);
    let a = head.predict(x.view()).unwrap();
    let b = edge.predict(x.view()).unwrap();
    assert_eq!(a, b);
    // Each proxy keeps its norm (unit, after the L2 NORMpost) and its direction
    // to within the int8 step.
    for (p, e) in head.head().weights().outer_iter().zip(edge.head().weights().outer_iter()) {
        let (pn, en) = (p.dot(&p).sqrt(), e.dot(&e).sqrt());
        assert!((pn - en).abs() <= 1e-5 * pn, "norm {pn} became {en}");
        let max = p.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = (&p - &e).mapv(|v| v * v).sum().sqrt();
        assert!(err <= max / 127.0 * (p.len() as f32).sqrt(), "int8 error {err} above one step per entry");
        assert!(p.dot(&e) / (pn * en) > 0.999, "direction changed");
    }
    assert!(small.len() < full.len() / 4, "{} vs {} bytes", small.len(), full.len());
}

#[test]
fn labels_errors_and_orders() {
    let (x, _) = blobs(2, 4, 3, 1);
    let y = ["b", "b", "b", "b", "a", "a", "a", "a"];
    let sorted = Classifier::fit(recipe("mean", 1, WeightNorm::None), x.view(), &y).unwrap();
    assert_eq!(sorted.classes(), &[ClassLabel::from("a"), ClassLabel::from("b")]);
    let seen =
        Classifier::fit_ordered(recipe("mean", 1, WeightNorm::None), x.view(), &y, ClassOrder::FirstSeen)
            .unwrap();
    assert_eq!(seen.classes(), &[ClassLabel::from("b"), ClassLabel::from("a")]);
    assert!(
        Classifier::fit(recipe("mean", 1, WeightNorm::None), x.view(), &y[..3]).is_err(),
        "length mismatch"
    );
    let mixed: Vec<ClassLabel> = vec![
        1i64.into(),
        "a".into(),
        1i64.into(),
        1i64.into(),
        1i64.into(),
        1i64.into(),
        1i64.into(),
        1i64.into(),
    ];
    assert!(Classifier::fit(recipe("mean", 1, WeightNorm::None), x.view(), &mixed).is_err(), "mixed kinds");
    let mut nan = x.clone();
    nan[[3, 1]] = f32::NAN;
    let err = Classifier::fit(recipe("mean", 1, WeightNorm::None), nan.view(), &y).unwrap_err();
    assert!(err.to_string().contains("row 3, column 1"), "{err}");
    let mut head = sorted;
    assert!(head.add_shots(&ClassLabel::from("zzz"), x.view()).is_err());
    assert!(
        head.add_shots(&ClassLabel::from("a"), Array2::<f32>::zeros((1, 4)).view()).is_err(),
        "wrong dim"
    );
    assert!(head.partial_fit(x.view(), &["a"; 8]).is_ok());
    assert!(head.partial_fit(x.view(), &[1i64; 8]).is_err(), "integer labels into a string head");
    assert!(head.calibrate_temperature(x.view(), &["q"; 8]).is_err(), "unknown label");
}

#[test]
fn hostile_files_are_errors() {
    let (x, y) = blobs(2, 6, 4, 2);
    let head = Classifier::fit(recipe("kmeans", 2, WeightNorm::Quantile), x.view(), &y).unwrap();
    let bytes = head.to_bytes().unwrap();
    for cut in [0, 7, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(Classifier::from_bytes(&bytes[..cut]).is_err(), "truncated at {cut}");
    }
    // A header length far beyond the file.
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(Classifier::from_bytes(&huge).is_err());
    let text = head.to_json().unwrap();
    let edits = [
        ("\"version\":2", "\"version\":3"),
        ("\"format\":\"imprint-rs head\"", "\"format\":\"other\""),
        ("\"shape\":[", "\"shape\":[1,"),
        ("\"dim\":4", "\"dim\":5"),
        ("\"next_stream\":2", "\"next_stream\":1"),
        ("\"kmeans\"", "\"kmeans++\""),
    ];
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        let broken = text.replacen(from, to, 1);
        let err = Classifier::from_json(&broken).unwrap_err();
        assert!(err.to_string().starts_with("saved head"), "{from}: {err}");
    }
    assert!(Classifier::from_json("{}").is_err());
    assert!(Classifier::from_bytes(b"not a head at all").is_err());
}

#[test]
fn joint_generators_refit_every_class() {
    let (x, y) = blobs(3, 12, 6, 13);
    let r = recipe("ls", 1, WeightNorm::L2(ZeroVectorPolicy::Reject));
    let once = Classifier::fit(r.clone(), x.view(), &y).unwrap();
    let mut grown = Classifier::fit(r.clone(), x.slice(s![..24, ..]), &y[..24]).unwrap();
    grown.partial_fit(x.slice(s![24.., ..]), &y[24..]).unwrap();
    assert!(grown == once);
    // ls always keeps the shots it refits from, even when asked to append.
    let append = Classifier::fit(r.with_updates(Updates::Append), x.view(), &y).unwrap();
    assert_eq!(append.kept_shots(), vec![12, 12, 12]);
    // An int8 export keeps no shots: ls cannot refit it.
    let mut edge = Classifier::from_bytes(&once.to_int8_bytes().unwrap()).unwrap();
    assert!(edge.add_shots(&ClassLabel::from(0i64), x.slice(s![..2, ..])).is_err());
}
