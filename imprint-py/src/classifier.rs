//! `_Classifier`: an [`imprint::Classifier`] held by Python.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use imprint::{ClassLabel, Classifier, HeadEncoding};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyOSError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::convert::{IntoPy, RecipeArgs, class_codes, keys_from_py, label_to_py, recipe_to_py, row_labels};

/// Predicted class indices and knownness per row.
type Knownness<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f32>>);

/// An imprinted classifier head (the library's `Classifier`); the Python
/// estimator `ImprintClassifier` wraps one.
///
/// Labels cross as class keys (Python `int` or `str`) plus one integer code
/// per row that indexes them; class indices come back as `int64` arrays in
/// the head's class order (`classes()`).
///
/// A `_Classifier` never changes once made: `fit`, `partial_fit` and the
/// calibrations return a new one. Any number of threads may therefore use
/// one at once (every method takes `&self`; there is no borrow to conflict
/// and no lock), and a caller that swaps whole heads, as `ImprintClassifier`
/// does, never lets a reader see a head half updated.
#[pyclass(name = "_Classifier", module = "imprint_rs._core", frozen)]
pub(crate) struct PyClassifier {
    inner: Classifier,
}

#[pymethods]
impl PyClassifier {
    /// An empty head for `dim`-dimensional embeddings with the given recipe
    /// (names as in the reference's configuration files).
    #[new]
    #[pyo3(signature = (*, generator, k, ridge, pre_norm, post_norm, input_norm, aggregation, m, distance, weighting, seed, zero_vectors, rng, dim))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        generator: &str,
        k: Option<usize>,
        ridge: Option<f64>,
        pre_norm: &str,
        post_norm: &str,
        input_norm: &str,
        aggregation: &str,
        m: Option<usize>,
        distance: &str,
        weighting: &str,
        seed: u64,
        zero_vectors: &str,
        rng: &str,
        dim: usize,
    ) -> PyResult<Self> {
        let recipe = RecipeArgs {
            generator,
            k,
            ridge,
            pre_norm,
            post_norm,
            input_norm,
            aggregation,
            m,
            distance,
            weighting,
            seed,
            zero_vectors,
            rng,
        }
        .recipe()
        .py_err()?;
        Ok(Self { inner: Classifier::new(recipe, dim).py_err()? })
    }

    /// A new head imprinted from `x` (rows), row `i` a shot of class
    /// `keys[codes[i]]`, classes in the order of `keys`
    /// (`Classifier::fit_indexed`; with sorted keys, `Classifier::fit`), with
    /// this head's recipe. This head is unchanged.
    fn fit(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        codes: PyReadonlyArray1<'_, i64>,
        keys: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let keys = keys_from_py(keys)?;
        let codes = class_codes(&codes)?;
        let x = x.as_array();
        let recipe = self.inner.recipe().clone();
        let inner = py.detach(|| Classifier::fit_indexed(recipe, x, &codes, &keys)).py_err()?;
        Ok(Self { inner })
    }

    /// A new head with rows added: new labels become new classes (ascending
    /// order, appended), rows of known labels are added to their class with
    /// exact updates (`Classifier::partial_fit`). This head is unchanged.
    fn partial_fit(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        codes: PyReadonlyArray1<'_, i64>,
        keys: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let y = row_labels(&codes, &keys_from_py(keys)?)?;
        let x = x.as_array();
        let inner = py
            .detach(|| {
                let mut updated = self.inner.clone();
                updated.partial_fit(x, &y).map(|()| updated)
            })
            .py_err()?;
        Ok(Self { inner })
    }

    /// A new head with per-class rejection thresholds calibrated from
    /// labelled rows of known classes (`Classifier::calibrate_rejection`).
    /// This head is unchanged.
    fn calibrate_rejection(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        codes: PyReadonlyArray1<'_, i64>,
        keys: &Bound<'_, PyAny>,
        target_tpr: f64,
        folds: usize,
    ) -> PyResult<Self> {
        let y = row_labels(&codes, &keys_from_py(keys)?)?;
        let x = x.as_array();
        let inner = py
            .detach(|| {
                let mut updated = self.inner.clone();
                updated.calibrate_rejection(x, &y, target_tpr, folds).map(|()| updated)
            })
            .py_err()?;
        Ok(Self { inner })
    }

    /// A new head with the softmax temperature calibrated on labelled rows,
    /// and the report as a dict (temperature, NLL and ECE before and after).
    /// This head is unchanged.
    fn calibrate_temperature<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f32>,
        codes: PyReadonlyArray1<'_, i64>,
        keys: &Bound<'_, PyAny>,
    ) -> PyResult<(Self, Bound<'py, PyDict>)> {
        let y = row_labels(&codes, &keys_from_py(keys)?)?;
        let x = x.as_array();
        let (inner, report) = py
            .detach(|| {
                let mut updated = self.inner.clone();
                updated.calibrate_temperature(x, &y).map(|report| (updated, report))
            })
            .py_err()?;
        let d = PyDict::new(py);
        d.set_item("temperature", report.temperature)?;
        d.set_item("nll_before", report.nll_before)?;
        d.set_item("nll_after", report.nll_after)?;
        d.set_item("ece_before", report.ece_before)?;
        d.set_item("ece_after", report.ece_after)?;
        d.set_item("n", report.n)?;
        Ok((Self { inner }, d))
    }

    /// Class scores, `n x n_classes` float32, higher is better.
    fn scores<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let x = x.as_array();
        let inner = &self.inner;
        let s = py.detach(|| inner.scores(x)).py_err()?;
        Ok(PyArray2::from_owned_array(py, s))
    }

    /// Class probabilities, `n x n_classes` float32 (softmax of the scores
    /// over the calibrated temperature).
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let x = x.as_array();
        let inner = &self.inner;
        let p = py.detach(|| inner.predict_proba(x)).py_err()?;
        Ok(PyArray2::from_owned_array(py, p))
    }

    /// Predicted class index per row (ties to the lowest index).
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f32>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let x = x.as_array();
        let inner = &self.inner;
        let idx = py.detach(|| inner.predict_indices(x).map(|v| v.into_iter().map(index_i64).collect()));
        Ok(PyArray1::from_vec(py, idx.py_err()?))
    }

    /// Predicted class index per row, `-1` where the row is rejected as
    /// unknown (`Classifier::predict_open`; needs calibrated rejection).
    fn predict_open<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f32>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let x = x.as_array();
        let inner = &self.inner;
        let idx = py.detach(|| -> imprint::Result<Vec<i64>> {
            let index: HashMap<&ClassLabel, usize> =
                inner.classes().iter().enumerate().map(|(c, l)| (l, c)).collect();
            Ok(inner
                .predict_open(x)?
                .iter()
                .map(|label| label.as_ref().and_then(|l| index.get(l)).map_or(-1, |&c| index_i64(c)))
                .collect())
        });
        Ok(PyArray1::from_vec(py, idx.py_err()?))
    }

    /// The predicted class index of each row and its similarity to that
    /// class's nearest proxy (the knownness that rejection thresholds).
    fn knownness<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'_, f32>) -> PyResult<Knownness<'py>> {
        let x = x.as_array();
        let inner = &self.inner;
        let (idx, known) = py.detach(|| inner.knownness(x)).py_err()?;
        Ok((PyArray1::from_vec(py, idx.into_iter().map(index_i64).collect()), PyArray1::from_vec(py, known)))
    }

    /// Whether two heads are equal: recipe, proxies, labels, kept state and
    /// calibration (bit for bit).
    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    /// A one-line description of the recipe.
    fn __repr__(&self) -> String {
        format!(
            "_Classifier({}; {} classes, dim {})",
            self.inner.recipe().describe(),
            self.inner.n_classes(),
            self.inner.dim()
        )
    }

    /// The class labels (`int` or `str`) in class-index order.
    fn classes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let labels = self.inner.classes().iter().map(|l| label_to_py(py, l)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, labels)
    }

    /// Embedding dimension.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// Number of classes.
    #[getter]
    fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }

    /// Proxies per class, in class order.
    fn proxy_counts(&self) -> Vec<usize> {
        self.inner.proxy_counts()
    }

    /// Shots kept per class for exact updates.
    fn kept_shots(&self) -> Vec<usize> {
        self.inner.kept_shots()
    }

    /// The recipe as the keyword arguments of `ImprintClassifier`.
    fn recipe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        recipe_to_py(py, self.inner.recipe())
    }

    /// Rejection thresholds per class, or `None` when not calibrated.
    fn thresholds(&self) -> Option<Vec<f32>> {
        self.inner.calibration().thresholds().map(<[f32]>::to_vec)
    }

    /// The true-positive rate rejection was calibrated for, if any.
    fn target_tpr(&self) -> Option<f64> {
        self.inner.calibration().target_tpr()
    }

    /// The softmax temperature (1 until calibrated).
    fn temperature(&self) -> f32 {
        self.inner.calibration().temperature()
    }

    /// The head in the library's saved format (safetensors plus JSON header).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = py.detach(|| inner.to_bytes()).py_err()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Writes the head to `path` as `imprint` writes heads: JSON text for a
    /// `.json` name, safetensors otherwise, checked to load back
    /// (`Classifier::encode`), atomically through `imprint_data::write_atomic`
    /// (a link's target is replaced, special files are refused, an existing
    /// file keeps its mode), after waiting up to `wait` seconds for another
    /// process's update of the same file (`imprint_data::lock_for_update`).
    fn save(&self, py: Python<'_>, path: PathBuf, wait: f64) -> PyResult<()> {
        let wait = Duration::try_from_secs_f64(wait)
            .map_err(|_| PyValueError::new_err(format!("wait={wait}: give seconds, 0 or more")))?;
        let inner = &self.inner;
        let bytes = py.detach(|| inner.encode(HeadEncoding::for_path(&path))).py_err()?;
        py.detach(|| {
            let _lock = imprint_data::lock_for_update(&path, wait, || {})?;
            imprint_data::write_atomic(&path, &bytes, true)
        })
        .map_err(data_to_py)
    }

    /// A head in either of the library's encodings, decided by parsing
    /// (`Classifier::decode`): safetensors (`to_bytes`) or JSON text
    /// (`Classifier::to_json`, e.g. `imprint fit --out head.json`), with or
    /// without a UTF-8 byte order mark. Every size and offset is checked
    /// before reading.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = py.detach(|| Classifier::decode(data)).py_err()?;
        Ok(Self { inner })
    }
}

/// A file error as the Python exception a user expects: `TimeoutError` for
/// a file another process keeps locked, `ValueError` for a path that is not
/// a regular file, `OSError` (with its errno) for the rest.
fn data_to_py(err: imprint_data::DataError) -> PyErr {
    match err {
        imprint_data::DataError::Locked { .. } => PyTimeoutError::new_err(err.to_string()),
        imprint_data::DataError::NotRegularFile { .. } => PyValueError::new_err(err.to_string()),
        imprint_data::DataError::Io { ref source, .. } => match source.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, err.to_string())),
            None => PyOSError::new_err(err.to_string()),
        },
        other => PyOSError::new_err(other.to_string()),
    }
}

/// A class index as NumPy's `int64` (a head never has 2^63 classes).
fn index_i64(c: usize) -> i64 {
    i64::try_from(c).unwrap_or(i64::MAX)
}
