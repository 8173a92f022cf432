//! # imprint-baselines
//!
//! Oracles for weight imprinting. Unlike imprinting, they use statistics
//! across all classes, so they bound what a linear head can reach on a task:
//!
//! - [`LeastSquares`] (`ls`): `W = (1/C) M^T (Sigma_T + mu_G mu_G^T + lambda I)^-1`,
//!   one weight vector per class;
//! - [`KLeastSquares`] (`kls`): the same over `k` k-means pseudo-classes per class.
//!
//! Lambda depends on the backbone ([`lambda_for_backbone`]); both are solved
//! by Cholesky in f64, never by an explicit inverse.
//!
//! ```
//! use imprint_baselines::{LeastSquaresParams, lambda_for_backbone};
//! use imprint_core::ImprintedHead;
//! use ndarray::array;
//!
//! # fn main() -> Result<(), imprint_core::ImprintError> {
//! let cats = array![[1.0f32, 0.1], [0.9, -0.1]];
//! let dogs = array![[0.1f32, 1.0], [-0.1, 0.8]];
//! let lambda = lambda_for_backbone("swin_b").expect("known backbone");
//! let weights = LeastSquaresParams::new(lambda).check()?.fit(&[cats.view(), dogs.view()])?;
//!
//! let mut head = ImprintedHead::new(2)?;
//! head.add_class("cat", weights.slice(ndarray::s![0..1, ..]))?;
//! head.add_class("dog", weights.slice(ndarray::s![1..2, ..]))?;
//! assert_eq!(head.predict(array![[1.0f32, 0.0], [0.0, 1.0]].view())?, vec![0, 1]);
//! # Ok(())
//! # }
//! ```

mod k_least_squares;
mod lambda;
mod least_squares;

pub use k_least_squares::{KLeastSquares, KLeastSquaresParams};
pub use lambda::{KNOWN_LAMBDAS, lambda_for_backbone};
pub use least_squares::{LeastSquares, LeastSquaresParams};
