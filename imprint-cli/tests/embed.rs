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
    weights("IMPRINT_EFFICIENTNET_LITE0_PTH")
}

/// The weights named by `var`, as [`lite0_weights`].
fn weights(var: &str) -> Option<PathBuf> {
    let required = std::env::var("IMPRINT_REQUIRE_WEIGHTS").is_ok_and(|v| v == "1");
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.exists() => Some(p),
        _ => {
            assert!(!required, "IMPRINT_REQUIRE_WEIGHTS=1 but {var} is unset or missing");
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
        // Numeric options out of range are usage errors, like --batch-size 0.
        (
            vec![
                "--model",
                "efficientnet-lite0",
                "--weights",
                "weights.pth",
                "--images",
                &train,
                "--threads",
                "100000",
            ],
            2,
            "--threads: 100000 is more than 256",
        ),
        (
            vec![
                "--model",
                "efficientnet-lite0",
                "--weights",
                "weights.pth",
                "--images",
                &train,
                "--batch-size",
                "70000",
            ],
            2,
            "--batch-size: 70000",
        ),
        // MiniLM's weights are a folder (or its model.safetensors): a .pth says so.
        (
            vec!["--model", "all-minilm-l6-v2", "--weights", "weights.pth", "--text", "t.txt"],
            1,
            "weights.pth: expected all-minilm-l6-v2's model folder",
        ),
        (
            vec!["--model", "all-minilm-l6-v2", "--weights", ".", "--text", "t.txt"],
            1,
            "without model.safetensors",
        ),
        (
            vec!["--model", "efficientnet-lite0", "--weights", ".", "--images", &train],
            1,
            "expected the model's .pth file; found a folder",
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
        assert!(!d.join("out.h5.partial").exists(), "imprint {args:?} wrote out.h5.partial");
    }
}

#[test]
fn embed_out_dash_is_refused_as_binary_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.txt"), "a sentence\n").unwrap();
    let train = s(images("FashionMNIST", "train"));
    for extra in [["--text", "t.txt"], ["--images", train.as_str()]] {
        let model = if extra[0] == "--text" { "all-minilm-l6-v2" } else { "efficientnet-lite0" };
        let mut args = vec!["embed", "--model", model, "--weights", "w", "--out", "-"];
        args.extend(extra);
        let run = imprint_in(d, &args);
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(run.stderr.contains("--out -") && run.stderr.contains("binary"), "{}", run.stderr);
        assert!(!d.join("-").exists(), "a file named - was written");
    }
}

#[test]
fn an_existing_output_names_the_force_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("out.h5"), b"an earlier result").unwrap();
    let train = s(images("FashionMNIST", "train"));
    let run = imprint_in(
        d,
        &[
            "embed",
            "--model",
            "efficientnet-lite0",
            "--weights",
            "w.pth",
            "--images",
            &train,
            "--out",
            "out.h5",
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("out.h5: already exists; pass --force to replace it"), "{}", run.stderr);
    assert!(!run.stderr.contains("overwrite"), "the library's option name leaked: {}", run.stderr);
    assert_eq!(std::fs::read(d.join("out.h5")).unwrap(), b"an earlier result");
}

#[test]
fn concurrent_embeds_to_one_output_name_the_cli_flag() {
    let Some(weights) = lite0_weights() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let train = s(images("FashionMNIST", "train"));
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let (d, weights, train) = (d.clone(), s(&weights), train.clone());
            std::thread::spawn(move || {
                imprint_in(
                    &d,
                    &[
                        "embed",
                        "--model",
                        "efficientnet-lite0",
                        "--weights",
                        &weights,
                        "--images",
                        &train,
                        "--out",
                        "out.h5",
                        "--threads",
                        "1",
                    ],
                )
            })
        })
        .collect();
    let runs: Vec<Run> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(runs.iter().any(Run::ok), "no run finished: {runs:?}");
    for run in runs.iter().filter(|r| !r.ok()) {
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        assert!(
            run.stderr.contains("another run is writing this output") || run.stderr.contains("pass --force"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("pass overwrite"), "{}", run.stderr);
    }
    assert_eq!(imprint_data::read_embeddings(d.join("out.h5")).unwrap().labels().len(), 20);
    assert!(!d.join("out.h5.partial").exists());
}

/// A 50 MB line of ordinary words is embedded under a 1.5 GB address-space limit
/// (the tokenizer sees at most 64 KiB of it at a time), exactly as its first
/// kilobytes: the first 254 tokens do not depend on what follows.
#[cfg(target_os = "linux")]
#[test]
fn a_50_mb_line_is_embedded_in_bounded_memory() {
    let Some(minilm) = weights("IMPRINT_MINILM_DIR") else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog,", "then", "sleeps."];
    let mut line = String::with_capacity(50_000_100);
    let mut i = 0usize;
    while line.len() < 50_000_000 {
        line.push_str(words[(i * 7 + i / 11) % words.len()]);
        line.push(' ');
        i += 1;
    }
    let head = &line[..line[..4096].rfind(' ').unwrap()];
    std::fs::write(d.join("big.csv"), format!("text,label\n\"{line}\",long\n\"{head}\",short\n")).unwrap();
    drop(line);
    let command = format!(
        "ulimit -v 1500000 && exec '{}' embed --model all-minilm-l6-v2 --weights '{}' --text big.csv --out big.h5 --threads 2",
        env!("CARGO_BIN_EXE_imprint"),
        minilm.display()
    );
    let out = std::process::Command::new("sh").arg("-c").arg(&command).current_dir(d).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    let data = imprint_data::read_embeddings(d.join("big.h5")).unwrap();
    assert_eq!(data.labels().len(), 2);
    let bits = |r: usize| data.embeddings().row(r).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(0), bits(1), "the long line and its first kilobytes differ");
}
