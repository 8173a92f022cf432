//! Conversions between Python values and the library's types: errors,
//! labels, recipes.

use imprint::{
    Aggregation, ClassLabel, Distance, GeneratorSpec, ImprintError, InputNorm, Recipe, Updates, WeightNorm,
    Weighting, ZeroVectorPolicy,
};
use imprint_core::RngMode;
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// The library's error as a Python `ValueError` with its message.
pub(crate) fn to_py(err: ImprintError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// `Result<T, ImprintError>` to `PyResult<T>`.
pub(crate) trait IntoPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for imprint::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// One label from Python: a `str` becomes a text label, anything that
/// converts to a 64-bit integer an integer label.
pub(crate) fn label_from_py(value: &Bound<'_, PyAny>) -> PyResult<ClassLabel> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(ClassLabel::Text(s.to_str()?.to_owned()));
    }
    match value.extract::<i64>() {
        Ok(v) => Ok(ClassLabel::Int(v)),
        Err(_) => Err(PyValueError::new_err(format!(
            "class labels must be str or 64-bit integers, got {}",
            value.repr().map_or_else(|_| "an unprintable value".to_owned(), |r| r.to_string())
        ))),
    }
}

/// A label as a Python `int` or `str`.
pub(crate) fn label_to_py<'py>(py: Python<'py>, label: &ClassLabel) -> PyResult<Bound<'py, PyAny>> {
    Ok(match label {
        ClassLabel::Int(v) => v.into_pyobject(py)?.into_any(),
        ClassLabel::Text(s) => PyString::new(py, s).into_any(),
    })
}

/// The per-row labels `keys[codes[i]]` (codes index the class keys).
pub(crate) fn row_labels(
    codes: &PyReadonlyArray1<'_, i64>,
    keys: &[ClassLabel],
) -> PyResult<Vec<ClassLabel>> {
    let codes = codes.as_array();
    codes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            usize::try_from(c).ok().and_then(|c| keys.get(c)).cloned().ok_or_else(|| {
                PyValueError::new_err(format!("label code {c} of row {i} is not below {}", keys.len()))
            })
        })
        .collect()
}

/// Class codes as indices (negative codes are errors; the library checks the upper bound).
pub(crate) fn class_codes(codes: &PyReadonlyArray1<'_, i64>) -> PyResult<Vec<usize>> {
    codes
        .as_array()
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            usize::try_from(c)
                .map_err(|_| PyValueError::new_err(format!("label code {c} of row {i} is negative")))
        })
        .collect()
}

/// The class keys of a Python list (see [`label_from_py`]).
pub(crate) fn keys_from_py(keys: &Bound<'_, PyAny>) -> PyResult<Vec<ClassLabel>> {
    keys.try_iter()?.map(|k| label_from_py(&k?)).collect()
}

/// Whose random draws, by name.
fn rng_mode(name: &str) -> imprint::Result<RngMode> {
    match name {
        "portable" => Ok(RngMode::Portable),
        "reference" => Ok(RngMode::Reference),
        _ => Err(ImprintError::UnknownName {
            kind: "rng mode",
            name: name.to_owned(),
            known: vec!["portable".into(), "reference".into()],
        }),
    }
}

/// The zero-vector policy by name.
fn zero_policy(name: &str) -> imprint::Result<ZeroVectorPolicy> {
    match name {
        "reject" => Ok(ZeroVectorPolicy::Reject),
        "keep" => Ok(ZeroVectorPolicy::KeepZero),
        _ => Err(ImprintError::UnknownName {
            kind: "zero-vector policy",
            name: name.to_owned(),
            known: vec!["reject".into(), "keep".into()],
        }),
    }
}

fn with_policy(norm: InputNorm, policy: ZeroVectorPolicy) -> InputNorm {
    match norm {
        InputNorm::L2(_) => InputNorm::L2(policy),
        other => other,
    }
}

/// The settings of a recipe, by the names of the reference's configuration
/// files (the constructor parameters of `ImprintClassifier`).
pub(crate) struct RecipeArgs<'a> {
    pub(crate) generator: &'a str,
    pub(crate) k: Option<usize>,
    pub(crate) ridge: Option<f64>,
    pub(crate) pre_norm: &'a str,
    pub(crate) post_norm: &'a str,
    pub(crate) input_norm: &'a str,
    pub(crate) aggregation: &'a str,
    pub(crate) m: Option<usize>,
    pub(crate) distance: &'a str,
    pub(crate) weighting: &'a str,
    pub(crate) seed: u64,
    pub(crate) zero_vectors: &'a str,
    pub(crate) rng: &'a str,
}

impl RecipeArgs<'_> {
    /// The recipe, every name and combination checked.
    pub(crate) fn recipe(&self) -> imprint::Result<Recipe> {
        let policy = zero_policy(self.zero_vectors)?;
        let rng = rng_mode(self.rng)?;
        let pre_norm = with_policy(self.pre_norm.parse()?, policy);
        let input_norm = with_policy(self.input_norm.parse()?, policy);
        let post_norm = match self.post_norm.parse()? {
            WeightNorm::L2(_) => WeightNorm::L2(policy),
            other => other,
        };
        let distance: Distance = self.distance.parse()?;
        let weighting: Weighting = self.weighting.parse()?;
        let aggregation = match self.aggregation {
            "max" => {
                if let Some(m) = self.m {
                    return Err(ImprintError::invalid(
                        "m",
                        m,
                        "m applies to aggregation 'mnn' only ('max' scores each class by its best proxy)",
                    ));
                }
                if weighting != Weighting::Uniform {
                    return Err(ImprintError::invalid(
                        "weighting",
                        weighting,
                        "weighting applies to aggregation 'mnn' only",
                    ));
                }
                Aggregation::Max { distance }
            }
            "mnn" => {
                let m = self.m.ok_or_else(|| {
                    ImprintError::invalid("m", "None", "aggregation 'mnn' needs m, the number of neighbours")
                })?;
                Aggregation::mnn(m, distance, weighting)?
            }
            other => {
                return Err(ImprintError::UnknownName {
                    kind: "aggregation method",
                    name: other.to_owned(),
                    known: vec!["max".into(), "mnn".into()],
                });
            }
        };
        let generator = match self.ridge {
            Some(lambda) => GeneratorSpec::oracle(self.generator, self.k, lambda),
            None => GeneratorSpec::new(self.generator, self.k),
        };
        let recipe = Recipe::paper()
            .with_generator(generator)
            .with_pre_norm(pre_norm)
            .with_post_norm(post_norm)
            .with_input_norm(input_norm)
            .with_aggregation(aggregation)
            .with_seed(self.seed)
            .with_rng(rng)
            .with_updates(Updates::Exact);
        // Builds the generator: unknown names and bad k or ridge fail here.
        recipe.imprinter()?;
        Ok(recipe)
    }
}

/// A recipe as the keyword arguments of `ImprintClassifier` (plus `updates`
/// and the recipe's one-line description).
pub(crate) fn recipe_to_py<'py>(py: Python<'py>, recipe: &Recipe) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("generator", &recipe.generator.name)?;
    d.set_item("k", recipe.generator.k)?;
    d.set_item("ridge", recipe.generator.lambda)?;
    d.set_item("pre_norm", recipe.pre_norm.name())?;
    d.set_item("post_norm", recipe.post_norm.to_string())?;
    d.set_item("input_norm", recipe.input_norm.name())?;
    let (method, m, distance, weighting) = match recipe.aggregation {
        Aggregation::Max { distance } => ("max", None, distance, Weighting::Uniform),
        Aggregation::Mnn(p) => ("mnn", Some(p.m()), p.distance(), p.weighting()),
    };
    d.set_item("aggregation", method)?;
    d.set_item("m", m)?;
    d.set_item("distance", distance.name())?;
    d.set_item("weighting", weighting.name())?;
    d.set_item("seed", recipe.seed)?;
    let policy = [recipe.pre_norm, recipe.input_norm]
        .into_iter()
        .find_map(|n| match n {
            InputNorm::L2(p) => Some(p),
            InputNorm::None => None,
        })
        .or(match recipe.post_norm {
            WeightNorm::L2(p) => Some(p),
            _ => None,
        })
        .unwrap_or_default();
    d.set_item(
        "zero_vectors",
        match policy {
            ZeroVectorPolicy::Reject => "reject",
            ZeroVectorPolicy::KeepZero => "keep",
        },
    )?;
    d.set_item(
        "updates",
        match recipe.updates {
            Updates::Exact => "exact",
            Updates::Append => "append",
        },
    )?;
    d.set_item(
        "rng",
        match recipe.rng {
            RngMode::Portable => "portable",
            RngMode::Reference => "reference",
        },
    )?;
    d.set_item("describe", recipe.describe())?;
    Ok(d)
}
