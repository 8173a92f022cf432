//! The GEN stage: turning shots into proxies, one class at a time
//! ([`ProxyGenerator`]) or every class of a task at once ([`JointGenerator`]).

use ndarray::{Array2, ArrayView2};
use rand::RngCore;

use crate::random::StreamRng;
use crate::{ImprintError, Result, Shots};

/// A proxy generator (the GEN stage): maps the shots of *one* class to a few
/// proxies that represent it. It never sees other classes' data.
///
/// Implementors write one method, [`ProxyGenerator::propose`]; callers use
/// [`GenerateExt::generate`], which validates the input, applies the rule that
/// a class with fewer than `k` shots keeps all of them (SPEC: `all` is used
/// whenever `n_c < k`) and checks the generator's output.
///
/// The trait is object safe so that generators can be chosen by name at run time.
pub trait ProxyGenerator: Send + Sync + std::fmt::Debug {
    /// Name as used in configuration files, e.g. `"kmeans"`.
    fn name(&self) -> &str;

    /// The number of proxies `k` this generator produces for a class with at
    /// least `k` shots, or `None` if it keeps every sample (`all`).
    fn n_proxies(&self) -> Option<usize>;

    /// Produces at most `k` proxies (rows, `shots.dim()` columns) from the
    /// shots of one class. Called only with `shots.n_shots() >= k`.
    /// All randomness must come from `rng`.
    fn propose(&self, shots: Shots<'_>, rng: &mut dyn RngCore) -> Result<Array2<f32>>;

    /// How more shots of a class can update its proxies exactly (see
    /// [`Incremental`]); by default the class is refitted from all its shots.
    fn incremental(&self) -> Incremental {
        Incremental::Refit
    }
}

/// How a class's proxies follow when shots are added to it, such that the
/// result equals imprinting the class once with all its shots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incremental {
    /// Generate again from every shot (the shots must be kept).
    Refit,
    /// The proxies of more shots are the old proxies followed by those of the
    /// new shots alone (`all`: every shot is a proxy); nothing needs keeping.
    Append,
    /// The single proxy is the mean of the shots, accumulated in f64 in row
    /// order (`mean`): a running sum and count suffice ([`crate::RunningMean`]).
    RunningMean,
}

/// A generator that needs the shots of every class of a task at once (the
/// least-squares oracles `ls` and `kls`, which use cross-class statistics).
///
/// Callers use [`JointGenerateExt::generate_joint`], which validates the input
/// and checks the output.
pub trait JointGenerator: Send + Sync + std::fmt::Debug {
    /// Name as used in configuration files, e.g. `"ls"`.
    fn name(&self) -> &str;

    /// Proxies of every class, in class order (between 1 and `n_shots` rows
    /// each, or more for generators that document it), from the shots of all
    /// classes. `rngs[c]` is class `c`'s random stream; all randomness must
    /// come from them.
    fn propose_joint(&self, classes: &[Shots<'_>], rngs: &mut [StreamRng]) -> Result<Vec<Array2<f32>>>;
}

/// Validating entry point for every [`JointGenerator`].
pub trait JointGenerateExt: JointGenerator {
    /// Validates every class (non-empty, finite, one dimension for all), calls
    /// [`JointGenerator::propose_joint`] and checks that it returned one
    /// non-empty, finite block of proxies of the right dimension per class.
    fn generate_joint(
        &self,
        classes: &[ArrayView2<'_, f32>],
        rngs: &mut [StreamRng],
    ) -> Result<Vec<Array2<f32>>> {
        if classes.is_empty() {
            return Err(ImprintError::Empty {
                what: format!("classes given to generator '{}'", self.name()),
            });
        }
        if rngs.len() != classes.len() {
            return Err(ImprintError::mismatch(
                "JointGenerateExt::generate_joint: random streams",
                classes.len(),
                rngs.len(),
            ));
        }
        let shots: Vec<Shots<'_>> = classes
            .iter()
            .enumerate()
            .map(|(c, x)| Shots::new(*x, &format!("class {c}: shots given to generator '{}'", self.name())))
            .collect::<Result<_>>()?;
        let dim = shots[0].dim();
        if let Some(c) = shots.iter().position(|s| s.dim() != dim) {
            return Err(ImprintError::mismatch(
                "JointGenerateExt::generate_joint: class against class 0",
                format!("{dim} columns"),
                format!("class {c} with {} columns", shots[c].dim()),
            ));
        }
        let proxies = self.propose_joint(&shots, rngs)?;
        let broken =
            |reason: String| ImprintError::GeneratorContract { name: self.name().to_string(), reason };
        if proxies.len() != classes.len() {
            return Err(broken(format!(
                "returned proxies for {} classes, expected {}",
                proxies.len(),
                classes.len()
            )));
        }
        for (c, p) in proxies.iter().enumerate() {
            if p.ncols() != dim || p.nrows() == 0 {
                return Err(broken(format!(
                    "returned {} x {} proxies for class {c} of dimension {dim}",
                    p.nrows(),
                    p.ncols()
                )));
            }
            if p.iter().any(|v| !v.is_finite()) {
                return Err(broken(format!("returned a non-finite proxy for class {c}")));
            }
        }
        Ok(proxies)
    }
}

impl<G: JointGenerator + ?Sized> JointGenerateExt for G {}

/// A GEN stage of either kind.
#[derive(Debug)]
pub enum Generator {
    /// One class at a time, from its own shots only (imprinting proper).
    PerClass(Box<dyn ProxyGenerator>),
    /// Every class of a task at once (the oracles).
    Joint(Box<dyn JointGenerator>),
}

impl Generator {
    /// Name as used in configuration files.
    pub fn name(&self) -> &str {
        match self {
            Self::PerClass(g) => g.name(),
            Self::Joint(g) => g.name(),
        }
    }

    /// How added shots update a class (joint generators refit every class).
    pub fn incremental(&self) -> Incremental {
        match self {
            Self::PerClass(g) => g.incremental(),
            Self::Joint(_) => Incremental::Refit,
        }
    }
}

/// Convenience methods for every [`ProxyGenerator`].
pub trait GenerateExt: ProxyGenerator {
    /// Validates `shots` (non-empty, finite), returns the shots themselves when
    /// the class has fewer than `k` of them, and otherwise calls
    /// [`ProxyGenerator::propose`] and checks that it returned between 1 and
    /// `k` finite proxies of the right dimension.
    fn generate(&self, shots: ArrayView2<'_, f32>, rng: &mut dyn RngCore) -> Result<Array2<f32>> {
        let what = format!("shots given to generator '{}'", self.name());
        let shots = Shots::new(shots, &what)?;
        if let Some(k) = self.n_proxies() {
            if k == 0 {
                return Err(ImprintError::invalid("k", 0, "a class needs at least one proxy"));
            }
            if shots.n_shots() < k {
                return Ok(shots.view().to_owned());
            }
        }
        let proxies = self.propose(shots, rng)?;
        let broken =
            |reason: String| ImprintError::GeneratorContract { name: self.name().to_string(), reason };
        if proxies.ncols() != shots.dim() {
            return Err(broken(format!(
                "returned proxies with {} columns for shots with {}",
                proxies.ncols(),
                shots.dim()
            )));
        }
        let max = self.n_proxies().unwrap_or(shots.n_shots());
        if proxies.nrows() == 0 || proxies.nrows() > max {
            return Err(broken(format!("returned {} proxies, expected 1..={max}", proxies.nrows())));
        }
        if proxies.iter().any(|v| !v.is_finite()) {
            return Err(broken("returned a non-finite proxy".to_string()));
        }
        Ok(proxies)
    }
}

impl<G: ProxyGenerator + ?Sized> GenerateExt for G {}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array, s};
    use rand::SeedableRng;

    use super::*;

    #[derive(Debug)]
    struct FirstK(usize);

    impl ProxyGenerator for FirstK {
        fn name(&self) -> &str {
            "first-k"
        }
        fn n_proxies(&self) -> Option<usize> {
            Some(self.0)
        }
        fn propose(&self, shots: Shots<'_>, _: &mut dyn RngCore) -> Result<Array2<f32>> {
            Ok(shots.view().slice(s![..self.0, ..]).to_owned())
        }
    }

    #[derive(Debug)]
    struct Broken;

    impl ProxyGenerator for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn n_proxies(&self) -> Option<usize> {
            Some(1)
        }
        fn propose(&self, shots: Shots<'_>, _: &mut dyn RngCore) -> Result<Array2<f32>> {
            Ok(Array2::zeros((1, shots.dim() + 1)))
        }
    }

    fn rng() -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(0)
    }

    #[test]
    fn fewer_shots_than_k_keeps_all_samples() {
        let x = array![[1.0, 2.0], [3.0, 4.0]];
        assert_eq!(FirstK(5).generate(x.view(), &mut rng()).unwrap(), x);
        assert_eq!(FirstK(1).generate(x.view(), &mut rng()).unwrap(), array![[1.0, 2.0]]);
    }

    #[test]
    fn k_zero_empty_and_broken_output_are_errors() {
        let x = array![[1.0, 2.0]];
        assert!(matches!(
            FirstK(0).generate(x.view(), &mut rng()),
            Err(ImprintError::InvalidParameter { name: "k", .. })
        ));
        let empty = Array2::<f32>::zeros((0, 2));
        assert!(matches!(FirstK(1).generate(empty.view(), &mut rng()), Err(ImprintError::Empty { .. })));
        assert!(matches!(Broken.generate(x.view(), &mut rng()), Err(ImprintError::GeneratorContract { .. })));
    }
}
