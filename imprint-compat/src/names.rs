//! The reference's names of every setting, read into the library's types.
//!
//! Configs and records spell normalizations, generators, aggregations,
//! distances and weightings as the reference does; the library's types parse
//! the same spellings. The one difference is the zero-vector policy of L2
//! normalization: the reference normalizes with `torch.nn.functional.normalize`,
//! which leaves an all-zero vector at zero, so `l2` here means
//! [`ZeroVectorPolicy::KeepZero`].

use std::str::FromStr;

use imprint_core::{InputNorm, WeightNorm, ZeroVectorPolicy};

/// The reference's handling of an all-zero vector under L2 normalization.
pub const REFERENCE_ZERO_POLICY: ZeroVectorPolicy = ZeroVectorPolicy::KeepZero;

/// `none` or `l2` (with [`REFERENCE_ZERO_POLICY`]).
pub fn input_norm(name: &str) -> Option<InputNorm> {
    Some(match InputNorm::from_str(name).ok()? {
        InputNorm::None => InputNorm::None,
        InputNorm::L2(_) => InputNorm::L2(REFERENCE_ZERO_POLICY),
    })
}

/// `none`, `l2` (with [`REFERENCE_ZERO_POLICY`]) or `quantile`.
pub fn weight_norm(name: &str) -> Option<WeightNorm> {
    Some(match WeightNorm::from_str(name).ok()? {
        WeightNorm::L2(_) => WeightNorm::L2(REFERENCE_ZERO_POLICY),
        other => other,
    })
}

/// A proxy method of the reference (`mean`, `kmeans`, ..., `ls`, `kls`), as
/// the registry's own string.
pub fn proxy_method(name: &str) -> Option<&'static str> {
    imprint::GENERATOR_NAMES.iter().copied().find(|&n| n == name)
}

/// Any other setting whose library type parses the reference's spelling.
pub fn parsed<T: FromStr>(name: &str) -> Option<T> {
    name.parse().ok()
}

/// The known names of a setting, comma separated, for messages.
pub fn known(names: &[&str]) -> String {
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use imprint_core::{AggregationMethod, Distance, Weighting};
    use imprint_data::PresamplingMethod;

    use super::*;

    #[test]
    fn every_reference_name_reads_and_prints_back() {
        for n in ["none", "l2"] {
            assert_eq!(input_norm(n).unwrap().name(), n);
        }
        assert_eq!(input_norm("l2"), Some(InputNorm::L2(ZeroVectorPolicy::KeepZero)));
        for n in WeightNorm::NAMES {
            assert_eq!(weight_norm(n).unwrap().to_string(), n);
        }
        for n in Distance::NAMES {
            assert_eq!(parsed::<Distance>(n).unwrap().name(), n);
        }
        for n in Weighting::NAMES {
            assert_eq!(parsed::<Weighting>(n).unwrap().name(), n);
        }
        for n in AggregationMethod::NAMES {
            assert_eq!(parsed::<AggregationMethod>(n).unwrap().name(), n);
        }
        for n in PresamplingMethod::NAMES {
            assert_eq!(parsed::<PresamplingMethod>(n).unwrap().name(), n);
        }
        for n in ["mean", "kmeans", "kmedoids", "ls", "kls", "cov_max", "random", "fps", "all", "none"] {
            assert_eq!(proxy_method(n), Some(n));
        }
        assert_eq!(proxy_method("lmeans"), None);
        assert_eq!(input_norm("L2"), None);
    }
}
