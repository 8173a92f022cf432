//! Validation of user arrays, done once at the boundary so that the numeric
//! kernels behind it can assume finite, non-empty input.

use ndarray::{ArrayView2, s};
use pulp::{Simd, WithSimd};
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
    // Blocks of rows are read in parallel, each on the machine's widest
    // vectors; the position is looked up only when something is wrong, in the
    // first bad block, so the first bad row is reported whatever the number of
    // threads.
    let rows_per_task = (CHECK_PER_TASK / x.ncols()).max(1);
    let block = |start: usize| x.slice(s![start..(start + rows_per_task).min(x.nrows()), ..]);
    let block_is_finite = |start: usize| {
        let rows = block(start);
        match rows.as_slice() {
            Some(values) => all_finite(values),
            None => rows.rows().into_iter().all(|r| r.iter().all(|v| v.is_finite())),
        }
    };
    let starts: Vec<usize> = (0..x.nrows()).step_by(rows_per_task).collect();
    if let Some(start) = starts.into_par_iter().find_first(|&start| !block_is_finite(start)) {
        let (row, col, value) = block(start)
            .indexed_iter()
            .find(|(_, v)| !v.is_finite())
            .map(|((r, c), &v)| (start + r, c, v))
            .expect("a non-finite value");
        return Err(ImprintError::NonFinite { what: what.to_string(), row, col, value });
    }
    Ok(())
}

/// Whether every value is finite, on the machine's widest vectors.
fn all_finite(values: &[f32]) -> bool {
    pulp::Arch::new().dispatch(AllFinite(values))
}

/// `x * 0` is NaN exactly where `x` is NaN or infinite, and a NaN survives
/// every later sum, so one fused multiply-add per vector decides (the
/// compiler does not vectorize `is_finite` past the baseline's 4 lanes).
struct AllFinite<'a>(&'a [f32]);

impl WithSimd for AllFinite<'_> {
    type Output = bool;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> bool {
        let (vectors, tail) = S::as_simd_f32s(self.0);
        let zero = simd.splat_f32s(0.0);
        let nan_if_any = vectors.iter().fold(zero, |acc, &v| simd.mul_add_e_f32s(v, zero, acc));
        simd.reduce_sum_f32s(nan_if_any) == 0.0 && tail.iter().all(|v| v.is_finite())
    }
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

    /// Every position of a bad value, in shapes around the vector widths and
    /// across blocks of rows, standard and transposed: the first bad value in
    /// row-major order is the one reported, on any number of threads.
    #[test]
    fn reports_the_first_bad_value_wherever_it_is() {
        let large_rows = CHECK_PER_TASK / 3 + 5;
        for (rows, cols) in [(1, 1), (3, 5), (2, 16), (5, 17), (4, 33), (large_rows, 3)] {
            let positions: Vec<(usize, usize)> = if rows * cols <= 200 {
                (0..rows).flat_map(|r| (0..cols).map(move |c| (r, c))).collect()
            } else {
                vec![(0, 0), (rows / 2, 1), (rows - 1, cols - 1), (CHECK_PER_TASK / 3, 2)]
            };
            for &(r, c) in &positions {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut x =
                        ndarray::Array2::from_shape_fn((rows, cols), |(i, j)| (i * cols + j) as f32 - 7.5);
                    x[[r, c]] = bad;
                    // A second bad value later in row-major order is not the one reported.
                    if r + 1 < rows {
                        x[[r + 1, 0]] = f32::NAN;
                    }
                    for threads in [1, 2, 3] {
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                        let got = pool.install(|| check_finite(x.view(), "x"));
                        assert!(
                            matches!(got, Err(ImprintError::NonFinite { row, col, .. }) if row == r && col == c),
                            "{rows}x{cols}, bad at ({r}, {c}), {threads} threads: {got:?}"
                        );
                        let t = x.t();
                        let got = pool.install(|| check_finite(t, "x"));
                        let first = (0..cols)
                            .flat_map(|j| (0..rows).map(move |i| (j, i)))
                            .find(|&(j, i)| !t[[j, i]].is_finite())
                            .unwrap();
                        assert!(
                            matches!(got, Err(ImprintError::NonFinite { row, col, .. }) if (row, col) == first),
                            "transposed {rows}x{cols}: {got:?}"
                        );
                    }
                }
            }
            let fine = ndarray::Array2::from_shape_fn((rows, cols), |(i, j)| f32::MAX / (1 + i + j) as f32);
            assert!(check_finite(fine.view(), "x").is_ok());
            assert!(check_finite(fine.t(), "x").is_ok());
        }
    }

    #[test]
    fn accepts_finite_rows() {
        let x = array![[1.0, 2.0], [3.0, 4.0]];
        let s = Shots::new(x.view(), "c").unwrap();
        assert_eq!((s.n_shots(), s.dim()), (2, 2));
    }
}
