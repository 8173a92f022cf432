//! Functions for researchers: k-means and neural collapse.

use imprint_core::{Centering, Shots, Stream, stream_rng};
use imprint_gen::KMeansParams;
use ndarray::Axis;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::convert::IntoPy;

/// The k-means result as a tuple: centroids, labels, inertia, iterations, converged.
type KMeansTuple<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<i64>>, f64, usize, bool);

/// k-means of the rows of `x` into `k` clusters with scikit-learn's
/// `KMeans(n_clusters=k, random_state=seed)` semantics (greedy k-means++,
/// one initialization, Lloyd iterations): the `kmeans` generator of
/// imprint-gen, drawing from the random stream of class 0 under `seed`.
#[pyfunction]
#[pyo3(signature = (x, k, seed))]
pub(crate) fn kmeans<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'_, f32>,
    k: usize,
    seed: u64,
) -> PyResult<KMeansTuple<'py>> {
    let x = x.as_array();
    let fit = py
        .detach(|| {
            let params = KMeansParams::new(k).check()?;
            let shots = Shots::new(x, "X")?;
            params.fit(shots, &mut stream_rng(seed, Stream::class(0)))
        })
        .py_err()?;
    let labels = fit.labels().iter().map(|&l| i64::try_from(l).unwrap_or(i64::MAX)).collect();
    Ok((
        PyArray2::from_owned_array(py, fit.centroids().to_owned()),
        PyArray1::from_vec(py, labels),
        fit.inertia(),
        fit.n_iter(),
        fit.converged(),
    ))
}

/// NC1 and VCI (and the rank of the between-class scatter) of the rows of
/// `x` grouped by `codes` (`0..n_classes`, every class with rows).
/// `centering` is `"paper"` (the paper's formula) or `"reference"` (the
/// reference code's).
#[pyfunction]
#[pyo3(signature = (x, codes, n_classes, centering))]
pub(crate) fn neural_collapse(
    py: Python<'_>,
    x: PyReadonlyArray2<'_, f32>,
    codes: PyReadonlyArray1<'_, i64>,
    n_classes: usize,
    centering: &str,
) -> PyResult<(f64, f64, usize)> {
    let centering = match centering {
        "paper" => Centering::Paper,
        "reference" => Centering::Reference,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown centering '{other}'; known: paper, reference"
            )));
        }
    };
    let x = x.as_array();
    let codes = codes.as_array();
    if codes.len() != x.nrows() {
        return Err(PyValueError::new_err(format!(
            "neural_collapse: {} labels for {} rows",
            codes.len(),
            x.nrows()
        )));
    }
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in codes.iter().enumerate() {
        let slot = usize::try_from(c).ok().and_then(|c| rows.get_mut(c)).ok_or_else(|| {
            PyValueError::new_err(format!("label code {c} of row {i} is not below {n_classes}"))
        })?;
        slot.push(i);
    }
    let collapse = py
        .detach(|| {
            let classes: Vec<_> = rows.iter().map(|r| x.select(Axis(0), r)).collect();
            let views: Vec<_> = classes.iter().map(|c| c.view()).collect();
            imprint_core::neural_collapse(&views, centering)
        })
        .py_err()?;
    Ok((collapse.nc1, collapse.vci, collapse.rank_between))
}
