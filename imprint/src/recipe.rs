//! The full IMPRINT setting of a head, which travels with it.

use imprint_core::{Aggregation, Imprinter, InputNorm, Result, RngMode, WeightNorm, ZeroVectorPolicy};
use serde::{Deserialize, Serialize};

use crate::registry::GeneratorSpec;

/// What happens when shots are added to a class that a head already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Updates {
    /// The head keeps what it needs to update classes exactly: adding shots to
    /// a class gives, bit for bit, the head imprinted once with all its shots.
    /// `mean` keeps a running sum and count per class (`dim` f64 values);
    /// `all` keeps nothing beyond its proxies; every other generator keeps
    /// the class's shots (`n_shots x dim` f32: 6,000 shots of 1,280 features
    /// are 30 MiB per class), and `ls`/`kls` refit every class.
    #[default]
    Exact,
    /// The head keeps no shots: added shots are imprinted on their own and
    /// their proxies appended to the class (an approximation for every
    /// generator but `all`; `mean` then holds one mean per addition). `ls`
    /// and `kls` ignore it: they always keep every class's shots and refit.
    Append,
}

/// The full IMPRINT setting: NORMpre, GEN with its parameters and seed,
/// NORMpost, NORMinf and AGG, plus how updates behave.
///
/// Saved with every head, so that another process continues it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// NORMpre: normalization of the shots before GEN.
    pub pre_norm: InputNorm,
    /// GEN: the proxy generator and its parameters.
    pub generator: GeneratorSpec,
    /// NORMpost: normalization of the generated proxies.
    pub post_norm: WeightNorm,
    /// NORMinf: normalization of the queries.
    pub input_norm: InputNorm,
    /// AGG: how proxies score classes.
    pub aggregation: Aggregation,
    /// Seed of every random draw (class `c` draws from its own stream).
    pub seed: u64,
    /// Exact updates (keeping state) or appended proxies.
    #[serde(default)]
    pub updates: Updates,
    /// Whose random draws: portable streams (the default), or the reference's
    /// (torch's generator through the classes in order; see `docs/reference-mode.md`).
    #[serde(default)]
    pub rng: RngMode,
}

/// The paper's seed (the first of its three).
pub const PAPER_SEED: u64 = 17121997;

impl Default for Recipe {
    /// The paper's recommended setting (see [`Recipe::paper`]).
    fn default() -> Self {
        Self::paper()
    }
}

impl Recipe {
    /// The paper's recommended setting: L2 / k-means (k = 20) / L2 / L2 / max,
    /// seed 17121997, exact updates. L2 normalization rejects all-zero vectors.
    pub fn paper() -> Self {
        let l2 = InputNorm::L2(ZeroVectorPolicy::Reject);
        Self {
            pre_norm: l2,
            generator: GeneratorSpec::new("kmeans", Some(20)),
            post_norm: WeightNorm::L2(ZeroVectorPolicy::Reject),
            input_norm: l2,
            aggregation: Aggregation::max(),
            seed: PAPER_SEED,
            updates: Updates::Exact,
            rng: RngMode::Portable,
        }
    }

    /// The paper's setting with another generator.
    pub fn with_generator(mut self, generator: GeneratorSpec) -> Self {
        self.generator = generator;
        self
    }

    /// Sets NORMpre.
    pub fn with_pre_norm(mut self, pre_norm: InputNorm) -> Self {
        self.pre_norm = pre_norm;
        self
    }

    /// Sets NORMpost.
    pub fn with_post_norm(mut self, post_norm: WeightNorm) -> Self {
        self.post_norm = post_norm;
        self
    }

    /// Sets NORMinf.
    pub fn with_input_norm(mut self, input_norm: InputNorm) -> Self {
        self.input_norm = input_norm;
        self
    }

    /// Sets AGG.
    pub fn with_aggregation(mut self, aggregation: Aggregation) -> Self {
        self.aggregation = aggregation;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the update behaviour.
    pub fn with_updates(mut self, updates: Updates) -> Self {
        self.updates = updates;
        self
    }

    /// Sets whose random draws the recipe uses.
    pub fn with_rng(mut self, rng: RngMode) -> Self {
        self.rng = rng;
        self
    }

    /// The [`Imprinter`] of this recipe (NORMpre, GEN, NORMpost, seed, RNG mode).
    ///
    /// # Errors
    /// An unknown generator or invalid parameters (see [`GeneratorSpec::build_with`]).
    pub fn imprinter(&self) -> Result<Imprinter> {
        Ok(Imprinter::from_generator(self.generator.build_with(self.rng, self.seed)?)
            .with_pre_norm(self.pre_norm)
            .with_post_norm(self.post_norm)
            .with_seed(self.seed)
            .with_rng_mode(self.rng))
    }

    /// A one-line description, e.g. `l2 / kmeans k=20 / l2 / l2 / max (inner_product), seed 17121997`.
    pub fn describe(&self) -> String {
        let k = match self.generator.k {
            Some(k) => format!(" k={k}"),
            None => String::new(),
        };
        let lambda = self.generator.lambda.map(|l| format!(" lambda={l}")).unwrap_or_default();
        format!(
            "{} / {}{k}{lambda} / {} / {} / {}, seed {}",
            self.pre_norm,
            self.generator.name,
            self.post_norm,
            self.input_norm,
            imprint_core::Aggregator::describe(&self.aggregation),
            self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paper_recipe_round_trips_through_json_and_builds() {
        let r = Recipe::paper();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Recipe>(&json).unwrap(), r);
        assert_eq!(r.imprinter().unwrap().generator().name(), "kmeans");
        assert_eq!(r.describe(), "l2 / kmeans k=20 / l2 / l2 / max (inner_product), seed 17121997");
        let bad = r.with_generator(GeneratorSpec::new("nope", None));
        assert!(bad.imprinter().is_err());
    }
}
