//! # imprint
//!
//! Weight imprinting for frozen foundation models, for the people who use it:
//! fit a classifier head from labelled embeddings, add classes and shots
//! later with exact updates, save and load it, and classify with scores,
//! probabilities, top-k and "unknown".
//!
//! A [`Classifier`] is imprinted with a [`Recipe`] (NORMpre, GEN, NORMpost,
//! NORMinf, AGG and the seed; the paper's recommended setting by default)
//! through the same [`imprint_core::Imprinter`] that the experiment grid,
//! the `imprint` command line and the Python package use. Generators are
//! named as in the reference's configuration files ([`GeneratorSpec`],
//! [`GENERATOR_NAMES`]), including the least-squares oracles `ls` and `kls`.
//!
//! ```
//! use imprint::{ClassLabel, Classifier, GeneratorSpec, Recipe};
//! use imprint::ndarray::array;
//!
//! # fn main() -> Result<(), imprint::ImprintError> {
//! // Embeddings from a frozen backbone and their labels (integers or strings).
//! let x = array![[0.9f32, 0.1, 0.0], [1.0, 0.0, 0.1], [0.1, 1.0, 0.0], [0.0, 0.9, 0.2]];
//! let y = ["cat", "cat", "dog", "dog"];
//! let recipe = Recipe::paper().with_generator(GeneratorSpec::new("kmeans", Some(2)));
//! let mut head = Classifier::fit(recipe, x.view(), &y)?;
//!
//! // Later: a new class, and more shots of a known one (exact updates).
//! head.partial_fit(array![[0.0f32, 0.1, 1.0], [0.1, 0.0, 0.9]].view(), &["fox", "fox"])?;
//! head.add_shots(&"cat".into(), array![[0.95f32, 0.05, 0.0]].view())?;
//!
//! // Save, load, classify.
//! let bytes = head.to_bytes()?;
//! let head = Classifier::from_bytes(&bytes)?;
//! let queries = array![[1.0f32, 0.0, 0.0], [0.0, 0.0, 1.0]];
//! assert_eq!(head.predict(queries.view())?, vec![ClassLabel::from("cat"), ClassLabel::from("fox")]);
//! let p = head.predict_proba(queries.view())?;
//! assert!((p.row(0).sum() - 1.0).abs() < 1e-5);
//! # Ok(())
//! # }
//! ```

mod calibration;
mod classifier;
mod format;
mod label;
mod recipe;
mod registry;

pub use calibration::{
    Calibration, ECE_BINS, TEMPERATURES, TemperatureReport, expected_calibration_error, knownness_distance,
    softmax,
};
pub use classifier::{ClassOrder, Classifier};
pub use format::{FORMAT, HeadEncoding, VERSION};
pub use label::ClassLabel;
pub use recipe::{PAPER_SEED, Recipe, Updates};
pub use registry::{GENERATOR_NAMES, GeneratorSpec, JOINT_NAMES, canonical_name};

pub use imprint_core::{
    Aggregation, Distance, ImprintError, InputNorm, MnnParams, Result, WeightNorm, Weighting,
    ZeroVectorPolicy,
};
/// Re-exported so that users build arrays with the version this crate uses.
pub use ndarray;
