//! Every proxy generator by name: the per-class generators of `imprint-gen`
//! and the oracles `ls` and `kls` of `imprint-baselines`.

use imprint_baselines::{KLeastSquaresParams, LeastSquaresParams};
use imprint_core::{Generator, ImprintError, Result, RngMode};
use imprint_gen::{GENERATOR_NAMES as PER_CLASS_NAMES, generator_by_name_with};
use serde::{Deserialize, Serialize};

/// The names of the oracles, which need every class at once and a ridge `lambda`.
pub const JOINT_NAMES: [&str; 2] = ["ls", "kls"];

/// Every generator name, as in the reference's configuration files
/// (`proxy_methods`): the per-class generators, then the oracles.
pub const GENERATOR_NAMES: [&str; PER_CLASS_NAMES.len() + JOINT_NAMES.len()] = {
    let mut names = [""; PER_CLASS_NAMES.len() + JOINT_NAMES.len()];
    let mut i = 0;
    while i < PER_CLASS_NAMES.len() {
        names[i] = PER_CLASS_NAMES[i];
        i += 1;
    }
    let mut j = 0;
    while j < JOINT_NAMES.len() {
        names[i + j] = JOINT_NAMES[j];
        j += 1;
    }
    names
};

/// The canonical `&'static str` of a generator name (accepting the same
/// aliases as [`generator_by_name`], e.g. `covmax`), or `None` if unknown.
pub fn canonical_name(name: &str) -> Option<&'static str> {
    let name = if name == "covmax" { "cov_max" } else { name };
    GENERATOR_NAMES.iter().copied().find(|&n| n == name)
}

/// A generator by name and parameters: what a saved head or a config file
/// records about GEN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    /// Name, e.g. `kmeans` (see [`GENERATOR_NAMES`]).
    pub name: String,
    /// Proxies (or pseudo-classes) per class; `None` keeps every shot (the
    /// reference's `k = -1`) where the generator allows it.
    pub k: Option<usize>,
    /// Ridge parameter of `ls` and `kls` (required there, refused elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
}

impl GeneratorSpec {
    /// A per-class generator: `name` with `k` proxies per class.
    pub fn new(name: impl Into<String>, k: Option<usize>) -> Self {
        Self { name: name.into(), k, lambda: None }
    }

    /// An oracle (`ls`, `kls`) with its ridge parameter.
    pub fn oracle(name: impl Into<String>, k: Option<usize>, lambda: f64) -> Self {
        Self { name: name.into(), k, lambda: Some(lambda) }
    }

    /// Builds the generator.
    ///
    /// # Errors
    /// [`ImprintError::UnknownName`] listing [`GENERATOR_NAMES`];
    /// [`ImprintError::InvalidParameter`] for a missing or invalid `k` or
    /// `lambda`, or a `lambda` given to a generator that has none.
    pub fn build(&self) -> Result<Generator> {
        self.build_with(RngMode::Portable, 0)
    }

    /// Builds the generator for a random-number mode: [`RngMode::Reference`]
    /// gives every generator its reference flavour (torch's draws on the RNG
    /// passed in; k-means and kls with scikit-learn's `random_state = seed`).
    ///
    /// # Errors
    /// As [`GeneratorSpec::build`]; in reference mode also a k-means seed of
    /// `2^32` or more (NumPy's limit).
    pub fn build_with(&self, rng_mode: RngMode, seed: u64) -> Result<Generator> {
        let Some(name) = canonical_name(&self.name) else {
            return Err(ImprintError::UnknownName {
                kind: "proxy generator",
                name: self.name.clone(),
                known: GENERATOR_NAMES.iter().map(|n| n.to_string()).collect(),
            });
        };
        let lambda = || {
            self.lambda.ok_or_else(|| {
                ImprintError::invalid("lambda", "none", format!("'{name}' needs a ridge parameter lambda"))
            })
        };
        match name {
            "ls" => Ok(Generator::Joint(Box::new(LeastSquaresParams::new(lambda()?).check()?))),
            "kls" => {
                let params = KLeastSquaresParams::new(self.k, lambda()?);
                let params = if rng_mode == RngMode::Reference { params.reference(seed) } else { params };
                Ok(Generator::Joint(Box::new(params.check()?)))
            }
            _ => {
                if let Some(l) = self.lambda {
                    return Err(ImprintError::invalid(
                        "lambda",
                        l,
                        format!("'{name}' has no ridge parameter"),
                    ));
                }
                Ok(Generator::PerClass(generator_by_name_with(name, self.k, rng_mode, seed)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds() {
        for name in GENERATOR_NAMES {
            let spec = if JOINT_NAMES.contains(&name) {
                GeneratorSpec::oracle(name, Some(2), 0.1)
            } else {
                GeneratorSpec::new(name, Some(2))
            };
            let generator = spec.build().unwrap();
            assert_eq!(generator.name(), name);
            assert_eq!(matches!(generator, Generator::Joint(_)), JOINT_NAMES.contains(&name));
        }
        assert_eq!(canonical_name("covmax"), Some("cov_max"));
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(matches!(
            GeneratorSpec::new("lmeans", Some(2)).build(),
            Err(ImprintError::UnknownName { .. })
        ));
        assert!(GeneratorSpec::new("ls", None).build().is_err(), "ls needs lambda");
        assert!(GeneratorSpec::oracle("kmeans", Some(2), 0.1).build().is_err(), "kmeans has no lambda");
        assert!(GeneratorSpec::oracle("ls", None, -1.0).build().is_err());
        assert!(GeneratorSpec::new("kmeans", None).build().is_err(), "kmeans needs k");
    }
}
