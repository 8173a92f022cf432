//! The named choices of a config file (normalizations, methods, distances),
//! spelled exactly as in the reference's configs and records.

use std::fmt;

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every choice, in the order of the reference's documentation.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name as written in configs and records.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Looks a name up; `None` if unknown.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The known names, comma separated (for error messages).
            pub fn known_names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }

            /// What this choice is, for error messages.
            pub const WHAT: &'static str = $what;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// NORMpre / NORMinf: `normalize_for_proxy_selection` and `normalize_input_data`.
    InputNorm, "normalization", {
        /// No normalization.
        None => "none",
        /// L2 normalization of every embedding.
        L2 => "l2",
    }
);

named_enum!(
    /// NORMpost: `normalize_weights`.
    WeightNorm, "weight normalization", {
        /// Proxies stay as generated.
        None => "none",
        /// L2 normalization of every proxy.
        L2 => "l2",
        /// Quantile normalization against the weights already in the head.
        Quantile => "quantile",
    }
);

named_enum!(
    /// `presampling_method`: statistical prefiltering of a class's samples.
    PresamplingMethod, "presampling method", {
        /// Keep every sample.
        All => "all",
        /// Keep samples whose distance to the mean lies within Weibull quantiles.
        Weibull => "weibull",
    }
);

named_enum!(
    /// GEN: `proxy_method`.
    ProxyMethod, "proxy method", {
        /// The class mean (k forced to 1).
        Mean => "mean",
        /// k-means centroids.
        Kmeans => "kmeans",
        /// k-medoids.
        Kmedoids => "kmedoids",
        /// Least-squares oracle (k forced to 1).
        Ls => "ls",
        /// k-least-squares oracle.
        Kls => "kls",
        /// The k samples with the largest covariance column sums.
        CovMax => "cov_max",
        /// k random samples.
        Random => "random",
        /// Farthest-point sampling.
        Fps => "fps",
        /// Every sample is a proxy (k forced to -1).
        All => "all",
        /// k random Xavier-uniform vectors (a control).
        None => "none",
    }
);

named_enum!(
    /// AGG: `aggregation_method`.
    AggregationMethod, "aggregation method", {
        /// Maximum over each class's proxies.
        Max => "max",
        /// Vote of the m nearest proxies.
        Mnn => "mnn",
    }
);

named_enum!(
    /// AGG: `aggregation_distance_function`.
    DistanceFunction, "distance function", {
        /// Inner product (for `max`; cosine for `mnn`).
        InnerProduct => "inner_product",
        /// Cosine distance.
        Cosine => "cosine",
        /// Euclidean distance.
        Euclidean => "euclidean",
        /// Manhattan distance.
        Manhattan => "manhattan",
        /// Mahalanobis distance with the proxies' covariance.
        Mahalanobis => "mahalanobis",
        /// Chebyshev distance.
        Chebyshev => "chebyshev",
    }
);

named_enum!(
    /// AGG: `aggregation_weighting` of the m-NN vote.
    Weighting, "aggregation weighting", {
        /// Every neighbour counts once.
        Uniform => "uniform",
        /// Weights 1 / (distance + 1e-10).
        WeightedByDistance => "weighted_by_distance",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in ProxyMethod::ALL {
            assert_eq!(ProxyMethod::from_name(m.as_str()), Some(*m));
        }
        assert_eq!(ProxyMethod::from_name("lmeans"), None);
        assert_eq!(DistanceFunction::from_name("chebyshev"), Some(DistanceFunction::Chebyshev));
        assert!(ProxyMethod::known_names().contains("cov_max"));
    }
}
