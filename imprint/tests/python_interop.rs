//! Heads cross the Python door both ways (fixtures in
//! `imprint-py/tests/fixtures/`, see `make_interop_fixtures.py` there):
//!
//! - `python_head.safetensors`, fitted and saved by `imprint_rs` in Python,
//!   loads here, predicts what Python predicted, and equals the head this
//!   library fits from the same rows;
//! - `rust_head.safetensors` is what this library fits now (rewritten by
//!   `IMPRINT_REGENERATE_FIXTURES=1 cargo test -p imprint --test python_interop`);
//!   the Python tests load it.

use std::path::PathBuf;

use imprint::{Aggregation, ClassLabel, Classifier, Distance, GeneratorSpec, Recipe, Weighting};
use ndarray::Array2;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../imprint-py/tests/fixtures")
}

fn data() -> Value {
    let text = std::fs::read_to_string(fixtures().join("interop_data.json")).expect("interop_data.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn matrix(v: &Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).expect("a list of rows");
    let dim = rows[0].len();
    Array2::from_shape_vec((rows.len(), dim), rows.concat()).expect("rows of one length")
}

fn labels(v: &Value) -> Vec<ClassLabel> {
    serde_json::from_value(v.clone()).expect("labels")
}

#[test]
fn a_head_saved_from_python_loads_predicts_and_equals_the_rust_fit() {
    let d = data();
    let bytes = std::fs::read(fixtures().join("python_head.safetensors")).expect("python_head.safetensors");
    let head = Classifier::from_bytes(&bytes).unwrap();
    let cats: Vec<ClassLabel> = ["ant", "bee", "cat"].into_iter().map(ClassLabel::from).collect();
    assert_eq!(head.classes(), cats.as_slice());
    assert_eq!(head.recipe().describe(), "l2 / kmeans k=4 / l2 / l2 / max (inner_product), seed 7");
    let queries = matrix(&d["queries"]);
    assert_eq!(head.predict(queries.view()).unwrap(), labels(&d["python_head"]["predict"]));
    let open: Vec<Option<ClassLabel>> =
        serde_json::from_value(d["python_head"]["predict_open"].clone()).unwrap();
    assert_eq!(head.predict_open(queries.view()).unwrap(), open);
    assert!(open.iter().any(Option::is_none) && open.iter().any(Option::is_some));
    // The Python package fits through this library: the same rows and
    // recipe give the same head, bit for bit.
    let x = matrix(&d["x"]);
    let y = labels(&d["text_labels"]);
    let mut fitted = Classifier::fit(head.recipe().clone(), x.view(), &y).unwrap();
    fitted.calibrate_rejection(x.view(), &y, 0.9, 5).unwrap();
    assert!(fitted == head, "the Rust fit differs from the head saved by Python");
}

#[test]
fn the_rust_head_fixture_is_what_this_library_fits() {
    let d = data();
    let x = matrix(&d["x"]);
    let y = labels(&d["int_labels"]);
    let recipe = Recipe::paper()
        .with_generator(GeneratorSpec::new("mean", None))
        .with_aggregation(Aggregation::mnn(3, Distance::Euclidean, Weighting::InverseDistance).unwrap())
        .with_seed(11);
    let head = Classifier::fit(recipe, x.view(), &y).unwrap();
    let path = fixtures().join("rust_head.safetensors");
    if std::env::var_os("IMPRINT_REGENERATE_FIXTURES").is_some() {
        std::fs::write(&path, head.to_bytes().unwrap()).unwrap();
    }
    let saved = Classifier::from_bytes(&std::fs::read(&path).expect("rust_head.safetensors")).unwrap();
    assert!(
        saved == head,
        "rust_head.safetensors is stale: IMPRINT_REGENERATE_FIXTURES=1 cargo test -p imprint --test python_interop"
    );
    assert_eq!(saved.classes(), [1, 11, 21].map(ClassLabel::from).as_slice());
}
