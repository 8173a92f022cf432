//! # imprint-core
//!
//! Weight imprinting sets a classifier head directly from embeddings of a
//! frozen foundation model, without gradient training. For each class `c`
//! with training embeddings `X_c`, the IMPRINT framework
//! (Westerhoff et al., "Robust Weight Imprinting", TMLR) composes
//!
//! 1. **NORMpre** ([`InputNorm`]): optional L2 normalization of `X_c`;
//! 2. **GEN** ([`ProxyGenerator`]): a few proxies `P_c` from `X_c` alone
//!    (mean, k-means centroids, ...; implementations in `imprint-gen`);
//! 3. **NORMpost** ([`WeightNormalizer`], [`WeightNorm`]): none, L2 or
//!    quantile normalization of `P_c`;
//! 4. the **head** ([`ImprintedHead`]): the proxies of all classes, grouped by class;
//! 5. **NORMinf** ([`InputNorm`]): optional L2 normalization of a query `x`;
//! 6. **AGG** ([`Aggregator`], [`Aggregation`]): `max_p <p, x>` per class, or a
//!    vote of the `m` nearest proxies under a [`Distance`].
//!
//! The crate also measures results ([`metrics`]) and neural collapse
//! ([`collapse`]), which predicts when more than one proxy per class pays off.
//!
//! Core never touches files: heads are saved to any [`std::io::Write`].
//!
//! ```
//! use imprint_core::{Aggregation, ImprintedHead, InputNorm, ZeroVectorPolicy};
//! use ndarray::{array, Axis};
//!
//! # fn main() -> Result<(), imprint_core::ImprintError> {
//! // Embeddings of two classes from a frozen backbone.
//! let cats = array![[0.9f32, 0.1, 0.0], [1.1, -0.1, 0.1]];
//! let dogs = array![[0.0f32, 1.0, 0.2], [0.1, 0.8, 0.0]];
//!
//! // Imprint one proxy per class (the class mean) into an L2-normalizing head.
//! let mut head = ImprintedHead::with_inference(
//!     3,
//!     InputNorm::L2(ZeroVectorPolicy::Reject),
//!     Aggregation::max(),
//! )?;
//! for (name, shots) in [("cat", &cats), ("dog", &dogs)] {
//!     let mean = shots.mean_axis(Axis(0)).expect("non-empty").insert_axis(Axis(0));
//!     head.add_class(name, mean.view())?;
//! }
//!
//! let queries = array![[1.0f32, 0.0, 0.0], [0.0, 0.9, 0.1]];
//! assert_eq!(head.predict(queries.view())?, vec![0, 1]);
//!
//! // Save and load the head; the round trip is exact.
//! let mut saved = Vec::new();
//! head.save_json(&mut saved)?;
//! assert_eq!(ImprintedHead::load_json(saved.as_slice())?, head);
//! # Ok(())
//! # }
//! ```

mod aggregate;
mod check;
pub mod collapse;
mod distance;
mod error;
pub mod gemm;
mod generator;
mod gram;
mod head;
mod imprinter;
mod mahalanobis;
pub mod metrics;
mod norm;
mod presampler;
mod quantile;
pub mod random;
pub mod reference_rng;
mod running_mean;
mod tiled;
mod weight_norm;

pub use aggregate::{
    AggregateExt, Aggregation, AggregationMethod, Aggregator, MnnParams, Neighbours, VOTE_EPSILON, Weighting,
    argmax_rows,
};
pub use check::{Shots, check_dim, check_embeddings, check_finite};
pub use collapse::{Centering, Collapse, neural_collapse};
pub use distance::{Distance, MAHALANOBIS_RIDGE, pairwise};
pub use error::{ImprintError, Result};
pub use generator::{GenerateExt, Generator, Incremental, JointGenerateExt, JointGenerator, ProxyGenerator};
pub use head::{ImprintedHead, SAVED_HEAD_FORMAT, SAVED_HEAD_VERSION};
pub use imprinter::{Generated, Imprinter, TaskReport};
pub use norm::{InputNorm, ZeroVectorPolicy, l2_normalize_rows, l2_normalize_rows_in_place, sum_of_squares};
pub use presampler::Presampler;
pub use quantile::{reference_levels, torch_quantile};
pub use random::{Stream, StreamRng, stream_rng};
pub use reference_rng::{RandomState, RngMode, TorchGenerator};
pub use running_mean::RunningMean;
pub use weight_norm::{WeightNorm, WeightNormalizer};

/// Re-exported so that generator authors use the same RNG traits.
pub use rand::RngCore;
