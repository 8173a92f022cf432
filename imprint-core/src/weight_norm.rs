//! The NORMpost stage: normalizing freshly generated proxies before they enter the head.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::norm::{ZeroVectorPolicy, l2_normalize_rows};
use crate::quantile::{assign_by_rank, quantile_targets};
use crate::{ImprintError, Result};

/// A proxy normalizer (NORMpost). It sees the new proxies of one class and the
/// weights already imprinted in the head (earlier classes, after their own
/// normalization), which quantile normalization uses as its reference.
pub trait WeightNormalizer: Send + Sync + fmt::Debug {
    /// Name as used in configuration files.
    fn name(&self) -> &str;

    /// Returns the normalized proxies (same shape as `proxies`).
    fn normalize(&self, proxies: ArrayView2<'_, f32>, imprinted: ArrayView2<'_, f32>) -> Result<Array2<f32>>;
}

/// The built-in proxy normalizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightNorm {
    /// Proxies stay as generated.
    #[default]
    None,
    /// Each proxy scaled to unit L2 norm (Qi et al.).
    L2(ZeroVectorPolicy),
    /// Each proxy's sorted entries replaced by the quantiles
    /// `quantile(ref, (i + 0.5) / d)`, `ref` = every weight already in the head
    /// (Hosoda et al.). With an empty head the proxies stay as they are, so
    /// results depend on the order in which classes are imprinted.
    Quantile,
}

impl WeightNorm {
    /// Every configuration name, for error messages.
    pub const NAMES: [&'static str; 3] = ["none", "l2", "quantile"];
}

impl WeightNormalizer for WeightNorm {
    fn name(&self) -> &str {
        match self {
            Self::None => "none",
            Self::L2(_) => "l2",
            Self::Quantile => "quantile",
        }
    }

    fn normalize(&self, proxies: ArrayView2<'_, f32>, imprinted: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        match *self {
            Self::None => Ok(proxies.to_owned()),
            Self::L2(policy) => l2_normalize_rows(proxies, policy, "proxies (NORMpost = l2)"),
            Self::Quantile => Ok(match quantile_targets(imprinted, proxies.ncols()) {
                None => proxies.to_owned(),
                Some(targets) => assign_by_rank(proxies, &targets),
            }),
        }
    }
}

impl fmt::Display for WeightNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WeightNorm {
    type Err = ImprintError;

    /// Parses `none`, `l2` (with [`ZeroVectorPolicy::Reject`]) or `quantile`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "l2" => Ok(Self::L2(ZeroVectorPolicy::Reject)),
            "quantile" => Ok(Self::Quantile),
            _ => Err(ImprintError::UnknownName {
                kind: "weight normalization",
                name: s.to_string(),
                known: Self::NAMES.iter().map(|n| n.to_string()).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    #[test]
    fn quantile_with_empty_head_is_identity() {
        let p = array![[1.0f32, -2.0]];
        let empty = Array2::<f32>::zeros((0, 2));
        assert_eq!(WeightNorm::Quantile.normalize(p.view(), empty.view()).unwrap(), p);
    }

    #[test]
    fn names_parse() {
        for n in WeightNorm::NAMES {
            assert_eq!(n.parse::<WeightNorm>().unwrap().name(), n);
        }
        assert!(matches!("max".parse::<WeightNorm>(), Err(ImprintError::UnknownName { .. })));
    }
}
