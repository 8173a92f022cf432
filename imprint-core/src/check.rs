//! Validation of user arrays, done once at the boundary so that the numeric
//! kernels behind it can assume finite, non-empty input.

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::{ImprintError, Result};

/// Values one task of [`check_finite`] reads at least: spawning costs more
/// than checking fewer.
const CHECK_PER_TASK: usize = 1 << 16;

/// Checks that `x` has at least one row and one column and only finite values.
///
/// The error names `what` and, for a non-finite value, its row and column.
pub fn check_embeddings(x: ArrayView2<'_, f32>, what: &str) -> Result<()> {
    if x.nrows() == 0 {
        return Err(ImprintError::Empty { what: what.to_string() });
    }
    check_finite(x, what)
}

/// Checks that every value of `x` is finite and that it has at least one column;
/// zero rows are allowed.
pub fn check_finite(x: ArrayView2<'_, f32>, what: &str) -> Result<()> {
    if x.ncols() == 0 {
        return Err(ImprintError::ZeroDim { what: what.to_string() });
    }
    // A branch-free pass per row (it vectorizes); the position is looked up
    // only when something is wrong. Rows are read in parallel: the first bad
    // row is reported whatever the number of threads.
    let row_is_finite = |r: usize| {
        let r = x.row(r);
        match r.as_slice() {
            Some(r) => r.iter().fold(true, |ok, v| ok & v.is_finite()),
            None => r.iter().all(|v| v.is_finite()),
        }
    };
    let rows_per_task = (CHECK_PER_TASK / x.ncols()).max(1);
    let bad = (0..x.nrows()).into_par_iter().with_min_len(rows_per_task).find_first(|&r| !row_is_finite(r));
    if let Some(row) = bad {
        let (col, &value) =
            x.row(row).into_iter().enumerate().find(|(_, v)| !v.is_finite()).expect("a non-finite value");
        return Err(ImprintError::NonFinite { what: what.to_string(), row, col, value });
    }
    Ok(())
}

/// Checks that `x` has `dim` columns.
pub fn check_dim(x: ArrayView2<'_, f32>, dim: usize, op: &'static str) -> Result<()> {
    if x.ncols() != dim {
        return Err(ImprintError::mismatch(
            op,
            format!("{dim} columns"),
            format!("{} x {}", x.nrows(), x.ncols()),
        ));
    }
    Ok(())
}

/// The shots of one class: a validated view with at least one row, at least one
/// column and finite values only.
///
/// Proxy generators receive this type, so they never see NaN, Inf or an empty class.
#[derive(Debug, Clone, Copy)]
pub struct Shots<'a> {
    view: ArrayView2<'a, f32>,
}

impl<'a> Shots<'a> {
    /// Validates `view` (see [`check_embeddings`]); `what` names it in errors.
    pub fn new(view: ArrayView2<'a, f32>, what: &str) -> Result<Self> {
        check_embeddings(view, what)?;
        Ok(Self { view })
    }

    /// The samples, one per row.
    pub fn view(&self) -> ArrayView2<'a, f32> {
        self.view
    }

    /// Number of samples (rows), at least 1.
    pub fn n_shots(&self) -> usize {
        self.view.nrows()
    }

    /// Embedding dimension (columns), at least 1.
    pub fn dim(&self) -> usize {
        self.view.ncols()
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn rejects_empty_nan_inf_and_zero_dim() {
        let empty = ndarray::Array2::<f32>::zeros((0, 3));
        assert!(matches!(Shots::new(empty.view(), "c"), Err(ImprintError::Empty { .. })));
        let no_cols = ndarray::Array2::<f32>::zeros((2, 0));
        assert!(matches!(Shots::new(no_cols.view(), "c"), Err(ImprintError::ZeroDim { .. })));
        let nan = array![[1.0, 2.0], [3.0, f32::NAN]];
        let err = Shots::new(nan.view(), "class 7").unwrap_err();
        assert!(matches!(err, ImprintError::NonFinite { row: 1, col: 1, .. }));
        assert!(err.to_string().contains("class 7"));
        let inf = array![[f32::NEG_INFINITY, 2.0]];
        assert!(matches!(Shots::new(inf.view(), "c"), Err(ImprintError::NonFinite { row: 0, col: 0, .. })));
    }

    #[test]
    fn accepts_finite_rows() {
        let x = array![[1.0, 2.0], [3.0, 4.0]];
        let s = Shots::new(x.view(), "c").unwrap();
        assert_eq!((s.n_shots(), s.dim()), (2, 2));
    }
}
