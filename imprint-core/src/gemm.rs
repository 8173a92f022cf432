//! Bridge between ndarray views (our API) and faer's GEMM (our hot path).
//!
//! Every distance and score computation that can be written as a matrix
//! product goes through here, so its speed is faer's GEMM speed.
//!
//! The public functions check their shapes and return [`crate::Result`]; the
//! crate's own kernels use unchecked variants on arrays they built.
//!
//! Determinism: faer splits a product across threads by output blocks, never
//! along the summed dimension, so every output entry is summed in the same
//! order on any thread count.

use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};

use crate::tiled::{Dot, Layout};
use crate::{ImprintError, Result};

/// Up to this many rows of `b`, [`dots_seq`] uses its own register-tiled
/// kernel instead of faer's GEMM. faer packs `a` for every product, which
/// dominates when `b` is thin: 6,000 x 512 rows against 4 rows took 0.9 ms in
/// faer and 0.26 ms here on one core (k-means++ candidates, few proxies).
pub const THIN_ROWS: usize = 8;

/// The parallelism faer uses here: the threads of the current rayon pool.
pub fn parallelism() -> Par {
    match rayon::current_num_threads() {
        0 | 1 => Par::Seq,
        n => Par::rayon(n),
    }
}

/// [`parallelism`] for a product with an `rows x cols` output. A single row
/// or column makes faer compute matrix-vector products, which it splits
/// across threads along the summed dimension (one partial sum per thread, so
/// the result would depend on the thread count); those run on the calling
/// thread. Larger outputs are split by output blocks only.
pub fn parallelism_for(rows: usize, cols: usize) -> Par {
    if rows <= 1 || cols <= 1 { Par::Seq } else { parallelism() }
}

/// Views a standard-layout (row-major, contiguous) ndarray as a faer matrix.
///
/// # Errors
/// [`ImprintError::InvalidParameter`] if `x` is not in standard layout
/// (convert with [`ndarray::ArrayBase::as_standard_layout`] first).
pub fn as_faer<T>(x: ArrayView2<'_, T>) -> Result<MatRef<'_, T>> {
    match x.to_slice() {
        Some(slice) => Ok(MatRef::from_row_major_slice(slice, x.nrows(), x.ncols())),
        None => Err(ImprintError::invalid(
            "layout",
            "strided",
            "as_faer needs a standard-layout (row-major) view",
        )),
    }
}

/// [`as_faer`] for arrays the crate made itself in standard layout.
///
/// # Panics
/// If `x` is not in standard layout (an internal invariant).
pub(crate) fn faer_ref<T>(x: ArrayView2<'_, T>) -> MatRef<'_, T> {
    let slice = x.to_slice().expect("internal: view must be in standard layout");
    MatRef::from_row_major_slice(slice, x.nrows(), x.ncols())
}

/// Mutable counterpart of [`faer_ref`].
///
/// # Panics
/// If `x` is not in standard layout.
pub(crate) fn as_faer_mut<'a, T>(x: &'a mut ArrayViewMut2<'_, T>) -> MatMut<'a, T> {
    let (nrows, ncols) = x.dim();
    let slice = x.as_slice_mut().expect("internal: view must be in standard layout");
    MatMut::from_row_major_slice_mut(slice, nrows, ncols)
}

/// `a * b^T`: the inner products of every row of `a` with every row of `b`.
///
/// # Errors
/// [`ImprintError::DimensionMismatch`] if `a` and `b` have different numbers of columns.
pub fn matmul_abt<T>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Result<Array2<T>>
where
    T: ComplexField + Copy + num_traits::Zero + num_traits::One,
{
    check_inner("matmul_abt", a.ncols(), b.ncols())?;
    let mut out = Array2::<T>::zeros((a.nrows(), b.nrows()));
    matmul_abt_into(a, b, out.view_mut(), Accum::Replace, T::one());
    Ok(out)
}

fn check_inner(op: &'static str, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(ImprintError::mismatch(op, format!("equal inner dimensions ({a})"), b));
    }
    Ok(())
}

/// `out = alpha * a * b^T` (`accum` = Replace) or `out += alpha * a * b^T` (Add).
///
/// # Panics
/// If the shapes do not agree or `out` is not in standard layout.
pub(crate) fn matmul_abt_into<T>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    mut out: ArrayViewMut2<'_, T>,
    accum: Accum,
    alpha: T,
) where
    T: ComplexField + Copy,
{
    assert_eq!(a.ncols(), b.ncols(), "internal: inner dimensions differ");
    assert_eq!(out.dim(), (a.nrows(), b.nrows()), "internal: output shape");
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    let lhs = faer_ref(a.view());
    let rhs = faer_ref(b.view()).transpose();
    let par = parallelism_for(out.nrows(), out.ncols());
    faer::linalg::matmul::matmul(as_faer_mut(&mut out), accum, lhs, rhs, alpha, par);
}

/// `a * b^T` on the calling thread, for callers that parallelize over blocks
/// of rows themselves (so the split, and every sum, is the same for any
/// number of threads).
///
/// # Errors
/// [`ImprintError::DimensionMismatch`] if `a` and `b` have different numbers of columns.
pub fn dots_seq(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
    check_inner("dots_seq", a.ncols(), b.ncols())?;
    let mut out = Array2::<f32>::zeros((a.nrows(), b.nrows()));
    dots_seq_into(a, b, out.view_mut());
    Ok(out)
}

/// [`dots_seq`] into `out` (`a.nrows() x b.nrows()`, standard layout).
///
/// # Panics
/// If the shapes do not agree or `out` is not in standard layout.
pub(crate) fn dots_seq_into(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, mut out: ArrayViewMut2<'_, f32>) {
    assert_eq!(a.ncols(), b.ncols(), "internal: inner dimensions differ");
    assert_eq!(out.dim(), (a.nrows(), b.nrows()), "internal: output shape");
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    if b.nrows() <= THIN_ROWS && a.ncols() > 0 {
        let dim = a.ncols();
        let (a, b) = (a.as_slice().expect("standard layout"), b.as_slice().expect("standard layout"));
        let out = out.as_slice_mut().expect("internal: output must be in standard layout");
        crate::tiled::pairwise_into::<Dot>(a, b, dim, out, Layout::RowsOfA);
        return;
    }
    faer::linalg::matmul::matmul(
        as_faer_mut(&mut out),
        Accum::Replace,
        faer_ref(a.view()),
        faer_ref(b.view()).transpose(),
        1.0f32,
        Par::Seq,
    );
}

/// `a * b^T` on the calling thread, for row-major `a` (`n_a x dim`), `b`
/// (`n_b x dim`) and `out` (`n_a x n_b`), with the register-tiled kernel that
/// [`dots_seq`] uses for thin `b`, for any number of rows of `b`: no packing,
/// so rows of `a` stream from memory once per tile and stay in the L1 cache
/// for whatever the caller does with them next (k-means sums them).
///
/// Every entry is summed in the same order whatever the tile shape (SIMD lanes
/// across the dimension, each lane by fused multiply-adds in order, then the
/// lanes by [`pulp::Simd::reduce_sum_f32s`], then the scalar tail), so it equals
/// [`dots_seq`]'s for `n_b <=` [`THIN_ROWS`] bit for bit.
///
/// # Panics
/// If the slice lengths do not match `dim` (with `dim > 0`).
pub fn dots_tiled_into(a: &[f32], b: &[f32], dim: usize, out: &mut [f32]) {
    crate::tiled::pairwise_into::<Dot>(a, b, dim, out, Layout::RowsOfA);
}

/// [`dots_tiled_into`] with `out` transposed (`n_b x n_a`: the entry of `a`
/// row `i` and `b` row `j` at `j * n_a + i`), by the same tiles, so with the
/// same bits: for a caller that reads one row of `b` against consecutive rows
/// of `a` (Lloyd's argmin compares one centre with every row of a part).
///
/// # Panics
/// If the slice lengths do not match `dim` (with `dim > 0`).
pub fn dots_tiled_t_into(a: &[f32], b: &[f32], dim: usize, out: &mut [f32]) {
    crate::tiled::pairwise_into::<Dot>(a, b, dim, out, Layout::RowsOfB);
}

/// The arithmetic of [`add_gram_of_rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GramPrecision {
    /// Products and sums in f64: the products of f32 data are exact, and
    /// only the sums round (the default).
    #[default]
    F64,
    /// Rows rounded to f32, products summed in f32 over each 128 rows, those
    /// partial sums added in f64: twice the f64 vector width, with an error
    /// per entry of one f32 dot product of 128 terms (a whole f32 product,
    /// such as `torch`'s `X.T @ X`, sums every row in f32). An explicit choice.
    F32,
}

/// Adds `alpha * y^T y` to the lower triangle (diagonal included) of the
/// `dim x dim` matrix `out`, where the rows of `y` are `map(row of x)` in f64,
/// and returns the column sums of `y` (unscaled; they come free with the
/// packing): a symmetric product computes only half of the entries, and
/// rows are mapped straight into the kernel's packed layout, never copied as
/// a whole. The upper triangle of `out` is left alone (see [`symmetrize_lower`]).
///
/// `map(i, row, out)` writes the f64 row to use for row `i` of `x` (e.g. a
/// normalized, centred copy); `precision` says in which type its products
/// are taken (the column sums are f64 sums of the mapped rows either way).
/// Every product is one sum over each 128 rows in order, those sums added in
/// order, and every column sum one over each 16 rows (the crate's `gram` module), so
/// both are the same on any number of threads.
///
/// # Errors
/// [`ImprintError::DimensionMismatch`] if `out` is not `dim x dim` for `dim = x.ncols()`.
pub fn add_gram_of_rows(
    x: ArrayView2<'_, f32>,
    alpha: f64,
    out: &mut Array2<f64>,
    precision: GramPrecision,
    map: impl Fn(usize, ndarray::ArrayView1<'_, f32>, &mut [f64]) + Sync,
) -> Result<Array1<f64>> {
    let dim = x.ncols();
    if out.dim() != (dim, dim) {
        return Err(ImprintError::mismatch(
            "add_gram_of_rows",
            format!("{dim} x {dim}"),
            format!("{:?}", out.dim()),
        ));
    }
    let out = out.as_slice_mut().ok_or_else(|| {
        ImprintError::mismatch("add_gram_of_rows", "an output in standard layout", "a strided view")
    })?;
    let row = |i: usize, target: &mut [f64]| map(i, x.row(i), target);
    let sums = match precision {
        GramPrecision::F64 => gram_into::<f64>(x.nrows(), dim, row, alpha, out),
        GramPrecision::F32 => gram_into::<f32>(x.nrows(), dim, row, alpha, out),
    };
    Ok(Array1::from_vec(sums))
}

/// [`add_gram_of_rows`] with products in `E`.
fn gram_into<E: crate::gram::Element>(
    rows: usize,
    dim: usize,
    row: impl Fn(usize, &mut [f64]) + Sync,
    alpha: f64,
    out: &mut [f64],
) -> Vec<f64> {
    let mut gram = crate::gram::Gram::<E>::new(dim);
    gram.add(rows, row);
    gram.add_lower_to(alpha, out);
    gram.sums().to_vec()
}

/// Copies the lower triangle of a square matrix onto its upper triangle.
///
/// # Errors
/// [`ImprintError::DimensionMismatch`] if `a` is not square.
pub fn symmetrize_lower(a: &mut Array2<f64>) -> Result<()> {
    if a.nrows() != a.ncols() {
        return Err(ImprintError::mismatch("symmetrize_lower", "a square matrix", format!("{:?}", a.dim())));
    }
    for i in 0..a.nrows() {
        for j in 0..i {
            a[[j, i]] = a[[i, j]];
        }
    }
    Ok(())
}

/// `a^T * b`: e.g. the Gram matrix `X^T X` of the features when `a = b = X`.
///
/// # Errors
/// [`ImprintError::DimensionMismatch`] if `a` and `b` have different numbers of rows.
pub fn matmul_atb<T>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Result<Array2<T>>
where
    T: ComplexField + Copy + num_traits::Zero + num_traits::One,
{
    check_inner("matmul_atb", a.nrows(), b.nrows())?;
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    let mut out = Array2::<T>::zeros((a.ncols(), b.ncols()));
    let lhs = faer_ref(a.view()).transpose();
    let rhs = faer_ref(b.view());
    faer::linalg::matmul::matmul(
        as_faer_mut(&mut out.view_mut()),
        Accum::Replace,
        lhs,
        rhs,
        T::one(),
        parallelism_for(a.ncols(), b.ncols()),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    fn naive_abt(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        Array2::from_shape_fn((a.nrows(), b.nrows()), |(i, j)| {
            (0..a.ncols()).map(|k| a[[i, k]] * b[[j, k]]).sum()
        })
    }

    #[test]
    fn abt_matches_naive_on_strided_views() {
        let a = Array2::from_shape_fn((7, 5), |(i, j)| (i * 5 + j) as f64 * 0.1 - 1.0);
        let b = Array2::from_shape_fn((4, 5), |(i, j)| ((i + 2 * j) % 3) as f64);
        let close = |x: &Array2<f64>, y: &Array2<f64>| {
            x.shape() == y.shape() && x.iter().zip(y).all(|(u, v)| (u - v).abs() <= 1e-12 * (1.0 + v.abs()))
        };
        let got = matmul_abt(a.view(), b.view()).unwrap();
        assert!(close(&got, &naive_abt(&a, &b)));
        // A transposed (column-major) view must give the same answer.
        let at = a.t().to_owned();
        assert_eq!(matmul_abt(at.t(), b.view()).unwrap(), got);
        let atb = matmul_atb(a.view(), a.view()).unwrap();
        assert!(close(&atb, &naive_abt(&a.t().to_owned(), &a.t().to_owned())));
    }

    /// Pseudo-random values in [-1, 1) from an index (no RNG dependency).
    fn noise(i: usize) -> f32 {
        let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn tiled_dots_match_f64_and_do_not_depend_on_the_tiling() {
        // Shapes cover every tile (rows 4/2/1, columns 1 to 5), vector tails
        // and dimensions below one vector.
        for (n_a, n_b, dim) in
            [(1, 1, 1), (3, 7, 5), (7, 20, 33), (9, 13, 16), (13, 50, 47), (4, 8, 64), (6, 3, 100)]
        {
            let a = Array2::from_shape_fn((n_a, dim), |(i, j)| noise(i * 1000 + j));
            let b = Array2::from_shape_fn((n_b, dim), |(i, j)| noise(7_000_000 + i * 1000 + j));
            let mut out = vec![0.0f32; n_a * n_b];
            dots_tiled_into(a.as_slice().unwrap(), b.as_slice().unwrap(), dim, &mut out);
            for i in 0..n_a {
                for j in 0..n_b {
                    let exact: f64 = (0..dim).map(|l| f64::from(a[[i, l]]) * f64::from(b[[j, l]])).sum();
                    let got = out[i * n_b + j];
                    assert!(
                        (f64::from(got) - exact).abs() <= 1e-5 * (1.0 + dim as f64),
                        "{n_a}x{n_b}x{dim} ({i}, {j})"
                    );
                    // One entry alone (a 1 x 1 tile) is summed in the same order.
                    let mut one = [0.0f32];
                    dots_tiled_into(
                        a.row(i).as_slice().unwrap(),
                        b.row(j).as_slice().unwrap(),
                        dim,
                        &mut one,
                    );
                    assert_eq!(one[0].to_bits(), got.to_bits(), "{n_a}x{n_b}x{dim} ({i}, {j})");
                }
            }
            if n_b <= THIN_ROWS {
                let thin = dots_seq(a.view(), b.view()).unwrap();
                assert!(thin.iter().zip(&out).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
        }
    }

    #[test]
    fn f32_small() {
        let a = array![[1.0f32, 2.0], [3.0, 4.0]];
        assert_eq!(matmul_abt(a.view(), a.view()).unwrap(), array![[5.0, 11.0], [11.0, 25.0]]);
    }

    #[test]
    fn shape_mismatches_are_errors() {
        let a = array![[1.0f32, 2.0]];
        let b = array![[1.0f32, 2.0, 3.0]];
        assert!(matches!(matmul_abt(a.view(), b.view()), Err(ImprintError::DimensionMismatch { .. })));
        assert!(matches!(dots_seq(a.view(), b.view()), Err(ImprintError::DimensionMismatch { .. })));
        assert!(matmul_atb(a.view(), array![[1.0f32], [2.0]].view()).is_err());
        let mut wrong = Array2::<f64>::zeros((3, 3));
        assert!(
            add_gram_of_rows(a.view(), 1.0, &mut wrong, GramPrecision::F64, |_, r, out| {
                out.iter_mut().zip(r).for_each(|(o, &v)| *o = f64::from(v))
            })
            .is_err()
        );
        assert!(symmetrize_lower(&mut Array2::<f64>::zeros((2, 3))).is_err());
        assert!(as_faer(b.t()).is_err() || b.t().is_standard_layout());
        assert!(as_faer(a.t().as_standard_layout().view()).is_ok());
    }
}
