//! Bad input to the `imprint` binary, run as a user runs it. Every case must
//! exit non-zero (1 for bad input, 2 for usage errors) with one line on
//! stderr, `error: ...`, that names the file (or argument) and the problem;
//! print nothing on stdout; never panic; and leave every file in its folder
//! exactly as it was: no output written, an existing head unchanged, no
//! temporary file left behind.
//!
//! Each case is a named check in a table; the test asserts how many ran.

#![allow(clippy::unwrap_used)] // test code: a failure should stop the test loudly

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use common::*;

/// Cases per test; their sum is the command line's bad-input count.
const INPUT_CASES: usize = 38;
const ARGUMENT_CASES: usize = 16;
const HEAD_CASES: usize = 26;

type Check = Box<dyn Fn(&Path) -> Result<(), String>>;

#[derive(Default)]
struct Cases(Vec<(String, Check)>);

impl Cases {
    fn add(&mut self, name: impl Into<String>, check: impl Fn(&Path) -> Result<(), String> + 'static) {
        self.0.push((name.into(), Box::new(check)));
    }
}

/// Runs every case in a fresh folder, catching panics of the checks.
fn run(area: &str, cases: Cases, expected: usize) {
    let mut failures = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (name, check) in &cases.0 {
        assert!(names.insert(name.clone()), "{area}: duplicate case {name:?}");
        let dir = tempfile::tempdir().unwrap();
        match catch_unwind(AssertUnwindSafe(|| check(dir.path()))) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("  {name}: {why}")),
            Err(_) => failures.push(format!("  {name}: the check panicked")),
        }
    }
    assert!(
        failures.is_empty(),
        "{area}: {} of {} cases failed:\n{}",
        failures.len(),
        cases.0.len(),
        failures.join("\n")
    );
    assert_eq!(cases.0.len(), expected, "{area}: the number of cases changed; update the constant");
}

/// Runs `args` in `dir` and checks the failure: exit `code`, one `error:`
/// line containing every needle (clap's own usage errors span several lines:
/// then only the first is checked), empty stdout, no panic, and `dir`
/// unchanged.
fn fails(dir: &Path, args: &[String], code: i32, needles: &[&str]) -> Result<(), String> {
    let before = snapshot(dir);
    let run = imprint_in(dir, args);
    let after = snapshot(dir);
    if run.code != Some(code) {
        return Err(format!("exit code {:?}, expected {code}; stderr: {}", run.code, run.stderr));
    }
    if run.stderr.contains("panicked") || run.stderr.contains("RUST_BACKTRACE") {
        return Err(format!("panic text: {}", run.stderr));
    }
    let text = run.stderr.trim_end();
    let first = text.lines().next().unwrap_or("");
    if !first.starts_with("error: ") {
        return Err(format!("stderr does not start with 'error: ': {text:?}"));
    }
    let clap_usage = text.contains("\nUsage: ") || text.contains("For more information, try '--help'");
    if !clap_usage && text.lines().count() != 1 {
        return Err(format!("the message is not one line: {text:?}"));
    }
    let searched = if clap_usage { text } else { first };
    for needle in needles {
        if !searched.contains(needle) {
            return Err(format!("{needle:?} not in {searched:?}"));
        }
    }
    if !run.stdout.is_empty() {
        return Err(format!("stdout is not empty: {:?}", run.stdout));
    }
    if before != after {
        let changed: Vec<_> = after
            .keys()
            .chain(before.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| k.display().to_string())
            .collect();
        return Err(format!("files changed: {changed:?}"));
    }
    Ok(())
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// A small valid training file (3 classes x 12 rows, 6 features) in `dir`.
fn toy_train(dir: &Path) -> PathBuf {
    let (x, y) = toy(3, 12, 6);
    let path = dir.join("train.h5");
    write_h5(&path, &x, &y);
    path
}

/// A head fitted on [`toy_train`] (`extra` fit arguments), at `dir/head.safetensors`.
fn toy_head(dir: &Path, extra: &[&str]) -> PathBuf {
    let train = toy_train(dir);
    let head = dir.join("head.safetensors");
    let mut a = args(&["fit", "--train", &s(&train), "--out", &s(&head)]);
    a.extend(args(extra));
    ok(dir, &a);
    head
}

/// `fit --train FILE --out dir/out.safetensors` (plus `extra`) fails with `needles`.
fn fit_fails(dir: &Path, file: &Path, extra: &[&str], code: i32, needles: &[&str]) -> Result<(), String> {
    let mut a = args(&["fit", "--train", &s(file), "--out", &s(dir.join("out.safetensors"))]);
    a.extend(args(extra));
    fails(dir, &a, code, needles)
}

/// Writes `bytes` to `dir/name` and returns the path.
fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A valid float32 `.npy` of `rows x cols`.
fn npy_bytes(rows: usize, cols: usize) -> Vec<u8> {
    let mut b = npy_header("<f4", false, &[rows, cols]);
    b.extend((0..rows * cols).flat_map(|i| (i as f32 * 0.1 + 1.0).to_le_bytes()));
    b
}

#[test]
fn bad_input_files() {
    let mut c = Cases::default();
    c.add("missing file", |d| fit_fails(d, &d.join("nope.h5"), &[], 1, &["nope.h5", "file not found"]));
    c.add("a directory", |d| {
        std::fs::create_dir(d.join("folder.h5")).unwrap();
        fit_fails(d, &d.join("folder.h5"), &[], 1, &["folder.h5", "is a directory"])
    });
    c.add("empty HDF5 file", |d| {
        let f = file(d, "empty.h5", b"");
        fit_fails(d, &f, &[], 1, &["empty.h5", "file is empty"])
    });
    c.add("truncated HDF5 file", |d| {
        let bytes = std::fs::read(bundled("Digits", "test")).unwrap();
        let f = file(d, "cut.h5", &bytes[..bytes.len() / 2]);
        fit_fails(d, &f, &[], 1, &["cut.h5", "not a readable HDF5 file"])
    });
    c.add("HDF5 file with a corrupt superblock", |d| {
        let mut bytes = std::fs::read(bundled("Digits", "test")).unwrap();
        bytes[0..8].copy_from_slice(b"NOTHDF5!");
        let f = file(d, "bad.h5", &bytes);
        fit_fails(d, &f, &[], 1, &["bad.h5", "not a readable HDF5 file"])
    });
    c.add("text in an .h5 file", |d| {
        let f = file(d, "text.h5", b"1.0,2.0\n3.0,4.0\n");
        fit_fails(d, &f, &[], 1, &["text.h5", "not a readable HDF5 file"])
    });
    for (name, needles) in [
        ("embeddings_f64.h5", &["embeddings_f64.h5", "`embeddings`", "f64", "expected f32"][..]),
        ("embeddings_rank3.h5", &["`embeddings`", "expected rank 2"][..]),
        ("labels_float.h5", &["`labels`", "integer"][..]),
        ("labels_rank2.h5", &["`labels`", "expected rank 1"][..]),
        ("length_mismatch.h5", &["12 embedding rows but 10 labels"][..]),
        ("nan_row.h5", &["nan_row.h5", "non-finite value NaN", "row 3", "column 2"][..]),
        ("inf_row.h5", &["non-finite value -inf", "row 8", "column 4"][..]),
        ("negative_label.h5", &["label -1", "row 4"][..]),
        ("zero_rows.h5", &["no samples (zero rows)"][..]),
    ] {
        c.add(format!("HDF5 {name}"), move |d| {
            let f = d.join(name);
            std::fs::copy(h5_fixture(name), &f).unwrap();
            fit_fails(d, &f, &[], 1, needles)
        });
    }
    c.add("npy of integers", |d| {
        let mut b = npy_header("<i8", false, &[2, 2]);
        b.extend([0u8; 32]);
        let f = file(d, "ints.npy", &b);
        fit_fails(d, &f, &["--labels", "y.txt"], 1, &["ints.npy", "'<i8' is not supported for embeddings"])
    });
    c.add("npy of rank 1", |d| {
        let mut b = npy_header("<f4", false, &[3]);
        b.extend([0u8; 12]);
        let f = file(d, "vec.npy", &b);
        fit_fails(d, &f, &[], 1, &["vec.npy", "(3,) is not a matrix", "expected rank 2"])
    });
    c.add("npy of rank 3", |d| {
        let mut b = npy_header("<f4", false, &[2, 2, 2]);
        b.extend([0u8; 32]);
        let f = file(d, "cube.npy", &b);
        fit_fails(d, &f, &[], 1, &["cube.npy", "(2, 2, 2) is not a matrix"])
    });
    c.add("truncated npy", |d| {
        let b = npy_bytes(4, 3);
        let f = file(d, "cut.npy", &b[..b.len() - 5]);
        fit_fails(d, &f, &[], 1, &["cut.npy", "truncated", "needs 48 bytes"])
    });
    c.add("npy with NaN", |d| {
        let mut b = npy_header("<f4", false, &[4, 6]);
        b.extend((0..24).flat_map(|i| if i == 2 * 6 + 5 { f32::NAN } else { 1.0 }.to_le_bytes()));
        let f = file(d, "nan.npy", &b);
        let y = file(d, "y.txt", b"0\n0\n1\n1\n");
        fit_fails(d, &f, &["--labels", &s(y)], 1, &["nan.npy", "non-finite value NaN at row 2, column 5"])
    });
    c.add("npy with +inf in float64", |d| {
        let mut b = npy_header("<f8", false, &[2, 2]);
        b.extend([1.0f64, 2.0, f64::INFINITY, 4.0].iter().flat_map(|v| v.to_le_bytes()));
        let f = file(d, "inf.npy", &b);
        let y = file(d, "y.txt", b"0\n1\n");
        fit_fails(d, &f, &["--labels", &s(y)], 1, &["inf.npy", "non-finite value inf at row 1, column 0"])
    });
    c.add("not a npy despite the extension", |d| {
        let f = file(d, "fake.npy", b"PK\x03\x04 a zip archive, maybe an npz");
        fit_fails(d, &f, &[], 1, &["fake.npy", "not a .npy file"])
    });
    c.add("npy without labels", |d| {
        let f = file(d, "x.npy", &npy_bytes(4, 3));
        fit_fails(d, &f, &[], 1, &["x.npy", "has no labels", "--labels"])
    });
    c.add("label file longer than the rows", |d| {
        let f = file(d, "x.npy", &npy_bytes(4, 3));
        let y = file(d, "y.txt", b"0\n0\n1\n1\n1\n");
        fit_fails(d, &f, &["--labels", &s(&y)], 1, &["y.txt", "5 labels, but", "x.npy has 4 rows"])
    });
    c.add("npy label file shorter than the rows", |d| {
        let f = file(d, "x.npy", &npy_bytes(4, 3));
        let y = d.join("y.npy");
        write_npy_labels(&y, &[0, 1, 1]);
        fit_fails(d, &f, &["--labels", &s(&y)], 1, &["y.npy", "3 labels, but", "has 4 rows"])
    });
    c.add("label file with an empty line", |d| {
        let f = file(d, "x.npy", &npy_bytes(4, 3));
        let y = file(d, "y.txt", b"0\n\n1\n1\n");
        fit_fails(d, &f, &["--labels", &s(&y)], 1, &["y.txt", "line 2 is empty"])
    });
    c.add("float labels in npy", |d| {
        let f = file(d, "x.npy", &npy_bytes(2, 3));
        let mut b = npy_header("<f4", false, &[2]);
        b.extend([0u8; 8]);
        let y = file(d, "y.npy", &b);
        fit_fails(d, &f, &["--labels", &s(&y)], 1, &["y.npy", "'<f4' are not supported", "expected integers"])
    });
    c.add("missing label file", |d| {
        let f = file(d, "x.npy", &npy_bytes(2, 3));
        fit_fails(d, &f, &["--labels", "nowhere.txt"], 1, &["nowhere.txt", "file not found"])
    });
    c.add("CSV cell that is not a number", |d| {
        let f = file(d, "t.csv", b"a,b,label\n1,2,x\n3,abc,y\n");
        fit_fails(d, &f, &[], 1, &["t.csv", "row 1 (line 3), column 1 ('b'): 'abc' is not a number"])
    });
    c.add("CSV with NaN", |d| {
        let f = file(d, "t.csv", b"a,b,label\n1,2,x\n3,4,y\nnan,1,x\n");
        fit_fails(d, &f, &[], 1, &["t.csv", "non-finite value NaN at row 2 (line 4), column 0 ('a')"])
    });
    c.add("CSV with a short row", |d| {
        let f = file(d, "t.csv", b"a,b,label\n1,2,x\n3,y\n");
        fit_fails(d, &f, &[], 1, &["t.csv", "line 3 has 2 fields but the header has 3"])
    });
    c.add("CSV without a label column", |d| {
        let f = file(d, "t.csv", b"a,b\n1,2\n3,4\n");
        fit_fails(d, &f, &[], 1, &["t.csv", "no labels", "add a 'label' column"])
    });
    c.add("CSV with only a header", |d| {
        let f = file(d, "t.csv", b"a,b,label\n");
        fit_fails(d, &f, &[], 1, &["t.csv", "no rows"])
    });
    c.add("unknown input format", |d| {
        let f = file(d, "data.txt", b"1 2 3\n");
        fit_fails(d, &f, &[], 1, &["data.txt", "unknown input format"])
    });
    c.add("--classes that selects no row", |d| {
        let t = toy_train(d);
        fit_fails(d, &t, &["--classes", "5-9"], 1, &["train.h5", "no row has a label in --classes 5-9"])
    });
    c.add("--classes on rows without labels", |d| {
        let head = toy_head(d, &[]);
        let u = file(d, "u.npy", &npy_bytes(3, 6));
        let t = d.join("train.h5");
        let a = args(&[
            "eval",
            "--head",
            &s(head),
            "--test",
            &s(t),
            "--unknown",
            &s(u),
            "--unknown-classes",
            "1",
        ]);
        fails(d, &a, 1, &["u.npy", "--unknown-classes 1 selects rows by label, but the file has no labels"])
    });
    c.add("--classes with an empty range (clap)", |d| {
        let t = toy_train(d);
        fit_fails(d, &t, &["--classes", "4-2"], 2, &["range 4-2 is empty"])
    });
    c.add("all-zero row under L2 normalization", |d| {
        let f = file(d, "t.csv", b"a,b,label\n1,2,x\n3,4,y\n0,0,x\n");
        fit_fails(d, &f, &[], 1, &["t.csv", "row 2 is an all-zero vector", "--zero-vectors keep"])
    });
    run("input files", c, INPUT_CASES);
}

#[test]
fn bad_arguments() {
    let mut c = Cases::default();
    c.add("unknown generator", |d| {
        let t = toy_train(d);
        fit_fails(
            d,
            &t,
            &["--generator", "lmeans"],
            2,
            &["unknown proxy generator 'lmeans'", "kmeans", "cov_max"],
        )
    });
    c.add("k = 0", |d| fit_fails(d, &toy_train(d), &["--k", "0"], 2, &["--k 0", "positive"]));
    c.add("k for mean", |d| {
        fit_fails(d, &toy_train(d), &["--generator", "mean", "--k", "5"], 2, &["--k 5", "one proxy"])
    });
    c.add("mnn without m", |d| fit_fails(d, &toy_train(d), &["--aggregation", "mnn"], 2, &["needs --m"]));
    c.add("m with max", |d| {
        fit_fails(d, &toy_train(d), &["--m", "3"], 2, &["--m 3", "only --aggregation mnn"])
    });
    c.add("m = 0", |d| fit_fails(d, &toy_train(d), &["--aggregation", "mnn", "--m", "0"], 2, &["--m 0"]));
    c.add("weighting with max", |d| {
        fit_fails(d, &toy_train(d), &["--weighting", "weighted_by_distance"], 2, &["only --aggregation mnn"])
    });
    c.add("ls without lambda", |d| {
        fit_fails(d, &toy_train(d), &["--generator", "ls"], 2, &["needs --lambda"])
    });
    c.add("lambda with kmeans", |d| {
        fit_fails(d, &toy_train(d), &["--lambda", "0.1"], 2, &["only ls and kls"])
    });
    c.add("negative lambda", |d| {
        fit_fails(
            d,
            &toy_train(d),
            &["--generator", "ls", "--lambda", "-1"],
            2,
            &["--generator ls", "lambda"],
        )
    });
    c.add("target TPR above 1", |d| {
        fit_fails(d, &toy_train(d), &["--target-tpr", "1.5"], 2, &["--target-tpr 1.5"])
    });
    c.add("one fold", |d| fit_fails(d, &toy_train(d), &["--folds", "1"], 2, &["--folds 1"]));
    c.add("unknown norm (clap)", |d| {
        fit_fails(d, &toy_train(d), &["--pre-norm", "l3"], 2, &["'l3'", "--pre-norm"])
    });
    c.add("unknown distance (clap)", |d| {
        fit_fails(d, &toy_train(d), &["--distance", "cosh"], 2, &["'cosh'"])
    });
    c.add("fit without --out (clap)", |d| {
        let t = toy_train(d);
        fails(d, &args(&["fit", "--train", &s(t)]), 2, &["--out"])
    });
    c.add("calibrate --no-temperature without --rejection (clap)", |d| {
        let head = toy_head(d, &[]);
        let t = d.join("train.h5");
        fails(
            d,
            &args(&["calibrate", "--head", &s(head), "--val", &s(t), "--no-temperature"]),
            2,
            &["--rejection"],
        )
    });
    run("arguments", c, ARGUMENT_CASES);
}

#[test]
fn bad_heads_dimensions_labels_and_outputs() {
    let mut c = Cases::default();
    // Head files.
    c.add("predict with a missing head", |d| {
        let t = toy_train(d);
        fails(
            d,
            &args(&["predict", "--head", "gone.safetensors", "--input", &s(t)]),
            1,
            &["gone.safetensors", "file not found"],
        )
    });
    c.add("head of random bytes", |d| {
        let h = file(d, "noise.safetensors", &[7u8; 300]);
        fails(d, &args(&["inspect", &s(h)]), 1, &["noise.safetensors", "saved head", "neither safetensors"])
    });
    c.add("truncated head", |d| {
        let head = toy_head(d, &[]);
        let bytes = std::fs::read(&head).unwrap();
        let h = file(d, "cut.safetensors", &bytes[..bytes.len() - 100]);
        fails(d, &args(&["inspect", &s(h)]), 1, &["cut.safetensors", "saved head"])
    });
    c.add("empty head", |d| {
        let h = file(d, "empty.safetensors", b"");
        fails(d, &args(&["inspect", &s(h)]), 1, &["empty.safetensors", "file is empty"])
    });
    c.add("head of another format version", |d| {
        let head = d.join("h.json");
        let t = toy_train(d);
        ok(d, &args(&["fit", "--train", &s(t), "--out", &s(&head)]));
        let text = std::fs::read_to_string(&head).unwrap().replacen("\"version\":2", "\"version\":99", 1);
        std::fs::write(&head, text).unwrap();
        fails(d, &args(&["inspect", &s(&head)]), 1, &["h.json", "format version 99 is not supported"])
    });
    c.add("JSON head that is not JSON", |d| {
        let h = file(d, "h.json", b"{\"format\": ");
        fails(d, &args(&["inspect", &s(h)]), 1, &["h.json", "not a valid JSON head"])
    });
    c.add("an embedding file given as the head", |d| {
        let t = toy_train(d);
        fails(d, &args(&["predict", "--head", &s(&t), "--input", &s(&t)]), 1, &["train.h5", "saved head"])
    });
    // Dimensions.
    c.add("predict rows of another dimension", |d| {
        let head = toy_head(d, &[]);
        let q = file(d, "q.npy", &npy_bytes(3, 5));
        fails(
            d,
            &args(&["predict", "--head", &s(head), "--input", &s(q)]),
            1,
            &["q.npy", "dimension 5", "head.safetensors has dimension 6"],
        )
    });
    c.add("eval on the bundled data with a toy head", |d| {
        let head = toy_head(d, &[]);
        let test = bundled("Digits", "test");
        fails(
            d,
            &args(&["eval", "--head", &s(head), "--test", &s(test)]),
            1,
            &["embeddings_Digits", "dimension 1280", "has dimension 6"],
        )
    });
    c.add("eval --unknown of another dimension", |d| {
        let head = toy_head(d, &[]);
        let t = d.join("train.h5");
        let u = file(d, "u.npy", &npy_bytes(3, 4));
        fails(
            d,
            &args(&["eval", "--head", &s(head), "--test", &s(t), "--unknown", &s(u)]),
            1,
            &["u.npy", "dimension 4"],
        )
    });
    c.add("add rows of another dimension (head unchanged)", |d| {
        let head = toy_head(d, &[]);
        let f = file(d, "more.csv", b"a,b,label\n1,2,0\n");
        fails(d, &args(&["add", "--head", &s(head), "--train", &s(f)]), 1, &["more.csv", "dimension 2"])
    });
    c.add("calibrate rows of another dimension", |d| {
        let head = toy_head(d, &[]);
        let f = file(d, "val.csv", b"a,b,label\n1,2,0\n");
        fails(d, &args(&["calibrate", "--head", &s(head), "--val", &s(f)]), 1, &["val.csv", "dimension 2"])
    });
    // Labels.
    c.add("eval label that is not a class", |d| {
        let head = toy_head(d, &[]);
        let (x, _) = toy(3, 2, 6);
        let t = d.join("t.h5");
        write_h5(&t, &x, &[0, 1, 2, 7, 0, 1]);
        fails(
            d,
            &args(&["eval", "--head", &s(head), "--test", &s(t)]),
            1,
            &["t.h5", "label 7 at row 3 is not a class", "--unknown"],
        )
    });
    c.add("eval without labels", |d| {
        let head = toy_head(d, &[]);
        let q = file(d, "q.npy", &npy_bytes(3, 6));
        fails(d, &args(&["eval", "--head", &s(head), "--test", &s(q)]), 1, &["q.npy", "has no labels"])
    });
    c.add("add string labels to an integer head (head unchanged)", |d| {
        let head = toy_head(d, &[]);
        let (x, _) = toy(1, 2, 6);
        let f = d.join("cats.csv");
        write_csv(&f, &x, Some(&["cat".to_string(), "cat".to_string()]));
        fails(
            d,
            &args(&["add", "--head", &s(head), "--train", &s(f)]),
            1,
            &["cats.csv", "mix integer and string labels"],
        )
    });
    c.add("add an all-zero row (head unchanged)", |d| {
        let head = toy_head(d, &[]);
        let f = file(d, "z.csv", b"a,b,c,d,e,f,label\n0,0,0,0,0,0,5\n");
        fails(
            d,
            &args(&["add", "--head", &s(head), "--train", &s(f)]),
            1,
            &["z.csv", "row 0 is an all-zero vector"],
        )
    });
    c.add("calibrate with a label that is not a class (head unchanged)", |d| {
        let head = toy_head(d, &[]);
        let (x, _) = toy(3, 2, 6);
        let v = d.join("v.h5");
        write_h5(&v, &x, &[0, 1, 2, 0, 1, 9]);
        fails(d, &args(&["calibrate", "--head", &s(head), "--val", &s(v)]), 1, &["v.h5", "label 9 at row 5"])
    });
    c.add("HDF5 with --labels (usage)", |d| {
        let t = toy_train(d);
        let y = file(d, "y.txt", b"0\n");
        fit_fails(d, &t, &["--labels", &s(y)], 2, &["--labels", "HDF5 file, which carries its own labels"])
    });
    c.add("CSV label column and --labels (usage)", |d| {
        let f = file(d, "t.csv", b"a,label\n1,x\n");
        let y = file(d, "y.txt", b"x\n");
        fit_fails(d, &f, &["--labels", &s(y)], 2, &["t.csv already has a 'label' column"])
    });
    // Rejection and outputs.
    c.add("predict --reject without thresholds", |d| {
        let head = toy_head(d, &["--no-reject-calibration"]);
        let t = d.join("train.h5");
        fails(
            d,
            &args(&["predict", "--head", &s(head), "--input", &s(t), "--reject"]),
            1,
            &["head.safetensors", "no rejection thresholds", "imprint calibrate"],
        )
    });
    c.add("predict --reject with a class named unknown", |d| {
        let (x, _) = toy(2, 4, 3);
        let f = d.join("t.csv");
        let labels: Vec<String> = ["unknown", "cat"].iter().flat_map(|l| vec![l.to_string(); 4]).collect();
        write_csv(&f, &x, Some(&labels));
        let head = d.join("h.safetensors");
        ok(d, &args(&["fit", "--train", &s(&f), "--out", &s(&head), "--generator", "mean"]));
        fails(
            d,
            &args(&["predict", "--head", &s(head), "--input", &s(f), "--reject"]),
            2,
            &["class labelled 'unknown'", "--unknown-label"],
        )
    });
    c.add("predict --top-k 0", |d| {
        let head = toy_head(d, &[]);
        let t = d.join("train.h5");
        fails(d, &args(&["predict", "--head", &s(head), "--input", &s(t), "--top-k", "0"]), 2, &["--top-k 0"])
    });
    c.add("fit --out onto an existing head", |d| {
        let head = toy_head(d, &[]);
        let t = d.join("train.h5");
        fails(
            d,
            &args(&["fit", "--train", &s(t), "--out", &s(&head), "--generator", "mean"]),
            1,
            &["head.safetensors", "already exists", "--force"],
        )
    });
    c.add("predict --out onto an existing file", |d| {
        let head = toy_head(d, &[]);
        let t = d.join("train.h5");
        let out = file(d, "mine.csv", b"precious\n");
        fails(
            d,
            &args(&["predict", "--head", &s(head), "--input", &s(t), "--out", &s(out)]),
            1,
            &["mine.csv", "already exists"],
        )
    });
    c.add("add --out onto an existing file", |d| {
        let head = toy_head(d, &[]);
        let t = d.join("train.h5");
        let out = file(d, "other.safetensors", b"precious");
        fails(
            d,
            &args(&["add", "--head", &s(head), "--train", &s(t), "--out", &s(out)]),
            1,
            &["other.safetensors", "already exists"],
        )
    });
    c.add("add to a missing head", |d| {
        let t = toy_train(d);
        fails(
            d,
            &args(&["add", "--head", "none.safetensors", "--train", &s(t)]),
            1,
            &["none.safetensors", "file not found"],
        )
    });
    run("heads, dimensions, labels and outputs", c, HEAD_CASES);
}
