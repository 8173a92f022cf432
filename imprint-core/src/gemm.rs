//! Bridge between ndarray views (our API) and faer's GEMM (our hot path).
//!
//! Every distance and score computation that can be written as a matrix
//! product goes through here, so its speed is faer's GEMM speed.
//!
//! Determinism: faer splits a product across threads by output blocks, never
//! along the summed dimension, so every output entry is summed in the same
//! order on any thread count.

use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// The parallelism faer uses here: the threads of the current rayon pool.
pub fn parallelism() -> Par {
    match rayon::current_num_threads() {
        0 | 1 => Par::Seq,
        n => Par::rayon(n),
    }
}

/// Views a standard-layout (row-major, contiguous) ndarray as a faer matrix.
///
/// # Panics
/// If `x` is not in standard layout (an internal invariant: callers convert
/// with [`ndarray::ArrayBase::as_standard_layout`] first).
pub fn as_faer<T>(x: ArrayView2<'_, T>) -> MatRef<'_, T> {
    let slice = x.to_slice().expect("internal: view must be in standard layout");
    MatRef::from_row_major_slice(slice, x.nrows(), x.ncols())
}

/// Mutable counterpart of [`as_faer`].
///
/// # Panics
/// If `x` is not in standard layout.
pub fn as_faer_mut<'a, T>(x: &'a mut ArrayViewMut2<'_, T>) -> MatMut<'a, T> {
    let (nrows, ncols) = x.dim();
    let slice = x.as_slice_mut().expect("internal: view must be in standard layout");
    MatMut::from_row_major_slice_mut(slice, nrows, ncols)
}

/// `a * b^T`: the inner products of every row of `a` with every row of `b`.
///
/// # Panics
/// If `a` and `b` have different numbers of columns (callers validate shapes).
pub fn matmul_abt<T>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T>
where
    T: ComplexField + Copy + num_traits::Zero + num_traits::One,
{
    let mut out = Array2::<T>::zeros((a.nrows(), b.nrows()));
    matmul_abt_into(a, b, out.view_mut(), Accum::Replace, T::one());
    out
}

/// `out = alpha * a * b^T` (`accum` = Replace) or `out += alpha * a * b^T` (Add).
///
/// # Panics
/// If the shapes do not agree or `out` is not in standard layout.
pub fn matmul_abt_into<T>(
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
    let lhs = as_faer(a.view());
    let rhs = as_faer(b.view()).transpose();
    faer::linalg::matmul::matmul(as_faer_mut(&mut out), accum, lhs, rhs, alpha, parallelism());
}

/// `a^T * b`: e.g. the Gram matrix `X^T X` of the features when `a = b = X`.
///
/// # Panics
/// If `a` and `b` have different numbers of rows.
pub fn matmul_atb<T>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T>
where
    T: ComplexField + Copy + num_traits::Zero + num_traits::One,
{
    assert_eq!(a.nrows(), b.nrows(), "internal: inner dimensions differ");
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    let mut out = Array2::<T>::zeros((a.ncols(), b.ncols()));
    let lhs = as_faer(a.view()).transpose();
    let rhs = as_faer(b.view());
    faer::linalg::matmul::matmul(
        as_faer_mut(&mut out.view_mut()),
        Accum::Replace,
        lhs,
        rhs,
        T::one(),
        parallelism(),
    );
    out
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
        let got = matmul_abt(a.view(), b.view());
        assert!(close(&got, &naive_abt(&a, &b)));
        // A transposed (column-major) view must give the same answer.
        let at = a.t().to_owned();
        assert_eq!(matmul_abt(at.t(), b.view()), got);
        let atb = matmul_atb(a.view(), a.view());
        assert!(close(&atb, &naive_abt(&a.t().to_owned(), &a.t().to_owned())));
    }

    #[test]
    fn f32_small() {
        let a = array![[1.0f32, 2.0], [3.0, 4.0]];
        assert_eq!(matmul_abt(a.view(), a.view()), array![[5.0, 11.0], [11.0, 25.0]]);
    }
}
