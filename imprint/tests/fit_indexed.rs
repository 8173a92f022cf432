//! `Classifier::fit_indexed` (rows labelled by integer codes, the entry point
//! of the Python package) equals `Classifier::fit` bit for bit, including
//! the streamed `mean` path, and reports bad codes and rows.

use imprint::{
    ClassLabel, Classifier, GENERATOR_NAMES, GeneratorSpec, ImprintError, InputNorm, JOINT_NAMES, Recipe,
    Updates, WeightNorm, ZeroVectorPolicy,
};
use ndarray::Array2;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` rows per class of `n_classes` separated classes, rows shuffled, with
/// the class index of every row.
fn shuffled_blobs(n_classes: usize, n: usize, dim: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut codes: Vec<usize> = (0..n_classes * n).map(|i| i / n).collect();
    codes.shuffle(&mut rng);
    let x = Array2::from_shape_fn((codes.len(), dim), |(i, j)| {
        let centre = if j % n_classes == codes[i] { 3.0 } else { 0.0 };
        centre + rng.random_range(-1.0f32..1.0)
    });
    (x, codes)
}

fn recipe(name: &str, pre: InputNorm, post: WeightNorm, updates: Updates) -> Recipe {
    let generator = if JOINT_NAMES.contains(&name) {
        GeneratorSpec::oracle(name, Some(2), 0.05)
    } else {
        GeneratorSpec::new(name, Some(2))
    };
    Recipe::paper()
        .with_generator(generator)
        .with_pre_norm(pre)
        .with_post_norm(post)
        .with_updates(updates)
        .with_seed(5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every generator, NORMpre, NORMpost and update mode: codes in, the same
    /// classifier out as labels per row.
    #[test]
    fn equals_fit_with_labels_per_row(
        generator in 0..GENERATOR_NAMES.len(),
        pre in prop_oneof![Just(InputNorm::None), Just(InputNorm::L2(ZeroVectorPolicy::Reject))],
        post in prop_oneof![Just(WeightNorm::None), Just(WeightNorm::L2(ZeroVectorPolicy::Reject)), Just(WeightNorm::Quantile)],
        append in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let name = GENERATOR_NAMES[generator];
        let updates = if append { Updates::Append } else { Updates::Exact };
        let (x, codes) = shuffled_blobs(3, 9, 4, seed);
        let labels: Vec<ClassLabel> = [-4i64, 0, 12].into_iter().map(ClassLabel::from).collect();
        let per_row: Vec<ClassLabel> = codes.iter().map(|&c| labels[c].clone()).collect();
        let r = recipe(name, pre, post, updates);
        let expected = Classifier::fit(r.clone(), x.view(), &per_row).unwrap();
        let got = Classifier::fit_indexed(r, x.view(), &codes, &labels).unwrap();
        prop_assert!(got == expected, "{name} / {pre} / {post} / {updates:?}");
    }
}

#[test]
fn streamed_mean_equals_fit_across_blocks_and_any_class_order() {
    // 3,000 rows: the streamed path reads them in blocks of 256.
    let (x, codes) = shuffled_blobs(3, 1000, 16, 1);
    let labels: Vec<ClassLabel> = ["fox", "cat", "dog"].into_iter().map(ClassLabel::from).collect();
    let per_row: Vec<ClassLabel> = codes.iter().map(|&c| labels[c].clone()).collect();
    for post in [WeightNorm::L2(ZeroVectorPolicy::Reject), WeightNorm::Quantile] {
        let r = recipe("mean", InputNorm::L2(ZeroVectorPolicy::Reject), post, Updates::Exact);
        // Not in sorted order: equals imprinting the classes in the given order.
        let got = Classifier::fit_indexed(r.clone(), x.view(), &codes, &labels).unwrap();
        let mut expected = Classifier::new(r.clone(), 16).unwrap();
        let groups: Vec<(ClassLabel, Array2<f32>)> = (0..3)
            .map(|c| {
                let rows: Vec<usize> = (0..codes.len()).filter(|&i| codes[i] == c).collect();
                (labels[c].clone(), x.select(ndarray::Axis(0), &rows))
            })
            .collect();
        let views: Vec<(ClassLabel, ndarray::ArrayView2<'_, f32>)> =
            groups.iter().map(|(l, s)| (l.clone(), s.view())).collect();
        expected.add_classes(&views).unwrap();
        assert!(got == expected, "{post}");
        assert_eq!(got.classes(), labels.as_slice());
        // And, sorted, equals fit with labels per row.
        let sorted: Vec<ClassLabel> = ["cat", "dog", "fox"].into_iter().map(ClassLabel::from).collect();
        let remap = [2usize, 0, 1];
        let sorted_codes: Vec<usize> = codes.iter().map(|&c| remap[c]).collect();
        let fitted = Classifier::fit(r.clone(), x.view(), &per_row).unwrap();
        assert!(Classifier::fit_indexed(r, x.view(), &sorted_codes, &sorted).unwrap() == fitted, "{post}");
    }
}

#[test]
fn bad_codes_labels_and_rows_are_errors_naming_them() {
    let (mut x, codes) = shuffled_blobs(2, 1500, 4, 2);
    let labels = [ClassLabel::from(1), ClassLabel::from(2)];
    let r = recipe("mean", InputNorm::L2(ZeroVectorPolicy::Reject), WeightNorm::None, Updates::Exact);
    let err = Classifier::fit_indexed(r.clone(), x.view(), &codes[1..], &labels).unwrap_err();
    assert!(matches!(err, ImprintError::DimensionMismatch { .. }), "{err}");
    let mut bad = codes.clone();
    bad[7] = 2;
    let err = Classifier::fit_indexed(r.clone(), x.view(), &bad, &labels).unwrap_err();
    assert!(err.to_string().contains("row 7"), "{err}");
    let err = Classifier::fit_indexed(r.clone(), x.view(), &vec![0; codes.len()], &labels).unwrap_err();
    assert!(matches!(err, ImprintError::Empty { .. }) && err.to_string().contains("'2'"), "{err}");
    let err =
        Classifier::fit_indexed(r.clone(), x.view(), &codes, &[ClassLabel::from(1), ClassLabel::from(1)])
            .unwrap_err();
    assert!(err.to_string().contains("already has a class"), "{err}");
    let err =
        Classifier::fit_indexed(r.clone(), x.view(), &codes, &[ClassLabel::from(1), ClassLabel::from("a")])
            .unwrap_err();
    assert!(err.to_string().contains("mix"), "{err}");
    // Rows past the first block are named by their row in `x`.
    x.row_mut(2500).fill(0.0);
    let err = Classifier::fit_indexed(r.clone(), x.view(), &codes, &labels).unwrap_err();
    assert!(matches!(err, ImprintError::ZeroVector { row: 2500, .. }), "{err}");
    // As in `fit`, a non-finite value is reported before any zero vector.
    x[[2900, 3]] = f32::NAN;
    let err = Classifier::fit_indexed(r.clone(), x.view(), &codes, &labels).unwrap_err();
    assert!(matches!(err, ImprintError::NonFinite { row: 2900, col: 3, .. }), "{err}");
    // Also when the zero row comes first in the same class.
    x[[2900, 3]] = 1.0;
    let same = (2501..codes.len()).find(|&i| codes[i] == codes[2500]).unwrap();
    x[[same, 1]] = f32::INFINITY;
    let err = Classifier::fit_indexed(r, x.view(), &codes, &labels).unwrap_err();
    assert!(matches!(err, ImprintError::NonFinite { row, col: 1, .. } if row == same), "{err}");
}

#[test]
fn reference_rng_mode_keeps_shots_and_equals_fit() {
    // In the reference's RNG mode every update refits all classes from their
    // shots, so `fit_indexed` keeps them instead of streaming a mean.
    let (x, codes) = shuffled_blobs(3, 40, 6, 3);
    let labels: Vec<ClassLabel> = [0i64, 1, 2].into_iter().map(ClassLabel::from).collect();
    let per_row: Vec<ClassLabel> = codes.iter().map(|&c| labels[c].clone()).collect();
    for name in ["mean", "kmeans", "random"] {
        let r = recipe(
            name,
            InputNorm::L2(ZeroVectorPolicy::Reject),
            WeightNorm::L2(ZeroVectorPolicy::Reject),
            Updates::Exact,
        )
        .with_rng(imprint_core::RngMode::Reference);
        let expected = Classifier::fit(r.clone(), x.view(), &per_row).unwrap();
        let got = Classifier::fit_indexed(r, x.view(), &codes, &labels).unwrap();
        assert!(got == expected, "{name}");
        assert_eq!(got.kept_shots(), vec![40, 40, 40], "{name}");
    }
}
