//! Matrix products on row-major slices through faer, always on the calling
//! thread: callers parallelize over images or sentences, so every sum is
//! formed in the same order whatever the thread count.

use faer::{Accum, MatMut, MatRef, Par};

/// `out (m x n) = a (m x k) * b (k x n)`, or `+=` when `accumulate`.
///
/// # Panics
/// If a slice's length is not the product of its dimensions (an internal invariant).
pub(crate) fn matmul(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    let lhs = MatRef::from_row_major_slice(a, m, k);
    let rhs = MatRef::from_row_major_slice(b, k, n);
    run(out, lhs, rhs, (m, n), accumulate);
}

/// `out (m x n) = a (m x k) * b^T` where `b` is `n x k` (a linear layer's weight).
///
/// # Panics
/// If a slice's length is not the product of its dimensions (an internal invariant).
pub(crate) fn matmul_bt(out: &mut [f32], a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize)) {
    let lhs = MatRef::from_row_major_slice(a, m, k);
    let rhs = MatRef::from_row_major_slice(b, n, k).transpose();
    run(out, lhs, rhs, (m, n), false);
}

fn run(
    out: &mut [f32],
    lhs: MatRef<'_, f32>,
    rhs: MatRef<'_, f32>,
    (m, n): (usize, usize),
    accumulate: bool,
) {
    let dst = MatMut::from_row_major_slice_mut(out, m, n);
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    faer::linalg::matmul::matmul(dst, accum, lhs, rhs, 1.0f32, Par::Seq);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_match_the_definition() {
        let (m, k, n) = (3, 5, 4);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.71).cos()).collect();
        let mut out = vec![1.0; m * n];
        matmul(&mut out, &a, &b, (m, k, n), true);
        let mut bt = vec![0.0; n * k];
        for r in 0..k {
            for c in 0..n {
                bt[c * k + r] = b[r * n + c];
            }
        }
        let mut out_t = vec![0.0; m * n];
        matmul_bt(&mut out_t, &a, &bt, (m, k, n));
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
                assert!((out[i * n + j] - 1.0 - want).abs() < 1e-5);
                assert!((out_t[i * n + j] - want).abs() < 1e-5);
            }
        }
    }
}
