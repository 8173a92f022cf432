//! Helpers shared by the command-line tests: running the built binary,
//! the bundled data, and fixture files written at test time.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use imprint_data::{Embeddings, WriteOptions, write_embeddings};
use ndarray::Array2;

/// The finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `imprint` with `args` in `dir`.
pub fn imprint_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_imprint"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the imprint binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `imprint` and asserts that it succeeded.
pub fn ok<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Run {
    let run = imprint_in(dir, args);
    assert!(
        run.ok(),
        "imprint {:?} failed ({:?}):\n{}",
        args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect::<Vec<_>>(),
        run.code,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// `s` as an argument.
pub fn s(p: impl AsRef<Path>) -> String {
    p.as_ref().display().to_string()
}

/// A bundled embedding file: `data/embeddings/{dataset}/efficientnet_lite0/{split}/...`.
pub fn bundled(dataset: &str, split: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/embeddings")
        .join(dataset)
        .join("efficientnet_lite0")
        .join(split)
        .join(format!("embeddings_{dataset}_efficientnet_lite0_{split}.h5"))
}

/// The root of the bundled embeddings (`ROOT/embeddings/...`).
pub fn bundled_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// An h5py-made fixture of imprint-data's tests.
pub fn h5_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../imprint-data/tests/fixtures").join(name)
}

/// Reads a bundled (or any) embedding file.
pub fn read(path: &Path) -> (Array2<f32>, Vec<usize>) {
    imprint_data::read_embeddings(path).unwrap().into_parts()
}

/// Writes an HDF5 embedding file in the reference layout.
pub fn write_h5(path: &Path, x: &Array2<f32>, y: &[usize]) {
    let data = Embeddings::new(x.clone(), y.to_vec()).unwrap();
    write_embeddings(path, &data, &WriteOptions::new().overwrite(true)).unwrap();
}

/// The rows of `path` whose label is in `keep`, written to `out` (HDF5).
pub fn subset(path: &Path, keep: &[usize], out: &Path) -> usize {
    let (x, y) = read(path);
    let rows: Vec<usize> = (0..y.len()).filter(|&i| keep.contains(&y[i])).collect();
    let x = x.select(ndarray::Axis(0), &rows);
    let y: Vec<usize> = rows.iter().map(|&i| y[i]).collect();
    write_h5(out, &x, &y);
    rows.len()
}

/// `n_per` rows per class around `n_classes` separated centres in `dim`
/// features, with deterministic jitter.
pub fn toy(n_classes: usize, n_per: usize, dim: usize) -> (Array2<f32>, Vec<usize>) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 1000) as f32 / 1000.0 - 0.5
    };
    let n = n_classes * n_per;
    let mut x = Array2::zeros((n, dim));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i / n_per;
        for j in 0..dim {
            x[[i, j]] = if j % n_classes == c { 2.0 } else { 0.0 } + 0.3 * noise();
        }
        y.push(c);
    }
    (x, y)
}

/// NumPy's `.npy` header for `descr` and `shape`, padded to 64 bytes.
pub fn npy_header(descr: &str, fortran: bool, shape: &[usize]) -> Vec<u8> {
    let shape = match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    };
    let py_bool = if fortran { "True" } else { "False" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': {py_bool}, 'shape': {shape}, }}");
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h.as_bytes());
    out
}

/// Writes a float32 C-order `.npy` matrix.
pub fn write_npy(path: &Path, x: &Array2<f32>) {
    let mut bytes = npy_header("<f4", false, &[x.nrows(), x.ncols()]);
    bytes.extend(x.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// Writes a float64 Fortran-order `.npy` matrix.
pub fn write_npy_f64_fortran(path: &Path, x: &Array2<f32>) {
    let mut bytes = npy_header("<f8", true, &[x.nrows(), x.ncols()]);
    bytes.extend(x.t().iter().flat_map(|&v| f64::from(v).to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// Writes int64 labels as `.npy`.
pub fn write_npy_labels(path: &Path, y: &[i64]) {
    let mut bytes = npy_header("<i8", false, &[y.len()]);
    bytes.extend(y.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// Writes a CSV file with columns `f0..`, and a `label` column when `labels` are given.
pub fn write_csv(path: &Path, x: &Array2<f32>, labels: Option<&[String]>) {
    let mut text = (0..x.ncols()).map(|j| format!("f{j}")).collect::<Vec<_>>().join(",");
    if labels.is_some() {
        text.push_str(",label");
    }
    text.push('\n');
    for (i, row) in x.outer_iter().enumerate() {
        text.push_str(&row.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","));
        if let Some(l) = labels {
            text.push(',');
            text.push_str(&l[i]);
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Writes labels one per line.
pub fn write_txt_labels(path: &Path, labels: &[String]) {
    let mut text = labels.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// Every file under `dir` with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(p, bytes);
            }
        }
    }
    out
}

/// Parses the JSON printed by `--json`.
pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}
