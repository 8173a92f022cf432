//! Bad input fed to every public library entry point (issue 5): each case must
//! return an error of the expected variant whose message names the input (file,
//! data set, class, key, ...) and the problem, never panic, and never leave a
//! partial output file.
//!
//! The cases are tables of named checks, one table per area; each test runs its
//! table, reports every failing case by name, and asserts how many cases it
//! ran, so the count of bad-input cases is explicit (see [`LIBRARY_CASES`]).
//! Inputs that look bad but are legal per SPEC.md (a class with fewer than `k`
//! samples keeps all of them, labels outside a task split are dropped, ...) are
//! in [`documented_behaviour`], which checks that they succeed as documented.

#![allow(clippy::unwrap_used)] // test set-up: a failure should stop the test loudly

use std::fmt::{Debug, Display};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_bench::runner::{RunOptions, check_grid, run_grid};
use imprint_bench::{BenchError, ResultStore};
use imprint_compat::{
    CompatError, ExperimentConfig, ExperimentGrid, Record, Shard, TaskF1s, load_all, read_record,
};
use imprint_core::metrics::{accuracy, per_class_f1};
use imprint_core::{
    AggregateExt, Aggregation, Centering, Distance, GenerateExt, ImprintError, ImprintedHead, Imprinter,
    InputNorm, MnnParams, Shots as CoreShots, WeightNorm, WeightNormalizer, Weighting, ZeroVectorPolicy,
    check_dim, check_embeddings, check_finite, l2_normalize_rows, neural_collapse, pairwise,
};
use imprint_data::{
    DataError, EmbeddingFile, Embeddings, FewShot, LabelMapping, SourceData, Split, SyntheticParams,
    TaskSpec, WriteOptions, read_embeddings, reference_path, write_embeddings,
};
use imprint_gen::{
    GENERATOR_NAMES, KMeansParams, KMedoidsParams, Mean, XavierRandomParams, generator_by_name,
};
use imprint_report::stats::{WilcoxonOptions, friedman, mean, median, std_dev, wilcoxon};
use imprint_report::{ReportError, read_collapse, render, write_report};
use ndarray::{Array2, array};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Bad-input cases per area; their sum is the library count reported in issue 5.
const CORE_CASES: usize = 89;
const GEN_CASES: usize = 41;
const BASELINE_CASES: usize = 14;
const DATA_FILE_CASES: usize = 31;
const DATA_TASK_CASES: usize = 26;
const BENCH_CASES: usize = 76;
/// Every library bad-input case.
const LIBRARY_CASES: usize =
    CORE_CASES + GEN_CASES + BASELINE_CASES + DATA_FILE_CASES + DATA_TASK_CASES + BENCH_CASES;
/// Inputs that look bad but are legal, checked to behave as documented.
const DOCUMENTED_CASES: usize = 8;

// ---------------------------------------------------------------------------
// The case table machinery.

type Check = Box<dyn Fn() -> Result<(), String>>;

/// One named case: runs an entry point and checks what it returned.
struct Case {
    name: String,
    check: Check,
}

#[derive(Default)]
struct Cases(Vec<Case>);

impl Cases {
    fn add(&mut self, name: impl Into<String>, check: impl Fn() -> Result<(), String> + 'static) {
        self.0.push(Case { name: name.into(), check: Box::new(check) });
    }
}

/// Checks that `result` is an error accepted by `variant` whose message
/// contains every needle (the input's name and the problem).
fn expect_err<T: Debug, E: Display + Debug>(
    result: Result<T, E>,
    variant: impl Fn(&E) -> bool,
    needles: &[String],
) -> Result<(), String> {
    let err = match result {
        Ok(v) => return Err(format!("expected an error, got Ok({:.200})", format!("{v:?}"))),
        Err(e) => e,
    };
    if !variant(&err) {
        return Err(format!("unexpected error variant: {err:?}"));
    }
    let message = err.to_string();
    for needle in needles {
        if !message.contains(needle.as_str()) {
            return Err(format!("message `{message}` does not name `{needle}`"));
        }
    }
    if message.contains("panicked") || message.trim().is_empty() {
        return Err(format!("unclear message `{message}`"));
    }
    Ok(())
}

/// Adds a case: `$call` must fail with an error matching `$pat` whose message
/// contains each needle.
macro_rules! err_case {
    ($cases:expr, $name:expr, $call:expr, $pat:pat, [$($needle:expr),* $(,)?]) => {
        $cases.add($name, move || {
            let result = $call;
            expect_err(result, |e| matches!(e, $pat), &[$($needle.to_string()),*])
        })
    };
}

/// Runs every case of a table, catching panics, and asserts the table's size.
fn run(area: &str, cases: Cases, expected: usize) {
    let cases = cases.0;
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name.clone()), "{area}: duplicate case name {:?}", c.name);
    }
    let mut failures = Vec::new();
    for case in &cases {
        match catch_unwind(AssertUnwindSafe(|| (case.check)())) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("  {}: {why}", case.name)),
            Err(_) => failures.push(format!("  {}: PANICKED", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{area}: {} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(cases.len(), expected, "{area}: the number of bad-input cases changed; update the constant");
}

// ---------------------------------------------------------------------------
// Inputs.

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

/// Three finite, non-zero 2-d samples.
fn good() -> Array2<f32> {
    array![[1.0f32, 0.5], [0.8, 0.7], [1.2, 0.4]]
}

/// Zero rows of 2 columns.
fn empty() -> Array2<f32> {
    Array2::zeros((0, 2))
}

fn with_value(v: f32) -> Array2<f32> {
    let mut x = good();
    x[[1, 1]] = v;
    x
}

fn two_class_head() -> ImprintedHead {
    let mut head = ImprintedHead::new(2).unwrap();
    head.add_class("cat", array![[1.0f32, 0.0]].view()).unwrap();
    head.add_class("dog", array![[0.0f32, 1.0], [-1.0, 0.0]].view()).unwrap();
    head
}

fn saved_head_text() -> String {
    let mut buf = Vec::new();
    two_class_head().save_json(&mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

fn load_head(text: &str) -> Result<ImprintedHead, ImprintError> {
    ImprintedHead::load_json(text.as_bytes())
}

/// `text` with `from` replaced by `to`, which must occur in it.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "fixture text lacks {from:?}");
    text.replace(from, to)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../imprint-data/tests/fixtures").join(name)
}

fn toy_data(n_classes: usize, dim: usize) -> (Embeddings, Embeddings) {
    let d = SyntheticParams::new(n_classes, 1, dim).n_train(6).n_test(3).generate(11).unwrap();
    (d.train, d.test)
}

fn source(name: &str, n_classes: usize, dim: usize) -> SourceData {
    let (train, test) = toy_data(n_classes, dim);
    SourceData::new(name, train, test).unwrap()
}

/// A valid embedding file's bytes (deflated, 64 rows per chunk).
fn valid_file_bytes(dir: &Path) -> Vec<u8> {
    let path = dir.join("valid.h5");
    if !path.exists() {
        let (train, _) = toy_data(3, 8);
        write_embeddings(&path, &train, &WriteOptions::new().chunk_rows(4)).unwrap();
    }
    std::fs::read(path).unwrap()
}

/// Writes `bytes` as `dir/name` and returns the path.
fn bad_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

const CONFIG: &str = r#"{
    "backbones": ["toynet"],
    "datasets": [["Toy"]],
    "task_splits": {"all": [[0, 1, 2]]},
    "seeds": [17121997],
    "proxy_methods": ["mean", "kmeans"],
    "ks": [2],
}"#;

fn config_err(text: &str) -> Result<ExperimentConfig, CompatError> {
    ExperimentConfig::from_yaml_str(text, "bad.yaml")
}

/// `CONFIG` with one more top-level entry.
fn config_with(entry: &str) -> String {
    CONFIG.replacen('{', &format!("{{\n    {entry},"), 1)
}

/// A config holding `entry`, plus `proxy_methods` unless `entry` sets it.
fn config_entry(entry: &str) -> String {
    if entry.starts_with("\"proxy_methods\"") {
        format!("{{{entry}}}")
    } else {
        format!("{{\"proxy_methods\": [\"kmeans\"], {entry}}}")
    }
}

fn sample_record() -> Record {
    let config = ExperimentConfig::from_yaml_str(CONFIG, "c.yaml").unwrap();
    let grid = ExperimentGrid::new(&config);
    let f1 = TaskF1s {
        remapped_class_index: vec![0, 1, 2],
        one_vs_rest_f1: vec![50.0, 60.0, 70.0],
        class_size: vec![3, 3, 3],
    };
    Record::new(grid.combinations()[0].clone(), 60.0, f1, 0.5, 0.1)
}

// ---------------------------------------------------------------------------
// imprint-core

#[test]
fn core_bad_input() {
    let mut c = Cases::default();
    let no_cols = Array2::<f32>::zeros((3, 0));

    // Validation helpers.
    err_case!(
        c,
        "check_embeddings: zero rows",
        check_embeddings(empty().view(), "my shots"),
        ImprintError::Empty { .. },
        ["my shots", "empty"]
    );
    let x = no_cols.clone();
    err_case!(
        c,
        "check_embeddings: zero columns",
        check_embeddings(x.view(), "my shots"),
        ImprintError::ZeroDim { .. },
        ["my shots", "zero columns"]
    );
    for (label, v) in [("NaN", f32::NAN), ("+Inf", f32::INFINITY), ("-Inf", f32::NEG_INFINITY)] {
        let x = with_value(v);
        err_case!(
            c,
            format!("check_finite: {label}"),
            check_finite(x.view(), "my queries"),
            ImprintError::NonFinite { row: 1, col: 1, .. },
            ["my queries", "non-finite", "row 1", "column 1"]
        );
    }
    err_case!(
        c,
        "check_dim: 2 columns where 3 are needed",
        check_dim(good().view(), 3, "my op"),
        ImprintError::DimensionMismatch { .. },
        ["my op", "3 columns", "3 x 2"]
    );
    let x = empty();
    err_case!(
        c,
        "Shots::new: zero rows",
        CoreShots::new(x.view(), "class 4").map(|s| s.n_shots()),
        ImprintError::Empty { .. },
        ["class 4"]
    );
    let x = with_value(f32::NAN);
    err_case!(
        c,
        "Shots::new: NaN",
        CoreShots::new(x.view(), "class 4").map(|s| s.n_shots()),
        ImprintError::NonFinite { .. },
        ["class 4", "NaN"]
    );

    // L2 normalization and names.
    let zero_row = array![[1.0f32, 0.0], [0.0, 0.0]];
    let x = zero_row.clone();
    err_case!(
        c,
        "l2_normalize_rows: all-zero row under Reject",
        l2_normalize_rows(x.view(), ZeroVectorPolicy::Reject, "my rows"),
        ImprintError::ZeroVector { row: 1, .. },
        ["my rows", "row 1", "all-zero"]
    );
    let x = with_value(f32::INFINITY);
    err_case!(
        c,
        "l2_normalize_rows: Inf",
        l2_normalize_rows(x.view(), ZeroVectorPolicy::KeepZero, "my rows"),
        ImprintError::NonFinite { .. },
        ["my rows", "inf"]
    );
    let x = zero_row.clone();
    err_case!(
        c,
        "InputNorm::L2 apply: all-zero row",
        InputNorm::L2(ZeroVectorPolicy::Reject).apply(x.view(), "NORMinf input"),
        ImprintError::ZeroVector { .. },
        ["NORMinf input", "all-zero"]
    );
    err_case!(
        c,
        "InputNorm from name 'L3'",
        "L3".parse::<InputNorm>(),
        ImprintError::UnknownName { .. },
        ["input normalization", "'L3'", "none, l2"]
    );
    err_case!(
        c,
        "WeightNorm from name 'max'",
        "max".parse::<WeightNorm>(),
        ImprintError::UnknownName { .. },
        ["weight normalization", "'max'", "quantile"]
    );
    err_case!(
        c,
        "Weighting from name 'knn'",
        "knn".parse::<Weighting>(),
        ImprintError::UnknownName { .. },
        ["weighting", "'knn'", "weighted_by_distance"]
    );
    err_case!(
        c,
        "Distance from name 'hamming'",
        "hamming".parse::<Distance>(),
        ImprintError::UnknownName { .. },
        ["distance", "'hamming'", "mahalanobis"]
    );
    let x = zero_row.clone();
    err_case!(
        c,
        "NORMpost l2: all-zero proxy",
        WeightNorm::L2(ZeroVectorPolicy::Reject).normalize(x.view(), empty().view()),
        ImprintError::ZeroVector { .. },
        ["proxies (NORMpost = l2)", "row 1"]
    );
    let x = with_value(f32::NAN);
    err_case!(
        c,
        "NORMpost l2: NaN proxy",
        WeightNorm::L2(ZeroVectorPolicy::KeepZero).normalize(x.view(), empty().view()),
        ImprintError::NonFinite { .. },
        ["proxies (NORMpost = l2)", "NaN"]
    );

    // The head.
    err_case!(
        c,
        "ImprintedHead::new(usize::MAX)",
        ImprintedHead::new(usize::MAX),
        ImprintError::InvalidParameter { name: "dim", .. },
        ["dim = 18446744073709551615", "at most"]
    );
    err_case!(
        c,
        "ImprintedHead::new(0)",
        ImprintedHead::new(0),
        ImprintError::InvalidParameter { name: "dim", .. },
        ["dim = 0", "at least one feature"]
    );
    err_case!(
        c,
        "MnnParams::new(0)",
        MnnParams::new(0, Distance::Cosine, Weighting::Uniform),
        ImprintError::InvalidParameter { name: "m", .. },
        ["m = 0", "neighbour"]
    );
    err_case!(
        c,
        "Aggregation::mnn(0)",
        Aggregation::mnn(0, Distance::Euclidean, Weighting::Uniform),
        ImprintError::InvalidParameter { name: "m", .. },
        ["m = 0"]
    );
    let zero_m = r#"{"method":"mnn","m":0,"distance":"cosine","weighting":"uniform"}"#;
    err_case!(
        c,
        "Aggregation from JSON: mnn with m = 0",
        serde_json::from_str::<Aggregation>(zero_m).map_err(|e| ImprintError::invalid("m", 0, e.to_string())),
        ImprintError::InvalidParameter { name: "m", .. },
        ["m = 0", "neighbour"]
    );
    err_case!(
        c,
        "add_class: duplicate name",
        two_class_head().add_class("cat", good().view()),
        ImprintError::InvalidParameter { .. },
        ["class name", "cat", "already"]
    );
    let x = empty();
    err_case!(
        c,
        "add_class: zero proxies",
        two_class_head().add_class("cow", x.view()),
        ImprintError::Empty { .. },
        ["'cow'", "empty"]
    );
    let x = with_value(f32::NAN);
    err_case!(
        c,
        "add_class: NaN proxy",
        two_class_head().add_class("cow", x.view()),
        ImprintError::NonFinite { .. },
        ["'cow'", "NaN", "row 1"]
    );
    let x = with_value(f32::NEG_INFINITY);
    err_case!(
        c,
        "add_class: -Inf proxy",
        two_class_head().add_class("cow", x.view()),
        ImprintError::NonFinite { .. },
        ["'cow'", "-inf"]
    );
    let x = array![[1.0f32, 2.0, 3.0]];
    err_case!(
        c,
        "add_class: proxies of another dimension",
        two_class_head().add_class("cow", x.view()),
        ImprintError::DimensionMismatch { .. },
        ["ImprintedHead", "2 columns", "1 x 3"]
    );
    let x = no_cols.clone();
    err_case!(
        c,
        "add_class: zero-column proxies",
        two_class_head().add_class("cow", x.view()),
        ImprintError::ZeroDim { .. },
        ["'cow'", "zero columns"]
    );
    err_case!(
        c,
        "extend_class: unknown class",
        two_class_head().extend_class(9, good().view()),
        ImprintError::UnknownClass { class: 9, n_classes: 2 },
        ["class 9", "2 classes"]
    );
    let x = array![[1.0f32]];
    err_case!(
        c,
        "extend_class: proxies of another dimension",
        two_class_head().extend_class(1, x.view()),
        ImprintError::DimensionMismatch { .. },
        ["2 columns", "1 x 1"]
    );
    let x = with_value(f32::INFINITY);
    err_case!(
        c,
        "extend_class: Inf proxy",
        two_class_head().extend_class(0, x.view()),
        ImprintError::NonFinite { .. },
        ["'cat'", "inf"]
    );
    err_case!(
        c,
        "class_proxies: unknown class",
        two_class_head().class_proxies(2).map(|p| p.nrows()),
        ImprintError::UnknownClass { class: 2, .. },
        ["class 2"]
    );
    err_case!(
        c,
        "scores: head without classes",
        ImprintedHead::new(2).unwrap().scores(good().view()),
        ImprintError::Empty { .. },
        ["head", "no class"]
    );
    let x = array![[1.0f32, 0.0, 0.0]];
    err_case!(
        c,
        "predict: queries of another dimension",
        two_class_head().predict(x.view()),
        ImprintError::DimensionMismatch { .. },
        ["queries", "2 columns", "1 x 3"]
    );
    let x = with_value(f32::NAN);
    err_case!(
        c,
        "predict: NaN query",
        two_class_head().predict(x.view()),
        ImprintError::NonFinite { .. },
        ["queries", "NaN", "row 1"]
    );
    let x = no_cols.clone();
    err_case!(
        c,
        "predict: zero-column queries",
        two_class_head().predict(x.view()),
        ImprintError::ZeroDim { .. },
        ["queries"]
    );
    let x = zero_row.clone();
    err_case!(
        c,
        "predict: all-zero query under L2 NORMinf (Reject)",
        {
            let mut head = two_class_head();
            head.set_input_norm(InputNorm::L2(ZeroVectorPolicy::Reject));
            head.predict(x.view())
        },
        ImprintError::ZeroVector { row: 1, .. },
        ["queries (NORMinf)", "row 1"]
    );
    let x = array![[1.0f32, 0.0, 0.0]];
    err_case!(
        c,
        "scores_with: mnn on queries of another dimension",
        two_class_head()
            .scores_with(&Aggregation::mnn(3, Distance::Mahalanobis, Weighting::Uniform).unwrap(), x.view()),
        ImprintError::DimensionMismatch { .. },
        ["queries"]
    );

    // Saved heads: corrupt, truncated, hostile, version-mismatched.
    let text = saved_head_text();
    err_case!(
        c,
        "load_json: empty input",
        load_head(""),
        ImprintError::SavedHead { .. },
        ["saved head", "not a valid saved head", "EOF"]
    );
    let t = text.clone();
    err_case!(
        c,
        "load_json: truncated",
        load_head(&t[..t.len() / 2]),
        ImprintError::SavedHead { .. },
        ["saved head", "EOF"]
    );
    err_case!(
        c,
        "load_json: binary garbage",
        ImprintedHead::load_json(&[0x89u8, 0x48, 0x44, 0x46, 0, 0xff][..]),
        ImprintError::SavedHead { .. },
        ["not a valid saved head"]
    );
    err_case!(
        c,
        "load_json: JSON of another shape",
        load_head("[1, 2, 3]"),
        ImprintError::SavedHead { .. },
        ["not a valid saved head"]
    );
    let t = edit(&text, "\"version\":1", "\"version\":2");
    err_case!(
        c,
        "load_json: future version",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["version 2", "reads version 1"]
    );
    let t = edit(&text, "\"version\":1", "\"version\":0");
    err_case!(c, "load_json: old version 0", load_head(&t), ImprintError::SavedHead { .. }, ["version 0"]);
    let t = edit(&text, "\"version\":1", "\"version\":-1");
    err_case!(
        c,
        "load_json: negative version",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["not a valid saved head", "-1", "line 1"]
    );
    let t = edit(&text, "imprint-rs head", "some other head");
    err_case!(
        c,
        "load_json: wrong format tag",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["'some other head'", "expected 'imprint-rs head'"]
    );
    let t = edit(&text, "\"version\":1", "\"version\":1,\"bias\":[0.5]");
    err_case!(
        c,
        "load_json: unknown field",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["unknown field", "bias"]
    );
    let t = edit(&text, "\"dim\":2", "\"dim\":\"two\"");
    err_case!(
        c,
        "load_json: dim of the wrong type",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["invalid type", "string \"two\""]
    );
    let t = edit(&text, "[1.0,0.0]", "[1.0]");
    err_case!(
        c,
        "load_json: proxy row shorter than dim",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["class 0 ('cat') proxy 0 has 1 values", "dim 2"]
    );
    let t = edit(&text, "\"dim\":2", "\"dim\":3");
    err_case!(
        c,
        "load_json: dim larger than the rows",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["has 2 values", "dim 3"]
    );
    let t = edit(&text, "\"dim\":2", "\"dim\":0");
    err_case!(
        c,
        "load_json: dim 0",
        load_head(&t),
        ImprintError::InvalidParameter { name: "dim", .. },
        ["dim = 0"]
    );
    let t = edit(&text, "\"dim\":2", &format!("\"dim\":{}", u64::MAX));
    err_case!(
        c,
        "load_json: dim 2^64 - 1",
        load_head(&t),
        ImprintError::InvalidParameter { name: "dim", .. },
        ["dim = 18446744073709551615"]
    );
    let t = edit(&text, "[1.0,0.0]", "[1e39,0.0]");
    err_case!(
        c,
        "load_json: value beyond f32",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["class 0", "'cat'", "non-finite value (inf) at row 0, column 0"]
    );
    let t = edit(&text, "[1.0,0.0]", "[null,0.0]");
    err_case!(c, "load_json: null value", load_head(&t), ImprintError::SavedHead { .. }, ["null"]);
    let t = edit(&text, "\"dog\"", "\"cat\"");
    err_case!(
        c,
        "load_json: duplicate class name",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["class 1", "cat", "already"]
    );
    let t = edit(&text, "[[1.0,0.0]]", "[]");
    err_case!(
        c,
        "load_json: class without proxies",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["class 0", "'cat'", "empty"]
    );
    let t = edit(
        &text,
        "{\"method\":\"max\",\"distance\":\"inner_product\"}",
        "{\"method\":\"mnn\",\"m\":0,\"distance\":\"cosine\",\"weighting\":\"uniform\"}",
    );
    err_case!(c, "load_json: mnn with m = 0", load_head(&t), ImprintError::SavedHead { .. }, ["m = 0"]);
    let t = edit(&text, "\"inner_product\"", "\"hamming\"");
    err_case!(
        c,
        "load_json: unknown distance",
        load_head(&t),
        ImprintError::SavedHead { .. },
        ["unknown variant", "hamming"]
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    err_case!(
        c,
        "load_json: 10,000-deep nesting",
        load_head(&deep),
        ImprintError::SavedHead { .. },
        ["not a valid saved head", "line 1"]
    );
    let x = array![[1.0f32, 0.0, 0.0]];
    let t = text.clone();
    err_case!(
        c,
        "loaded head: queries of another dimension",
        load_head(&t).unwrap().predict(x.view()),
        ImprintError::DimensionMismatch { .. },
        ["queries against head", "2 columns", "1 x 3"]
    );

    // The imprinting pipeline.
    let mean = || Imprinter::new(Mean);
    let x = empty();
    err_case!(
        c,
        "imprint_class: zero shots",
        mean().imprint_class(&mut two_class_head(), "cow", x.view()),
        ImprintError::Empty { .. },
        ["class 2", "shots"]
    );
    let x = with_value(f32::NAN);
    err_case!(
        c,
        "imprint_class: NaN shot",
        mean().imprint_class(&mut two_class_head(), "cow", x.view()),
        ImprintError::NonFinite { .. },
        ["class 2", "NaN", "row 1"]
    );
    let x = no_cols.clone();
    err_case!(
        c,
        "imprint_class: zero-column shots",
        mean().imprint_class(&mut two_class_head(), "cow", x.view()),
        ImprintError::ZeroDim { .. },
        ["class 2"]
    );
    let x = array![[1.0f32, 2.0, 3.0]];
    err_case!(
        c,
        "imprint_class: shots of another dimension than the head",
        mean().imprint_class(&mut two_class_head(), "cow", x.view()),
        ImprintError::DimensionMismatch { .. },
        ["2 columns", "1 x 3"]
    );
    let x = Array2::<f32>::zeros((3, 2));
    err_case!(
        c,
        "imprint_class: all-zero class under NORMpost l2 (Reject)",
        mean().imprint_class(&mut two_class_head(), "cow", x.view()),
        ImprintError::ZeroVector { .. },
        ["NORMpost", "all-zero"]
    );
    let x = zero_row.clone();
    err_case!(
        c,
        "imprint_class: all-zero shot under NORMpre l2 (Reject)",
        mean().with_pre_norm(InputNorm::L2(ZeroVectorPolicy::Reject)).imprint_class(
            &mut two_class_head(),
            "cow",
            x.view()
        ),
        ImprintError::ZeroVector { row: 1, .. },
        ["class 2", "NORMpre", "row 1"]
    );
    err_case!(
        c,
        "imprint_class: duplicate class name",
        mean().imprint_class(&mut two_class_head(), "dog", good().view()),
        ImprintError::InvalidParameter { .. },
        ["dog", "already"]
    );
    let x = with_value(f32::INFINITY);
    err_case!(
        c,
        "imprint_task: one bad class among good ones",
        {
            let mut head = two_class_head();
            let r = mean().imprint_task(&mut head, &[("a", good().view()), ("b", x.view())]);
            if head.n_classes() != 2 {
                return Err("a failed task changed the head".into());
            }
            r
        },
        ImprintError::NonFinite { .. },
        ["class 3", "inf"]
    );
    err_case!(
        c,
        "imprint_task: duplicate names within the task",
        mean().imprint_task(&mut two_class_head(), &[("a", good().view()), ("a", good().view())]),
        ImprintError::InvalidParameter { .. },
        ["class name = a", "already"]
    );
    err_case!(
        c,
        "add_shots: unknown class",
        mean().add_shots(&mut two_class_head(), 5, good().view()),
        ImprintError::UnknownClass { class: 5, .. },
        ["class 5", "2 classes"]
    );
    let x = with_value(f32::NAN);
    err_case!(
        c,
        "add_shots: NaN shot",
        mean().add_shots(&mut two_class_head(), 1, x.view()),
        ImprintError::NonFinite { .. },
        ["class 1", "NaN"]
    );
    let x = array![[1.0f32, 2.0, 3.0]];
    err_case!(
        c,
        "add_shots: shots of another dimension",
        mean().add_shots(&mut two_class_head(), 1, x.view()),
        ImprintError::DimensionMismatch { .. },
        ["2 columns"]
    );

    // Aggregation, distances, metrics, neural collapse.
    let p = good();
    err_case!(
        c,
        "class_scores: one label per proxy missing",
        Aggregation::max().class_scores(p.view(), &[0, 1], 2, good().view()),
        ImprintError::DimensionMismatch { .. },
        ["proxy labels", "3 labels", "got 2"]
    );
    let p = good();
    err_case!(
        c,
        "class_scores: proxy label outside the classes",
        Aggregation::max().class_scores(p.view(), &[0, 1, 7], 2, good().view()),
        ImprintError::UnknownClass { class: 7, n_classes: 2 },
        ["class 7"]
    );
    let p = empty();
    err_case!(
        c,
        "class_scores: no proxies",
        Aggregation::max().class_scores(p.view(), &[], 1, good().view()),
        ImprintError::Empty { .. },
        ["proxies"]
    );
    let p = good();
    let q = with_value(f32::NAN);
    err_case!(
        c,
        "predict (AggregateExt): NaN query",
        Aggregation::mnn(2, Distance::Manhattan, Weighting::InverseDistance).unwrap().predict(
            p.view(),
            &[0, 0, 1],
            2,
            q.view()
        ),
        ImprintError::NonFinite { .. },
        ["queries", "NaN"]
    );
    let p = with_value(f32::INFINITY);
    err_case!(
        c,
        "class_scores: Inf proxy",
        Aggregation::max().class_scores(p.view(), &[0, 0, 1], 2, good().view()),
        ImprintError::NonFinite { .. },
        ["proxies", "inf"]
    );
    let q = array![[1.0f32]];
    err_case!(
        c,
        "pairwise: queries of another dimension",
        pairwise(Distance::Chebyshev, q.view(), good().view()),
        ImprintError::DimensionMismatch { .. },
        ["pairwise", "2 columns"]
    );
    let q = with_value(f32::NAN);
    err_case!(
        c,
        "pairwise: NaN query",
        pairwise(Distance::Euclidean, q.view(), good().view()),
        ImprintError::NonFinite { .. },
        ["queries"]
    );
    err_case!(
        c,
        "accuracy: lengths differ",
        accuracy(&[0, 1], &[0, 1, 1]),
        ImprintError::DimensionMismatch { .. },
        ["metrics", "expected 3", "got 2"]
    );
    err_case!(c, "accuracy: nothing to score", accuracy(&[], &[]), ImprintError::Empty { .. }, ["labels"]);
    err_case!(
        c,
        "per_class_f1: label outside the classes",
        per_class_f1(&[0, 4], &[0, 1], 2),
        ImprintError::UnknownClass { class: 4, n_classes: 2 },
        ["class 4"]
    );
    err_case!(
        c,
        "neural_collapse: one class",
        neural_collapse(&[good().view()], Centering::Paper),
        ImprintError::InvalidParameter { name: "classes", .. },
        ["at least two classes"]
    );
    err_case!(
        c,
        "neural_collapse: no classes",
        neural_collapse(&[], Centering::Reference),
        ImprintError::InvalidParameter { name: "classes", .. },
        ["at least two classes"]
    );
    err_case!(
        c,
        "neural_collapse: identical classes",
        neural_collapse(&[good().view(), good().view()], Centering::Paper),
        ImprintError::Numerical { .. },
        ["neural_collapse", "class means coincide"]
    );
    let x = empty();
    err_case!(
        c,
        "neural_collapse: class without samples",
        neural_collapse(&[good().view(), x.view()], Centering::Paper),
        ImprintError::Empty { .. },
        ["class 1"]
    );
    let x = zero_row.clone();
    err_case!(
        c,
        "neural_collapse: all-zero sample",
        neural_collapse(&[good().view(), x.view()], Centering::Paper),
        ImprintError::ZeroVector { row: 1, .. },
        ["class 1", "row 1"]
    );
    let x = array![[1.0f32, 2.0, 3.0]];
    err_case!(
        c,
        "neural_collapse: classes of different dimensions",
        neural_collapse(&[good().view(), x.view()], Centering::Paper),
        ImprintError::DimensionMismatch { .. },
        ["neural_collapse", "2 columns"]
    );
    let x = with_value(f32::NAN);
    err_case!(
        c,
        "neural_collapse: NaN",
        neural_collapse(&[good().view(), x.view()], Centering::Paper),
        ImprintError::NonFinite { .. },
        ["class 1", "NaN"]
    );

    run("imprint-core", c, CORE_CASES);
}

// ---------------------------------------------------------------------------
// imprint-gen

#[test]
fn gen_bad_input() {
    let mut c = Cases::default();
    err_case!(
        c,
        "generator_by_name: unknown name",
        generator_by_name("kmeans++", Some(3)),
        ImprintError::UnknownName { .. },
        ["proxy generator", "'kmeans++'", "cov_max"]
    );
    err_case!(
        c,
        "generator_by_name: empty name",
        generator_by_name("", Some(3)),
        ImprintError::UnknownName { .. },
        ["proxy generator", "''"]
    );
    for &name in GENERATOR_NAMES {
        err_case!(
            c,
            format!("generator_by_name('{name}', k = 0)"),
            generator_by_name(name, Some(0)),
            ImprintError::InvalidParameter { name: "k", .. },
            [name, "k = 0"]
        );
    }
    for name in ["random", "kmeans", "kmedoids", "fps", "cov_max", "none"] {
        err_case!(
            c,
            format!("generator_by_name('{name}', no k)"),
            generator_by_name(name, None),
            ImprintError::InvalidParameter { name: "k", .. },
            [name, "needs k"]
        );
    }
    for &name in GENERATOR_NAMES {
        let x = Array2::<f32>::zeros((0, 4));
        err_case!(
            c,
            format!("generate '{name}': zero shots"),
            generator_by_name(name, Some(2)).unwrap().generate(x.view(), &mut rng()),
            ImprintError::Empty { .. },
            [format!("generator '{name}'")]
        );
    }
    for &name in GENERATOR_NAMES {
        let x =
            Array2::from_shape_fn((5, 3), |(i, j)| if (i, j) == (3, 2) { f32::NAN } else { (i + j) as f32 });
        err_case!(
            c,
            format!("generate '{name}': NaN shot"),
            generator_by_name(name, Some(2)).unwrap().generate(x.view(), &mut rng()),
            ImprintError::NonFinite { row: 3, col: 2, .. },
            [format!("generator '{name}'"), "row 3"]
        );
    }
    let x = array![[1.0f32], [2.0], [3.0]];
    err_case!(
        c,
        "generate 'cov_max' with one feature",
        generator_by_name("cov_max", Some(2)).unwrap().generate(x.view(), &mut rng()),
        ImprintError::InvalidParameter { name: "dim", .. },
        ["cov_max", "at least 2 features"]
    );
    err_case!(
        c,
        "KMeansParams: tol NaN",
        KMeansParams::new(2).tol(f64::NAN).check(),
        ImprintError::InvalidParameter { name: "tol", .. },
        ["tol = NaN"]
    );
    err_case!(
        c,
        "KMeansParams: negative tol",
        KMeansParams::new(2).tol(-1.0).check(),
        ImprintError::InvalidParameter { name: "tol", .. },
        ["tol = -1"]
    );
    err_case!(
        c,
        "KMeansParams: max_iter 0",
        KMeansParams::new(2).max_iter(0).check(),
        ImprintError::InvalidParameter { name: "max_iter", .. },
        ["max_iter = 0"]
    );
    err_case!(
        c,
        "KMeansParams: n_local_trials 0",
        KMeansParams::new(2).n_local_trials(0).check(),
        ImprintError::InvalidParameter { name: "n_local_trials", .. },
        ["n_local_trials = 0"]
    );
    err_case!(
        c,
        "KMeans::fit: k larger than the samples (direct call)",
        {
            let x = good();
            KMeansParams::new(5)
                .check()
                .unwrap()
                .fit(CoreShots::new(x.view(), "s").unwrap(), &mut rng())
                .map(|f| f.labels().len())
        },
        ImprintError::InvalidParameter { name: "k", .. },
        ["k = 5", "n = 3"]
    );
    err_case!(
        c,
        "KMedoidsParams: max_iter 0",
        KMedoidsParams::new(2).max_iter(0).check(),
        ImprintError::InvalidParameter { name: "max_iter", .. },
        ["max_iter = 0"]
    );
    err_case!(
        c,
        "KMedoids::fit: k larger than the samples (direct call)",
        {
            let x = good();
            KMedoidsParams::new(4)
                .check()
                .unwrap()
                .fit(CoreShots::new(x.view(), "s").unwrap())
                .map(|f| f.labels().len())
        },
        ImprintError::InvalidParameter { name: "k", .. },
        ["k = 4", "n = 3"]
    );
    err_case!(
        c,
        "XavierRandomParams: k = 0",
        XavierRandomParams::new(0).check(),
        ImprintError::InvalidParameter { name: "k", .. },
        ["k = 0"]
    );

    run("imprint-gen", c, GEN_CASES);
}

// ---------------------------------------------------------------------------
// imprint-baselines

#[test]
fn baselines_bad_input() {
    let mut c = Cases::default();
    let other = || array![[0.1f32, 1.0], [-0.1, 0.9]];
    for (label, lambda) in [("NaN", f64::NAN), ("-1", -1.0), ("inf", f64::INFINITY)] {
        err_case!(
            c,
            format!("LeastSquaresParams: lambda {label}"),
            LeastSquaresParams::new(lambda).check(),
            ImprintError::InvalidParameter { name: "lambda", .. },
            [format!("lambda = {label}"), "finite"]
        );
    }
    let ls = || LeastSquaresParams::new(0.1).check().unwrap();
    err_case!(c, "ls fit: no classes", ls().fit(&[]), ImprintError::Empty { .. }, ["least squares"]);
    let x = Array2::<f32>::zeros((0, 2));
    err_case!(
        c,
        "ls fit: class without samples",
        ls().fit(&[good().view(), x.view()]),
        ImprintError::Empty { .. },
        ["class 1", "least squares"]
    );
    let x = array![[1.0f32, 2.0, 3.0]];
    err_case!(
        c,
        "ls fit: classes of different dimensions",
        ls().fit(&[good().view(), x.view()]),
        ImprintError::DimensionMismatch { .. },
        ["least squares", "2 columns", "1 x 3"]
    );
    let x = with_value(f32::INFINITY);
    err_case!(
        c,
        "ls fit: Inf",
        ls().fit(&[other().view(), x.view()]),
        ImprintError::NonFinite { .. },
        ["class 1", "inf"]
    );
    let (a, b) = (array![[1.0f32, 0.0, 0.0]], array![[2.0f32, 0.0, 0.0]]);
    err_case!(
        c,
        "ls fit: singular system with lambda 0",
        LeastSquaresParams::new(0.0).check().unwrap().fit(&[a.view(), b.view()]),
        ImprintError::Numerical { .. },
        ["least squares", "singular", "lambda > 0"]
    );
    err_case!(
        c,
        "kls: k = 0",
        KLeastSquaresParams::new(Some(0), 0.1).check(),
        ImprintError::InvalidParameter { name: "k", .. },
        ["k = 0", "kls"]
    );
    err_case!(
        c,
        "kls: negative lambda",
        KLeastSquaresParams::new(Some(2), -0.5).check(),
        ImprintError::InvalidParameter { name: "lambda", .. },
        ["lambda = -0.5"]
    );
    let kls = |k| KLeastSquaresParams::new(k, 0.1).check().unwrap();
    err_case!(
        c,
        "kls fit: no classes",
        kls(Some(2)).fit(&[], 0),
        ImprintError::Empty { .. },
        ["k-least squares"]
    );
    let x = Array2::<f32>::zeros((0, 2));
    err_case!(
        c,
        "kls fit: class without samples",
        kls(Some(2)).fit(&[good().view(), x.view()], 0),
        ImprintError::Empty { .. },
        ["class 1"]
    );
    let x = with_value(f32::NAN);
    err_case!(
        c,
        "kls fit: NaN",
        kls(Some(2)).fit(&[other().view(), x.view()], 0),
        ImprintError::NonFinite { .. },
        ["class 1", "NaN"]
    );
    let x = array![[1.0f32, 2.0, 3.0]];
    err_case!(
        c,
        "kls fit: classes of different dimensions (all kept raw, k = -1)",
        kls(None).fit(&[good().view(), x.view()], 0),
        ImprintError::DimensionMismatch { .. },
        ["k-least squares", "2 columns", "1 x 3"]
    );

    run("imprint-baselines", c, BASELINE_CASES);
}

// ---------------------------------------------------------------------------
// imprint-data: embedding files

#[test]
fn data_file_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let valid = valid_file_bytes(&d);
    let mut c = Cases::default();

    let path = d.join("missing.h5");
    let p = path.display().to_string();
    err_case!(
        c,
        "read_embeddings: missing file",
        read_embeddings(&path),
        DataError::NotFound { .. },
        [p, "not found"]
    );
    let path = bad_file(&d, "empty.h5", b"");
    let p = path.display().to_string();
    err_case!(
        c,
        "read_embeddings: empty file",
        read_embeddings(&path),
        DataError::EmptyFile { .. },
        [p, "0 bytes"]
    );
    let path = d.join("a_directory.h5");
    std::fs::create_dir(&path).unwrap();
    let p = path.display().to_string();
    err_case!(
        c,
        "read_embeddings: a directory",
        read_embeddings(&path),
        DataError::Io { action: "read", .. },
        [p, "read failed"]
    );
    for (label, len) in
        [("8 bytes", 8), ("100 bytes", 100), ("half", valid.len() / 2), ("all but 1 byte", valid.len() - 1)]
    {
        let path = bad_file(&d, &format!("truncated_{}.h5", label.replace(' ', "_")), &valid[..len]);
        let p = path.display().to_string();
        err_case!(
            c,
            format!("read_embeddings: truncated to {label}"),
            read_embeddings(&path),
            DataError::Corrupt { .. },
            [p, "not a readable HDF5 file"]
        );
    }
    let mut bytes = valid.clone();
    bytes[1] = b'X';
    let path = bad_file(&d, "bad_signature.h5", &bytes);
    let p = path.display().to_string();
    err_case!(
        c,
        "read_embeddings: corrupt signature",
        read_embeddings(&path),
        DataError::Corrupt { .. },
        [p, "not a readable HDF5 file"]
    );
    let path = bad_file(&d, "text.h5", b"embeddings,labels\n1.0,0\n");
    let p = path.display().to_string();
    err_case!(c, "read_embeddings: a CSV file", read_embeddings(&path), DataError::Corrupt { .. }, [p]);
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let path = bad_file(&d, "garbage.h5", &garbage);
    let p = path.display().to_string();
    err_case!(c, "read_embeddings: random bytes", read_embeddings(&path), DataError::Corrupt { .. }, [p]);
    let mut bytes = valid.clone();
    let n = bytes.len();
    for b in &mut bytes[n - 600..n - 200] {
        *b = 0xA5;
    }
    let path = bad_file(&d, "overwritten_tail.h5", &bytes);
    let p = path.display().to_string();
    err_case!(
        c,
        "read_embeddings: overwritten chunk data",
        read_embeddings(&path),
        DataError::Corrupt { .. },
        [p]
    );
    err_case!(
        c,
        "EmbeddingFile::from_bytes: no bytes",
        EmbeddingFile::from_bytes(Vec::new(), "mem.h5"),
        DataError::EmptyFile { .. },
        ["mem.h5"]
    );

    // h5py-written fixtures with wrong dtypes, ranks, lengths and values.
    type IsVariant = fn(&DataError) -> bool;
    let fixtures: [(&str, IsVariant, &str); 16] = [
        ("embeddings_f64.h5", |e| matches!(e, DataError::WrongDtype { dataset: "embeddings", .. }), "f64"),
        ("labels_float.h5", |e| matches!(e, DataError::WrongDtype { dataset: "labels", .. }), "integer"),
        (
            "embeddings_rank1.h5",
            |e| matches!(e, DataError::WrongRank { dataset: "embeddings", expected: 2, .. }),
            "rank 2",
        ),
        (
            "embeddings_rank3.h5",
            |e| matches!(e, DataError::WrongRank { dataset: "embeddings", expected: 2, .. }),
            "rank 2",
        ),
        (
            "labels_rank2.h5",
            |e| matches!(e, DataError::WrongRank { dataset: "labels", expected: 1, .. }),
            "rank 1",
        ),
        (
            "missing_labels.h5",
            |e| matches!(e, DataError::MissingDataset { dataset: "labels", .. }),
            "`labels` is missing",
        ),
        (
            "missing_embeddings.h5",
            |e| matches!(e, DataError::MissingDataset { dataset: "embeddings", .. }),
            "`embeddings` is missing",
        ),
        (
            "embeddings_group.h5",
            |e| matches!(e, DataError::MissingDataset { dataset: "embeddings", .. }),
            "`embeddings`",
        ),
        (
            "length_mismatch.h5",
            |e| matches!(e, DataError::LengthMismatch { n_rows: 12, n_labels: 10, .. }),
            "12 embedding rows but 10 labels",
        ),
        ("nan_row.h5", |e| matches!(e, DataError::NonFinite { row: 3, col: 2, .. }), "row 3"),
        ("inf_row.h5", |e| matches!(e, DataError::NonFinite { row: 8, col: 4, .. }), "row 8"),
        (
            "negative_label.h5",
            |e| matches!(e, DataError::LabelOutOfRange { row: 4, label: -1, .. }),
            "label -1",
        ),
        ("zero_rows.h5", |e| matches!(e, DataError::ZeroRows { .. }), "zero rows"),
        ("latest_v200.h5", |e| matches!(e, DataError::Unsupported { .. }), "libver"),
        ("corrupt_chunk.h5", |e| matches!(e, DataError::Corrupt { .. }), "not a readable HDF5 file"),
        ("not_hdf5.h5", |e| matches!(e, DataError::Corrupt { .. }), "not a readable HDF5 file"),
    ];
    for (name, variant, problem) in fixtures {
        let path = fixture(name);
        c.add(format!("read_embeddings: fixture {name}"), move || {
            expect_err(read_embeddings(&path), variant, &[name.to_string(), problem.to_string()])
        });
    }

    // Writing: no partial file is left behind.
    let (train, _) = toy_data(2, 3);
    let target = d.join("exists.h5");
    write_embeddings(&target, &train, &WriteOptions::new()).unwrap();
    let p = target.display().to_string();
    let t = train.clone();
    let dd = d.clone();
    c.add("write_embeddings: target exists, no overwrite", move || {
        let before = std::fs::read(&target).unwrap();
        expect_err(
            write_embeddings(&target, &t, &WriteOptions::new()),
            |e| matches!(e, DataError::AlreadyExists { .. }),
            &[p.clone(), "already exists".into()],
        )?;
        if std::fs::read(&target).unwrap() != before {
            return Err("the existing file changed".into());
        }
        if files_under(&dd)
            .iter()
            .any(|f| f.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        {
            return Err("a temporary file was left behind".into());
        }
        Ok(())
    });
    let target = d.join("sub").join("big_label.h5");
    let p = target.display().to_string();
    let dd = d.clone();
    c.add("write_embeddings: label beyond int32", move || {
        let data = Embeddings::new(Array2::ones((2, 3)), vec![0, 3_000_000_000]).unwrap();
        expect_err(
            write_embeddings(&target, &data, &WriteOptions::new()),
            |e| matches!(e, DataError::LabelOutOfRange { row: 1, label: 3_000_000_000, .. }),
            &[p.clone(), "label 3000000000".into(), "int32".into()],
        )?;
        if files_under(&dd).iter().any(|f| f.to_string_lossy().contains("big_label")) {
            return Err("a file was written".into());
        }
        Ok(())
    });
    let blocker = bad_file(&d, "blocker", b"a file, not a folder");
    let target = blocker.join("sub").join("x.h5");
    let p = blocker.display().to_string();
    err_case!(
        c,
        "write_embeddings: parent is a file",
        write_embeddings(&target, &train, &WriteOptions::new()),
        DataError::Io { .. },
        [p, "failed"]
    );

    run("imprint-data files", c, DATA_FILE_CASES);
}

// ---------------------------------------------------------------------------
// imprint-data: in-memory embeddings, mappings and tasks

#[test]
fn data_task_bad_input() {
    let mut c = Cases::default();
    err_case!(
        c,
        "Embeddings::new: labels shorter than rows",
        Embeddings::new(Array2::zeros((3, 2)), vec![0, 1]),
        DataError::LengthMismatch { n_rows: 3, n_labels: 2, .. },
        ["in-memory embeddings", "3 embedding rows but 2 labels"]
    );
    err_case!(
        c,
        "Embeddings::new: zero rows",
        Embeddings::new(Array2::zeros((0, 2)), vec![]),
        DataError::ZeroRows { .. },
        ["in-memory embeddings", "zero rows"]
    );
    err_case!(
        c,
        "Embeddings::new: zero columns",
        Embeddings::new(Array2::zeros((2, 0)), vec![0, 1]),
        DataError::ZeroDim { .. },
        ["in-memory embeddings", "dimension is zero"]
    );
    err_case!(
        c,
        "Embeddings::new: NaN",
        Embeddings::new(with_value(f32::NAN), vec![0, 1, 2]),
        DataError::NonFinite { row: 1, col: 1, .. },
        ["in-memory embeddings", "NaN", "row 1"]
    );
    err_case!(
        c,
        "Embeddings::new: -Inf",
        Embeddings::new(with_value(f32::NEG_INFINITY), vec![0, 1, 2]),
        DataError::NonFinite { .. },
        ["-inf"]
    );
    let (train, _) = toy_data(2, 3);
    let (_, test4) = toy_data(2, 4);
    let (t, t4) = (train.clone(), test4.clone());
    err_case!(
        c,
        "SourceData::new: train and test dimensions differ",
        SourceData::new("Toy", t.clone(), t4.clone()),
        DataError::DimMismatch { found: 4, expected: 3, .. },
        ["Toy (test)", "dimension 4", "3"]
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    write_embeddings(reference_path(&root, "Half", "net", Split::Train), &train, &WriteOptions::new())
        .unwrap();
    let p = reference_path(&root, "Half", "net", Split::Test).display().to_string();
    let r = root.clone();
    err_case!(
        c,
        "SourceData::load: test split missing",
        SourceData::load(&r, "Half", "net"),
        DataError::NotFound { .. },
        [p, "not found"]
    );
    let p = reference_path(&root, "Nothing", "net", Split::Train).display().to_string();
    let r = root.clone();
    err_case!(
        c,
        "SourceData::load: data set missing",
        SourceData::load(&r, "Nothing", "net"),
        DataError::NotFound { .. },
        [p]
    );
    write_embeddings(reference_path(&root, "Odd", "net", Split::Train), &train, &WriteOptions::new())
        .unwrap();
    write_embeddings(reference_path(&root, "Odd", "net", Split::Test), &test4, &WriteOptions::new()).unwrap();
    let r = root.clone();
    err_case!(
        c,
        "SourceData::load: train and test files of different dimensions",
        SourceData::load(&r, "Odd", "net"),
        DataError::DimMismatch { .. },
        ["Odd", "dimension 4"]
    );

    let toy = || vec![source("Toy", 3, 4)];
    err_case!(
        c,
        "TaskSpec::build: no data sets",
        TaskSpec::new("t1").build(&[]),
        DataError::NoDatasets { .. },
        ["task `t1`", "no datasets"]
    );
    err_case!(
        c,
        "TaskSpec::build: data sets of different dimensions",
        TaskSpec::new("combi").build(&[source("A", 2, 4), source("B", 2, 5)]),
        DataError::DimMismatch { .. },
        ["task `combi`", "`B`", "dimension 5"]
    );
    err_case!(
        c,
        "TaskSpec::build: empty split",
        TaskSpec::new("t2").split(vec![]).build(&toy()),
        DataError::InvalidSplit { .. },
        ["task `t2`", "no labels"]
    );
    err_case!(
        c,
        "TaskSpec::build: label twice in the split",
        TaskSpec::new("t3").split(vec![0, 2, 0]).build(&toy()),
        DataError::InvalidSplit { .. },
        ["task `t3`", "label 0 is listed twice"]
    );
    err_case!(
        c,
        "TaskSpec::build: split label absent from the data",
        TaskSpec::new("t4").split(vec![0, 7]).build(&toy()),
        DataError::EmptyClass { label: 7, split: "train", .. },
        ["task `t4`", "class 7", "no train samples"]
    );
    err_case!(
        c,
        "TaskSpec::build: split of labels that are all absent",
        TaskSpec::new("t5").split(vec![8, 9]).build(&toy()),
        DataError::EmptyTask { .. },
        ["task `t5`", "no train samples"]
    );
    err_case!(
        c,
        "TaskSpec::build: mapping drops every label",
        TaskSpec::new("t6").mapping(LabelMapping::new([(50, 0)]).unwrap()).build(&toy()),
        DataError::EmptyTask { .. },
        ["task `t6`"]
    );
    err_case!(
        c,
        "TaskSpec::build: class with train but no test samples",
        {
            let (train, _) = toy_data(3, 4);
            let test = Embeddings::new(Array2::ones((2, 4)), vec![0, 1]).unwrap();
            TaskSpec::new("t7").build(&[SourceData::new("Toy", train, test).unwrap()])
        },
        DataError::EmptyClass { label: 2, split: "test", .. },
        ["task `t7`", "class 2", "no test samples"]
    );
    err_case!(
        c,
        "TaskSpec::build: label + offset overflows",
        {
            let part = || Embeddings::new(Array2::ones((2, 4)), vec![0, usize::MAX]).unwrap();
            TaskSpec::new("t8").build(&[source("Toy", 3, 4), SourceData::new("Big", part(), part()).unwrap()])
        },
        DataError::LabelOverflow { offset: 3, .. },
        ["task `t8`", "`Big`", "18446744073709551615", "overflows"]
    );
    err_case!(
        c,
        "LabelMapping::new: label mapped twice",
        LabelMapping::new([(0, 0), (0, 1)]),
        DataError::InvalidMapping { .. },
        ["label 0 is mapped to both 0 and 1"]
    );
    err_case!(
        c,
        "LabelMapping::new: empty",
        LabelMapping::new([]),
        DataError::InvalidMapping { .. },
        ["empty"]
    );
    err_case!(
        c,
        "LabelMapping::from_groups: empty group",
        LabelMapping::from_groups(&[vec![0], vec![]]),
        DataError::InvalidMapping { .. },
        ["group 1 is empty"]
    );
    err_case!(
        c,
        "LabelMapping::from_groups: label in two groups",
        LabelMapping::from_groups(&[vec![0, 1], vec![1]]),
        DataError::InvalidMapping { .. },
        ["label 1"]
    );
    err_case!(
        c,
        "LabelMapping::random_m_in_1: m too large",
        LabelMapping::random_m_in_1(&[0, 1, 2, 3], 2, 3, 0),
        DataError::InvalidParameter { name: "m", .. },
        ["`m` = 3"]
    );
    err_case!(
        c,
        "LabelMapping::random_m_in_1: zero groups",
        LabelMapping::random_m_in_1(&[0, 1], 0, 1, 0),
        DataError::InvalidParameter { name: "n_groups", .. },
        ["`n_groups` = 0"]
    );
    err_case!(
        c,
        "FewShot::from_reference(0)",
        FewShot::from_reference(0),
        DataError::InvalidShots { value: 0 },
        ["few-shot count 0"]
    );
    err_case!(
        c,
        "FewShot::from_reference(-5)",
        FewShot::from_reference(-5),
        DataError::InvalidShots { value: -5 },
        ["few-shot count -5"]
    );

    run("imprint-data tasks", c, DATA_TASK_CASES);
}

// ---------------------------------------------------------------------------
// imprint-bench: configs, shards, records, reports, statistics, runs

#[test]
fn bench_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let mut c = Cases::default();

    // Config files.
    let path = d.join("missing.yaml");
    let p = path.display().to_string();
    err_case!(
        c,
        "config: missing file",
        ExperimentConfig::from_path(&path),
        CompatError::Io { action: "read", .. },
        [p, "read failed"]
    );
    let path = bad_file(&d, "empty.yaml", b"");
    let p = path.display().to_string();
    err_case!(
        c,
        "config: empty file",
        ExperimentConfig::from_path(&path),
        CompatError::EmptyConfig { .. },
        [p, "config is empty"]
    );
    let path = bad_file(&d, "comments.yaml", b"# just a comment\n   \n# another\n");
    let p = path.display().to_string();
    err_case!(
        c,
        "config: only comments",
        ExperimentConfig::from_path(&path),
        CompatError::EmptyConfig { .. },
        [p]
    );
    let path = d.clone();
    let p = path.display().to_string();
    err_case!(c, "config: a directory", ExperimentConfig::from_path(&path), CompatError::Io { .. }, [p]);
    let path = bad_file(&d, "latin1.yaml", b"{\"proxy_methods\": [\"m\xe9an\"]}");
    let p = path.display().to_string();
    err_case!(
        c,
        "config: not UTF-8",
        ExperimentConfig::from_path(&path),
        CompatError::NotUtf8 { offset: 21, .. },
        [p, "not valid UTF-8", "offset 21"]
    );
    let path = d.join("huge.yaml");
    {
        let mut text = String::from("{\"proxy_methods\": [\"mean\"], \"backbones\": [");
        let item = "\"resnet18\", ";
        while text.len() <= 16 * 1024 * 1024 {
            text.push_str(item);
        }
        text.push_str("]}");
        std::fs::write(&path, text).unwrap();
    }
    let p = path.display().to_string();
    err_case!(
        c,
        "config: a 16 MiB file",
        ExperimentConfig::from_path(&path),
        CompatError::ConfigTooLarge { .. },
        [p, "more than the limit"]
    );
    let t = CONFIG.replace("\"ks\"", "\"kz\"");
    err_case!(
        c,
        "config: unknown key",
        config_err(&t),
        CompatError::UnknownKey { .. },
        ["bad.yaml", "unknown key \"kz\"", "ks"]
    );
    err_case!(
        c,
        "config: non-string key",
        config_err(&config_with("7: [1]")),
        CompatError::UnknownKey { .. },
        ["bad.yaml", "unknown key \"7\""]
    );
    err_case!(
        c,
        "config: YAML syntax error",
        config_err("{\"proxy_methods\": [\"mean\"]"),
        CompatError::Yaml { .. },
        ["bad.yaml:", "YAML error"]
    );
    err_case!(
        c,
        "config: tab-indented block YAML",
        config_err("proxy_methods:\n\t- mean\n"),
        CompatError::Yaml { .. },
        ["bad.yaml:2:"]
    );
    let deep =
        format!("{{\"proxy_methods\": [\"mean\"], \"ks\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    err_case!(
        c,
        "config: 10,000-deep nesting",
        config_err(&deep),
        CompatError::Yaml { .. },
        ["bad.yaml:1:", "recursion limit exceeded"]
    );
    let deep_maps = format!("{}{}", "{a: ".repeat(5_000), "}".repeat(5_000));
    err_case!(
        c,
        "config: 5,000-deep mappings",
        config_err(&deep_maps),
        CompatError::Yaml { .. },
        ["bad.yaml:1:", "recursion limit exceeded"]
    );
    err_case!(
        c,
        "config: alias",
        config_err("{\"proxy_methods\": &m [\"mean\"], \"ms\": *m}"),
        CompatError::Yaml { .. },
        ["bad.yaml", "not supported"]
    );
    err_case!(
        c,
        "config: explicit tag",
        config_err("{\"proxy_methods\": !!python/object [\"mean\"]}"),
        CompatError::Yaml { .. },
        ["tags are not supported"]
    );
    err_case!(
        c,
        "config: duplicate key",
        config_err(&config_with("\"ks\": [5]")),
        CompatError::Yaml { .. },
        ["bad.yaml", "ks"]
    );
    err_case!(
        c,
        "config: two documents",
        config_err("--- {\"proxy_methods\": [\"mean\"]}\n--- {}\n"),
        CompatError::Yaml { .. },
        ["more than one YAML document"]
    );
    err_case!(
        c,
        "config: a list at the top level",
        config_err("[1, 2]"),
        CompatError::WrongType { .. },
        ["bad.yaml", "<top level>", "mapping", "list of 2 items"]
    );
    err_case!(
        c,
        "config: a scalar at the top level",
        config_err("hello"),
        CompatError::WrongType { .. },
        ["string \"hello\""]
    );
    err_case!(
        c,
        "config: proxy_methods missing",
        config_err("{\"ks\": [1]}"),
        CompatError::MissingKey { key: "proxy_methods", .. },
        ["bad.yaml", "proxy_methods", "lmeans"]
    );
    let wrong_types: [(&str, &str, &str, &str); 10] = [
        ("\"ks\": [\"5\"]", "ks[0]", "an integer", "string \"5\""),
        ("\"ks\": [2.5]", "ks[0]", "an integer", "float 2.5"),
        ("\"ks\": [true]", "ks[0]", "an integer", "boolean true"),
        ("\"ks\": 5", "ks", "a list", "integer 5"),
        ("\"ms\": null", "ms", "a list", "null"),
        ("\"seeds\": [\"abc\"]", "seeds[0]", "an integer", "string \"abc\""),
        ("\"backbones\": [[\"resnet18\"]]", "backbones[0]", "a string", "list of 1 items"),
        (
            "\"label_remappings\": {\"m\": {\"0\": 1}}",
            "label_remappings.m (a key)",
            "an integer",
            "string \"0\"",
        ),
        ("\"task_splits\": {\"t\": [[0, \"one\"]]}", "task_splits.t[0]", "an integer", "string \"one\""),
        (
            "\"presampling_quantiles_values\": [[0, .nan]]",
            "presampling_quantiles_values[0]",
            "a finite number",
            "NaN",
        ),
    ];
    for (entry, key, expected, found) in wrong_types {
        let t = config_entry(entry);
        err_case!(
            c,
            format!("config: wrong type {entry}"),
            config_err(&t),
            CompatError::WrongType { .. },
            ["bad.yaml", key, expected, found]
        );
    }
    let invalid_values: [(&str, &str, &str); 14] = [
        ("\"ks\": [1000000000000]", "ks[0]", "between 1 and 1000000"),
        ("\"ms\": [99999999]", "ms[0]", "between 1 and 1000000"),
        ("\"ks\": [-5]", "ks[0]", "-1 (all)"),
        ("\"ks\": [0]", "ks[0]", "-1 (all)"),
        ("\"ms\": [-2]", "ms[0]", "-1 (all)"),
        ("\"presampling_fewshot_values\": [-3]", "presampling_fewshot_values[0]", "-1 (all)"),
        ("\"ks\": []", "ks", "must not be empty"),
        ("\"seeds\": [-1]", "seeds[0]", "0..2^32"),
        ("\"seeds\": [1099511627776]", "seeds[0]", "0..2^32"),
        ("\"proxy_methods\": [\"lmeans\"]", "proxy_methods[0]", "unknown name"),
        ("\"backbones\": [\"../etc\"]", "backbones[0]", "path separators"),
        ("\"task_splits\": {\"t\": [[1, 1]]}", "task_splits", "twice"),
        ("\"task_splits\": {\"t\": [[-4]]}", "task_splits", "label -4"),
        ("\"presampling_quantiles_values\": [[0.9, 0.1]]", "presampling_quantiles_values[0]", "low <= high"),
    ];
    for (entry, key, reason) in invalid_values {
        let t = config_entry(entry);
        err_case!(
            c,
            format!("config: invalid value {entry}"),
            config_err(&t),
            CompatError::InvalidValue { .. },
            ["bad.yaml", key, reason]
        );
    }
    let many: Vec<String> = (1..=400).map(|i| i.to_string()).collect();
    let many = many.join(", ");
    let t = format!(
        "{{\"proxy_methods\": [\"kmeans\"], \"ks\": [{many}], \"ms\": [{many}], \"presampling_fewshot_values\": [{many}]}}"
    );
    err_case!(
        c,
        "config: grid of 64 million combinations",
        config_err(&t),
        CompatError::InvalidValue { .. },
        ["bad.yaml", "<all list keys>", "split the config"]
    );
    let nums: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let t = format!(
        "{{\"proxy_methods\": [\"kmeans\"], \"label_remappings\": {{\"big\": {{{}}}}}}}",
        nums.iter().map(|n| format!("{n}: -7")).collect::<Vec<_>>().join(", ")
    );
    err_case!(
        c,
        "config: mapping target below -1",
        config_err(&t),
        CompatError::InvalidValue { .. },
        ["label_remappings.big", "0: -7"]
    );

    // Shards.
    for spec in ["3/2", "1/0", "a/b", "", "2", "-1/4"] {
        err_case!(
            c,
            format!("Shard::parse({spec:?})"),
            Shard::parse(spec),
            CompatError::InvalidShard { .. },
            [format!("shard {spec:?}")]
        );
    }

    err_case!(
        c,
        "Shard::from_vars: JOB_COMPLETION_INDEX not a number",
        Shard::from_vars(|n| (n == "JOB_COMPLETION_INDEX").then(|| "x1".to_string()), 4),
        CompatError::InvalidShard { .. },
        ["JOB_COMPLETION_INDEX=x1", "not a non-negative integer"]
    );
    err_case!(
        c,
        "Shard::from_vars: index beyond the count",
        Shard::from_vars(|n| (n == "SLURM_ARRAY_TASK_ID").then(|| "9".to_string()), 4),
        CompatError::InvalidShard { .. },
        ["9/4"]
    );
    err_case!(
        c,
        "check_grid: ls without a lambda for the backbone",
        {
            let config =
                ExperimentConfig::from_yaml_str(&CONFIG.replace("\"kmeans\"", "\"ls\""), "c.yaml").unwrap();
            let options = RunOptions {
                embeddings_root: "/nonexistent".into(),
                shard: Shard::ALL,
                lambdas: Default::default(),
                progress: false,
                sources: Default::default(),
                rng_mode: Default::default(),
            };
            check_grid(&ExperimentGrid::new(&config), &options)
        },
        BenchError::Unsupported { .. },
        ["toynet", "--lambda toynet=VALUE"]
    );

    // Records and the report.
    let rec = sample_record();
    let good_name = rec.id().file_name();
    let good_text = rec.to_json_text();
    let rec_dir = d.join("records");
    std::fs::create_dir(&rec_dir).unwrap();
    let record_cases: [(&str, String, &str); 8] = [
        ("empty record file", String::new(), "EOF"),
        ("truncated record", good_text[..good_text.len() / 2].to_string(), "EOF"),
        ("record that is not JSON", "not json at all".into(), "expected"),
        (
            "record without task_acc",
            edit(&good_text, "\"task_acc\"", "\"task_acc_x\""),
            "missing field `task_acc`",
        ),
        ("record with k as a string", edit(&good_text, "\"k\": 1,", "\"k\": \"1\","), "invalid type"),
        (
            "record with an unknown proxy method",
            edit(&good_text, "\"proxy_method\": \"mean\"", "\"proxy_method\": \"lmeans\""),
            "proxy_method: unknown value \"lmeans\"",
        ),
        (
            "record with f1 lists of different lengths",
            edit(&good_text, "\"class_size\": [\n            3,", "\"class_size\": ["),
            "differ in length",
        ),
        (
            "record with a 10,000-deep extra field",
            format!("{{\"x\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000)),
            "recursion limit",
        ),
    ];
    for (i, (label, text, problem)) in record_cases.into_iter().enumerate() {
        let path = bad_file(&rec_dir, &format!("case{i}_{good_name}"), text.as_bytes());
        let p = path.display().to_string();
        err_case!(
            c,
            format!("read_record: {label}"),
            read_record(&path),
            CompatError::CorruptRecord { .. },
            [p, "corrupt record", problem]
        );
    }
    let path = bad_file(&rec_dir, "123.json", good_text.as_bytes());
    let p = path.display().to_string();
    err_case!(
        c,
        "read_record: file name is not the record's id",
        read_record(&path),
        CompatError::CorruptRecord { .. },
        [p, "does not match the record's id"]
    );
    let mixed = d.join("mixed");
    ResultStore::open(&mixed, false).unwrap().write(&rec).unwrap();
    let bad = bad_file(&mixed, "999.json", b"{\"task_acc\": ");
    let p = bad.display().to_string();
    err_case!(
        c,
        "load_all: one corrupt record among good ones",
        load_all(&mixed),
        CompatError::CorruptRecord { .. },
        [p, "corrupt record"]
    );
    let path = d.join("no_records_here");
    let p = path.display().to_string();
    err_case!(c, "load_all: missing folder", load_all(&path), CompatError::Io { action: "list", .. }, [p]);
    let store_dir = d.join("store");
    let r = rec.clone();
    c.add("ResultStore::write: record exists, no overwrite", move || {
        let store = ResultStore::open(&store_dir, false).unwrap();
        let path = store.write(&r).unwrap();
        let before = std::fs::read(&path).unwrap();
        expect_err(
            store.write(&r),
            |e| matches!(e, BenchError::RecordExists { .. }),
            &[path.display().to_string(), "already exists".into()],
        )?;
        if std::fs::read(&path).unwrap() != before {
            return Err("the existing record changed".into());
        }
        if files_under(&store_dir).len() != 1 {
            return Err(format!("stray files: {:?}", files_under(&store_dir)));
        }
        Ok(())
    });
    let blocker = bad_file(&d, "blocker", b"a file");
    let p = blocker.display().to_string();
    let b = blocker.clone();
    err_case!(
        c,
        "ResultStore::open: path is a file",
        ResultStore::open(&b, false),
        BenchError::Io { .. },
        [p]
    );
    let collapse = bad_file(&d, "neural_collapse.json", b"{\"nc1\": 1.0}");
    let p = collapse.display().to_string();
    err_case!(
        c,
        "read_collapse: not an array",
        read_collapse(&collapse),
        ReportError::CorruptFile { .. },
        [p, "neural-collapse"]
    );
    let p = blocker.display().to_string();
    let b = blocker.clone();
    err_case!(
        c,
        "write_report: out is a file",
        write_report(&render(&[], &[]).unwrap(), &b),
        ReportError::Io { .. },
        [p, "create directory"]
    );

    // Statistics.
    err_case!(c, "median: no values", median(&[]), ReportError::Stats { .. }, ["median"]);
    err_case!(c, "mean: NaN", mean(&[1.0, f64::NAN]), ReportError::Stats { .. }, ["mean"]);
    err_case!(
        c,
        "std_dev: one value with ddof 1",
        std_dev(&[1.0], 1),
        ReportError::Stats { .. },
        ["std", "ddof = 1"]
    );
    err_case!(
        c,
        "friedman: two methods",
        friedman(&[vec![1.0, 2.0], vec![2.0, 1.0]]),
        ReportError::Stats { .. },
        ["friedman", "at least 3 methods"]
    );
    err_case!(
        c,
        "friedman: ragged rows",
        friedman(&[vec![1.0, 2.0, 3.0], vec![2.0, 1.0]]),
        ReportError::Stats { .. },
        ["friedman"]
    );
    err_case!(
        c,
        "wilcoxon: lengths differ",
        wilcoxon(&[1.0, 2.0], &[1.0], WilcoxonOptions::default()),
        ReportError::Stats { .. },
        ["wilcoxon", "differ in length"]
    );

    // A library-level run on bad data writes no record.
    let root = d.join("emb");
    let train_path = reference_path(&root, "Toy", "toynet", Split::Train);
    std::fs::create_dir_all(train_path.parent().unwrap()).unwrap();
    std::fs::write(&train_path, b"truncated").unwrap();
    let out = d.join("run_out");
    let p = train_path.display().to_string();
    c.add("run_grid: corrupt embedding file", move || {
        let config = ExperimentConfig::from_yaml_str(CONFIG, "c.yaml").unwrap();
        let grid = ExperimentGrid::new(&config);
        let store = ResultStore::open(&out, false).unwrap();
        let options = RunOptions {
            embeddings_root: root.clone(),
            shard: Shard::ALL,
            lambdas: Default::default(),
            progress: false,
            sources: Default::default(),
            rng_mode: Default::default(),
        };
        expect_err(
            run_grid(&grid, &store, &options),
            |e| matches!(e, BenchError::Data { .. }),
            &[
                p.clone(),
                "loading data set 'Toy' for backbone 'toynet'".into(),
                "not a readable HDF5 file".into(),
            ],
        )?;
        match files_under(&out).as_slice() {
            [] => Ok(()),
            files => Err(format!("files written: {files:?}")),
        }
    });

    run("imprint-bench", c, BENCH_CASES);
}

// ---------------------------------------------------------------------------
// Inputs that look bad but are legal per SPEC.md.

#[test]
fn documented_behaviour() {
    let mut c = Cases::default();
    c.add("k larger than every class keeps all samples (every generator)", || {
        let x = good();
        for &name in GENERATOR_NAMES {
            let out =
                generator_by_name(name, Some(50)).map_err(|e| e.to_string())?.generate(x.view(), &mut rng());
            let out = out.map_err(|e| format!("{name}: {e}"))?;
            let want = if name == "mean" { 1 } else { 3 };
            if out.nrows() != want {
                return Err(format!("{name}: {} proxies, expected {want}", out.nrows()));
            }
        }
        Ok(())
    });
    c.add("kls with k larger than every class keeps raw samples", || {
        let (a, b) = (good(), array![[0.1f32, 1.0], [-0.1, 0.9]]);
        let w = KLeastSquaresParams::new(Some(10), 0.1).check().unwrap().fit(&[a.view(), b.view()], 1);
        let w = w.map_err(|e| e.to_string())?;
        if w[0] != a || w[1] != b {
            return Err("raw samples were not kept".into());
        }
        Ok(())
    });
    c.add("a class with one sample imprints and classifies", || {
        let imprinter = Imprinter::new(KMeansParams::new(3).check().unwrap());
        let mut head = ImprintedHead::new(2).unwrap();
        imprinter.imprint_class(&mut head, "one", array![[1.0f32, 0.0]].view()).map_err(|e| e.to_string())?;
        imprinter.imprint_class(&mut head, "many", good().view()).map_err(|e| e.to_string())?;
        let p = head.predict(array![[0.9f32, 0.05]].view()).map_err(|e| e.to_string())?;
        (head.n_proxies() == 4 && p.len() == 1).then_some(()).ok_or_else(|| format!("{head:?}"))
    });
    c.add("all-zero rows under KeepZero stay zero", || {
        let x = array![[0.0f32, 0.0], [3.0, 4.0]];
        let y = l2_normalize_rows(x.view(), ZeroVectorPolicy::KeepZero, "x").map_err(|e| e.to_string())?;
        (y == array![[0.0f32, 0.0], [0.6, 0.8]]).then_some(()).ok_or_else(|| format!("{y:?}"))
    });
    c.add("labels outside the task split are dropped", || {
        let task = TaskSpec::new("sub")
            .split(vec![2, 0])
            .build(&[source("Toy", 3, 4)])
            .map_err(|e| e.to_string())?;
        let ok = task.n_classes() == 2
            && task.class_labels() == vec![2, 0]
            && task.test_labels().iter().all(|&l| l < 2);
        ok.then_some(()).ok_or_else(|| format!("{task:?}"))
    });
    c.add("few-shot count above every class keeps every sample", || {
        let task = TaskSpec::new("t")
            .shots(FewShot::PerClass(1000))
            .build(&[source("Toy", 2, 3)])
            .map_err(|e| e.to_string())?;
        task.classes().iter().all(|c| c.n_train() == 6).then_some(()).ok_or_else(|| "samples dropped".into())
    });
    c.add("m larger than the number of proxies is capped", || {
        let mut head = two_class_head();
        head.set_aggregation(Aggregation::mnn(1000, Distance::Euclidean, Weighting::Uniform).unwrap());
        let s = head.scores(good().view()).map_err(|e| e.to_string())?;
        s.rows().into_iter().all(|r| r.sum() == 3.0).then_some(()).ok_or_else(|| format!("{s:?}"))
    });
    c.add("zero queries give zero score rows", || {
        let s = two_class_head().scores(Array2::<f32>::zeros((0, 2)).view()).map_err(|e| e.to_string())?;
        (s.dim() == (0, 2)).then_some(()).ok_or_else(|| format!("{s:?}"))
    });
    run("documented behaviour", c, DOCUMENTED_CASES);
}

#[test]
fn library_case_count_is_stable() {
    // The number reported in issue 5's closing note.
    assert_eq!(LIBRARY_CASES, 277);
}
