//! `imprint embed` through the binary: images in class folders to a head and
//! predictions by class name, with Rust alone; and its bad inputs.
#![cfg(feature = "embed")]
#![allow(clippy::unwrap_used)] // test code: a failure should stop the test loudly

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// The bundled images of the embedding fixtures (two per class and split).
fn images(dataset: &str, split: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../imprint-embed/tests/fixtures/bundled")
        .join(dataset)
        .join(split)
}

/// EfficientNet-Lite0's weights from `IMPRINT_EFFICIENTNET_LITE0_PTH`; required
/// when `IMPRINT_REQUIRE_WEIGHTS=1` (CI), skipped with a message otherwise.
fn lite0_weights() -> Option<PathBuf> {
    let required = std::env::var("IMPRINT_REQUIRE_WEIGHTS").is_ok_and(|v| v == "1");
    match std::env::var_os("IMPRINT_EFFICIENTNET_LITE0_PTH").map(PathBuf::from) {
        Some(p) if p.exists() => Some(p),
        _ => {
            assert!(
                !required,
                "IMPRINT_REQUIRE_WEIGHTS=1 but IMPRINT_EFFICIENTNET_LITE0_PTH is unset or missing"
            );
            eprintln!("SKIPPED (no weights): run scripts/fetch_weights.sh");
            None
        }
    }
}

#[test]
fn images_in_folders_to_predictions_by_class_name() {
    let Some(weights) = lite0_weights() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = images("FashionMNIST", "train");
    let embedded = ok(
        d,
        &[
            "embed",
            "--model",
            "efficientnet-lite0",
            "--weights",
            &s(&weights),
            "--images",
            &s(&train),
            "--out",
            "train.h5",
        ],
    );
    assert!(embedded.stderr.contains("embedded 20 rows (10 classes, dimension 1280)"), "{}", embedded.stderr);

    // `all` keeps every shot as a proxy, so each training image is its own nearest proxy.
    ok(d, &["fit", "--train", "train.h5", "--generator", "all", "--out", "head.safetensors"]);

    // New images as a list file without labels, in another order.
    let mut files: Vec<PathBuf> = walk(&train);
    files.sort();
    files.reverse();
    let list: String = files.iter().map(|p| format!("{}\n", p.display())).collect();
    std::fs::write(d.join("new.txt"), list).unwrap();
    ok(
        d,
        &[
            "embed",
            "--model",
            "efficientnet-lite0",
            "--weights",
            &s(&weights),
            "--images",
            "new.txt",
            "--out",
            "new.h5",
        ],
    );
    let predicted = ok(d, &["predict", "--head", "head.safetensors", "--input", "new.h5"]);
    let labels: Vec<&str> = predicted.stdout.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    let expected: Vec<String> = files
        .iter()
        .map(|p| p.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(labels, expected, "predictions are the class folder names");

    // Running the same command again refuses to replace the finished file.
    let again = imprint_in(
        d,
        &[
            "embed",
            "--model",
            "efficientnet-lite0",
            "--weights",
            &s(&weights),
            "--images",
            "new.txt",
            "--out",
            "new.h5",
        ],
    );
    assert_eq!(again.code, Some(1), "{}", again.stderr);
    assert!(again.stderr.contains("new.h5"), "{}", again.stderr);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn bad_embed_arguments_are_clear_errors_that_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("weights.pth"), b"not a pickle").unwrap();
    std::fs::write(d.join("t.txt"), "a sentence\n").unwrap();
    let train = s(images("FashionMNIST", "train"));
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["--model", "resnet50", "--weights", "weights.pth", "--images", &train],
            2,
            "efficientnet-lite0",
        ),
        (
            vec!["--model", "efficientnet-lite0", "--weights", "missing.pth", "--images", &train],
            1,
            "missing.pth",
        ),
        (
            vec!["--model", "efficientnet-lite0", "--weights", "weights.pth", "--images", &train],
            1,
            "weights.pth",
        ),
        (
            vec!["--model", "efficientnet-lite0", "--weights", "weights.pth", "--images", "nowhere"],
            1,
            "nowhere",
        ),
        (vec!["--model", "efficientnet-lite0", "--weights", "weights.pth", "--text", "t.txt"], 1, "text"),
        (
            vec![
                "--model",
                "efficientnet-lite0",
                "--weights",
                "weights.pth",
                "--images",
                &train,
                "--text",
                "t.txt",
            ],
            2,
            "--text",
        ),
        (vec!["--model", "efficientnet-lite0", "--weights", "weights.pth"], 2, "--images"),
        (
            vec![
                "--model",
                "efficientnet-lite0",
                "--weights",
                "weights.pth",
                "--images",
                &train,
                "--batch-size",
                "0",
            ],
            2,
            "--batch-size",
        ),
    ];
    for (extra, code, needle) in cases {
        let mut args = vec!["embed", "--out", "out.h5"];
        args.extend(extra.iter().copied());
        let run = imprint_in(d, &args);
        assert_eq!(run.code, Some(code), "imprint {args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "imprint {args:?}: expected '{needle}' in: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(!d.join("out.h5").exists(), "imprint {args:?} wrote out.h5");
    }
}
