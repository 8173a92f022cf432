//! Running the paper's experiment grid on embeddings, and the benchmark
//! harness.
//!
//! * [`runner`]: runs the combinations of an [`imprint_compat::ExperimentGrid`]
//!   on embeddings in the reference layout. Every combination imprints
//!   through the library's [`imprint_core::Imprinter`] (the same path a user
//!   calls) and writes one record atomically ([`store::ResultStore`]); a
//!   killed run resumes where it stopped.
//! * [`reproduce`]: `cargo xtask reproduce` as a library function: configs
//!   (the bundled [`presets`] or the reference's own files), checks, NC1 per
//!   task, the grid, then the report of `imprint-report`.
//! * [`workloads`]: seeded data at the paper's sizes, shared by the criterion
//!   benches (`benches/`) and `cargo xtask bench-peers`.
//!
//! ```
//! use imprint_bench::reproduce::{ReproduceOptions, dry_run};
//!
//! # fn main() -> Result<(), imprint_bench::BenchError> {
//! // The combinations of the bundled presets, without running them.
//! let counts = dry_run(&ReproduceOptions::presets("data", "results"))?;
//! assert!(counts.iter().map(|(_, n)| n).sum::<usize>() > 2000);
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod presets;
pub mod reproduce;
pub mod runner;
pub mod sources;
pub mod store;
pub mod workloads;

pub use error::{BenchError, Result};
pub use store::ResultStore;
