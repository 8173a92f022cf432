//! Fidelity against PyTorch: embeddings of the committed fixture images and
//! sentences equal those of `scripts/extract_embeddings.py` and
//! sentence-transformers within 1e-4 (max entry difference relative to the
//! reference's largest entry, per embedding), and a head imprinted from our
//! embeddings of bundled images classifies like one imprinted from the bundled
//! (Python) embeddings.
//!
//! These tests need the real weights (`scripts/fetch_weights.sh` prints the
//! environment variables). Without them they say so and pass, unless
//! `IMPRINT_REQUIRE_WEIGHTS=1` (CI), where they fail.

#![allow(clippy::unwrap_used)] // test helpers: a failure should stop the test loudly

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imprint_core::{Aggregation, ImprintedHead, Imprinter, InputNorm, WeightNorm, ZeroVectorPolicy};
use imprint_data::{EmbeddingFile, read_embeddings};
use imprint_embed::{EfficientNetLite, EfficientNetVariant, MiniLm, Pixels, read_image};
use imprint_gen::Mean;
use ndarray::{Array2, Axis};

use common::{fixtures, max_rel_error, read_npy, read_npy_matrix, repo_root, weights};

const TOLERANCE: f64 = 1e-4;

/// The images of `dir` (one sub-folder per class) in sorted relative-path order.
fn sorted_images(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// zune-jpeg (the `image` crate's JPEG decoder) does not aim at libjpeg-turbo's
/// exact output, which Pillow gives: measured on the fixtures, up to 1 level on
/// a grayscale JPEG and 3 levels on a 4:2:0 colour JPEG. The model is checked on
/// Pillow's own pixels of those files; our decoding is held to these bounds.
const JPEG_MAX_LEVELS: f32 = 3.0;
const JPEG_TOLERANCE: f64 = 2e-2;

fn check_variant(variant: EfficientNetVariant, var: &str) {
    let Some(pth) = weights(var) else { return };
    let net = EfficientNetLite::load(&pth, variant).unwrap();
    let paths = sorted_images(&fixtures().join("images"));
    let images: Vec<Pixels> = paths.iter().map(|p| read_image(p).unwrap()).collect();
    let ours = net.embed_pixels(&images);
    let level = match variant {
        EfficientNetVariant::Lite0 => 0,
        EfficientNetVariant::Lite1 => 1,
        EfficientNetVariant::Lite2 => 2,
    };
    let reference = read_npy_matrix(&fixtures().join(format!("reference_efficientnet_lite{level}.npy")));
    assert_eq!(ours.dim(), reference.dim());
    let (mut worst, mut worst_jpeg) = (0.0f64, 0.0f64);
    for (i, (p, img)) in paths.iter().zip(&images).enumerate() {
        let stem = p.file_stem().unwrap().to_string_lossy();
        let dump = fixtures().join(format!("pixels_{stem}.npy"));
        let err = max_rel_error(ours.row(i), reference.row(i));
        if dump.exists() {
            let (shape, values) = read_npy(&dump);
            let channels = shape.get(2).copied().unwrap_or(1);
            let bytes: Vec<u8> = values.iter().map(|&v| v as u8).collect();
            let pillow = Pixels::new(shape[0], shape[1], channels, bytes).unwrap();
            let levels =
                img.data().iter().zip(pillow.data()).map(|(&a, &b)| (f32::from(a) - f32::from(b)).abs());
            let max_levels = levels.fold(0.0f32, f32::max);
            assert!(
                max_levels <= JPEG_MAX_LEVELS,
                "{stem}: decoded pixels differ from Pillow's by {max_levels}"
            );
            assert!(err <= JPEG_TOLERANCE, "{stem}: relative error {err:.2e} with our JPEG decoding");
            worst_jpeg = worst_jpeg.max(err);
            let on_pillow_pixels = net.embed_pixels(&[pillow]);
            let err = max_rel_error(on_pillow_pixels.row(0), reference.row(i));
            assert!(err <= TOLERANCE, "{variant:?} {stem} (Pillow's pixels): relative error {err:.2e}");
            worst = worst.max(err);
        } else {
            assert!(err <= TOLERANCE, "{variant:?} {}: relative error {err:.2e}", p.display());
            worst = worst.max(err);
        }
    }
    eprintln!(
        "{variant:?}: {} images, max relative error {worst:.2e}; JPEG files through our decoder {worst_jpeg:.2e}",
        paths.len()
    );
}

#[test]
fn efficientnet_lite0_matches_pytorch() {
    check_variant(EfficientNetVariant::Lite0, "IMPRINT_EFFICIENTNET_LITE0_PTH");
}

#[test]
fn efficientnet_lite1_matches_pytorch() {
    check_variant(EfficientNetVariant::Lite1, "IMPRINT_EFFICIENTNET_LITE1_PTH");
}

#[test]
fn efficientnet_lite2_matches_pytorch() {
    check_variant(EfficientNetVariant::Lite2, "IMPRINT_EFFICIENTNET_LITE2_PTH");
}

#[test]
fn weights_of_another_variant_are_refused() {
    let Some(pth) = weights("IMPRINT_EFFICIENTNET_LITE1_PTH") else { return };
    let e = EfficientNetLite::load(&pth, EfficientNetVariant::Lite0).unwrap_err();
    assert!(e.to_string().contains("efficientnet-lite1"), "{e}");
    let e = EfficientNetLite::load(&pth, EfficientNetVariant::Lite2).unwrap_err();
    assert!(e.to_string().contains("expected"), "{e}");
}

#[test]
fn minilm_matches_sentence_transformers() {
    let Some(dir) = weights("IMPRINT_MINILM_DIR") else { return };
    let net = MiniLm::load(&dir).unwrap();
    let texts = fixture_sentences();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ours = net.embed(&refs).unwrap();
    let reference = read_npy_matrix(&fixtures().join("reference_all_minilm_l6_v2.npy"));
    assert_eq!(ours.dim(), reference.dim());
    let mut worst = 0.0f64;
    for (i, t) in texts.iter().enumerate() {
        let err = max_rel_error(ours.row(i), reference.row(i));
        let short: String = t.chars().take(40).collect();
        assert!(err <= TOLERANCE, "{short:?}: relative error {err:.2e}");
        worst = worst.max(err);
    }
    // The long sentence is cut at 256 tokens, as sentence-transformers does.
    assert!(texts.iter().any(|t| net.token_ids(t).unwrap().len() == imprint_embed::MAX_TOKENS));
    eprintln!("MiniLM: {} sentences, max relative error {worst:.2e}", texts.len());
}

/// The `text` column of the fixture CSV.
fn fixture_sentences() -> Vec<String> {
    let mut reader = csv::Reader::from_path(fixtures().join("text/sentences.csv")).unwrap();
    reader.records().map(|r| r.unwrap()[0].to_owned()).collect()
}

/// Our embeddings of the committed bundled images against the bundled file's rows,
/// and an imprinted head's accuracy from each.
#[test]
fn bundled_subset_matches_and_imprints_the_same_head() {
    let Some(pth) = weights("IMPRINT_EFFICIENTNET_LITE0_PTH") else { return };
    let net = EfficientNetLite::load(&pth, EfficientNetVariant::Lite0).unwrap();
    let mut worst = 0.0f64;
    for dataset in ["FashionMNIST", "MNIST5k", "Digits"] {
        let mut splits = BTreeMap::new();
        for split in ["train", "test"] {
            let dir = fixtures().join("bundled").join(dataset).join(split);
            let paths = sorted_images(&dir);
            let rows: Vec<usize> =
                paths.iter().map(|p| p.file_stem().unwrap().to_string_lossy().parse().unwrap()).collect();
            let images: Vec<Pixels> = paths.iter().map(|p| read_image(p).unwrap()).collect();
            let ours = net.embed_pixels(&images);
            let file = repo_root()
                .join(format!("data/embeddings/{dataset}/efficientnet_lite0/{split}/embeddings_{dataset}_efficientnet_lite0_{split}.h5"));
            let bundled = read_embeddings(&file).unwrap();
            let python = bundled.embeddings().select(Axis(0), &rows);
            let labels: Vec<usize> = rows.iter().map(|&r| bundled.labels()[r]).collect();
            for (i, p) in paths.iter().enumerate() {
                let err = max_rel_error(ours.row(i), python.row(i));
                assert!(err <= TOLERANCE, "{}: relative error {err:.2e}", p.display());
                worst = worst.max(err);
                assert_eq!(p.parent().unwrap().file_name().unwrap().to_string_lossy(), labels[i].to_string());
            }
            splits.insert(split, (ours, python, labels));
        }
        let (train_ours, train_py, train_labels) = &splits["train"];
        let (test_ours, test_py, test_labels) = &splits["test"];
        let acc_ours = qi_accuracy(train_ours, train_labels, test_ours, test_labels);
        let acc_py = qi_accuracy(train_py, train_labels, test_py, test_labels);
        assert_eq!(acc_ours, acc_py, "{dataset}: accuracy of the head from Rust vs Python embeddings");
        eprintln!("{dataset}: L2/mean/L2/L2/max accuracy {acc_ours:.3} (Rust) = {acc_py:.3} (Python)");
    }
    eprintln!("bundled subset: max relative error {worst:.2e}");
}

/// Accuracy of Qi et al.'s head (L2 / mean / L2 / L2 / max).
fn qi_accuracy(
    train: &Array2<f32>,
    train_labels: &[usize],
    test: &Array2<f32>,
    test_labels: &[usize],
) -> f64 {
    let l2 = InputNorm::L2(ZeroVectorPolicy::Reject);
    let imprinter = Imprinter::new(Mean::new())
        .with_pre_norm(l2)
        .with_post_norm(WeightNorm::L2(ZeroVectorPolicy::Reject));
    let mut head = ImprintedHead::with_inference(train.ncols(), l2, Aggregation::max()).unwrap();
    let classes: Vec<usize> = {
        let mut c = train_labels.to_vec();
        c.dedup();
        c
    };
    for &c in &classes {
        let rows: Vec<usize> = (0..train_labels.len()).filter(|&i| train_labels[i] == c).collect();
        imprinter.imprint_class(&mut head, c.to_string(), train.select(Axis(0), &rows).view()).unwrap();
    }
    let predicted = head.predict(test.view()).unwrap();
    let correct = predicted.iter().zip(test_labels).filter(|&(&p, &t)| classes[p] == t).count();
    correct as f64 / test_labels.len() as f64
}

#[test]
fn output_file_round_trips_through_imprint_data() {
    let Some(pth) = weights("IMPRINT_EFFICIENTNET_LITE0_PTH") else { return };
    let dir = common::scratch("fidelity-out");
    let out = dir.join("images.h5");
    let options = imprint_embed::EmbedOptions::new().with_batch_size(3).with_threads(2);
    let input = imprint_embed::ImageInput::Folder(fixtures().join("images"));
    let summary =
        imprint_embed::embed_images(imprint_embed::Model::EfficientNetLite0, &pth, &input, &out, &options)
            .unwrap();
    let file = EmbeddingFile::open(&out).unwrap();
    let data = file.read().unwrap();
    let reference = read_npy_matrix(&fixtures().join("reference_efficientnet_lite0.npy"));
    let paths = file.read_strings("paths").unwrap();
    for (i, path) in paths.iter().enumerate() {
        let tolerance = if path.ends_with(".jpg") { JPEG_TOLERANCE } else { TOLERANCE };
        assert!(max_rel_error(data.embeddings().row(i), reference.row(i)) <= tolerance, "{path}");
    }
    assert_eq!(summary.label_names, ["gray", "rgb"]);
    assert_eq!(paths.first().map(String::as_str), Some("gray/digit_8x8.png"));
    std::fs::remove_dir_all(&dir).ok();
}
