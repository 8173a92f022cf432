//! Generators by name, as written in the reference's configuration files.

use imprint_core::reference_rng::RngMode;
use imprint_core::{ImprintError, ProxyGenerator, Result};

/// Builds a generator from the `k` of a configuration (`None`: not given).
type Constructor = fn(Option<usize>) -> Result<Box<dyn ProxyGenerator>>;

/// Builds a generator that draws like the reference, from `k` and the
/// combination's seed.
type ReferenceConstructor = fn(Option<usize>, u64) -> Result<Box<dyn ProxyGenerator>>;

/// Every generator known by name. A new generator adds one line here.
const REGISTRY: &[(&str, Constructor)] = &[
    ("all", crate::all::from_config),
    ("random", crate::random::from_config),
    ("mean", crate::mean::from_config),
    ("kmeans", crate::kmeans::from_config),
    ("kmedoids", crate::kmedoids::from_config),
    ("fps", crate::fps::from_config),
    ("cov_max", crate::covmax::from_config),
    ("none", crate::none::from_config),
];

/// The generators that draw random numbers, built for [`RngMode::Reference`].
/// A generator that draws adds one line here too; the others draw nothing
/// and are the same in both modes.
const REFERENCE: &[(&str, ReferenceConstructor)] = &[
    ("random", crate::random::reference_from_config),
    ("kmeans", crate::kmeans::reference_from_config),
    ("fps", crate::fps::reference_from_config),
    ("none", crate::none::reference_from_config),
];

/// Other spellings accepted by [`generator_by_name`], with the name they mean.
const ALIASES: &[(&str, &str)] = &[("covmax", "cov_max")];

const NAMES: [&str; REGISTRY.len()] = {
    let mut names = [""; REGISTRY.len()];
    let mut i = 0;
    while i < REGISTRY.len() {
        names[i] = REGISTRY[i].0;
        i += 1;
    }
    names
};

/// The names of the built-in generators, as in the reference's configuration
/// files (`proxy_methods`).
pub const GENERATOR_NAMES: &[&str] = &NAMES;

/// The generator called `name` with `k` proxies per class.
///
/// `k` is required by every generator except `all` (which keeps every sample)
/// and `mean` (one proxy); those two ignore it. `"covmax"` is accepted for
/// `"cov_max"`.
///
/// # Errors
/// [`ImprintError::UnknownName`] listing the known names for an unknown `name`;
/// [`ImprintError::InvalidParameter`] if `k` is missing where it is required,
/// or is 0.
pub fn generator_by_name(name: &str, k: Option<usize>) -> Result<Box<dyn ProxyGenerator>> {
    if k == Some(0) {
        return Err(ImprintError::invalid("k", 0, format!("generator '{name}' needs at least one proxy")));
    }
    let canonical = ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, canonical)| canonical);
    match REGISTRY.iter().find(|(known, _)| *known == canonical) {
        Some((_, construct)) => construct(k),
        None => Err(ImprintError::UnknownName {
            kind: "proxy generator",
            name: name.to_string(),
            known: GENERATOR_NAMES.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

/// The generator called `name` with `k` proxies per class, drawing its
/// random numbers as `rng_mode` says.
///
/// [`RngMode::Portable`] is [`generator_by_name`] (`seed` is unused). With
/// [`RngMode::Reference`], `random`, `fps` and `none` use torch's algorithms
/// on the RNG passed to `generate` (give them a
/// [`imprint_core::TorchGenerator`] seeded with `seed` and consumed class
/// after class, as the reference does), and `kmeans` draws like
/// scikit-learn's `KMeans(random_state=seed)` from a fresh NumPy
/// `RandomState(seed)` per class; the other generators draw nothing.
///
/// # Errors
/// Those of [`generator_by_name`]; for `kmeans` in reference mode, a seed of
/// `2^32` or more ([`ImprintError::InvalidParameter`], as numpy refuses it).
pub fn generator_by_name_with(
    name: &str,
    k: Option<usize>,
    rng_mode: RngMode,
    seed: u64,
) -> Result<Box<dyn ProxyGenerator>> {
    let portable = generator_by_name(name, k)?;
    if rng_mode == RngMode::Portable {
        return Ok(portable);
    }
    match REFERENCE.iter().find(|(known, _)| *known == portable.name()) {
        Some((_, construct)) => construct(k, seed),
        None => Ok(portable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_and_reports_itself() {
        for &name in GENERATOR_NAMES {
            let g = generator_by_name(name, Some(3)).unwrap();
            assert_eq!(g.name(), name);
            let expected = match name {
                "all" => None,
                "mean" => Some(1),
                _ => Some(3),
            };
            assert_eq!(g.n_proxies(), expected, "{name}");
        }
        assert_eq!(generator_by_name("covmax", Some(2)).unwrap().name(), "cov_max");
        assert_eq!(generator_by_name("all", None).unwrap().n_proxies(), None);
        assert_eq!(generator_by_name("mean", None).unwrap().n_proxies(), Some(1));
    }

    #[test]
    fn reference_mode_builds_every_name() {
        for &name in GENERATOR_NAMES {
            let g = generator_by_name_with(name, Some(3), RngMode::Reference, 17121997).unwrap();
            assert_eq!(g.name(), name);
            assert_eq!(g.n_proxies(), generator_by_name(name, Some(3)).unwrap().n_proxies());
        }
        for (name, _) in REFERENCE {
            assert!(GENERATOR_NAMES.contains(name), "{name}");
        }
        assert!(matches!(
            generator_by_name_with("kmeans", Some(3), RngMode::Reference, 1 << 32),
            Err(ImprintError::InvalidParameter { name: "seed", .. })
        ));
        assert!(generator_by_name_with("kmeans", Some(3), RngMode::Portable, 1 << 32).is_ok());
        assert!(matches!(
            generator_by_name_with("kmeans++", Some(3), RngMode::Reference, 0),
            Err(ImprintError::UnknownName { .. })
        ));
    }

    #[test]
    fn unknown_names_and_missing_k_are_errors() {
        let err = generator_by_name("kmeans++", Some(2)).unwrap_err();
        assert!(
            matches!(&err, ImprintError::UnknownName { known, .. } if known.len() == GENERATOR_NAMES.len())
        );
        assert!(err.to_string().contains("cov_max"), "{err}");
        for name in ["random", "kmeans", "kmedoids", "fps", "cov_max", "none"] {
            assert!(
                matches!(
                    generator_by_name(name, None),
                    Err(ImprintError::InvalidParameter { name: "k", .. })
                ),
                "{name}"
            );
        }
        for &name in GENERATOR_NAMES {
            assert!(matches!(
                generator_by_name(name, Some(0)),
                Err(ImprintError::InvalidParameter { name: "k", .. })
            ));
        }
    }
}
