//! # imprint-gen
//!
//! Proxy generators, the GEN stage of weight imprinting: each turns the shots
//! `X_c` (`n` samples of dimension `d`) of *one* class into at most `k`
//! proxies, which become that class's rows of the imprinted head. They
//! implement [`imprint_core::ProxyGenerator`]; call them through
//! [`imprint_core::GenerateExt::generate`] (which keeps all `n` samples when
//! `n < k`) or through an [`imprint_core::Imprinter`].
//!
//! | name | type | proxies |
//! |------|------|---------|
//! | `all` | [`All`] | every sample `x_i` |
//! | `random` | [`RandomSamples`] | `k` distinct samples drawn uniformly |
//! | `mean` | [`Mean`] | `mu = (1/n) sum_i x_i` (`k = 1`) |
//! | `kmeans` | [`KMeans`] | centroids minimizing `sum_i min_j ||x_i - c_j||^2` (Lloyd from greedy k-means++, scikit-learn semantics) |
//! | `kmedoids` | [`KMedoids`] | samples `m_j` locally minimizing `sum_i min_j ||x_i - m_j||` (alternate, heuristic init, scikit-learn-extra semantics) |
//! | `fps` | [`FarthestPoint`] | greedy `argmax_i min_{s chosen} ||x_i - x_s||` from a random start |
//! | `cov_max` | [`CovMax`] | the `k` samples with the largest `sum_i Cov(x_i, x_j)`, the covariance taken over features |
//! | `none` | [`XavierRandom`] | `U(-a, a)` entries, `a = sqrt(6 / (k + d))`: a control |
//!
//! Every generator is configured by a params builder validated once
//! (`KMeansParams::new(k).check()?`), or by name with [`generator_by_name`].
//! All randomness comes from the RNG passed in, and the results do not depend
//! on the number of rayon threads. Distances in k-means and k-medoids are
//! `||x||^2 - 2 x.y + ||y||^2` with the inner products from a faer GEMM.
//!
//! Adding a generator: write `src/<name>.rs` with its params, the checked type,
//! the [`imprint_core::ProxyGenerator`] impl and a `from_config` constructor,
//! declare the module below and add one line to the registry table.
//!
//! ```
//! use imprint_core::{ImprintedHead, Imprinter};
//! use imprint_gen::KMeansParams;
//! use ndarray::Array2;
//!
//! # fn main() -> Result<(), imprint_core::ImprintError> {
//! // Two classes in 2-d, each made of three tight groups of 20 samples.
//! let class = |centre: [f32; 2]| {
//!     Array2::from_shape_fn((60, 2), |(i, j)| {
//!         let group = (i % 3) as f32 - 1.0;
//!         let jitter = 0.01 * ((i * 7 + j * 3) % 5) as f32;
//!         centre[j] + if j == 0 { 0.3 * group } else { 0.0 } + jitter
//!     })
//! };
//! let (left, right) = (class([1.0, 0.2]), class([0.2, 1.0]));
//!
//! // Three k-means centroids per class, L2-normalized (the default NORMpost).
//! let imprinter = Imprinter::new(KMeansParams::new(3).check()?).with_seed(17121997);
//! let mut head = ImprintedHead::new(2)?;
//! imprinter.imprint_task(&mut head, &[("left", left.view()), ("right", right.view())])?;
//! assert_eq!(head.n_proxies(), 6);
//!
//! let queries = ndarray::array![[1.0f32, 0.1], [0.1, 1.0]];
//! assert_eq!(head.predict(queries.view())?, vec![0, 1]);
//! # Ok(())
//! # }
//! ```

mod all;
mod covmax;
mod fps;
mod kmeans;
mod kmedoids;
mod lloyd;
mod mean;
mod none;
mod random;
mod registry;
mod util;

pub use all::All;
pub use covmax::{CovMax, CovMaxParams};
pub use fps::{FarthestPoint, FarthestPointParams};
pub use kmeans::{KMeans, KMeansFit, KMeansParams, SklearnInput};
pub use kmedoids::{KMedoids, KMedoidsFit, KMedoidsParams};
pub use mean::Mean;
pub use none::{XavierRandom, XavierRandomParams};
pub use random::{RandomSamples, RandomSamplesParams};
pub use registry::{GENERATOR_NAMES, generator_by_name, generator_by_name_with};
