//! Heads cross between the Python package and the command line (fixtures
//! in `imprint-py/tests/fixtures/`, see `make_interop_fixtures.py` there):
//!
//! - `imprint predict` on the head fitted and saved by `imprint_rs` in
//!   Python predicts what Python predicted, with and without `--reject`;
//! - `imprint fit` with the recipe of `rust_head.safetensors` writes that
//!   head, which the Python tests load and compare with their own fit
//!   (`imprint-py/tests/test_interop.py`).

#![allow(clippy::unwrap_used)] // test code: a failure should stop the test loudly

mod common;

use std::path::PathBuf;

use common::*;
use imprint::Classifier;
use ndarray::Array2;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../imprint-py/tests/fixtures")
}

fn data() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("interop_data.json")).unwrap()).unwrap()
}

fn matrix(v: &Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).unwrap();
    Array2::from_shape_vec((rows.len(), rows[0].len()), rows.concat()).unwrap()
}

/// The `label` column of `imprint predict`'s CSV output.
fn labels(stdout: &str) -> Vec<String> {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "row,label,score");
    lines[1..].iter().map(|l| l.split(',').nth(1).unwrap().to_owned()).collect()
}

#[test]
fn the_command_line_predicts_with_a_head_saved_from_python() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = data();
    let queries = d.join("queries.npy");
    write_npy(&queries, &matrix(&data["queries"]));
    let head = s(fixtures().join("python_head.safetensors"));
    let expected: Vec<String> = serde_json::from_value(data["python_head"]["predict"].clone()).unwrap();
    assert_eq!(labels(&ok(d, &["predict", "--head", &head, "--input", &s(&queries)]).stdout), expected);
    let open: Vec<Option<String>> =
        serde_json::from_value(data["python_head"]["predict_open"].clone()).unwrap();
    let open: Vec<String> = open.into_iter().map(|l| l.unwrap_or_else(|| "unknown".into())).collect();
    assert!(open.iter().any(|l| l == "unknown"), "the fixture has rejected rows");
    let rejected = ok(d, &["predict", "--head", &head, "--input", &s(&queries), "--reject"]);
    assert_eq!(labels(&rejected.stdout), open);
}

#[test]
fn the_command_line_writes_the_head_that_python_loads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = data();
    let train = d.join("x.npy");
    write_npy(&train, &matrix(&data["x"]));
    let y: Vec<i64> = serde_json::from_value(data["int_labels"].clone()).unwrap();
    let labels = d.join("y.npy");
    write_npy_labels(&labels, &y);
    let out = d.join("cli.safetensors");
    ok(
        d,
        &[
            "fit",
            "--train",
            &s(&train),
            "--labels",
            &s(&labels),
            "--generator",
            "mean",
            "--aggregation",
            "mnn",
            "--m",
            "3",
            "--distance",
            "euclidean",
            "--weighting",
            "weighted_by_distance",
            "--seed",
            "11",
            "--no-reject-calibration",
            "--out",
            &s(&out),
        ],
    );
    let cli = Classifier::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    let fixture =
        Classifier::from_bytes(&std::fs::read(fixtures().join("rust_head.safetensors")).unwrap()).unwrap();
    assert!(cli == fixture, "the command line's head differs from rust_head.safetensors");
}
