//! # imprint-py
//!
//! The Rust half of the Python package `imprint-rs` (import name
//! `imprint_rs`): the extension module `imprint_rs._core`, a thin door over
//! the [`imprint`] crate. The scikit-learn estimator `ImprintClassifier`, its
//! input validation and its label handling are Python
//! (`python/imprint_rs/`); this crate converts arrays and errors and calls
//! the library, with no imprinting path of its own.
//!
//! - Arrays come in as `numpy` `float32` views (`PyReadonlyArray2<f32>`,
//!   no copy; the Python side converts other dtypes and layouts once) and go
//!   out as new NumPy arrays that take over Rust's buffers.
//! - Every computation runs with the interpreter detached (`Python::detach`,
//!   formerly `allow_threads`), so other Python threads run meanwhile.
//! - Every [`imprint::ImprintError`] becomes a `ValueError` carrying the
//!   library's message; no input reaches a panic.
//!
//! The bindings are behind the `python` feature (maturin turns on
//! `extension-module`, which implies it): without it the crate is empty, so
//! that `cargo test --workspace` builds without a Python interpreter, which
//! PyO3's build script needs.

#[cfg(feature = "python")]
mod classifier;
#[cfg(feature = "python")]
mod convert;
#[cfg(feature = "python")]
mod functions;

#[cfg(feature = "python")]
pub use module::_core;

#[cfg(feature = "python")]
mod module {
    use pyo3::prelude::*;

    /// The extension module `imprint_rs._core`. It needs no GIL (on a
    /// free-threaded CPython it runs without one): `_Classifier` never
    /// changes once made and the functions share no state.
    #[pymodule(gil_used = false)]
    pub fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add_class::<crate::classifier::PyClassifier>()?;
        m.add_function(wrap_pyfunction!(crate::functions::kmeans, m)?)?;
        m.add_function(wrap_pyfunction!(crate::functions::neural_collapse, m)?)?;
        m.add("GENERATOR_NAMES", imprint::GENERATOR_NAMES.to_vec())?;
        m.add("PAPER_SEED", imprint::PAPER_SEED)?;
        m.add("FORMAT", imprint::FORMAT)?;
        m.add("VERSION", imprint::VERSION)?;
        Ok(())
    }
}
